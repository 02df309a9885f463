/*
 * unit.seg: the shared-memory segment of a queue (proto/ipcqi_seg*.c)
 * without a broker: mapping and header checks, the ring's records and
 * counters, the queue rules, lock recovery after a crash, defence against
 * scribbled segments, and the futex wake-up protocol.
 *
 * Every segment lives in a memfd (nothing is left in /dev/shm). A
 * fixture maps it twice, as the broker (create) and as a client (map):
 * operations go through the client's mapping, scribbles through the
 * broker's, so every test also shows that the two mappings share state.
 * Bounds are tiny (8 messages, 512 bytes, 200 per message: a 1280-byte
 * ring) so that the ring wraps and PAD records appear within a few
 * messages.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipcq.h"
#include "ipcqi_seg.h"
#include "th_run.h"

/* ----------------------------------------------------------- fixtures */

#define T_MAX_MESSAGES 8u
#define T_MAX_BYTES    512u
#define T_MAX_MSG      200u
#define T_RING         1280u /* 512 + 8 * 63 + round32(200 + 32) */

/* Bounds whose ring is exactly one page, so that a guard page right
 * after the mapping catches any read past the ring's end. */
#define G_MAX_BYTES 3336u /* 3336 + 8 * 63 + 256 == 4096 */
#define G_RING      4096u

typedef struct fx {
	int       fd;
	ipcqi_seg b; /* the broker's mapping: create, scribbles */
	ipcqi_seg c; /* a client's mapping: every operation */
	void     *guard;
	size_t    guard_len;
} fx;

static ipcqi_seg_params
params(uint64_t max_messages, uint64_t max_bytes, uint32_t max_msg, int policy)
{
	ipcqi_seg_params p;

	memset(&p, 0, sizeof(p));
	p.name              = "jobs";
	p.broker_tag        = 0x1234;
	p.queue_id          = 7;
	p.max_messages      = max_messages;
	p.max_bytes         = max_bytes;
	p.max_message_bytes = max_msg;
	p.full_policy       = policy;
	return p;
}

