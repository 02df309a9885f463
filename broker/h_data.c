/*
 * Handlers for moving messages: send, recv, ack. Send and recv park when
 * they must wait; their waiter's done() encodes the reply under the
 * broker lock and hands the context to ipcqd_complete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "handlers.h"
#include "ipcq.h"
#include "log.h"
#include "segment.h"

static int
hd_reply_send(ipcqd_ctx *cx, int status, size_t accepted)
{
	Ipcq__V1__Reply     rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__SendReply srp = IPCQ__V1__SEND_REPLY__INIT;

	rep.status    = (Ipcq__V1__Status) status;
	srp.accepted  = (uint32_t) accepted;
	rep.body_case = IPCQ__V1__REPLY__BODY_SEND;
	rep.send      = &srp;
	if (status != 0) {
		rep.message = (char *) ipcq_strerror(status);
	}
	return ipcqd_reply(cx, &rep);
}

/* Encode a RecvReply holding recs (their payloads are copied into the
 * reply, so auto-acked records may be released right after). */
static int
hd_reply_deliveries(ipcqd_ctx *cx, ipcqd_queue *q, const ipcqi_seg_ref *recs,
    size_t n)
{
	Ipcq__V1__Reply      rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__RecvReply  rrp = IPCQ__V1__RECV_REPLY__INIT;
	Ipcq__V1__Delivery  *dels;
	Ipcq__V1__Delivery **ptrs;

	/* One allocation per reply for both arrays (this is on every
	 * recv, under the broker lock). */
	dels = malloc(n * (sizeof(*dels) + sizeof(*ptrs)));
	if (dels == NULL) {
		/* The records stay accounted (leased or acked): the caller's
		 * path releases or redelivers them as usual. */
		return ipcqd_reply_error(cx, IPCQ_ENOMEM, "out of memory");
	}
	ptrs = (Ipcq__V1__Delivery **) (void *) (dels + n);
	for (size_t i = 0; i < n; i++) {
		Ipcq__V1__Delivery d = IPCQ__V1__DELIVERY__INIT;
		d.id                 = recs[i].lease;
		d.payload.data       = (uint8_t *) recs[i].data;
		d.payload.len        = recs[i].len;
		d.delivery_count     = recs[i].deliveries;
		d.redelivered        = recs[i].deliveries > 1;
		dels[i]              = d;
		ptrs[i]              = &dels[i];
	}
	rrp.n_messages = n;
	rrp.messages   = ptrs;
	rep.body_case  = IPCQ__V1__REPLY__BODY_RECV;
	rep.recv       = &rrp;
	ipcqd_reply(cx, &rep);
	free(dels);
	/* The payloads were copied outside the segment lock (the records
	 * are leased, nobody else may touch them); if the file was cut
	 * meanwhile, they were zeros: say so rather than deliver them. */
	if (ipcqi_seg_corrupt(&q->seg)) {
		if (cx->reply != NULL) {
			nng_msg_free(cx->reply);
			cx->reply = NULL;
		}
		return ipcqd_reply_error(cx, IPCQ_ECORRUPT,
		    "queue %s is corrupt: quarantined", q->name);
	}
	return IPCQD_REPLIED;
}

static int
hd_reply_recv_status(ipcqd_ctx *cx, int status)
{
	return ipcqd_reply_error(cx, status, "%s", ipcq_strerror(status));
}

/* Runs after the broker lock is released, before the reply goes out
 * (server.c): the sync hd_sync_later decided on. A failure turns the
 * reply into EIO with the same count: the messages are queued (and may
 * be delivered) but not known to be on disk. */
