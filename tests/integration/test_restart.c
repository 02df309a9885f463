/*
 * integration.restart — what a queue keeps across a broker restart
 * (docs/shm.md, docs/broker.md "Shutdown"):
 *
 * - after a SIGKILL, the end-of-stream state: expected, ended and lost
 *   producers, so that a stream with expected_producers = 2 whose first
 *   producer ended before the crash ends when the second ends after it
 *   (both paths, and a durable queue);
 * - after a clean stop (SIGTERM), every queue that holds messages or
 *   leases, with them; empty queues go; --discard-on-exit drops all.
 *
 * Each path-dependent test runs twice: _i 0 on shared memory (the
 * default), _i 1 on the socket (IPCQ_TRANSPORT=socket, inherited by the
 * peers). Exact counts throughout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

#define PER_PROD 100
#define NCONS    2

static char        state_dir[600];
static const char *durable_args[] = { "--state-dir", state_dir, NULL };
static const char *discard_args[] = { "--discard-on-exit", NULL };
static const char *const *broker_args; /* of the running test's broker */

static void
setup_durable(void)
{
	snprintf(state_dir, sizeof(state_dir), "%s/state-%d",
	    getenv("TH_ROOT") != NULL ? getenv("TH_ROOT") : "/tmp",
	    (int) getpid());
	broker_args = durable_args;
	th_begin_args(durable_args);
}

static void
setup_discard(void)
{
	broker_args = discard_args;
	th_begin_args(discard_args);
}

static void
use_path(int socket)
{
	if (socket) {
		setenv("IPCQ_TRANSPORT", "socket", 1);
	}
}

static ipcq_queue *
open_q(ipcq_client *c, const char *name, uint32_t expected, int roles,
    int ack_mode, int durable)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.expected_producers = expected;
	o.roles              = roles;
	o.ack_mode           = ack_mode;
	o.durable            = durable;
	return th_queue(c, name, &o);
}

/* Send "p<prod>-<seq>" for seq in [from, from + n). */
static void
send_seq(ipcq_queue *q, int prod, int from, int n)
{
	char buf[32];

	for (int i = from; i < from + n; i++) {
		snprintf(buf, sizeof(buf), "p%d-%d", prod, i);
		th_send_str(q, buf);
	}
}

static void
restart_after(int sig)
{
	if (sig == SIGTERM) {
		th_broker_stop_ok(th_main_broker(), th_sock());
	} else {
		int st = th_broker_signal_wait(th_main_broker(), sig, 10000);
		ck_assert_int_eq(th_exit_code(st), 128 + sig);
	}
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(),
	                     broker_args, 10000),
	    0);
}

/* ------------------------------------------- end of stream after SIGKILL */

static void
check_counts(ipcq_client *c, uint32_t live, uint32_t ended, uint32_t lost,
    int queue_ended, int abandoned)
{
	ipcq_stats st;

	th_stats(c, "eos.q", &st);
	ck_assert_uint_eq(st.expected_producers, 2);
	ck_assert_uint_eq(st.producers, live);
	ck_assert_uint_eq(st.producers_ended, ended);
	ck_assert_uint_eq(st.producers_lost, lost);
	ck_assert_int_eq(st.ended != 0, queue_ended);
	ck_assert_int_eq(st.abandoned != 0, abandoned);
}

/* The scenario: expected_producers = 2; producer 1 ends; the
 * broker is SIGKILLed and restarted; producer 2 (attached before the
 * crash, so counted as lost until its library re-opens the handle)
 * sends more and ends: the queue ends, consumers drain to EOF. */