static int
new_memfd(void)
{
	int fd = memfd_create("ipcq-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Move the client mapping in front of a PROT_NONE page: a read past the
 * mapping then faults instead of landing in whatever is mapped next. */
static void
fx_guard(fx *f)
{
	size_t         page = (size_t) sysconf(_SC_PAGESIZE);
	size_t         len  = (f->c.seg_bytes + page - 1) / page * page;
	unsigned char *r;
	void          *m;

	r = mmap(NULL, len + page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	    0);
	ck_assert_ptr_ne(r, MAP_FAILED);
	m = mremap(f->c.base, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, r);
	ck_assert_ptr_eq(m, r);
	f->c.base    = r;
	f->c.hdr     = (ipcqi_seg_hdr *) (void *) r;
	f->c.ring    = r + IPCQI_SEG_HDR_BYTES;
	f->guard     = r + len;
	f->guard_len = page;
}

static void
fx_open_with(fx *f, const ipcqi_seg_params *p)
{
	memset(f, 0, sizeof(*f));
	f->fd = new_memfd();
	ck_assert_int_eq(ipcqi_seg_create(&f->b, f->fd, p), 0);
	ck_assert_int_eq(ipcqi_seg_map(&f->c, f->fd, p->name), 0);
	fx_guard(f);
}

static void
fx_open(fx *f, int policy)
{
	ipcqi_seg_params p =
	    params(T_MAX_MESSAGES, T_MAX_BYTES, T_MAX_MSG, policy);

	fx_open_with(f, &p);
	ck_assert_uint_eq(f->c.ring_bytes, T_RING);
}

static void
fx_close(fx *f)
{
	ipcqi_seg_unmap(&f->c);
	ipcqi_seg_unmap(&f->b);
	if (f->guard != NULL) {
		munmap(f->guard, f->guard_len);
	}
	close(f->fd);
}

/* The payload of message seq: every byte depends on seq, its place and
 * the length, so a misplaced, shifted or truncated payload shows. */
static void
fill(unsigned char *buf, uint64_t seq, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		buf[i] = (unsigned char) (seq * 131u + i * 7u + len + 1u);
	}
}

static int
same(const unsigned char *got, uint64_t seq, uint32_t len)
{
	unsigned char want[4096];

	if (len > sizeof(want)) {
		return 0;
	}
	fill(want, seq, len);
	return memcmp(got, want, len) == 0;
}

static int
put_seq(ipcqi_seg *s, uint64_t seq, uint32_t len)
{
	unsigned char buf[4096];

	fill(buf, seq, len);
	return ipcqi_seg_put(s, buf, len);
}

/* Ack a lease: finish it for good. */
static int
ack(ipcqi_seg *s, const ipcqi_seg_ref *r, uint64_t holder)
{
	return ipcqi_seg_finish(s, r->pos, r->lease, holder, false);
}

/* A taken payload lies inside the ring, whole. */
#define CK_IN_RING(s, ref)                                                  \
	do {                                                                \
		ck_assert_uint_ge((uintptr_t) (ref).data,                   \
		    (uintptr_t) (s)->ring + IPCQI_SEG_REC_BYTES);           \
		ck_assert_uint_le(                                          \
		    (uintptr_t) (ref).data - (uintptr_t) (s)->ring +         \
		        (ref).len,                                          \
		    (s)->ring_bytes);                                       \
	} while (0)

#define CK_COUNTS(h, rdy, rdyb, lsd, lsdb)                                  \
	do {                                                                \
		ck_assert_uint_eq((h)->ready, (rdy));                       \
		ck_assert_uint_eq((h)->ready_bytes, (rdyb));                \
		ck_assert_uint_eq((h)->leased, (lsd));                      \
		ck_assert_uint_eq((h)->leased_bytes, (lsdb));               \
	} while (0)

#define CK_TOTALS(h, snt, rcv, ack)                                         \
	do {                                                                \
		ck_assert_uint_eq((h)->sent, (snt));                        \
		ck_assert_uint_eq((h)->received, (rcv));                    \
		ck_assert_uint_eq((h)->acked, (ack));                       \
	} while (0)

static uint64_t
size_for(uint32_t len)
{
	return ((uint64_t) len + IPCQI_SEG_REC_BYTES + IPCQI_SEG_ALIGN - 1) &
	    ~(uint64_t) (IPCQI_SEG_ALIGN - 1);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
rng_next(uint64_t *x)
{
	/* xorshift64*: reproducible, no libc state. */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

static int
wait_child(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child died by signal %d",
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}

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

static ipcqi_seg_payload
pl(const void *data, size_t len)
{
	ipcqi_seg_payload p = { data, len };

	return p;
}

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

/* -------------------------------------------------------------- crash */

/* Fork a child that runs fn on the segment and exits without unlocking
 * (exit code 0), or with code 2 if it could not lock. */
static void
die_holding_the_lock(fx *f, void (*fn)(ipcqi_seg *))
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (ipcqi_seg_lock(&f->c) != 0) {
			_exit(2);
		}
		if (fn != NULL) {
			fn(&f->c);
		}
		_exit(0); /* lock held */
	}
	ck_assert_int_eq(wait_child(pid), 0);
}

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

/* --------------------------------------------------------------- wake */

START_TEST(futex_wait_with_a_past_deadline_times_out)
{
	uint32_t word = 5;

	ck_assert_int_eq(ipcqi_futex_wait(&word, 5, now_ms() - 1),
	    IPCQ_ETIMEDOUT);
	ck_assert_int_eq(ipcqi_futex_wait(&word, 5, 0), IPCQ_ETIMEDOUT);
	ck_assert_int_eq(ipcqi_futex_wait(&word, 5, now_ms()), IPCQ_ETIMEDOUT);
	/* A word that no longer holds what was seen: back at once. */
	ck_assert_int_eq(ipcqi_futex_wait(&word, 4, INT64_MAX), 0);
	ck_assert_int_eq(ipcqi_futex_wait(&word, 4, now_ms() - 1), 0);
}
END_TEST

START_TEST(wake_bumps_the_word_and_wakes_only_when_someone_sleeps)
{
	fx       f;
	uint32_t d0, s0;

	fx_open(&f, IPCQ_FULL_BLOCK);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	d0 = f.c.hdr->data_seq;
	s0 = f.c.hdr->space_seq;
	ipcqi_seg_wake_data(&f.c, 1);
	ck_assert_uint_eq(f.c.hdr->data_seq, d0 + 1);
	ck_assert_uint_eq(f.c.hdr->space_seq, s0);
	f.c.hdr->space_sleepers = 1;
	ipcqi_seg_wake_space(&f.c, 1);
	ck_assert_uint_eq(f.c.hdr->space_seq, s0 + 1);
	ck_assert_uint_eq(f.c.hdr->space_sleepers, 0);
	ck_assert_uint_eq(f.c.hdr->data_seq, d0 + 1);
	/* The word wraps like any counter. */
	f.c.hdr->data_seq = UINT32_MAX;
	ipcqi_seg_wake_data(&f.c, 1);
	ck_assert_uint_eq(f.c.hdr->data_seq, 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(ring_broker_rings_only_for_watched_bits)
{
	fx         f;
	ipcqi_bell bell = { IPCQI_BELL_MAGIC, 1, 0, 0 };

	fx_open(&f, IPCQ_FULL_BLOCK);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ipcqi_seg_ring_broker(&f.c, &bell, IPCQI_WATCH_DATA);
	ck_assert_uint_eq(bell.seq, 0);
	ck_assert_uint_eq(f.c.hdr->broker_pending, 0);
	f.b.hdr->broker_watch = IPCQI_WATCH_SPACE;
	ipcqi_seg_ring_broker(&f.c, &bell, IPCQI_WATCH_DATA);
	ck_assert_uint_eq(bell.seq, 0);
	ipcqi_seg_ring_broker(&f.c, NULL, IPCQI_WATCH_SPACE);
	ck_assert_uint_eq(f.c.hdr->broker_pending, 0);
	ipcqi_seg_ring_broker(&f.c, &bell,
	    IPCQI_WATCH_SPACE | IPCQI_WATCH_DATA);
	ck_assert_uint_eq(bell.seq, 1);
	ck_assert_uint_eq(f.c.hdr->broker_pending, 1);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(sleeper_slots_count_threads_per_holder_and_kind)
{
	fx f;

	fx_open(&f, IPCQ_FULL_BLOCK);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ipcqi_seg_sleeper(&f.c, 1, IPCQI_SLEEP_RECV, +1);
	ipcqi_seg_sleeper(&f.c, 1, IPCQI_SLEEP_RECV, +1);
	ipcqi_seg_sleeper(&f.c, 1, IPCQI_SLEEP_SEND, +1);
	ipcqi_seg_sleeper(&f.c, 2, IPCQI_SLEEP_RECV, +1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_RECV), 3);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND), 1);
	ipcqi_seg_sleeper(&f.c, 1, IPCQI_SLEEP_RECV, -1);
	ipcqi_seg_sleeper(&f.c, 3, IPCQI_SLEEP_RECV, -1); /* never counted */
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_RECV), 2);

	/* A holder cleaned up is asleep no more, in either kind. */
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 1), 0);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_RECV), 1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND), 0);
	ipcqi_seg_sleeper(&f.c, 2, IPCQI_SLEEP_RECV, -1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_RECV), 0);

	/* Every slot taken: one more sleeps uncounted, and its wake-up
	 * uncounts nobody else. */
	for (uint64_t h = 1; h <= IPCQI_SEG_SLEEPER_SLOTS; h++) {
		ipcqi_seg_sleeper(&f.c, h, IPCQI_SLEEP_SEND, +1);
	}
	ipcqi_seg_sleeper(&f.c, 999, IPCQI_SLEEP_SEND, +1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND),
	    IPCQI_SEG_SLEEPER_SLOTS);
	ipcqi_seg_sleeper(&f.c, 999, IPCQI_SLEEP_SEND, -1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND),
	    IPCQI_SEG_SLEEPER_SLOTS);
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 0), 0);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND), 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

