/*
 * Receiving and acknowledging: ipcq_queue_recv, ipcq_queue_recv_batch,
 * ipcq_queue_ack, ipcq_queue_ack_batch, ipcq_queue_nack.
 *
 * End of stream is sticky per handle: once recv has returned IPCQ_EOF,
 * every later recv on the handle returns it again without asking the
 * broker (the broker does the same; remembering it here also keeps it
 * true across a reconnect).
 *
 * Leases belong to the handle's session on one connection. After that
 * connection is gone the broker has put the messages back, so acks of
 * messages received before a re-open are answered IPCQ_ENOLEASE locally.
 */
#include <stdlib.h>

#include "ipcqi_client.h"

typedef struct recv_args {
	ipcq_msg **msgs;
	size_t     max;
	size_t     got;
} recv_args;

static int
recv_take(ipcq_queue *q, const ipcqi_hsnap *h, recv_args *a,
    const Ipcq__V1__RecvReply *rr)
{
	size_t n = rr->n_messages;

	/* Success means at least one message, and never more than asked. */
	if (n == 0 || n > a->max) {
		return (IPCQ_EPROTO);
	}
	for (size_t i = 0; i < n; i++) {
		a->msgs[i] = ipcqi_msg_from_delivery(q, h->epoch, rr->messages[i]);
		if (a->msgs[i] == NULL) {
			while (i > 0) {
				ipcq_msg_free(a->msgs[--i]);
				a->msgs[i] = NULL;
			}
			return (IPCQ_ENOMEM);
		}
	}
	a->got = n;
	return (IPCQ_OK);
}

static int
recv_fn(ipcq_queue *q, const ipcqi_hsnap *h, int64_t deadline, void *arg)
{
	recv_args            *a   = arg;
	Ipcq__V1__Request     req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__RecvRequest r   = IPCQ__V1__RECV_REQUEST__INIT;
	Ipcq__V1__Reply      *rep;
	int                   rv;

	r.handle       = h->handle;
	r.max_messages = a->max > UINT32_MAX ? UINT32_MAX : (uint32_t) a->max;
	r.timeout_ms   = ipcqi_remaining(deadline);
	req.body_case  = IPCQ__V1__REQUEST__BODY_RECV;
	req.recv       = &r;
	rv = ipcqi_call(q->c, &req, deadline, IPCQ__V1__REPLY__BODY_RECV, &rep,
	    NULL);
	if (rv == 0) {
		rv = recv_take(q, h, a, rep->recv);
	}
	ipcqi_reply_free(rep);
	return (rv);
}

/* recv, recv_batch and recv_view: view takes one message as a view into
 * the segment on shared memory (a copy on the socket path). */
static int
recv_common(ipcq_queue *q, ipcq_msg **msgs, size_t max, size_t *n,
    int timeout_ms, int view)
{
	int64_t   deadline = ipcqi_deadline(timeout_ms);
	recv_args  a        = { .msgs = msgs, .max = max, .got = 0 };
	ipcqi_shm *m;
	int        eof;
	int       rv;

	if (n != NULL) {
		*n = 0;
	}
	if (q == NULL || msgs == NULL || n == NULL || max == 0) {
		return (IPCQ_EINVAL);
	}
	pthread_mutex_lock(&q->mtx);
	eof = q->eof;
	pthread_mutex_unlock(&q->mtx);
	if (eof) {
		return (IPCQ_EOF);
	}
	if ((rv = ipcqi_shm_pick(q, deadline, &m)) != 0) {
		/* as the socket path would answer */
	} else if (m != NULL && view) {
		rv = ipcqi_shm_view(q, m, msgs, deadline);
		a.got = 1;
	} else if (m != NULL) {
		rv = ipcqi_shm_recv(q, m, msgs, max, &a.got, deadline);
	} else {
		rv = ipcqi_queue_run(q, deadline, recv_fn, &a);
	}
	ipcqi_poll_after_recv(q, rv); /* ETIMEDOUT re-arms the pollfd */
	if (rv == IPCQ_EOF) {
		pthread_mutex_lock(&q->mtx);
		q->eof = 1;
		pthread_mutex_unlock(&q->mtx);
	}
	if (rv == 0) {
		*n = a.got;
	}
	return (rv);
}

int
ipcq_queue_recv_batch(ipcq_queue *q, ipcq_msg **msgs, size_t max, size_t *n,
    int timeout_ms)
{
	return (recv_common(q, msgs, max, n, timeout_ms, 0));
}

int
ipcq_queue_recv_view(ipcq_queue *q, ipcq_msg **msg, int timeout_ms)
{
	size_t n;

	if (msg == NULL) {
		return (IPCQ_EINVAL);
	}
	return (recv_common(q, msg, 1, &n, timeout_ms, 1));
}

