/*
 * integration.expected_producers — the race a declared producer count
 * closes: a fast producer ends before a slow one has attached; the queue
 * must not end early, every message of both arrives, then EOF.
 */
#include <string.h>

#include "harness.h"

#define NCONS 2

static void
expect_not_ended(ipcq_client *c, const char *queue, uint32_t ended_prod)
{
	ipcq_stats st;

	th_stats(c, queue, &st);
	ck_assert_msg(!st.ended, "%s ended after %u of 2 producers", queue,
	    st.producers_ended);
	ck_assert_int_eq(st.abandoned, 0);
	ck_assert_uint_eq(st.producers_ended, ended_prod);
	ck_assert_uint_eq(st.expected_producers, 2);
}

START_TEST(fast_producer_ending_first_does_not_end_the_queue)
{
	th_proc     *cons[NCONS], *fast, *slow;
	th_consumed  cs[NCONS];
	ipcq_client *c = th_client();
	ipcq_stats   st;

	for (int i = 0; i < NCONS; i++) {
		cons[i] = th_peer("consume", "exp.q", "--expected", "2",
		    "--timeout", "25000", (char *) NULL);
		th_expect_event(cons[i], "READY");
	}
	fast = th_peer("produce", "exp.q", "--id", "1", "--count", "300",
	    "--expected", "2", "--end", (char *) NULL);
	th_proc_expect_exit(fast, 0);
	expect_not_ended(c, "exp.q", 1);
	/* The consumers are still waiting, not at EOF. */
	for (int i = 0; i < NCONS; i++) {
		ck_assert_ptr_null(strstr(th_proc_output(cons[i]), "EOF"));
		ck_assert_ptr_null(strstr(th_proc_output(cons[i]), "ERR"));
	}

	slow = th_peer("produce", "exp.q", "--id", "2", "--count", "300",
	    "--expected", "2", "--end", (char *) NULL);
	th_proc_expect_exit(slow, 0);
	th_collect_consumers(cons, NCONS, cs);
	for (int i = 0; i < NCONS; i++) {
		ck_assert_str_eq(cs[i].final, "EOF");
	}
	th_assert_exactly_once(cs, NCONS, 2, 300);
	th_stats(c, "exp.q", &st);
	ck_assert_int_ne(st.ended, 0);
	ck_assert_uint_eq(st.producers_ended, 2);
	ck_assert_uint_eq(st.sent, 600);
	ck_assert_uint_eq(st.received, 600);
	for (int i = 0; i < NCONS; i++) {
		th_consumed_free(&cs[i]);
	}
	ipcq_client_close(c);
}
END_TEST

START_TEST(fast_producer_creates_queue_nobody_consuming_yet)
{
	th_proc     *fast, *slow, *third, *cons;
	th_consumed  cs;
	ipcq_client *c = th_client();

	/* The fast producer creates the queue, sends, ends and is gone
	 * before anybody else exists. */
	fast = th_peer("produce", "exp.solo", "--id", "1", "--count", "100",
	    "--batch", "10", "--expected", "2", "--end", (char *) NULL);
	th_proc_expect_exit(fast, 0);
	expect_not_ended(c, "exp.solo", 1);

	/* A consumer now drains the first 100 and keeps waiting. */
	cons = th_peer("consume", "exp.solo", "--notify-after", "100",
	    "--timeout", "25000", (char *) NULL);
	th_expect_event(cons, "PROGRESS");
	expect_not_ended(c, "exp.solo", 1);

	slow = th_peer("produce", "exp.solo", "--id", "2", "--count", "100",
	    "--end", (char *) NULL);
	th_proc_expect_exit(slow, 0);
	th_proc_expect_exit(cons, 0);
	th_parse_consumer(th_proc_output(cons), &cs);
	ck_assert_str_eq(cs.final, "EOF");
	th_assert_exactly_once(&cs, 1, 2, 100);
	th_consumed_free(&cs);

	/* Two ended: a third producer is refused. */
	third = th_peer("produce", "exp.solo", "--id", "3", "--count", "1",
	    (char *) NULL);
	th_proc_expect_exit(third, 20 + IPCQ_ECLOSED);
	ck_assert_str_eq(th_proc_output(third), "ERR ECLOSED sent=0\n");
	ipcq_client_close(c);
}
END_TEST

START_TEST(declared_count_holds_with_producer_role_at_open)
{
	/* Producers declared at open (ROLE_PRODUCER) that send nothing but
	 * end still count towards expected_producers. */
	ipcq_client    *c = th_client();
	ipcq_queue_opts o;
	ipcq_queue     *p1, *p2, *q;
	ipcq_msg       *m;

	ipcq_queue_opts_init(&o);
	o.roles              = IPCQ_ROLE_PRODUCER;
	o.expected_producers = 2;
	p1 = th_queue(c, "exp.roles", &o);
	ck_assert_int_eq(ipcq_queue_end(p1), 0);
	expect_not_ended(c, "exp.roles", 1);
	q = th_queue(c, "exp.roles", NULL);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 300), IPCQ_ETIMEDOUT);
	p2 = th_queue(c, "exp.roles", &o);
	th_send_str(p2, "only");
	ck_assert_int_eq(ipcq_queue_end(p2), 0);
	th_expect_recv(q, "only", 5000);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 5000), IPCQ_EOF);
	ipcq_queue_close(q);
	ipcq_queue_close(p2);
	ipcq_queue_close(p1);
	ipcq_client_close(c);
}
END_TEST

static Suite *
expected_suite(void)
{
	Suite *s  = suite_create("expected_producers");
	TCase *tc = th_tcase("expected_producers");

	tcase_add_test(tc, fast_producer_ending_first_does_not_end_the_queue);
	tcase_add_test(tc, fast_producer_creates_queue_nobody_consuming_yet);
	tcase_add_test(tc, declared_count_holds_with_producer_role_at_open);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(expected_suite());
}
