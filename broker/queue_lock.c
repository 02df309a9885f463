/*
 * The broker's side of a segment lock. A shared-memory client takes the
 * same lock for a few hundred nanoseconds per operation, but a client
 * stopped (SIGSTOP, a debugger) inside that critical section holds it
 * for as long as it stays stopped. The broker takes segment locks under
 * its own lock, so waiting there would stall every queue. Instead it
 * waits in QL_WAIT_MS slices only while the holder runs, and answers
 * IPCQ_EBUSY at once when the holder is stopped (each request looks
 * again, so the first one after the holder resumes or dies goes
 * through). What it could not write into the segment meanwhile (returns
 * of dead holders' records, the end-of-stream state) waits for the next
 * time it gets the lock; the waker thread retries stuck queues on a
 * timer (segment.c). A client that dies stopped gives the lock back to
 * the next taker with EOWNERDEAD, which recovers it.
 */
#include <stdlib.h>

#include "ipcq.h"
#include "log.h"
#include "queue.h"
#include "queue_int.h"

#define QL_WAIT_MS  2    /* one wait slice */
#define QL_SLICES   500  /* at most this many slices (1 s) for a holder
                            that is running: preempted, or copying a big
                            message */

void
ipcqd_qu_defer_return(ipcqd_queue *q, uint64_t holder)
{
	if (q->npending == q->cappending) {
		size_t    cap = q->cappending ? 2 * q->cappending : 8;
		uint64_t *p   = realloc(q->pending, cap * sizeof(*p));
		if (p == NULL) {
			ipcqd_error("queue %s: out of memory remembering a dead "
			            "client's leases; they return when the "
			            "broker restarts", q->name);
			return;
		}
		q->pending    = p;
		q->cappending = cap;
	}
	q->pending[q->npending++] = holder;
}

/* Lock held: do what waited for it. */
static void
ql_catch_up(ipcqd_queue *q)
{
	if (q->npending > 0) {
		for (size_t i = 0; i < q->npending; i++) {
			ipcqi_seg_return_holder(&q->seg, q->pending[i]);
		}
		q->npending = 0;
		ipcqi_seg_wake_data(&q->seg, 0);
		ipcqi_seg_wake_space(&q->seg, 0);
	}
	if (q->state_dirty) {
		ipcqd_qu_write_state(q);
	}
}

int
ipcqd_qu_lock(ipcqd_queue *q)
{
	int rv = ipcqi_seg_lock_timed(&q->seg, 0);

	/* Held: wait while its holder runs (contention is normal: 2 cores,
	 * many clients, a holder preempted inside); give up at once if the
	 * holder is stopped, and after QL_SLICES slices in any case. */
	for (int i = 0; rv == IPCQ_EBUSY && i < QL_SLICES; i++) {
		if (ipcqi_seg_owner_stopped(&q->seg)) {
			break;
		}
		rv = ipcqi_seg_lock_timed(&q->seg, QL_WAIT_MS);
	}
	/* Held all that time by a thread that does not exist: a dead
	 * broker's, which the kernel could not mark (ipcqi_seg.h). */
	if (rv == IPCQ_EBUSY && ipcqi_seg_lock_reclaim(&q->seg) == 0) {
		ipcqd_warn("queue %s: segment lock held by a thread that is "
		           "gone; recovered", q->name);
		rv = ipcqi_seg_lock_timed(&q->seg, 0);
	}
	if (rv == IPCQ_EBUSY) {
		if (!q->stuck) {
			q->stuck = true;
			ipcqd_warn("queue %s: a client holds its segment lock "
			           "(stopped?); requests get EBUSY until it "
			           "lets go", q->name);
		}
		return rv;
	}
	if (rv == IPCQ_ECORRUPT && !q->corrupt_seen) {
		/* First sight of a quarantined segment: parked requests
		 * would wait for nothing. Completed by the waker, outside
		 * whatever list walk called us. */
		uint64_t bad = __atomic_load_n(&q->seg.hdr->bad_offset,
		    __ATOMIC_RELAXED);
		q->corrupt_seen = true;
		if (bad != 0) { /* a durable record failed its checksum */
			ipcqd_error("queue %s: record at file offset %llu of %s "
			            "failed its checksum; quarantined (delete it)",
			    q->name, (unsigned long long) bad, q->shm_name);
		} else {
			ipcqd_error("queue %s: segment is corrupt; quarantined "
			            "(delete it)", q->name);
		}
		if (q->bell != NULL) { /* wake the waker: it fails them */
			__atomic_fetch_add(&q->bell->seq, 1, __ATOMIC_RELEASE);
			ipcqi_futex_wake(&q->bell->seq, 1);
		}
	}
	if (rv != 0) {
		return rv;
	}
	if (q->stuck) {
		q->stuck = false;
		ipcqd_info("queue %s: segment lock free again", q->name);
	}
	ql_catch_up(q);
	return 0;
}

bool
ipcqd_queue_needs_retry(const ipcqd_queue *q)
{
	return q->stuck || q->npending > 0 || q->state_dirty ||
	    (q->corrupt_seen && !q->corrupt_failed);
}
