/*
 * Moving messages through a queue's segment for socket clients: send,
 * take, release, ack, purge, and the stats read from the segment. The
 * rules themselves (bounds, full policy, what an empty queue answers)
 * are the segment's (proto/ipcqi_seg_queue.c), shared with libipcq's
 * fast path. Broker lock held; each function takes the segment lock.
 */
#include <stdlib.h>

#include "ipcq.h"
#include "log.h"
#include "queue.h"
#include "queue_int.h"

int
ipcqd_qu_admit(ipcqd_queue *q, const ipcqd_payload *p, size_t n,
    size_t *accepted)
{
	size_t before = *accepted;
	int    rv;

	if ((rv = ipcqd_qu_lock(q)) != 0) {
		return rv;
	}
	rv = ipcqi_seg_admit(&q->seg, p, n, accepted);
	if (*accepted > before) {
		ipcqi_seg_wake_data(&q->seg, (int) (*accepted - before));
	}
	ipcqi_seg_unlock(&q->seg);
	return rv;
}

int
ipcqd_queue_send(ipcqd_queue *q, ipcqd_handle *h,
    const ipcqd_payload *payloads, size_t n, size_t *accepted)
{
	int rv;

	ipcqd_queue_add_producer(q, h);
	if (q->ended || h->ended) {
		return IPCQ_ECLOSED; /* the queue's stream, or this producer's */
	}
	for (size_t i = *accepted; i < n; i++) {
		if (payloads[i].len > q->opts.max_message_bytes) {
			return IPCQ_EMSGSIZE; /* nothing of the batch goes in */
		}
	}
	if (*accepted >= n) {
		return 0; /* an empty send only made h a producer (above) */
	}
	/* Parked senders go first: a new batch must not overtake them. */
	if (!ipcqd_list_empty(&q->send_waiters)) {
		return IPCQD_WOULD_BLOCK;
	}
	rv = ipcqd_qu_admit(q, payloads, n, accepted);
	if (rv == IPCQI_WOULD_BLOCK) {
		rv = IPCQD_WOULD_BLOCK;
	}
	if (*accepted > 0) {
		ipcqd_qu_pump(q);
	}
	return rv;
}

/* Status for a consumer that found nothing ready (segment lock held). */
static int
qu_empty_status(ipcqd_queue *q, const ipcqd_handle *h)
{
	int st = ipcqi_seg_empty_status(&q->seg, h->nleases);

	return st == IPCQI_WOULD_BLOCK ? IPCQD_WOULD_BLOCK : st;
}

int
ipcqd_qu_empty_status(ipcqd_queue *q, const ipcqd_handle *h)
{
	int st;

	if ((st = ipcqd_qu_lock(q)) != 0) {
		return st;
	}
	st = qu_empty_status(q, h);
	ipcqi_seg_unlock(&q->seg);
	return st;
}

uint64_t
ipcqd_qu_ready_count(ipcqd_queue *q)
{
	uint64_t n;

	if (ipcqd_qu_lock(q) != 0) {
		return 0;
	}
	n = q->seg.hdr->ready;
	ipcqi_seg_unlock(&q->seg);
	return n;
}

bool
ipcqd_queue_ready(ipcqd_queue *q, const ipcqd_handle *h, bool past_abandoned)
{
	int st;

	if (ipcqd_qu_ready_count(q) > 0) {
		return true;
	}
	st = ipcqd_qu_empty_status(q, h);
	/* EBUSY: a client holds the lock; not known to be ready. */
	return st != IPCQD_WOULD_BLOCK && st != IPCQ_EBUSY &&
	    !(past_abandoned && st == IPCQ_EABANDONED);
}

/* Remember a socket-path lease so that an ack by id finds its record. */
static bool
qu_note_lease(ipcqd_handle *h, const ipcqi_seg_ref *r)
{
	ipcqd_lease *l = malloc(sizeof(*l));

	if (l == NULL) {
		return false;
	}
	l->lease = r->lease;
	l->pos   = r->pos;
	ipcqd_list_push_back(&h->leases, &l->node);
	h->nleases++;
	return true;
}

