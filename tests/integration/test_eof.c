/*
 * integration.eof — end of stream reaches every consumer exactly once per
 * handle: present consumers, parked consumers, consumers that open after
 * the end; and EOF is sticky (later recvs on the handle return it again).
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NCONS 3

START_TEST(every_consumer_gets_eof_once_and_again)
{
	th_proc    *cons[NCONS], *prod;
	th_consumed cs[NCONS];

	for (int i = 0; i < NCONS; i++) {
		cons[i] = th_peer("consume", "eof.q", "--eof-repeat", "3",
		    (char *) NULL);
		th_expect_event(cons[i], "READY");
	}
	prod = th_peer("produce", "eof.q", "--id", "1", "--count", "500",
	    "--end", (char *) NULL);
	th_proc_expect_exit(prod, 0);
	th_collect_consumers(cons, NCONS, cs);
	for (int i = 0; i < NCONS; i++) {
		ck_assert_str_eq(cs[i].final, "EOF");
		ck_assert_int_eq(cs[i].n_eof, 1);
		ck_assert_msg(strstr(th_proc_output(cons[i]),
		                  "\nREPEAT EOF x3\n") != NULL,
		    "consumer %d: later recvs did not all return EOF:\n%s", i,
		    th_proc_output(cons[i]));
	}
	th_assert_exactly_once(cs, NCONS, 1, 500);
	for (int i = 0; i < NCONS; i++) {
		th_consumed_free(&cs[i]);
	}
}
END_TEST

START_TEST(parked_consumers_wake_with_eof)
{
	th_proc    *cons[NCONS], *prod;
	th_consumed cs[NCONS];

	/* The queue is empty: the consumers park in recv (long timeout). */
	for (int i = 0; i < NCONS; i++) {
		cons[i] = th_peer("consume", "eof.parked", "--timeout", "25000",
		    (char *) NULL);
		th_expect_event(cons[i], "READY");
	}
	long long t0 = th_now_ms();
	prod = th_peer("produce", "eof.parked", "--id", "1", "--count", "0",
	    "--end", (char *) NULL);
	th_proc_expect_exit(prod, 0);
	th_collect_consumers(cons, NCONS, cs);
	for (int i = 0; i < NCONS; i++) {
		ck_assert_str_eq(cs[i].final, "EOF");
		ck_assert_int_eq(cs[i].final_count, 0);
		th_consumed_free(&cs[i]);
	}
	/* Woken by the end, not by their own timeout. */
	ck_assert_int_lt(th_now_ms() - t0, 20000);
}
END_TEST

START_TEST(consumer_opening_after_end_drains_then_gets_eof)
{
	th_proc    *prod, *late, *later;
	th_consumed c;

	prod = th_peer("produce", "eof.late", "--id", "1", "--count", "10",
	    "--end", (char *) NULL);
	th_proc_expect_exit(prod, 0);

	late = th_peer("consume", "eof.late", (char *) NULL);
	th_proc_expect_exit(late, 0);
	th_parse_consumer(th_proc_output(late), &c);
	ck_assert_str_eq(c.final, "EOF");
	th_assert_exactly_once(&c, 1, 1, 10);
	th_consumed_free(&c);

	/* Drained and ended: a new consumer gets EOF at once. */
	long long t0 = th_now_ms();
	later = th_peer("consume", "eof.late", "--timeout", "20000",
	    (char *) NULL);
	th_proc_expect_exit(later, 0);
	ck_assert_str_eq(th_proc_output(later), "EOF count=0\n");
	ck_assert_int_lt(th_now_ms() - t0, 10000);
}
END_TEST

START_TEST(eof_is_sticky_per_handle_in_process)
{
	ipcq_client *c = th_client();
	ipcq_queue  *p = th_queue(c, "eof.sticky", NULL);
	ipcq_queue  *q1, *q2;
	ipcq_msg    *m = NULL, *ms[4];
	size_t       n = 99;

	th_send_str(p, "last");
	ck_assert_int_eq(ipcq_queue_end(p), 0);
	q1 = th_queue(c, "eof.sticky", NULL);
	q2 = th_queue(c, "eof.sticky", NULL);
	th_expect_recv(q1, "last", 5000);

	/* Each handle gets EOF, and again, and from recv_batch too. */
	long long t0 = th_now_ms();
	ck_assert_int_eq(ipcq_queue_recv(q1, &m, 5000), IPCQ_EOF);
	ck_assert_int_eq(ipcq_queue_recv(q1, &m, 5000), IPCQ_EOF);
	ck_assert_int_eq(ipcq_queue_recv(q1, &m, 0), IPCQ_EOF);
	ck_assert_int_eq(ipcq_queue_recv_batch(q1, ms, 4, &n, 5000), IPCQ_EOF);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ipcq_queue_recv(q2, &m, 5000), IPCQ_EOF);
	ck_assert_int_eq(ipcq_queue_recv(q2, &m, -1), IPCQ_EOF);
	ck_assert_ptr_null(m);
	ck_assert_int_lt(th_now_ms() - t0, 3000);

	/* A handle opened now, after the end, too. */
	ipcq_queue *q3 = th_queue(c, "eof.sticky", NULL);
	ck_assert_int_eq(ipcq_queue_recv(q3, &m, 5000), IPCQ_EOF);
	ipcq_queue_close(q3);
	ipcq_queue_close(q2);
	ipcq_queue_close(q1);
	ipcq_queue_close(p);
	ipcq_client_close(c);
}
END_TEST

START_TEST(eof_with_batched_consumers_and_two_producers)
{
	th_proc    *cons[NCONS], *prod[2];
	th_consumed cs[NCONS];

	for (int i = 0; i < NCONS; i++) {
		cons[i] = th_peer("consume", "eof.batch", "--batch", "7",
		    "--expected", "2", "--eof-repeat", "1", (char *) NULL);
	}
	prod[0] = th_peer("produce", "eof.batch", "--id", "1", "--count",
	    "300", "--batch", "13", "--expected", "2", "--end", (char *) NULL);
	prod[1] = th_peer("produce", "eof.batch", "--id", "2", "--count",
	    "300", "--expected", "2", "--end", (char *) NULL);
	th_proc_expect_exit(prod[0], 0);
	th_proc_expect_exit(prod[1], 0);
	th_collect_consumers(cons, NCONS, cs);
	for (int i = 0; i < NCONS; i++) {
		ck_assert_str_eq(cs[i].final, "EOF");
		ck_assert_int_eq(cs[i].n_eof, 1);
	}
	th_assert_exactly_once(cs, NCONS, 2, 300);
	for (int i = 0; i < NCONS; i++) {
		th_consumed_free(&cs[i]);
	}
}
END_TEST

static Suite *
eof_suite(void)
{
	Suite *s  = suite_create("eof");
	TCase *tc = th_tcase("eof");

	tcase_add_test(tc, every_consumer_gets_eof_once_and_again);
	tcase_add_test(tc, parked_consumers_wake_with_eof);
	tcase_add_test(tc, consumer_opening_after_end_drains_then_gets_eof);
	tcase_add_test(tc, eof_is_sticky_per_handle_in_process);
	tcase_add_test(tc, eof_with_batched_consumers_and_two_producers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(eof_suite());
}
