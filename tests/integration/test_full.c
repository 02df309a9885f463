/*
 * integration.full_policy — bounded queues: fail -> IPCQ_EFULL; block ->
 * the sender waits until a consumer frees space, or times out with
 * IPCQ_ETIMEDOUT; drop-oldest -> the oldest ready messages go and
 * stats.dropped counts them.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static ipcq_queue *
bounded(ipcq_client *c, const char *name, uint64_t max_msgs,
    uint64_t max_bytes, int policy)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.max_messages = max_msgs;
	o.max_bytes    = max_bytes;
	o.full_policy  = policy;
	/* A payload may not exceed the byte bound. */
	if (max_bytes != 0) {
		o.max_message_bytes = (uint32_t) max_bytes;
	}
	return th_queue(c, name, &o);
}

static void
send_n(ipcq_queue *q, int from, int to)
{
	char msg[16];

	for (int i = from; i < to; i++) {
		snprintf(msg, sizeof(msg), "p9-%d", i);
		th_send_str(q, msg);
	}
}

START_TEST(fail_policy_refuses_with_efull)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = bounded(c, "full.fail", 5, 0, IPCQ_FULL_FAIL);
	ipcq_iov     iov[4] = { { "a", 1 }, { "b", 1 }, { "c", 1 }, { "d", 1 } };
	size_t       sent   = 99;
	ipcq_stats   st;

	send_n(q, 0, 5);
	ck_assert_int_eq(ipcq_queue_send(q, "x", 1, 1000), IPCQ_EFULL);
	ck_assert_int_eq(ipcq_queue_send(q, "x", 1, -1), IPCQ_EFULL);
	ck_assert_int_eq(ipcq_queue_send_batch(q, iov, 4, &sent, 1000),
	    IPCQ_EFULL);
	ck_assert_uint_eq(sent, 0);
	th_stats(c, "full.fail", &st);
	ck_assert_uint_eq(st.depth, 5);
	ck_assert_uint_eq(st.sent, 5);
	ck_assert_int_eq(st.full_policy, IPCQ_FULL_FAIL);

	/* Room for two: a batch of four gets a prefix of two in. */
	th_expect_recv(q, "p9-0", 1000);
	th_expect_recv(q, "p9-1", 1000);
	ck_assert_int_eq(ipcq_queue_send_batch(q, iov, 4, &sent, 1000),
	    IPCQ_EFULL);
	ck_assert_uint_eq(sent, 2);
	for (int i = 2; i < 5; i++) {
		char want[16];
		snprintf(want, sizeof(want), "p9-%d", i);
		th_expect_recv(q, want, 1000);
	}
	th_expect_recv(q, "a", 1000);
	th_expect_recv(q, "b", 1000);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(fail_policy_byte_bound)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = bounded(c, "full.bytes", 0, 100, IPCQ_FULL_FAIL);
	char         big[40];

	memset(big, 'b', sizeof(big));
	ck_assert_int_eq(ipcq_queue_send(q, big, 40, 0), 0);
	ck_assert_int_eq(ipcq_queue_send(q, big, 40, 0), 0);
	ck_assert_int_eq(ipcq_queue_send(q, big, 40, 0), IPCQ_EFULL);
	ck_assert_int_eq(ipcq_queue_send(q, big, 20, 0), 0);
	ck_assert_int_eq(ipcq_queue_send(q, big, 1, 0), IPCQ_EFULL);
	ck_assert_int_eq(ipcq_queue_send(q, big, 0, 0), 0);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(block_policy_times_out_without_enqueuing)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = bounded(c, "full.block", 3, 0, IPCQ_FULL_BLOCK);
	ipcq_stats   st;

	send_n(q, 0, 3);
	long long t0 = th_now_ms();
	ck_assert_int_eq(ipcq_queue_send(q, "late", 4, 400), IPCQ_ETIMEDOUT);
	long long waited = th_now_ms() - t0;
	ck_assert_int_ge(waited, 400);
	ck_assert_int_lt(waited, 400 + 2000);
	ck_assert_int_eq(ipcq_queue_send(q, "late", 4, 0), IPCQ_ETIMEDOUT);
	th_stats(c, "full.block", &st);
	ck_assert_uint_eq(st.depth, 3);
	ck_assert_uint_eq(st.sent, 3);
	/* Nothing of the timed-out sends arrives later. */
	for (int i = 0; i < 3; i++) {
		char want[16];
		snprintf(want, sizeof(want), "p9-%d", i);
		th_expect_recv(q, want, 1000);
	}
	ipcq_msg *m;
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 200), IPCQ_ETIMEDOUT);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

struct release_arg {
	th_proc     *p;
	ipcq_client *c;
};

static int
one_sender_parked(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->senders_waiting == 1;
}

/* From a second thread: once the test's send is parked in the broker
 * (a condition, polled), hold the consumer back 300 ms more — the delay
 * the test measures — then release it. */
static void *
release_later(void *arg)
{
	struct release_arg *ra = arg;
	struct timespec     ts = { 0, 300 * 1000000 };

	ck_assert_int_eq(th_poll_stats(ra->c, "full.wait", one_sender_parked,
	                     NULL, 10000), 0);
	nanosleep(&ts, NULL); /* the delay under test */
	th_proc_release(((struct release_arg *) arg)->p);
	return NULL;
}

