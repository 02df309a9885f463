/*
 * The context pool and each context's state machine (see server.h).
 */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ipcq.h"
#include "log.h"
#include "session.h"

static void sv_recycle(ipcqd_ctx *cx);

/* While a request is dispatched on this thread, replies that its handler
 * completes for other (parked) requests wait here, so that the request's
 * own reply goes out first: a consumer's recv that lets a parked
 * producer in should not pay for that producer's reply. */
static _Thread_local ipcqd_list *sv_deferred;

ipcqd_list *
ipcqd_server_deferred(void)
{
	return sv_deferred;
}
static void sv_recv_cb(void *arg);
static void sv_send_cb(void *arg);
static void sv_timer_cb(void *arg);

static ipcqd_ctx *
sv_ctx_new(ipcqd_server *srv)
{
	ipcqd_ctx *cx = calloc(1, sizeof(*cx));

	if (cx == NULL) {
		return NULL;
	}
	cx->srv = srv;
	if (nng_aio_alloc(&cx->aio, sv_recv_cb, cx) != 0 ||
	    nng_aio_alloc(&cx->send_aio, sv_send_cb, cx) != 0 ||
	    nng_aio_alloc(&cx->timer, sv_timer_cb, cx) != 0 ||
	    nng_ctx_open(&cx->ctx, srv->b->sock) != 0) {
		nng_aio_free(cx->aio);
		nng_aio_free(cx->send_aio);
		nng_aio_free(cx->timer);
		free(cx);
		return NULL;
	}
	/* A reply nng queues behind others on a pipe that does not read
	 * fails after --drain-ms, and the server drops that pipe (outbox.h).
	 * A reply the pipe takes at once never waits on this. */
	nng_aio_set_timeout(cx->send_aio, (nng_duration) srv->b->cfg.drain_ms);
	ipcqd_node_init(&cx->all);
	ipcqd_node_init(&cx->idle);
	ipcqd_node_init(&cx->done);
	ipcqd_node_init(&cx->w.node);
	return cx;
}

static void
sv_start_recv(ipcqd_ctx *cx)
{
	nng_ctx_recv(cx->ctx, cx->aio);
}

/* Keep recv_contexts contexts receiving; returns how many it started.
 * Called without the broker lock; nng calls are made after the server
 * lock is released. */
static int
sv_top_up(ipcqd_server *srv)
{
	ipcqd_ctx *start[64];
	int        n = 0;

	pthread_mutex_lock(&srv->mtx);
	while (!srv->stopping && srv->receiving < srv->b->cfg.recv_contexts &&
	    n < 64) {
		ipcqd_node *in = ipcqd_list_pop_front(&srv->idle);
		ipcqd_ctx  *cx;
		if (in != NULL) {
			cx = IPCQD_CONTAINER(in, ipcqd_ctx, idle);
		} else if ((cx = sv_ctx_new(srv)) != NULL) {
			ipcqd_list_push_back(&srv->all, &cx->all);
		} else {
			ipcqd_error("out of memory for a server context");
			break;
		}
		srv->receiving++;
		start[n++] = cx;
	}
	pthread_mutex_unlock(&srv->mtx);
	for (int i = 0; i < n; i++) {
		sv_start_recv(start[i]);
	}
	return n;
}

int
ipcqd_server_start(ipcqd_server **sp, ipcqd_broker *b)
{
	ipcqd_server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL) {
		return IPCQ_ENOMEM;
	}
	srv->b = b;
	if (ipcqd_outbox_init(&srv->outbox, b->cfg.max_unread_bytes,
	        b->cfg.max_unread_replies, b->cfg.drain_ms) != 0) {
		free(srv);
		return IPCQ_ENOMEM;
	}
	pthread_mutex_init(&srv->mtx, NULL);
	ipcqd_list_init(&srv->all);
	ipcqd_list_init(&srv->idle);
	*sp = srv;
	return sv_top_up(srv) > 0 ? 0 : IPCQ_ENOMEM;
}

