/*
 * Event-loop integration: ipcq_queue_pollfd.
 *
 * A handle's pollfd is an eventfd made readable when a WaitRequest (see
 * docs/protocol.md) answers. The wait runs on its own REQ context and
 * aio, driven by the aio callback: no thread is held while it is parked
 * in the broker, so one thread can watch any number of queues.
 *
 * The fd is a hint, recv is the truth. Every completion of the wait
 * makes the fd readable — "readable", but also ECONNLOST (the broker
 * went away), EBADHANDLE or EDELETED — because in each case the next
 * recv has something to say: a message, EOF, or the error; and recv
 * re-opens a handle whose connection was replaced, as every call does.
 * The fd goes back to unreadable only when a recv on the handle returns
 * IPCQ_ETIMEDOUT: then nothing is ready, so recv drains the eventfd and
 * re-arms the wait (ipcqi_poll_after_recv). IPCQ_EABANDONED does the
 * same with a wait that ignores the abandoned state: it is not final,
 * and an fd that stayed readable would spin the user's loop instead of
 * sleeping until a new producer sends or ends. Draining and re-arming
 * happen under one lock, drain first: a message that arrives in between
 * makes the new wait answer at once, so no wake-up is ever lost.
 *
 * The callback never blocks and takes only q->pmtx: it runs on an nng
 * thread, and q->mtx can be held across a re-open round trip.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ipcqi_client.h"

static void pw_cb(void *arg);

/* Make the fd readable. EAGAIN means the counter is saturated: it is
 * readable already. */
static void
pw_signal(ipcq_queue *q)
{
	uint64_t one = 1;
	ssize_t  r;

	do {
		r = write(q->pfd, &one, sizeof(one));
	} while (r < 0 && errno == EINTR);
}

static void
pw_drain(ipcq_queue *q)
{
	uint64_t v;
	ssize_t  r;

	do {
		r = read(q->pfd, &v, sizeof(v));
	} while (r < 0 && errno == EINTR);
}

/* Send a WaitRequest without deadline for handle. pmtx held: the
 * callback (which takes pmtx) cannot see a half-started operation, and
 * nng never runs it inside nng_ctx_send. */
static void
pw_start(ipcq_queue *q, uint64_t handle, int past_abandoned)
{
	Ipcq__V1__Request     req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__WaitRequest w   = IPCQ__V1__WAIT_REQUEST__INIT;
	nng_msg              *m;

	w.handle      = handle;
	w.timeout_ms  = -1;
	w.past_abandoned = past_abandoned != 0;
	req.version   = IPCQ_PROTOCOL_VERSION;
	req.body_case = IPCQ__V1__REQUEST__BODY_WAIT;
	req.wait      = &w;
	if (nng_msg_alloc(&m, ipcq__v1__request__get_packed_size(&req)) != 0) {
		pw_signal(q); /* let recv report the trouble */
		return;
	}
	ipcq__v1__request__pack(&req, nng_msg_body(m));
	q->pw_busy = 1;
	nng_aio_set_msg(q->pw_aio, m);
	nng_aio_set_timeout(q->pw_aio, NNG_DURATION_INFINITE);
	nng_ctx_send(q->pw_ctx, q->pw_aio);
}

static void
pw_cb(void *arg)
{
	ipcq_queue *q  = arg;
	int         rv = nng_aio_result(q->pw_aio);
	nng_msg    *m  = nng_aio_get_msg(q->pw_aio);

	nng_aio_set_msg(q->pw_aio, NULL);
	pthread_mutex_lock(&q->pmtx);
	if (q->pw_busy == 1 && rv == 0 && !q->pw_stop) {
		/* Sent: now wait for the answer, however long it takes. */
		q->pw_busy = 2;
		nng_ctx_recv(q->pw_ctx, q->pw_aio);
		pthread_mutex_unlock(&q->pmtx);
		return;
	}
	/* Whatever the answer (readable, or an error recv will report),
	 * and also when the send or receive failed (connection lost). */
	nng_msg_free(m); /* a failed send's request, or the reply */
	q->pw_busy = 0;
	if (!q->pw_stop) {
		pw_signal(q);
	}
	pthread_mutex_unlock(&q->pmtx);
}

/* Nothing is ready now: drain the fd and, unless a wait is outstanding,
 * start one. A handle id means something only on the connection that
 * opened it; if that connection is gone (or the broker disowned the
 * handle), do not wait: make the fd readable so that the user's recv
 * re-opens the handle, and its ETIMEDOUT re-arms on the new one. */
static void
pw_rearm(ipcq_queue *q, int past_abandoned)
{
	uint64_t handle;
	int      ok;

	pthread_mutex_lock(&q->mtx);
	ok     = !q->eof && ipcqi_queue_on_live_pipe(q);
	handle = q->handle;
	pthread_mutex_lock(&q->pmtx);
	pthread_mutex_unlock(&q->mtx);
	pw_drain(q);
	if (q->pw_busy == 0 && !q->pw_stop) {
		if (ok) {
			pw_start(q, handle, past_abandoned);
		} else {
			pw_signal(q);
		}
	}
	pthread_mutex_unlock(&q->pmtx);
}

