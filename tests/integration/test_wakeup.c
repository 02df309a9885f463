/*
 * integration.wakeup — no lost wake-ups on the shared-memory path: a
 * producer process and a consumer move many messages through a queue of
 * 4 (every few messages one side sleeps on the segment's futex and the
 * other must wake it), with exact order and count, to the end of stream.
 * IPCQ_WAKEUP_COUNT sets the count (default 200 000, what make test
 * runs); integration.wakeup_long moves 3 000 000 (label long). A lost
 * wake-up shows as a receive that times out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static long
wk_count(void)
{
	const char *e = getenv("IPCQ_WAKEUP_COUNT");
	long        n = e != NULL ? atol(e) : 200000;

	return n > 0 ? n : 200000;
}

START_TEST(tiny_queue_moves_every_message_without_a_lost_wakeup)
{
	ipcq_client    *c = th_client();
	ipcq_queue     *q;
	ipcq_queue_opts o;
	ipcq_msg       *m;
	th_proc        *p;
	long            n = wk_count(), got = 0;
	char            count[32], want[32];
	int             rv;

	ipcq_queue_opts_init(&o);
	o.max_messages = 4;
	o.roles        = IPCQ_ROLE_CONSUMER;
	q              = th_queue(c, "wk.q", &o);
	ck_assert_int_eq(ipcq_queue_is_shm(q), 1);
	snprintf(count, sizeof(count), "%ld", n);
	p = th_peer("produce", "wk.q", "--id", "1", "--count", count, "--end",
	    "--timeout", "30000", (char *) NULL);
	/* A receive that waits 10 s for the next message on a queue that a
	 * producer keeps full is a lost wake-up. */
	while ((rv = ipcq_queue_recv(q, &m, 10000)) == 0) {
		snprintf(want, sizeof(want), "p1-%ld", got);
		ck_assert_msg(ipcq_msg_size(m) == strlen(want) &&
		        memcmp(ipcq_msg_data(m), want, strlen(want)) == 0,
		    "message %ld: %.*s", got, (int) ipcq_msg_size(m),
		    (const char *) ipcq_msg_data(m));
		ipcq_msg_free(m);
		got++;
	}
	ck_assert_msg(rv == IPCQ_EOF, "after %ld of %ld: %s", got, n,
	    ipcq_err_name(rv));
	ck_assert_int_eq(got, n);
	th_proc_expect_exit(p, 0);
	th_proc_free(p);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
wakeup_suite(void)
{
	Suite *s  = suite_create("integration.wakeup");
	TCase *tc = th_tcase("wakeup");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, tiny_queue_moves_every_message_without_a_lost_wakeup);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(wakeup_suite());
}