void
ipcqd_server_quiesce(ipcqd_server *srv)
{
	ipcqd_node *n;

	pthread_mutex_lock(&srv->mtx);
	srv->stopping = true;
	pthread_mutex_unlock(&srv->mtx);
	/* No context starts receiving once stopping is set, so the list is
	 * fixed now. Receives first (no new request gets in), then timers
	 * (their callbacks claim parked requests; sv_send drops the
	 * replies), then sends. Every aio is idle before nng_close: closing
	 * a socket with operations in flight can hang nng 1.5.2's reaper
	 * (nanomsg/nng#1543). */
	for (n = srv->all.next; n != &srv->all; n = n->next) {
		nng_aio_stop(IPCQD_CONTAINER(n, ipcqd_ctx, all)->aio);
	}
	for (n = srv->all.next; n != &srv->all; n = n->next) {
		nng_aio_stop(IPCQD_CONTAINER(n, ipcqd_ctx, all)->timer);
	}
	for (n = srv->all.next; n != &srv->all; n = n->next) {
		nng_aio_stop(IPCQD_CONTAINER(n, ipcqd_ctx, all)->send_aio);
	}
}

void
ipcqd_server_free(ipcqd_server *srv)
{
	ipcqd_node *n;

	if (srv == NULL) {
		return;
	}
	while ((n = ipcqd_list_pop_front(&srv->all)) != NULL) {
		ipcqd_ctx *cx = IPCQD_CONTAINER(n, ipcqd_ctx, all);
		nng_aio_free(cx->timer);
		nng_aio_free(cx->aio);
		nng_aio_free(cx->send_aio);
		nng_ctx_close(cx->ctx);
		/* A request still parked without deadline: its waiter was
		 * freed with its queue; free what the context holds. */
		nng_msg_free(cx->reply);
		ipcqd_request_free(cx);
		free(cx);
	}
	ipcqd_outbox_fini(&srv->outbox);
	pthread_mutex_destroy(&srv->mtx);
	free(srv);
}

/* Broker lock held: a context sending to a dropped pipe lets go of its
 * reply now (the send completes with ECANCELED): what a dropped client
 * left unread is freed at once, not at its deadline. */
static void
sv_cancel_sends(ipcqd_server *srv, uint32_t pipe_id)
{
	pthread_mutex_lock(&srv->mtx);
	for (ipcqd_node *n = srv->all.next; n != &srv->all; n = n->next) {
		ipcqd_ctx *o = IPCQD_CONTAINER(n, ipcqd_ctx, all);
		if (o->charged != 0 && o->pipe_id == pipe_id) {
			/* Under the server lock so that o cannot be reused for
			 * another reply meanwhile; nng completes the aio on its
			 * task threads, never inside this call. */
			nng_aio_cancel(o->send_aio);
		}
	}
	pthread_mutex_unlock(&srv->mtx);
}

/*
 * The outbox's verdict on cx's connection: drop it. Its session goes as
 * at a disconnect (leases redelivered, parked requests cancelled), its
 * queued replies are freed, and from now on its requests are read and
 * discarded unanswered. A libipcq client recovers by itself: it closes a
 * connection that stops answering and redials.
 *
 * The pipe itself is not closed: nng_pipe_close on a pipe whose peer is
 * still sending can wedge nng 1.5.2's only reaper thread for good (the
 * ipc transport re-arms a receive on an aio the close has stopped, and
 * the stopped aio never completes), after which no disconnect is ever
 * reported again. The socket closes when the client closes it.
 */
static void
sv_drop(ipcqd_ctx *cx, ipcqd_outbox_verdict v)
{
	ipcqd_server *srv = cx->srv;
	ipcqd_broker *b   = srv->b;
	bool          drop;

	ipcqd_broker_lock(b);
	/* Marked only while its session exists: then REM_POST, which
	 * unmarks it under the broker lock, is still to come. */
	drop = ipcqd_session_find(b, cx->pipe_id) != NULL;
	pthread_mutex_lock(&srv->mtx);
	drop = drop && !ipcqd_outbox_is_dropped(&srv->outbox, cx->pipe_id) &&
	    ipcqd_outbox_drop(&srv->outbox, cx->pipe_id) == 0;
	pthread_mutex_unlock(&srv->mtx);
	if (drop) {
		/* Logged before anyone can see the effects. Replies this
		 * produces (ECONNLOST to its parked requests) are discarded
		 * by sv_send: it is marked. */
		ipcqd_outbox_log_drop(&srv->outbox, cx->pipe_id, v);
		ipcqd_session_remove(b, cx->pipe_id);
		sv_cancel_sends(srv, cx->pipe_id);
	}
	ipcqd_broker_unlock(b);
}

void
ipcqd_server_pipe_gone(ipcqd_server *srv, uint32_t pipe_id)
{
	pthread_mutex_lock(&srv->mtx);
	ipcqd_outbox_forget(&srv->outbox, pipe_id);
	pthread_mutex_unlock(&srv->mtx);
}

