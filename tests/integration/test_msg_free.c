/*
 * integration.msg_free — what ipcq_msg_free and the acks do for each kind
 * of message (libclient/include/ipcq.h, docs/api.md "Messages"):
 *   copy: freeing does not ack; an explicit-mode copy freed unacked stays
 *         leased until its handle is closed, then is redelivered;
 *   view: freeing finishes it: acked in auto mode, acked after
 *         ipcq_queue_ack, else returned for redelivery (on the socket
 *         path a view is a copy, with the copy's rules);
 *   loan: freeing gives its room back, nothing is delivered; a loan is
 *         not a received message, so acking or nacking it is IPCQ_EINVAL
 *         and leaves it to be sent.
 * Registered for both paths (integration.msg_free.socket): each case
 * asserts what the path its handle is on promises.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static ipcq_queue *
mf_queue(ipcq_client *c, const char *name, int ack_mode, uint64_t max_msgs)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.ack_mode     = ack_mode;
	o.max_messages = max_msgs;
	o.full_policy  = max_msgs > 0 ? IPCQ_FULL_FAIL : IPCQ_FULL_BLOCK;
	return th_queue(c, name, &o);
}

static ipcq_msg *
view_of(ipcq_queue *q, const char *want)
{
	ipcq_msg *m  = NULL;
	int       rv = ipcq_queue_recv_view(q, &m, TH_WAIT_MS);

	ck_assert_msg(rv == 0, "recv_view: %s", ipcq_err_name(rv));
	ck_assert_uint_eq(ipcq_msg_size(m), strlen(want));
	ck_assert_int_eq(memcmp(ipcq_msg_data(m), want, strlen(want)), 0);
	return m;
}

START_TEST(copy_freed_unacked_stays_leased_until_close)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = mf_queue(c, "mf.copy", IPCQ_ACK_EXPLICIT, 0);
	ipcq_msg    *m = NULL;
	ipcq_stats   st;

	th_send_str(q, "kept");
	free(th_recv_str(q, TH_WAIT_MS, &m));
	ipcq_msg_free(m);
	th_stats(c, "mf.copy", &st);
	ck_assert_uint_eq(st.in_flight, 1);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.acked, 0);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_ETIMEDOUT);

	ipcq_queue_close(q); /* the lease goes back */
	q = mf_queue(c, "mf.copy", IPCQ_ACK_EXPLICIT, 0);
	free(th_recv_str(q, TH_WAIT_MS, &m));
	ck_assert_uint_eq(ipcq_msg_delivery_count(m), 2);
	ck_assert_int_eq(ipcq_queue_ack(q, m), 0);
	ipcq_msg_free(m);
	th_stats(c, "mf.copy", &st);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.redelivered, 1);
	ipcq_queue_close(q);
}
END_TEST

START_TEST(view_freed_in_auto_mode_is_acked)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = mf_queue(c, "mf.vauto", IPCQ_ACK_AUTO, 0);
	ipcq_msg    *m;
	ipcq_stats   st;

	th_send_str(q, "seen once");
	m = view_of(q, "seen once");
	ipcq_msg_free(m);
	th_stats(c, "mf.vauto", &st);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_ETIMEDOUT);
	ipcq_queue_close(q);
}
END_TEST

START_TEST(view_freed_unacked_in_explicit_mode)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = mf_queue(c, "mf.vexp", IPCQ_ACK_EXPLICIT, 0);
	ipcq_msg    *m;
	ipcq_stats   st;

	th_send_str(q, "again");
	m = view_of(q, "again");
	ipcq_msg_free(m);
	th_stats(c, "mf.vexp", &st);
	ck_assert_uint_eq(st.acked, 0);
	if (ipcq_queue_is_shm(q)) {
		/* Returned at once, at the head, its count grown. */
		ck_assert_uint_eq(st.in_flight, 0);
		ck_assert_uint_eq(st.depth, 1);
		m = view_of(q, "again");
		ck_assert_uint_eq(ipcq_msg_delivery_count(m), 2);
		ck_assert_int_eq(ipcq_queue_ack(q, m), 0);
		ipcq_msg_free(m);
	} else {
		/* A copy: still leased to q, until q is closed. */
		ck_assert_uint_eq(st.in_flight, 1);
		ck_assert_uint_eq(st.depth, 0);
		ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_ETIMEDOUT);
		ipcq_queue_close(q);
		q = mf_queue(c, "mf.vexp", IPCQ_ACK_EXPLICIT, 0);
		m = view_of(q, "again");
		ck_assert_uint_eq(ipcq_msg_delivery_count(m), 2);
		ck_assert_int_eq(ipcq_queue_ack(q, m), 0);
		ipcq_msg_free(m);
	}
	th_stats(c, "mf.vexp", &st);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.depth, 0);
	ipcq_queue_close(q);
}
END_TEST

