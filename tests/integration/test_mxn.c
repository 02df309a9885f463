/*
 * integration.mxn — N producer processes x M consumer processes on one
 * queue: every message arrives exactly once, nothing is lost, each
 * consumer sees each producer's messages in order, every consumer gets
 * EOF once, and the broker's totals agree with what the peers counted.
 * Two suites: mxn (4x3) and mxn_soak (bigger, ctest label slow).
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define MXN_MAX 16

struct mxn_cfg {
	int         nprod, ncons;
	long        per; /* messages per producer */
	const char *queue;
	const char *prod_batch; /* messages per send call */
	const char *cons_batch; /* messages per recv call */
	const char *ack;        /* "auto" or "explicit" */
};

static void
mxn_run(const struct mxn_cfg *cfg)
{
	const int   nprod = cfg->nprod, ncons = cfg->ncons;
	const long  total = cfg->nprod * cfg->per;
	th_proc    *cons[MXN_MAX], *prod[MXN_MAX];
	th_consumed cs[MXN_MAX];
	char        ids[MXN_MAX][12], per[24], np[12], sent[48];
	ipcq_stats  st;

	ck_assert(nprod <= MXN_MAX && ncons <= MXN_MAX);
	snprintf(per, sizeof(per), "%ld", cfg->per);
	snprintf(sent, sizeof(sent), "SENT count=%ld\nEND\n", cfg->per);
	snprintf(np, sizeof(np), "%d", nprod);
	/* Consumers first; everybody declares the producer count, so the
	 * queue cannot end before the last producer has ended. */
	for (int i = 0; i < ncons; i++) {
		cons[i] = th_peer("consume", cfg->queue, "--expected", np,
		    "--batch", cfg->cons_batch, "--ack", cfg->ack, (char *) NULL);
	}
	for (int k = 0; k < nprod; k++) {
		snprintf(ids[k], sizeof(ids[k]), "%d", k + 1);
		prod[k] = th_peer("produce", cfg->queue, "--id", ids[k],
		    "--count", per, "--batch", cfg->prod_batch, "--expected", np,
		    "--end", (char *) NULL);
	}
	for (int k = 0; k < nprod; k++) {
		th_proc_expect_exit(prod[k], 0);
		ck_assert_str_eq(th_proc_output(prod[k]), sent);
	}
	th_collect_consumers(cons, ncons, cs);
	for (int i = 0; i < ncons; i++) {
		ck_assert_str_eq(cs[i].final, "EOF");
		ck_assert_int_eq(cs[i].n_eof, 1);
	}
	th_assert_exactly_once(cs, ncons, nprod, cfg->per);

	ipcq_client *c = th_client();
	th_stats(c, cfg->queue, &st);
	ck_assert_uint_eq(st.sent, total);
	ck_assert_uint_eq(st.received, total);
	ck_assert_uint_eq(st.acked, total);
	ck_assert_uint_eq(st.redelivered, 0);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.producers_ended, nprod);
	ck_assert_uint_eq(st.producers_lost, 0);
	ck_assert_int_ne(st.ended, 0);
	ck_assert_int_eq(st.abandoned, 0);
	ipcq_client_close(c);
	for (int i = 0; i < ncons; i++) {
		th_consumed_free(&cs[i]);
	}
}

START_TEST(unbatched_4x3_exactly_once_in_order)
{
	struct mxn_cfg cfg = { 4, 3, 2000, "mxn.single", "1", "1", "auto" };

	mxn_run(&cfg);
}
END_TEST

START_TEST(batched_4x3_exactly_once_in_order)
{
	struct mxn_cfg cfg = { 4, 3, 2000, "mxn.batch", "100", "64", "auto" };

	mxn_run(&cfg);
}
END_TEST

START_TEST(explicit_ack_batched_4x3_exactly_once)
{
	struct mxn_cfg cfg = { 4, 3, 2000, "mxn.ack", "50", "32", "explicit" };

	mxn_run(&cfg);
}
END_TEST

START_TEST(mixed_batching_4x3_exactly_once)
{
	/* Unbatched producers, batched consumers: a recv_batch must take
	 * whatever is ready, interleaved with single sends. */
	struct mxn_cfg cfg = { 4, 3, 2000, "mxn.mixed", "1", "16", "auto" };

	mxn_run(&cfg);
}
END_TEST

/* The soak suite (ctest integration.mxn_soak, label slow): more of
 * everything, so that rare interleavings get their chance. */
START_TEST(soak_8x4_batched_exactly_once)
{
	struct mxn_cfg cfg = { 8, 4, 20000, "soak.batch", "100", "64", "auto" };

	mxn_run(&cfg);
}
END_TEST

START_TEST(soak_6x6_unbatched_explicit_exactly_once)
{
	struct mxn_cfg cfg = { 6, 6, 3000, "soak.ack", "1", "1", "explicit" };

	mxn_run(&cfg);
}
END_TEST

static Suite *
mxn_soak_suite(void)
{
	Suite *s  = suite_create("mxn_soak");
	TCase *tc = th_tcase("mxn_soak");

	tcase_add_test(tc, soak_8x4_batched_exactly_once);
	tcase_add_test(tc, soak_6x6_unbatched_explicit_exactly_once);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *
mxn_suite(void)
{
	Suite *s  = suite_create("mxn");
	TCase *tc = th_tcase("mxn");

	tcase_add_test(tc, unbatched_4x3_exactly_once_in_order);
	tcase_add_test(tc, batched_4x3_exactly_once_in_order);
	tcase_add_test(tc, explicit_ack_batched_4x3_exactly_once);
	tcase_add_test(tc, mixed_batching_4x3_exactly_once);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run_suites(mxn_suite(), mxn_soak_suite(), (Suite *) NULL);
}
