/*
 * Checksums of durable records, and what a broker checks when it adopts
 * a segment left by an earlier instance (ipcqi_seg.h, "Checksums").
 * Lock held, or (writing a sum) the record owned by the caller.
 */
#include <string.h>

#include "ipcq.h"
#include "ipcqi_crc.h"
#include "ipcqi_seg.h"

/* Where a record's sum lives: the last 4 bytes of its slot. */
static unsigned char *
sum_slot(const ipcqi_seg_rec *r)
{
	return (unsigned char *) r + r->size - IPCQI_SEG_SUM_BYTES;
}

static uint32_t
sum_of(uint64_t pos, const ipcqi_seg_rec *r)
{
	uint32_t c = ipcqi_crc32c(0, &pos, sizeof(pos));

	c = ipcqi_crc32c(c, &r->size, sizeof(r->size));
	c = ipcqi_crc32c(c, &r->len, sizeof(r->len));
	return ipcqi_crc32c(c, r + 1, r->len);
}

void
ipcqi_seg_sum_write(const ipcqi_seg *s, uint64_t pos, ipcqi_seg_rec *r)
{
	uint32_t c;

	if (!s->sums) {
		return;
	}
	c = sum_of(pos, r);
	memcpy(sum_slot(r), &c, sizeof(c));
}

bool
ipcqi_seg_sum_ok(ipcqi_seg *s, uint64_t pos, const ipcqi_seg_rec *r)
{
	uint32_t want;

	if (!s->sums) {
		return true;
	}
	memcpy(&want, sum_slot(r), sizeof(want));
	if (sum_of(pos, r) == want) {
		return true;
	}
	s->hdr->bad_offset = IPCQI_SEG_HDR_BYTES + pos % s->ring_bytes;
	ipcqi_seg_quarantine(s);
	return false;
}

int
ipcqi_seg_adopt(ipcqi_seg *s, uint64_t *bad_offset)
{
	ipcqi_seg_hdr *h = s->hdr;

	*bad_offset = 0;
	/* Validates every record between head and tail on the way. */
	if (ipcqi_seg_repair(s) != 0) {
		*bad_offset = h->bad_offset;
		return IPCQ_ECORRUPT;
	}
	ipcqi_seg_return_holder(s, 0);
	for (uint64_t pos = h->head; s->sums && pos < h->tail;) {
		ipcqi_seg_rec *r = (ipcqi_seg_rec *) (void *) (s->ring +
		    pos % s->ring_bytes);
		if (r->state == IPCQI_REC_READY && !ipcqi_seg_sum_ok(s, pos, r)) {
			*bad_offset = h->bad_offset;
			return IPCQ_ECORRUPT;
		}
		pos += r->size;
	}
	return ipcqi_seg_corrupt(s) ? IPCQ_ECORRUPT : 0;
}
