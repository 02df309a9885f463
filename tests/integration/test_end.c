/*
 * integration.end_close_abandon — the end of a stream: a send after the
 * end is IPCQ_ECLOSED; ipcq_queue_shutdown ends the queue at once for every
 * producer; a producer process killed without ending leaves the stream
 * abandoned, and a drained consumer gets IPCQ_EABANDONED instead of
 * hanging (not final: a later producer may still send).
 */
#include <signal.h>
#include <string.h>

#include "harness.h"

START_TEST(send_after_end_is_eclosed)
{
	ipcq_client *c = th_client();
	ipcq_queue  *p = th_queue(c, "end.send", NULL);
	ipcq_iov     iov[2] = { { "a", 1 }, { "b", 1 } };
	size_t       sent   = 99;
	th_proc     *other;

	th_send_str(p, "before");
	ck_assert_int_eq(ipcq_queue_end(p), 0);
	ck_assert_int_eq(ipcq_queue_send(p, "after", 5, 1000), IPCQ_ECLOSED);
	ck_assert_int_eq(ipcq_queue_send_batch(p, iov, 2, &sent, 1000),
	    IPCQ_ECLOSED);
	ck_assert_uint_eq(sent, 0);
	/* Ending twice is harmless. */
	ck_assert_int_eq(ipcq_queue_end(p), 0);
	/* Another producer process is refused too. */
	other = th_peer("produce", "end.send", "--id", "2", "--count", "1",
	    (char *) NULL);
	th_proc_expect_exit(other, 20 + IPCQ_ECLOSED);
	/* What was queued before the end is still delivered. */
	ipcq_queue *q = th_queue(c, "end.send", NULL);
	ipcq_msg   *m;
	th_expect_recv(q, "before", 1000);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 5000), IPCQ_EOF);
	ipcq_queue_close(q);
	ipcq_queue_close(p);
	ipcq_client_close(c);
}
END_TEST

START_TEST(shutdown_ends_at_once_for_every_producer)
{
	ipcq_client *c = th_client();
	th_proc     *prod, *cons;
	th_consumed  cs;
	ipcq_stats   st;

	/* A live producer that has sent 3 of 6 and has not ended. */
	prod = th_peer("produce", "end.close", "--id", "1", "--count", "6",
	    "--pause-at", "3", "--end", (char *) NULL);
	th_expect_event(prod, "PAUSE");
	cons = th_peer("consume", "end.close", (char *) NULL);

	ck_assert_int_eq(ipcq_client_shutdown_queue(c, "end.close"), 0);
	th_proc_expect_exit(cons, 0);
	th_parse_consumer(th_proc_output(cons), &cs);
	ck_assert_str_eq(cs.final, "EOF");
	th_assert_exactly_once(&cs, 1, 1, 3);
	th_consumed_free(&cs);

	th_proc_release(prod);
	th_proc_expect_exit(prod, 20 + IPCQ_ECLOSED);
	ck_assert_str_eq(th_proc_output(prod), "ERR ECLOSED sent=3\n");
	th_stats(c, "end.close", &st);
	ck_assert_int_ne(st.ended, 0);
	ck_assert_uint_eq(st.sent, 3);

	ck_assert_int_eq(ipcq_client_shutdown_queue(c, "end.nosuch"),
	    IPCQ_ENOTFOUND);
	ipcq_client_close(c);
}
END_TEST

START_TEST(queue_shutdown_by_handle_keeps_queued_messages)
{
	ipcq_client    *c = th_client();
	ipcq_queue_opts o;
	ipcq_queue     *p, *q;
	ipcq_msg       *m;

	ipcq_queue_opts_init(&o);
	o.expected_producers = 5; /* shutdown overrides the declared count */
	p = th_queue(c, "end.qclose", &o);
	th_send_str(p, "x");
	th_send_str(p, "y");
	ck_assert_int_eq(ipcq_queue_shutdown(p), 0);
	ck_assert_int_eq(ipcq_queue_send(p, "z", 1, 0), IPCQ_ECLOSED);
	q = th_queue(c, "end.qclose", NULL);
	th_expect_recv(q, "x", 1000);
	th_expect_recv(q, "y", 1000);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 5000), IPCQ_EOF);
	ipcq_queue_close(q);
	ipcq_queue_close(p);
	ipcq_client_close(c);
}
END_TEST

/* ipcq_queue_close only releases the caller's handle: a producer that
 * closes its handle in its clean-up must not end the stream for the
 * producers still working (it counts as lost, not ended). */
START_TEST(closing_a_producer_handle_does_not_end_the_stream)
{
	ipcq_client *c = th_client();
	ipcq_queue  *p1, *p2, *q;
	ipcq_msg    *m;
	ipcq_stats   st;

	p1 = th_queue(c, "end.pclose", NULL);
	p2 = th_queue(c, "end.pclose", NULL);
	th_send_str(p1, "a");
	ipcq_queue_close(p1);
	th_send_str(p2, "b"); /* not IPCQ_ECLOSED */
	th_stats(c, "end.pclose", &st);
	ck_assert_int_eq(st.ended, 0);
	q = th_queue(c, "end.pclose", NULL);
	th_expect_recv(q, "a", 1000);
	th_expect_recv(q, "b", 1000);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 200), IPCQ_ETIMEDOUT);
	/* The remaining producer's end is what ends the stream. */
	ck_assert_int_eq(ipcq_queue_end(p2), 0);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 5000), IPCQ_EOF);
	ipcq_queue_close(q);
	ipcq_queue_close(p2);
	ipcq_client_close(c);
}
END_TEST

