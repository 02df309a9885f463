/*
 * A queue's lifecycle: creation around a segment, handles attaching and
 * detaching, producers and the end of stream. Moving messages is in
 * queue_data.c, parked requests in queue_wait.c. See queue.h for the
 * contract and docs/api.md for the rules as users see them.
 *
 * Everything runs under the broker lock. After any change that could let
 * a parked request proceed, ipcqd_qu_pump() re-examines the waiters, so no
 * state change can strand one. The end-of-stream state is decided here
 * and mirrored into the segment (qu_sync_state) for shared-memory clients.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipcq.h"
#include "queue_int.h"
#include "session.h"


int
ipcqd_queue_opts_normalize(ipcqd_queue_opts *o)
{
	if (o->max_messages == 0) {
		o->max_messages = IPCQI_DEFAULT_MAX_MESSAGES;
	}
	if (o->max_bytes == 0) {
		o->max_bytes = IPCQI_DEFAULT_MAX_BYTES;
	}
	if (o->max_message_bytes == 0) {
		o->max_message_bytes = IPCQI_DEFAULT_MAX_MESSAGE_BYTES;
	}
	/* A message bigger than the byte bound could never be queued. */
	if (o->max_message_bytes > o->max_bytes) {
		o->max_message_bytes = (uint32_t) o->max_bytes;
	}
	if (o->max_message_bytes > IPCQI_MAX_MESSAGE_BYTES ||
	    o->full_policy < IPCQ_FULL_BLOCK ||
	    o->full_policy > IPCQ_FULL_DROP_OLDEST) {
		return IPCQ_EINVAL;
	}
	return 0;
}


static ipcqd_queue *
qu_alloc(const char *name)
{
	ipcqd_queue *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		return NULL;
	}
	memcpy(q->name, name, strnlen(name, IPCQI_NAME_MAX));
	q->fd = -1;
	ipcqd_node_init(&q->node);
	ipcqd_list_init(&q->handles);
	ipcqd_list_init(&q->recv_waiters);
	ipcqd_list_init(&q->send_waiters);
	ipcqd_list_init(&q->ready_waiters);
	return q;
}

void
ipcqd_queue_seg_params(ipcqi_seg_params *p, const char *name,
    const ipcqd_queue_opts *o)
{
	*p = (ipcqi_seg_params){
		.name               = name,
		.max_messages       = o->max_messages,
		.max_bytes          = o->max_bytes,
		.max_message_bytes  = o->max_message_bytes,
		.full_policy        = o->full_policy,
		.expected_producers = o->expected_producers,
		.durable            = o->durable,
	};
}

ipcqd_queue *
ipcqd_queue_new(const char *name, const ipcqd_queue_opts *o)
{
	ipcqi_seg        seg;
	ipcqi_seg_params p;
	ipcqd_queue     *q;
	int              fd = memfd_create("ipcq-queue", MFD_CLOEXEC);

	ipcqd_queue_seg_params(&p, name, o);

	if (fd < 0) {
		return NULL;
	}
	if (ipcqi_seg_create(&seg, fd, &p) != 0) {
		close(fd);
		return NULL;
	}
	close(fd); /* the mapping keeps the memory */
	if ((q = ipcqd_queue_from_seg(&seg, "")) == NULL) {
		ipcqi_seg_unmap(&seg);
	}
	return q;
}

ipcqd_queue *
ipcqd_queue_from_seg(const ipcqi_seg *seg, const char *shm_name)
{
	const ipcqi_seg_hdr *hd = seg->hdr;
	ipcqd_queue         *q  = qu_alloc(hd->name);

	if (q == NULL) {
		return NULL;
	}
	q->seg = *seg;
	snprintf(q->shm_name, sizeof(q->shm_name), "%s", shm_name);
	q->opts.max_messages       = hd->max_messages;
	q->opts.max_bytes          = hd->max_bytes;
	q->opts.max_message_bytes  = hd->max_message_bytes;
	q->opts.full_policy        = (int) hd->full_policy;
	q->opts.expected_producers = hd->expected_producers;
	q->opts.durable            = hd->durable != 0;
	/* An adopted queue keeps its end and its producer counts
	 * (docs/shm.md, "End of stream across a restart"). */
	q->ended           = (hd->qstate & IPCQI_QS_ENDED) != 0;
	q->closed          = (hd->qstate & IPCQI_QS_CLOSED) != 0;
	q->producers_ended = hd->producers_ended;
	/* The old instance's attached producers were attached through
	 * connections to it, and those are gone: they count as lost, as
	 * after any dropped connection. One that is alive reconnects, and
	 * libipcq re-opens its handle: it is attached again and its end
	 * counts; one that died with the broker stays lost, so a drained
	 * queue says EABANDONED instead of leaving consumers waiting. */
	uint64_t lost = (uint64_t) hd->producers_lost + hd->producers_attached;
	q->producers_lost = lost > UINT32_MAX ? UINT32_MAX : (uint32_t) lost;
	if (q->producers_lost == 0 && (hd->qstate & IPCQI_QS_ABANDONED) != 0) {
		q->producers_lost = 1; /* a file from before the counts */
	}
	/* Written back (attached 0) at the first lock: the waker retries
	 * dirty queues at once. */
	q->state_dirty = hd->producers_attached != 0;
	return q;
}

