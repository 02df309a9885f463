/*
 * The queue rules both paths apply to a segment: admitting a batch under
 * the bounds and the full policy, and what an empty queue answers. The
 * broker (socket clients) and libipcq (shared-memory clients) call the
 * same functions, so the two paths cannot drift apart. Lock held.
 */
#include "ipcq.h"
#include "ipcqi_seg.h"

int
ipcqi_seg_room(ipcqi_seg *s, uint32_t len)
{
	if (ipcqi_seg_fits(s, len)) {
		return 0;
	}
	if (ipcqi_seg_corrupt(s)) {
		return IPCQ_ECORRUPT;
	}
	if (s->full_policy == IPCQ_FULL_FAIL) {
		return IPCQ_EFULL;
	}
	if (s->full_policy == IPCQ_FULL_BLOCK) {
		return IPCQI_WOULD_BLOCK;
	}
	/* Drop the oldest until it fits; if what is left is all leased,
	 * there is nothing to drop. */
	while (!ipcqi_seg_fits(s, len)) {
		if (!ipcqi_seg_drop_oldest(s)) {
			return ipcqi_seg_corrupt(s) ? IPCQ_ECORRUPT : IPCQ_EFULL;
		}
	}
	return 0;
}

int
ipcqi_seg_admit(ipcqi_seg *s, const ipcqi_seg_payload *p, size_t n,
    size_t *accepted)
{
	int rv = 0;

	if (s->hdr->qstate & IPCQI_QS_ENDED) {
		return IPCQ_ECLOSED;
	}
	while (*accepted < n) {
		const ipcqi_seg_payload *m = &p[*accepted];

		if (m->len > s->max_message_bytes) {
			rv = IPCQ_EMSGSIZE;
			break;
		}
		if ((rv = ipcqi_seg_room(s, (uint32_t) m->len)) != 0 ||
		    (rv = ipcqi_seg_put(s, m->data, (uint32_t) m->len)) != 0) {
			break;
		}
		(*accepted)++;
	}
	/* Durable under IPCQI_SYNC_ALWAYS: the caller syncs after
	 * unlocking (ipcqi_seg_sync), never under the lock. */
	return rv;
}

int
ipcqi_seg_empty_status(const ipcqi_seg *s, uint64_t own_leases)
{
	const ipcqi_seg_hdr *h = s->hdr;

	/* Leases held by others and loans being written may still turn
	 * into messages: neither EOF nor EABANDONED before they settle. */
	if (h->leased > own_leases || h->writing > 0) {
		return IPCQI_WOULD_BLOCK;
	}
	if (h->qstate & IPCQI_QS_ENDED) {
		return IPCQ_EOF;
	}
	if (h->qstate & IPCQI_QS_ABANDONED) {
		return IPCQ_EABANDONED;
	}
	return IPCQI_WOULD_BLOCK;
}
