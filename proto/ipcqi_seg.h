/*
 * The shared-memory segment of one queue: its layout (part of the
 * broker<->client contract, like ipcq.proto) and the operations both the
 * broker and libipcq apply to it. docs/shm.md explains the layout, who may
 * write which field, and the crash rules.
 *
 * A segment is one file (POSIX shm object, or a file under the broker's
 * state directory for a durable queue):
 *
 *   [0, 4096)            ipcqi_seg_hdr: identity, options, lock, state
 *   [4096, 4096 + ring)  the ring: variable-length records, each an
 *                        ipcqi_seg_rec header and its payload
 *
 * Positions (head, tail, scan, a record's pos) are monotonic byte counts
 * that never wrap and are never reused; the byte offset in the ring is
 * pos % ring_bytes. Records and positions are multiples of 32 bytes, so
 * a 64-byte message takes 96 bytes of ring. A record never straddles the ring's end: the writer
 * fills the rest with a PAD record. Offsets only, never pointers.
 *
 * Locking: hdr->lock (robust, process-shared) guards every field from
 * `head` to `space_sleepers` and every record header.
 * A record's payload is written by its producer while the record is
 * WRITING and read by its holder while it is LEASED, both outside the
 * lock: nobody else may touch a record in those states.
 *
 * Trust: any process that maps the segment can write anything. Every
 * position, size and length read from it is checked before use (local,
 * trusted copies of the geometry are kept in ipcqi_seg); a check that
 * fails marks the segment corrupt and every operation on it then fails
 * with IPCQ_ECORRUPT.
 *
 * Checksums (durable segments only, hdr->durable): the last 4 bytes of
 * every record's slot (its size includes them) hold the CRC-32C of its
 * position, size, len and payload, written before the record becomes
 * READY and checked before it is handed out and when a broker adopts the
 * file. The position in the sum means a stale slot of an earlier lap
 * never passes. state, deliveries, holder and lease change in place and
 * are not summed: they are checked by the rules (a state outside the
 * set quarantines; a WRITING record flipped to LEASED still fails its
 * sum, having none). A record that fails quarantines the queue and its
 * file offset is kept in hdr->bad_offset for the broker's log.
 * Non-durable segments skip the sum (memory does not rot on its own).
 *
 * Layout change checklist: bump IPCQI_SEG_VERSION; update the
 * _Static_asserts in ipcqi_seg.c and the table in docs/shm.md; a broker
 * that finds an older version at start-up leaves the file alone.
 */
#ifndef IPCQI_SEG_H
#define IPCQI_SEG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipcqi_common.h"

#define IPCQI_SEG_MAGIC     0x53514349u /* "ICQS" */
#define IPCQI_SEG_VERSION   2u /* 2: durable records carry a CRC-32C */
#define IPCQI_SEG_HDR_BYTES 4096u
#define IPCQI_SEG_REC_BYTES 32u /* record header */
#define IPCQI_SEG_ALIGN     32u /* record sizes and positions */
#define IPCQI_SEG_SUM_BYTES 4u  /* durable: a record's checksum, last */

/* Record states. */
enum ipcqi_rec_state {
	IPCQI_REC_WRITING = 1, /* reserved by holder, payload being filled */
	IPCQI_REC_READY   = 2, /* deliverable */
	IPCQI_REC_LEASED  = 3, /* delivered to holder, not yet acked */
	IPCQI_REC_DONE    = 4, /* acked, dropped or purged: space to reclaim */
	IPCQI_REC_PAD     = 5, /* filler up to the ring's end */
};

typedef struct ipcqi_seg_rec {
	uint32_t size;       /* header + payload, rounded up to 32 */
	uint32_t state;      /* enum ipcqi_rec_state */
	uint32_t len;        /* payload bytes (<= size - 32) */
	uint32_t deliveries; /* times delivered so far */
	uint64_t holder;     /* WRITING, LEASED: the handle id holding it */
	uint64_t lease;      /* LEASED: lease id (unique per segment) */
} ipcqi_seg_rec;

/* hdr->qstate bits, written by the broker only. */
#define IPCQI_QS_ENDED     0x1u /* no more sends: consumers drain to EOF */
#define IPCQI_QS_CLOSED    0x2u /* ended by close */
#define IPCQI_QS_ABANDONED 0x4u /* producers left without ending */
#define IPCQI_QS_CORRUPT   0x8u /* failed a check: quarantined */
#define IPCQI_QS_DELETED   0x10u /* the queue was deleted */
#define IPCQI_QS_STOPPED   0x20u /* removed by the broker's clean stop
                                    (it was empty): reconnect, as after
                                    a lost connection */

