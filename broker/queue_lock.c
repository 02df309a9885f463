/*
 * The broker's side of a segment lock. A shared-memory client takes the
 * same lock for a few hundred nanoseconds per operation, but a client can
 * hold it for as long as it likes: stopped (SIGSTOP, a debugger), frozen
 * (the cgroup freezer, `docker pause`), preempted on a busy machine,
 * asleep in a page fault, or a lock word naming a thread that does not
 * exist (a dead broker's, or forged: recovered once the queue is stuck,
 * ipcqi_seg_lock_reclaim). The broker takes
 * segment locks under its own lock, which every queue shares, so it never
 * waits for one there, whatever the holder's state: it looks at a held
 * lock for a few microseconds at most (a running holder lets go within
 * that) and then gives up for now with IPCQ_EBUSY.
 *
 * What it could not do meanwhile is not lost:
 * - send, recv and wait park like requests that wait for room or data
 *   (h_data.c; with timeout 0 for a short grace), and are served by the
 *   pump once the lock is had;
 * - writes that nobody waits for (returns of dead holders' records,
 *   auto-acks of delivered messages, explicit acks, the end-of-stream
 *   state) queue up here and are done, in order, by the next taker
 *   before anything else;
 * - the waker thread (segment.c) tries the lock again on a short timer
 *   while anything waits for it (ipcqd_queue_retry_at): one try costs
 *   microseconds, so a stuck queue never stalls the others.
 * A queue whose lock stays held for IPCQD_STUCK_MS (or whose holder is a
 * stopped thread) is stuck: new requests get IPCQ_EBUSY at once instead
 * of parking, until the lock is had again. A client that dies holding
 * the lock gives it back to the next taker with EOWNERDEAD, which
 * recovers it.
 */
#include <stdlib.h>

#include "ipcq.h"
#include "log.h"
#include "queue.h"
#include "queue_int.h"

/* Looks at a held lock before giving up (IPCQI_CPU_RELAX each, a few
 * ns to ~100 ns: tens of microseconds at most). Skipped once the queue
 * is stuck, so a request to a stuck queue costs one trylock. */
#define QL_SPINS 1000

/* A lock held this long is not a preempted client: requests stop
 * waiting for it (IPCQ_EBUSY). */
#define IPCQD_STUCK_MS 1000

/* The waker's retry period while a lock is held: short at first (a
 * preempted holder runs again soon, and parked requests wait for it),
 * growing with the episode's age up to QL_RETRY_MAX_MS. */
#define QL_RETRY_MAX_MS 100

enum ql_kind { QL_RETURN, QL_ACK, QL_REQUEUE };

/* One segment write that waits for the lock. */
struct ipcqd_todo {
	enum ql_kind kind;
	uint64_t     holder;
	uint64_t     pos, lease; /* QL_ACK, QL_REQUEUE */
};

static bool
ql_push(ipcqd_queue *q, struct ipcqd_todo t)
{
	if (q->ntodo == q->captodo) {
		size_t             cap = q->captodo ? 2 * q->captodo : 8;
		struct ipcqd_todo *p   = realloc(q->todo, cap * sizeof(*p));
		if (p == NULL) {
			return false;
		}
		q->todo    = p;
		q->captodo = cap;
	}
	q->todo[q->ntodo++] = t;
	return true;
}

void
ipcqd_qu_defer_return(ipcqd_queue *q, uint64_t holder)
{
	if (!ql_push(q, (struct ipcqd_todo){ .kind = QL_RETURN,
	                    .holder = holder })) {
		ipcqd_error("queue %s: out of memory remembering a dead "
		            "client's leases; they return when the "
		            "broker restarts", q->name);
	}
}

bool
ipcqd_qu_defer_finish(ipcqd_queue *q, uint64_t holder, uint64_t pos,
    uint64_t lease, bool requeue)
{
	return ql_push(q, (struct ipcqd_todo){
	                      .kind   = requeue ? QL_REQUEUE : QL_ACK,
	                      .holder = holder,
	                      .pos    = pos,
	                      .lease  = lease,
	                  });
}

void
ipcqd_qu_ring(ipcqd_queue *q, bool want_pump)
{
	if (q->bell == NULL) {
		return; /* an anonymous queue (unit tests): no waker */
	}
	if (want_pump) {
		__atomic_store_n(&q->seg.hdr->broker_pending, 1,
		    __ATOMIC_RELEASE);
	}
	ipcqi_bell_ring(q->bell);
}

