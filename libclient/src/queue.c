/*
 * Queue handles: open, transparent re-open after a reconnect, detach,
 * end of stream, close and stats.
 *
 * A handle lives in the broker's session for one connection. When that
 * connection is replaced (broker restart, dropped pipe) the broker has
 * already detached the old handle, so the next operation re-opens the
 * queue with the handle's original name and options; its leases are
 * gone (acks of older messages give IPCQ_ENOLEASE) and a producer that
 * had not ended was counted as lost by the broker.
 */
#include <stdlib.h>
#include <string.h>

#include "ipcqi_client.h"

void
ipcq_queue_opts_init(ipcq_queue_opts *opts)
{
	if (opts != NULL) {
		memset(opts, 0, sizeof(*opts));
		opts->roles       = IPCQ_ROLE_AUTO;
		opts->ack_mode    = IPCQ_ACK_AUTO;
		opts->full_policy = IPCQ_FULL_BLOCK;
	}
}

static int
queue_opts_valid(const ipcq_queue_opts *o)
{
	return ((o->roles & ~(IPCQ_ROLE_PRODUCER | IPCQ_ROLE_CONSUMER)) == 0 &&
	    (o->ack_mode == IPCQ_ACK_AUTO || o->ack_mode == IPCQ_ACK_EXPLICIT) &&
	    o->full_policy >= IPCQ_FULL_BLOCK &&
	    o->full_policy <= IPCQ_FULL_DROP_OLDEST &&
	    o->max_message_bytes <= IPCQI_MAX_MESSAGE_BYTES &&
	    (o->transport == IPCQ_TRANSPORT_AUTO ||
	        o->transport == IPCQ_TRANSPORT_SOCKET ||
	        o->transport == IPCQ_TRANSPORT_SHM));
}

/* OpenRequest -> OpenReply, registering roles. Called with q->mtx held
 * (or before q is shared): the handle fields change together. */
static int
queue_do_open_as(ipcq_queue *q, int roles, int64_t deadline)
{
	Ipcq__V1__Request      req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest  o   = IPCQ__V1__OPEN_REQUEST__INIT;
	Ipcq__V1__QueueOptions qo  = IPCQ__V1__QUEUE_OPTIONS__INIT;
	Ipcq__V1__Reply       *rep;
	const char            *why  = ipcqi_shm_unwanted(q);
	uint32_t               pipe = 0;
	int                    rv;

	qo.max_messages       = q->opts.max_messages;
	qo.max_bytes          = q->opts.max_bytes;
	qo.max_message_bytes  = q->opts.max_message_bytes;
	qo.full_policy        = (Ipcq__V1__FullPolicy) q->opts.full_policy;
	qo.expected_producers = q->opts.expected_producers;
	qo.durable            = q->opts.durable != 0;
	o.queue               = q->name;
	o.roles               = (uint32_t) roles;
	o.ack_mode            = (Ipcq__V1__AckMode) q->opts.ack_mode;
	o.options             = &qo;
	o.declare             = q->opts.declare != 0;
	o.want_shm            = why == NULL;
	req.body_case         = IPCQ__V1__REQUEST__BODY_OPEN;
	req.open              = &o;

	rv = ipcqi_call(q->c, &req, deadline, IPCQ__V1__REPLY__BODY_OPEN, &rep,
	    &pipe);
	if (rv == 0) {
		q->handle = rep->open->handle;
		q->pipe   = pipe;
		q->epoch++;
		q->stale             = 0;
		q->max_message_bytes = rep->open->options != NULL
		    ? rep->open->options->max_message_bytes
		    : 0;
		if (why == NULL) {
			why = ipcqi_shm_attach(q, rep->open->shm);
		}
		__atomic_store_n(&q->why_socket, why, __ATOMIC_RELEASE);
	}
	ipcqi_reply_free(rep);
	return (rv);
}

