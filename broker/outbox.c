/*
 * Unread replies per connection (see outbox.h).
 */
#include "outbox.h"

#include <stdlib.h>

#include <nng/nng.h>

#include "log.h"

typedef struct ipcqd_outbox_conn {
	size_t bytes;   /* charged bytes of replies in flight */
	int    replies; /* replies in flight */
	bool   dropped; /* a verdict was given: the pipe is closing */
} ipcqd_outbox_conn;

int
ipcqd_outbox_init(ipcqd_outbox *o, size_t max_bytes, int max_replies,
    int drain_ms)
{
	o->max_bytes   = max_bytes;
	o->max_replies = max_replies;
	o->drain_ms    = drain_ms;
	if (ipcqd_idmap_init(&o->conns) != 0) {
		return -1;
	}
	if (ipcqd_idmap_init(&o->dropped) != 0) {
		ipcqd_idmap_fini(&o->conns);
		return -1;
	}
	return 0;
}

void
ipcqd_outbox_fini(ipcqd_outbox *o)
{
	/* Empty by now: an entry lives only while sends are in flight, and
	 * the server quiesced every send aio before it is freed. */
	if (o->conns.buckets != NULL) {
		ipcqd_idmap_fini(&o->conns);
	}
	if (o->dropped.buckets != NULL) {
		ipcqd_idmap_fini(&o->dropped);
	}
}

int
ipcqd_outbox_drop(ipcqd_outbox *o, uint32_t pipe_id)
{
	return ipcqd_idmap_put(&o->dropped, pipe_id, o);
}

bool
ipcqd_outbox_is_dropped(const ipcqd_outbox *o, uint32_t pipe_id)
{
	return ipcqd_idmap_get(&o->dropped, pipe_id) != NULL;
}

void
ipcqd_outbox_forget(ipcqd_outbox *o, uint32_t pipe_id)
{
	(void) ipcqd_idmap_del(&o->dropped, pipe_id);
}

ipcqd_outbox_verdict
ipcqd_outbox_add(ipcqd_outbox *o, uint32_t pipe_id, size_t len,
    size_t *charged)
{
	ipcqd_outbox_conn *c = ipcqd_idmap_get(&o->conns, pipe_id);

	*charged = 0;
	if (c == NULL) {
		/* Created lazily and freed when the last send completes: no
		 * pipe event is needed, and a reply to a pipe that is already
		 * gone cannot leave an entry behind. */
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			return IPCQD_OUTBOX_KEEP; /* uncounted, never dropped */
		}
		if (ipcqd_idmap_put(&o->conns, pipe_id, c) != 0) {
			free(c);
			return IPCQD_OUTBOX_KEEP;
		}
	}
	*charged = len + IPCQD_OUTBOX_CHARGE;
	c->bytes += *charged;
	c->replies++;
	/* The reply being written never counts against the bounds alone: a
	 * client may always have one reply of any size (the frame limit
	 * bounds it); only what piles up behind it is held for nobody. */
	if (c->dropped || c->replies < 2) {
		return IPCQD_OUTBOX_KEEP;
	}
	if (c->replies > o->max_replies) {
		c->dropped = true;
		return IPCQD_OUTBOX_OVER_REPLIES;
	}
	if (c->bytes > o->max_bytes) {
		c->dropped = true;
		return IPCQD_OUTBOX_OVER_BYTES;
	}
	return IPCQD_OUTBOX_KEEP;
}

ipcqd_outbox_verdict
ipcqd_outbox_done(ipcqd_outbox *o, uint32_t pipe_id, size_t charged, int rv)
{
	ipcqd_outbox_conn   *c = ipcqd_idmap_get(&o->conns, pipe_id);
	ipcqd_outbox_verdict v = IPCQD_OUTBOX_KEEP;

	if (charged == 0 || c == NULL) {
		return IPCQD_OUTBOX_KEEP;
	}
	/* nng's REP queues a reply behind the one its pipe is writing; the
	 * send aio's timeout (--drain-ms) ends the wait. Only a timeout
	 * means "does not read": a closed pipe completes its queued sends
	 * with success, and a stopping server with ECANCELED. */
	if (rv == NNG_ETIMEDOUT && !c->dropped) {
		c->dropped = true;
		v          = IPCQD_OUTBOX_TIMED_OUT;
	}
	c->bytes -= charged;
	if (--c->replies == 0) {
		ipcqd_idmap_del(&o->conns, pipe_id);
		free(c);
	}
	return v;
}

void
ipcqd_outbox_log_drop(const ipcqd_outbox *o, uint32_t pipe_id,
    ipcqd_outbox_verdict v)
{
	switch (v) {
	case IPCQD_OUTBOX_OVER_REPLIES:
		ipcqd_warn("connection %u left more than %d replies unread "
		           "(--max-unread-replies): dropping it",
		    pipe_id, o->max_replies);
		break;
	case IPCQD_OUTBOX_OVER_BYTES:
		ipcqd_warn("connection %u left more than %zu bytes of replies "
		           "unread (--max-unread-bytes): dropping it",
		    pipe_id, o->max_bytes);
		break;
	default:
		ipcqd_warn("connection %u took no reply for %d ms "
		           "(--drain-ms): dropping it",
		    pipe_id, o->drain_ms);
		break;
	}
}
