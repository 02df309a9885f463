/*
 * unit.seg: leases, zero copy and end of stream (see test_seg.c).
 */
#include "seg_fixture.h"

/* ------------------------------------------------------------- leases */

START_TEST(requeued_message_is_delivered_again_before_newer_ones)
{
	fx            f;
	ipcqi_seg_ref a, b, a2, c;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	for (uint64_t i = 0; i < 3; i++) {
		ck_assert_int_eq(put_seq(&f.c, i, 10 + (uint32_t) i), 0);
	}
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &a), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &b), 0);
	ck_assert_int_eq(ipcqi_seg_finish(&f.c, a.pos, a.lease, 1, true), 0);
	ck_assert_uint_eq(f.c.hdr->redelivered, 1);
	CK_COUNTS(f.c.hdr, 2, 10 + 12, 1, 11);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 2, &a2), 0);
	ck_assert_uint_eq(a2.pos, a.pos);
	ck_assert_uint_eq(a2.deliveries, 2);
	ck_assert_uint_ne(a2.lease, a.lease);
	ck_assert(same(a2.data, 0, 10));
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 2, &c), 0);
	ck_assert(same(c.data, 2, 12));
	ck_assert_uint_eq(c.deliveries, 1);
	/* Requeue a later one too: it goes back behind nothing newer. */
	ck_assert_int_eq(ipcqi_seg_finish(&f.c, b.pos, b.lease, 1, true), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 3, &b), 0);
	ck_assert(same(b.data, 1, 11));
	ck_assert_uint_eq(b.deliveries, 2);
	ck_assert_int_eq(ack(&f.c, &a2, 2), 0);
	ck_assert_int_eq(ack(&f.c, &b, 3), 0);
	ck_assert_int_eq(ack(&f.c, &c, 2), 0);
	CK_COUNTS(f.c.hdr, 0, 0, 0, 0);
	CK_TOTALS(f.c.hdr, 3, 5, 3);
	ck_assert_uint_eq(f.c.hdr->redelivered, 2);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(finish_with_a_wrong_holder_lease_or_position_is_enolease)
{
	fx             f;
	ipcqi_seg_hdr *h;
	ipcqi_seg_ref  a, b, a2;

	fx_open(&f, IPCQ_FULL_FAIL);
	h = f.c.hdr;
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(put_seq(&f.c, 0, 40), 0);
	ck_assert_int_eq(put_seq(&f.c, 1, 40), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &a), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &b), 0);

	ck_assert_int_eq(ack(&f.c, &a, 2), IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqi_seg_finish(&f.c, a.pos, a.lease, 2, true),
	    IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqi_seg_finish(&f.c, a.pos, b.lease, 1, false),
	    IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqi_seg_finish(&f.c, a.pos + 8, a.lease, 1, false),
	    IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqi_seg_finish(&f.c, h->tail, a.lease, 1, false),
	    IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqi_seg_finish(&f.c, UINT64_MAX - 31, a.lease, 1,
	                     false),
	    IPCQ_ENOLEASE);
	CK_COUNTS(h, 0, 0, 2, 80);
	ck_assert_uint_eq(h->acked + h->redelivered, 0);

	/* A requeued message's old lease is stale. */
	ck_assert_int_eq(ipcqi_seg_finish(&f.c, a.pos, a.lease, 1, true), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &a2), 0);
	ck_assert_int_eq(ack(&f.c, &a, 1), IPCQ_ENOLEASE);
	ck_assert_int_eq(ack(&f.c, &a2, 1), 0);
	/* Acked twice, and a position since reclaimed. */
	ck_assert_int_eq(ack(&f.c, &a2, 1), IPCQ_ENOLEASE);
	ck_assert_uint_gt(h->head, a.pos);
	ck_assert_int_eq(ack(&f.c, &b, 1), 0);
	ck_assert_int_eq(ack(&f.c, &b, 1), IPCQ_ENOLEASE);
	CK_COUNTS(h, 0, 0, 0, 0);
	CK_TOTALS(h, 2, 3, 2);
	ck_assert_uint_eq(h->redelivered, 1);
	ck_assert(!ipcqi_seg_corrupt(&f.c));
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(return_holder_gives_back_only_that_holders_leases_in_order)
{
	enum { A = 10, B = 20, C = 30 };
	fx             f;
	ipcqi_seg_hdr *h;
	ipcqi_seg_ref  r[6], t;
	uint64_t       wpos;
	unsigned char *wdata;

	fx_open(&f, IPCQ_FULL_FAIL);
	h = f.c.hdr;
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	for (uint64_t i = 0; i < 6; i++) {
		ck_assert_int_eq(put_seq(&f.c, i, 1 + (uint32_t) i), 0);
	}
	ck_assert_int_eq(ipcqi_seg_take(&f.c, A, &r[0]), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, B, &r[1]), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, A, &r[2]), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, B, &r[3]), 0);
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, 16, A, &wpos, &wdata), 0);
	fill(wdata, 99, 16);
	CK_COUNTS(h, 2, 11, 4, 10);
	ck_assert_uint_eq(h->writing, 1);

	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, A), 2);
	CK_COUNTS(h, 4, 1 + 3 + 5 + 6, 2, 2 + 4);
	ck_assert_uint_eq(h->writing, 0);
	ck_assert_uint_eq(h->writing_bytes, 0);
	ck_assert_uint_eq(h->redelivered, 2);
	/* A's two back first, in their places; then the rest; never the
	 * unpublished write. */
	uint64_t want[] = { 0, 2, 4, 5 };
	uint32_t dlv[]  = { 2, 2, 1, 1 };
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(ipcqi_seg_take(&f.c, C, &t), 0);
		ck_assert_msg(same(t.data, want[i], t.len), "take %d", i);
		ck_assert_uint_eq(t.len, 1 + want[i]);
		ck_assert_uint_eq(t.deliveries, dlv[i]);
		ck_assert_int_eq(ack(&f.c, &t, C), 0);
	}
	ck_assert_int_eq(ipcqi_seg_take(&f.c, C, &t), IPCQ_ETIMEDOUT);
	/* A's old leases are gone; B's are untouched. */
	ck_assert_int_eq(ack(&f.c, &r[0], A), IPCQ_ENOLEASE);
	ck_assert_int_eq(ack(&f.c, &r[1], B), 0);
	ck_assert_int_eq(ack(&f.c, &r[3], B), 0);
	/* The discarded write's space is reclaimed with the rest. */
	ck_assert_uint_eq(h->head, h->tail);
	CK_COUNTS(h, 0, 0, 0, 0);
	CK_TOTALS(h, 6, 8, 6);
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, A), 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(return_holder_zero_returns_every_holders_leases_and_writes)
{
	fx             f;
	ipcqi_seg_ref  r;
	uint64_t       pos;
	unsigned char *d;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	for (uint64_t i = 0; i < 3; i++) {
		ck_assert_int_eq(put_seq(&f.c, i, 5), 0);
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 1 + i, &r), 0);
	}
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, 5, 7, &pos, &d), 0);
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, 6, 8, &pos, &d), 0);
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 0), 3);
	CK_COUNTS(f.c.hdr, 3, 15, 0, 0);
	ck_assert_uint_eq(f.c.hdr->writing, 0);
	ck_assert_uint_eq(f.c.hdr->writing_bytes, 0);
	for (uint64_t i = 0; i < 3; i++) {
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 9, &r), 0);
		ck_assert(same(r.data, i, 5));
		ck_assert_int_eq(ack(&f.c, &r, 9), 0);
	}
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

