/*
 * unit.queue: the broker's queue semantics on an anonymous segment,
 * without sockets (the segment itself: unit.seg).
 * Links ipcqd_core; every call is made as the broker would make it (the
 * broker lock is irrelevant here: one thread).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcq.h"
#include "queue.h"
#include "session.h"
#include "th_run.h"

/* ----------------------------------------------------------- fixtures */

typedef struct fake_waiter {
	ipcqd_waiter w;
	int          calls;
	int          status;
	size_t       n;
	char         first[32];
} fake_waiter;

static void
fake_done(ipcqd_waiter *w, int status, ipcqi_seg_ref *recs, size_t n)
{
	fake_waiter *f = (fake_waiter *) w;

	f->calls++;
	f->status = status;
	f->n      = n;
	if (n > 0) {
		snprintf(f->first, sizeof(f->first), "%.*s", (int) recs[0].len,
		    (const char *) recs[0].data);
	}
}

static void
fake_init(fake_waiter *f, ipcqd_wait_kind kind, ipcqd_handle *h)
{
	memset(f, 0, sizeof(*f));
	ipcqd_node_init(&f->w.node);
	f->w.kind = kind;
	f->w.h    = h;
	f->w.done = fake_done;
	f->w.max  = 10;
}

static ipcqd_queue *
new_queue(uint64_t max_messages, int policy, uint32_t expected)
{
	ipcqd_queue_opts o = { 0 };

	o.max_messages       = max_messages;
	o.full_policy        = policy;
	o.expected_producers = expected;
	ck_assert_int_eq(ipcqd_queue_opts_normalize(&o), 0);
	return ipcqd_queue_new("t", &o);
}

static ipcqd_handle *
new_handle(ipcqd_queue *q, int roles, int ack_mode)
{
	static uint64_t next_id;
	ipcqd_handle   *h = calloc(1, sizeof(*h));

	h->id       = ++next_id; /* the holder id of its leases */
	h->roles    = roles;
	h->ack_mode = ack_mode;
	ipcqd_list_init(&h->leases);
	ipcqd_node_init(&h->qnode);
	ipcqd_node_init(&h->snode);
	ipcqd_queue_attach(q, h);
	return h;
}

static int
send_str(ipcqd_queue *q, ipcqd_handle *h, const char *s)
{
	ipcqd_payload p = { s, strlen(s) };
	size_t        acc = 0;

	return ipcqd_queue_send(q, h, &p, 1, &acc);
}

/* Take one message for h; returns its text in buf, or "" with *st. */
static size_t
take1(ipcqd_queue *q, ipcqd_handle *h, char *buf, int *st,
    ipcqi_seg_ref *out)
{
	ipcqi_seg_ref recs[1];
	size_t        n = ipcqd_queue_take(q, h, 1, recs, st);

	buf[0] = '\0';
	if (n == 1) {
		snprintf(buf, 32, "%.*s", (int) recs[0].len,
		    (const char *) recs[0].data);
		if (out != NULL) {
			*out = recs[0];
		}
		if (h->ack_mode != IPCQ_ACK_EXPLICIT) {
			ipcqd_queue_release(q, h, recs, 1);
		}
	}
	return n;
}

/* ------------------------------------------------------------- bounds */

START_TEST(full_queue_fails_under_fail_policy)
{
	ipcqd_queue  *q = new_queue(2, IPCQ_FULL_FAIL, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);

	ck_assert_int_eq(send_str(q, p, "1"), 0);
	ck_assert_int_eq(send_str(q, p, "2"), 0);
	ck_assert_int_eq(send_str(q, p, "3"), IPCQ_EFULL);
	ck_assert_uint_eq(q->seg.hdr->ready, 2);
	ipcqd_queue_free(q);
	free(p);
}
END_TEST