static void
sv_send(ipcqd_ctx *cx)
{
	ipcqd_server        *srv = cx->srv;
	nng_msg             *m;
	ipcqd_outbox_verdict v   = IPCQD_OUTBOX_KEEP;
	bool                 stopping;

	if (cx->unlocked != NULL) { /* never under the broker lock */
		void (*fn)(ipcqd_ctx *) = cx->unlocked;
		cx->unlocked            = NULL;
		fn(cx);
	}
	m         = cx->reply;
	cx->reply = NULL;
	ipcqd_request_free(cx);
	pthread_mutex_lock(&srv->mtx);
	stopping = srv->stopping;
	if (!stopping && m != NULL &&
	    ipcqd_outbox_is_dropped(&srv->outbox, cx->pipe_id)) {
		nng_msg_free(m); /* nobody reads it */
		m = NULL;
	} else if (!stopping && m != NULL) {
		v = ipcqd_outbox_add(&srv->outbox, cx->pipe_id, nng_msg_len(m),
		    &cx->charged);
	}
	pthread_mutex_unlock(&srv->mtx);
	if (stopping) {
		nng_msg_free(m); /* shutting down: nobody is served any more */
		return;
	}
	if (m == NULL) {
		/* Could not even encode an error (out of memory), or the
		 * connection was dropped: go back to serving. */
		sv_recycle(cx);
		return;
	}
	if (v != IPCQD_OUTBOX_KEEP) {
		/* This reply is the one too many: nobody will read it. */
		sv_drop(cx, v);
		pthread_mutex_lock(&srv->mtx);
		(void) ipcqd_outbox_done(&srv->outbox, cx->pipe_id, cx->charged,
		    NNG_ECANCELED);
		cx->charged = 0;
		pthread_mutex_unlock(&srv->mtx);
		nng_msg_free(m);
		sv_recycle(cx);
		return;
	}
	nng_aio_set_msg(cx->send_aio, m);
	nng_ctx_send(cx->ctx, cx->send_aio);
	/* Until its client takes the reply, this context is out of the pool
	 * (cx may be receiving again already: then this finds it full). */
	sv_top_up(srv);
}

static void
sv_recv_cb(void *arg)
{
	ipcqd_ctx    *cx  = arg;
	ipcqd_server *srv = cx->srv;
	ipcqd_list    later;
	nng_msg      *msg;
	int           rv;

	if ((rv = nng_aio_result(cx->aio)) != 0) {
		pthread_mutex_lock(&srv->mtx);
		srv->receiving--;
		bool stop = srv->stopping || rv == NNG_ECLOSED;
		pthread_mutex_unlock(&srv->mtx);
		if (!stop) {
			ipcqd_warn("receive failed: %s", nng_strerror(rv));
			sv_top_up(srv);
		}
		return;
	}
	msg = nng_aio_get_msg(cx->aio);
	nng_aio_set_msg(cx->aio, NULL);
	cx->pipe_id = (uint32_t) nng_pipe_id(nng_msg_get_pipe(msg));

	pthread_mutex_lock(&srv->mtx);
	srv->receiving--;
	bool dropped = ipcqd_outbox_is_dropped(&srv->outbox, cx->pipe_id);
	pthread_mutex_unlock(&srv->mtx);
	if (dropped) {
		nng_msg_free(msg); /* unanswered: see sv_drop */
		sv_recycle(cx);
		return;
	}

	ipcqd_list_init(&later);
	sv_deferred = &later;
	rv = ipcqd_dispatch(srv->b, cx, nng_msg_body(msg), nng_msg_len(msg));
	sv_deferred = NULL;
	nng_msg_free(msg);
	if (rv == IPCQD_PARKED) {
		sv_top_up(srv); /* this context is out of the pool a while */
	} else {
		sv_send(cx);
	}
	ipcqd_server_flush(&later);
}

static void
sv_send_cb(void *arg)
{
	ipcqd_ctx           *cx  = arg;
	ipcqd_server        *srv = cx->srv;
	int                  rv  = nng_aio_result(cx->send_aio);
	ipcqd_outbox_verdict v;

	if (rv != 0) {
		/* The client went away, does not read (the timeout), or we
		 * are stopping: the reply is dropped. */
		nng_msg_free(nng_aio_get_msg(cx->send_aio));
		nng_aio_set_msg(cx->send_aio, NULL);
	}
	pthread_mutex_lock(&srv->mtx);
	v = ipcqd_outbox_done(&srv->outbox, cx->pipe_id, cx->charged, rv);
	cx->charged = 0;
	pthread_mutex_unlock(&srv->mtx);
	if (v != IPCQD_OUTBOX_KEEP) {
		sv_drop(cx, v);
	}
	sv_recycle(cx);
}