size_t
ipcqd_queue_take(ipcqd_queue *q, ipcqd_handle *h, uint32_t max,
    ipcqi_seg_ref *recs, int *status)
{
	bool     explicit = h->ack_mode == IPCQ_ACK_EXPLICIT;
	size_t   n        = 0;
	uint64_t bytes    = 0;
	int      rv;

	ipcqd_queue_add_consumer(q, h);
	if (max == 0) {
		max = 1;
	}
	if (max > IPCQD_RECV_MAX) {
		max = IPCQD_RECV_MAX;
	}
	if ((rv = ipcqd_qu_lock(q)) != 0) {
		*status = rv;
		return 0;
	}
	/* Cap a reply's size; the first message always goes. */
	while (n < max && bytes < IPCQD_RECV_MAX_BYTES) {
		uint32_t room = n == 0 ? UINT32_MAX
		                       : (uint32_t) (IPCQD_RECV_MAX_BYTES - bytes);
		if (ipcqi_seg_take_upto(&q->seg, h->id, room, &recs[n]) != 0) {
			break;
		}
		if (explicit && !qu_note_lease(h, &recs[n])) {
			/* No memory to remember it: give it back. */
			ipcqi_seg_finish(&q->seg, recs[n].pos, recs[n].lease,
			    h->id, true);
			break;
		}
		bytes += recs[n].len;
		n++;
	}
	if (n == 0) {
		*status = ipcqi_seg_corrupt(&q->seg) ? IPCQ_ECORRUPT
		                                     : qu_empty_status(q, h);
	}
	ipcqi_seg_unlock(&q->seg);
	return n;
}