/* ---------------------------------------------------------- zero copy */

START_TEST(published_record_is_delivered_with_its_payload)
{
	fx             f;
	ipcqi_seg_hdr *h;
	uint64_t       pos, t0;
	unsigned char *d;
	ipcqi_seg_ref  r;

	fx_open(&f, IPCQ_FULL_FAIL);
	h = f.c.hdr;
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	t0 = h->tail;
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, 64, 7, &pos, &d), 0);
	ck_assert_uint_eq(pos, t0);
	ck_assert_uint_eq(h->tail - t0, 96);
	ck_assert_ptr_eq(d, f.c.ring + pos % T_RING + IPCQI_SEG_REC_BYTES);
	ck_assert_uint_eq(h->writing, 1);
	ck_assert_uint_eq(h->writing_bytes, 64);
	ck_assert_uint_eq(h->sent, 0);
	/* The loan counts against the bounds. */
	ck_assert_int_eq(ipcqi_seg_fits(&f.c, T_MAX_BYTES - 64), true);
	ck_assert_int_eq(ipcqi_seg_fits(&f.c, T_MAX_BYTES - 63), false);

	/* Written outside the lock by its holder. */
	ipcqi_seg_unlock(&f.c);
	fill(d, 5, 64);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);

	/* A put after the loan is deliverable before the loan is. */
	ck_assert_int_eq(put_seq(&f.c, 6, 3), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	ck_assert(same(r.data, 6, 3));
	ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), IPCQ_ETIMEDOUT);

	ck_assert_int_eq(ipcqi_seg_publish(&f.c, pos, 8, false), IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqi_seg_publish(&f.c, pos, 7, false), 0);
	ck_assert_uint_eq(h->writing, 0);
	ck_assert_uint_eq(h->writing_bytes, 0);
	CK_COUNTS(h, 1, 64, 0, 0);
	ck_assert_uint_eq(h->sent, 2);
	ck_assert_int_eq(ipcqi_seg_publish(&f.c, pos, 7, false), IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	ck_assert_uint_eq(r.pos, pos);
	ck_assert_uint_eq(r.len, 64);
	ck_assert(same(r.data, 5, 64));
	ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	ck_assert_uint_eq(h->head, h->tail);
	CK_TOTALS(h, 2, 2, 2);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(discarded_loan_is_never_delivered_and_its_space_reclaimed)
{
	fx             f;
	uint64_t       pos;
	unsigned char *d;
	ipcqi_seg_ref  r;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, 100, 7, &pos, &d), 0);
	ck_assert_int_eq(ipcqi_seg_publish(&f.c, pos, 7, true), 0);
	ck_assert_uint_eq(f.c.hdr->writing, 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), IPCQ_ETIMEDOUT);
	CK_TOTALS(f.c.hdr, 0, 0, 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(publish_after_return_holder_discarded_the_loan_is_enolease)
{
	fx             f;
	uint64_t       pos;
	unsigned char *d;
	ipcqi_seg_ref  r;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);

	/* Discarded and already reclaimed (the loan was the oldest). */
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, 20, 5, &pos, &d), 0);
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 5), 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ck_assert_int_eq(ipcqi_seg_publish(&f.c, pos, 5, false), IPCQ_ENOLEASE);
	ck_assert(!ipcqi_seg_corrupt(&f.c));

	/* Discarded, held back behind an older lease. */
	ck_assert_int_eq(put_seq(&f.c, 0, 3), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, 20, 5, &pos, &d), 0);
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 5), 0);
	ck_assert_uint_lt(pos, f.c.hdr->tail);
	ck_assert_int_eq(ipcqi_seg_publish(&f.c, pos, 5, false), IPCQ_ENOLEASE);
	ck_assert_int_eq(ipcqi_seg_publish(&f.c, pos, 5, true), IPCQ_ENOLEASE);
	ck_assert_uint_eq(f.c.hdr->writing, 0);
	ck_assert_uint_eq(f.c.hdr->sent, 1);
	ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ck_assert(!ipcqi_seg_corrupt(&f.c));
	ipcqi_seg_unlock(&f.c);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