/* A reply went out: receive again if the pool is short, else rest. */
static void
sv_recycle(ipcqd_ctx *cx)
{
	ipcqd_server *srv = cx->srv;
	bool          recv_again;

	pthread_mutex_lock(&srv->mtx);
	recv_again = !srv->stopping &&
	    srv->receiving < srv->b->cfg.recv_contexts;
	if (recv_again) {
		srv->receiving++;
	} else if (!srv->stopping) {
		ipcqd_list_push_back(&srv->idle, &cx->idle);
	}
	pthread_mutex_unlock(&srv->mtx);
	if (recv_again) {
		sv_start_recv(cx);
	}
}

/*
 * The deadline of a parked request. Either it is still parked (we claim
 * it with ETIMEDOUT, and the flush in ipcqd_broker_unlock sends), or
 * somebody claimed it while the timer ran and left the sending to us
 * (ipcqd_complete), so that the context is reused only after this
 * callback: a timer never outlives its request.
 */
static void
sv_timer_cb(void *arg)
{
	ipcqd_ctx    *cx = arg;
	ipcqd_broker *b  = cx->srv->b;
	bool          send_now;

	ipcqd_broker_lock(b);
	cx->in_timer = true;
	send_now     = !ipcqd_queue_cancel(&cx->w, IPCQ_ETIMEDOUT);
	cx->in_timer    = false;
	cx->timer_armed = false;
	ipcqd_broker_unlock(b);
	if (send_now) {
		sv_send(cx);
	}
}

int
ipcqd_park(ipcqd_ctx *cx, int timeout_ms, size_t bytes)
{
	ipcqd_server *srv = cx->srv;

	/* Both bounds keep a flood of blocked requests from growing the
	 * broker without limit: a parked send holds its whole batch. */
	if (srv->parked >= srv->b->cfg.max_parked ||
	    srv->parked_bytes + bytes > srv->b->cfg.max_parked_bytes) {
		return IPCQ_EBUSY;
	}
	srv->parked++;
	srv->parked_bytes += bytes;
	cx->parked_bytes = bytes;
	cx->in_timer        = false;
	cx->timer_armed     = timeout_ms > 0;
	if (cx->timer_armed) {
		/* Under the broker lock (see broker.h): the callback always
		 * runs later on an nng thread, never inside this call. */
		nng_sleep_aio((nng_duration) timeout_ms, cx->timer);
	}
	return 0;
}

void
ipcqd_complete(ipcqd_ctx *cx)
{
	cx->srv->parked--;
	cx->srv->parked_bytes -= cx->parked_bytes;
	cx->parked_bytes = 0;
	if (cx->timer_armed && !cx->in_timer) {
		/* The timer callback will find the waiter claimed and send.
		 * Cancelled under the lock on purpose: while we hold it the
		 * callback cannot have run, so this cancels this park's
		 * timer and never a later one of a reused context. */
		nng_aio_cancel(cx->timer);
		return;
	}
	ipcqd_list_push_back(&cx->srv->b->done, &cx->done);
}

void
ipcqd_server_flush(ipcqd_list *done)
{
	ipcqd_node *n;

	while ((n = ipcqd_list_pop_front(done)) != NULL) {
		sv_send(IPCQD_CONTAINER(n, ipcqd_ctx, done));
	}
}

int
ipcqd_reply(ipcqd_ctx *cx, Ipcq__V1__Reply *rep)
{
	size_t   sz = ipcq__v1__reply__get_packed_size(rep);
	nng_msg *m;

	if (nng_msg_alloc(&m, sz) != 0) {
		ipcqd_error("out of memory for a %zu byte reply", sz);
		cx->reply = NULL;
		return IPCQD_REPLIED;
	}
	ipcq__v1__reply__pack(rep, nng_msg_body(m));
	cx->reply = m;
	return IPCQD_REPLIED;
}

int
ipcqd_reply_error(ipcqd_ctx *cx, int status, const char *fmt, ...)
{
	Ipcq__V1__Reply rep = IPCQ__V1__REPLY__INIT;
	char            text[256];
	va_list         ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rep.status  = (Ipcq__V1__Status) status;
	rep.message = text;
	return ipcqd_reply(cx, &rep);
}