void
ipcqd_qu_release(ipcqd_queue *q, ipcqd_handle *h, const ipcqi_seg_ref *recs,
    size_t n)
{
	int rv;

	if (n == 0) {
		return;
	}
	if ((rv = ipcqd_qu_lock(q)) != 0) {
		/* Held by a client: the acks wait for the lock (the records
		 * stay leased to h meanwhile, so nobody else takes them). */
		for (size_t i = 0; rv == IPCQ_EBUSY && i < n; i++) {
			if (!ipcqd_qu_defer_finish(q, h->id, recs[i].pos,
			        recs[i].lease, false)) {
				/* Redelivered when h detaches: not lost. */
				ipcqd_error("queue %s: out of memory deferring "
				            "an ack", q->name);
				break;
			}
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ipcqi_seg_finish(&q->seg, recs[i].pos, recs[i].lease, h->id,
		    false);
	}
	ipcqi_seg_wake_space(&q->seg, (int) n);
	ipcqi_seg_wake_data(&q->seg, 0); /* EOF may now be due */
	ipcqi_seg_unlock(&q->seg);
}

void
ipcqd_queue_release(ipcqd_queue *q, ipcqd_handle *h,
    const ipcqi_seg_ref *recs, size_t n)
{
	ipcqd_qu_release(q, h, recs, n);
	/* Auto-acked messages freed space only now. */
	if (n > 0) {
		ipcqd_qu_pump(q);
	}
}

static ipcqd_lease *
qu_find_lease(ipcqd_handle *h, uint64_t id)
{
	ipcqd_node *n;

	/* Acks mostly come oldest first, so the match is usually at the
	 * head: linear search stays cheap in practice. */
	for (n = h->leases.next; n != &h->leases; n = n->next) {
		ipcqd_lease *l = IPCQD_CONTAINER(n, ipcqd_lease, node);
		if (l->lease == id) {
			return l;
		}
	}
	return NULL;
}

/* A client holds the lock: the acks wait for it (queue_lock.c), in
 * order with everything else that waits; the leases leave h now, so a
 * second ack of one answers ENOLEASE as it would after the write. */
static int
qu_ack_later(ipcqd_queue *q, ipcqd_handle *h, const uint64_t *ids,
    size_t n, bool requeue, size_t *done)
{
	int rv = 0;

	for (size_t i = 0; i < n; i++) {
		ipcqd_lease *l = qu_find_lease(h, ids[i]);
		if (l == NULL) {
			rv = IPCQ_ENOLEASE;
			continue;
		}
		if (!ipcqd_qu_defer_finish(q, h->id, l->pos, l->lease,
		        requeue)) {
			return IPCQ_ENOMEM; /* this lease and the rest stay */
		}
		ipcqd_node_remove(&l->node);
		free(l);
		h->nleases--;
		(*done)++;
	}
	return rv;
}

int
ipcqd_queue_ack(ipcqd_queue *q, ipcqd_handle *h, const uint64_t *ids,
    size_t n, bool requeue, size_t *done)
{
	int rv = 0, lrv;

	*done = 0;
	if ((lrv = ipcqd_qu_lock(q)) == IPCQ_EBUSY) {
		return qu_ack_later(q, h, ids, n, requeue, done);
	}
	if (lrv != 0) {
		return lrv;
	}
	for (size_t i = 0; i < n; i++) {
		ipcqd_lease *l = qu_find_lease(h, ids[i]);
		if (l == NULL) {
			rv = IPCQ_ENOLEASE;
			continue;
		}
		/* The record is back in its original place on a requeue, so
		 * the batch's order needs no care here. */
		lrv = ipcqi_seg_finish(&q->seg, l->pos, l->lease, h->id, requeue);
		ipcqd_node_remove(&l->node);
		free(l);
		h->nleases--;
		if (lrv != 0) {
			rv = lrv;
			continue;
		}
		(*done)++;
	}
	if (*done > 0) {
		ipcqi_seg_wake_data(&q->seg, 0);
		ipcqi_seg_wake_space(&q->seg, 0);
	}
	ipcqi_seg_unlock(&q->seg);
	if (*done > 0) {
		ipcqd_qu_pump(q);
	}
	return rv;
}

uint64_t
ipcqd_queue_purge(ipcqd_queue *q)
{
	uint64_t n;

	if (ipcqd_qu_lock(q) != 0) {
		return 0;
	}
	n = ipcqi_seg_purge(&q->seg);
	ipcqi_seg_wake_space(&q->seg, 0);
	ipcqi_seg_unlock(&q->seg);
	ipcqd_qu_pump(q);
	return n;
}

void
ipcqd_queue_poke(ipcqd_queue *q)
{
	if (q->corrupt_seen && !q->corrupt_failed) {
		q->corrupt_failed = true;
		ipcqd_queue_fail_waiters(q, IPCQ_ECORRUPT);
		return;
	}
	ipcqd_qu_pump(q);
}

static uint32_t
qu_count(const ipcqd_list *l)
{
	uint32_t n = 0;

	for (const ipcqd_node *x = l->next; x != l; x = x->next) {
		n++;
	}
	return n;
}

void
ipcqd_queue_get_stats(ipcqd_queue *q, ipcqd_queue_stats *st)
{
	const ipcqi_seg_hdr *hd = q->seg.hdr;
	int                  rv;

	*st = (ipcqd_queue_stats){ 0 };
	st->producers         = q->producers_live;
	st->consumers         = q->consumers;
	st->producers_ended   = q->producers_ended;
	st->producers_lost    = q->producers_lost;
	st->senders_waiting   = qu_count(&q->send_waiters);
	st->receivers_waiting = qu_count(&q->recv_waiters);
	/* Plus the shared-memory clients asleep in the segment. */
	st->ended             = q->ended;
	st->abandoned         = ipcqd_queue_abandoned(q);
	st->sync_errors       = q->sync_errors;
	rv = ipcqd_qu_lock(q);
	if (rv == 0 && !ipcqi_seg_counts_ok(&q->seg)) {
		/* Scribbled counters: never report them as the queue's
		 * state. Quarantined now; locking again fails and tells
		 * the queue layer (its parked requests are failed). */
		ipcqi_seg_unlock(&q->seg);
		rv = ipcqd_qu_lock(q);
	}
	if (rv == IPCQ_ECORRUPT) {
		st->corrupt = true;
		return;
	}
	/* Stuck (EBUSY: a stopped client holds the lock, so nobody writes
	 * them): the counters are read anyway; they are only statistics,
	 * and aligned 64-bit loads are whole. */
#define QU_RD(f) __atomic_load_n(&hd->f, __ATOMIC_RELAXED)
	st->depth       = QU_RD(ready);
	st->bytes       = QU_RD(ready_bytes) + QU_RD(leased_bytes);
	st->in_flight   = QU_RD(leased);
	st->writing     = QU_RD(writing);
	st->sent        = QU_RD(sent);
	st->received    = QU_RD(received);
	st->acked       = QU_RD(acked);
	st->redelivered = QU_RD(redelivered);
	st->dropped     = QU_RD(dropped);
	st->purged      = QU_RD(purged);
#undef QU_RD
	if (rv == 0) {
		st->senders_waiting += ipcqi_seg_sleeping(&q->seg,
		    IPCQI_SLEEP_SEND);
		st->receivers_waiting += ipcqi_seg_sleeping(&q->seg,
		    IPCQI_SLEEP_RECV);
		ipcqi_seg_unlock(&q->seg);
	}
}