static int
pw_poll_on(ipcq_queue *q)
{
	int on;

	pthread_mutex_lock(&q->mtx);
	on = q->poll_on;
	pthread_mutex_unlock(&q->mtx);
	return on;
}

void
ipcqi_poll_after_recv(ipcq_queue *q, int rv)
{
	if ((rv == IPCQ_ETIMEDOUT || rv == IPCQ_EABANDONED) && pw_poll_on(q)) {
		pw_rearm(q, rv == IPCQ_EABANDONED);
	}
}

/* One WaitRequest with timeout 0: 0 if a recv would not block now. */
static int
pw_probe_fn(ipcq_queue *q, const ipcqi_hsnap *h, int64_t deadline, void *arg)
{
	Ipcq__V1__Request     req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__WaitRequest w   = IPCQ__V1__WAIT_REQUEST__INIT;
	Ipcq__V1__Reply      *rep;
	int                   rv;

	(void) arg;
	w.handle      = h->handle;
	w.timeout_ms  = 0;
	req.body_case = IPCQ__V1__REQUEST__BODY_WAIT;
	req.wait      = &w;
	rv = ipcqi_call(q->c, &req, deadline, IPCQ__V1__REPLY__BODY_WAIT, &rep,
	    NULL);
	ipcqi_reply_free(rep);
	return rv;
}

/* The fd, the lock, the context and the aio. q->mtx held. */
static int
pw_setup(ipcq_queue *q)
{
	int rv;

	if ((q->pfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		return errno == ENOMEM ? IPCQ_ENOMEM : IPCQ_EINTERNAL;
	}
	if (pthread_mutex_init(&q->pmtx, NULL) != 0) {
		close(q->pfd);
		return IPCQ_ENOMEM;
	}
	if ((rv = nng_aio_alloc(&q->pw_aio, pw_cb, q)) != 0) {
		pthread_mutex_destroy(&q->pmtx);
		close(q->pfd);
		return ipcqi_nng_err(rv);
	}
	if ((rv = nng_ctx_open(&q->pw_ctx, q->c->sock)) != 0) {
		nng_aio_free(q->pw_aio);
		pthread_mutex_destroy(&q->pmtx);
		close(q->pfd);
		return rv == NNG_ENOMEM ? IPCQ_ENOMEM : IPCQ_ECONNLOST;
	}
	q->pw_busy = 0;
	q->pw_stop = 0;
	return IPCQ_OK;
}

int
ipcq_queue_pollfd(ipcq_queue *q, int *fd)
{
	int ready, rv, eof;

	if (q == NULL || fd == NULL) {
		return IPCQ_EINVAL;
	}
	pthread_mutex_lock(&q->mtx);
	if (q->poll_on) {
		*fd = q->pfd;
		pthread_mutex_unlock(&q->mtx);
		return IPCQ_OK;
	}
	eof = q->eof;
	pthread_mutex_unlock(&q->mtx);
	/* One round trip first: it tells an old broker (ENOTSUP) and a
	 * handle that cannot work (EDELETED, ECONNLOST) before any fd. */
	rv = eof ? 0 : ipcqi_queue_run(q, ipcqi_deadline(0), pw_probe_fn, NULL);
	if (rv != 0 && rv != IPCQ_ETIMEDOUT) {
		return rv;
	}
	ready = rv == 0;
	pthread_mutex_lock(&q->mtx);
	if (!q->poll_on) { /* another thread may have won meanwhile */
		if ((rv = pw_setup(q)) != 0) {
			pthread_mutex_unlock(&q->mtx);
			return rv;
		}
		q->poll_on = 1;
	}
	*fd = q->pfd;
	pthread_mutex_unlock(&q->mtx);
	if (ready) {
		pthread_mutex_lock(&q->pmtx);
		pw_signal(q);
		pthread_mutex_unlock(&q->pmtx);
	} else {
		pw_rearm(q, 0);
	}
	return IPCQ_OK;
}

void
ipcqi_poll_fini(ipcq_queue *q)
{
	if (!pw_poll_on(q)) {
		return;
	}
	pthread_mutex_lock(&q->pmtx);
	q->pw_stop = 1;
	pthread_mutex_unlock(&q->pmtx);
	/* Cancels the outstanding send or receive and waits for a running
	 * callback; with pw_stop set, it starts nothing new. Closing the
	 * context then abandons the request: the broker's parked wait is
	 * cancelled by the DetachRequest that follows. */
	nng_aio_stop(q->pw_aio);
	nng_ctx_close(q->pw_ctx);
	nng_aio_free(q->pw_aio);
	close(q->pfd);
	pthread_mutex_destroy(&q->pmtx);
	q->poll_on = 0;
}
