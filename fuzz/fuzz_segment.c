/*
 * Fuzz target: arbitrary bytes as a queue segment's header and ring,
 * through what the broker and libipcq do with a segment they did not
 * write (proto/ipcqi_seg*.c): map and validate it, adopt it (return
 * every holder's records), repair it, and send, take, finish, drop and
 * purge on it. Whatever the bytes, nothing may be read or written
 * outside the segment (docs/testing.md, "Fuzzing").
 *
 * Input:
 *   ctrl[8]  max_messages (1 byte), max_bytes (2), max_message_bytes
 *            (2), full_policy (1), flags (1), op count (1)
 *   ops      4 bytes each: opcode, 3 bytes of argument
 *   image    laid over the segment ipcqi_seg_create wrote for those
 *            bounds: with flags bit 0, 256 bytes over header bytes
 *            0..255 (magic, version, geometry, name, options: a random
 *            geometry never maps, so only when asked); then 192 bytes
 *            over header bytes 320..511 (positions, counters, state);
 *            the rest over the ring. The futex words and the sleepers
 *            table keep what create wrote: fixed-size, never indexed
 *            by what they hold, and 3.5 KiB of input the fuzzer would
 *            otherwise spend its mutations on. Flags
 *            bit 1: tail follows the records' sizes from head, and the
 *            counters are recomputed (see fz_fix_tail).
 *
 * The robust mutex (bytes 256..319) is never taken from the input: it
 * is glibc's object, and a scribbled one is out of what the segment code
 * can check (docs/shm.md). The file is a memfd. Once it maps, its bytes
 * are copied into a heap block of exactly its size and the operations
 * run there, so that AddressSanitizer sees a read one byte past the end
 * (it does not watch mmap'd memory).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipcq.h"
#include "ipcqi_seg.h"

#define FZ_REFS     8
#define FZ_GEOMETRY 256 /* header bytes 0..255 */
#define FZ_STATE_AT 320 /* head, tail, scan, counters, qstate, ... */
#define FZ_STATE    192 /* ... up to the futex words at 512 */

static unsigned char fz_payload[8192];
static volatile unsigned fz_sink; /* payload reads are not optimised away */

static uint32_t
fz_u16(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8;
}

/* Write the header the broker would, then the input over it. */
static int
fz_write_image(int fd, const uint8_t *ctrl, const uint8_t *img, size_t n,
    uint64_t *seg_bytes)
{
	ipcqi_seg_params p = { 0 };
	ipcqi_seg        s;
	size_t           k;

	p.name              = "fuzz";
	p.max_messages      = 1 + ctrl[0] % 64;
	p.max_bytes         = fz_u16(ctrl + 1);
	p.max_message_bytes = 1 + fz_u16(ctrl + 3) % 4096;
	p.full_policy       = ctrl[5] % 3;
	if (ipcqi_seg_create(&s, fd, &p) != 0) {
		return -1;
	}
	if (ctrl[6] & 1) {
		k = n < FZ_GEOMETRY ? n : FZ_GEOMETRY;
		memcpy(s.base, img, k);
		img += k;
		n -= k;
	}
	k = n < FZ_STATE ? n : FZ_STATE;
	memcpy(s.base + FZ_STATE_AT, img, k);
	img += k;
	n -= k;
	memcpy(s.ring, img, n < s.ring_bytes ? n : s.ring_bytes);
	*seg_bytes = s.seg_bytes;
	ipcqi_seg_unmap(&s);
	return 0;
}

/* The mapped segment, moved into a heap block of its exact size. */
static unsigned char *
fz_to_heap(ipcqi_seg *s)
{
	unsigned char      *buf = malloc(s->seg_bytes);
	ipcqi_seg           mapped = *s;
	pthread_mutexattr_t a;

	if (buf == NULL) {
		return NULL;
	}
	memcpy(buf, s->base, s->seg_bytes);
	ipcqi_seg_unmap(&mapped); /* keeps nothing but the copy */
	s->base = buf;
	s->hdr  = (ipcqi_seg_hdr *) (void *) buf;
	s->ring = buf + IPCQI_SEG_HDR_BYTES;
	/* The lock as ipcqi_seg_create makes it (the copy is not the
	 * mutex the file had: a robust mutex lives on a thread's list). */
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&s->hdr->lock, &a);
	pthread_mutexattr_destroy(&a);
	return buf;
}

/* A record handed out lies inside the ring, never across its end
 * (docs/shm.md): checked here as well as by ASan, which sees only a read
 * past the end of the whole block. */
static void
fz_read(const ipcqi_seg *s, const ipcqi_seg_ref *r)
{
	const ipcqi_seg_rec *rec = (const ipcqi_seg_rec *) (const void *) (
	    r->data - IPCQI_SEG_REC_BYTES);
	unsigned             sum = 0;

	if (r->data < s->ring + IPCQI_SEG_REC_BYTES ||
	    r->data > s->ring + s->ring_bytes ||
	    rec->size > (uint64_t) (s->ring + s->ring_bytes - r->data) +
	            IPCQI_SEG_REC_BYTES ||
	    r->len > rec->size - IPCQI_SEG_REC_BYTES) {
		fprintf(stderr, "fuzz_segment: a record of %u bytes at ring "
		                "offset %td is outside the ring (%" PRIu64
		                " bytes)\n",
		    r->len, r->data - s->ring, s->ring_bytes);
		abort();
	}
	for (uint32_t i = 0; i < r->len; i++) {
		sum += r->data[i];
	}
	fz_sink += sum;
}

