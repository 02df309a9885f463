/*
 * unit.seg: lock-owner death and scribbled segments (see test_seg.c).
 */
#include "seg_fixture.h"

/* -------------------------------------------------------------- crash */


static void
lie_about_ready(ipcqi_seg *s)
{
	s->hdr->ready += 5;
	s->hdr->ready_bytes += 1000;
	s->hdr->leased += 3;
	s->hdr->writing += 2;
	s->hdr->scan = s->hdr->tail; /* and hide the ready ones */
}

START_TEST(lock_owner_death_is_recovered_and_the_counters_recomputed)
{
	fx            f;
	ipcqi_seg_ref r, l;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	for (uint64_t i = 0; i < 4; i++) {
		ck_assert_int_eq(put_seq(&f.c, i, 10 + (uint32_t) i), 0);
	}
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &l), 0);
	ipcqi_seg_unlock(&f.c);

	die_holding_the_lock(&f, NULL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	CK_COUNTS(f.c.hdr, 3, 11 + 12 + 13, 1, 10);
	ipcqi_seg_unlock(&f.c);

	die_holding_the_lock(&f, lie_about_ready);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	CK_COUNTS(f.c.hdr, 3, 11 + 12 + 13, 1, 10);
	ck_assert_uint_eq(f.c.hdr->writing, 0);
	ck_assert_uint_eq(f.c.hdr->scan, l.pos + size_for(10));
	/* And the queue works on. */
	for (uint64_t i = 1; i < 4; i++) {
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
		ck_assert(same(r.data, i, 10 + (uint32_t) i));
		ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	}
	ck_assert_int_eq(ack(&f.c, &l, 1), 0);
	ck_assert_int_eq(put_seq(&f.c, 9, 9), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	ck_assert(same(r.data, 9, 9));
	ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	CK_COUNTS(f.c.hdr, 0, 0, 0, 0);
	ipcqi_seg_unlock(&f.c);
	/* The mutex is consistent again: a plain lock. */
	ck_assert_int_eq(ipcqi_seg_lock(&f.b), 0);
	ipcqi_seg_unlock(&f.b);
	fx_close(&f);
}
END_TEST

/* Dies after a put has moved tail but before it counted the message. */
static void
put_then_die_before_counting(ipcqi_seg *s)
{
	if (put_seq(s, 77, 50) != 0) {
		_exit(3);
	}
	s->hdr->ready--;
	s->hdr->ready_bytes -= 50;
}

/* Dies holding a loan it has not published. */
static void
reserve_then_die(ipcqi_seg *s)
{
	uint64_t       pos;
	unsigned char *d;

	if (ipcqi_seg_reserve(s, 30, 99, &pos, &d) != 0) {
		_exit(3);
	}
	s->hdr->writing = 0; /* half-way through counting it */
}

START_TEST(a_put_cut_short_by_death_is_counted_and_delivered_whole)
{
	fx            f;
	ipcqi_seg_ref r;

	fx_open(&f, IPCQ_FULL_FAIL);
	die_holding_the_lock(&f, put_then_die_before_counting);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	CK_COUNTS(f.c.hdr, 1, 50, 0, 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	ck_assert_uint_eq(r.len, 50);
	ck_assert(same(r.data, 77, 50));
	ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(a_dead_writers_loan_waits_for_holder_clean_up)
{
	fx            f;
	ipcqi_seg_ref r;

	fx_open(&f, IPCQ_FULL_FAIL);
	die_holding_the_lock(&f, reserve_then_die);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_uint_eq(f.c.hdr->writing, 1);
	ck_assert_uint_eq(f.c.hdr->writing_bytes, 30);
	f.b.hdr->qstate = IPCQI_QS_ENDED;
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 0), IPCQI_WOULD_BLOCK);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), IPCQ_ETIMEDOUT);
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 99), 0);
	ck_assert_uint_eq(f.c.hdr->writing, 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ck_assert_int_eq(ipcqi_seg_empty_status(&f.c, 0), IPCQ_EOF);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

static void
scribble_head_past_tail(ipcqi_seg *s)
{
	s->hdr->head = s->hdr->tail + 32;
}

START_TEST(lock_owner_death_over_a_corrupt_ring_quarantines_for_good)
{
	fx f;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(put_seq(&f.c, 0, 10), 0);
	ipcqi_seg_unlock(&f.c);
	die_holding_the_lock(&f, scribble_head_past_tail);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), IPCQ_ECORRUPT);
	ck_assert(ipcqi_seg_corrupt(&f.c));
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), IPCQ_ECORRUPT);
	ck_assert_int_eq(ipcqi_seg_lock(&f.b), IPCQ_ECORRUPT);
	/* Undoing the scribble does not bring it back. */
	f.b.hdr->head = 0;
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), IPCQ_ECORRUPT);
	fx_close(&f);
}
END_TEST

