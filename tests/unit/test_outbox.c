/*
 * unit.outbox: the broker's count of each connection's unread replies
 * (broker/outbox.c): the bounds count only what piles up behind the reply
 * being written, a verdict is given once per connection, a timeout is the
 * only send result that drops, and nothing is left once sends complete.
 */
#include <check.h>

#include <nng/nng.h>

#include "outbox.h"
#include "th_run.h"

START_TEST(one_reply_of_any_size_is_always_allowed)
{
	ipcqd_outbox o;
	size_t       ch;

	ck_assert_int_eq(ipcqd_outbox_init(&o, 4096, 1, 1000), 0);
	ck_assert_int_eq(ipcqd_outbox_add(&o, 7, 1u << 30, &ch),
	    IPCQD_OUTBOX_KEEP);
	ck_assert_uint_eq(ch, (1u << 30) + IPCQD_OUTBOX_CHARGE);
	ck_assert_int_eq(ipcqd_outbox_done(&o, 7, ch, 0), IPCQD_OUTBOX_KEEP);
	ck_assert_uint_eq(o.conns.count, 0);
	ipcqd_outbox_fini(&o);
}
END_TEST

START_TEST(bounds_drop_once_and_per_connection)
{
	ipcqd_outbox o;
	size_t       ch[8], other;

	ck_assert_int_eq(ipcqd_outbox_init(&o, 1u << 20, 3, 1000), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ipcqd_outbox_add(&o, 1, 10, &ch[i]),
		    IPCQD_OUTBOX_KEEP);
	}
	/* Another connection has its own count. */
	ck_assert_int_eq(ipcqd_outbox_add(&o, 2, 10, &other),
	    IPCQD_OUTBOX_KEEP);
	ck_assert_int_eq(ipcqd_outbox_add(&o, 1, 10, &ch[3]),
	    IPCQD_OUTBOX_OVER_REPLIES);
	ck_assert_int_eq(ipcqd_outbox_add(&o, 1, 10, &ch[4]),
	    IPCQD_OUTBOX_KEEP); /* said once */
	/* Bytes: 2 replies over 1 MiB behind nothing else. */
	ck_assert_int_eq(ipcqd_outbox_add(&o, 3, 600000, &ch[5]),
	    IPCQD_OUTBOX_KEEP);
	ck_assert_int_eq(ipcqd_outbox_add(&o, 3, 600000, &ch[6]),
	    IPCQD_OUTBOX_OVER_BYTES);
	/* A timeout drops (once); closed pipes and cancels do not. */
	ck_assert_int_eq(ipcqd_outbox_done(&o, 2, other, NNG_ECANCELED),
	    IPCQD_OUTBOX_KEEP);
	ck_assert_int_eq(ipcqd_outbox_add(&o, 2, 10, &other),
	    IPCQD_OUTBOX_KEEP);
	ck_assert_int_eq(ipcqd_outbox_done(&o, 2, other, NNG_ETIMEDOUT),
	    IPCQD_OUTBOX_TIMED_OUT);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(ipcqd_outbox_done(&o, 1, ch[i], NNG_ETIMEDOUT),
		    IPCQD_OUTBOX_KEEP); /* already dropped */
	}
	ck_assert_int_eq(ipcqd_outbox_done(&o, 3, ch[5], 0), IPCQD_OUTBOX_KEEP);
	ck_assert_int_eq(ipcqd_outbox_done(&o, 3, ch[6], 0), IPCQD_OUTBOX_KEEP);
	ck_assert_uint_eq(o.conns.count, 0);
	/* Uncounted (charged 0) sends are never uncounted. */
	ck_assert_int_eq(ipcqd_outbox_done(&o, 9, 0, NNG_ETIMEDOUT),
	    IPCQD_OUTBOX_KEEP);
	ipcqd_outbox_fini(&o);
}
END_TEST

START_TEST(dropped_connections_are_remembered_until_forgotten)
{
	ipcqd_outbox o;

	ck_assert_int_eq(ipcqd_outbox_init(&o, 1024, 1, 1000), 0);
	ck_assert(!ipcqd_outbox_is_dropped(&o, 5));
	ck_assert_int_eq(ipcqd_outbox_drop(&o, 5), 0);
	ck_assert(ipcqd_outbox_is_dropped(&o, 5));
	ck_assert(!ipcqd_outbox_is_dropped(&o, 6));
	ipcqd_outbox_forget(&o, 5);
	ck_assert(!ipcqd_outbox_is_dropped(&o, 5));
	ipcqd_outbox_forget(&o, 5); /* twice: harmless */
	ipcqd_outbox_fini(&o);
}
END_TEST

static Suite *
outbox_suite(void)
{
	Suite *s  = suite_create("outbox");
	TCase *tc = tcase_create("outbox");

	tcase_add_test(tc, one_reply_of_any_size_is_always_allowed);
	tcase_add_test(tc, bounds_drop_once_and_per_connection);
	tcase_add_test(tc, dropped_connections_are_remembered_until_forgotten);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(outbox_suite());
}
