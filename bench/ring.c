/*
 * The bare SPSC shared-memory ring (ring.h says what it is for, its
 * layout and its memory orders).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "ring.h"

_Static_assert(offsetof(ring_seg, head) == 64, "producer line");
_Static_assert(offsetof(ring_seg, tail) == 128, "consumer line");
_Static_assert(sizeof(ring_seg) == RING_HDR_SIZE, "header size");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "futex word is 32 bits");

uint64_t
ring_cap_for(size_t size)
{
	uint64_t rec = (RING_REC_HDR + size + 7) & ~(uint64_t) 7;
	uint64_t cap = 256 * 1024;

	while (cap < 8 * rec) {
		cap <<= 1;
	}
	return (cap);
}

int
ring_create(const char *name, uint64_t cap)
{
	ring_seg *s;
	size_t    len = RING_HDR_SIZE + cap;
	int       fd  = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	           0600);

	if (fd < 0) {
		return (errno);
	}
	if (ftruncate(fd, (off_t) len) != 0 ||
	    (s = mmap(NULL, RING_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	         fd, 0)) == MAP_FAILED) {
		int e = errno;

		close(fd);
		shm_unlink(name);
		return (e);
	}
	close(fd);
	/* ftruncate zeroed it: indices, flags and futex words start at 0. */
	s->version  = RING_VERSION;
	s->cap      = cap;
	s->data_off = RING_HDR_SIZE;
	s->magic    = RING_MAGIC; /* workers open only after exec: no race */
	munmap(s, RING_HDR_SIZE);
	return (0);
}

void
ring_unlink(const char *name)
{
	(void) shm_unlink(name);
}

int
ring_open(ring *r, const char *name, enum ring_wait wait)
{
	struct stat st;
	ring_seg    h;
	int         fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);

	memset(r, 0, sizeof(*r));
	if (fd < 0) {
		return (errno);
	}
	/* Validate what the segment says before trusting it for a size. */
	if (fstat(fd, &st) != 0 || (size_t) st.st_size < RING_HDR_SIZE ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t) sizeof(h) ||
	    h.magic != RING_MAGIC || h.version != RING_VERSION ||
	    h.data_off != RING_HDR_SIZE || h.cap == 0 ||
	    (h.cap & (h.cap - 1)) != 0 ||
	    (uint64_t) st.st_size != RING_HDR_SIZE + h.cap) {
		close(fd);
		return (EPROTO);
	}
	r->map_len = (size_t) st.st_size;
	r->seg = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	close(fd);
	if (r->seg == MAP_FAILED) {
		r->seg = NULL;
		return (errno);
	}
	r->data = (unsigned char *) r->seg + RING_HDR_SIZE;
	r->cap  = h.cap;
	r->mask = h.cap - 1;
	r->wait = wait;
	return (0);
}

void
ring_close(ring *r)
{
	if (r->seg != NULL) {
		munmap(r->seg, r->map_len);
		r->seg = NULL;
	}
}

static int
ring_futex(_Atomic uint32_t *w, int op, uint32_t val, int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
		.tv_nsec = (long) (ms % 1000) * 1000000L };

	return ((int) syscall(SYS_futex, (uint32_t *) w, op, val,
	    op == FUTEX_WAIT ? &ts : NULL, NULL, 0));
}

static inline void
ring_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Wait until *idx differs from old (the other side moved). Returns the
 * new value, or old after RING_WAIT_MS. mine_sleep/mine_fx are the
 * waiter's flag and futex word; the other side wakes them (ring_wake). */
static uint64_t
ring_wait_move(ring *r, _Atomic uint64_t *idx, uint64_t old,
    _Atomic uint32_t *mine_sleep, _Atomic uint32_t *mine_fx)
{
	uint64_t deadline = bench_now_ns() + RING_WAIT_MS * 1000000ull, v;

	for (unsigned spins = 1;; spins++) {
		if ((v = atomic_load_explicit(idx, memory_order_acquire)) != old) {
			return (v);
		}
		if (r->wait == RING_SPIN) {
			ring_pause();
			if (spins % RING_SPIN_YIELD == 0) {
				sched_yield();
				if (bench_now_ns() > deadline) {
					return (old);
				}
			}
			continue;
		}
		uint32_t fx = atomic_load(mine_fx);

		atomic_store(mine_sleep, 1);      /* seq_cst: Dekker, side A */
		if ((v = atomic_load(idx)) != old) { /* seq_cst */
			atomic_store_explicit(mine_sleep, 0, memory_order_relaxed);
			return (v);
		}
		r->sleeps++;
		(void) ring_futex(mine_fx, FUTEX_WAIT, fx, 100);
		if (bench_now_ns() > deadline) {
			return (old);
		}
	}
}

