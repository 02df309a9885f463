/*
 * Records in the ring: append, reserve/publish, take, finish, return a
 * dead holder's records, drop, purge, reclaim and repair. Every function
 * runs with the segment lock held (ipcqi_seg.h).
 *
 * Crash rule: a writer fills a record's header (and, for a copy, its
 * payload) before it moves tail over it, and changes a record's state
 * before the counters. Whatever instant a lock owner dies at, the records
 * between head and tail are whole, and ipcqi_seg_repair can recompute
 * every counter from them.
 *
 * Every record is validated when it is read (seg_rec): size, alignment,
 * state, length, and that it lies inside the ring and before tail. A
 * failure quarantines the segment.
 */
#include <string.h>

#include "ipcq.h"
#include "ipcqi_seg.h"

/* A record's size: header, payload, a durable record's sum, rounded. */
static uint64_t
seg_size_for(const ipcqi_seg *s, uint32_t len)
{
	uint64_t n = (uint64_t) IPCQI_SEG_REC_BYTES + len +
	    (s->sums ? IPCQI_SEG_SUM_BYTES : 0);

	return (n + IPCQI_SEG_ALIGN - 1) & ~(uint64_t) (IPCQI_SEG_ALIGN - 1);
}

/* The record at pos, validated; NULL (and the segment quarantined) if it
 * does not check out. */
static ipcqi_seg_rec *
seg_rec(ipcqi_seg *s, uint64_t pos)
{
	const ipcqi_seg_hdr *h   = s->hdr;
	uint64_t             off = pos % s->ring_bytes;
	ipcqi_seg_rec       *r;

	/* head and tail at most a ring apart: a walk from head to tail then
	 * ends within one ring, however far a scribbled tail points. */
	if (pos % IPCQI_SEG_ALIGN != 0 || pos < h->head || pos >= h->tail ||
	    h->tail - h->head > s->ring_bytes) {
		goto bad;
	}
	r = (ipcqi_seg_rec *) (void *) (s->ring + off);
	if (r->size < IPCQI_SEG_REC_BYTES || r->size % IPCQI_SEG_ALIGN != 0 ||
	    off + r->size > s->ring_bytes || pos + r->size > h->tail ||
	    r->state < IPCQI_REC_WRITING || r->state > IPCQI_REC_PAD ||
	    (r->state != IPCQI_REC_PAD &&
	        ((uint64_t) r->len + (s->sums ? IPCQI_SEG_SUM_BYTES : 0) >
	                r->size - IPCQI_SEG_REC_BYTES ||
	            r->len > s->max_message_bytes))) {
		goto bad;
	}
	return r;
bad:
	ipcqi_seg_quarantine(s);
	return NULL;
}

/* Head and tail as they must be: ordered, aligned, within one ring. */
static bool
seg_bounds_ok(ipcqi_seg *s)
{
	const ipcqi_seg_hdr *h = s->hdr;

	if (h->head > h->tail || h->tail - h->head > s->ring_bytes ||
	    h->head % IPCQI_SEG_ALIGN != 0 || h->tail % IPCQI_SEG_ALIGN != 0) {
		ipcqi_seg_quarantine(s);
		return false;
	}
	return true;
}

/* Move head over finished records so their space can be reused. */
static void
seg_reclaim(ipcqi_seg *s)
{
	ipcqi_seg_hdr *h = s->hdr;

	while (h->head < h->tail) {
		ipcqi_seg_rec *r = seg_rec(s, h->head);
		if (r == NULL ||
		    (r->state != IPCQI_REC_DONE && r->state != IPCQI_REC_PAD)) {
			break;
		}
		h->head += r->size;
	}
	if (h->scan < h->head) {
		h->scan = h->head;
	}
}

/* Make a record READY again (requeue, dead holder, publish): no READY
 * record may lie before scan. */
static void
seg_make_ready(ipcqi_seg *s, ipcqi_seg_rec *r, uint64_t pos)
{
	ipcqi_seg_hdr *h = s->hdr;

	r->state  = IPCQI_REC_READY;
	r->holder = 0;
	r->lease  = 0;
	h->ready++;
	h->ready_bytes += r->len;
	if (pos < h->scan) {
		h->scan = pos;
	}
}

/* Where a record of size bytes would go: its position, after a PAD that
 * fills the rest of the ring if it would not fit before the end. 0 if
 * the ring has no room. */
