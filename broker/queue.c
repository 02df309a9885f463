/*
 * Queue semantics on top of a store. See queue.h for the contract and
 * docs/semantics.md for the rules as users see them.
 *
 * Everything runs under the broker lock. After any change that could let
 * a parked request proceed, ipcqd_qu_pump() re-examines the waiters, so no
 * state change can strand one.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

ipcqd_queue *
ipcqd_queue_new(const char *name, const ipcqd_queue_opts *o)
{
	ipcqd_queue *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		return NULL;
	}
	if ((q->store = ipcqd_store_mem_new()) == NULL) {
		free(q);
		return NULL;
	}
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->opts       = *o;
	q->next_lease = 1;
	ipcqd_node_init(&q->node);
	ipcqd_list_init(&q->handles);
	ipcqd_list_init(&q->recv_waiters);
	ipcqd_list_init(&q->send_waiters);
	ipcqd_list_init(&q->ready_waiters);
	return q;
}

/* Complete a waiter that is on one of q's lists. */
void
ipcqd_qu_finish(ipcqd_waiter *w, int status, ipcqd_rec **recs, size_t n)
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

/* Put h's leases back at the head of the queue, oldest first. */
static void
qu_return_leases(ipcqd_queue *q, ipcqd_handle *h)
{
	ipcqd_node *n;

	/* Walk newest to oldest pushing each to the front, so the oldest
	 * ends up first: redelivery keeps the original order. */
	while ((n = h->leases.prev) != &h->leases) {
		ipcqd_rec *r = IPCQD_CONTAINER(n, ipcqd_rec, node);
		ipcqd_node_remove(n);
		q->leased--;
		q->leased_bytes -= r->len;
		q->redelivered++;
		q->store->ops->put_back(q->store, r);
	}
	h->nleases = 0;
}

static void
qu_drop_leases(ipcqd_queue *q, ipcqd_handle *h)
{
	ipcqd_node *n;

	while ((n = ipcqd_list_pop_front(&h->leases)) != NULL) {
		ipcqd_rec *r = IPCQD_CONTAINER(n, ipcqd_rec, node);
		q->leased--;
		q->leased_bytes -= r->len;
		q->store->ops->release(q->store, r);
	}
	h->nleases = 0;
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
		qu_drop_leases(q, h);
		h->q = NULL;
	}
	q->store->ops->destroy(q->store);
	free(q);
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

	if (q->ended) {
		return;
	}
	if (exp > 0) {
		q->ended = q->producers_ended >= exp;
	} else {
		q->ended = by_end && q->producers_live == 0;
	}
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

void
ipcqd_queue_add_producer(ipcqd_queue *q, ipcqd_handle *h)
{
	if (!h->producer) {
		h->producer = true;
		q->producers_live++;
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
	ipcqd_qu_pump(q);
}

static bool
qu_fits(const ipcqd_queue *q, size_t len)
{
	uint64_t count = q->store->count + q->leased;
	uint64_t bytes = q->store->bytes + q->leased_bytes;

	return count + 1 <= q->opts.max_messages &&
	    bytes + len <= q->opts.max_bytes;
}

/* Make room for len bytes by dropping the oldest ready messages. */
static bool
qu_drop_for(ipcqd_queue *q, size_t len)
{
	while (!qu_fits(q, len)) {
		ipcqd_rec *r = q->store->ops->take(q->store);
		if (r == NULL) {
			return false; /* everything left is leased */
		}
		q->store->ops->release(q->store, r);
		q->dropped++;
	}
	return true;
}

/* Enqueue as much of the batch as the bounds allow. */
int
ipcqd_qu_admit(ipcqd_queue *q, const ipcqd_payload *p, size_t n, size_t *accepted)
{
	while (*accepted < n) {
		const ipcqd_payload *m = &p[*accepted];
		if (!qu_fits(q, m->len)) {
			if (q->opts.full_policy == IPCQ_FULL_FAIL) {
				return IPCQ_EFULL;
			}
			if (q->opts.full_policy == IPCQ_FULL_BLOCK) {
				return IPCQD_WOULD_BLOCK;
			}
			if (!qu_drop_for(q, m->len)) {
				return IPCQ_EFULL;
			}
		}
		int rv = q->store->ops->put(q->store, m->data, m->len);
		if (rv != 0) {
			return rv;
		}
		q->sent++;
		(*accepted)++;
	}
	return 0;
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
	/* Parked senders go first: a new batch must not overtake them. */
	if (!ipcqd_list_empty(&q->send_waiters)) {
		return IPCQD_WOULD_BLOCK;
	}
	rv = ipcqd_qu_admit(q, payloads, n, accepted);
	if (*accepted > 0) {
		ipcqd_qu_pump(q);
	}
	return rv;
}

/* Status for a consumer that found nothing ready. Both EOF and
 * EABANDONED wait until no other handle holds leases: if that holder
 * dies, its messages come back and someone must still be there. */
int
ipcqd_qu_empty_status(const ipcqd_queue *q, const ipcqd_handle *h)
{
	if (q->leased > h->nleases) {
		return IPCQD_WOULD_BLOCK;
	}
	if (q->ended) {
		return IPCQ_EOF;
	}
	if (ipcqd_queue_abandoned(q)) {
		return IPCQ_EABANDONED;
	}
	return IPCQD_WOULD_BLOCK;
}

bool
ipcqd_queue_ready(const ipcqd_queue *q, const ipcqd_handle *h,
    bool past_abandoned)
{
	int st;

	if (q->store->count > 0) {
		return true;
	}
	st = ipcqd_qu_empty_status(q, h);
	return st != IPCQD_WOULD_BLOCK &&
	    !(past_abandoned && st == IPCQ_EABANDONED);
}

size_t
ipcqd_queue_take(ipcqd_queue *q, ipcqd_handle *h, uint32_t max,
    ipcqd_rec **recs, int *status)
{
	size_t   n     = 0;
	uint64_t bytes = 0;

	ipcqd_queue_add_consumer(q, h);
	if (max == 0) {
		max = 1;
	}
	if (max > IPCQD_RECV_MAX) {
		max = IPCQD_RECV_MAX;
	}
	while (n < max && q->store->count > 0) {
		ipcqd_rec *r = q->store->ops->take(q->store);
		/* Cap a reply's size; the first message always goes. */
		if (n > 0 && bytes + r->len > IPCQD_RECV_MAX_BYTES) {
			q->store->ops->put_back(q->store, r);
			break;
		}
		bytes += r->len;
		r->deliveries++;
		q->received++;
		if (h->ack_mode == IPCQ_ACK_EXPLICIT) {
			r->holder   = h;
			r->lease_id = q->next_lease++;
			ipcqd_list_push_back(&h->leases, &r->node);
			h->nleases++;
			q->leased++;
			q->leased_bytes += r->len;
		} else {
			q->acked++;
		}
		recs[n++] = r;
	}
	if (n == 0) {
		*status = ipcqd_qu_empty_status(q, h);
	}
	return n;
}

void
ipcqd_queue_release(ipcqd_queue *q, ipcqd_rec **recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		q->store->ops->release(q->store, recs[i]);
	}
	/* Auto-acked messages freed space only now. */
	if (n > 0) {
		ipcqd_qu_pump(q);
	}
}

