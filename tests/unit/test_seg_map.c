/*
 * unit.seg: mapping and header checks, FIFO (see test_seg.c).
 */
#include "seg_fixture.h"

/* ------------------------------------------------------------ mapping */

START_TEST(map_of_a_created_segment_validates_and_shares_state)
{
	fx          f;
	struct stat st;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(fstat(f.fd, &st), 0);
	ck_assert_int_eq(st.st_size, IPCQI_SEG_HDR_BYTES + T_RING);
	ck_assert_uint_eq(f.c.seg_bytes, IPCQI_SEG_HDR_BYTES + T_RING);
	ck_assert_uint_eq(f.c.max_messages, T_MAX_MESSAGES);
	ck_assert_uint_eq(f.c.max_bytes, T_MAX_BYTES);
	ck_assert_uint_eq(f.c.max_message_bytes, T_MAX_MSG);
	ck_assert_int_eq(f.c.full_policy, IPCQ_FULL_FAIL);
	ck_assert_uint_eq(f.c.hdr->magic, IPCQI_SEG_MAGIC);
	ck_assert_uint_eq(f.c.hdr->version, IPCQI_SEG_VERSION);
	ck_assert_uint_eq(f.c.hdr->broker_tag, 0x1234);
	ck_assert_uint_eq(f.c.hdr->queue_id, 7);
	ck_assert_str_eq(f.c.hdr->name, "jobs");
	ck_assert_uint_eq(f.c.hdr->next_lease, 1);

	/* A put through one mapping is taken through the other. */
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(put_seq(&f.c, 1, 10), 0);
	ipcqi_seg_unlock(&f.c);
	ck_assert_int_eq(ipcqi_seg_lock(&f.b), 0);
	ipcqi_seg_ref ref;
	ck_assert_int_eq(ipcqi_seg_take(&f.b, 1, &ref), 0);
	ck_assert_uint_eq(ref.len, 10);
	ck_assert(same(ref.data, 1, 10));
	ipcqi_seg_unlock(&f.b);

	/* No name wanted: any name will do. */
	ipcqi_seg other;
	ck_assert_int_eq(ipcqi_seg_map(&other, f.fd, NULL), 0);
	ipcqi_seg_unmap(&other);
	fx_close(&f);
}
END_TEST

START_TEST(map_with_another_queue_name_is_ecorrupt)
{
	fx        f;
	ipcqi_seg s;

	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_map(&s, f.fd, "job"), IPCQ_ECORRUPT);
	ck_assert_int_eq(ipcqi_seg_map(&s, f.fd, "jobs2"), IPCQ_ECORRUPT);
	ck_assert_ptr_null(s.base); /* nothing half-mapped */
	ipcqi_seg_unmap(&s);        /* and harmless to unmap */
	fx_close(&f);
}
END_TEST

START_TEST(map_refuses_a_file_too_small_or_of_another_size)
{
	ipcqi_seg_params p = params(T_MAX_MESSAGES, T_MAX_BYTES, T_MAX_MSG, 0);
	ipcqi_seg        s;
	int              fd = new_memfd();
	off_t            full = IPCQI_SEG_HDR_BYTES + T_RING;

	/* Empty, then shorter than a header. */
	ck_assert_int_eq(ipcqi_seg_map(&s, fd, NULL), IPCQ_ECORRUPT);
	ck_assert_int_eq(ftruncate(fd, 100), 0);
	ck_assert_int_eq(ipcqi_seg_map(&s, fd, NULL), IPCQ_ECORRUPT);

	/* A whole segment, then cut short or grown: the header no longer
	 * describes the file. */
	ck_assert_int_eq(ipcqi_seg_create(&s, fd, &p), 0);
	ipcqi_seg_unmap(&s);
	ck_assert_int_eq(ftruncate(fd, full - 32), 0);
	ck_assert_int_eq(ipcqi_seg_map(&s, fd, NULL), IPCQ_ECORRUPT);
	ck_assert_int_eq(ftruncate(fd, IPCQI_SEG_HDR_BYTES), 0);
	ck_assert_int_eq(ipcqi_seg_map(&s, fd, NULL), IPCQ_ECORRUPT);
	ck_assert_int_eq(ftruncate(fd, full + 4096), 0);
	ck_assert_int_eq(ipcqi_seg_map(&s, fd, NULL), IPCQ_ECORRUPT);
	ck_assert_int_eq(ftruncate(fd, full), 0);
	ck_assert_int_eq(ipcqi_seg_map(&s, fd, NULL), 0);
	ipcqi_seg_unmap(&s);
	close(fd);
}
END_TEST