static bool
seg_room(const ipcqi_seg *s, uint64_t size, uint64_t *pad)
{
	const ipcqi_seg_hdr *h    = s->hdr;
	uint64_t             off  = h->tail % s->ring_bytes;
	uint64_t             used = h->tail - h->head;

	*pad = off + size > s->ring_bytes ? s->ring_bytes - off : 0;
	return used + *pad + size <= s->ring_bytes;
}

bool
ipcqi_seg_counts_ok(ipcqi_seg *s)
{
	const ipcqi_seg_hdr *h = s->hdr;
	uint64_t             count, bytes;

	/* Each counter alone within the bounds (so that the sums below
	 * cannot overflow), and together within what the ring holds: every
	 * message counted occupies a header and its payload in [head,
	 * tail). A scribbled counter would otherwise read as "full" (a
	 * sender waits for space that never comes) or as messages that do
	 * not exist. */
	if (h->ready > s->max_messages || h->leased > s->max_messages ||
	    h->writing > s->max_messages || h->ready_bytes > s->max_bytes ||
	    h->leased_bytes > s->max_bytes || h->writing_bytes > s->max_bytes ||
	    h->head > h->tail || h->tail - h->head > s->ring_bytes) {
		goto bad;
	}
	count = h->ready + h->leased + h->writing;
	bytes = h->ready_bytes + h->leased_bytes + h->writing_bytes;
	if (count > s->max_messages || bytes > s->max_bytes ||
	    count * IPCQI_SEG_REC_BYTES + bytes > h->tail - h->head) {
		goto bad;
	}
	return true;
bad:
	ipcqi_seg_quarantine(s);
	return false;
}

bool
ipcqi_seg_fits(ipcqi_seg *s, uint32_t len)
{
	const ipcqi_seg_hdr *h = s->hdr;
	uint64_t             pad;

	/* Scribbled positions or counters must not read as "full". */
	if (!ipcqi_seg_counts_ok(s)) {
		return false;
	}
	return h->ready + h->leased + h->writing + 1 <= s->max_messages &&
	    h->ready_bytes + h->leased_bytes + h->writing_bytes + len <=
	        s->max_bytes &&
	    seg_room(s, seg_size_for(s, len), &pad);
}

/* Write a record header at tail (after a PAD if needed) and return it;
 * tail is NOT moved yet. */
static ipcqi_seg_rec *
seg_place(ipcqi_seg *s, uint32_t len, uint32_t state, uint64_t *pos)
{
	ipcqi_seg_hdr *h    = s->hdr;
	uint64_t       size = seg_size_for(s, len);
	uint64_t       pad;
	ipcqi_seg_rec *r;

	if (!seg_bounds_ok(s)) {
		return NULL;
	}
	if (!seg_room(s, size, &pad)) {
		return NULL;
	}
	if (pad > 0) {
		r        = (ipcqi_seg_rec *) (void *) (s->ring +
                    h->tail % s->ring_bytes);
		r->size  = (uint32_t) pad;
		r->state = IPCQI_REC_PAD;
		r->len   = 0;
		h->tail += pad; /* a whole PAD: safe to publish at once */
	}
	*pos          = h->tail;
	r             = (ipcqi_seg_rec *) (void *) (s->ring +
                h->tail % s->ring_bytes);
	r->size       = (uint32_t) size;
	r->state      = state;
	r->len        = len;
	r->deliveries = 0;
	r->holder     = 0;
	r->lease      = 0;
	return r;
}

int
ipcqi_seg_put(ipcqi_seg *s, const void *data, uint32_t len)
{
	ipcqi_seg_hdr *h = s->hdr;
	ipcqi_seg_rec *r;
	uint64_t       pos;

	if (len > s->max_message_bytes) {
		return IPCQ_EMSGSIZE;
	}
	if ((r = seg_place(s, len, IPCQI_REC_READY, &pos)) == NULL) {
		return ipcqi_seg_corrupt(s) ? IPCQ_ECORRUPT : IPCQ_EFULL;
	}
	if (len > 0) {
		memcpy(r + 1, data, len);
	}
	ipcqi_seg_sum_write(s, pos, r);
	/* The record is whole: publish it. Release, so that no compiler or
	 * CPU moves the payload copy after it (crash rule above). */
	__atomic_store_n(&h->tail, pos + r->size, __ATOMIC_RELEASE);
	h->ready++;
	h->ready_bytes += len;
	h->sent++;
	return 0;
}

