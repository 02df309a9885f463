/*
 * Wake-ups through the segment: futex sleep and wake on words in shared
 * memory (FUTEX_WAIT/WAKE without FUTEX_PRIVATE_FLAG, so they work across
 * processes), and the broker's doorbell.
 *
 * Protocol: a sleeper, under the segment lock, sets the sleepers flag and
 * reads the sequence word, unlocks, then sleeps while the word still
 * holds what it read. A waker, under the lock, bumps the word and, if
 * the flag is set, clears it and wakes everyone. A change made after the
 * sleeper read the word changes the word, so the sleep returns at once:
 * no lost wake-up. The flag is a hint: a sleeper that died leaves it set,
 * which costs one needless wake call.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <linux/futex.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ipcq.h"
#include "ipcqi_seg.h"

int
ipcqi_futex_wait(uint32_t *word, uint32_t seen, int64_t deadline_ms)
{
	struct timespec ts, *tsp = NULL;
	long            rv;

	if (deadline_ms != INT64_MAX) {
		/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
		ts.tv_sec  = deadline_ms / 1000;
		ts.tv_nsec = (deadline_ms % 1000) * 1000000;
		tsp        = &ts;
	}
	rv = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, seen, tsp, NULL,
	    FUTEX_BITSET_MATCH_ANY);
	if (rv != 0 && errno == ETIMEDOUT) {
		return IPCQ_ETIMEDOUT;
	}
	return 0; /* woken, EAGAIN (word changed) or EINTR: re-check */
}

void
ipcqi_futex_wake(uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

static void
seg_wake(uint32_t *seq, uint32_t *sleepers)
{
	/* Release: pairs with the sleeper's read of seq under the lock (the
	 * lock orders them already; the atomic keeps the futex word's
	 * store whole for a sleeper that compares without the lock). */
	__atomic_fetch_add(seq, 1, __ATOMIC_RELEASE);
	if (*sleepers) {
		*sleepers = 0;
		ipcqi_futex_wake(seq, INT_MAX);
	}
}

void
ipcqi_seg_wake_data(ipcqi_seg *s, int n)
{
	(void) n;
	seg_wake(&s->hdr->data_seq, &s->hdr->data_sleepers);
}

void
ipcqi_seg_wake_space(ipcqi_seg *s, int n)
{
	(void) n;
	seg_wake(&s->hdr->space_seq, &s->hdr->space_sleepers);
}

void
ipcqi_seg_ring_broker(ipcqi_seg *s, ipcqi_bell *bell, uint32_t bits)
{
	if ((s->hdr->broker_watch & bits) == 0 || bell == NULL) {
		return;
	}
	/* Release: the broker's exchange of broker_pending (acquire) then
	 * sees the change that made us ring. */
	__atomic_store_n(&s->hdr->broker_pending, 1, __ATOMIC_RELEASE);
	ipcqi_bell_ring(bell);
}

void
ipcqi_bell_ring(ipcqi_bell *bell)
{
	/* Release: the waker's acquire load of seq sees what rang. */
	__atomic_fetch_add(&bell->seq, 1, __ATOMIC_RELEASE);
	ipcqi_futex_wake(&bell->seq, 1);
}

void
ipcqi_seg_sleeper(ipcqi_seg *s, uint64_t holder, uint32_t kind, int delta)
{
	struct ipcqi_seg_sleeper *sl = s->hdr->sleepers, *free_slot = NULL;

	for (int i = 0; i < IPCQI_SEG_SLEEPER_SLOTS; i++) {
		if (sl[i].kind == kind && sl[i].holder == holder) {
			if (delta < 0 && sl[i].count > 0 && --sl[i].count == 0) {
				sl[i].kind = 0;
			} else if (delta > 0) {
				sl[i].count++;
			}
			return;
		}
		if (sl[i].kind == 0 && free_slot == NULL) {
			free_slot = &sl[i];
		}
	}
	if (delta > 0 && free_slot != NULL) {
		free_slot->holder = holder;
		free_slot->count  = 1;
		free_slot->kind   = kind;
	}
}

uint32_t
ipcqi_seg_sleeping(const ipcqi_seg *s, uint32_t kind)
{
	uint32_t n = 0;

	for (int i = 0; i < IPCQI_SEG_SLEEPER_SLOTS; i++) {
		if (s->hdr->sleepers[i].kind == kind) {
			n += s->hdr->sleepers[i].count;
		}
	}
	return n;
}

bool
ipcqi_seg_sync_always(const ipcqi_seg *s)
{
	/* The header says the policy; a scribbled value costs at most a
	 * needless sync (or a missed one, which only that writer could
	 * have asked for). */
	return s->hdr->durable &&
	    __atomic_load_n(&s->hdr->sync_mode, __ATOMIC_RELAXED) ==
	        IPCQI_SYNC_ALWAYS;
}

int
ipcqi_seg_sync(ipcqi_seg *s)
{
	/* MS_SYNC writes only the dirty pages: the records just added and
	 * the header. */
	if (ipcqi_seg_sync_always(s) &&
	    msync(s->base, s->seg_bytes, MS_SYNC) != 0) {
		return IPCQ_EIO;
	}
	return 0;
}

bool
ipcqi_seg_owner_stopped(const ipcqi_seg *s)
{
	/* A robust mutex's word holds its owner's thread id (the kernel's
	 * robust-futex protocol needs it there), whatever else glibc keeps. */
	uint32_t word = __atomic_load_n((const uint32_t *) (const void *) &s->hdr->lock,
	    __ATOMIC_RELAXED);
	int      tid  = (int) (word & FUTEX_TID_MASK);
	char     path[64], buf[256], *p;
	int      fd;
	ssize_t  n;

	if (tid == 0) {
		return false;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return false; /* gone: the next lock sees EOWNERDEAD */
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return false;
	}
	buf[n] = '\0';
	/* "tid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ') {
		return false;
	}
	return p[2] == 'T' || p[2] == 't';
}

int
ipcqi_seg_lock_reclaim(ipcqi_seg *s)
{
	uint32_t *lw   = (uint32_t *) (void *) &s->hdr->lock;
	uint32_t  word = __atomic_load_n(lw, __ATOMIC_ACQUIRE);
	int       tid  = (int) (word & FUTEX_TID_MASK);
	char      path[64];

	if (tid == 0 || (word & FUTEX_OWNER_DIED) != 0) {
		return IPCQ_EBUSY; /* free, or already marked for recovery */
	}
	/* /proc/<tid> exists for every live thread of the namespace, listed
	 * or not. Gone means the kernel never ran the robust-list walk that
	 * would have marked the word: the owner died with its robust list
	 * pointing at memory it could no longer read (a segment mapping
	 * replaced by the SIGBUS handler's zero pages). */
	snprintf(path, sizeof(path), "/proc/%d", tid);
	if (access(path, F_OK) == 0 || errno != ENOENT) {
		return IPCQ_EBUSY;
	}
	/* Do what the kernel does for a robust futex whose owner exits:
	 * keep the waiters bit, set OWNER_DIED, wake one waiter. The next
	 * taker gets EOWNERDEAD and repairs the segment. The CAS fails if
	 * anyone took or released the lock since we read the word. */
	if (!__atomic_compare_exchange_n(lw, &word,
	        (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED, false,
	        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		return IPCQ_EBUSY;
	}
	syscall(SYS_futex, lw, FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}
