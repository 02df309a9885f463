/*
 * integration.blocking — a blocking recv wakes when another process
 * sends; a recv with a timeout returns IPCQ_ETIMEDOUT no earlier than the
 * timeout (and not absurdly later); an expired waiter takes nothing.
 *
 * Timing bounds are one-sided where correctness is causal (a message
 * sent after t cannot be received before t) and generous (+2 s) on the
 * other side: no tight timing asserts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define SLACK_MS 2000

struct release_arg {
	th_proc     *p;
	int          delay_ms;
	ipcq_client *c;
	const char  *queue;
};

static int
one_receiver_parked(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->receivers_waiting == 1;
}

/* From a second thread: once the test's recv is parked in the broker
 * (a condition, polled), hold the producer back delay_ms more — that
 * delay is what the test measures — then release it. */
static void *
release_later(void *arg)
{
	struct release_arg *ra = arg;
	struct timespec     ts = { ra->delay_ms / 1000,
		    (long) (ra->delay_ms % 1000) * 1000000 };

	ck_assert_int_eq(th_poll_stats(ra->c, ra->queue, one_receiver_parked,
	                     NULL, 10000), 0);
	nanosleep(&ts, NULL); /* the delay under test */
	th_proc_release(ra->p);
	return NULL;
}

START_TEST(recv_wakes_on_send_from_another_process)
{
	ipcq_client       *c = th_client();
	ipcq_queue        *q = th_queue(c, "blk.wake", NULL);
	th_proc           *prod;
	pthread_t          t;
	struct release_arg ra = { NULL, 300, c, "blk.wake" };

	/* The producer opens the queue, then waits before its one send. */
	prod = th_peer("produce", "blk.wake", "--id", "1", "--count", "1",
	    "--pause-at", "0", (char *) NULL);
	th_expect_event(prod, "PAUSE");
	ra.p = prod;
	long long t0 = th_now_ms();
	ck_assert_int_eq(pthread_create(&t, NULL, release_later, &ra), 0);
	th_expect_recv(q, "p1-0", 20000);
	long long waited = th_now_ms() - t0;
	pthread_join(t, NULL);
	/* Causal: the message was sent after the release. */
	ck_assert_int_ge(waited, 300);
	ck_assert_int_lt(waited, 300 + 10000);
	th_proc_expect_exit(prod, 0);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(parked_peer_recv_wakes_on_send)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "blk.peer", NULL);
	th_proc     *cons;

	cons = th_peer("consume", "blk.peer", "--count", "1", "--timeout",
	    "25000", (char *) NULL);
	th_expect_event(cons, "READY");
	/* Send only once the peer's recv is parked in the broker. */
	ck_assert_int_eq(th_poll_stats(c, "blk.peer", one_receiver_parked,
	                     NULL, 10000), 0);
	th_send_str(q, "p7-0");
	th_proc_expect_exit(cons, 0);
	ck_assert_str_eq(th_proc_output(cons), "M p7-0 1 0\nDONE count=1\n");
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(many_parked_receivers_each_get_one)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "blk.many", NULL);
	th_proc     *cons[4];
	th_consumed  cs[4];
	char         msg[16];

	for (int i = 0; i < 4; i++) {
		cons[i] = th_peer("consume", "blk.many", "--count", "1",
		    "--timeout", "25000", (char *) NULL);
		th_expect_event(cons[i], "READY");
	}
	for (int i = 0; i < 4; i++) {
		snprintf(msg, sizeof(msg), "p1-%d", i);
		th_send_str(q, msg);
	}
	th_collect_consumers(cons, 4, cs);
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(cs[i].final, "DONE");
	}
	th_assert_exactly_once(cs, 4, 1, 4);
	for (int i = 0; i < 4; i++) {
		th_consumed_free(&cs[i]);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static void
expect_timeout(ipcq_queue *q, int timeout_ms, int batch)
{
	ipcq_msg *m = NULL, *ms[8];
	size_t    n = 42;
	long long t0 = th_now_ms();
	int       rv = batch ? ipcq_queue_recv_batch(q, ms, 8, &n, timeout_ms)
	                     : ipcq_queue_recv(q, &m, timeout_ms);
	long long waited = th_now_ms() - t0;

	ck_assert_msg(rv == IPCQ_ETIMEDOUT, "recv(%d ms): %s", timeout_ms,
	    ipcq_err_name(rv));
	ck_assert_int_ge(waited, timeout_ms);
	ck_assert_int_lt(waited, timeout_ms + SLACK_MS);
	ck_assert_ptr_null(m);
	if (batch) {
		ck_assert_uint_eq(n, 0);
	}
}

START_TEST(recv_timeout_is_honoured)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "blk.timeout", NULL);

	expect_timeout(q, 0, 0);
	expect_timeout(q, 300, 0);
	expect_timeout(q, 1000, 0);
	expect_timeout(q, 400, 1);
	expect_timeout(q, 0, 1);
	/* An expired waiter must not swallow the next message. */
	th_send_str(q, "after-timeout");
	th_expect_recv(q, "after-timeout", 0);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(recv_timeout_in_a_peer_process)
{
	th_proc  *cons;
	long long t0 = th_now_ms();

	cons = th_peer("consume", "blk.peer_to", "--count", "1", "--timeout",
	    "500", (char *) NULL);
	th_proc_expect_exit(cons, 20 + IPCQ_ETIMEDOUT);
	ck_assert_int_ge(th_now_ms() - t0, 500);
	ck_assert_str_eq(th_proc_output(cons), "ERR ETIMEDOUT count=0\n");

	/* And the queue still delivers to the next consumer. */
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "blk.peer_to", NULL);
	th_send_str(q, "p1-0");
	cons = th_peer("consume", "blk.peer_to", "--count", "1", (char *) NULL);
	th_proc_expect_exit(cons, 0);
	ck_assert_str_eq(th_proc_output(cons), "M p1-0 1 0\nDONE count=1\n");
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(timed_out_waiters_race_with_sends)
{
	/* Receivers with short timeouts interleaved with sends: each
	 * message goes to exactly one of them or stays queued; none is
	 * lost to a waiter that had already expired. */
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "blk.race", NULL);
	th_proc     *cons[3];
	th_consumed  cs[3];
	long         total = 0;
	char         msg[16];

	for (int i = 0; i < 3; i++) {
		cons[i] = th_peer("consume", "blk.race", "--timeout", "30",
		    (char *) NULL);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(msg, sizeof(msg), "p1-%d", i);
		th_send_str(q, msg);
	}
	for (int i = 0; i < 3; i++) {
		th_proc_wait(cons[i], TH_WAIT_MS);
		th_parse_consumer(th_proc_output(cons[i]), &cs[i]);
		ck_assert_str_eq(cs[i].err, "ETIMEDOUT");
		total += (long) cs[i].n;
	}
	/* The rest is still queued: collect it here. */
	ipcq_stats st;
	th_stats(c, "blk.race", &st);
	ck_assert_uint_eq(st.depth + (uint64_t) total, 200);
	ck_assert_uint_eq(st.received, (uint64_t) total);
	for (int i = 0; i < 3; i++) {
		th_consumed_free(&cs[i]);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
blocking_suite(void)
{
	Suite *s  = suite_create("blocking");
	TCase *tc = th_tcase("blocking");

	tcase_add_test(tc, recv_wakes_on_send_from_another_process);
	tcase_add_test(tc, parked_peer_recv_wakes_on_send);
	tcase_add_test(tc, many_parked_receivers_each_get_one);
	tcase_add_test(tc, recv_timeout_is_honoured);
	tcase_add_test(tc, recv_timeout_in_a_peer_process);
	tcase_add_test(tc, timed_out_waiters_race_with_sends);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(blocking_suite());
}
