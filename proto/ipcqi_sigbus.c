/*
 * The SIGBUS handler and its registry of segment mappings
 * (ipcqi_sigbus.h). The handler may interrupt any code of any thread,
 * including add and remove, so it only reads the slots with atomic loads
 * and calls async-signal-safe functions (mmap, sigaction, raise).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* BUS_ADRERR, MAP_ANONYMOUS */
#endif
#include "ipcqi_sigbus.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "ipcq.h"

/* slot.base: 0 free; SB_HELD claimed by add or remove (the handler skips
 * it); otherwise the start of a registered range. */
#define SB_HELD ((uintptr_t) 1)

typedef struct sb_slot {
	uintptr_t base;
	size_t    len;  /* written before base is published */
	uint32_t  lost; /* 1: the range is anonymous zero pages now */
} sb_slot;

static sb_slot          sb_slots[IPCQI_SIGBUS_SLOTS];
static unsigned         sb_top;   /* slots [0, sb_top) may be in use */
static unsigned         sb_nlost; /* registered slots with lost set */
static unsigned         sb_busy;  /* handlers running now */
static int              sb_on;    /* 0 no, 1 being installed, 2 yes */
static struct sigaction sb_prev;  /* written once, before sb_on = 2 */

/* Replace the registered range holding addr with zero pages. 1 done (or
 * being done by another thread: the instruction faults again until it
 * is), 0 not ours or the mapping failed. */
static int
sb_replace(uintptr_t addr)
{
	unsigned top = __atomic_load_n(&sb_top, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < top; i++) {
		sb_slot  *sl = &sb_slots[i];
		uintptr_t b  = __atomic_load_n(&sl->base, __ATOMIC_SEQ_CST);
		size_t    n  = __atomic_load_n(&sl->len, __ATOMIC_RELAXED);
		uint32_t  was = 0;

		if (b <= SB_HELD || addr < b || addr - b >= n) {
			continue;
		}
		/* Two threads may fault in the same range at once: one maps,
		 * so that nothing written into the zero pages after the first
		 * replacement is wiped by a second. */
		if (!__atomic_compare_exchange_n(&sl->lost, &was, 1, false,
		        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			return 1;
		}
		if (mmap((void *) b, n, PROT_READ | PROT_WRITE,
		        MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		    MAP_FAILED) {
			return 0;
		}
		/* Release: pairs with ipcqi_sigbus_lost's acquire. */
		__atomic_add_fetch(&sb_nlost, 1, __ATOMIC_RELEASE);
		return 1;
	}
	return 0;
}

/* Not ours: what would have happened without us. */
static void
sb_chain(int sig, siginfo_t *si, void *uctx)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	if ((sb_prev.sa_flags & SA_SIGINFO) != 0 &&
	    sb_prev.sa_sigaction != NULL) {
		sb_prev.sa_sigaction(sig, si, uctx);
		return;
	}
	if (!(sb_prev.sa_flags & SA_SIGINFO) &&
	    sb_prev.sa_handler != SIG_DFL && sb_prev.sa_handler != SIG_IGN) {
		sb_prev.sa_handler(sig);
		return;
	}
	/* Ignoring a fault would loop on it: the default action, which the
	 * pending signal takes as soon as the handler returns. */
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

static void
sb_handler(int sig, siginfo_t *si, void *uctx)
{
	int saved = errno;
	int done  = 0;

	/* SEQ_CST, with remove's store of SB_HELD and load of sb_busy: either
	 * remove waits for us, or we do not see its slot. */
	__atomic_add_fetch(&sb_busy, 1, __ATOMIC_SEQ_CST);
	/* BUS_ADRERR: an access past the end of the file behind a mapping
	 * (kill -BUS and hardware errors are not ours). */
	if (si != NULL && si->si_code == BUS_ADRERR) {
		done = sb_replace((uintptr_t) si->si_addr);
	}
	__atomic_sub_fetch(&sb_busy, 1, __ATOMIC_SEQ_CST);
	errno = saved;
	if (!done) {
		sb_chain(sig, si, uctx);
	}
}

int
ipcqi_sigbus_install(void)
{
	struct sigaction sa;
	int              off = 0;

	if (!__atomic_compare_exchange_n(&sb_on, &off, 1, false,
	        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sb_handler;
	sa.sa_flags     = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &sb_prev) != 0) {
		__atomic_store_n(&sb_on, 0, __ATOMIC_RELEASE);
		return IPCQ_EINTERNAL;
	}
	__atomic_store_n(&sb_on, 2, __ATOMIC_RELEASE);
	return 0;
}

int
ipcqi_sigbus_add(void *base, size_t len)
{
	if (__atomic_load_n(&sb_on, __ATOMIC_ACQUIRE) != 2 || base == NULL) {
		return 0;
	}
	for (unsigned i = 0; i < IPCQI_SIGBUS_SLOTS; i++) {
		sb_slot  *sl   = &sb_slots[i];
		uintptr_t empty = 0;
		unsigned  top  = __atomic_load_n(&sb_top, __ATOMIC_RELAXED);

		if (!__atomic_compare_exchange_n(&sl->base, &empty, SB_HELD,
		        false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			continue;
		}
		__atomic_store_n(&sl->len, len, __ATOMIC_RELAXED);
		__atomic_store_n(&sl->lost, 0, __ATOMIC_RELAXED);
		while (top <= i && !__atomic_compare_exchange_n(&sb_top, &top,
		                       i + 1, true, __ATOMIC_RELEASE,
		                       __ATOMIC_RELAXED)) {
		}
		/* Release: the handler that sees base sees len and lost. */
		__atomic_store_n(&sl->base, (uintptr_t) base, __ATOMIC_RELEASE);
		return 0;
	}
	return IPCQ_ENOMEM;
}

void
ipcqi_sigbus_remove(void *base)
{
	unsigned top;

	if (__atomic_load_n(&sb_on, __ATOMIC_ACQUIRE) != 2 || base == NULL) {
		return;
	}
	top = __atomic_load_n(&sb_top, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < top; i++) {
		sb_slot  *sl   = &sb_slots[i];
		uintptr_t want = (uintptr_t) base;

		if (!__atomic_compare_exchange_n(&sl->base, &want, SB_HELD,
		        false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			continue;
		}
		/* A handler that saw the range may still be mapping over it:
		 * the caller unmaps it next, so wait. */
		while (__atomic_load_n(&sb_busy, __ATOMIC_SEQ_CST) != 0) {
			sched_yield();
		}
		if (__atomic_load_n(&sl->lost, __ATOMIC_ACQUIRE)) {
			__atomic_sub_fetch(&sb_nlost, 1, __ATOMIC_RELEASE);
		}
		__atomic_store_n(&sl->base, 0, __ATOMIC_RELEASE);
		return;
	}
}

bool
ipcqi_sigbus_lost(const void *base)
{
	unsigned top;

	/* The common case, on every segment lock: nothing was lost. */
	if (__atomic_load_n(&sb_nlost, __ATOMIC_ACQUIRE) == 0 ||
	    base == NULL) {
		return false;
	}
	top = __atomic_load_n(&sb_top, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < top; i++) {
		if (__atomic_load_n(&sb_slots[i].base, __ATOMIC_ACQUIRE) ==
		    (uintptr_t) base) {
			return __atomic_load_n(&sb_slots[i].lost,
			           __ATOMIC_ACQUIRE) != 0;
		}
	}
	return false;
}