START_TEST(drop_oldest_discards_the_head_and_counts_it)
{
	ipcqd_queue  *q = new_queue(2, IPCQ_FULL_DROP_OLDEST, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	char          buf[32];
	int           st;

	send_str(q, p, "1");
	send_str(q, p, "2");
	ck_assert_int_eq(send_str(q, p, "3"), 0);
	ck_assert_uint_eq(q->seg.hdr->dropped, 1);
	take1(q, c, buf, &st, NULL);
	ck_assert_str_eq(buf, "2");
	ipcqd_queue_free(q);
	free(p);
	free(c);
}
END_TEST

START_TEST(leased_messages_count_against_the_bound)
{
	ipcqd_queue  *q = new_queue(1, IPCQ_FULL_BLOCK, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, IPCQ_ACK_EXPLICIT);
	char          buf[32];
	int           st;

	send_str(q, p, "1");
	take1(q, c, buf, &st, NULL);
	ck_assert_int_eq(send_str(q, p, "2"), IPCQD_WOULD_BLOCK);
	ipcqd_queue_free(q);
	free(p);
	free(c);
}
END_TEST

START_TEST(oversize_message_is_refused_whole_batch)
{
	ipcqd_queue_opts o = { 0 };
	o.max_message_bytes = 4;
	ipcqd_queue_opts_normalize(&o);
	ipcqd_queue  *q = ipcqd_queue_new("t", &o);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_payload b[2] = { { "ok", 2 }, { "too long", 8 } };
	size_t        acc = 0;

	ck_assert_int_eq(ipcqd_queue_send(q, p, b, 2, &acc), IPCQ_EMSGSIZE);
	ck_assert_uint_eq(acc, 0);
	ck_assert_uint_eq(q->seg.hdr->ready, 0);
	ipcqd_queue_free(q);
	free(p);
}
END_TEST

START_TEST(options_are_checked)
{
	ipcqd_queue_opts o = { 0 };
	o.full_policy      = 7;
	ck_assert_int_eq(ipcqd_queue_opts_normalize(&o), IPCQ_EINVAL);
	memset(&o, 0, sizeof(o));
	o.max_bytes = 100;
	ck_assert_int_eq(ipcqd_queue_opts_normalize(&o), 0);
	ck_assert_uint_eq(o.max_message_bytes, 100); /* clamped */
	ck_assert_uint_eq(o.max_messages, IPCQI_DEFAULT_MAX_MESSAGES);
}
END_TEST

/* -------------------------------------------------------------- leases */

START_TEST(ack_and_nack_by_lease_id)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, IPCQ_ACK_EXPLICIT);
	ipcqi_seg_ref r1, r2;
	char          buf[32];
	int           st;
	size_t        done;

	send_str(q, p, "a");
	send_str(q, p, "b");
	take1(q, c, buf, &st, &r1);
	take1(q, c, buf, &st, &r2);
	ck_assert_uint_eq(q->seg.hdr->leased, 2);
	uint64_t id1 = r1.lease, id2 = r2.lease, bogus = 999;
	ck_assert_int_eq(ipcqd_queue_ack(q, c, &id1, 1, false, &done), 0);
	ck_assert_uint_eq(done, 1);
	ck_assert_int_eq(ipcqd_queue_ack(q, c, &id1, 1, false, &done),
	    IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqd_queue_ack(q, c, &bogus, 1, false, &done),
	    IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqd_queue_ack(q, c, &id2, 1, true, &done), 0);
	ck_assert_uint_eq(q->seg.hdr->leased, 0);
	ck_assert_uint_eq(q->seg.hdr->redelivered, 1);
	take1(q, c, buf, &st, &r2);
	ck_assert_str_eq(buf, "b");
	ck_assert_uint_eq(r2.deliveries, 2);
	ipcqd_queue_free(q);
	free(p);
	free(c);
}
END_TEST