/* The sleeper's half of the protocol: claim the flag and read the word
 * under the lock, sleep outside it. Returns what ipcqi_futex_wait did;
 * *seen is the word as read. The deadline only turns a lost wake-up into
 * a failure instead of a hang. */
static int
sleep_on_data(ipcqi_seg *s, uint32_t *seen)
{
	if (ipcqi_seg_lock(s) != 0) {
		return -100;
	}
	s->hdr->data_sleepers = 1;
	*seen                 = s->hdr->data_seq;
	ipcqi_seg_unlock(s);
	return ipcqi_futex_wait(&s->hdr->data_seq, *seen, now_ms() + 30000);
}

/* Task state letter of /proc/<pid>/task/<tid>/stat. */
static char
task_state(pid_t pid, pid_t tid)
{
	char  path[64], buf[512], *p;
	FILE *fp;
	char  state = '?';

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int) pid,
	    (int) tid);
	if ((fp = fopen(path, "r")) == NULL) {
		return '?';
	}
	if (fgets(buf, sizeof(buf), fp) != NULL &&
	    (p = strrchr(buf, ')')) != NULL && p[1] == ' ') {
		state = p[2];
	}
	fclose(fp);
	return state;
}

/* The waker's half: once the sleeper has claimed the flag (seen under
 * the lock) and is asleep in the kernel, announce data. */