/* ----------------------------------------------------------- scribble */

/* A segment with a one-page ring (guard page after it) holding three
 * READY records: 10 bytes at 0 (size 64), 50 at 64 (96), 200 at 160
 * (256); tail 416. The lock is held. */
static void
sc_open(fx *f)
{
	ipcqi_seg_params p =
	    params(T_MAX_MESSAGES, G_MAX_BYTES, T_MAX_MSG, IPCQ_FULL_FAIL);

	fx_open_with(f, &p);
	ck_assert_uint_eq(f->c.ring_bytes, G_RING);
	ck_assert_int_eq(ipcqi_seg_lock(&f->c), 0);
	ck_assert_int_eq(put_seq(&f->c, 0, 10), 0);
	ck_assert_int_eq(put_seq(&f->c, 1, 50), 0);
	ck_assert_int_eq(put_seq(&f->c, 2, 200), 0);
	ck_assert_uint_eq(f->c.hdr->tail, 416);
}

static ipcqi_seg_rec *
sc_rec(fx *f, uint64_t pos)
{
	return (ipcqi_seg_rec *) (void *) (f->b.ring + pos % f->b.ring_bytes);
}

/* rv is IPCQ_ECORRUPT, the segment is quarantined, and the lock refuses
 * from then on. Closes the fixture (the lock is held on entry). */
#define CK_QUARANTINED(f, rv)                                               \
	do {                                                                \
		ck_assert_int_eq((rv), IPCQ_ECORRUPT);                      \
		ck_assert(ipcqi_seg_corrupt(&(f)->c));                      \
		ipcqi_seg_unlock(&(f)->c);                                  \
		ck_assert_int_eq(ipcqi_seg_lock(&(f)->c), IPCQ_ECORRUPT);   \
		ck_assert_int_eq(ipcqi_seg_lock(&(f)->b), IPCQ_ECORRUPT);   \
		fx_close(f);                                                \
	} while (0)

static int
sc_take(fx *f)
{
	ipcqi_seg_ref r;

	return ipcqi_seg_take(&f->c, 1, &r);
}

START_TEST(record_with_a_bad_size_is_ecorrupt)
{
	static const uint32_t sizes[] = { 0, 16, 33, 65, 4096, 4128,
		0xffffffe0u, 0xffffffffu };
	fx                    f;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sc_open(&f);
		sc_rec(&f, 0)->size = sizes[i];
		CK_QUARANTINED(&f, sc_take(&f));
	}
	/* A size past tail, for the last record. */
	sc_open(&f);
	sc_rec(&f, 160)->size = 288;
	CK_QUARANTINED(&f, ipcqi_seg_repair(&f.c));
	/* A size that lands inside the next record's payload. */
	sc_open(&f);
	memset(f.b.ring + 64 + 32, 0, 50);
	sc_rec(&f, 0)->size = 96;
	CK_QUARANTINED(&f, ipcqi_seg_repair(&f.c));
}
END_TEST

START_TEST(record_with_a_bad_state_is_ecorrupt)
{
	static const uint32_t states[] = { 0, 6, 0x80000002u, 0xffffffffu };
	fx                    f;

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		sc_open(&f);
		sc_rec(&f, 0)->state = states[i];
		CK_QUARANTINED(&f, sc_take(&f));
	}
	sc_open(&f);
	sc_rec(&f, 64)->state = 0;
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 0), 0);
	CK_QUARANTINED(&f, IPCQ_ECORRUPT);
}
END_TEST