/* Lock held: do what waited for it, in the order it came. Finishes come
 * before a later return of the same holder, so an acked record is never
 * redelivered. Pumped afterwards by the waker: space may have freed. */
static void
ql_catch_up(ipcqd_queue *q)
{
	size_t n = q->ntodo;

	for (size_t i = 0; i < n; i++) {
		struct ipcqd_todo *t = &q->todo[i];
		if (t->kind == QL_RETURN) {
			ipcqi_seg_return_holder(&q->seg, t->holder);
		} else if (ipcqi_seg_finish(&q->seg, t->pos, t->lease,
		               t->holder, t->kind == QL_REQUEUE) != 0) {
			ipcqd_warn("queue %s: a deferred ack of lease %llu "
			           "found no such lease", q->name,
			    (unsigned long long) t->lease);
		}
	}
	q->ntodo = 0;
	if (n > 0) {
		ipcqi_seg_wake_data(&q->seg, 0);
		ipcqi_seg_wake_space(&q->seg, 0);
		ipcqd_qu_ring(q, true);
	}
	if (q->state_dirty) {
		ipcqd_qu_write_state(q);
	}
}

/* The lock is held by a client: start or continue the episode. */
static void
ql_busy(ipcqd_queue *q)
{
	uint64_t now = ipcqd_now_ms();

	q->busy_tried = now;
	if (q->busy_since == 0) {
		q->busy_since = now;
		ipcqd_qu_ring(q, false); /* the waker starts retrying */
	}
	if (!q->stuck && (now - q->busy_since >= IPCQD_STUCK_MS ||
	                     ipcqi_seg_owner_stopped(&q->seg))) {
		q->stuck = true;
		ipcqd_warn("queue %s: a client has held its segment lock "
		           "for %llu ms (stopped, frozen or gone?); requests "
		           "get EBUSY until it lets go", q->name,
		    (unsigned long long) (now - q->busy_since));
	}
}

int
ipcqd_qu_lock(ipcqd_queue *q)
{
	int rv = ipcqi_seg_lock_try(&q->seg, q->stuck ? 0 : QL_SPINS);

	/* Stuck on a word naming a thread that does not exist: a dead
	 * broker's, which the kernel could not mark (ipcqi_seg.h), or a
	 * forged one. Mark it as the kernel would have; the next try gets
	 * EOWNERDEAD and repairs the segment. Only once stuck (held past
	 * IPCQD_STUCK_MS), never on a first look. */
	if (rv == IPCQ_EBUSY && q->stuck &&
	    ipcqi_seg_lock_reclaim(&q->seg) == 0) {
		ipcqd_warn("queue %s: segment lock held by a thread that is "
		           "gone; recovered", q->name);
		rv = ipcqi_seg_lock_try(&q->seg, 0);
	}
	if (rv == IPCQ_EBUSY) {
		ql_busy(q);
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
		ipcqd_qu_ring(q, false); /* the waker fails them */
	}
	if (rv != 0) {
		return rv;
	}
	if (q->stuck) {
		q->stuck = false;
		ipcqd_info("queue %s: segment lock free again", q->name);
	}
	if (q->busy_since != 0) {
		q->busy_since = 0;
		ipcqd_qu_ring(q, true); /* requests parked for the lock go on */
	}
	ql_catch_up(q);
	return 0;
}

bool
ipcqd_queue_lock_busy(const ipcqd_queue *q)
{
	return q->busy_since != 0;
}

bool
ipcqd_queue_stuck(const ipcqd_queue *q)
{
	return q->stuck;
}

uint64_t
ipcqd_queue_retry_at(const ipcqd_queue *q)
{
	uint64_t wait;

	if (q->corrupt_seen) { /* no lock to wait for */
		/* Due at once (any past time): the poke fails its
		 * parked requests, once. */
		return q->corrupt_failed ? 0 : 1;
	}
	if (q->busy_since == 0) {
		return 0; /* everything that waited was done with the lock */
	}
	wait = (q->busy_tried - q->busy_since) / 8;
	wait = wait < 1 ? 1 : wait > QL_RETRY_MAX_MS ? QL_RETRY_MAX_MS : wait;
	return q->busy_tried + wait;
}

void
ipcqd_queue_retry(ipcqd_queue *q)
{
	if (ipcqd_qu_lock(q) == 0) {
		ipcqi_seg_unlock(&q->seg);
	}
}