static int
queue_do_open(ipcq_queue *q, int64_t deadline)
{
	return (queue_do_open_as(q, q->opts.roles, deadline));
}

/* Release q's broker handle, if it belongs to the live connection (on
 * any other the broker already detached it when the old one dropped). */
static void
queue_detach_call(ipcq_queue *q)
{
	Ipcq__V1__Request       req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__DetachRequest d   = IPCQ__V1__DETACH_REQUEST__INIT;
	Ipcq__V1__Reply        *rep;

	if (ipcqi_queue_on_live_pipe(q)) {
		d.handle      = q->handle;
		req.body_case = IPCQ__V1__REQUEST__BODY_DETACH;
		req.detach    = &d;
		(void) ipcqi_call(q->c, &req, ipcqi_deadline(0),
		    IPCQ__V1__REPLY__BODY__NOT_SET, &rep, NULL);
		ipcqi_reply_free(rep);
	}
}

/*
 * The first open of a new handle. With shared memory required, a handle
 * that cannot have it fails with IPCQ_ENOSHM and the reason in the
 * client's last error: before any round trip when the address already
 * rules it out, else after releasing the handle the broker opened. That
 * handle is opened without the producer role, which is registered only
 * once the segment is mapped: a producer detached without ending would
 * count as lost and leave the queue abandoned for its consumers.
 */
static int
queue_open_first(ipcq_queue *q)
{
	int64_t     deadline = ipcqi_deadline(0);
	const char *why;
	int         rv;

	if (q->transport != IPCQ_TRANSPORT_SHM) {
		return (queue_do_open(q, deadline));
	}
	if ((why = ipcqi_shm_unwanted(q)) != NULL) {
		ipcqi_client_set_error(q->c, why);
		return (IPCQ_ENOSHM);
	}
	rv = queue_do_open_as(q, q->opts.roles & ~IPCQ_ROLE_PRODUCER, deadline);
	if (rv != 0) {
		return (rv);
	}
	if (q->shm == NULL) {
		ipcqi_client_set_error(q->c, q->why_socket);
		queue_detach_call(q);
		return (IPCQ_ENOSHM);
	}
	if (q->opts.roles & IPCQ_ROLE_PRODUCER) {
		q->shm->producer = 0; /* not yet: the empty send tells it */
		if ((rv = ipcqi_shm_as_producer(q, q->shm, deadline)) != 0) {
			queue_detach_call(q);
		}
	}
	return (rv);
}

int
ipcq_queue_open(ipcq_queue **qp, ipcq_client *c, const char *name,
    const ipcq_queue_opts *opts)
{
	ipcq_queue *q;
	int         rv;

	if (qp == NULL || c == NULL) {
		return (IPCQ_EINVAL);
	}
	if (!ipcqi_name_valid(name)) {
		return (IPCQ_EBADNAME);
	}
	if (opts != NULL && !queue_opts_valid(opts)) {
		return (IPCQ_EINVAL);
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		return (IPCQ_ENOMEM);
	}
	if (pthread_mutex_init(&q->mtx, NULL) != 0) {
		free(q);
		return (IPCQ_ENOMEM);
	}
	q->c = c;
	strcpy(q->name, name); /* length checked by ipcqi_name_valid */
	if (opts != NULL) {
		q->opts = *opts;
	} else {
		ipcq_queue_opts_init(&q->opts);
	}
	if ((rv = ipcqi_transport_choose(c, q->opts.transport,
	         &q->transport)) == 0) {
		rv = queue_open_first(q);
	}
	if (rv != 0) {
		ipcqi_shm_fini(q);
		pthread_mutex_destroy(&q->mtx);
		free(q);
		return (rv);
	}
	ipcqi_client_add_queue(c, q);
	*qp = q;
	return (IPCQ_OK);
}

const char *
ipcq_queue_name(const ipcq_queue *q)
{
	return (q != NULL ? q->name : NULL);
}

