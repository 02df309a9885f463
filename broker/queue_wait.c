/*
 * Parked requests of a queue: parking, cancelling, and the pump that
 * serves them after every state change (queue.h explains the contract).
 * Broker lock held throughout, like the rest of the queue layer.
 */
#include <stdbool.h>
#include <time.h>

#include "ipcq.h"
#include "queue.h"
#include "queue_int.h"

uint64_t
ipcqd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* A waiter whose deadline has passed is never served, even if its timer
 * has not fired yet (a stalled broker, a busy machine): its client may
 * have given up, and a message delivered to nobody would be lost. */
static bool
qu_expired(const ipcqd_waiter *w, uint64_t *now)
{
	if (w->deadline == 0) {
		return false;
	}
	if (*now == 0) {
		*now = ipcqd_now_ms();
	}
	return *now >= w->deadline;
}

static bool qu_publish_watch(ipcqd_queue *q);

void
ipcqd_queue_park(ipcqd_queue *q, ipcqd_waiter *w)
{
	ipcqd_list *l = &q->send_waiters;

	if (w->kind == IPCQD_WAIT_RECV) {
		l = &q->recv_waiters;
	} else if (w->kind == IPCQD_WAIT_READY) {
		l = &q->ready_waiters;
	}
	ipcqd_list_push_back(l, &w->node);
	/* The request failed against the segment a moment ago; a
	 * shared-memory client may have changed it since, without ringing
	 * (it did not know we wait). Publish what we wait for, and if that
	 * is new, ring our own bell: the waker pumps once more, outside this
	 * request. */
	if (qu_publish_watch(q)) {
		ipcqd_qu_ring(q, true);
	}
}

bool
ipcqd_queue_cancel(ipcqd_waiter *w, int status)
{
	if (!ipcqd_node_linked(&w->node)) {
		return false;
	}
	ipcqd_qu_finish(w, status, NULL, 0);
	return true;
}

/* Serve parked senders while there is room. */
static void
qu_pump_senders(ipcqd_queue *q)
{
	ipcqd_node *n;
	uint64_t    now = 0;

	while ((n = ipcqd_list_first(&q->send_waiters)) != NULL) {
		ipcqd_waiter *w = IPCQD_CONTAINER(n, ipcqd_waiter, node);
		int           rv;

		if (qu_expired(w, &now)) {
			ipcqd_qu_finish(w, IPCQ_ETIMEDOUT, NULL, 0);
			continue;
		}
		rv = q->ended ? IPCQ_ECLOSED
		              : ipcqd_qu_admit(q, w->payloads, w->npayloads,
		                    &w->accepted);
		if (rv == IPCQI_WOULD_BLOCK || rv == IPCQ_EBUSY) {
			break; /* EBUSY: stays parked, retried later */
		}
		ipcqd_qu_finish(w, rv, NULL, 0);
	}
}

/* Serve parked receivers: messages first, then end-of-stream verdicts.
 * True if any message was handed out. */
static bool
qu_pump_receivers(ipcqd_queue *q)
{
	ipcqi_seg_ref recs[IPCQD_RECV_MAX];
	ipcqd_node   *n, *tmp;
	bool          progress = false;
	uint64_t      now      = 0;

	while (ipcqd_qu_ready_count(q) > 0 &&
	    (n = ipcqd_list_first(&q->recv_waiters)) != NULL) {
		ipcqd_waiter *w = IPCQD_CONTAINER(n, ipcqd_waiter, node);
		int           st;

		if (qu_expired(w, &now)) {
			ipcqd_qu_finish(w, IPCQ_ETIMEDOUT, NULL, 0);
			continue;
		}
		ipcqd_handle *h       = w->h;
		bool          autoack = h->ack_mode != IPCQ_ACK_EXPLICIT;
		size_t        got = ipcqd_queue_take(q, h, w->max, recs, &st);
		if (got == 0 && st != IPCQD_WOULD_BLOCK && st != IPCQ_EBUSY) {
			ipcqd_qu_finish(w, st, NULL, 0); /* EOF, ECORRUPT.. */
			continue;
		}
		if (got == 0) {
			break; /* a shared-memory client took it first */
		}
		ipcqd_qu_finish(w, 0, recs, got);
		/* done() has copied the payloads into the reply; auto-acked
		 * records are finished. (Not ipcqd_queue_release: that
		 * pumps, and we are inside the pump.) */
		if (autoack) {
			ipcqd_qu_release(q, h, recs, got);
		}
		progress = true;
	}
	if (ipcqd_qu_ready_count(q) > 0) {
		return progress;
	}
	IPCQD_LIST_FOREACH_SAFE(&q->recv_waiters, n, tmp)
	{
		ipcqd_waiter *w  = IPCQD_CONTAINER(n, ipcqd_waiter, node);
		int           st = ipcqd_qu_empty_status(q, w->h);
		/* EBUSY: a client holds the lock; it is retried later. */
		if (st != IPCQD_WOULD_BLOCK && st != IPCQ_EBUSY) {
			ipcqd_qu_finish(w, st, NULL, 0);
		}
	}
	return progress;
}

/* Wake every ready-waiter whose handle could now receive without
 * blocking. They take nothing, so one message wakes them all (each
 * client's recv then races for it, as threads on one socket would).
 * Runs after receivers were served: what they took is not "ready". */
static void
qu_pump_ready(ipcqd_queue *q)
{
	ipcqd_node *n, *tmp;
	uint64_t    now = 0;

	IPCQD_LIST_FOREACH_SAFE(&q->ready_waiters, n, tmp)
	{
		ipcqd_waiter *w = IPCQD_CONTAINER(n, ipcqd_waiter, node);

		if (qu_expired(w, &now)) {
			ipcqd_qu_finish(w, IPCQ_ETIMEDOUT, NULL, 0);
		} else if (ipcqd_queue_ready(q, w->h, w->past_abandoned)) {
			ipcqd_qu_finish(w, 0, NULL, 0);
		}
	}
}

/* Tell shared-memory clients what parked requests wait for, so that
 * their changes ring the broker's bell. True if a bit was newly set: a
 * change made just before it was set rang no bell, so the caller pumps
 * once more. */
static bool
qu_publish_watch(ipcqd_queue *q)
{
	uint32_t want = 0;
	bool     more;

	if (!ipcqd_list_empty(&q->recv_waiters) ||
	    !ipcqd_list_empty(&q->ready_waiters)) {
		want |= IPCQI_WATCH_DATA;
	}
	if (!ipcqd_list_empty(&q->send_waiters)) {
		want |= IPCQI_WATCH_SPACE;
	}
	if (want == q->watch) {
		q->watch_stale = false;
		return false;
	}
	/* Under the segment lock: a client reads the bits under it when it
	 * decides whether to ring. Held by a client: written by the pump
	 * the waker's retry runs once the lock is had. */
	if (ipcqd_qu_lock(q) != 0) {
		q->watch_stale = true;
		return false;
	}
	more                     = (want & ~q->watch) != 0;
	q->watch                 = want;
	q->watch_stale           = false;
	q->seg.hdr->broker_watch = want;
	ipcqi_seg_unlock(&q->seg);
	return more;
}

void
ipcqd_qu_pump(ipcqd_queue *q)
{
	do {
		/* A receiver in auto-ack mode frees space (senders can go
		 * on), and a sender fills the queue (receivers can go on):
		 * loop until neither side moves. */
		for (;;) {
			qu_pump_senders(q);
			if (!qu_pump_receivers(q) ||
			    ipcqd_list_empty(&q->send_waiters)) {
				break;
			}
		}
		qu_pump_ready(q);
	} while (qu_publish_watch(q));
}