static void
hd_sync_now(ipcqd_ctx *cx)
{
	int err = 0;

	if (cx->sync_fd < 0) {
		err = EMFILE; /* no descriptor to sync with */
	} else {
		if (fdatasync(cx->sync_fd) != 0) {
			err = errno;
		}
		close(cx->sync_fd);
		cx->sync_fd = -1;
	}
	if (err == 0) {
		return;
	}
	ipcqd_segs_sync_failed(cx->srv->b, cx->sync_queue, err,
	    "a send under --sync always answers EIO");
	if (cx->reply != NULL) {
		nng_msg_free(cx->reply);
		cx->reply = NULL;
	}
	hd_reply_send(cx, IPCQ_EIO, cx->sync_accepted);
}

/* Broker lock held: a send that added records to a durable queue under
 * --sync always must reach the disk before its reply; the sync waits
 * until the lock is released (a sync takes milliseconds, and every
 * queue waits for the broker lock). Only the file is duplicated here,
 * so that a queue deleted meanwhile leaves a valid descriptor. */
static void
hd_sync_later(ipcqd_ctx *cx, ipcqd_queue *q, size_t accepted)
{
	if (accepted == 0 || q == NULL || q->fd < 0 ||
	    !ipcqi_seg_sync_always(&q->seg)) {
		return;
	}
	cx->sync_fd       = dup(q->fd);
	cx->sync_accepted = accepted;
	snprintf(cx->sync_queue, sizeof(cx->sync_queue), "%s", q->name);
	cx->unlocked = hd_sync_now;
}

static void
hd_send_done(ipcqd_waiter *w, int status, ipcqi_seg_ref *recs,
    size_t n)
{
	ipcqd_ctx *cx = IPCQD_CONTAINER(w, ipcqd_ctx, w);

	(void) recs;
	(void) n;
	hd_reply_send(cx, status, w->accepted);
	hd_sync_later(cx, w->h->q, w->accepted);
	ipcqd_complete(cx);
}

static void
hd_recv_done(ipcqd_waiter *w, int status, ipcqi_seg_ref *recs,
    size_t n)
{
	ipcqd_ctx *cx = IPCQD_CONTAINER(w, ipcqd_ctx, w);

	if (n > 0) {
		hd_reply_deliveries(cx, w->h->q, recs, n);
	} else {
		hd_reply_recv_status(cx, status);
	}
	ipcqd_complete(cx);
}

/* How long a request that may not wait (timeout 0) waits for a segment
 * lock a client holds: a running holder lets go within microseconds, a
 * preempted one within a few time slices. After it: ETIMEDOUT, as for
 * any timeout-0 request that could not be done. */
#define HD_LOCK_GRACE_MS 20

/* What a request does when its last try found the segment lock held by
 * a client (status IPCQ_EBUSY): it waits for the lock, parked like a
 * request that waits for room or data (timeout 0: for HD_LOCK_GRACE_MS),
 * unless the queue is stuck (queue_lock.c), which it is told at once. */
static int
hd_busy_waits(ipcqd_handle *h, int status, int *timeout_ms)
{
	if (status != IPCQ_EBUSY || ipcqd_queue_stuck(h->q)) {
		return status;
	}
	if (*timeout_ms == 0) {
		*timeout_ms = HD_LOCK_GRACE_MS;
	}
	return IPCQD_WOULD_BLOCK;
}

/* Park cx's waiter on h's queue; an error status if it cannot wait. */
static int
hd_park(ipcqd_ctx *cx, ipcqd_handle *h, int timeout_ms)
{
	size_t bytes = 0;
	int    rv;

	if (timeout_ms == 0) {
		return IPCQ_ETIMEDOUT;
	}
	if (cx->w.kind == IPCQD_WAIT_SEND) {
		for (size_t i = 0; i < cx->w.npayloads; i++) {
			bytes += cx->w.payloads[i].len;
		}
	}
	if ((rv = ipcqd_park(cx, timeout_ms < 0 ? -1 : timeout_ms, bytes)) !=
	    0) {
		ipcqd_warn("too many parked requests (at most %d, %zu bytes)",
		    cx->srv->b->cfg.max_parked, cx->srv->b->cfg.max_parked_bytes);
		return rv;
	}
	cx->w.h        = h;
	cx->w.deadline = timeout_ms > 0 ? ipcqd_now_ms() + (uint64_t) timeout_ms
	                                : 0;
	ipcqd_queue_park(h->q, &cx->w);
	return IPCQD_PARKED;
}