static void
wake_sleeper(fx *f, pid_t pid, pid_t tid)
{
	for (;;) {
		ck_assert_int_eq(ipcqi_seg_lock(&f->b), 0);
		uint32_t claimed = f->b.hdr->data_sleepers;
		ipcqi_seg_unlock(&f->b);
		if (claimed) {
			break;
		}
		sched_yield();
	}
	/* After the claim the sleeper takes no lock: 'S' is the futex. */
	while (task_state(pid, tid) != 'S') {
		sched_yield();
	}
	ck_assert_int_eq(ipcqi_seg_lock(&f->b), 0);
	ipcqi_seg_wake_data(&f->b, 1);
	ck_assert_uint_eq(f->b.hdr->data_sleepers, 0);
	ipcqi_seg_unlock(&f->b);
}

typedef struct sleeper {
	ipcqi_seg *s;
	pid_t      tid; /* atomic: set by the sleeper once it runs */
	int        rv;
	uint32_t   seen;
} sleeper;

static void *
sleeper_main(void *arg)
{
	sleeper *z = arg;

	__atomic_store_n(&z->tid, (pid_t) syscall(SYS_gettid),
	    __ATOMIC_RELEASE);
	z->rv = sleep_on_data(z->s, &z->seen);
	return NULL;
}

START_TEST(sleeping_thread_is_woken_by_wake_data)
{
	fx        f;
	sleeper   z = { 0 };
	pthread_t t;

	fx_open(&f, IPCQ_FULL_BLOCK);
	z.s = &f.c;
	ck_assert_int_eq(pthread_create(&t, NULL, sleeper_main, &z), 0);
	while (__atomic_load_n(&z.tid, __ATOMIC_ACQUIRE) == 0) {
		sched_yield();
	}
	wake_sleeper(&f, getpid(), z.tid);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(z.rv, 0);
	ck_assert_uint_eq(f.c.hdr->data_seq, z.seen + 1);
	fx_close(&f);
}
END_TEST

START_TEST(sleeping_process_is_woken_by_wake_data)
{
	fx       f;
	pid_t    pid;
	uint32_t seen0;

	fx_open(&f, IPCQ_FULL_BLOCK);
	seen0 = f.c.hdr->data_seq;
	pid   = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint32_t seen;
		int      rv = sleep_on_data(&f.c, &seen);
		_exit(rv == 0 && f.c.hdr->data_seq != seen ? 0 : 1);
	}
	wake_sleeper(&f, pid, pid);
	ck_assert_int_eq(wait_child(pid), 0);
	ck_assert_uint_eq(f.c.hdr->data_seq, seen0 + 1);
	fx_close(&f);
}
END_TEST

/* A waker that dies half-way through announcing: it bumped the word and
 * cleared the flag, but never woke the sleeper. */
