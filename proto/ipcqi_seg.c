/*
 * Segment mapping, validation, the robust lock and its recovery rule.
 * Layout and trust rules: ipcqi_seg.h and docs/shm.md.
 */
#include "ipcqi_seg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipcq.h"
#include "ipcqi_sigbus.h"

/* The layout is a contract between processes built separately: pin it. */
_Static_assert(sizeof(ipcqi_seg_rec) == IPCQI_SEG_REC_BYTES, "record size");
_Static_assert(offsetof(ipcqi_seg_rec, holder) == 16, "record holder");
_Static_assert(offsetof(ipcqi_seg_rec, lease) == 24, "record lease");
_Static_assert(offsetof(ipcqi_seg_hdr, seg_bytes) == 16, "hdr seg_bytes");
_Static_assert(offsetof(ipcqi_seg_hdr, name) == 48, "hdr name");
_Static_assert(offsetof(ipcqi_seg_hdr, max_messages) == 184, "hdr options");
_Static_assert(offsetof(ipcqi_seg_hdr, durable) == 212, "hdr durable");
_Static_assert(offsetof(ipcqi_seg_hdr, sync_ms) == 220, "hdr sync_ms");
_Static_assert(offsetof(ipcqi_seg_hdr, bad_offset) == 224, "hdr bad_offset");
_Static_assert(offsetof(ipcqi_seg_hdr, lock) == 256, "hdr lock");
_Static_assert(sizeof(pthread_mutex_t) <= 64, "mutex fits its line");
_Static_assert(offsetof(ipcqi_seg_hdr, head) == 320, "hdr state");
_Static_assert(offsetof(ipcqi_seg_hdr, qstate) == 448, "hdr qstate");
_Static_assert(offsetof(ipcqi_seg_hdr, producers_attached) == 464,
    "hdr producer counts");
_Static_assert(offsetof(ipcqi_seg_hdr, data_seq) == 512, "hdr data_seq");
_Static_assert(offsetof(ipcqi_seg_hdr, space_seq) == 576, "hdr space_seq");
_Static_assert(offsetof(ipcqi_seg_hdr, broker_pending) == 640,
    "hdr broker_pending");
_Static_assert(offsetof(ipcqi_seg_hdr, sleepers) == 1024, "hdr sleepers");
_Static_assert(sizeof(struct ipcqi_seg_sleeper) == 16, "sleeper slot");
_Static_assert(sizeof(ipcqi_seg_hdr) == 1024 + 16 * IPCQI_SEG_SLEEPER_SLOTS,
    "hdr size");
_Static_assert(sizeof(ipcqi_seg_hdr) <= IPCQI_SEG_HDR_BYTES, "hdr fits");
_Static_assert(sizeof(ipcqi_bell) == 16, "bell size");

/* A ring larger than this is refused (EINVAL at queue creation): the
 * bounds are meant to bound memory, and 64 GiB of one queue does not. */
#define SEG_RING_MAX (64ull << 30)

static uint64_t
seg_round(uint64_t n)
{
	return (n + IPCQI_SEG_ALIGN - 1) & ~(uint64_t) (IPCQI_SEG_ALIGN - 1);
}

uint64_t
ipcqi_seg_ring_bytes(const ipcqi_seg_params *p)
{
	/* Every message costs its payload, a header and up to 31 bytes of
	 * rounding; one more largest message covers the PAD a wrap may
	 * waste. With these, the bounds (not the ring) decide "full" as
	 * long as messages are acked roughly in order. */
	uint64_t sum     = p->durable ? IPCQI_SEG_SUM_BYTES : 0;
	uint64_t per_msg = IPCQI_SEG_REC_BYTES + sum + IPCQI_SEG_ALIGN - 1;
	uint64_t n;

	if (p->max_messages > SEG_RING_MAX / per_msg ||
	    p->max_bytes > SEG_RING_MAX) {
		return 0;
	}
	n = p->max_bytes + p->max_messages * per_msg +
	    seg_round((uint64_t) p->max_message_bytes + IPCQI_SEG_REC_BYTES +
	        sum);
	n = seg_round(n);
	return n > SEG_RING_MAX ? 0 : n;
}

int
ipcqi_seg_allocate(int fd, uint64_t bytes)
{
	int rv;

	/* A sparse file takes its pages at the first write of each, and on
	 * a full tmpfs (or disk) that write is a SIGBUS in whoever made it:
	 * a client dies, the broker's handler takes it for a truncation and
	 * quarantines good data. Allocating every page now turns "no room"
	 * into an error here, where the queue is created. */
	do {
		rv = posix_fallocate(fd, 0, (off_t) bytes);
	} while (rv == EINTR);
	if (rv == ENOSPC || rv == EFBIG || rv == EDQUOT) {
		return IPCQ_ENOSPC;
	}
	return rv == 0 ? 0 : IPCQ_EIO;
}