START_TEST(view_acked_then_freed_is_gone)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = mf_queue(c, "mf.vack", IPCQ_ACK_EXPLICIT, 0);
	ipcq_msg    *m;
	ipcq_stats   st;

	th_send_str(q, "done");
	m = view_of(q, "done");
	ck_assert_int_eq(ipcq_queue_ack(q, m), 0);
	ipcq_msg_free(m);
	th_stats(c, "mf.vack", &st);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.redelivered, 0);
	ipcq_queue_close(q);
}
END_TEST

START_TEST(loan_freed_gives_its_room_back)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = mf_queue(c, "mf.loan", IPCQ_ACK_AUTO, 1);
	ipcq_msg    *l = NULL, *l2 = NULL;
	ipcq_stats   st;
	int          rv;

	ck_assert_int_eq(ipcq_msg_loan(&l, q, 4, 0), 0);
	memcpy(ipcq_msg_buffer(l), "lost", 4);
	rv = ipcq_msg_loan(&l2, q, 4, 0);
	if (ipcq_queue_is_shm(q)) {
		/* The loan holds the queue's only room. */
		ck_assert_int_eq(rv, IPCQ_EFULL);
	} else {
		/* A heap buffer: it holds nothing in the queue. */
		ck_assert_int_eq(rv, 0);
		ipcq_msg_free(l2);
	}
	ipcq_msg_free(l); /* unsent: nothing delivered, room back */
	th_stats(c, "mf.loan", &st);
	ck_assert_uint_eq(st.sent, 0);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.writing, 0);
	ck_assert_int_eq(ipcq_msg_loan(&l, q, 4, 0), 0);
	memcpy(ipcq_msg_buffer(l), "sent", 4);
	ck_assert_int_eq(ipcq_queue_send_loan(q, l, 0), 0);
	th_expect_recv(q, "sent", TH_WAIT_MS);
	th_stats(c, "mf.loan", &st);
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_uint_eq(st.acked, 1);
	ipcq_queue_close(q);
}
END_TEST

START_TEST(acking_a_loan_is_einval_and_keeps_it)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = mf_queue(c, "mf.lack", IPCQ_ACK_EXPLICIT, 0);
	ipcq_msg    *l = NULL, *m = NULL;
	ipcq_stats   st;

	ck_assert_int_eq(ipcq_msg_loan(&l, q, 5, 1000), 0);
	memcpy(ipcq_msg_buffer(l), "whole", 5);
	ck_assert_int_eq(ipcq_queue_ack(q, l), IPCQ_EINVAL);
	ck_assert_int_eq(ipcq_queue_nack(q, l), IPCQ_EINVAL);
	ck_assert_int_eq(ipcq_queue_ack_batch(q, &l, 1), IPCQ_EINVAL);
	ck_assert_int_eq(ipcq_queue_send_loan(q, l, 1000), 0);
	free(th_recv_str(q, TH_WAIT_MS, &m));
	ck_assert_uint_eq(ipcq_msg_size(m), 5);
	ck_assert_int_eq(memcmp(ipcq_msg_data(m), "whole", 5), 0);
	ck_assert_uint_eq(ipcq_msg_delivery_count(m), 1);
	ck_assert_int_eq(ipcq_queue_ack(q, m), 0);
	ipcq_msg_free(m);
	th_stats(c, "mf.lack", &st);
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.redelivered, 0);
	ck_assert_uint_eq(st.in_flight, 0);
	ipcq_queue_close(q);
}
END_TEST

static Suite *
msg_free_suite(void)
{
	Suite *s  = suite_create("integration.msg_free");
	TCase *tc = th_tcase("msg_free");

	tcase_add_test(tc, copy_freed_unacked_stays_leased_until_close);
	tcase_add_test(tc, view_freed_in_auto_mode_is_acked);
	tcase_add_test(tc, view_freed_unacked_in_explicit_mode);
	tcase_add_test(tc, view_acked_then_freed_is_gone);
	tcase_add_test(tc, loan_freed_gives_its_room_back);
	tcase_add_test(tc, acking_a_loan_is_einval_and_keeps_it);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(msg_free_suite());
}
