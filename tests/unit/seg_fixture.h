/*
 * Fixtures shared by the unit.seg test files (test_seg*.c): a segment in
 * a memfd mapped twice (as the broker and as a client), payload helpers,
 * counter checks, and a child-process helper. static inline: each file
 * takes what it uses.
 */
#ifndef SEG_FIXTURE_H
#define SEG_FIXTURE_H

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

static inline ipcqi_seg_params
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

static inline int
new_memfd(void)
{
	int fd = memfd_create("ipcq-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Move the client mapping in front of a PROT_NONE page: a read past the
 * mapping then faults instead of landing in whatever is mapped next. */
static inline void
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

static inline void
fx_open_with(fx *f, const ipcqi_seg_params *p)
{
	memset(f, 0, sizeof(*f));
	f->fd = new_memfd();
	ck_assert_int_eq(ipcqi_seg_create(&f->b, f->fd, p), 0);
	ck_assert_int_eq(ipcqi_seg_map(&f->c, f->fd, p->name), 0);
	fx_guard(f);
}

static inline void
fx_open(fx *f, int policy)
{
	ipcqi_seg_params p =
	    params(T_MAX_MESSAGES, T_MAX_BYTES, T_MAX_MSG, policy);

	fx_open_with(f, &p);
	ck_assert_uint_eq(f->c.ring_bytes, T_RING);
}

static inline void
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
static inline void
fill(unsigned char *buf, uint64_t seq, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		buf[i] = (unsigned char) (seq * 131u + i * 7u + len + 1u);
	}
}

static inline int
same(const unsigned char *got, uint64_t seq, uint32_t len)
{
	unsigned char want[4096];

	if (len > sizeof(want)) {
		return 0;
	}
	fill(want, seq, len);
	return memcmp(got, want, len) == 0;
}

static inline int
put_seq(ipcqi_seg *s, uint64_t seq, uint32_t len)
{
	unsigned char buf[4096];

	fill(buf, seq, len);
	return ipcqi_seg_put(s, buf, len);
}

/* Ack a lease: finish it for good. */
static inline int
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

static inline uint64_t
size_for(uint32_t len)
{
	return ((uint64_t) len + IPCQI_SEG_REC_BYTES + IPCQI_SEG_ALIGN - 1) &
	    ~(uint64_t) (IPCQI_SEG_ALIGN - 1);
}

static inline int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint64_t
rng_next(uint64_t *x)
{
	/* xorshift64*: reproducible, no libc state. */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

static inline int
wait_child(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child died by signal %d",
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}

static inline ipcqi_seg_payload
pl(const void *data, size_t len)
{
	ipcqi_seg_payload p = { data, len };

	return p;
}

/* Fork a child that runs fn on the segment and exits without unlocking
 * (exit code 0), or with code 2 if it could not lock. */
static inline void
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

#endif
