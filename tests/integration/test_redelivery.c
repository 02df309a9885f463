/*
 * integration.redelivery — explicit ack: a consumer process that holds
 * unacked messages is SIGKILLed; the broker sees its connection drop and
 * redelivers them at once, marked redelivered with delivery count 2.
 * Exact counts: nothing lost, nothing duplicated, stats agree.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NMSG 10

/* Send p1-0 .. p1-<n-1> and end the stream. */
static void
fill_and_end(ipcq_client *c, const char *queue, int n)
{
	ipcq_queue *p = th_queue(c, queue, NULL);
	char        msg[16];

	for (int i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "p1-%d", i);
		th_send_str(p, msg);
	}
	ck_assert_int_eq(ipcq_queue_end(p), 0);
	ipcq_queue_close(p);
}

static int
no_leases(const ipcq_stats *st, void *arg)
{
	return st->in_flight == 0 && st->redelivered >= *(uint64_t *) arg;
}

/* Hold `hold` messages in a peer (batch size `batch`), kill it, then a
 * second consumer must get all NMSG: the held ones redelivered. */
static void
kill_holder_and_drain(const char *queue, const char *hold, const char *batch,
    int sig)
{
	ipcq_client *c = th_client();
	th_proc     *holder, *next;
	th_consumed  held, got;
	ipcq_stats   st;
	uint64_t     nheld = (uint64_t) atoi(hold);

	fill_and_end(c, queue, NMSG);
	holder = th_peer("consume", queue, "--ack", "explicit", "--hold", hold,
	    "--batch", batch, (char *) NULL);
	th_expect_event(holder, "HOLD");
	th_stats(c, queue, &st);
	ck_assert_uint_eq(st.in_flight, nheld);
	ck_assert_uint_eq(st.depth, NMSG - nheld);
	ck_assert_uint_eq(st.consumers, 1);

	th_proc_kill(holder, sig);
	th_proc_wait(holder, TH_WAIT_MS);
	/* What the holder had printed before it died. */
	th_parse_consumer(th_proc_output(holder), &held);
	ck_assert_uint_eq(held.n, nheld);
	/* The broker notices the dead connection by itself, promptly. */
	ck_assert_msg(th_poll_stats(c, queue, no_leases, &nheld, 10000) == 0,
	    "leases of the killed consumer not redelivered within 10 s");

	next = th_peer("consume", queue, "--ack", "explicit", "--batch", batch,
	    (char *) NULL);
	th_proc_expect_exit(next, 0);
	th_parse_consumer(th_proc_output(next), &got);
	ck_assert_str_eq(got.final, "EOF");
	th_assert_exactly_once_any_order(&got, 1, 1, NMSG);
	for (size_t i = 0; i < got.n; i++) {
		int was_held = 0;
		for (size_t j = 0; j < held.n; j++) {
			was_held |= held.recs[j].seq == got.recs[i].seq;
		}
		ck_assert_msg(got.recs[i].dc == (was_held ? 2u : 1u) &&
		        got.recs[i].redelivered == was_held,
		    "p1-%ld: delivery count %u, redelivered %d (held: %d)",
		    got.recs[i].seq, got.recs[i].dc, got.recs[i].redelivered,
		    was_held);
	}
	th_stats(c, queue, &st);
	ck_assert_uint_eq(st.redelivered, nheld);
	ck_assert_uint_eq(st.acked, NMSG);
	ck_assert_uint_eq(st.received, NMSG + nheld);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.depth, 0);
	th_consumed_free(&held);
	th_consumed_free(&got);
	ipcq_client_close(c);
}

START_TEST(sigkilled_consumer_leases_are_redelivered)
{
	kill_holder_and_drain("redl.kill", "4", "1", SIGKILL);
}
END_TEST

START_TEST(sigkilled_batch_consumer_leases_are_redelivered)
{
	kill_holder_and_drain("redl.batch", "5", "3", SIGKILL);
}
END_TEST

START_TEST(sigterm_consumer_leases_are_redelivered)
{
	/* The peer has no handler: SIGTERM kills it without a detach. */
	kill_holder_and_drain("redl.term", "2", "1", SIGTERM);
}
END_TEST