START_TEST(detach_redelivers_leases_in_order)
{
	ipcqd_queue  *q  = new_queue(0, 0, 0);
	ipcqd_handle *p  = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c1 = new_handle(q, IPCQ_ROLE_CONSUMER, IPCQ_ACK_EXPLICIT);
	ipcqd_handle *c2 = new_handle(q, IPCQ_ROLE_CONSUMER, IPCQ_ACK_EXPLICIT);
	ipcqi_seg_ref r;
	char          buf[32];
	int           st;

	send_str(q, p, "a");
	send_str(q, p, "b");
	send_str(q, p, "c");
	take1(q, c1, buf, &st, NULL);
	take1(q, c1, buf, &st, NULL);
	ipcqd_queue_detach(q, c1, IPCQ_ECONNLOST);
	ck_assert_uint_eq(q->seg.hdr->redelivered, 2);
	take1(q, c2, buf, &st, &r);
	ck_assert_str_eq(buf, "a");
	ck_assert_uint_eq(r.deliveries, 2);
	take1(q, c2, buf, &st, NULL);
	ck_assert_str_eq(buf, "b");
	take1(q, c2, buf, &st, &r);
	ck_assert_str_eq(buf, "c");
	ck_assert_uint_eq(r.deliveries, 1);
	ipcqd_queue_free(q);
	free(p);
	free(c1);
	free(c2);
}
END_TEST

/* -------------------------------------------------------- end of stream */

START_TEST(queue_ends_when_every_attached_producer_ended)
{
	ipcqd_queue  *q  = new_queue(0, 0, 0);
	ipcqd_handle *p1 = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *p2 = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c  = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	bool          ended;
	char          buf[32];
	int           st;

	send_str(q, p1, "x");
	ipcqd_queue_end_producer(q, p1, &ended);
	ck_assert(!ended);
	/* An ended producer cannot send, even while the queue is open. */
	ck_assert_int_eq(send_str(q, p1, "late"), IPCQ_ECLOSED);
	ck_assert_int_eq(send_str(q, p2, "y"), 0);
	ipcqd_queue_end_producer(q, p2, &ended);
	ck_assert(ended);
	ck_assert_int_eq(send_str(q, p2, "z"), IPCQ_ECLOSED);
	ck_assert_int_eq(send_str(q, p1, "z"), IPCQ_ECLOSED);
	take1(q, c, buf, &st, NULL);
	take1(q, c, buf, &st, NULL);
	ck_assert_str_eq(buf, "y");
	ck_assert_uint_eq(take1(q, c, buf, &st, NULL), 0);
	ck_assert_int_eq(st, IPCQ_EOF);
	ipcqd_queue_free(q);
	free(p1);
	free(p2);
	free(c);
}
END_TEST

START_TEST(lost_producer_with_expected_producers_is_abandoned_until_replaced)
{
	ipcqd_queue  *q  = new_queue(0, 0, 2);
	ipcqd_handle *p1 = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *p2 = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	bool          ended;

	ipcqd_queue_end_producer(q, p1, &ended);
	ipcqd_queue_detach(q, p2, IPCQ_ECONNLOST);
	ck_assert(!q->ended);
	ck_assert(ipcqd_queue_abandoned(q));
	ipcqd_handle *p3 = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ck_assert(!ipcqd_queue_abandoned(q));
	ipcqd_queue_end_producer(q, p3, &ended);
	ck_assert(ended);
	ipcqd_queue_free(q);
	free(p1);
	free(p2);
	free(p3);
}
END_TEST

START_TEST(expected_producers_hold_the_end_for_a_late_producer)
{
	ipcqd_queue  *q    = new_queue(0, 0, 2);
	ipcqd_handle *fast = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	bool          ended;

	send_str(q, fast, "f");
	ipcqd_queue_end_producer(q, fast, &ended);
	ck_assert(!ended);
	ipcqd_handle *slow = new_handle(q, 0, 0); /* auto role */
	ck_assert_int_eq(send_str(q, slow, "s"), 0);
	ipcqd_queue_end_producer(q, slow, &ended);
	ck_assert(ended);
	ck_assert_uint_eq(q->seg.hdr->sent, 2);
	ipcqd_queue_free(q);
	free(fast);
	free(slow);
}
END_TEST