/* Flags bit 1: make tail agree with the records from head on (each
 * record's size leads to the next), so that the fuzzer can change one
 * record's size without having to find the matching tail as well. The
 * records themselves are not checked here: that is the code's job. */
static void
fz_fix_tail(ipcqi_seg *s)
{
	ipcqi_seg_hdr *h   = s->hdr;
	uint64_t       pos = h->head & ~(uint64_t) (IPCQI_SEG_ALIGN - 1);
	uint64_t       end = pos;

	while (end - pos < s->ring_bytes) {
		const ipcqi_seg_rec *r = (const ipcqi_seg_rec *) (const void *) (
		    s->ring + end % s->ring_bytes);
		if (r->size < IPCQI_SEG_REC_BYTES ||
		    r->size % IPCQI_SEG_ALIGN != 0 ||
		    r->size > s->ring_bytes - (end - pos)) {
			break;
		}
		end += r->size;
	}
	h->head = pos;
	h->tail = end;
	h->scan = pos;
}

/* One operation with the lock held, as a client or the broker makes
 * it. */
static void
fz_op(ipcqi_seg *s, const uint8_t *op, ipcqi_seg_ref *refs)
{
	uint32_t           arg = fz_u16(op + 1);
	uint64_t           holder = 1 + op[3] % 3;
	ipcqi_seg_ref     *ref = &refs[op[3] % FZ_REFS];
	ipcqi_seg_payload  batch[4];
	size_t             accepted = 0;
	uint64_t           pos;
	unsigned char     *data;
	uint32_t           len;

	switch (op[0] % 14) {
	case 0:
	case 1:
		if (ipcqi_seg_take_upto(s, holder, op[0] % 14 ? arg : UINT32_MAX,
		        ref) == 0) {
			fz_read(s, ref);
		}
		break;
	case 2:
	case 3:
		(void) ipcqi_seg_finish(s, ref->pos, ref->lease, holder,
		    op[0] % 14 == 3);
		break;
	case 4: /* a stale or forged lease */
		(void) ipcqi_seg_finish(s, (uint64_t) arg * 8, arg, holder,
		    op[3] & 1);
		break;
	case 5:
		(void) ipcqi_seg_put(s, fz_payload, arg % sizeof(fz_payload));
		break;
	case 6:
		len = arg % sizeof(fz_payload);
		if (ipcqi_seg_reserve(s, len, holder, &pos, &data) == 0) {
			memset(data, op[3], len);
			(void) ipcqi_seg_publish(s, pos, holder, op[3] & 1);
		}
		break;
	case 7:
		(void) ipcqi_seg_return_holder(s, op[3] % 4);
		break;
	case 8:
		(void) ipcqi_seg_drop_oldest(s);
		break;
	case 9:
		(void) ipcqi_seg_purge(s);
		break;
	case 10:
		(void) ipcqi_seg_repair(s);
		break;
	case 11:
		(void) ipcqi_seg_next_len(s, &len);
		break;
	case 12:
		for (int i = 0; i < 4; i++) {
			batch[i].data = fz_payload;
			batch[i].len  = (arg >> (i * 4)) % 16 * 64;
		}
		(void) ipcqi_seg_admit(s, batch, 1 + op[3] % 4, &accepted);
		break;
	default:
		(void) ipcqi_seg_room(s, arg % sizeof(fz_payload));
		(void) ipcqi_seg_empty_status(s, op[3]);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ctrl = data, *ops;
	size_t         nops;
	uint64_t       seg_bytes;
	ipcqi_seg      s;
	ipcqi_seg_ref  refs[FZ_REFS];
	unsigned char *heap;
	static int     fd = -1;

	if (size < 8) {
		return 0;
	}
	nops = ctrl[7] % 32;
	if (size < 8 + nops * 4) {
		nops = (size - 8) / 4;
	}
	ops = data + 8;
	/* One file for every run, emptied each time (cheaper than a new
	 * memfd per input). */
	if (fd < 0 && (fd = memfd_create("fuzz-seg", MFD_CLOEXEC)) < 0) {
		abort();
	}
	if (ftruncate(fd, 0) != 0) {
		abort();
	}
	if (fz_write_image(fd, ctrl, ops + nops * 4, size - 8 - nops * 4,
	        &seg_bytes) != 0 ||
	    ipcqi_seg_map(&s, fd, NULL) != 0) {
		return 0; /* refused: what a reader must do with bad bytes */
	}
	if ((heap = fz_to_heap(&s)) == NULL) {
		abort();
	}
	memset(refs, 0, sizeof(refs));
	/* Adoption (broker/segment.c): every holder of the old instance is
	 * gone. Then the operations, each under the lock as its callers
	 * take it; a segment found corrupt is refused from then on. */
	if (ctrl[6] & 2) {
		fz_fix_tail(&s);
	}
	if (ipcqi_seg_lock_timed(&s, 0) == 0) {
		if (ctrl[6] & 2) {
			(void) ipcqi_seg_repair(&s); /* counters from records */
		}
		(void) ipcqi_seg_return_holder(&s, 0);
		ipcqi_seg_unlock(&s);
		for (size_t i = 0; i < nops; i++) {
			if (ipcqi_seg_lock_timed(&s, 0) != 0) {
				break;
			}
			fz_op(&s, ops + i * 4, refs);
			ipcqi_seg_unlock(&s);
		}
	}
	pthread_mutex_destroy(&s.hdr->lock);
	free(heap);
	return 0;
}