int
ipcq_queue_recv(ipcq_queue *q, ipcq_msg **msg, int timeout_ms)
{
	ipcq_msg *m;
	size_t    n;
	int       rv;

	if (msg == NULL) {
		return (IPCQ_EINVAL);
	}
	if ((rv = ipcq_queue_recv_batch(q, &m, 1, &n, timeout_ms)) == 0) {
		*msg = m;
	}
	return (rv);
}

/* The handle and epoch whose leases are still held, or IPCQ_ENOLEASE if
 * the handle's connection is gone (its leases went with it). */
static int
ack_snapshot(ipcq_queue *q, ipcqi_hsnap *h)
{
	int ok;

	pthread_mutex_lock(&q->mtx);
	ok        = ipcqi_queue_on_live_pipe(q);
	h->handle = q->handle;
	h->epoch  = q->epoch;
	pthread_mutex_unlock(&q->mtx);
	return (ok ? IPCQ_OK : IPCQ_ENOLEASE);
}

static int
ack_send(ipcq_queue *q, const ipcqi_hsnap *h, uint64_t *ids, size_t n,
    int requeue)
{
	Ipcq__V1__Request    req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__AckRequest a   = IPCQ__V1__ACK_REQUEST__INIT;
	Ipcq__V1__Reply     *rep;
	int                  rv;

	a.handle      = h->handle;
	a.n_ids       = n;
	a.ids         = ids;
	a.requeue     = requeue != 0;
	req.body_case = IPCQ__V1__REQUEST__BODY_ACK;
	req.ack       = &a;
	rv = ipcqi_call(q->c, &req, ipcqi_deadline(0), IPCQ__V1__REPLY__BODY_ACK,
	    &rep, NULL);
	ipcqi_reply_free(rep);
	if (rv == IPCQ_EBADHANDLE) {
		/* Not retried on a re-opened handle: the leases were the
		 * old handle's, and the broker has put them back. */
		ipcqi_queue_stale(q, h);
		rv = IPCQ_ENOLEASE;
	}
	return (rv);
}

static int
ack_common(ipcq_queue *q, const ipcq_msg *const *msgs, size_t n, int requeue)
{
	ipcqi_hsnap h;
	uint64_t   *ids;
	size_t      nids = 0;
	int         rv;

	if (q == NULL || (msgs == NULL && n > 0) ||
	    q->opts.ack_mode != IPCQ_ACK_EXPLICIT) {
		return (IPCQ_EINVAL);
	}
	for (size_t i = 0; i < n; i++) {
		/* A loan was never received: it has no lease to finish. */
		if (msgs[i] == NULL || msgs[i]->q != q ||
		    msgs[i]->kind == IPCQI_MSG_LOAN ||
		    msgs[i]->kind == IPCQI_MSG_LOAN_HEAP) {
			return (IPCQ_EINVAL);
		}
	}
	if (n == 0) {
		return (IPCQ_OK);
	}
	/* Received on shared memory: finished in the segment, no round
	 * trip (a handle's messages all came one way or the other, except
	 * across a re-open, whose older messages are ENOLEASE anyway). */
	if (msgs[0]->shm != NULL) {
		return (ipcqi_shm_finish(q, msgs, n, requeue));
	}
	if ((rv = ack_snapshot(q, &h)) != 0) {
		return (rv);
	}
	if ((ids = malloc(n * sizeof(*ids))) == NULL) {
		return (IPCQ_ENOMEM);
	}
	for (size_t i = 0; i < n; i++) {
		if (msgs[i]->epoch == h.epoch) {
			ids[nids++] = msgs[i]->lease;
		}
	}
	rv = nids > 0 ? ack_send(q, &h, ids, nids, requeue) : IPCQ_OK;
	free(ids);
	/* Messages from before a re-open were not acked: say so. */
	return (rv == 0 && nids < n ? IPCQ_ENOLEASE : rv);
}

int
ipcq_queue_ack(ipcq_queue *q, const ipcq_msg *msg)
{
	if (msg == NULL) {
		return (IPCQ_EINVAL);
	}
	return (ack_common(q, &msg, 1, 0));
}

int
ipcq_queue_ack_batch(ipcq_queue *q, ipcq_msg *const *msgs, size_t n)
{
	return (ack_common(q, (const ipcq_msg *const *) msgs, n, 0));
}

int
ipcq_queue_nack(ipcq_queue *q, const ipcq_msg *msg)
{
	if (msg == NULL) {
		return (IPCQ_EINVAL);
	}
	return (ack_common(q, &msg, 1, 1));
}