/* Send: SendRequest -> SendReply{accepted} (may park) */
int
ipcqd_h_send(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	const Ipcq__V1__SendRequest *sr = req->send;
	ipcqd_handle                *h;
	size_t                       accepted = 0;
	int                          result   = IPCQD_REPLIED, rv;
	int                          timeout_ms = sr->timeout_ms;

	if (sr->n_payloads > IPCQI_MAX_BATCH) {
		return ipcqd_reply_error(cx, IPCQ_EINVAL,
		    "%zu messages in one send (at most %u)", sr->n_payloads,
		    IPCQI_MAX_BATCH);
	}
	if (sr->n_payloads > 0) {
		cx->payloads = malloc(sr->n_payloads * sizeof(*cx->payloads));
		if (cx->payloads == NULL) {
			return hd_reply_send(cx, IPCQ_ENOMEM, 0);
		}
	}
	for (size_t i = 0; i < sr->n_payloads; i++) {
		cx->payloads[i].data = sr->payloads[i].data;
		cx->payloads[i].len  = sr->payloads[i].len;
	}
	ipcqd_broker_lock(b);
	if ((h = ipcqd_h_lookup(b, cx, sr->handle, &result)) == NULL) {
		ipcqd_broker_unlock(b);
		return result;
	}
	rv = ipcqd_queue_send(h->q, h, cx->payloads, sr->n_payloads, &accepted);
	rv = hd_busy_waits(h, rv, &timeout_ms);
	if (rv == IPCQD_WOULD_BLOCK) {
		cx->w.kind      = IPCQD_WAIT_SEND;
		cx->w.done      = hd_send_done;
		cx->w.payloads  = cx->payloads;
		cx->w.npayloads = sr->n_payloads;
		cx->w.accepted  = accepted;
		rv              = hd_park(cx, h, timeout_ms);
	}
	if (rv != IPCQD_PARKED) {
		result = hd_reply_send(cx, rv, accepted);
		hd_sync_later(cx, h->q, accepted);
	} else {
		result = IPCQD_PARKED;
	}
	ipcqd_broker_unlock(b);
	return result;
}

/* Recv: RecvRequest -> RecvReply{messages} or EOF/EABANDONED/ETIMEDOUT
 * (may park) */
int
ipcqd_h_recv(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	const Ipcq__V1__RecvRequest *rr = req->recv;
	ipcqi_seg_ref                recs[IPCQD_RECV_MAX];
	ipcqd_handle                *h;
	size_t                       n;
	int                          result = IPCQD_REPLIED, st = 0;
	int                          timeout_ms = rr->timeout_ms;

	ipcqd_broker_lock(b);
	if ((h = ipcqd_h_lookup(b, cx, rr->handle, &result)) == NULL) {
		ipcqd_broker_unlock(b);
		return result;
	}
	n = ipcqd_queue_take(h->q, h, rr->max_messages, recs, &st);
	if (n > 0) {
		result = hd_reply_deliveries(cx, h->q, recs, n);
		if (h->ack_mode != IPCQ_ACK_EXPLICIT) {
			ipcqd_queue_release(h->q, h, recs, n);
		}
	} else {
		st = hd_busy_waits(h, st, &timeout_ms);
		if (st == IPCQD_WOULD_BLOCK) {
			cx->w.kind = IPCQD_WAIT_RECV;
			cx->w.done = hd_recv_done;
			cx->w.max  = rr->max_messages;
			st         = hd_park(cx, h, timeout_ms);
		}
		result = st == IPCQD_PARKED ? IPCQD_PARKED
		                            : hd_reply_recv_status(cx, st);
	}
	ipcqd_broker_unlock(b);
	return result;
}

