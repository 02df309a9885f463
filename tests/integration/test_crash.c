/*
 * integration.crash — processes killed at chosen points inside the
 * shared-memory path (libclient/src/ipcqi_crash.h: the peer SIGKILLs
 * itself the Nth time it reaches a point, N drawn from a seeded PRNG).
 * Each run checks the rules of docs/shm.md, "Crashes": the lock a victim
 * held is recovered (EOWNERDEAD), nothing admitted before the kill is
 * lost, nothing torn is delivered, nothing acked comes back, what the
 * victim held is redelivered, and the queue goes on working.
 *
 * IPCQ_CRASH_SEEDS sets the number of runs per point (default 3, what
 * make test runs); integration.crash_long runs 40 (label long).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static int
cr_seeds(void)
{
	const char *e = getenv("IPCQ_CRASH_SEEDS");
	int         n = e != NULL ? atoi(e) : 3;

	return n > 0 ? n : 3;
}

/* The Nth time, 1..max, for this seed (a fixed LCG: runs repeat). */
static long
cr_pick(unsigned seed, long max)
{
	unsigned long long s = seed * 6364136223846793005ull + 1442695040888963407ull;

	s = s * 6364136223846793005ull + 1442695040888963407ull;
	return 1 + (long) ((s >> 33) % (unsigned long long) max);
}

/* Start a peer armed to die at point:n. */
static th_proc *
cr_peer(const char *point, long n, const char *const *args)
{
	char     at[64];
	th_proc *p;

	snprintf(at, sizeof(at), "%s:%ld", point, n);
	setenv("IPCQ_TEST_CRASH_AT", at, 1);
	p = th_peerv(args);
	unsetenv("IPCQ_TEST_CRASH_AT");
	return p;
}

static void
cr_expect_killed(th_proc *p)
{
	int st = th_proc_wait(p, TH_WAIT_MS);

	ck_assert_msg(th_exit_code(st) == 128 + SIGKILL,
	    "%s was not killed at its crash point (exit %d): %.500s",
	    th_proc_name(p), th_exit_code(st), th_proc_output(p));
}

/* The queue still works end to end after the crash. */
static void
cr_still_works(ipcq_queue *q)
{
	th_send_str(q, "alive");
	th_expect_recv(q, "alive", TH_WAIT_MS);
}

static int
cr_returned(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->in_flight == 0;
}

static int
cr_settled(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->in_flight == 0 && st->writing == 0 && st->producers == 0;
}

/* Receive exactly p<id>-from .. p<id>-(to-1), in order; redelivered
 * tells the delivery count expected of the first one. */
static void
cr_drain(ipcq_queue *q, int id, long from, long to, int first_redelivered)
{
	for (long i = from; i < to; i++) {
		char      want[32];
		ipcq_msg *m    = NULL;
		char     *got  = th_recv_str(q, TH_WAIT_MS, &m);
		snprintf(want, sizeof(want), "p%d-%ld", id, i);
		ck_assert_str_eq(got, want);
		ck_assert_int_eq(ipcq_msg_redelivered(m),
		    i == from && first_redelivered);
		free(got);
		ipcq_msg_free(m);
	}
}

/* A producer dies inside the segment lock right after its Nth message
 * was admitted: exactly N messages are there, whole and in order. */
START_TEST(producer_killed_inside_send_loses_nothing_admitted)
{
	ipcq_client *c = th_client();

	for (int seed = 1; seed <= cr_seeds(); seed++) {
		char        name[32];
		long        n = cr_pick((unsigned) seed, 200);
		const char *args[] = { "produce", name, "--id", "7", "--count",
			"300", NULL };
		ipcq_msg   *m = NULL;
		ipcq_stats  st;

		snprintf(name, sizeof(name), "cr.send.%d", seed);
		cr_expect_killed(cr_peer("send.locked", n, args));
		ipcq_queue *q = th_queue(c, name, NULL);
		ck_assert_int_eq(th_poll_stats(c, name, cr_settled, NULL,
		                     TH_WAIT_MS),
		    0);
		cr_drain(q, 7, 0, n, 0);
		ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_EABANDONED);
		th_stats(c, name, &st);
		ck_assert_uint_eq(st.sent, (uint64_t) n);
		cr_still_works(q);
		ipcq_queue_close(q);
	}
	ipcq_client_close(c);
}
END_TEST

/* A zero-copy producer dies holding its Nth loan, reserved and unsent:
 * the N-1 sent are there, the loan is never delivered, its room comes
 * back. */