START_TEST(record_with_a_bad_len_is_ecorrupt)
{
	fx            f;
	ipcqi_seg_ref r;

	/* Longer than its record. */
	sc_open(&f);
	sc_rec(&f, 0)->len = 33;
	CK_QUARANTINED(&f, sc_take(&f));
	sc_open(&f);
	sc_rec(&f, 0)->len = 0xffffffffu;
	CK_QUARANTINED(&f, sc_take(&f));
	/* Fits its record but exceeds max_message_bytes. */
	sc_open(&f);
	sc_rec(&f, 160)->len = 224;
	CK_QUARANTINED(&f, ipcqi_seg_repair(&f.c));
	/* Scribbled while leased: the ack finds it. */
	sc_open(&f);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	sc_rec(&f, r.pos)->len = 64;
	CK_QUARANTINED(&f, ack(&f.c, &r, 1));
}
END_TEST

START_TEST(head_after_tail_is_ecorrupt)
{
	fx             f;
	uint64_t       pos;
	unsigned char *d;

	sc_open(&f);
	f.b.hdr->head = f.b.hdr->tail + 32;
	CK_QUARANTINED(&f, ipcqi_seg_put(&f.c, "x", 1));
	sc_open(&f);
	f.b.hdr->head = f.b.hdr->tail + 32;
	CK_QUARANTINED(&f, sc_take(&f));
	sc_open(&f);
	f.b.hdr->head = UINT64_MAX - 31;
	CK_QUARANTINED(&f, ipcqi_seg_reserve(&f.c, 1, 1, &pos, &d));
	sc_open(&f);
	f.b.hdr->head = f.b.hdr->tail + 32;
	CK_QUARANTINED(&f, ipcqi_seg_repair(&f.c));
}
END_TEST

/* A sender must learn of the corruption, not wait for space or read
 * "full": under every policy. */
START_TEST(admit_over_scribbled_bounds_is_ecorrupt_not_full)
{
	static const int policies[] = { IPCQ_FULL_BLOCK, IPCQ_FULL_FAIL,
		IPCQ_FULL_DROP_OLDEST };
	ipcqi_seg_payload p = pl("x", 1);

	for (size_t i = 0; i < 3; i++) {
		fx     f;
		size_t acc = 0;

		sc_open(&f);
		f.c.full_policy = policies[i]; /* the trusted local copy */
		f.b.hdr->head   = f.b.hdr->tail + 32;
		CK_QUARANTINED(&f, ipcqi_seg_admit(&f.c, &p, 1, &acc));
		ck_assert_uint_eq(acc, 0);

		sc_open(&f);
		f.c.full_policy = policies[i];
		f.b.hdr->tail   = f.b.hdr->head + G_RING + 32;
		CK_QUARANTINED(&f, ipcqi_seg_admit(&f.c, &p, 1, &acc));
	}
}
END_TEST

/* Nothing ready by the counters, but head and tail scribbled: a
 * consumer must not go to sleep on it. */
START_TEST(take_over_scribbled_bounds_is_ecorrupt_not_empty)
{
	fx f;

	sc_open(&f);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(sc_take(&f), 0);
	}
	ck_assert_uint_eq(f.c.hdr->ready, 0);
	f.b.hdr->head = f.b.hdr->tail + 32;
	CK_QUARANTINED(&f, sc_take(&f));
}
END_TEST

START_TEST(tail_far_beyond_head_is_ecorrupt)
{
	fx            f;
	ipcqi_seg_ref r;

	sc_open(&f);
	f.b.hdr->tail = f.b.hdr->head + 100ull * G_RING;
	CK_QUARANTINED(&f, ipcqi_seg_put(&f.c, "x", 1));
	sc_open(&f);
	f.b.hdr->tail = f.b.hdr->head + G_RING + 32;
	CK_QUARANTINED(&f, sc_take(&f));
	sc_open(&f);
	f.b.hdr->tail = UINT64_MAX - 31;
	CK_QUARANTINED(&f, ipcqi_seg_repair(&f.c));
	/* An ack's reclaim walk stops too. */
	sc_open(&f);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	f.b.hdr->tail = f.b.hdr->head + 100ull * G_RING;
	CK_QUARANTINED(&f, ack(&f.c, &r, 1));
}
END_TEST

