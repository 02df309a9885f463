/*
 * integration.zerocopy — loans and views (ipcq_msg_loan,
 * ipcq_queue_send_loan, ipcq_queue_recv_view): a loan is written in place
 * and delivered whole, a freed loan never; a view is finished at
 * ipcq_msg_free (acked, or returned when explicit and unacked); a
 * producer killed holding a half-written loan delivers nothing torn and
 * leaves the queue working; a consumer killed holding views gets them
 * redelivered. The same calls work on the socket path.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static ipcq_queue *
zc_queue(ipcq_client *c, const char *name, int ack_mode, int transport)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.ack_mode  = ack_mode;
	o.transport = transport;
	return th_queue(c, name, &o);
}

static void
loan_send(ipcq_queue *q, const char *s)
{
	ipcq_msg *m = NULL;

	ck_assert_int_eq(ipcq_msg_loan(&m, q, strlen(s), 1000), 0);
	memcpy(ipcq_msg_buffer(m), s, strlen(s));
	ck_assert_int_eq(ipcq_queue_send_loan(q, m, 1000), 0);
}

static ipcq_msg *
view_expect(ipcq_queue *q, const char *want)
{
	ipcq_msg *m = NULL;
	int       rv = ipcq_queue_recv_view(q, &m, TH_WAIT_MS);

	ck_assert_msg(rv == 0, "recv_view: %s", ipcq_err_name(rv));
	ck_assert_uint_eq(ipcq_msg_size(m), strlen(want));
	ck_assert_int_eq(memcmp(ipcq_msg_data(m), want, strlen(want)), 0);
	ck_assert_ptr_null(ipcq_msg_buffer(m)); /* a view is read-only */
	return m;
}

START_TEST(loan_is_delivered_whole_and_viewed_in_place)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = zc_queue(c, "zc.rt", IPCQ_ACK_AUTO,
	     IPCQ_TRANSPORT_AUTO);
	ipcq_msg    *m;
	ipcq_stats   st;

	ck_assert_int_eq(ipcq_queue_is_shm(q), 1);
	loan_send(q, "hello, in place");
	m = view_expect(q, "hello, in place");
	/* Held until freed: in flight, not yet acked. */
	th_stats(c, "zc.rt", &st);
	ck_assert_uint_eq(st.in_flight, 1);
	ipcq_msg_free(m);
	th_stats(c, "zc.rt", &st);
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.in_flight, 0);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(zero_copy_calls_work_on_the_socket_path_too)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = zc_queue(c, "zc.sock", IPCQ_ACK_AUTO,
	     IPCQ_TRANSPORT_SOCKET);
	ipcq_msg    *m = NULL;

	ck_assert_int_eq(ipcq_queue_is_shm(q), 0);
	ck_assert_int_eq(ipcq_msg_loan(&m, q, 5, 1000), 0);
	memcpy(ipcq_msg_buffer(m), "plain", 5);
	ck_assert_int_eq(ipcq_queue_send_loan(q, m, 1000), 0);
	ck_assert_int_eq(ipcq_queue_recv_view(q, &m, TH_WAIT_MS), 0);
	ck_assert_int_eq(memcmp(ipcq_msg_data(m), "plain", 5), 0);
	ipcq_msg_free(m);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(freed_loan_is_never_delivered)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = zc_queue(c, "zc.free", IPCQ_ACK_AUTO,
	     IPCQ_TRANSPORT_AUTO);
	ipcq_msg    *m = NULL;
	ipcq_stats   st;

	ck_assert_int_eq(ipcq_msg_loan(&m, q, 64, 1000), 0);
	memset(ipcq_msg_buffer(m), 'x', 64);
	th_stats(c, "zc.free", &st);
	ck_assert_uint_eq(st.writing, 1);
	ipcq_msg_free(m);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_ETIMEDOUT);
	th_stats(c, "zc.free", &st);
	ck_assert_uint_eq(st.sent, 0);
	ck_assert_uint_eq(st.writing, 0);
	/* And the queue goes on. */
	loan_send(q, "after");
	ipcq_msg_free(view_expect(q, "after"));
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(explicit_view_is_acked_or_returned_at_free)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = zc_queue(c, "zc.exp", IPCQ_ACK_EXPLICIT,
	     IPCQ_TRANSPORT_AUTO);
	ipcq_msg    *a, *b, *m = NULL;
	ipcq_stats   st;

	th_send_str(q, "a");
	th_send_str(q, "b");
	a = view_expect(q, "a");
	b = view_expect(q, "b");
	ck_assert_int_eq(ipcq_queue_ack(q, a), 0);
	ipcq_msg_free(a); /* acked */
	ipcq_msg_free(b); /* not acked: returned */
	th_stats(c, "zc.exp", &st);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.redelivered, 1);
	ck_assert_uint_eq(st.depth, 1);
	char *got = th_recv_str(q, TH_WAIT_MS, &m);
	ck_assert_str_eq(got, "b");
	ck_assert_uint_eq(ipcq_msg_delivery_count(m), 2);
	ck_assert_int_eq(ipcq_queue_ack(q, m), 0);
	ipcq_msg_free(m);
	free(got);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static int
no_loans(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->writing == 0 && st->producers == 0;
}