static void
seg_geometry(ipcqi_seg *s, unsigned char *base, uint64_t seg_bytes)
{
	s->base       = base;
	s->hdr        = (ipcqi_seg_hdr *) (void *) base;
	s->ring       = base + IPCQI_SEG_HDR_BYTES;
	s->seg_bytes  = seg_bytes;
	s->ring_bytes = seg_bytes - IPCQI_SEG_HDR_BYTES;
}

static int
seg_init_lock(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int                 rv;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	rv = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return rv;
}

int
ipcqi_seg_create(ipcqi_seg *s, int fd, const ipcqi_seg_params *p)
{
	uint64_t       ring = ipcqi_seg_ring_bytes(p);
	uint64_t       total;
	void          *base;
	ipcqi_seg_hdr *h;
	int            rv;

	memset(s, 0, sizeof(*s));
	if (ring == 0 || strlen(p->name) > IPCQI_NAME_MAX) {
		return IPCQ_EINVAL;
	}
	total = IPCQI_SEG_HDR_BYTES + ring;
	if (ftruncate(fd, (off_t) total) != 0) {
		return IPCQ_ENOMEM;
	}
	if ((rv = ipcqi_seg_allocate(fd, total)) != 0) {
		return rv;
	}
	base = mmap(NULL, total, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_POPULATE, fd, 0);
	if (base == MAP_FAILED) {
		return IPCQ_ENOMEM;
	}
	if (ipcqi_sigbus_add(base, total) != 0) {
		munmap(base, total);
		return IPCQ_ENOMEM;
	}
	seg_geometry(s, base, total);
	h = s->hdr;
	memset(h, 0, sizeof(*h));
	h->hdr_bytes          = IPCQI_SEG_HDR_BYTES;
	h->rec_bytes          = IPCQI_SEG_REC_BYTES;
	h->seg_bytes          = total;
	h->ring_bytes         = ring;
	h->broker_tag         = p->broker_tag;
	h->queue_id           = p->queue_id;
	snprintf(h->name, sizeof(h->name), "%s", p->name);
	h->max_messages       = p->max_messages;
	h->max_bytes          = p->max_bytes;
	h->max_message_bytes  = p->max_message_bytes;
	h->full_policy        = (uint32_t) p->full_policy;
	h->expected_producers = p->expected_producers;
	h->durable            = p->durable != 0;
	h->sync_mode          = p->durable ? (uint32_t) p->sync_mode : 0;
	h->sync_ms            = p->sync_ms;
	h->next_lease         = 1;
	if (seg_init_lock(&h->lock) != 0) {
		ipcqi_sigbus_remove(base);
		munmap(base, total);
		memset(s, 0, sizeof(*s));
		return IPCQ_ENOMEM;
	}
	s->max_messages      = p->max_messages;
	s->max_bytes         = p->max_bytes;
	s->max_message_bytes = p->max_message_bytes;
	s->full_policy       = p->full_policy;
	s->sums              = h->durable != 0;
	/* Magic and version last: a reader that sees them sees the rest. */
	h->version = IPCQI_SEG_VERSION;
	__atomic_store_n(&h->magic, IPCQI_SEG_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Check the header of a mapping of file_bytes against itself and the
 * file. Only geometry and options: the ring is checked as it is walked. */
static int
seg_check_hdr(const ipcqi_seg_hdr *h, uint64_t file_bytes, const char *want)
{
	ipcqi_seg_params p;

	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != IPCQI_SEG_MAGIC) {
		return IPCQ_ECORRUPT;
	}
	if (h->version != IPCQI_SEG_VERSION) {
		return IPCQ_EVERSION;
	}
	if (h->hdr_bytes != IPCQI_SEG_HDR_BYTES ||
	    h->rec_bytes != IPCQI_SEG_REC_BYTES ||
	    h->seg_bytes != file_bytes ||
	    h->ring_bytes != file_bytes - IPCQI_SEG_HDR_BYTES ||
	    memchr(h->name, 0, sizeof(h->name)) == NULL ||
	    (want != NULL && strcmp(h->name, want) != 0) ||
	    h->full_policy > 2 || h->max_message_bytes == 0 ||
	    h->max_message_bytes > IPCQI_MAX_MESSAGE_BYTES) {
		return IPCQ_ECORRUPT;
	}
	memset(&p, 0, sizeof(p));
	p.name              = h->name;
	p.max_messages      = h->max_messages;
	p.max_bytes         = h->max_bytes;
	p.max_message_bytes = h->max_message_bytes;
	p.durable           = h->durable != 0;
	/* The ring must be the one these bounds give, so that a writer
	 * cannot make readers trust a larger ring than the file. */
	if (ipcqi_seg_ring_bytes(&p) != h->ring_bytes) {
		return IPCQ_ECORRUPT;
	}
	return 0;
}

int
ipcqi_seg_map(ipcqi_seg *s, int fd, const char *want_name)
{
	struct stat st;
	void       *base;
	int         rv;

	memset(s, 0, sizeof(*s));
	if (fstat(fd, &st) != 0 || st.st_size < (off_t) IPCQI_SEG_HDR_BYTES) {
		return IPCQ_ECORRUPT;
	}
	/* MAP_POPULATE: map every page now rather than fault them in one
	 * by one in the first pass through the ring (a fresh queue ran at a
	 * fifth of its speed until its ring had been written once). */
	base = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_POPULATE, fd, 0);
	if (base == MAP_FAILED) {
		return IPCQ_ENOMEM;
	}
	/* Before the first read: the file may shrink under us already. */
	if (ipcqi_sigbus_add(base, (size_t) st.st_size) != 0) {
		munmap(base, (size_t) st.st_size);
		return IPCQ_ENOMEM;
	}
	rv = seg_check_hdr(base, (uint64_t) st.st_size, want_name);
	if (rv != 0) {
		ipcqi_sigbus_remove(base);
		munmap(base, (size_t) st.st_size);
		return rv;
	}
	seg_geometry(s, base, (uint64_t) st.st_size);
	s->max_messages      = s->hdr->max_messages;
	s->max_bytes         = s->hdr->max_bytes;
	s->max_message_bytes = s->hdr->max_message_bytes;
	s->full_policy       = (int) s->hdr->full_policy;
	s->sums              = s->hdr->durable != 0;
	return 0;
}