START_TEST(map_refuses_a_wrong_magic_and_reports_another_version)
{
	fx        f;
	ipcqi_seg s;

	fx_open(&f, IPCQ_FULL_FAIL);
	f.b.hdr->magic = IPCQI_SEG_MAGIC ^ 1;
	ck_assert_int_eq(ipcqi_seg_map(&s, f.fd, "jobs"), IPCQ_ECORRUPT);
	f.b.hdr->magic = 0;
	ck_assert_int_eq(ipcqi_seg_map(&s, f.fd, "jobs"), IPCQ_ECORRUPT);
	f.b.hdr->magic = IPCQI_SEG_MAGIC;

	f.b.hdr->version = IPCQI_SEG_VERSION + 1;
	ck_assert_int_eq(ipcqi_seg_map(&s, f.fd, "jobs"), IPCQ_EVERSION);
	f.b.hdr->version = 0;
	ck_assert_int_eq(ipcqi_seg_map(&s, f.fd, "jobs"), IPCQ_EVERSION);
	f.b.hdr->version = IPCQI_SEG_VERSION;

	ck_assert_int_eq(ipcqi_seg_map(&s, f.fd, "jobs"), 0);
	ipcqi_seg_unmap(&s);
	fx_close(&f);
}
END_TEST

/* Each scribble of one header field, then the header restored. */
#define CK_MAP_REFUSED(f, field, value)                                     \
	do {                                                                \
		ipcqi_seg s_;                                               \
		__typeof__((f).b.hdr->field) old_ = (f).b.hdr->field;       \
		(f).b.hdr->field = (value);                                 \
		ck_assert_int_eq(ipcqi_seg_map(&s_, (f).fd, NULL),          \
		    IPCQ_ECORRUPT);                                         \
		(f).b.hdr->field = old_;                                    \
		ck_assert_int_eq(ipcqi_seg_map(&s_, (f).fd, NULL), 0);      \
		ipcqi_seg_unmap(&s_);                                       \
	} while (0)

START_TEST(map_refuses_bounds_that_do_not_give_the_ring)
{
	fx f;

	fx_open(&f, IPCQ_FULL_FAIL);
	/* Bounds that would make readers trust another ring size. */
	CK_MAP_REFUSED(f, max_messages, T_MAX_MESSAGES + 1);
	CK_MAP_REFUSED(f, max_messages, UINT64_MAX);
	CK_MAP_REFUSED(f, max_bytes, T_MAX_BYTES * 2);
	CK_MAP_REFUSED(f, max_bytes, UINT64_MAX);
	CK_MAP_REFUSED(f, max_message_bytes, T_MAX_MSG + 32);
	CK_MAP_REFUSED(f, max_message_bytes, 0);
	CK_MAP_REFUSED(f, max_message_bytes, UINT32_MAX);
	/* The geometry fields themselves. */
	CK_MAP_REFUSED(f, ring_bytes, T_RING + 32);
	CK_MAP_REFUSED(f, ring_bytes, 0);
	CK_MAP_REFUSED(f, seg_bytes, IPCQI_SEG_HDR_BYTES + T_RING + 32);
	CK_MAP_REFUSED(f, hdr_bytes, 512);
	CK_MAP_REFUSED(f, rec_bytes, 64);
	CK_MAP_REFUSED(f, full_policy, 3);
	/* A name without its NUL. */
	char name[sizeof(f.b.hdr->name)];
	memcpy(name, f.b.hdr->name, sizeof(name));
	memset(f.b.hdr->name, 'x', sizeof(name));
	ipcqi_seg s;
	ck_assert_int_eq(ipcqi_seg_map(&s, f.fd, NULL), IPCQ_ECORRUPT);
	memcpy(f.b.hdr->name, name, sizeof(name));
	fx_close(&f);
}
END_TEST

START_TEST(create_refuses_an_overlong_name_and_an_unbounded_ring)
{
	char             name[IPCQI_NAME_MAX + 2];
	ipcqi_seg_params p = params(T_MAX_MESSAGES, T_MAX_BYTES, T_MAX_MSG, 0);
	ipcqi_seg        s;
	int              fd = new_memfd();

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	p.name                 = name;
	ck_assert_int_eq(ipcqi_seg_create(&s, fd, &p), IPCQ_EINVAL);
	p.name         = "jobs";
	p.max_messages = UINT64_MAX / 2;
	ck_assert_int_eq(ipcqi_seg_ring_bytes(&p), 0);
	ck_assert_int_eq(ipcqi_seg_create(&s, fd, &p), IPCQ_EINVAL);
	p.max_messages = T_MAX_MESSAGES;
	p.max_bytes    = 1ull << 40;
	ck_assert_int_eq(ipcqi_seg_create(&s, fd, &p), IPCQ_EINVAL);
	close(fd);
}
END_TEST

/* --------------------------------------------------------------- fifo */