START_TEST(killed_producer_leaves_stream_abandoned)
{
	ipcq_client *c = th_client();
	th_proc     *prod, *cons, *late;
	th_consumed  cs;
	ipcq_stats   st;

	prod = th_peer("produce", "end.aband", "--id", "1", "--count", "5",
	    "--pause-at", "5", "--end", (char *) NULL);
	th_expect_event(prod, "PAUSE");
	/* The consumer drains 5 and parks while the producer lives. */
	cons = th_peer("consume", "end.aband", "--notify-after", "5",
	    "--timeout", "25000", (char *) NULL);
	th_expect_event(cons, "PROGRESS");
	th_proc_kill(prod, SIGKILL);
	th_proc_wait(prod, TH_WAIT_MS);

	long long t0 = th_now_ms();
	th_proc_expect_exit(cons, 20 + IPCQ_EABANDONED);
	ck_assert_int_lt(th_now_ms() - t0, 15000);
	th_parse_consumer(th_proc_output(cons), &cs);
	ck_assert_str_eq(cs.err, "EABANDONED");
	th_assert_exactly_once(&cs, 1, 1, 5);
	th_consumed_free(&cs);
	th_stats(c, "end.aband", &st);
	ck_assert_int_ne(st.abandoned, 0);
	ck_assert_int_eq(st.ended, 0);
	ck_assert_uint_eq(st.producers_lost, 1);
	ck_assert_uint_eq(st.producers, 0);

	/* Not final: a replacement producer's messages are delivered, and
	 * its end finishes the stream (nothing declared, none live). */
	late = th_peer("produce", "end.aband", "--id", "2", "--count", "2",
	    "--end", (char *) NULL);
	th_proc_expect_exit(late, 0);
	cons = th_peer("consume", "end.aband", (char *) NULL);
	th_proc_expect_exit(cons, 0);
	ck_assert_str_eq(th_proc_output(cons),
	    "M p2-0 1 0\nM p2-1 1 0\nEOF count=2\n");
	th_stats(c, "end.aband", &st);
	ck_assert_int_ne(st.ended, 0);
	ck_assert_int_eq(st.abandoned, 0);
	ipcq_client_close(c);
}
END_TEST

START_TEST(producer_exiting_without_end_is_abandoned)
{
	th_proc *prod, *cons;

	/* Exits normally but never calls ipcq_queue_end. */
	cons = th_peer("consume", "end.noend", "--timeout", "25000",
	    (char *) NULL);
	th_expect_event(cons, "READY");
	prod = th_peer("produce", "end.noend", "--id", "1", "--count", "3",
	    (char *) NULL);
	th_proc_expect_exit(prod, 0);
	th_proc_expect_exit(cons, 20 + IPCQ_EABANDONED);
	ck_assert_str_eq(th_proc_output(cons),
	    "M p1-0 1 0\nM p1-1 1 0\nM p1-2 1 0\nERR EABANDONED count=3\n");
	/* Abandoned is not an end: shutdown turns it into one. */
	ipcq_client *c = th_client();
	ck_assert_int_eq(ipcq_client_shutdown_queue(c, "end.noend"), 0);
	cons = th_peer("consume", "end.noend", (char *) NULL);
	th_proc_expect_exit(cons, 0);
	ck_assert_str_eq(th_proc_output(cons), "EOF count=0\n");
	ipcq_client_close(c);
}
END_TEST

START_TEST(not_abandoned_while_a_producer_lives)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q;
	ipcq_msg    *m;
	th_proc     *alive, *dead;

	alive = th_peer("produce", "end.live", "--id", "1", "--count", "1",
	    "--pause-at", "1", "--end", (char *) NULL);
	th_expect_event(alive, "PAUSE");
	dead = th_peer("produce", "end.live", "--id", "2", "--count", "1",
	    "--pause-at", "1", (char *) NULL);
	th_expect_event(dead, "PAUSE");
	th_proc_kill(dead, SIGKILL);
	th_proc_wait(dead, TH_WAIT_MS);

	q = th_queue(c, "end.live", NULL);
	th_expect_recv(q, "p1-0", 1000);
	th_expect_recv(q, "p2-0", 1000);
	/* One producer lost, one alive: keep waiting. */
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 500), IPCQ_ETIMEDOUT);
	/* The live one ends: the last live producer's end ends the stream
	 * (nothing declared), the lost one notwithstanding. */
	th_proc_release(alive);
	th_proc_expect_exit(alive, 0);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 10000), IPCQ_EOF);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
end_suite(void)
{
	Suite *s  = suite_create("end_close_abandon");
	TCase *tc = th_tcase("end_close_abandon");

	tcase_add_test(tc, send_after_end_is_eclosed);
	tcase_add_test(tc, shutdown_ends_at_once_for_every_producer);
	tcase_add_test(tc, queue_shutdown_by_handle_keeps_queued_messages);
	tcase_add_test(tc, closing_a_producer_handle_does_not_end_the_stream);
	tcase_add_test(tc, killed_producer_leaves_stream_abandoned);
	tcase_add_test(tc, producer_exiting_without_end_is_abandoned);
	tcase_add_test(tc, not_abandoned_while_a_producer_lives);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(end_suite());
}