START_TEST(lost_producer_makes_the_stream_abandoned)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	char          buf[32];
	int           st;

	send_str(q, p, "x");
	ipcqd_queue_detach(q, p, IPCQ_ECONNLOST);
	ck_assert(ipcqd_queue_abandoned(q));
	take1(q, c, buf, &st, NULL);
	ck_assert_str_eq(buf, "x"); /* drain first */
	ck_assert_uint_eq(take1(q, c, buf, &st, NULL), 0);
	ck_assert_int_eq(st, IPCQ_EABANDONED);
	/* Not final: a new producer clears it, and its end ends the queue. */
	ipcqd_handle *p2 = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ck_assert(!ipcqd_queue_abandoned(q));
	ck_assert_uint_eq(take1(q, c, buf, &st, NULL), 0);
	ck_assert_int_eq(st, IPCQD_WOULD_BLOCK);
	bool ended;
	ipcqd_queue_end_producer(q, p2, &ended);
	ck_assert(ended);
	ck_assert_uint_eq(take1(q, c, buf, &st, NULL), 0);
	ck_assert_int_eq(st, IPCQ_EOF);
	ipcqd_queue_free(q);
	free(p);
	free(p2);
	free(c);
}
END_TEST

START_TEST(eof_waits_for_leases_held_by_others)
{
	ipcqd_queue  *q  = new_queue(0, 0, 0);
	ipcqd_handle *p  = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c1 = new_handle(q, IPCQ_ROLE_CONSUMER, IPCQ_ACK_EXPLICIT);
	ipcqd_handle *c2 = new_handle(q, IPCQ_ROLE_CONSUMER, IPCQ_ACK_EXPLICIT);
	bool          ended;
	char          buf[32];
	int           st;

	send_str(q, p, "x");
	ipcqd_queue_end_producer(q, p, &ended);
	take1(q, c1, buf, &st, NULL);
	/* c1 holds the lease: c2 must wait, c1 itself sees EOF. */
	ck_assert_uint_eq(take1(q, c2, buf, &st, NULL), 0);
	ck_assert_int_eq(st, IPCQD_WOULD_BLOCK);
	ck_assert_uint_eq(take1(q, c1, buf, &st, NULL), 0);
	ck_assert_int_eq(st, IPCQ_EOF);
	/* c1 dies: c2 gets the message, then EOF. */
	ipcqd_queue_detach(q, c1, IPCQ_ECONNLOST);
	take1(q, c2, buf, &st, NULL);
	ck_assert_str_eq(buf, "x");
	uint64_t id = IPCQD_CONTAINER(c2->leases.next, ipcqd_lease, node)->lease;
	size_t done;
	ipcqd_queue_ack(q, c2, &id, 1, false, &done);
	ck_assert_uint_eq(take1(q, c2, buf, &st, NULL), 0);
	ck_assert_int_eq(st, IPCQ_EOF);
	ipcqd_queue_free(q);
	free(p);
	free(c1);
	free(c2);
}
END_TEST

/* ------------------------------------------------------------- waiters */

START_TEST(parked_receiver_is_served_by_a_send_exactly_once)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   f;

	fake_init(&f, IPCQD_WAIT_RECV, c);
	ipcqd_queue_park(q, &f.w);
	send_str(q, p, "hello");
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.first, "hello");
	/* The timer that fires afterwards must find it claimed. */
	ck_assert(!ipcqd_queue_cancel(&f.w, IPCQ_ETIMEDOUT));
	ck_assert_int_eq(f.calls, 1);
	ck_assert_uint_eq(q->seg.hdr->ready, 0); /* auto-acked, released */
	ipcqd_queue_free(q);
	free(p);
	free(c);
}
END_TEST