START_TEST(block_policy_waits_for_a_consumer)
{
	ipcq_client       *c = th_client();
	ipcq_queue        *q = bounded(c, "full.wait", 3, 0, IPCQ_FULL_BLOCK);
	th_proc           *cons;
	pthread_t          t;
	struct release_arg ra;

	send_n(q, 0, 3);
	/* A consumer that takes two messages (auto-ack: delivery frees the
	 * space), but only once released: it waits for its stdin first. */
	cons = th_peer("consume", "full.wait", "--count", "2", "--gate",
	    (char *) NULL);
	th_expect_event(cons, "GATE");
	ra.p = cons;
	ra.c = c;
	long long t0 = th_now_ms();
	ck_assert_int_eq(pthread_create(&t, NULL, release_later, &ra), 0);
	ck_assert_int_eq(ipcq_queue_send(q, "p9-3", 4, 20000), 0);
	long long waited = th_now_ms() - t0;
	pthread_join(t, NULL);
	/* Causal: space appeared only after the release. */
	ck_assert_int_ge(waited, 300);
	th_proc_expect_exit(cons, 0);
	ck_assert_str_eq(th_proc_output(cons),
	    "M p9-0 1 0\nM p9-1 1 0\nDONE count=2\n");
	th_expect_recv(q, "p9-2", 1000);
	th_expect_recv(q, "p9-3", 1000);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(blocked_producer_process_resumes_when_consumed)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = bounded(c, "full.prod", 3, 0, IPCQ_FULL_BLOCK);
	th_proc     *prod;
	char         want[16];

	/* Ten messages into a queue of three: the producer blocks
	 * repeatedly and finishes only because we consume. */
	prod = th_peer("produce", "full.prod", "--id", "4", "--count", "10",
	    "--end", (char *) NULL);
	for (int i = 0; i < 10; i++) {
		snprintf(want, sizeof(want), "p4-%d", i);
		th_expect_recv(q, want, 20000);
	}
	th_proc_expect_exit(prod, 0);
	ipcq_msg *m;
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 5000), IPCQ_EOF);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(drop_oldest_discards_and_counts)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = bounded(c, "full.drop", 3, 0, IPCQ_FULL_DROP_OLDEST);
	ipcq_stats   st;

	send_n(q, 0, 5);
	th_stats(c, "full.drop", &st);
	ck_assert_uint_eq(st.depth, 3);
	ck_assert_uint_eq(st.dropped, 2);
	ck_assert_uint_eq(st.sent, 5);
	th_expect_recv(q, "p9-2", 1000);
	th_expect_recv(q, "p9-3", 1000);
	th_expect_recv(q, "p9-4", 1000);

	/* A batch larger than the bound keeps its newest messages. */
	ipcq_iov iov[5] = { { "a", 1 }, { "b", 1 }, { "c", 1 }, { "d", 1 },
		{ "e", 1 } };
	size_t   sent = 0;
	ck_assert_int_eq(ipcq_queue_send_batch(q, iov, 5, &sent, 1000), 0);
	ck_assert_uint_eq(sent, 5);
	th_stats(c, "full.drop", &st);
	ck_assert_uint_eq(st.dropped, 4);
	ck_assert_uint_eq(st.depth, 3);
	th_expect_recv(q, "c", 1000);
	th_expect_recv(q, "d", 1000);
	th_expect_recv(q, "e", 1000);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

/* With --max-parked-bytes 1 MiB: one blocked 600 kB send parks, a second
 * one would exceed the bound and is refused with EBUSY at once (the broker
 * does not grow with blocked senders), and the parked one still completes
 * when a consumer makes room. */
START_TEST(parked_send_bytes_are_bounded)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = bounded(c, "full.parkb", 1, 0, IPCQ_FULL_BLOCK);
	ipcq_queue  *p2;
	th_proc     *prod;
	size_t       big = 600000;
	char        *buf = calloc(1, big);
	int          rv  = 0;

	ck_assert_ptr_nonnull(buf);
	th_send_str(q, "first");
	prod = th_peer("produce", "full.parkb", "--id", "5", "--count", "1",
	    "--size", "600000", "--timeout", "30000", (char *) NULL);
	/* Go on only once the broker holds the peer's send parked. */
	ck_assert_int_eq(th_poll_stats(c, "full.parkb", one_sender_parked,
	                     NULL, 10000), 0);
	p2 = th_queue(c, "full.parkb", NULL);
	rv = ipcq_queue_send(p2, buf, big, 5000);
	ck_assert_msg(rv == IPCQ_EBUSY, "second big send: %s",
	    ipcq_err_name(rv));
	th_expect_recv(q, "first", 5000);
	ipcq_msg *m;
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 20000), 0);
	ck_assert_uint_eq(ipcq_msg_size(m), big);
	ipcq_msg_free(m);
	th_proc_expect_exit(prod, 0);
	free(buf);
	ipcq_queue_close(p2);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static void
begin_small_park(void)
{
	static const char *const args[] = { "--max-parked-bytes", "1048576",
		NULL };

	/* Parked bytes are the socket path's: a shared-memory sender waits
	 * in its own process and holds no broker memory. */
	setenv("IPCQ_TRANSPORT", "socket", 1);
	th_begin_args(args);
}

static Suite *
full_suite(void)
{
	Suite *s  = suite_create("full_policy");
	TCase *tc = th_tcase("full_policy");

	tcase_add_test(tc, fail_policy_refuses_with_efull);
	tcase_add_test(tc, fail_policy_byte_bound);
	tcase_add_test(tc, block_policy_times_out_without_enqueuing);
	tcase_add_test(tc, block_policy_waits_for_a_consumer);
	tcase_add_test(tc, blocked_producer_process_resumes_when_consumed);
	tcase_add_test(tc, drop_oldest_discards_and_counts);
	suite_add_tcase(s, tc);

	TCase *tp = th_tcase_with("parked_bytes", begin_small_park);
	tcase_add_test(tp, parked_send_bytes_are_bounded);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	return th_run(full_suite());
}