START_TEST(ack_never_walks_a_ring_of_stale_records_past_a_far_tail)
{
	fx            f;
	ipcqi_seg_ref r;

	/* Fill the whole ring with finished 64-byte records, so that every
	 * header from head on looks valid and DONE: a walk bounded only by
	 * a scribbled tail would go round for ever. */
	sc_open(&f);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
		ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	}
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	/* Up to the ring's end: 64-byte records, a 32-byte one last. */
	while (f.c.hdr->tail % G_RING != 0) {
		uint64_t left = G_RING - f.c.hdr->tail % G_RING;
		uint32_t len  = left >= 64 ? 32 : 0;
		ck_assert_int_eq(put_seq(&f.c, 0, len), 0);
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
		ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	}
	for (int i = 0; i < 2 * (int) (G_RING / 64); i++) {
		ck_assert_int_eq(put_seq(&f.c, 0, 32), 0);
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
		ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	}
	ck_assert_int_eq(put_seq(&f.c, 0, 32), 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	f.b.hdr->tail = f.b.hdr->head + (1ull << 60);
	CK_QUARANTINED(&f, ack(&f.c, &r, 1));
}
END_TEST

START_TEST(unaligned_head_or_tail_is_ecorrupt)
{
	fx f;

	sc_open(&f);
	f.b.hdr->tail += 8;
	CK_QUARANTINED(&f, ipcqi_seg_put(&f.c, "x", 1));
	sc_open(&f);
	f.b.hdr->head = 16;
	CK_QUARANTINED(&f, sc_take(&f));
	sc_open(&f);
	f.b.hdr->tail -= 1;
	CK_QUARANTINED(&f, ipcqi_seg_repair(&f.c));
}
END_TEST

START_TEST(scan_or_ready_count_that_lies_is_ecorrupt)
{
	fx f;

	/* scan past tail: the ready records cannot be found. */
	sc_open(&f);
	f.b.hdr->scan = f.b.hdr->tail + 64;
	CK_QUARANTINED(&f, sc_take(&f));
	/* scan off the record grid. */
	sc_open(&f);
	f.b.hdr->scan = 8;
	CK_QUARANTINED(&f, sc_take(&f));
	/* More ready than there are. */
	sc_open(&f);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(sc_take(&f), 0);
	}
	f.b.hdr->ready = 1;
	CK_QUARANTINED(&f, sc_take(&f));
}
END_TEST

START_TEST(bad_pad_record_is_ecorrupt)
{
	fx f;

	/* A PAD that claims to reach past the ring's end. */
	sc_open(&f);
	sc_rec(&f, 0)->state = IPCQI_REC_PAD;
	sc_rec(&f, 0)->size  = G_RING;
	CK_QUARANTINED(&f, sc_take(&f));
}
END_TEST

void seg_add_crash_tests(Suite *s);

void
seg_add_crash_tests(Suite *s)
{
	TCase *t;

	t = tcase_create("crash");
	tcase_add_test(t,
	    lock_owner_death_is_recovered_and_the_counters_recomputed);
	tcase_add_test(t,
	    a_put_cut_short_by_death_is_counted_and_delivered_whole);
	tcase_add_test(t, a_dead_writers_loan_waits_for_holder_clean_up);
	tcase_add_test(t,
	    lock_owner_death_over_a_corrupt_ring_quarantines_for_good);
	suite_add_tcase(s, t);

	t = tcase_create("scribble");
	tcase_set_timeout(t, TH_CASE_TIMEOUT);
	tcase_add_test(t, record_with_a_bad_size_is_ecorrupt);
	tcase_add_test(t, record_with_a_bad_state_is_ecorrupt);
	tcase_add_test(t, record_with_a_bad_len_is_ecorrupt);
	tcase_add_test(t, head_after_tail_is_ecorrupt);
	tcase_add_test(t, tail_far_beyond_head_is_ecorrupt);
	tcase_add_test(t, admit_over_scribbled_bounds_is_ecorrupt_not_full);
	tcase_add_test(t, take_over_scribbled_bounds_is_ecorrupt_not_empty);
	tcase_add_test(t,
	    ack_never_walks_a_ring_of_stale_records_past_a_far_tail);
	tcase_add_test(t, unaligned_head_or_tail_is_ecorrupt);
	tcase_add_test(t, scan_or_ready_count_that_lies_is_ecorrupt);
	tcase_add_test(t, bad_pad_record_is_ecorrupt);
	suite_add_tcase(s, t);
}