/* Complete a waiter that is on one of q's lists. */
void
ipcqd_qu_finish(ipcqd_waiter *w, int status, ipcqi_seg_ref *recs, size_t n)
{
	ipcqd_node_remove(&w->node);
	w->done(w, status, recs, n);
}

static void
qu_cancel_all(ipcqd_list *waiters, const ipcqd_handle *only, int status)
{
	ipcqd_node *n, *tmp;

	IPCQD_LIST_FOREACH_SAFE(waiters, n, tmp)
	{
		ipcqd_waiter *w = IPCQD_CONTAINER(n, ipcqd_waiter, node);
		if (only == NULL || w->h == only) {
			ipcqd_qu_finish(w, status, NULL, 0);
		}
	}
}

/* Forget h's socket-path lease records (the segment is dealt with by
 * the caller). */
static void
qu_forget_leases(ipcqd_handle *h)
{
	ipcqd_node *n;

	while ((n = ipcqd_list_pop_front(&h->leases)) != NULL) {
		free(IPCQD_CONTAINER(n, ipcqd_lease, node));
	}
	h->nleases = 0;
}

/* Everything h holds in the segment comes back: its leases in their
 * original places (redelivered in order), its unfinished loans
 * discarded. Shared-memory clients hold leases under the same id. */
static void
qu_return_leases(ipcqd_queue *q, ipcqd_handle *h)
{
	int rv = ipcqd_qu_lock(q);

	if (rv == 0) {
		ipcqi_seg_return_holder(&q->seg, h->id);
		ipcqi_seg_wake_data(&q->seg, 0);
		ipcqi_seg_wake_space(&q->seg, 0);
		ipcqi_seg_unlock(&q->seg);
	} else if (rv == IPCQ_EBUSY) {
		ipcqd_qu_defer_return(q, h->id); /* nothing is lost */
	}
	qu_forget_leases(h);
}

void
ipcqd_queue_free(ipcqd_queue *q)
{
	ipcqd_node *n;

	if (q == NULL) {
		return;
	}
	qu_cancel_all(&q->recv_waiters, NULL, IPCQ_EDELETED);
	qu_cancel_all(&q->send_waiters, NULL, IPCQ_EDELETED);
	qu_cancel_all(&q->ready_waiters, NULL, IPCQ_EDELETED);
	while ((n = ipcqd_list_pop_front(&q->handles)) != NULL) {
		ipcqd_handle *h = IPCQD_CONTAINER(n, ipcqd_handle, qnode);
		qu_forget_leases(h);
		h->q = NULL;
	}
	/* Shared-memory clients still mapping it see it deleted (unless the
	 * broker is only stopping: a durable file must stay as it is). */
	if (!q->keep) {
		__atomic_fetch_or(&q->seg.hdr->qstate,
		    IPCQI_QS_DELETED | IPCQI_QS_ENDED, __ATOMIC_RELEASE);
	}
	ipcqi_seg_wake_data(&q->seg, 0);
	ipcqi_seg_wake_space(&q->seg, 0);
	ipcqi_seg_unmap(&q->seg);
	if (q->fd >= 0) {
		close(q->fd);
	}
	free(q->todo);
	free(q);
}

void
ipcqd_queue_fail_waiters(ipcqd_queue *q, int status)
{
	qu_cancel_all(&q->recv_waiters, NULL, status);
	qu_cancel_all(&q->send_waiters, NULL, status);
	qu_cancel_all(&q->ready_waiters, NULL, status);
}