int
ipcqi_seg_reserve(ipcqi_seg *s, uint32_t len, uint64_t holder,
    uint64_t *pos, unsigned char **data)
{
	ipcqi_seg_hdr *h = s->hdr;
	ipcqi_seg_rec *r;

	if (len > s->max_message_bytes) {
		return IPCQ_EMSGSIZE;
	}
	if ((r = seg_place(s, len, IPCQI_REC_WRITING, pos)) == NULL) {
		return ipcqi_seg_corrupt(s) ? IPCQ_ECORRUPT : IPCQ_EFULL;
	}
	r->holder = holder;
	h->tail   = *pos + r->size;
	h->writing++;
	h->writing_bytes += len;
	*data = (unsigned char *) (r + 1);
	return 0;
}

int
ipcqi_seg_publish(ipcqi_seg *s, uint64_t pos, uint64_t holder, bool discard)
{
	ipcqi_seg_hdr *h = s->hdr;
	ipcqi_seg_rec *r;

	/* A loan a holder clean-up discarded may since have been
	 * reclaimed: not corruption, just not a loan any more. */
	if (pos % IPCQI_SEG_ALIGN != 0 || pos < h->head || pos >= h->tail) {
		return IPCQ_ENOLEASE;
	}
	if ((r = seg_rec(s, pos)) == NULL) {
		return IPCQ_ECORRUPT;
	}
	if (r->state != IPCQI_REC_WRITING || r->holder != holder) {
		return IPCQ_ENOLEASE; /* a dead-holder clean-up took it */
	}
	h->writing--;
	h->writing_bytes -= r->len;
	if (discard) {
		r->state = IPCQI_REC_DONE;
		seg_reclaim(s);
		return 0;
	}
	/* A loan's payload is whole now (its holder wrote it): its sum
	 * is taken here, under the lock, for a durable queue. */
	ipcqi_seg_sum_write(s, pos, r);
	seg_make_ready(s, r, pos);
	h->sent++;
	return 0;
}

/* The oldest READY record: its position in *pos. Nothing before scan is
 * READY, so the walk starts there; it only passes records that are
 * leased, being written or finished. NULL if none (or corrupt). */
static ipcqi_seg_rec *
seg_first_ready(ipcqi_seg *s, uint64_t *pos)
{
	ipcqi_seg_hdr *h = s->hdr;

	if (!ipcqi_seg_counts_ok(s) || h->ready == 0) {
		return NULL;
	}
	for (uint64_t p = h->scan < h->head ? h->head : h->scan; p < h->tail;) {
		ipcqi_seg_rec *r = seg_rec(s, p);
		if (r == NULL) {
			return NULL;
		}
		if (r->state == IPCQI_REC_READY) {
			*pos = p;
			return r;
		}
		p += r->size;
	}
	/* ready said there was one: the counters lie. */
	ipcqi_seg_quarantine(s);
	return NULL;
}

int
ipcqi_seg_take(ipcqi_seg *s, uint64_t holder, ipcqi_seg_ref *ref)
{
	return ipcqi_seg_take_upto(s, holder, UINT32_MAX, ref);
}

int
ipcqi_seg_take_upto(ipcqi_seg *s, uint64_t holder, uint32_t max_len,
    ipcqi_seg_ref *ref)
{
	ipcqi_seg_hdr *h = s->hdr;
	ipcqi_seg_rec *r;
	uint64_t       pos;

	if ((r = seg_first_ready(s, &pos)) == NULL) {
		return ipcqi_seg_corrupt(s) ? IPCQ_ECORRUPT : IPCQ_ETIMEDOUT;
	}
	if (r->len > max_len) {
		ref->len = r->len; /* not taken: the caller decides */
		return IPCQ_EMSGSIZE;
	}
	/* Durable: never hand out a record whose bytes changed on disk. */
	if (!ipcqi_seg_sum_ok(s, pos, r)) {
		return IPCQ_ECORRUPT;
	}
	r->state  = IPCQI_REC_LEASED;
	r->holder = holder;
	r->lease  = h->next_lease++;
	r->deliveries++;
	h->scan = pos + r->size;
	h->ready--;
	h->ready_bytes -= r->len;
	h->leased++;
	h->leased_bytes += r->len;
	h->received++;
	ref->pos        = pos;
	ref->lease      = r->lease;
	ref->len        = r->len;
	ref->deliveries = r->deliveries;
	ref->data       = (const unsigned char *) (r + 1);
	return 0;
}