#define IPCQI_SEG_SLEEPER_SLOTS 64
#define IPCQI_SLEEP_RECV        1u
#define IPCQI_SLEEP_SEND        2u

/* hdr->broker_watch bits, written by the broker: what its parked socket
 * requests wait for, so a shared-memory client knows to ring the bell. */
#define IPCQI_WATCH_DATA  0x1u /* receivers or readiness waiters */
#define IPCQI_WATCH_SPACE 0x2u /* senders */

typedef struct ipcqi_seg_hdr {
	/* Identity and geometry: written once by the broker at creation. */
	uint32_t magic;
	uint32_t version;
	uint32_t hdr_bytes;
	uint32_t rec_bytes;
	uint64_t seg_bytes;  /* whole file */
	uint64_t ring_bytes; /* multiple of 8 */
	uint64_t broker_tag; /* the broker instance (address) that owns it */
	uint64_t queue_id;   /* unique per broker tag */
	char     name[IPCQI_NAME_MAX + 8]; /* NUL-terminated queue name */

	/* Options: written once by the broker at creation. */
	uint64_t max_messages;
	uint64_t max_bytes;
	uint32_t max_message_bytes;
	uint32_t full_policy;
	uint32_t expected_producers;
	uint32_t durable;
	uint32_t sync_mode; /* IPCQI_SYNC_*: when a durable send reaches disk */
	uint32_t sync_ms;   /* IPCQI_SYNC_BATCH: the broker's period */
	uint64_t bad_offset; /* file offset of a record that failed its
	                        checksum (0: none); set with quarantine */
	uint8_t  pad0[256 - 232];

	/* At 256: the lock. */
	pthread_mutex_t lock;
	uint8_t         pad1[64 - sizeof(pthread_mutex_t)];

	/* At 320: guarded by lock. */
	uint64_t head; /* oldest record not yet reclaimed */
	uint64_t tail; /* where the next record goes */
	uint64_t scan; /* no READY record lies before this */
	uint64_t ready, ready_bytes;
	uint64_t leased, leased_bytes;
	uint64_t writing, writing_bytes; /* loans in progress */
	uint64_t next_lease;
	uint64_t sent, received, acked, redelivered, dropped, purged;
	uint32_t qstate;       /* IPCQI_QS_* (broker writes) */
	uint32_t broker_watch; /* IPCQI_WATCH_* (broker writes) */
	uint32_t data_sleepers;  /* 1: someone may sleep on data_seq */
	uint32_t space_sleepers; /* 1: someone may sleep on space_seq */
	/* At 464: the producer counts the end-of-stream rule depends on
	 * (broker writes, with qstate), so that a broker restarted after
	 * a crash, or after a clean stop that kept the queue, goes on
	 * counting (docs/shm.md, "End of stream across a restart"). Zero
	 * in a file an older broker wrote: nothing counted, as it knew. */
	uint32_t producers_attached; /* attached, not ended */
	uint32_t producers_ended;    /* ended their stream */
	uint32_t producers_lost;     /* left without ending */
	uint8_t  pad2[512 - 476];

	/* At 512, 576, 640: futex words, one cache line each. Bumped (after
	 * the state change, under the lock) and woken when the state they
	 * announce changes; sleepers read them under the lock. */
	uint32_t data_seq; /* something a consumer waits for changed */
	uint8_t  pad3[60];
	uint32_t space_seq; /* room appeared for a producer */
	uint8_t  pad4[60];
	uint32_t broker_pending; /* 1: the broker should look at this queue */
	uint8_t  pad5[1024 - 644];

	/* At 1024: who sleeps in the segment, for the broker's stats
	 * (senders_waiting, receivers_waiting) and clean-up. Guarded by
	 * lock. A sleeper takes the slot of its (holder, kind) or a free
	 * one; if none is free it sleeps uncounted. */
	struct ipcqi_seg_sleeper {
		uint64_t holder;
		uint32_t kind;  /* 0 free, IPCQI_SLEEP_RECV or _SEND */
		uint32_t count; /* threads of holder asleep */
	} sleepers[IPCQI_SEG_SLEEPER_SLOTS];
} ipcqi_seg_hdr;

/* The broker's doorbell: one small segment per broker, one futex word.
 * A client that changed a queue the broker watches sets the queue's
 * broker_pending, bumps seq and wakes the broker's waker thread. */