static void
announce_then_die_before_waking(ipcqi_seg *s)
{
	if (put_seq(s, 1, 1) != 0) {
		_exit(3);
	}
	__atomic_fetch_add(&s->hdr->data_seq, 1, __ATOMIC_RELEASE);
	s->hdr->data_sleepers = 0;
}

/* A producer that dies after its put, before announcing it. */
static void
put_then_die_before_announcing(ipcqi_seg *s)
{
	if (put_seq(s, 1, 1) != 0) {
		_exit(3);
	}
}

static void
check_recovery_wakes(void (*die)(ipcqi_seg *))
{
	fx        f;
	sleeper   z = { 0 };
	pthread_t t;

	fx_open(&f, IPCQ_FULL_BLOCK);
	z.s = &f.c;
	ck_assert_int_eq(pthread_create(&t, NULL, sleeper_main, &z), 0);
	while (__atomic_load_n(&z.tid, __ATOMIC_ACQUIRE) == 0) {
		sched_yield();
	}
	for (;;) {
		ck_assert_int_eq(ipcqi_seg_lock(&f.b), 0);
		uint32_t claimed = f.b.hdr->data_sleepers;
		ipcqi_seg_unlock(&f.b);
		if (claimed) {
			break;
		}
		sched_yield();
	}
	while (task_state(getpid(), z.tid) != 'S') {
		sched_yield();
	}
	die_holding_the_lock(&f, die);
	/* Whoever recovers the lock wakes the sleepers. */
	ck_assert_int_eq(ipcqi_seg_lock(&f.b), 0);
	ck_assert_uint_eq(f.b.hdr->ready, 1);
	ipcqi_seg_unlock(&f.b);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(z.rv, 0); /* not its 30 s deadline */
	ck_assert_uint_ne(f.c.hdr->data_seq, z.seen);
	fx_close(&f);
}

START_TEST(lock_recovery_wakes_sleepers_a_dead_waker_left_asleep)
{
	check_recovery_wakes(announce_then_die_before_waking);
	check_recovery_wakes(put_then_die_before_announcing);
}
END_TEST

/* The lost-wake-up stress: a producer and a consumer process hand a
 * million messages through a four-message queue, each sleeping on the
 * other's word whenever it cannot go on. */
#define ST_N     1000000u
#define ST_BATCH 16u

enum { ST_LOCK = 10, ST_ADMIT, ST_TAKE, ST_ORDER, ST_LOST, ST_FINISH };

static void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The sleeper's protocol (lock held on entry, released). Between the
 * unlock and the futex call it watches the word for a varying number of
 * rounds (none on every 8th wait): the other side's wake-up then lands
 * at every point of the window the protocol must close, not only while
 * this side is asleep, and the run takes about a second instead of a
 * quarter of a million context switches each way. */
static int
stress_wait(ipcqi_seg *s, uint32_t *word, uint32_t *sleepers, unsigned *n)
{
	unsigned spin = *n % 8 == 0 ? 0 : (*n * 7919u) % 2048u;
	uint32_t seen;

	(*n)++;
	*sleepers = 1;
	seen      = *word;
	ipcqi_seg_unlock(s);
	for (unsigned k = 0;
	     k < spin && __atomic_load_n(word, __ATOMIC_ACQUIRE) == seen; k++) {
		cpu_relax();
	}
	/* 20 s without a wake-up is a lost one (the test takes ~1 s). */
	return ipcqi_futex_wait(word, seen, now_ms() + 20000) == 0 ? 0
	                                                           : ST_LOST;
}