START_TEST(timer_claims_a_waiter_nobody_served)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   f;

	fake_init(&f, IPCQD_WAIT_RECV, c);
	ipcqd_queue_park(q, &f.w);
	ck_assert(ipcqd_queue_cancel(&f.w, IPCQ_ETIMEDOUT));
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, IPCQ_ETIMEDOUT);
	ck_assert(!ipcqd_queue_cancel(&f.w, IPCQ_ETIMEDOUT));
	ipcqd_queue_free(q);
	free(c);
}
END_TEST

START_TEST(parked_sender_proceeds_when_a_consumer_frees_space)
{
	ipcqd_queue  *q = new_queue(1, IPCQ_FULL_BLOCK, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	ipcqd_payload pl[2] = { { "2", 1 }, { "3", 1 } };
	fake_waiter   f;
	char          buf[32];
	int           st;

	send_str(q, p, "1");
	fake_init(&f, IPCQD_WAIT_SEND, p);
	f.w.payloads  = pl;
	f.w.npayloads = 2;
	ck_assert_int_eq(ipcqd_queue_send(q, p, pl, 2, &f.w.accepted),
	    IPCQD_WOULD_BLOCK);
	ipcqd_queue_park(q, &f.w);
	/* A later sender must queue behind the parked one. */
	ck_assert_int_eq(send_str(q, p, "4"), IPCQD_WOULD_BLOCK);
	take1(q, c, buf, &st, NULL);
	ck_assert_str_eq(buf, "1");
	ck_assert_int_eq(f.calls, 0); /* "2" went in; "3" still waits */
	ck_assert_uint_eq(f.w.accepted, 1);
	take1(q, c, buf, &st, NULL);
	ck_assert_str_eq(buf, "2");
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, 0);
	ck_assert_uint_eq(f.w.accepted, 2);
	ipcqd_queue_free(q);
	free(p);
	free(c);
}
END_TEST

START_TEST(close_completes_parked_senders_and_receivers)
{
	ipcqd_queue  *q = new_queue(1, IPCQ_FULL_BLOCK, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	ipcqd_handle *c2 = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	ipcqd_payload pl = { "2", 1 };
	fake_waiter   fs, fr;

	send_str(q, p, "1");
	fake_init(&fs, IPCQD_WAIT_SEND, p);
	fs.w.payloads  = &pl;
	fs.w.npayloads = 1;
	ipcqd_queue_park(q, &fs.w);
	ipcqd_queue_shutdown(q);
	ck_assert_int_eq(fs.calls, 1);
	ck_assert_int_eq(fs.status, IPCQ_ECLOSED);
	/* "1" is still delivered, then EOF to a parked receiver. */
	char buf[32];
	int  st;
	take1(q, c, buf, &st, NULL);
	ck_assert_str_eq(buf, "1");
	fake_init(&fr, IPCQD_WAIT_RECV, c2);
	ipcqd_queue_park(q, &fr.w);
	ipcqd_queue_purge(q); /* any state change re-examines waiters */
	ck_assert_int_eq(fr.calls, 1);
	ck_assert_int_eq(fr.status, IPCQ_EOF);
	ipcqd_queue_free(q);
	free(p);
	free(c);
	free(c2);
}
END_TEST

START_TEST(expired_waiter_is_never_served)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   late, live;

	/* A stalled broker: the first waiter's deadline passed before its
	 * timer could fire. The message must go to the live one. */
	fake_init(&late, IPCQD_WAIT_RECV, c);
	late.w.deadline = 1;
	fake_init(&live, IPCQD_WAIT_RECV, c);
	ipcqd_queue_park(q, &late.w);
	ipcqd_queue_park(q, &live.w);
	send_str(q, p, "m");
	ck_assert_int_eq(late.calls, 1);
	ck_assert_int_eq(late.status, IPCQ_ETIMEDOUT);
	ck_assert_int_eq(live.calls, 1);
	ck_assert_str_eq(live.first, "m");
	ipcqd_queue_free(q);
	free(p);
	free(c);
}
END_TEST