int
ipcqi_queue_handle(ipcq_queue *q, int64_t deadline, ipcqi_hsnap *h)
{
	uint32_t live;
	int      rv;

	if ((rv = ipcqi_client_pipe(q->c, deadline, &live)) != 0) {
		return (rv);
	}
	pthread_mutex_lock(&q->mtx);
	/* Re-open under q->mtx so that threads sharing q re-open it once;
	 * the others wait here and then use the new handle. */
	if (__atomic_load_n(&q->stale, __ATOMIC_ACQUIRE) || q->pipe != live) {
		rv = queue_do_open(q, deadline);
	}
	h->handle = q->handle;
	h->epoch  = q->epoch;
	pthread_mutex_unlock(&q->mtx);
	return (rv);
}

void
ipcqi_queue_stale(ipcq_queue *q, const ipcqi_hsnap *h)
{
	pthread_mutex_lock(&q->mtx);
	if (q->epoch == h->epoch) {
		__atomic_store_n(&q->stale, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&q->mtx);
}

int
ipcqi_queue_run(ipcq_queue *q, int64_t deadline, ipcqi_queue_fn fn, void *arg)
{
	ipcqi_hsnap h;
	int         rv;

	for (int attempt = 0;; attempt++) {
		if ((rv = ipcqi_queue_handle(q, deadline, &h)) != 0) {
			return (rv);
		}
		rv = fn(q, &h, deadline, arg);
		if (rv != IPCQ_EBADHANDLE) {
			return (rv);
		}
		ipcqi_queue_stale(q, &h);
		if (attempt > 0) {
			return (rv);
		}
	}
}

int
ipcqi_queue_on_live_pipe(ipcq_queue *q)
{
	uint32_t live;

	pthread_mutex_lock(&q->c->mtx);
	live = q->c->pipe;
	pthread_mutex_unlock(&q->c->mtx);
	return !q->stale && live != 0 && live == q->pipe;
}

void
ipcq_queue_close(ipcq_queue *q)
{
	if (q == NULL) {
		return;
	}
	ipcqi_poll_fini(q); /* the pollfd's wait first, then the handle */
	queue_detach_call(q);
	ipcqi_client_remove_queue(q->c, q);
	ipcqi_shm_fini(q);
	pthread_mutex_destroy(&q->mtx);
	free(q);
}

static int
queue_end_fn(ipcq_queue *q, const ipcqi_hsnap *h, int64_t deadline, void *arg)
{
	Ipcq__V1__Request    req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__EndRequest e   = IPCQ__V1__END_REQUEST__INIT;
	Ipcq__V1__Reply     *rep;
	int                  rv;

	e.handle      = h->handle;
	req.body_case = IPCQ__V1__REQUEST__BODY_END;
	req.end       = &e;
	rv = ipcqi_call(q->c, &req, deadline, IPCQ__V1__REPLY__BODY_END, &rep,
	    NULL);
	ipcqi_reply_free(rep);
	return (rv);
}

int
ipcq_queue_end(ipcq_queue *q)
{
	ipcqi_shm *m;
	int        rv;

	if (q == NULL) {
		return (IPCQ_EINVAL);
	}
	rv = ipcqi_queue_run(q, ipcqi_deadline(0), queue_end_fn, NULL);
	if (rv == 0 && (m = ipcqi_shm_current(q)) != NULL) {
		/* The fast path must refuse this producer's sends too. */
		__atomic_store_n(&m->ended, 1, __ATOMIC_RELEASE);
	}
	return (rv);
}

int
ipcq_queue_shutdown(ipcq_queue *q)
{
	if (q == NULL) {
		return (IPCQ_EINVAL);
	}
	return (ipcq_client_shutdown_queue(q->c, q->name));
}

int
ipcq_queue_stats(ipcq_queue *q, ipcq_stats *st)
{
	if (q == NULL) {
		return (IPCQ_EINVAL);
	}
	return (ipcq_client_stats(q->c, q->name, st));
}