void
ipcqi_seg_unmap(ipcqi_seg *s)
{
	if (s != NULL && s->base != NULL) {
		bool lost = ipcqi_sigbus_lost(s->base);

		ipcqi_sigbus_remove(s->base); /* before munmap */
		/* A lost range stays mapped (zero pages: address space, no
		 * file). A thread that held the robust mutex when the pages
		 * went still has it on its robust list, which glibc links
		 * through the mutex itself: its next robust lock writes
		 * there, so the range must never be unmapped or reused. */
		if (!lost) {
			munmap(s->base, s->seg_bytes);
		}
		memset(s, 0, sizeof(*s));
	}
}

void
ipcqi_seg_quarantine(ipcqi_seg *s)
{
	__atomic_fetch_or(&s->hdr->qstate, IPCQI_QS_CORRUPT, __ATOMIC_RELEASE);
	/* Sleepers must learn it now, not at their deadline. */
	__atomic_fetch_add(&s->hdr->data_seq, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&s->hdr->space_seq, 1, __ATOMIC_RELEASE);
	ipcqi_futex_wake(&s->hdr->data_seq, INT32_MAX);
	ipcqi_futex_wake(&s->hdr->space_seq, INT32_MAX);
}

bool
ipcqi_seg_corrupt(const ipcqi_seg *s)
{
	if (ipcqi_sigbus_lost(s->base)) {
		return true; /* truncated: the header is zeros now */
	}
	return (__atomic_load_n(&s->hdr->qstate, __ATOMIC_ACQUIRE) &
	           IPCQI_QS_CORRUPT) != 0;
}

int
ipcqi_seg_lock(ipcqi_seg *s)
{
	return ipcqi_seg_lock_timed(s, -1);
}

/* Looks at a contended lock before sleeping on it (clients only). */
#define SEG_LOCK_SPINS 64

/* glibc marks a robust mutex left inconsistent by its dead owner and
 * unlocked without pthread_mutex_consistent in the mutex's __owner field
 * (PTHREAD_MUTEX_NOTRECOVERABLE, INT_MAX - 1 in nptl). Its trylock
 * reports it, but its lock can then sleep forever and its timedlock only
 * times out: check first. */
#define SEG_NOTRECOVERABLE (INT_MAX - 1)

static uint32_t
seg_lock_word(pthread_mutex_t *m)
{
	return __atomic_load_n((uint32_t *) (void *) m, __ATOMIC_RELAXED);
}