bool
ipcqd_queue_abandoned(const ipcqd_queue *q)
{
	uint32_t exp = q->opts.expected_producers;

	if (q->ended || q->producers_live > 0 || q->producers_lost == 0) {
		return false;
	}
	return exp == 0 || q->producers_ended + q->producers_lost >= exp;
}

/* Publish the end-of-stream state to the segment, where shared-memory
 * clients read it, and wake them if it changed. */
void
ipcqd_qu_write_state(ipcqd_queue *q)
{
	uint32_t want = (q->ended ? IPCQI_QS_ENDED : 0) |
	    (q->closed ? IPCQI_QS_CLOSED : 0) |
	    (ipcqd_queue_abandoned(q) ? IPCQI_QS_ABANDONED : 0);
	uint32_t mask = IPCQI_QS_ENDED | IPCQI_QS_CLOSED | IPCQI_QS_ABANDONED;

	q->state_dirty = false;
	/* The counts behind the state, for a broker that adopts the
	 * segment after this one (queue_from_seg). */
	q->seg.hdr->producers_attached = q->producers_live;
	q->seg.hdr->producers_ended    = q->producers_ended;
	q->seg.hdr->producers_lost     = q->producers_lost;
	if ((q->seg.hdr->qstate & mask) != want) {
		q->seg.hdr->qstate = (q->seg.hdr->qstate & ~mask) | want;
		ipcqi_seg_wake_data(&q->seg, 0);
		ipcqi_seg_wake_space(&q->seg, 0);
	}
}

static void
qu_sync_state(ipcqd_queue *q)
{
	q->state_dirty = true; /* until written: the lock may be stuck */
	if (ipcqd_qu_lock(q) == 0) { /* writes it (catch-up) */
		ipcqi_seg_unlock(&q->seg);
	}
}

/* The sticky end: every expected producer has ended, or (nothing
 * declared) a producer ended and no other producer is attached. A
 * producer that left without ending does not end the queue: while it is
 * the last word, the queue is abandoned instead (ipcqd_queue_abandoned),
 * and a replacement producer that ends finishes the stream. */
static void
qu_check_end(ipcqd_queue *q, bool by_end)
{
	uint32_t exp = q->opts.expected_producers;

	if (!q->ended) {
		if (exp > 0) {
			q->ended = q->producers_ended >= exp;
		} else {
			q->ended = by_end && q->producers_live == 0;
		}
	}
	qu_sync_state(q);
}

void
ipcqd_queue_add_producer(ipcqd_queue *q, ipcqd_handle *h)
{
	if (!h->producer) {
		h->producer = true;
		q->producers_live++;
		qu_sync_state(q); /* no longer abandoned */
	}
}

void
ipcqd_queue_add_consumer(ipcqd_queue *q, ipcqd_handle *h)
{
	if (!h->consumer) {
		h->consumer = true;
		q->consumers++;
	}
}

void
ipcqd_queue_attach(ipcqd_queue *q, ipcqd_handle *h)
{
	h->q = q;
	ipcqd_list_push_back(&q->handles, &h->qnode);
	if (h->roles & IPCQ_ROLE_PRODUCER) {
		ipcqd_queue_add_producer(q, h);
	}
	if (h->roles & IPCQ_ROLE_CONSUMER) {
		ipcqd_queue_add_consumer(q, h);
	}
}

void
ipcqd_queue_detach(ipcqd_queue *q, ipcqd_handle *h, int cancel_status)
{
	qu_cancel_all(&q->recv_waiters, h, cancel_status);
	qu_cancel_all(&q->send_waiters, h, cancel_status);
	qu_cancel_all(&q->ready_waiters, h, cancel_status);
	qu_return_leases(q, h);
	if (h->producer && !h->ended) {
		q->producers_live--;
		q->producers_lost++;
	}
	if (h->consumer) {
		q->consumers--;
	}
	ipcqd_node_remove(&h->qnode);
	h->q = NULL;
	qu_sync_state(q);
	ipcqd_qu_pump(q);
}

void
ipcqd_queue_end_producer(ipcqd_queue *q, ipcqd_handle *h, bool *queue_ended)
{
	ipcqd_queue_add_producer(q, h);
	if (!h->ended) {
		h->ended = true;
		q->producers_live--;
		q->producers_ended++;
		qu_check_end(q, true);
		ipcqd_qu_pump(q);
	}
	*queue_ended = q->ended;
}

void
ipcqd_queue_shutdown(ipcqd_queue *q)
{
	q->ended  = true;
	q->closed = true;
	qu_sync_state(q);
	ipcqd_qu_pump(q);
}