START_TEST(delete_cancels_waiters_and_cuts_handles)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   f;

	fake_init(&f, IPCQD_WAIT_RECV, c);
	ipcqd_queue_park(q, &f.w);
	ipcqd_queue_free(q);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, IPCQ_EDELETED);
	ck_assert_ptr_null(c->q);
	free(c);
}
END_TEST

/* -------------------------------------------------------- ready-waiters */

START_TEST(ready_waiter_is_woken_by_send_and_takes_nothing)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   f;
	char          buf[32];
	int           st;

	ck_assert(!ipcqd_queue_ready(q, c, false));
	fake_init(&f, IPCQD_WAIT_READY, c);
	ipcqd_queue_park(q, &f.w);
	ipcqd_queue_purge(q); /* a change that makes nothing ready */
	ck_assert_int_eq(f.calls, 0);
	send_str(q, p, "m");
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_uint_eq(q->seg.hdr->ready, 1); /* still there for recv */
	ck_assert(!ipcqd_queue_cancel(&f.w, IPCQ_ETIMEDOUT));
	ck_assert_int_eq(f.calls, 1);
	take1(q, c, buf, &st, NULL);
	ck_assert_str_eq(buf, "m");
	ipcqd_queue_free(q);
	free(p);
	free(c);
}
END_TEST

START_TEST(send_wakes_every_ready_waiter_after_receivers)
{
	ipcqd_queue  *q  = new_queue(0, 0, 0);
	ipcqd_handle *p  = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c1 = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	ipcqd_handle *c2 = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	ipcqd_handle *c3 = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   a, b, b2, r;

	fake_init(&a, IPCQD_WAIT_READY, c1);
	fake_init(&b, IPCQD_WAIT_READY, c2);
	fake_init(&b2, IPCQD_WAIT_READY, c2);
	ipcqd_queue_park(q, &a.w);
	ipcqd_queue_park(q, &b.w);
	ipcqd_queue_park(q, &b2.w);
	/* A parked recv takes the first message: nothing is ready then. */
	fake_init(&r, IPCQD_WAIT_RECV, c3);
	ipcqd_queue_park(q, &r.w);
	send_str(q, p, "1");
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(a.calls + b.calls + b2.calls, 0);
	send_str(q, p, "2");
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(b2.calls, 1);
	ck_assert_int_eq(a.status + b.status + b2.status, 0);
	ck_assert_uint_eq(q->seg.hdr->ready, 1);
	ipcqd_queue_free(q);
	free(p);
	free(c1);
	free(c2);
	free(c3);
}
END_TEST

START_TEST(end_of_stream_and_abandon_wake_ready_waiters)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0), *p2;
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   f;
	bool          ended;

	fake_init(&f, IPCQD_WAIT_READY, c);
	ipcqd_queue_park(q, &f.w);
	ipcqd_queue_end_producer(q, p, &ended);
	ck_assert(ended);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, 0);
	ck_assert(ipcqd_queue_ready(q, c, true)); /* recv would say EOF */
	ipcqd_queue_free(q);
	free(p);
	free(c);

	/* A producer that leaves without ending: EABANDONED is ready too. */
	q = new_queue(0, 0, 0);
	p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_init(&f, IPCQD_WAIT_READY, c);
	ipcqd_queue_park(q, &f.w);
	ipcqd_queue_detach(q, p, IPCQ_ECONNLOST);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, 0);
	/* Told so, a waiter sleeps past it until a new producer acts. */
	fake_init(&f, IPCQD_WAIT_READY, c);
	f.w.past_abandoned = true;
	ck_assert(!ipcqd_queue_ready(q, c, true));
	ipcqd_queue_park(q, &f.w);
	ipcqd_queue_purge(q);
	ck_assert_int_eq(f.calls, 0);
	p2 = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	send_str(q, p2, "again");
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.status, 0);
	ipcqd_queue_free(q);
	free(p2);
	free(p);
	free(c);
}
END_TEST

