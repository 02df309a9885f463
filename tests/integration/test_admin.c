/*
 * integration.admin — stats, list, purge and delete, with exact counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void
expect_names(ipcq_client *c, const char *const *want, size_t nwant)
{
	char **names = NULL;
	size_t n     = 99;

	ck_assert_int_eq(ipcq_client_list(c, &names, &n), 0);
	ck_assert_uint_eq(n, nwant);
	ck_assert_ptr_null(names[n]);
	for (size_t i = 0; i < nwant; i++) {
		int found = 0;
		for (size_t j = 0; j < n; j++) {
			found += strcmp(names[j], want[i]) == 0;
		}
		ck_assert_msg(found == 1, "list: %s seen %d times", want[i],
		    found);
	}
	ipcq_names_free(names);
}

START_TEST(list_shows_exactly_the_queues)
{
	ipcq_client *c = th_client();
	const char  *all[] = { "adm.a", "adm.b", "adm.c" };
	ipcq_queue  *q[3];

	expect_names(c, NULL, 0);
	for (int i = 0; i < 3; i++) {
		q[i] = th_queue(c, all[i], NULL);
	}
	/* A second open of the same queue does not make another one. */
	ipcq_queue *again = th_queue(c, "adm.b", NULL);
	expect_names(c, all, 3);
	ipcq_queue_close(again);
	for (int i = 0; i < 3; i++) {
		ipcq_queue_close(q[i]);
	}
	/* Detaching does not delete. */
	expect_names(c, all, 3);
	ck_assert_int_eq(ipcq_client_delete(c, "adm.b"), 0);
	const char *left[] = { "adm.a", "adm.c" };
	expect_names(c, left, 2);
	ipcq_client_close(c);
}
END_TEST

START_TEST(stats_count_exactly)
{
	ipcq_client    *c = th_client();
	ipcq_queue_opts o;
	ipcq_queue     *p, *auto_c, *expl_c;
	ipcq_msg       *m[4];
	ipcq_stats      st;
	size_t          n;
	char            msg[16];
	uint64_t        bytes = 0;

	ipcq_queue_opts_init(&o);
	o.roles = IPCQ_ROLE_PRODUCER;
	p       = th_queue(c, "adm.stats", &o);
	for (int i = 0; i < 10; i++) {
		snprintf(msg, sizeof(msg), "m-%d", i * 100);
		th_send_str(p, msg);
		bytes += strlen(msg);
	}
	th_stats(c, "adm.stats", &st);
	ck_assert_uint_eq(st.depth, 10);
	ck_assert_uint_eq(st.sent, 10);
	ck_assert_uint_eq(st.bytes, bytes);
	ck_assert_uint_eq(st.producers, 1);
	ck_assert_uint_eq(st.consumers, 0);
	ck_assert_uint_eq(st.max_messages, 100000);

	auto_c = th_queue(c, "adm.stats", NULL);
	free(th_recv_str(auto_c, 1000, NULL)); /* "m-0", 3 bytes */
	free(th_recv_str(auto_c, 1000, NULL)); /* "m-100", 5 bytes */
	free(th_recv_str(auto_c, 1000, NULL)); /* "m-200" */
	bytes -= 3 + 5 + 5;
	ipcq_queue_opts_init(&o);
	o.ack_mode = IPCQ_ACK_EXPLICIT;
	expl_c     = th_queue(c, "adm.stats", &o);
	ck_assert_int_eq(ipcq_queue_recv_batch(expl_c, m, 2, &n, 1000), 0);
	ck_assert_uint_eq(n, 2);
	th_stats(c, "adm.stats", &st);
	ck_assert_uint_eq(st.depth, 5);
	ck_assert_uint_eq(st.in_flight, 2);
	ck_assert_uint_eq(st.bytes, bytes); /* ready + leased */
	ck_assert_uint_eq(st.received, 5);
	ck_assert_uint_eq(st.acked, 3);
	ck_assert_uint_eq(st.consumers, 2);

	ck_assert_int_eq(ipcq_queue_ack(expl_c, m[0]), 0);
	th_stats(c, "adm.stats", &st);
	ck_assert_uint_eq(st.acked, 4);
	ck_assert_uint_eq(st.in_flight, 1);
	/* Same numbers through the handle. */
	ipcq_stats st2;
	ck_assert_int_eq(ipcq_queue_stats(p, &st2), 0);
	ck_assert_uint_eq(st2.acked, 4);
	ck_assert_uint_eq(st2.depth, 5);
	ck_assert_int_eq(ipcq_queue_end(p), 0);
	th_stats(c, "adm.stats", &st);
	ck_assert_uint_eq(st.producers, 0);
	ck_assert_uint_eq(st.producers_ended, 1);
	ck_assert_int_ne(st.ended, 0);

	ipcq_msg_free(m[0]);
	ipcq_msg_free(m[1]);
	ipcq_queue_close(expl_c);
	ipcq_queue_close(auto_c);
	ipcq_queue_close(p);
	ipcq_client_close(c);
}
END_TEST

