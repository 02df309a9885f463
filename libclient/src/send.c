/*
 * Sending: ipcq_queue_send and ipcq_queue_send_batch.
 *
 * A batch is cut into frames of at most FRAME_MAX_MSGS messages and
 * about FRAME_MAX_BYTES of payload (a single larger message still goes
 * alone in its own frame, up to the queue's max_message_bytes, which the
 * broker's frame limit always accommodates). Frames are sent in order,
 * each a round trip, all under the one deadline of the call; the first
 * error stops the batch, and *sent counts what the broker accepted,
 * including a partial frame (SendReply.accepted).
 */
#include <stdlib.h>

#include "ipcqi_client.h"

/* Why these bounds: a frame must stay far below the broker's receive
 * limit (IPCQI_DEFAULT_MAX_FRAME), and a frame much larger than a few
 * MiB no longer amortises anything while it delays other clients. */
#define FRAME_MAX_BYTES (4u * 1024 * 1024)
#define FRAME_MAX_MSGS  1024

typedef struct send_frame {
	const ipcq_iov *msgs;  /* first message of the frame */
	size_t          count; /* messages in the frame */
	size_t          done;  /* accepted so far (also across a retry) */
} send_frame;

static int
send_frame_fn(ipcq_queue *q, const ipcqi_hsnap *h, int64_t deadline,
    void *arg)
{
	send_frame            *f   = arg;
	Ipcq__V1__Request      req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__SendRequest  s   = IPCQ__V1__SEND_REQUEST__INIT;
	Ipcq__V1__Reply       *rep;
	ProtobufCBinaryData   *pl;
	size_t                 n = f->count - f->done;
	int                    rv;

	if ((pl = malloc(n * sizeof(*pl))) == NULL) {
		return (IPCQ_ENOMEM);
	}
	for (size_t i = 0; i < n; i++) {
		/* The payloads are packed straight from the caller's
		 * buffers: no copy before the one into the frame. */
		pl[i].data = (uint8_t *) f->msgs[f->done + i].data;
		pl[i].len  = f->msgs[f->done + i].len;
	}
	s.handle      = h->handle;
	s.n_payloads  = n;
	s.payloads    = pl;
	s.timeout_ms  = ipcqi_remaining(deadline);
	req.body_case = IPCQ__V1__REQUEST__BODY_SEND;
	req.send      = &s;
	rv = ipcqi_call(q->c, &req, deadline, IPCQ__V1__REPLY__BODY_SEND, &rep,
	    NULL);
	free(pl);
	if (rep != NULL &&
	    rep->body_case == IPCQ__V1__REPLY__BODY_SEND) {
		size_t acc = rep->send->accepted;
		f->done += acc < n ? acc : n;
	}
	ipcqi_reply_free(rep);
	if (rv == 0 && f->done != f->count) {
		rv = IPCQ_EPROTO; /* success must mean all accepted */
	}
	return (rv);
}

/* The frame starting at msgs[0] (of n), or an error for msgs[0]. */
static int
send_cut(const ipcq_iov *msgs, size_t n, uint32_t limit, size_t *count)
{
	size_t bytes = 0;
	size_t i;

	for (i = 0; i < n && i < FRAME_MAX_MSGS; i++) {
		if (msgs[i].data == NULL && msgs[i].len != 0) {
			break;
		}
		if (msgs[i].len > limit) {
			break;
		}
		if (i > 0 && bytes + msgs[i].len > FRAME_MAX_BYTES) {
			break;
		}
		bytes += msgs[i].len;
	}
	if (i == 0) {
		return (msgs[0].len > limit ? IPCQ_EMSGSIZE : IPCQ_EINVAL);
	}
	*count = i;
	return (IPCQ_OK);
}

static uint32_t
send_limit(ipcq_queue *q)
{
	uint32_t lim;

	pthread_mutex_lock(&q->mtx);
	lim = q->max_message_bytes;
	pthread_mutex_unlock(&q->mtx);
	if (lim == 0 || lim > IPCQI_MAX_MESSAGE_BYTES) {
		lim = IPCQI_MAX_MESSAGE_BYTES;
	}
	return (lim);
}

int
ipcq_queue_send_batch(ipcq_queue *q, const ipcq_iov *msgs, size_t n,
    size_t *sent, int timeout_ms)
{
	int64_t    deadline = ipcqi_deadline(timeout_ms);
	size_t     total    = 0;
	ipcqi_shm *m;
	uint32_t   limit;
	int      rv = IPCQ_OK;

	if (sent != NULL) {
		*sent = 0;
	}
	if (q == NULL || (msgs == NULL && n > 0)) {
		return (IPCQ_EINVAL);
	}
	if ((rv = ipcqi_shm_pick(q, deadline, &m)) != 0) {
		return (rv);
	}
	if (m != NULL) {
		return (ipcqi_shm_send(q, m, msgs, n, sent, deadline));
	}
	limit = send_limit(q);
	while (total < n) {
		send_frame f = { .msgs = msgs + total, .done = 0 };

		if ((rv = send_cut(f.msgs, n - total, limit, &f.count)) != 0) {
			break;
		}
		rv = ipcqi_queue_run(q, deadline, send_frame_fn, &f);
		total += f.done;
		if (sent != NULL) {
			*sent = total;
		}
		if (rv != 0) {
			break;
		}
	}
	return (rv);
}

int
ipcq_queue_send(ipcq_queue *q, const void *data, size_t len, int timeout_ms)
{
	ipcq_iov iov = { .data = data, .len = len };

	return (ipcq_queue_send_batch(q, &iov, 1, NULL, timeout_ms));
}