/* ------------------------------------------------------ end of stream */

static void
check_empty_status(uint32_t qstate, int final)
{
	fx             f;
	ipcqi_seg_ref  mine, other;
	uint64_t       pos;
	unsigned char *d;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 0), IPCQI_WOULD_BLOCK);
	f.b.hdr->qstate = qstate;
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 0), final);

	/* Another holder's lease may come back: not final yet. */
	ck_assert_int_eq(put_seq(&f.c, 0, 1), 0);
	ck_assert_int_eq(put_seq(&f.c, 1, 1), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &mine), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 2, &other), 0);
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 1), IPCQI_WOULD_BLOCK);
	ck_assert_int_eq(ack(&f.c, &other, 2), 0);
	/* Only my own lease is out. */
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 1), final);
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 0), IPCQI_WOULD_BLOCK);

	/* A loan being written may still be published. */
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, 1, 3, &pos, &d), 0);
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 1), IPCQI_WOULD_BLOCK);
	ck_assert_int_eq(ipcqi_seg_publish(&f.c, pos, 3, true), 0);
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 1), final);
	ck_assert_int_eq(ack(&f.c, &mine, 1), 0);
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 0), final);

	f.b.hdr->qstate = 0;
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 0), IPCQI_WOULD_BLOCK);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}

START_TEST(empty_status_is_eof_only_when_ended_and_nothing_else_is_held)
{
	check_empty_status(IPCQI_QS_ENDED, IPCQ_EOF);
	check_empty_status(IPCQI_QS_ENDED | IPCQI_QS_CLOSED, IPCQ_EOF);
	/* Ended wins over abandoned: the end is final. */
	check_empty_status(IPCQI_QS_ENDED | IPCQI_QS_ABANDONED, IPCQ_EOF);
}
END_TEST

START_TEST(empty_status_is_eabandoned_only_when_abandoned_and_nothing_held)
{
	check_empty_status(IPCQI_QS_ABANDONED, IPCQ_EABANDONED);
}
END_TEST

void seg_add_lease_tests(Suite *s);

void
seg_add_lease_tests(Suite *s)
{
	TCase *t;

	t = tcase_create("leases");
	tcase_add_test(t,
	    requeued_message_is_delivered_again_before_newer_ones);
	tcase_add_test(t,
	    finish_with_a_wrong_holder_lease_or_position_is_enolease);
	tcase_add_test(t,
	    return_holder_gives_back_only_that_holders_leases_in_order);
	tcase_add_test(t,
	    return_holder_zero_returns_every_holders_leases_and_writes);
	suite_add_tcase(s, t);

	t = tcase_create("zero_copy");
	tcase_add_test(t, published_record_is_delivered_with_its_payload);
	tcase_add_test(t,
	    discarded_loan_is_never_delivered_and_its_space_reclaimed);
	tcase_add_test(t,
	    publish_after_return_holder_discarded_the_loan_is_enolease);
	suite_add_tcase(s, t);

	t = tcase_create("end_of_stream");
	tcase_add_test(t,
	    empty_status_is_eof_only_when_ended_and_nothing_else_is_held);
	tcase_add_test(t,
	    empty_status_is_eabandoned_only_when_abandoned_and_nothing_held);
	suite_add_tcase(s, t);
}