static ipcqd_rec *
qu_find_lease(ipcqd_handle *h, uint64_t id)
{
	ipcqd_node *n;

	/* Acks mostly come oldest first, so the match is usually at the
	 * head: linear search stays cheap in practice. */
	for (n = h->leases.next; n != &h->leases; n = n->next) {
		ipcqd_rec *r = IPCQD_CONTAINER(n, ipcqd_rec, node);
		if (r->lease_id == id) {
			return r;
		}
	}
	return NULL;
}

int
ipcqd_queue_ack(ipcqd_queue *q, ipcqd_handle *h, const uint64_t *ids,
    size_t n, bool requeue, size_t *done)
{
	int rv = 0;

	*done = 0;
	/* Requeue newest first so the batch keeps its order at the head. */
	for (size_t k = 0; k < n; k++) {
		size_t     i = requeue ? n - 1 - k : k;
		ipcqd_rec *r = qu_find_lease(h, ids[i]);
		if (r == NULL) {
			rv = IPCQ_ENOLEASE;
			continue;
		}
		ipcqd_node_remove(&r->node);
		h->nleases--;
		q->leased--;
		q->leased_bytes -= r->len;
		if (requeue) {
			q->redelivered++;
			q->store->ops->put_back(q->store, r);
		} else {
			q->acked++;
			q->store->ops->release(q->store, r);
		}
		(*done)++;
	}
	if (*done > 0) {
		ipcqd_qu_pump(q);
	}
	return rv;
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
ipcqd_queue_close(ipcqd_queue *q)
{
	q->ended  = true;
	q->closed = true;
	ipcqd_qu_pump(q);
}

uint64_t
ipcqd_queue_purge(ipcqd_queue *q)
{
	uint64_t n = q->store->ops->purge(q->store);

	q->purged += n;
	ipcqd_qu_pump(q);
	return n;
}

void
ipcqd_queue_get_stats(const ipcqd_queue *q, ipcqd_queue_stats *st)
{
	st->depth           = q->store->count;
	st->bytes           = q->store->bytes + q->leased_bytes;
	st->in_flight       = q->leased;
	st->producers       = q->producers_live;
	st->consumers       = q->consumers;
	st->producers_ended = q->producers_ended;
	st->producers_lost  = q->producers_lost;
	st->sent            = q->sent;
	st->received        = q->received;
	st->acked           = q->acked;
	st->redelivered     = q->redelivered;
	st->dropped         = q->dropped;
	st->purged          = q->purged;
	st->senders_waiting   = 0;
	st->receivers_waiting = 0;
	for (ipcqd_node *n = q->send_waiters.next; n != &q->send_waiters;
	     n             = n->next) {
		st->senders_waiting++;
	}
	for (ipcqd_node *n = q->recv_waiters.next; n != &q->recv_waiters;
	     n             = n->next) {
		st->receivers_waiting++;
	}
	st->ended           = q->ended;
	st->abandoned       = ipcqd_queue_abandoned(q);
}