START_TEST(producer_killed_mid_loan_delivers_nothing_torn)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = zc_queue(c, "zc.kill", IPCQ_ACK_AUTO,
	     IPCQ_TRANSPORT_AUTO);
	ipcq_msg    *m = NULL;
	ipcq_stats   st;
	th_proc     *p;

	p = th_peer("produce", "zc.kill", "--id", "1", "--count", "5",
	    "--pause-at", "3", "--zero-copy", (char *) NULL);
	th_expect_event(p, "PAUSE");
	th_stats(c, "zc.kill", &st);
	ck_assert_uint_eq(st.writing, 1); /* the half-written loan */
	th_proc_kill(p, SIGKILL);
	th_proc_wait(p, TH_WAIT_MS);
	ck_assert_int_eq(th_poll_stats(c, "zc.kill", no_loans, NULL,
	                     TH_WAIT_MS),
	    0);
	th_expect_recv(q, "p1-0", TH_WAIT_MS);
	th_expect_recv(q, "p1-1", TH_WAIT_MS);
	th_expect_recv(q, "p1-2", TH_WAIT_MS);
	/* Nothing more: the producer died without ending its stream. */
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_EABANDONED);
	th_stats(c, "zc.kill", &st);
	ck_assert_uint_eq(st.sent, 3);
	/* Not wedged: the space came back and the queue goes on. */
	loan_send(q, "next");
	th_expect_recv(q, "next", TH_WAIT_MS);
	th_proc_free(p);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static int
views_returned(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->in_flight == 0 && st->redelivered == 2 && st->depth == 3;
}

START_TEST(consumer_killed_holding_views_gets_them_redelivered)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = zc_queue(c, "zc.hold", IPCQ_ACK_EXPLICIT,
	     IPCQ_TRANSPORT_AUTO);
	ipcq_msg    *m = NULL;
	th_proc     *cons;

	th_send_str(q, "v0");
	th_send_str(q, "v1");
	th_send_str(q, "v2");
	cons = th_peer("consume", "zc.hold", "--ack", "explicit", "--hold",
	    "2", "--zero-copy", (char *) NULL);
	th_expect_event(cons, "HOLD");
	th_proc_kill(cons, SIGKILL);
	th_proc_wait(cons, TH_WAIT_MS);
	ck_assert_int_eq(th_poll_stats(c, "zc.hold", views_returned, NULL,
	                     TH_WAIT_MS),
	    0);
	for (int i = 0; i < 3; i++) {
		char  want[8];
		char *got = th_recv_str(q, TH_WAIT_MS, &m);
		snprintf(want, sizeof(want), "v%d", i);
		ck_assert_str_eq(got, want);
		ck_assert_int_eq(ipcq_msg_redelivered(m), i < 2);
		ck_assert_int_eq(ipcq_queue_ack(q, m), 0);
		ipcq_msg_free(m);
		free(got);
	}
	th_proc_free(cons);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

/* Messages of 32 KiB and more are copied outside the segment lock (a
 * reservation or a lease while the copy runs): batches of 100 KB
 * messages through a queue of 3, from another process, arrive whole, in
 * order, exactly once, with explicit acks. */
START_TEST(big_messages_copied_outside_the_lock_arrive_whole)
{
	ipcq_client    *c = th_client();
	ipcq_queue_opts o;
	ipcq_queue     *q;
	ipcq_msg       *msgs[8];
	th_proc        *p;
	long            got = 0;
	size_t          n;
	int             rv;

	ipcq_queue_opts_init(&o);
	o.max_messages = 3;
	o.ack_mode     = IPCQ_ACK_EXPLICIT;
	q              = th_queue(c, "zc.big", &o);
	p = th_peer("produce", "zc.big", "--id", "3", "--count", "40", "--size",
	    "100000", "--batch", "4", "--end", (char *) NULL);
	while ((rv = ipcq_queue_recv_batch(q, msgs, 8, &n, TH_WAIT_MS)) == 0) {
		for (size_t i = 0; i < n; i++, got++) {
			char        want[32];
			const char *d = ipcq_msg_data(msgs[i]);
			size_t      w = (size_t) snprintf(want, sizeof(want),
			         "p3-%ld", got);
			ck_assert_uint_eq(ipcq_msg_size(msgs[i]), 100000);
			ck_assert_int_eq(memcmp(d, want, w), 0);
			ck_assert_int_eq(d[w], '.');
			ck_assert_int_eq(d[99999], '.');
		}
		ck_assert_int_eq(ipcq_queue_ack_batch(q, msgs, n), 0);
		for (size_t i = 0; i < n; i++) {
			ipcq_msg_free(msgs[i]);
		}
	}
	ck_assert_int_eq(rv, IPCQ_EOF);
	ck_assert_int_eq(got, 40);
	th_proc_expect_exit(p, 0);
	th_proc_free(p);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
zerocopy_suite(void)
{
	Suite *s  = suite_create("integration.zerocopy");
	TCase *tc = th_tcase("zerocopy");

	tcase_add_test(tc, loan_is_delivered_whole_and_viewed_in_place);
	tcase_add_test(tc, zero_copy_calls_work_on_the_socket_path_too);
	tcase_add_test(tc, freed_loan_is_never_delivered);
	tcase_add_test(tc, explicit_view_is_acked_or_returned_at_free);
	tcase_add_test(tc, producer_killed_mid_loan_delivers_nothing_torn);
	tcase_add_test(tc, consumer_killed_holding_views_gets_them_redelivered);
	tcase_add_test(tc, big_messages_copied_outside_the_lock_arrive_whole);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(zerocopy_suite());
}