#define IPCQI_BELL_MAGIC 0x4c424349u /* "ICBL" */
typedef struct ipcqi_bell {
	uint32_t magic;
	uint32_t version;
	uint32_t seq;
	uint32_t pad;
} ipcqi_bell;

/* A mapped segment, as one process sees it. Geometry fields are trusted
 * local copies, validated once at map time. */
typedef struct ipcqi_seg {
	unsigned char *base;
	ipcqi_seg_hdr *hdr;
	unsigned char *ring;
	uint64_t       seg_bytes;
	uint64_t       ring_bytes;
	uint64_t       max_messages;
	uint64_t       max_bytes;
	uint32_t       max_message_bytes;
	int            full_policy;
	bool           sums; /* durable: records carry a checksum */
} ipcqi_seg;

/* What a take hands out: where the record is and a copy of its header
 * fields (the payload stays in the segment until the record is
 * finished). */
typedef struct ipcqi_seg_ref {
	uint64_t             pos;
	uint64_t             lease;
	uint32_t             len;
	uint32_t             deliveries;
	const unsigned char *data;
} ipcqi_seg_ref;

typedef struct ipcqi_seg_params {
	const char *name;
	uint64_t    broker_tag;
	uint64_t    queue_id;
	uint64_t    max_messages;
	uint64_t    max_bytes;
	uint32_t    max_message_bytes;
	int         full_policy;
	uint32_t    expected_producers;
	int         durable;
	int         sync_mode; /* IPCQI_SYNC_* (durable only) */
	uint32_t    sync_ms;
} ipcqi_seg_params;

/* Sync policies of a durable queue (docs/shm.md, "Durable queues"). */
#define IPCQI_SYNC_NONE   0 /* the kernel writes back when it likes */
#define IPCQI_SYNC_BATCH  1 /* the broker syncs every sync_ms */
#define IPCQI_SYNC_ALWAYS 2 /* a send returns after its record is synced */

/* Whether a send on this segment must reach the disk before it returns
 * (a durable queue under IPCQI_SYNC_ALWAYS). */
bool ipcqi_seg_sync_always(const ipcqi_seg *s);

/* After records were added, with the lock NOT held (a sync can take
 * long, and every other user of the segment would wait for it): under
 * IPCQI_SYNC_ALWAYS, write the segment's dirty pages to disk. 0, or
 * IPCQ_EIO if the sync failed: what was sent stays queued, it is only
 * not known to be on disk. */
int ipcqi_seg_sync(ipcqi_seg *s);

/* ------------------------------------------------ mapping (ipcqi_seg.c) */

/* Ring bytes for these bounds: room for max_bytes of payload plus a
 * header per message, plus one largest message for the PAD at the end. */
uint64_t ipcqi_seg_ring_bytes(const ipcqi_seg_params *p);

/* Allocate every byte of [0, bytes) of fd (posix_fallocate), so that no
 * later write into the mapping can fault for want of space. 0,
 * IPCQ_ENOSPC when the file system (tmpfs: its size) has no room,
 * IPCQ_EIO for another failure. */
int ipcqi_seg_allocate(int fd, uint64_t bytes);

/* Size fd, allocate its pages (ipcqi_seg_allocate), map it and write a
 * fresh header (broker only). 0 or an ipcq error: IPCQ_ENOSPC when the
 * pages cannot be allocated, IPCQ_ENOMEM when the file cannot be sized or
 * mapped. */
int ipcqi_seg_create(ipcqi_seg *s, int fd, const ipcqi_seg_params *p);

/* Map an existing segment and validate its header. want_name, if not
 * NULL, must equal the name in the header. IPCQ_ECORRUPT if anything
 * does not check out, IPCQ_EVERSION for another layout version. */
int ipcqi_seg_map(ipcqi_seg *s, int fd, const char *want_name);

void ipcqi_seg_unmap(ipcqi_seg *s);

/* Lock; a lock whose owner died is recovered (the ring is walked, the
 * counters recomputed, records the dead owner was writing are left for
 * the broker's holder clean-up). IPCQ_ECORRUPT if the segment is (or is
 * found) corrupt: then the lock is NOT held. */
int  ipcqi_seg_lock(ipcqi_seg *s);
void ipcqi_seg_unlock(ipcqi_seg *s);

/* Same, waiting at most timeout_ms (0: only if free now; -1: forever):
 * IPCQ_EBUSY if another process still holds the lock then. The broker
 * never waits long for a lock a client holds: a client stopped inside
 * its critical section must not stall the broker. */
