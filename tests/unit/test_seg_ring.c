/*
 * unit.seg: wrap-around and bounds (see test_seg.c).
 */
#include "seg_fixture.h"

/* --------------------------------------------------------------- wrap */

START_TEST(thousands_of_in_order_cycles_wrap_the_ring_byte_exact)
{
	fx             f;
	ipcqi_seg_hdr *h;
	uint64_t       rng = 0x9e3779b97f4a7c15ull;
	uint32_t       lens[64];
	ipcqi_seg_ref  held[T_MAX_MESSAGES];
	size_t         nheld = 0;
	uint64_t       nsent = 0, ntaken = 0, nacked = 0, pads = 0;

	fx_open(&f, IPCQ_FULL_FAIL);
	h = f.c.hdr;
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	for (int it = 0; it < 20000; it++) {
		int nput = (int) (rng_next(&rng) % 5);
		for (int j = 0; j < nput; j++) {
			uint32_t len = (uint32_t) (rng_next(&rng) %
			    (T_MAX_MSG + 1));
			uint64_t n   = h->ready + h->leased;
			uint64_t by  = h->ready_bytes + h->leased_bytes;
			bool     ok  = n + 1 <= T_MAX_MESSAGES &&
			    by + len <= T_MAX_BYTES;
			uint64_t t0 = h->tail;

			/* Acked in order, only the bounds decide. */
			ck_assert_int_eq(ipcqi_seg_fits(&f.c, len), ok);
			if (!ok) {
				break;
			}
			ck_assert_int_eq(put_seq(&f.c, nsent, len), 0);
			if (h->tail - t0 != size_for(len)) {
				ck_assert_uint_eq(h->tail % T_RING,
				    size_for(len));
				pads++;
			}
			lens[nsent % 64] = len;
			nsent++;
		}
		int ntake = (int) (rng_next(&rng) % 5);
		for (int j = 0; j < ntake && nheld < T_MAX_MESSAGES; j++) {
			ipcqi_seg_ref *r = &held[nheld];
			int            rv = ipcqi_seg_take(&f.c, 1, r);

			if (rv == IPCQ_ETIMEDOUT) {
				ck_assert_uint_eq(ntaken, nsent);
				break;
			}
			ck_assert_int_eq(rv, 0);
			ck_assert_uint_eq(r->len, lens[ntaken % 64]);
			ck_assert_uint_eq(r->deliveries, 1);
			CK_IN_RING(&f.c, *r);
			ck_assert_msg(same(r->data, ntaken, r->len),
			    "payload of message %llu",
			    (unsigned long long) ntaken);
			ntaken++;
			nheld++;
		}
		/* Ack the oldest leases first. */
		size_t nack = (size_t) (rng_next(&rng) % (nheld + 1));
		for (size_t j = 0; j < nack; j++) {
			ck_assert_int_eq(ack(&f.c, &held[j], 1), 0);
		}
		memmove(held, held + nack, (nheld - nack) * sizeof(held[0]));
		nheld -= nack;
		nacked += nack;
		ck_assert_uint_le(h->tail - h->head, T_RING);
	}
	for (size_t j = 0; j < nheld; j++) {
		ck_assert_int_eq(ack(&f.c, &held[j], 1), 0);
		nacked++;
	}
	while (ntaken < nsent) {
		ipcqi_seg_ref r;
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
		ck_assert(same(r.data, ntaken, r.len));
		ck_assert_int_eq(ack(&f.c, &r, 1), 0);
		ntaken++;
		nacked++;
	}
	ck_assert_uint_eq(nacked, nsent);
	ck_assert_uint_gt(nsent, 10000);
	ck_assert_uint_gt(h->tail / T_RING, 1000); /* wrapped many times */
	ck_assert_uint_gt(pads, 100);
	ck_assert_uint_eq(h->head, h->tail);
	CK_COUNTS(h, 0, 0, 0, 0);
	CK_TOTALS(h, nsent, nsent, nsent);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

/* Per message of the model: 0 unsent, READY, LEASED, DONE. */
enum { M_READY = 1, M_LEASED, M_DONE };

typedef struct held_msg {
	ipcqi_seg_ref ref;
	uint64_t      seq;
	uint64_t      holder;
} held_msg;

START_TEST(random_acks_and_requeues_wrap_the_ring_in_message_order)
{
	enum { ITERS = 20000, MAXSEQ = 4 * ITERS + 16 };
	fx             f;
	ipcqi_seg_hdr *h;
	uint64_t       rng = 42;
	uint8_t       *st  = calloc(MAXSEQ, 1);
	uint32_t      *len = calloc(MAXSEQ, sizeof(uint32_t));
	uint32_t      *dlv = calloc(MAXSEQ, sizeof(uint32_t));
	held_msg       held[T_MAX_MESSAGES];
	size_t         nheld = 0;
	uint64_t       nsent = 0, lo = 0, takes = 0, acks = 0, requeues = 0;

	ck_assert(st != NULL && len != NULL && dlv != NULL);
	fx_open(&f, IPCQ_FULL_FAIL);
	h = f.c.hdr;
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	for (int it = 0; it < ITERS || nheld > 0 || lo < nsent; it++) {
		int nput = it < ITERS ? (int) (rng_next(&rng) % 4) : 0;
		for (int j = 0; j < nput; j++) {
			uint32_t l = (uint32_t) (rng_next(&rng) %
			    (T_MAX_MSG + 1));
			if (!ipcqi_seg_fits(&f.c, l)) {
				/* Fits implies the bounds; not the converse:
				 * acks out of order hold head back. */
				break;
			}
			ck_assert_uint_le(h->ready + h->leased + 1,
			    T_MAX_MESSAGES);
			ck_assert_uint_le(h->ready_bytes + h->leased_bytes + l,
			    T_MAX_BYTES);
			ck_assert_int_eq(put_seq(&f.c, nsent, l), 0);
			len[nsent] = l;
			st[nsent]  = M_READY;
			nsent++;
		}
		int ntake = (int) (rng_next(&rng) % 4);
		for (int j = 0; j < ntake && nheld < T_MAX_MESSAGES; j++) {
			held_msg *m = &held[nheld];
			int       rv;

			while (lo < nsent && st[lo] != M_READY) {
				lo++;
			}
			m->holder = 1 + rng_next(&rng) % 3;
			rv        = ipcqi_seg_take(&f.c, m->holder, &m->ref);
			if (lo == nsent) {
				ck_assert_int_eq(rv, IPCQ_ETIMEDOUT);
				break;
			}
			ck_assert_int_eq(rv, 0);
			/* The oldest ready message, requeued ones included. */
			m->seq = lo;
			ck_assert_uint_eq(m->ref.len, len[lo]);
			ck_assert_uint_eq(m->ref.deliveries, ++dlv[lo]);
			CK_IN_RING(&f.c, m->ref);
			ck_assert_msg(same(m->ref.data, lo, m->ref.len),
			    "payload of message %llu", (unsigned long long) lo);
			st[lo] = M_LEASED;
			takes++;
			nheld++;
		}
		int nfin = (int) (rng_next(&rng) % 4);
		for (int j = 0; j < nfin && nheld > 0; j++) {
			size_t    k  = (size_t) (rng_next(&rng) % nheld);
			held_msg *m  = &held[k];
			bool      rq = rng_next(&rng) % 8 == 0 && it < ITERS;

			ck_assert_int_eq(ipcqi_seg_finish(&f.c, m->ref.pos,
			                     m->ref.lease, m->holder, rq),
			    0);
			if (rq) {
				st[m->seq] = M_READY;
				if (m->seq < lo) {
					lo = m->seq;
				}
				requeues++;
			} else {
				st[m->seq] = M_DONE;
				acks++;
			}
			held[k] = held[--nheld];
		}
		ck_assert_uint_le(h->tail - h->head, T_RING);
		ck_assert_uint_le(h->ready + h->leased, T_MAX_MESSAGES);
	}
	ck_assert_uint_gt(nsent, 10000);
	ck_assert_uint_gt(requeues, 1000);
	ck_assert_uint_gt(h->tail / T_RING, 1000);
	ck_assert_uint_eq(acks, nsent);
	ck_assert_uint_eq(h->head, h->tail);
	CK_COUNTS(h, 0, 0, 0, 0);
	CK_TOTALS(h, nsent, takes, nsent);
	ck_assert_uint_eq(h->redelivered, requeues);
	ck_assert_uint_eq(takes, nsent + requeues);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
	free(st);
	free(len);
	free(dlv);
}
END_TEST

/* ------------------------------------------------------------- bounds */


START_TEST(admit_under_block_policy_would_block_when_full)
{
	fx                f;
	unsigned char     buf[T_MAX_MSG];
	ipcqi_seg_payload p[10];
	size_t            acc = 0;
	ipcqi_seg_ref     r;

	memset(buf, 'b', sizeof(buf));
	for (int i = 0; i < 10; i++) {
		p[i] = pl(buf, 4);
	}
	fx_open(&f, IPCQ_FULL_BLOCK);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 10, &acc), IPCQI_WOULD_BLOCK);
	ck_assert_uint_eq(acc, 8);
	CK_COUNTS(f.c.hdr, 8, 32, 0, 0);
	/* A lease still counts against the bound. */
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 10, &acc), IPCQI_WOULD_BLOCK);
	ck_assert_uint_eq(acc, 8);
	ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 10, &acc), IPCQI_WOULD_BLOCK);
	ck_assert_uint_eq(acc, 9);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 10, &acc), 0);
	ck_assert_uint_eq(acc, 10);
	CK_TOTALS(f.c.hdr, 10, 2, 2);

	/* The byte bound: 2 x 200 in, a third would make 600 > 512. */
	ck_assert_uint_eq(ipcqi_seg_purge(&f.c), 8);
	acc  = 0;
	p[0] = p[1] = p[2] = pl(buf, T_MAX_MSG);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 3, &acc), IPCQI_WOULD_BLOCK);
	ck_assert_uint_eq(acc, 2);
	CK_COUNTS(f.c.hdr, 2, 400, 0, 0);
	ck_assert_uint_eq(f.c.hdr->dropped, 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(admit_under_fail_policy_fails_with_efull)
{
	fx                f;
	unsigned char     buf[T_MAX_MSG];
	ipcqi_seg_payload p[9];
	size_t            acc = 0;

	memset(buf, 'f', sizeof(buf));
	for (int i = 0; i < 9; i++) {
		p[i] = pl(buf, 0);
	}
	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 9, &acc), IPCQ_EFULL);
	ck_assert_uint_eq(acc, 8);
	CK_COUNTS(f.c.hdr, 8, 0, 0, 0);
	ck_assert_uint_eq(ipcqi_seg_purge(&f.c), 8);
	ck_assert_uint_eq(f.c.hdr->purged, 8);
	ck_assert_uint_eq(f.c.hdr->dropped, 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);

	acc  = 0;
	p[0] = pl(buf, 200);
	p[1] = pl(buf, 200);
	p[2] = pl(buf, 113); /* 513 > 512 */
	p[3] = pl(buf, 112);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 3, &acc), IPCQ_EFULL);
	ck_assert_uint_eq(acc, 2);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p + 3, 1, &(size_t){ 0 }), 0);
	CK_COUNTS(f.c.hdr, 3, 512, 0, 0);
	CK_TOTALS(f.c.hdr, 11, 0, 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(admit_under_drop_oldest_drops_exactly_the_oldest_ready)
{
	fx                f;
	ipcqi_seg_payload p[3];
	size_t            acc = 0;
	ipcqi_seg_ref     m0, r;
	unsigned char     n[3][4];

	fx_open(&f, IPCQ_FULL_DROP_OLDEST);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	for (uint64_t i = 0; i < 8; i++) {
		ck_assert_int_eq(put_seq(&f.c, i, 4), 0);
	}
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &m0), 0);
	ck_assert(same(m0.data, 0, 4));
	for (int i = 0; i < 3; i++) {
		fill(n[i], 100 + (uint64_t) i, 4);
		p[i] = pl(n[i], 4);
	}
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 3, &acc), 0);
	ck_assert_uint_eq(acc, 3);
	/* m1, m2, m3 dropped; the leased m0 is not a candidate. */
	ck_assert_uint_eq(f.c.hdr->dropped, 3);
	CK_COUNTS(f.c.hdr, 7, 28, 1, 4);
	CK_TOTALS(f.c.hdr, 11, 1, 0);
	uint64_t want[] = { 4, 5, 6, 7, 100, 101, 102 };
	for (size_t i = 0; i < 7; i++) {
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 2, &r), 0);
		ck_assert_msg(same(r.data, want[i], 4), "message %zu", i);
		ck_assert_uint_eq(r.deliveries, 1);
	}
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 2, &r), IPCQ_ETIMEDOUT);

	/* Everything leased: nothing to drop. */
	acc = 0;
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 1, &acc), IPCQ_EFULL);
	ck_assert_uint_eq(acc, 0);
	ck_assert_uint_eq(f.c.hdr->dropped, 3);
	CK_COUNTS(f.c.hdr, 0, 0, 8, 32);
	CK_TOTALS(f.c.hdr, 11, 8, 0);
	ck_assert_uint_eq(f.c.hdr->purged, 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(admit_under_drop_oldest_drops_for_the_byte_bound)
{
	fx                f;
	unsigned char     big[T_MAX_MSG] = { 0 };
	ipcqi_seg_payload p = pl(big, 150);
	size_t            acc = 0;
	ipcqi_seg_ref     r;

	fill(big, 9, sizeof(big));
	fx_open(&f, IPCQ_FULL_DROP_OLDEST);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(put_seq(&f.c, 0, 200), 0);
	ck_assert_int_eq(put_seq(&f.c, 1, 10), 0);
	ck_assert_int_eq(put_seq(&f.c, 2, 200), 0);
	/* 410 + 150 > 512: dropping m0 (200) is enough. */
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, &p, 1, &acc), 0);
	ck_assert_uint_eq(f.c.hdr->dropped, 1);
	CK_COUNTS(f.c.hdr, 3, 360, 0, 0);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
	ck_assert(same(r.data, 1, 10));
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(admit_after_the_end_fails_with_eclosed)
{
	fx                f;
	ipcqi_seg_payload p = pl("x", 1);
	size_t            acc = 0;

	fx_open(&f, IPCQ_FULL_BLOCK);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, &p, 1, &acc), 0);
	f.b.hdr->qstate |= IPCQI_QS_ENDED; /* the broker ends the queue */
	acc = 0;
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, &p, 1, &acc), IPCQ_ECLOSED);
	ck_assert_uint_eq(acc, 0);
	f.b.hdr->qstate |= IPCQI_QS_CLOSED;
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, &p, 1, &acc), IPCQ_ECLOSED);
	CK_COUNTS(f.c.hdr, 1, 1, 0, 0);
	ck_assert_uint_eq(f.c.hdr->sent, 1);
	/* Abandoned alone does not refuse sends. */
	f.b.hdr->qstate = IPCQI_QS_ABANDONED;
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, &p, 1, &acc), 0);
	ck_assert_uint_eq(acc, 1);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(oversize_message_is_emsgsize_and_nothing_after_it_goes_in)
{
	fx                f;
	unsigned char     buf[T_MAX_MSG + 1] = { 0 };
	ipcqi_seg_payload p[3] = { pl(buf, 1), pl(buf, T_MAX_MSG + 1),
		pl(buf, 1) };
	size_t            acc = 0;
	uint64_t          pos;
	unsigned char    *d;

	fx_open(&f, IPCQ_FULL_DROP_OLDEST);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 3, &acc), IPCQ_EMSGSIZE);
	ck_assert_uint_eq(acc, 1);
	/* A length past 32 bits is not cut down to a small one. */
	p[1] = pl(buf, (size_t) UINT32_MAX + 2);
	ck_assert_int_eq(ipcqi_seg_admit(&f.c, p, 3, &acc), IPCQ_EMSGSIZE);
	ck_assert_uint_eq(acc, 1);
	ck_assert_int_eq(ipcqi_seg_put(&f.c, buf, T_MAX_MSG + 1),
	    IPCQ_EMSGSIZE);
	ck_assert_int_eq(ipcqi_seg_reserve(&f.c, T_MAX_MSG + 1, 1, &pos, &d),
	    IPCQ_EMSGSIZE);
	ck_assert_int_eq(ipcqi_seg_put(&f.c, buf, T_MAX_MSG), 0);
	CK_COUNTS(f.c.hdr, 2, 1 + T_MAX_MSG, 0, 0);
	ck_assert_uint_eq(f.c.hdr->writing, 0);
	ck_assert_uint_eq(f.c.hdr->dropped, 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

void seg_add_ring_tests(Suite *s);

void
seg_add_ring_tests(Suite *s)
{
	TCase *t;

	t = tcase_create("wrap");
	tcase_set_timeout(t, TH_CASE_TIMEOUT);
	tcase_add_test(t,
	    thousands_of_in_order_cycles_wrap_the_ring_byte_exact);
	tcase_add_test(t,
	    random_acks_and_requeues_wrap_the_ring_in_message_order);
	suite_add_tcase(s, t);

	t = tcase_create("bounds");
	tcase_add_test(t, admit_under_block_policy_would_block_when_full);
	tcase_add_test(t, admit_under_fail_policy_fails_with_efull);
	tcase_add_test(t,
	    admit_under_drop_oldest_drops_exactly_the_oldest_ready);
	tcase_add_test(t, admit_under_drop_oldest_drops_for_the_byte_bound);
	tcase_add_test(t, admit_after_the_end_fails_with_eclosed);
	tcase_add_test(t,
	    oversize_message_is_emsgsize_and_nothing_after_it_goes_in);
	suite_add_tcase(s, t);
}