/* After publishing our index: wake the other side if it sleeps. */
static void
ring_wake(ring *r, _Atomic uint32_t *their_sleep, _Atomic uint32_t *their_fx)
{
	if (r->wait != RING_FUTEX) {
		return;
	}
	atomic_thread_fence(memory_order_seq_cst); /* Dekker, side B */
	if (atomic_load_explicit(their_sleep, memory_order_relaxed) != 0) {
		atomic_store_explicit(their_sleep, 0, memory_order_relaxed);
		atomic_fetch_add(their_fx, 1);
		(void) ring_futex(their_fx, FUTEX_WAKE, 1, 0);
		r->wakes++;
	}
}

/* Producer: wait until need bytes are free past head. */
static int
ring_space(ring *r, uint64_t need)
{
	ring_seg *s = r->seg;

	while (r->pos + need - r->other > r->cap) {
		uint64_t t = atomic_load_explicit(&s->tail, memory_order_acquire);

		if (t == r->other) {
			t = ring_wait_move(r, &s->tail, t, &s->prod_sleep,
			    &s->prod_fx);
			if (t == r->other) {
				return (ETIMEDOUT);
			}
		}
		r->other = t;
	}
	return (0);
}

static void
ring_hdr_put(ring *r, uint64_t at, uint32_t len, uint32_t type)
{
	uint32_t h[2] = { len, type };

	memcpy(r->data + (at & r->mask), h, sizeof(h));
}

int
ring_put(ring *r, uint32_t type, const void *buf, size_t len)
{
	uint64_t rec = (RING_REC_HDR + len + 7) & ~(uint64_t) 7;
	uint64_t room = r->cap - (r->pos & r->mask); /* bytes before wrap */
	int      rv;

	if (rec > r->cap / 2) {
		return (EMSGSIZE);
	}
	if (rec > room) { /* never split a record: pad to the wrap point */
		if ((rv = ring_space(r, room)) != 0) {
			return (rv);
		}
		ring_hdr_put(r, r->pos, (uint32_t) (room - RING_REC_HDR),
		    RING_PAD);
		r->pos += room;
	}
	if ((rv = ring_space(r, rec)) != 0) {
		return (rv);
	}
	ring_hdr_put(r, r->pos, (uint32_t) len, type);
	memcpy(r->data + ((r->pos + RING_REC_HDR) & r->mask), buf, len);
	r->pos += rec;
	/* Release: the record's bytes (and any PAD) before the new head. */
	atomic_store_explicit(&r->seg->head, r->pos, memory_order_release);
	ring_wake(r, &r->seg->cons_sleep, &r->seg->cons_fx);
	return (0);
}

int
ring_get(ring *r, uint32_t *type, const void **view, size_t *len)
{
	ring_seg *s = r->seg;

	for (;;) {
		uint32_t h[2];
		uint64_t rec;

		if (r->pos == r->other) {
			uint64_t v = atomic_load_explicit(&s->head,
			    memory_order_acquire);

			if (v == r->pos) {
				v = ring_wait_move(r, &s->head, v,
				    &s->cons_sleep, &s->cons_fx);
			}
			if (v == r->pos) {
				return (ETIMEDOUT);
			}
			r->other = v;
		}
		memcpy(h, r->data + (r->pos & r->mask), sizeof(h));
		rec = (RING_REC_HDR + h[0] + 7) & ~(uint64_t) 7;
		if (rec > r->other - r->pos ||
		    (h[1] != RING_PAD && rec > r->cap / 2)) {
			return (EPROTO); /* never trust a length blindly */
		}
		if (h[1] == RING_PAD) {
			r->pos += rec; /* published with the next release */
			continue;
		}
		*type = h[1];
		*len  = h[0];
		*view = r->data + ((r->pos + RING_REC_HDR) & r->mask);
		return (0);
	}
}

void
ring_release(ring *r)
{
	uint32_t len;

	memcpy(&len, r->data + (r->pos & r->mask), sizeof(len));
	r->pos += (RING_REC_HDR + len + 7) & ~(uint64_t) 7;
	/* Release: done reading the record before the producer may reuse it. */
	atomic_store_explicit(&r->seg->tail, r->pos, memory_order_release);
	ring_wake(r, &r->seg->prod_sleep, &r->seg->prod_fx);
}