START_TEST(purge_discards_ready_keeps_leased)
{
	ipcq_client    *c = th_client();
	ipcq_queue_opts o;
	ipcq_queue     *q;
	ipcq_msg       *m;
	ipcq_stats      st;
	uint64_t        purged = 99;
	char            msg[16];

	ipcq_queue_opts_init(&o);
	o.ack_mode = IPCQ_ACK_EXPLICIT;
	q          = th_queue(c, "adm.purge", &o);
	for (int i = 0; i < 8; i++) {
		snprintf(msg, sizeof(msg), "x%d", i);
		th_send_str(q, msg);
	}
	char *s = th_recv_str(q, 1000, &m); /* leased: survives purge */
	free(s);
	ck_assert_int_eq(ipcq_client_purge(c, "adm.purge", &purged), 0);
	ck_assert_uint_eq(purged, 7);
	th_stats(c, "adm.purge", &st);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.in_flight, 1);
	ck_assert_uint_eq(st.purged, 7);
	ck_assert_uint_eq(st.bytes, 2);
	ck_assert_int_eq(ipcq_client_purge(c, "adm.purge", NULL), 0);
	ck_assert_int_eq(ipcq_client_purge(c, "adm.purge", &purged), 0);
	ck_assert_uint_eq(purged, 0);
	/* The lease is still valid and the queue still works. */
	ck_assert_int_eq(ipcq_queue_ack(q, m), 0);
	ipcq_msg_free(m);
	th_send_str(q, "after-purge");
	th_expect_recv(q, "after-purge", 1000);
	ck_assert_int_eq(ipcq_client_purge(c, "adm.nosuch", NULL),
	    IPCQ_ENOTFOUND);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(delete_wakes_parked_calls_and_stales_handles)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "adm.del", NULL);
	ipcq_stats   st;
	th_proc     *cons;

	th_send_str(q, "p1-0");
	/* A consumer that gets one message and parks for the second. */
	cons = th_peer("consume", "adm.del", "--count", "2", "--notify-after",
	    "1", "--timeout", "25000", (char *) NULL);
	th_expect_event(cons, "PROGRESS");
	ck_assert_int_eq(ipcq_client_delete(c, "adm.del"), 0);
	th_proc_expect_exit(cons, 20 + IPCQ_EDELETED);
	ck_assert_str_eq(th_proc_output(cons),
	    "M p1-0 1 0\nERR EDELETED count=1\n");

	ck_assert_int_eq(ipcq_client_stats(c, "adm.del", &st), IPCQ_ENOTFOUND);
	ck_assert_int_eq(ipcq_queue_send(q, "x", 1, 1000), IPCQ_EDELETED);
	ck_assert_int_eq(ipcq_client_delete(c, "adm.del"), IPCQ_ENOTFOUND);
	ck_assert_int_eq(ipcq_client_stats(c, "../etc", &st), IPCQ_EBADNAME);
	ck_assert_int_eq(ipcq_client_delete(c, "../etc"), IPCQ_EBADNAME);
	ipcq_queue_close(q);

	/* The name is free again: a new queue, empty, fresh counters. */
	q = th_queue(c, "adm.del", NULL);
	th_stats(c, "adm.del", &st);
	ck_assert_uint_eq(st.sent, 0);
	ck_assert_uint_eq(st.depth, 0);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
admin_suite(void)
{
	Suite *s  = suite_create("admin");
	TCase *tc = th_tcase("admin");

	tcase_add_test(tc, list_shows_exactly_the_queues);
	tcase_add_test(tc, stats_count_exactly);
	tcase_add_test(tc, purge_discards_ready_keeps_leased);
	tcase_add_test(tc, delete_wakes_parked_calls_and_stales_handles);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(admin_suite());
}