START_TEST(put_take_finish_is_fifo_with_exact_counters)
{
	fx             f;
	ipcqi_seg_hdr *h;
	ipcqi_seg_ref  a, b, c, none;

	fx_open(&f, IPCQ_FULL_FAIL);
	h = f.c.hdr;
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ck_assert_int_eq(put_seq(&f.c, 0, 1), 0);
	ck_assert_int_eq(put_seq(&f.c, 1, 64), 0);
	ck_assert_int_eq(ipcqi_seg_put(&f.c, NULL, 0), 0);
	CK_COUNTS(h, 3, 65, 0, 0);
	CK_TOTALS(h, 3, 0, 0);
	ck_assert_uint_eq(h->head, 0);
	ck_assert_uint_eq(h->tail, 64 + 96 + 32);

	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &a), 0);
	ck_assert_uint_eq(a.pos, 0);
	ck_assert_uint_eq(a.len, 1);
	ck_assert_uint_eq(a.lease, 1);
	ck_assert_uint_eq(a.deliveries, 1);
	ck_assert(same(a.data, 0, 1));
	CK_COUNTS(h, 2, 64, 1, 1);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &b), 0);
	ck_assert_uint_eq(b.pos, 64);
	ck_assert_uint_eq(b.len, 64);
	ck_assert_uint_eq(b.lease, 2);
	ck_assert(same(b.data, 1, 64));
	CK_COUNTS(h, 1, 0, 2, 65);
	CK_TOTALS(h, 3, 2, 0);

	/* Acked out of order: head waits for the older lease. */
	ck_assert_int_eq(ack(&f.c, &b, 1), 0);
	CK_COUNTS(h, 1, 0, 1, 1);
	CK_TOTALS(h, 3, 2, 1);
	ck_assert_uint_eq(h->head, 0);

	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &c), 0);
	ck_assert_uint_eq(c.pos, 160);
	ck_assert_uint_eq(c.len, 0);
	ck_assert_uint_eq(c.lease, 3);
	CK_COUNTS(h, 0, 0, 2, 1);
	ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &none), IPCQ_ETIMEDOUT);
	CK_TOTALS(h, 3, 3, 1);

	ck_assert_int_eq(ack(&f.c, &a, 1), 0);
	ck_assert_uint_eq(h->head, 160); /* over a and the acked b */
	ck_assert_int_eq(ack(&f.c, &c, 1), 0);
	CK_COUNTS(h, 0, 0, 0, 0);
	CK_TOTALS(h, 3, 3, 3);
	ck_assert_uint_eq(h->head, h->tail);
	ck_assert_uint_eq(h->redelivered + h->dropped + h->purged, 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(a_64_byte_message_takes_96_bytes_of_ring)
{
	fx            f;
	ipcqi_seg_ref r;
	int           plain = 0, padded = 0;

	ck_assert_uint_eq(size_for(64), 96);
	fx_open(&f, IPCQ_FULL_FAIL);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	/* 1280 is no multiple of 96: some puts need a PAD first. */
	for (int i = 0; i < 40; i++) {
		uint64_t t0  = f.c.hdr->tail;
		uint64_t off = t0 % T_RING;

		ck_assert_int_eq(put_seq(&f.c, (uint64_t) i, 64), 0);
		if (off + 96 <= T_RING) {
			ck_assert_uint_eq(f.c.hdr->tail - t0, 96);
			plain++;
		} else {
			ck_assert_uint_eq(f.c.hdr->tail - t0,
			    T_RING - off + 96);
			ck_assert_uint_eq(f.c.hdr->tail % T_RING, 96);
			padded++;
		}
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
		ck_assert_uint_eq(r.pos + 96, f.c.hdr->tail);
		ck_assert(same(r.data, (uint64_t) i, 64));
		ck_assert_int_eq(ack(&f.c, &r, 1), 0);
		ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	}
	ck_assert_int_gt(plain, 0);
	ck_assert_int_gt(padded, 0);
	/* Every length rounds to whole 32-byte units, header included. */
	for (uint32_t len = 0; len <= T_MAX_MSG; len++) {
		uint64_t t0 = f.c.hdr->tail;

		ck_assert_int_eq(put_seq(&f.c, len, len), 0);
		if (f.c.hdr->tail - t0 != size_for(len)) {
			ck_assert_uint_eq(f.c.hdr->tail % T_RING,
			    size_for(len));
		}
		ck_assert_int_eq(ipcqi_seg_take(&f.c, 1, &r), 0);
		ck_assert_uint_eq(r.len, len);
		ck_assert(same(r.data, len, len));
		ck_assert_int_eq(ack(&f.c, &r, 1), 0);
	}
	ck_assert_uint_eq(size_for(0), 32);
	ck_assert_uint_eq(size_for(1), 64);
	ck_assert_uint_eq(size_for(200), 256);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST


void seg_add_map_tests(Suite *s);

void
seg_add_map_tests(Suite *s)
{
	TCase *t;

	t = tcase_create("mapping");
	tcase_add_test(t, map_of_a_created_segment_validates_and_shares_state);
	tcase_add_test(t, map_with_another_queue_name_is_ecorrupt);
	tcase_add_test(t, map_refuses_a_file_too_small_or_of_another_size);
	tcase_add_test(t,
	    map_refuses_a_wrong_magic_and_reports_another_version);
	tcase_add_test(t, map_refuses_bounds_that_do_not_give_the_ring);
	tcase_add_test(t,
	    create_refuses_an_overlong_name_and_an_unbounded_ring);
	suite_add_tcase(s, t);

	t = tcase_create("fifo");
	tcase_add_test(t, put_take_finish_is_fifo_with_exact_counters);
	tcase_add_test(t, a_64_byte_message_takes_96_bytes_of_ring);
	suite_add_tcase(s, t);
}