static void
eos_across_sigkill(int socket, int durable)
{
	ipcq_client *c;
	ipcq_queue  *p2;
	th_proc     *p1, *cons[NCONS];
	th_consumed  cs[NCONS];
	ipcq_stats   st;

	use_path(socket);
	c  = th_client();
	p2 = open_q(c, "eos.q", 2, IPCQ_ROLE_PRODUCER, IPCQ_ACK_AUTO, durable);
	ck_assert_int_eq(ipcq_queue_is_shm(p2), !socket);
	send_seq(p2, 2, 0, PER_PROD / 2);
	p1 = th_peer("produce", "eos.q", "--id", "1", "--count", "100",
	    "--expected", "2", "--end", durable ? "--durable" : NULL,
	    (char *) NULL);
	th_proc_expect_exit(p1, 0);
	th_proc_free(p1);
	check_counts(c, 1, 1, 0, 0, 0);

	restart_after(SIGKILL);
	/* Producer 2's connection died with the broker: lost until it
	 * comes back; producer 1's end is remembered. */
	check_counts(c, 0, 1, 1, 0, 1);
	send_seq(p2, 2, PER_PROD / 2, PER_PROD / 2); /* reconnects */
	ck_assert_int_eq(ipcq_queue_is_shm(p2), !socket);
	check_counts(c, 1, 1, 1, 0, 0);
	ck_assert_int_eq(ipcq_queue_end(p2), 0);
	check_counts(c, 0, 2, 1, 1, 0);

	for (int i = 0; i < NCONS; i++) {
		cons[i] = th_peer("consume", "eos.q", "--timeout", "20000",
		    (char *) NULL);
	}
	th_collect_consumers(cons, NCONS, cs);
	for (int i = 0; i < NCONS; i++) {
		ck_assert_str_eq(cs[i].final, "EOF");
		ck_assert_int_eq(cs[i].n_eof, 1);
	}
	th_assert_exactly_once(cs, NCONS, 2, PER_PROD);
	th_stats(c, "eos.q", &st);
	ck_assert_uint_eq(st.sent, 2 * PER_PROD);
	ck_assert_uint_eq(st.received, 2 * PER_PROD);
	ck_assert_uint_eq(st.depth, 0);
	for (int i = 0; i < NCONS; i++) {
		th_consumed_free(&cs[i]);
	}
	ipcq_queue_close(p2);
}

START_TEST(end_of_stream_counts_survive_broker_sigkill)
{
	broker_args = NULL;
	eos_across_sigkill(_i, 0);
}
END_TEST

START_TEST(durable_end_of_stream_counts_survive_broker_sigkill)
{
	eos_across_sigkill(_i, 1);
}
END_TEST

/* A shutdown (closed) queue stays closed across a SIGKILL. */
START_TEST(shutdown_survives_broker_sigkill)
{
	ipcq_client *c;
	ipcq_queue  *q;
	ipcq_msg    *m;
	ipcq_stats   st;

	broker_args = NULL;
	use_path(_i);
	c = th_client();
	q = open_q(c, "eos.q", 2, IPCQ_ROLE_AUTO, IPCQ_ACK_AUTO, 0);
	th_send_str(q, "last");
	ck_assert_int_eq(ipcq_queue_shutdown(q), 0);
	restart_after(SIGKILL);
	th_stats(c, "eos.q", &st);
	ck_assert_int_ne(st.ended, 0);
	ck_assert_uint_eq(st.depth, 1);
	ck_assert_int_eq(ipcq_queue_send(q, "x", 1, 1000), IPCQ_ECLOSED);
	th_expect_recv(q, "last", TH_WAIT_MS);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 1000), IPCQ_EOF);
	ipcq_queue_close(q);
}
END_TEST

/* -------------------------------------------------- clean stop (SIGTERM) */

/* 100 messages sent, 10 received with explicit ack, 5 of them acked and
 * 5 held when the broker gets SIGTERM; a second queue is empty. The
 * clean stop keeps the first (its segment stays in /dev/shm, the
 * doorbell goes) and removes the second; a restarted broker delivers
 * the 95 unacked messages exactly once, the held ones first. */