int ipcqi_seg_lock_timed(ipcqi_seg *s, int timeout_ms);

/* Take the lock if it is free, or frees within `spins` looks at it (a
 * few nanoseconds each: a running holder lets go within microseconds).
 * Never sleeps, whoever holds it and in whatever state: IPCQ_EBUSY then.
 * The broker's way, under its own lock (broker/queue_lock.c). */
int ipcqi_seg_lock_try(ipcqi_seg *s, unsigned spins);

/* Whether the thread holding the segment lock is stopped (SIGSTOP, a
 * debugger): read from the robust mutex's owner id and /proc. A holder
 * that is only preempted or slow is not stopped. Linux only. */
bool ipcqi_seg_owner_stopped(const ipcqi_seg *s);

/* The segment lock names a thread that no longer exists, and the kernel
 * did not mark it OWNER_DIED (the owner's robust list was unreadable
 * when it died: a broker whose mapping had been replaced by zero pages).
 * Then mark it as the kernel would have, so that the next lock gets
 * EOWNERDEAD and repairs the segment: 0. IPCQ_EBUSY if the owner may be
 * alive (or the lock moved meanwhile). Call only after the lock has been
 * found held for long: a holder in another PID namespace has a thread id
 * that means nothing here, and it lets go within microseconds. */
int ipcqi_seg_lock_reclaim(ipcqi_seg *s);

/* Walk every record from head to tail, validate it and recompute the
 * counters (lock held). IPCQ_ECORRUPT (and the segment quarantined) if
 * a record does not check out. */
int ipcqi_seg_repair(ipcqi_seg *s);

/* A segment just adopted by a restarted broker (lock held): counters
 * rebuilt from the records (they are derived data, and a file that
 * outlived an OS crash may hold a header older than its records), every
 * lease and loan of the old instance returned, every deliverable
 * record's checksum checked. IPCQ_ECORRUPT (quarantined; *bad_offset:
 * the file offset of the first bad record, 0 if unknown) or 0. */
int ipcqi_seg_adopt(ipcqi_seg *s, uint64_t *bad_offset);

/* Mark corrupt (lock held or not: a single store). */
void ipcqi_seg_quarantine(ipcqi_seg *s);

bool ipcqi_seg_corrupt(const ipcqi_seg *s);

/* --------------------------------------- records (ipcqi_seg_ring.c) */
/* All with the lock held. */

/* Whether a message of len bytes fits the queue's bounds (ready +
 * leased) and the ring's free space now. False (and the segment
 * quarantined) if the counters do not check out. */
bool ipcqi_seg_fits(ipcqi_seg *s, uint32_t len);

/* Whether head, tail and the ready/leased/writing counters check out:
 * each within the queue's bounds, and together no more than the ring
 * between head and tail holds. If not, the segment is quarantined. */
bool ipcqi_seg_counts_ok(ipcqi_seg *s);

/* Append a READY record holding a copy of data. IPCQ_EFULL if it does
 * not fit (callers apply the full policy first). */
int ipcqi_seg_put(ipcqi_seg *s, const void *data, uint32_t len);

/* Reserve a WRITING record of len bytes for holder (a zero-copy loan);
 * *pos and *data say where. Publish it with ipcqi_seg_publish. */
int ipcqi_seg_reserve(ipcqi_seg *s, uint32_t len, uint64_t holder,
    uint64_t *pos, unsigned char **data);
/* Make holder's WRITING record at pos READY (or DONE when discard). */
int ipcqi_seg_publish(ipcqi_seg *s, uint64_t pos, uint64_t holder,
    bool discard);

/* Take the oldest READY record: it becomes LEASED to holder with a new
 * lease id. IPCQ_ETIMEDOUT if none is ready (the caller decides between
 * waiting, EOF and EABANDONED: ipcqi_seg_empty_status). */
int ipcqi_seg_take(ipcqi_seg *s, uint64_t holder, ipcqi_seg_ref *ref);

/* The same, but only if the oldest READY record's payload is at most
 * max_len bytes: IPCQ_EMSGSIZE (and ref->len set, nothing taken) if it
 * is longer. One walk for "is there one, how big, take it". */
int ipcqi_seg_take_upto(ipcqi_seg *s, uint64_t holder, uint32_t max_len,
    ipcqi_seg_ref *ref);

/* Payload length of the record the next take would hand out; false if
 * none is ready (or the segment is corrupt). */
