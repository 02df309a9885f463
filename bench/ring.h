/*
 * A bare single-producer / single-consumer shared-memory ring: the
 * "ceiling" that issue 3's shared-memory path is measured against. It has
 * none of a queue's semantics (no leases, no acks, no crash recovery, one
 * producer and one consumer only); it is the least work two processes can
 * do to hand each other a byte stream of records, so that the real design
 * can say how close to it it gets.
 *
 * Segment. One POSIX shm object per ring, created by the bench driver
 * with a private name ("/ipcq-bench-ring-PID-N", O_EXCL, mode 0600),
 * mapped by both workers and unlinked by the driver as soon as both have
 * it mapped (so a crash later leaves nothing in /dev/shm). Everything in
 * it is addressed by offset from the segment's start, never by pointer:
 * the two processes map it at different addresses.
 *
 * Layout (all little-endian, sizes asserted in ring.c):
 *
 *   0    header: magic, version, data capacity (a power of two), data
 *        offset (RING_HDR_SIZE).
 *   64   producer line: head (u64, total bytes ever published),
 *        prod_sleep (u32 flag), prod_fx (u32 futex word).
 *   128  consumer line: tail (u64, total bytes ever consumed),
 *        cons_sleep, cons_fx.
 *   192  data: cap bytes of records.
 *
 * head and tail only grow (64-bit: no wrap in practice); a position's
 * place in the data is pos & (cap - 1). head and tail sit on separate
 * cache lines, and each side keeps a private copy of the other's index,
 * re-reading it only when the ring looks full (producer) or empty
 * (consumer): in a steady stream each side touches the other's line once
 * per "lap", not once per record. That, and not the record format, is
 * what makes an SPSC ring fast.
 *
 * Records. An 8-byte header { u32 len; u32 type } then len bytes, padded
 * to 8. type DATA carries a message; END says the producer is done; PAD
 * fills the rest of the data area when a record would not fit before the
 * wrap point (records are never split, so a reader gets one contiguous
 * view — the property a zero-copy receive needs). A record may be at most
 * cap/2 bytes, so a PAD never needs more than the half-ring it skips.
 *
 * Memory orders (who writes what):
 *  - only the producer writes head, record bytes in [tail, cap+tail) it
 *    has not yet published, prod_fx and cons_sleep := 0;
 *  - only the consumer writes tail and cons_fx and prod_sleep := 0;
 *  - publish: the producer writes the record (plain stores), then stores
 *    head with memory_order_release; the consumer loads head with
 *    memory_order_acquire, so the record's bytes are visible before it
 *    reads them. Symmetrically tail is stored with release after the
 *    consumer is done reading a record, and loaded by the producer with
 *    acquire before it overwrites that space.
 *  - futex waits (RING_FUTEX): a side that finds nothing to do reads its
 *    futex word, sets its sleep flag, then re-reads the other side's
 *    index, all seq_cst, and only then FUTEX_WAITs on the word with the
 *    value it read. The other side, after its release store of head (or
 *    tail), issues a seq_cst fence and reads the sleep flag: this is
 *    Dekker's pattern, so at least one of them sees the other's store —
 *    either the sleeper sees the new index and does not sleep, or the
 *    waker sees the flag, clears it, bumps the futex word and
 *    FUTEX_WAKEs. Bumping the word before the wake means a sleeper that
 *    had not yet reached FUTEX_WAIT gets EAGAIN instead of sleeping
 *    through its wake-up. A wake is issued only when the other side says
 *    it sleeps: no syscall at all in a stream where neither side waits.
 *    The futexes are shared (no FUTEX_PRIVATE_FLAG): two processes.
 *  - busy-spin waits (RING_SPIN) just re-load the index, with a CPU pause
 *    hint, yielding the CPU every RING_SPIN_YIELD pauses: on a machine
 *    with fewer free cores than spinners, pure spinning turns into
 *    timeslice ping-pong and measures the scheduler, not the ring.
 *
 * Every wait is bounded (RING_WAIT_MS per call): a ring whose peer died
 * reports ETIMEDOUT instead of hanging the benchmark. Nothing here
 * survives a peer that dies mid-record; that is the real design's job.
 */
#ifndef IPCQ_BENCH_RING_H
#define IPCQ_BENCH_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_MAGIC      0x676e6972u /* "ring" */
#define RING_VERSION    1u
#define RING_HDR_SIZE   192u
#define RING_REC_HDR    8u
#define RING_SPIN_YIELD 4096
#define RING_WAIT_MS    30000

enum ring_wait { RING_SPIN, RING_FUTEX };
enum ring_rtype { RING_DATA = 1, RING_END = 2, RING_PAD = 3 };

typedef struct ring_seg {
	/* line 0: written once by the creator */
	uint32_t magic, version;
	uint64_t cap;      /* data bytes, a power of two */
	uint64_t data_off; /* RING_HDR_SIZE */
	char     pad0[64 - 24];
	/* line 1: the producer's */
	_Atomic uint64_t head;
	_Atomic uint32_t prod_sleep; /* producer waits for space */
	_Atomic uint32_t prod_fx;
	char             pad1[64 - 16];
	/* line 2: the consumer's */
	_Atomic uint64_t tail;
	_Atomic uint32_t cons_sleep; /* consumer waits for data */
	_Atomic uint32_t cons_fx;
	char             pad2[64 - 16];
} ring_seg;

/* One side's private view of a mapped ring. */
typedef struct ring {
	ring_seg      *seg;
	unsigned char *data;
	size_t         map_len;
	uint64_t       cap, mask;
	uint64_t       pos;   /* our index: head (producer) or tail */
	uint64_t       other; /* cached copy of the other side's index */
	enum ring_wait wait;
	uint64_t       wakes, sleeps; /* futex syscalls made, for the report */
} ring;

/* Data capacity for messages of size bytes: a power of two that holds at
 * least 8 records and 256 KiB. */
uint64_t ring_cap_for(size_t size);
/* Driver: create name (O_EXCL, 0600) and initialise its header; unlink. */
int  ring_create(const char *name, uint64_t cap);
void ring_unlink(const char *name);
/* Worker: map name (checking magic, version and size). */
int  ring_open(ring *r, const char *name, enum ring_wait wait);
void ring_close(ring *r);

/* Producer: copy one record of type in (len bytes) into the ring and
 * publish it, waiting for space. 0, or an errno value. */
int ring_put(ring *r, uint32_t type, const void *buf, size_t len);
/* Consumer: wait for the next record; *type, *view (in the segment,
 * valid until ring_release) and *len. 0, or an errno value. */
int ring_get(ring *r, uint32_t *type, const void **view, size_t *len);
/* Consumer: done with the record ring_get returned; publish the space. */
void ring_release(ring *r);

#endif