static int
stress_producer(ipcqi_seg *s)
{
	unsigned char     buf[ST_BATCH][16];
	ipcqi_seg_payload p[ST_BATCH];
	uint64_t          i = 0;
	unsigned          waits = 0;

	while (i < ST_N) {
		size_t n = ST_N - i < ST_BATCH ? ST_N - i : ST_BATCH;
		size_t acc = 0;
		int    rv;

		for (size_t k = 0; k < n; k++) {
			uint64_t seq = i + k;
			uint32_t len = 8 + (uint32_t) (seq % 9);
			memcpy(buf[k], &seq, 8);
			memset(buf[k] + 8, (int) (seq & 0xff), len - 8);
			p[k] = pl(buf[k], len);
		}
		if (ipcqi_seg_lock(s) != 0) {
			return ST_LOCK;
		}
		rv = ipcqi_seg_admit(s, p, n, &acc);
		i += acc;
		if (acc > 0) {
			ipcqi_seg_wake_data(s, 1);
		}
		if (rv == IPCQI_WOULD_BLOCK) {
			if ((rv = stress_wait(s, &s->hdr->space_seq,
			         &s->hdr->space_sleepers, &waits)) != 0) {
				return rv;
			}
			continue;
		}
		ipcqi_seg_unlock(s);
		if (rv != 0) {
			return ST_ADMIT;
		}
	}
	return 0;
}

static int
stress_consumer(ipcqi_seg *s)
{
	uint64_t got   = 0;
	unsigned waits = 0;

	while (got < ST_N) {
		ipcqi_seg_ref r;
		int           took = 0, rv;

		if (ipcqi_seg_lock(s) != 0) {
			return ST_LOCK;
		}
		while ((rv = ipcqi_seg_take(s, 2, &r)) == 0) {
			uint64_t seq;
			memcpy(&seq, r.data, 8);
			if (seq != got || r.len != 8 + seq % 9) {
				ipcqi_seg_unlock(s);
				return ST_ORDER;
			}
			for (uint32_t k = 8; k < r.len; k++) {
				if (r.data[k] != (unsigned char) (seq & 0xff)) {
					ipcqi_seg_unlock(s);
					return ST_ORDER;
				}
			}
			if (ack(s, &r, 2) != 0) {
				ipcqi_seg_unlock(s);
				return ST_FINISH;
			}
			got++;
			took++;
		}
		if (rv != IPCQ_ETIMEDOUT) {
			ipcqi_seg_unlock(s);
			return ST_TAKE;
		}
		if (took > 0) {
			ipcqi_seg_wake_space(s, 1);
			ipcqi_seg_unlock(s);
			continue;
		}
		if ((rv = stress_wait(s, &s->hdr->data_seq,
		         &s->hdr->data_sleepers, &waits)) != 0) {
			return rv;
		}
	}
	return 0;
}

START_TEST(a_million_messages_cross_a_four_message_ring_between_processes)
{
	ipcqi_seg_params p = params(4, 64, 16, IPCQ_FULL_BLOCK);
	fx               f;
	pid_t            prod, cons;

	fx_open_with(&f, &p);
	prod = fork();
	ck_assert_int_ge(prod, 0);
	if (prod == 0) {
		_exit(stress_producer(&f.c));
	}
	cons = fork();
	ck_assert_int_ge(cons, 0);
	if (cons == 0) {
		_exit(stress_consumer(&f.c));
	}
	ck_assert_int_eq(wait_child(prod), 0);
	ck_assert_int_eq(wait_child(cons), 0);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	CK_COUNTS(f.c.hdr, 0, 0, 0, 0);
	CK_TOTALS(f.c.hdr, ST_N, ST_N, ST_N);
	ck_assert_uint_eq(f.c.hdr->redelivered + f.c.hdr->dropped, 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

/* -------------------------------------------------------------- suite */

static Suite *
seg_suite(void)
{
	Suite *s = suite_create("unit.seg");
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

	t = tcase_create("wake");
	tcase_set_timeout(t, TH_CASE_TIMEOUT);
	tcase_add_test(t, futex_wait_with_a_past_deadline_times_out);
	tcase_add_test(t,
	    wake_bumps_the_word_and_wakes_only_when_someone_sleeps);
	tcase_add_test(t, ring_broker_rings_only_for_watched_bits);
	tcase_add_test(t, sleeper_slots_count_threads_per_holder_and_kind);
	tcase_add_test(t, sleeping_thread_is_woken_by_wake_data);
	tcase_add_test(t, sleeping_process_is_woken_by_wake_data);
	tcase_add_test(t,
	    lock_recovery_wakes_sleepers_a_dead_waker_left_asleep);
	tcase_add_test(t,
	    a_million_messages_cross_a_four_message_ring_between_processes);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	return th_run(seg_suite());
}