START_TEST(producer_killed_holding_a_loan_delivers_nothing_torn)
{
	ipcq_client *c = th_client();

	for (int seed = 1; seed <= cr_seeds(); seed++) {
		char        name[32];
		long        n = cr_pick((unsigned) seed + 100, 200);
		const char *args[] = { "produce", name, "--id", "8", "--count",
			"300", "--zero-copy", NULL };
		ipcq_msg   *m = NULL;

		snprintf(name, sizeof(name), "cr.loan.%d", seed);
		cr_expect_killed(cr_peer("loan.reserved", n, args));
		ipcq_queue *q = th_queue(c, name, NULL);
		ck_assert_int_eq(th_poll_stats(c, name, cr_settled, NULL,
		                     TH_WAIT_MS),
		    0);
		cr_drain(q, 8, 0, n - 1, 0);
		ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_EABANDONED);
		cr_still_works(q);
		ipcq_queue_close(q);
	}
	ipcq_client_close(c);
}
END_TEST

/* Fill a queue with count messages "p9-<i>" from this process. */
static ipcq_queue *
cr_filled(ipcq_client *c, const char *name, long count)
{
	ipcq_queue *q = th_queue(c, name, NULL);

	for (long i = 0; i < count; i++) {
		char s[32];
		snprintf(s, sizeof(s), "p9-%ld", i);
		th_send_str(q, s);
	}
	return q;
}

/* An explicit-ack consumer (receive, then ack, one at a time) dies
 * inside the lock having just taken its Nth message: the N-1 before it
 * were acked and never come back; the Nth is redelivered; the rest are
 * delivered once. */
START_TEST(consumer_killed_inside_recv_gets_its_message_redelivered)
{
	ipcq_client *c = th_client();

	for (int seed = 1; seed <= cr_seeds(); seed++) {
		char        name[32];
		long        n = cr_pick((unsigned) seed + 200, 100);
		const char *args[] = { "consume", name, "--ack", "explicit",
			NULL };
		ipcq_stats  st;

		snprintf(name, sizeof(name), "cr.recv.%d", seed);
		ipcq_queue *q = cr_filled(c, name, 100);
		cr_expect_killed(cr_peer("recv.locked", n, args));
		ck_assert_int_eq(th_poll_stats(c, name, cr_returned, NULL,
		                     TH_WAIT_MS),
		    0);
		cr_drain(q, 9, n - 1, 100, 1);
		th_stats(c, name, &st);
		ck_assert_uint_eq(st.redelivered, 1);
		ck_assert_uint_eq(st.depth, 0);
		cr_still_works(q);
		ipcq_queue_close(q);
	}
	ipcq_client_close(c);
}
END_TEST

/* The consumer dies inside the lock right after its Nth ack took
 * effect: those N never come back, the rest are delivered once. */
START_TEST(consumer_killed_inside_ack_keeps_its_acks)
{
	ipcq_client *c = th_client();

	for (int seed = 1; seed <= cr_seeds(); seed++) {
		char        name[32];
		long        n = cr_pick((unsigned) seed + 300, 99);
		const char *args[] = { "consume", name, "--ack", "explicit",
			NULL };
		ipcq_stats  st;

		snprintf(name, sizeof(name), "cr.ack.%d", seed);
		ipcq_queue *q = cr_filled(c, name, 100);
		cr_expect_killed(cr_peer("ack.locked", n, args));
		ck_assert_int_eq(th_poll_stats(c, name, cr_returned, NULL,
		                     TH_WAIT_MS),
		    0);
		cr_drain(q, 9, n, 100, 0);
		th_stats(c, name, &st);
		ck_assert_uint_eq(st.redelivered, 0);
		ck_assert_uint_eq(st.depth, 0);
		cr_still_works(q);
		ipcq_queue_close(q);
	}
	ipcq_client_close(c);
}
END_TEST

static Suite *
crash_suite(void)
{
	Suite *s  = suite_create("integration.crash");
	TCase *tc = th_tcase("crash");

	tcase_add_test(tc, producer_killed_inside_send_loses_nothing_admitted);
	tcase_add_test(tc, producer_killed_holding_a_loan_delivers_nothing_torn);
	tcase_add_test(tc,
	    consumer_killed_inside_recv_gets_its_message_redelivered);
	tcase_add_test(tc, consumer_killed_inside_ack_keeps_its_acks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(crash_suite());
}