START_TEST(killed_while_others_consume_nothing_lost)
{
	ipcq_client *c = th_client();
	th_proc     *holder, *others[2];
	th_consumed  cs[2];

	holder = th_peer("consume", "redl.live", "--ack", "explicit", "--hold",
	    "50", "--batch", "10", (char *) NULL);
	th_expect_event(holder, "READY");
	/* 300 messages; the holder takes 50 and sits on them. */
	th_proc *prod = th_peer("produce", "redl.live", "--id", "1", "--count",
	    "300", "--batch", "20", "--end", (char *) NULL);
	th_expect_event(holder, "HOLD");
	for (int i = 0; i < 2; i++) {
		others[i] = th_peer("consume", "redl.live", "--ack", "explicit",
		    "--batch", "8", (char *) NULL);
	}
	th_proc_expect_exit(prod, 0);
	th_proc_kill(holder, SIGKILL);
	th_proc_wait(holder, TH_WAIT_MS);
	th_collect_consumers(others, 2, cs);
	th_assert_exactly_once_any_order(cs, 2, 1, 300);
	ipcq_stats st;
	th_stats(c, "redl.live", &st);
	ck_assert_uint_eq(st.redelivered, 50);
	ck_assert_uint_eq(st.acked, 300);
	ck_assert_uint_eq(st.received, 350);
	for (int i = 0; i < 2; i++) {
		th_consumed_free(&cs[i]);
	}
	ipcq_client_close(c);
}
END_TEST

START_TEST(detach_without_ack_redelivers)
{
	ipcq_client *c = th_client();
	th_proc     *holder;
	ipcq_stats   st;
	uint64_t     three = 3;

	fill_and_end(c, "redl.detach", 3);
	holder = th_peer("consume", "redl.detach", "--ack", "explicit",
	    "--hold", "3", (char *) NULL);
	th_expect_event(holder, "HOLD");
	th_proc_release(holder); /* exits normally, never acks */
	th_proc_expect_exit(holder, 0);
	ck_assert_int_eq(th_poll_stats(c, "redl.detach", no_leases, &three,
	                     10000),
	    0);
	th_stats(c, "redl.detach", &st);
	ck_assert_uint_eq(st.depth, 3);
	ck_assert_uint_eq(st.acked, 0);
	ipcq_client_close(c);
}
END_TEST

START_TEST(nack_and_double_ack)
{
	ipcq_client    *c = th_client();
	ipcq_queue_opts o;
	ipcq_queue     *q;
	ipcq_msg       *m, *m2;
	char           *s;

	ipcq_queue_opts_init(&o);
	o.ack_mode = IPCQ_ACK_EXPLICIT;
	q          = th_queue(c, "redl.nack", &o);
	th_send_str(q, "one");
	th_send_str(q, "two");
	s = th_recv_str(q, 1000, &m);
	ck_assert_str_eq(s, "one");
	free(s);
	ck_assert_uint_eq(ipcq_msg_delivery_count(m), 1);
	ck_assert_int_eq(ipcq_msg_redelivered(m), 0);
	ck_assert_int_eq(ipcq_queue_nack(q, m), 0);
	ipcq_msg_free(m);
	/* Back at the head, delivered a second time. */
	s = th_recv_str(q, 1000, &m2);
	ck_assert_str_eq(s, "one");
	free(s);
	ck_assert_uint_eq(ipcq_msg_delivery_count(m2), 2);
	ck_assert_int_ne(ipcq_msg_redelivered(m2), 0);
	ck_assert_int_eq(ipcq_queue_ack(q, m2), 0);
	ck_assert_int_eq(ipcq_queue_ack(q, m2), IPCQ_ENOLEASE);
	ipcq_msg_free(m2);
	th_expect_recv(q, "two", 1000);

	ipcq_stats st;
	th_stats(c, "redl.nack", &st);
	ck_assert_uint_eq(st.redelivered, 1);
	ck_assert_uint_eq(st.received, 3);
	ck_assert_uint_eq(st.in_flight, 1); /* "two": received, not acked */
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
redelivery_suite(void)
{
	Suite *s  = suite_create("redelivery");
	TCase *tc = th_tcase("redelivery");

	tcase_add_test(tc, sigkilled_consumer_leases_are_redelivered);
	tcase_add_test(tc, sigkilled_batch_consumer_leases_are_redelivered);
	tcase_add_test(tc, sigterm_consumer_leases_are_redelivered);
	tcase_add_test(tc, killed_while_others_consume_nothing_lost);
	tcase_add_test(tc, detach_without_ack_redelivers);
	tcase_add_test(tc, nack_and_double_ack);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(redelivery_suite());
}
