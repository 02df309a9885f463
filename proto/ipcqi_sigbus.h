/*
 * Surviving a truncated segment (the technique of Wayland's wl_shm).
 *
 * Any process of the same user can ftruncate a segment file while the
 * broker maps it; the broker's next access to a page past the new end
 * raises SIGBUS, whose default action kills it. The broker installs a
 * SIGBUS handler; every segment mapping is registered here. A fault
 * inside a registered range replaces the whole range with anonymous zero
 * pages (same address, read-write), marks it lost and returns: the
 * faulting instruction reads zeros and the code goes on. Every later
 * ipcqi_seg_lock of a lost segment fails with IPCQ_ECORRUPT, which
 * quarantines the queue. Any other SIGBUS goes to the handler installed
 * before ours, or kills the process as it would have.
 *
 * Only the broker installs the handler: a library must not take signals
 * of the processes that use it. Without the handler add, remove and lost
 * do nothing (libipcq links this file too).
 *
 * The registry is process-wide state, not the broker's, because a signal
 * handler has nothing else to reach: a fixed array of slots written with
 * atomics, read by the handler without locks.
 */
#ifndef IPCQI_SIGBUS_H
#define IPCQI_SIGBUS_H

#include <stdbool.h>
#include <stddef.h>

/* Mappings the broker can protect at once; ipcqi_sigbus_add fails past
 * this (the queue cannot be created). */
#define IPCQI_SIGBUS_SLOTS 4096

/* Install the handler (idempotent; the broker's main only, before any
 * segment is mapped). 0, or IPCQ_EINTERNAL if sigaction fails. */
int ipcqi_sigbus_install(void);

/* Register [base, base + len), mapped read-write. 0; IPCQ_ENOMEM if
 * every slot is taken. Without the handler: 0, nothing registered. */
int ipcqi_sigbus_add(void *base, size_t len);

/* Forget base's range. Call it BEFORE unmapping the range: then the
 * handler can never map over memory the process has reused. Returns
 * after any handler still looking at the slot has finished. */
void ipcqi_sigbus_remove(void *base);

/* Whether base's range lost its pages (now zeros). A single atomic load
 * while nothing was ever lost. Any thread, any time. */
bool ipcqi_sigbus_lost(const void *base);

#endif