bool ipcqi_seg_next_len(ipcqi_seg *s, uint32_t *len);

/* Finish holder's lease (pos, lease): ack it (the record is done), or
 * requeue it (READY again, in its original place). IPCQ_ENOLEASE if that
 * lease is not holder's. Counts acked / redelivered. */
int ipcqi_seg_finish(ipcqi_seg *s, uint64_t pos, uint64_t lease,
    uint64_t holder, bool requeue);

/* Everything holder left behind: its leases become READY again (counted
 * as redelivered), its unfinished writes are discarded. holder 0: every
 * holder (a broker adopting a segment after a crash). Returns the number
 * of leases returned. */
uint64_t ipcqi_seg_return_holder(ipcqi_seg *s, uint64_t holder);

/* Drop the oldest READY record (counted as dropped); false if none. */
bool ipcqi_seg_drop_oldest(ipcqi_seg *s);

/* Discard every READY record; returns the count (counted as purged). */
uint64_t ipcqi_seg_purge(ipcqi_seg *s);

/* Durable records' checksums (ipcqi_seg_sum.c; nothing without
 * s->sums). Write the sum of the whole record at pos (before it
 * becomes READY); check it (false: the segment is quarantined and
 * hdr->bad_offset set). */
void ipcqi_seg_sum_write(const ipcqi_seg *s, uint64_t pos, ipcqi_seg_rec *r);
bool ipcqi_seg_sum_ok(ipcqi_seg *s, uint64_t pos, const ipcqi_seg_rec *r);

/* --------------------------------- queue rules (ipcqi_seg_queue.c) */
/* The rules of send and recv that both paths apply (lock held). */

/* Internal status: the caller must wait (never returned by the API). */
#define IPCQI_WOULD_BLOCK (-1)

/* Enqueue payloads[*accepted..n) while the bounds allow, applying the
 * full policy. 0 when all are in, IPCQI_WOULD_BLOCK (block policy),
 * IPCQ_EFULL, IPCQ_ECLOSED (the queue has ended); *accepted counts what
 * went in. Sizes are checked by the caller (EMSGSIZE). */
typedef struct ipcqi_seg_payload {
	const void *data;
	size_t      len;
} ipcqi_seg_payload;
int ipcqi_seg_admit(ipcqi_seg *s, const ipcqi_seg_payload *p, size_t n,
    size_t *accepted);

/* Make room for a len-byte message under the queue's full policy
 * (dropping the oldest if that is the policy): 0, IPCQI_WOULD_BLOCK,
 * IPCQ_EFULL or IPCQ_ECORRUPT. */
int ipcqi_seg_room(ipcqi_seg *s, uint32_t len);

/* What a consumer holding own_leases of the queue's leases gets when
 * nothing is ready: IPCQ_EOF, IPCQ_EABANDONED or IPCQI_WOULD_BLOCK. EOF
 * and EABANDONED wait until nobody else holds leases, because a dying
 * holder's messages come back. */
int ipcqi_seg_empty_status(const ipcqi_seg *s, uint64_t own_leases);

/* ---------------------------------------- wake-ups (ipcqi_seg_wait.c) */

/* Sleep on *word while it still holds seen, until woken or deadline
 * (absolute, CLOCK_MONOTONIC ms; INT64_MAX: none). Returns 0 on a wake
 * (or a changed word), IPCQ_ETIMEDOUT at the deadline. */
int  ipcqi_futex_wait(uint32_t *word, uint32_t seen, int64_t deadline_ms);
void ipcqi_futex_wake(uint32_t *word, int n);

/* Announce a change (lock held): bump the word and wake sleepers if any
 * are counted. */
void ipcqi_seg_wake_data(ipcqi_seg *s, int n);
void ipcqi_seg_wake_space(ipcqi_seg *s, int n);

/* Count holder as asleep in kind (+1) or awake again (-1); lock held. */
void ipcqi_seg_sleeper(ipcqi_seg *s, uint64_t holder, uint32_t kind,
    int delta);
/* Threads asleep in kind (lock held). */
uint32_t ipcqi_seg_sleeping(const ipcqi_seg *s, uint32_t kind);

/* Ring the broker if it watches any of bits on this queue (lock held). */
void ipcqi_seg_ring_broker(ipcqi_seg *s, ipcqi_bell *bell, uint32_t bits);

/* Ring a doorbell: bump its sequence and wake the broker's waker. */
void ipcqi_bell_ring(ipcqi_bell *bell);

#endif