int
ipcqi_seg_finish(ipcqi_seg *s, uint64_t pos, uint64_t lease, uint64_t holder,
    bool requeue)
{
	ipcqi_seg_hdr *h = s->hdr;
	ipcqi_seg_rec *r;

	/* A stale lease may name a position long reclaimed: that is not
	 * corruption, just not a lease any more. */
	if (pos % IPCQI_SEG_ALIGN != 0 || pos < h->head || pos >= h->tail) {
		return IPCQ_ENOLEASE;
	}
	if ((r = seg_rec(s, pos)) == NULL) {
		return IPCQ_ECORRUPT;
	}
	if (r->state != IPCQI_REC_LEASED || r->holder != holder ||
	    r->lease != lease) {
		return IPCQ_ENOLEASE;
	}
	h->leased--;
	h->leased_bytes -= r->len;
	if (requeue) {
		h->redelivered++;
		seg_make_ready(s, r, pos);
	} else {
		h->acked++;
		r->state = IPCQI_REC_DONE;
		seg_reclaim(s);
	}
	return 0;
}

uint64_t
ipcqi_seg_return_holder(ipcqi_seg *s, uint64_t holder)
{
	ipcqi_seg_hdr *h = s->hdr;
	uint64_t       n = 0;

	if (!seg_bounds_ok(s)) {
		return 0;
	}
	for (uint64_t pos = h->head; pos < h->tail;) {
		ipcqi_seg_rec *r = seg_rec(s, pos);
		if (r == NULL) {
			return n;
		}
		bool mine = holder == 0 || r->holder == holder;
		if (r->state == IPCQI_REC_LEASED && mine) {
			h->leased--;
			h->leased_bytes -= r->len;
			h->redelivered++;
			seg_make_ready(s, r, pos);
			n++;
		} else if (r->state == IPCQI_REC_WRITING && mine) {
			/* Never published: a torn write is never delivered. */
			h->writing--;
			h->writing_bytes -= r->len;
			r->state = IPCQI_REC_DONE;
		}
		pos += r->size;
	}
	seg_reclaim(s);
	/* A holder that died asleep is asleep no more. */
	for (int i = 0; i < IPCQI_SEG_SLEEPER_SLOTS; i++) {
		struct ipcqi_seg_sleeper *sl = &h->sleepers[i];
		if (sl->kind != 0 && (holder == 0 || sl->holder == holder)) {
			sl->kind  = 0;
			sl->count = 0;
		}
	}
	return n;
}

bool
ipcqi_seg_drop_oldest(ipcqi_seg *s)
{
	ipcqi_seg_hdr *h = s->hdr;
	ipcqi_seg_ref  ref;

	if (ipcqi_seg_take(s, 0, &ref) != 0) {
		return false;
	}
	/* Undo what take counted as a delivery. */
	h->received--;
	ipcqi_seg_finish(s, ref.pos, ref.lease, 0, false);
	h->acked--;
	h->dropped++;
	return true;
}

uint64_t
ipcqi_seg_purge(ipcqi_seg *s)
{
	uint64_t n = 0;

	while (ipcqi_seg_drop_oldest(s)) {
		n++;
	}
	s->hdr->dropped -= n;
	s->hdr->purged += n;
	return n;
}

int
ipcqi_seg_repair(ipcqi_seg *s)
{
	ipcqi_seg_hdr *h = s->hdr;
	uint64_t       scan = UINT64_MAX;

	if (!seg_bounds_ok(s)) {
		return IPCQ_ECORRUPT;
	}
	h->ready = h->ready_bytes = 0;
	h->leased = h->leased_bytes = 0;
	h->writing = h->writing_bytes = 0;
	for (uint64_t pos = h->head; pos < h->tail;) {
		ipcqi_seg_rec *r = seg_rec(s, pos);
		if (r == NULL) {
			return IPCQ_ECORRUPT;
		}
		switch (r->state) {
		case IPCQI_REC_READY:
			h->ready++;
			h->ready_bytes += r->len;
			if (scan == UINT64_MAX) {
				scan = pos;
			}
			break;
		case IPCQI_REC_LEASED:
			h->leased++;
			h->leased_bytes += r->len;
			break;
		case IPCQI_REC_WRITING:
			h->writing++;
			h->writing_bytes += r->len;
			break;
		default:
			break;
		}
		pos += r->size;
	}
	h->scan = scan == UINT64_MAX ? h->tail : scan;
	if (h->next_lease == 0) {
		h->next_lease = 1;
	}
	seg_reclaim(s);
	return ipcqi_seg_corrupt(s) ? IPCQ_ECORRUPT : 0;
}

bool
ipcqi_seg_next_len(ipcqi_seg *s, uint32_t *len)
{
	uint64_t       pos;
	ipcqi_seg_rec *r = seg_first_ready(s, &pos);

	if (r == NULL) {
		return false;
	}
	*len = r->len;
	return true;
}