START_TEST(clean_stop_keeps_queues_holding_messages)
{
	ipcq_client *c;
	ipcq_queue  *q, *e;
	ipcq_msg    *m[10];
	ipcq_stats   st;
	th_proc     *prod;
	int          bell;

	broker_args = NULL;
	use_path(_i);
	c    = th_client();
	prod = th_peer("produce", "keep.q", "--id", "1", "--count", "100",
	    (char *) NULL);
	th_proc_expect_exit(prod, 0);
	th_proc_free(prod);
	e = th_queue(c, "empty.q", NULL);
	th_send_str(e, "gone");
	th_expect_recv(e, "gone", TH_WAIT_MS);
	q = open_q(c, "keep.q", 0, IPCQ_ROLE_CONSUMER, IPCQ_ACK_EXPLICIT, 0);
	ck_assert_int_eq(ipcq_queue_is_shm(q), !_i);
	for (int i = 0; i < 10; i++) {
		char want[16], *got = th_recv_str(q, TH_WAIT_MS, &m[i]);
		snprintf(want, sizeof(want), "p1-%d", i);
		ck_assert_str_eq(got, want);
		free(got);
	}
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(ipcq_queue_ack(q, m[i]), 0);
	}
	ck_assert_int_eq(th_seg_count(th_url(), &bell), 2);

	th_broker_stop_ok(th_main_broker(), th_sock());
	ck_assert_int_eq(th_seg_count(th_url(), &bell), 1);
	ck_assert_int_eq(bell, 0);
	/* The broker went, not the queue: a late send (on the removed
	 * segment, or already on the socket) says the connection is lost. */
	int rv = ipcq_queue_send(e, "late", 4, 0);
	ck_assert_msg(rv == IPCQ_ECONNLOST || rv == IPCQ_ENOBROKER,
	    "late send: %s", ipcq_err_name(rv));
	for (int i = 0; i < 10; i++) {
		ipcq_msg_free(m[i]);
	}
	ipcq_queue_close(q);
	ipcq_queue_close(e);
	ipcq_client_close(c);
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(), NULL,
	                     10000),
	    0);

	c = th_client();
	ck_assert_int_eq(ipcq_client_stats(c, "empty.q", &st), IPCQ_ENOTFOUND);
	th_stats(c, "keep.q", &st);
	ck_assert_uint_eq(st.depth, 95);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.sent, 100);
	ck_assert_uint_eq(st.acked, 5);
	ck_assert_uint_eq(st.redelivered, 5);
	q = open_q(c, "keep.q", 0, IPCQ_ROLE_CONSUMER, IPCQ_ACK_AUTO, 0);
	for (int i = 5; i < 100; i++) {
		char want[16];
		snprintf(want, sizeof(want), "p1-%d", i);
		th_expect_recv(q, want, TH_WAIT_MS);
	}
	/* The producer left without ending, before the stop: still lost. */
	ck_assert_int_eq(ipcq_queue_recv(q, &m[0], 0), IPCQ_EABANDONED);
	th_stats(c, "keep.q", &st);
	ck_assert_uint_eq(st.producers_lost, 1);
	ck_assert_uint_eq(st.acked, 100);
	ck_assert_uint_eq(st.depth, 0);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

/* --discard-on-exit: a clean stop removes the queue, messages and all. */
START_TEST(discard_on_exit_drops_every_queue)
{
	ipcq_client *c;
	ipcq_queue  *q;
	ipcq_stats   st;
	int          bell;

	use_path(_i);
	c = th_client();
	q = th_queue(c, "drop.q", NULL);
	send_seq(q, 1, 0, 10);
	ipcq_queue_close(q);
	ipcq_client_close(c);
	th_broker_stop_ok(th_main_broker(), th_sock());
	ck_assert_int_eq(th_seg_count(th_url(), &bell), 0);
	ck_assert_int_eq(bell, 0);
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(),
	                     discard_args, 10000),
	    0);
	c = th_client();
	ck_assert_int_eq(ipcq_client_stats(c, "drop.q", &st), IPCQ_ENOTFOUND);
	ipcq_client_close(c);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s  = suite_create("restart");
	TCase *tc = th_tcase("restart");
	TCase *td = th_tcase_with("restart_durable", setup_durable);
	TCase *tx = th_tcase_with("restart_discard", setup_discard);

	tcase_add_loop_test(tc, end_of_stream_counts_survive_broker_sigkill, 0,
	    2);
	tcase_add_loop_test(tc, shutdown_survives_broker_sigkill, 0, 2);
	tcase_add_loop_test(tc, clean_stop_keeps_queues_holding_messages, 0, 2);
	tcase_add_loop_test(td,
	    durable_end_of_stream_counts_survive_broker_sigkill, 0, 2);
	tcase_add_loop_test(tx, discard_on_exit_drops_every_queue, 0, 2);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, td);
	suite_add_tcase(s, tx);
	return s;
}

int
main(void)
{
	return th_run(suite());
}