static int
hd_reply_wait(ipcqd_ctx *cx, int status)
{
	Ipcq__V1__Reply     rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__WaitReply wrp = IPCQ__V1__WAIT_REPLY__INIT;

	if (status != 0) {
		return hd_reply_recv_status(cx, status);
	}
	wrp.readable  = true;
	rep.body_case = IPCQ__V1__REPLY__BODY_WAIT;
	rep.wait      = &wrp;
	return ipcqd_reply(cx, &rep);
}

static void
hd_wait_done(ipcqd_waiter *w, int status, ipcqi_seg_ref *recs,
    size_t n)
{
	ipcqd_ctx *cx = IPCQD_CONTAINER(w, ipcqd_ctx, w);

	(void) recs;
	(void) n;
	hd_reply_wait(cx, status);
	ipcqd_complete(cx);
}

/* Wait: WaitRequest -> WaitReply{readable} or ETIMEDOUT (may park). The
 * readiness half of recv for event loops: it takes and leases nothing,
 * so a client can wait on many handles without a thread per recv. */
int
ipcqd_h_wait(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	const Ipcq__V1__WaitRequest *wr = req->wait;
	ipcqd_handle                *h;
	int                          result = IPCQD_REPLIED, st = 0;
	int                          timeout_ms = wr->timeout_ms;

	ipcqd_broker_lock(b);
	if ((h = ipcqd_h_lookup(b, cx, wr->handle, &result)) == NULL) {
		ipcqd_broker_unlock(b);
		return result;
	}
	/* Waiting to receive is what a consumer does (role AUTO). */
	ipcqd_queue_add_consumer(h->q, h);
	if (!ipcqd_queue_ready(h->q, h, wr->past_abandoned)) {
		/* Not ready, or nobody can tell: the lock was held. */
		st = ipcqd_queue_lock_busy(h->q)
		    ? hd_busy_waits(h, IPCQ_EBUSY, &timeout_ms)
		    : IPCQD_WOULD_BLOCK;
	}
	if (st == IPCQD_WOULD_BLOCK) {
		cx->w.kind           = IPCQD_WAIT_READY;
		cx->w.done           = hd_wait_done;
		cx->w.past_abandoned = wr->past_abandoned;
		st         = hd_park(cx, h, timeout_ms);
	}
	result = st == IPCQD_PARKED ? IPCQD_PARKED : hd_reply_wait(cx, st);
	ipcqd_broker_unlock(b);
	return result;
}

/* Ack: AckRequest -> AckReply{acked} (ENOLEASE if any id was unknown) */
int
ipcqd_h_ack(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	const Ipcq__V1__AckRequest *ar  = req->ack;
	Ipcq__V1__Reply             rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__AckReply          arp = IPCQ__V1__ACK_REPLY__INIT;
	ipcqd_handle               *h;
	size_t                      done   = 0;
	int                         result = IPCQD_REPLIED, rv;

	if (ar->n_ids > IPCQI_MAX_BATCH) {
		return ipcqd_reply_error(cx, IPCQ_EINVAL,
		    "%zu ids in one ack (at most %u)", ar->n_ids, IPCQI_MAX_BATCH);
	}
	ipcqd_broker_lock(b);
	if ((h = ipcqd_h_lookup(b, cx, ar->handle, &result)) != NULL) {
		rv = ipcqd_queue_ack(h->q, h, ar->ids, ar->n_ids, ar->requeue,
		    &done);
		rep.status    = (Ipcq__V1__Status) rv;
		rep.message   = rv != 0 ? (char *) ipcq_strerror(rv)
		                        : (char *) protobuf_c_empty_string;
		arp.acked     = (uint32_t) done;
		rep.body_case = IPCQ__V1__REPLY__BODY_ACK;
		rep.ack       = &arp;
		result        = ipcqd_reply(cx, &rep);
	}
	ipcqd_broker_unlock(b);
	return result;
}