/* Take the mutex: forever, not at all (0), or until timeout_ms. */
static int
seg_mutex_take(pthread_mutex_t *m, int timeout_ms)
{
	struct timespec ts;

	if (__atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) ==
	    SEG_NOTRECOVERABLE) {
		return ENOTRECOVERABLE;
	}
	if (timeout_ms < 0) {
		/* A client: the lock is held for a few hundred nanoseconds at
		 * a time, so watch it a little before sleeping in the kernel
		 * (this doubled unbatched 64 B throughput in ipcq-bench). Only
		 * pthread_mutex_lock takes it. */
		for (int i = 0; i < SEG_LOCK_SPINS && seg_lock_word(m) != 0; i++) {
			IPCQI_CPU_RELAX();
		}
		return pthread_mutex_lock(m);
	}
	if (timeout_ms == 0) {
		return pthread_mutex_trylock(m);
	}
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer's pthread_mutex_timedlock interceptor records only
	 * a plain success, not EOWNERDEAD, and then reports our unlock of the
	 * recovered mutex. Under TSan only: trylock in 50 us steps. */
	for (int waited_us = 0;; waited_us += 50) {
		int rv = pthread_mutex_trylock(m);
		if (rv != EBUSY || waited_us >= timeout_ms * 1000) {
			return rv == EBUSY ? ETIMEDOUT : rv;
		}
		ts.tv_sec  = 0;
		ts.tv_nsec = 50000;
		nanosleep(&ts, NULL);
	}
#else
	/* pthread_mutex_timedlock measures CLOCK_REALTIME. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_mutex_timedlock(m, &ts);
#endif
}

/* What a take of the mutex (pthread result rv) means for the segment. */
static int seg_lock_taken(ipcqi_seg *s, int rv);

int
ipcqi_seg_lock_timed(ipcqi_seg *s, int timeout_ms)
{
	/* Truncated (ipcqi_sigbus.h): the mutex is zeros, trust nothing. */
	if (ipcqi_sigbus_lost(s->base)) {
		return IPCQ_ECORRUPT;
	}
	return seg_lock_taken(s, seg_mutex_take(&s->hdr->lock, timeout_ms));
}

int
ipcqi_seg_lock_try(ipcqi_seg *s, unsigned spins)
{
	pthread_mutex_t *m = &s->hdr->lock;
	int              rv;

	if (ipcqi_sigbus_lost(s->base)) {
		return IPCQ_ECORRUPT;
	}
	rv = seg_mutex_take(m, 0);
	/* Only a free word is worth a trylock: each one is a locked
	 * instruction on the holder's cache line. Never a futex wait. */
	for (unsigned i = 0; rv == EBUSY && i < spins; i++) {
		IPCQI_CPU_RELAX();
		if (seg_lock_word(m) == 0) {
			rv = pthread_mutex_trylock(m);
		}
	}
	return seg_lock_taken(s, rv);
}

static int
seg_lock_taken(ipcqi_seg *s, int rv)
{
	if (rv == EBUSY || rv == ETIMEDOUT) {
		return IPCQ_EBUSY; /* held, by someone alive (or stopped) */
	}
	if (rv == EOWNERDEAD) {
		/* The owner died inside a critical section. Every operation
		 * writes a record fully before it moves tail over it, and
		 * the counters are derived data: recompute them from the
		 * records and carry on. */
		if (ipcqi_seg_repair(s) != 0) {
			/* Leave the mutex unrecoverable: every later lock
			 * fails, which is what quarantine means. */
			pthread_mutex_unlock(&s->hdr->lock);
			return IPCQ_ECORRUPT;
		}
		pthread_mutex_consistent(&s->hdr->lock);
		/* It may have died before announcing its change, or after
		 * clearing a sleepers flag but before the wake: announce to
		 * everyone (a needless wake-up costs a re-check). */
		__atomic_fetch_add(&s->hdr->data_seq, 1, __ATOMIC_RELEASE);
		__atomic_fetch_add(&s->hdr->space_seq, 1, __ATOMIC_RELEASE);
		ipcqi_futex_wake(&s->hdr->data_seq, INT_MAX);
		ipcqi_futex_wake(&s->hdr->space_seq, INT_MAX);
		rv = 0;
	}
	if (rv != 0) {
		ipcqi_seg_quarantine(s);
		return IPCQ_ECORRUPT;
	}
	/* Corrupt, or lost while we took the lock: then what we hold may
	 * be the zero-filled replacement, a normal mutex whose unlock is
	 * a plain store. */
	if (ipcqi_seg_corrupt(s)) {
		pthread_mutex_unlock(&s->hdr->lock);
		return IPCQ_ECORRUPT;
	}
	return 0;
}

void
ipcqi_seg_unlock(ipcqi_seg *s)
{
	/* Lost while held: the real mutex went with the file; the one at
	 * its address is zeros that nobody takes again (ipcqi_seg_lock
	 * checks first). */
	if (!ipcqi_sigbus_lost(s->base)) {
		pthread_mutex_unlock(&s->hdr->lock);
	}
}