START_TEST(expired_ready_waiter_is_not_served)
{
	ipcqd_queue  *q = new_queue(0, 0, 0);
	ipcqd_handle *p = new_handle(q, IPCQ_ROLE_PRODUCER, 0);
	ipcqd_handle *c = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   late, live;

	fake_init(&late, IPCQD_WAIT_READY, c);
	late.w.deadline = 1;
	fake_init(&live, IPCQD_WAIT_READY, c);
	ipcqd_queue_park(q, &late.w);
	ipcqd_queue_park(q, &live.w);
	send_str(q, p, "m");
	ck_assert_int_eq(late.calls, 1);
	ck_assert_int_eq(late.status, IPCQ_ETIMEDOUT);
	ck_assert_int_eq(live.calls, 1);
	ck_assert_int_eq(live.status, 0);
	ipcqd_queue_free(q);
	free(p);
	free(c);
}
END_TEST

START_TEST(ready_waiters_are_cancelled_by_detach_and_delete)
{
	ipcqd_queue  *q  = new_queue(0, 0, 0);
	ipcqd_handle *c1 = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	ipcqd_handle *c2 = new_handle(q, IPCQ_ROLE_CONSUMER, 0);
	fake_waiter   a, b;

	fake_init(&a, IPCQD_WAIT_READY, c1);
	fake_init(&b, IPCQD_WAIT_READY, c2);
	ipcqd_queue_park(q, &a.w);
	ipcqd_queue_park(q, &b.w);
	ipcqd_queue_detach(q, c1, IPCQ_ECONNLOST);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.status, IPCQ_ECONNLOST);
	ck_assert_int_eq(b.calls, 0);
	ipcqd_queue_free(q);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(b.status, IPCQ_EDELETED);
	free(c1);
	free(c2);
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite *s = suite_create("unit.queue");
	TCase *t;

	t = tcase_create("bounds");
	tcase_add_test(t, full_queue_fails_under_fail_policy);
	tcase_add_test(t, drop_oldest_discards_the_head_and_counts_it);
	tcase_add_test(t, leased_messages_count_against_the_bound);
	tcase_add_test(t, oversize_message_is_refused_whole_batch);
	tcase_add_test(t, options_are_checked);
	suite_add_tcase(s, t);

	t = tcase_create("leases");
	tcase_add_test(t, ack_and_nack_by_lease_id);
	tcase_add_test(t, detach_redelivers_leases_in_order);
	suite_add_tcase(s, t);

	t = tcase_create("end_of_stream");
	tcase_add_test(t, queue_ends_when_every_attached_producer_ended);
	tcase_add_test(t, expected_producers_hold_the_end_for_a_late_producer);
	tcase_add_test(t, lost_producer_makes_the_stream_abandoned);
	tcase_add_test(t,
	    lost_producer_with_expected_producers_is_abandoned_until_replaced);
	tcase_add_test(t, eof_waits_for_leases_held_by_others);
	suite_add_tcase(s, t);

	t = tcase_create("waiters");
	tcase_add_test(t, parked_receiver_is_served_by_a_send_exactly_once);
	tcase_add_test(t, timer_claims_a_waiter_nobody_served);
	tcase_add_test(t, parked_sender_proceeds_when_a_consumer_frees_space);
	tcase_add_test(t, close_completes_parked_senders_and_receivers);
	tcase_add_test(t, delete_cancels_waiters_and_cuts_handles);
	tcase_add_test(t, expired_waiter_is_never_served);
	suite_add_tcase(s, t);

	t = tcase_create("ready_waiters");
	tcase_add_test(t, ready_waiter_is_woken_by_send_and_takes_nothing);
	tcase_add_test(t, send_wakes_every_ready_waiter_after_receivers);
	tcase_add_test(t, end_of_stream_and_abandon_wake_ready_waiters);
	tcase_add_test(t, expired_ready_waiter_is_not_served);
	tcase_add_test(t, ready_waiters_are_cancelled_by_detach_and_delete);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	return th_run(queue_suite());
}
