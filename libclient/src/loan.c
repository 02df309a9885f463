/*
 * Zero copy: loans (reserve a record in the segment, fill it in place,
 * publish it) and views (read a received record in place, finish it at
 * ipcq_msg_free). On the socket path both fall back to ordinary buffers,
 * so a program written against them works on either path.
 *
 * A loan is a WRITING record held by the handle, a view a LEASED one:
 * if the process dies, the broker discards the loan (a torn message is
 * never delivered) and returns the view for redelivery, like any lease.
 */
#include <stdlib.h>
#include <string.h>

#include "ipcqi_client.h"
#include "ipcqi_crash.h"

/* Make room for len bytes under the full policy (lock held; on
 * IPCQI_WOULD_BLOCK the caller sleeps). */
static int
loan_room(ipcqi_shm *m, uint32_t len)
{
	if (m->seg.hdr->qstate & IPCQI_QS_ENDED) {
		return IPCQ_ECLOSED;
	}
	return ipcqi_seg_room(&m->seg, len);
}

int
ipcqi_shm_loan(ipcq_msg **mp, ipcq_queue *q, ipcqi_shm *m, size_t len,
    int64_t deadline)
{
	ipcq_msg      *msg;
	unsigned char *data;
	uint64_t       pos;
	int            rv;

	if (len > m->seg.max_message_bytes) {
		return IPCQ_EMSGSIZE;
	}
	if (__atomic_load_n(&m->ended, __ATOMIC_ACQUIRE)) {
		return IPCQ_ECLOSED;
	}
	if ((rv = ipcqi_shm_as_producer(q, m, deadline)) != 0) {
		return rv;
	}
	if ((msg = calloc(1, sizeof(*msg))) == NULL) {
		return IPCQ_ENOMEM;
	}
	for (;;) {
		if ((rv = ipcqi_shm_lock(m)) != 0) {
			break;
		}
		rv = loan_room(m, (uint32_t) len);
		if (rv == IPCQI_WOULD_BLOCK) {
			if ((rv = ipcqi_shm_sleep(q, m, IPCQI_SLEEP_SEND,
			         deadline)) != 0) {
				break;
			}
			continue;
		}
		if (rv == 0) {
			rv = ipcqi_seg_reserve(&m->seg, (uint32_t) len, m->holder,
			    &pos, &data);
		}
		ipcqi_seg_unlock(&m->seg);
		break;
	}
	if (rv != 0) {
		free(msg);
		return rv;
	}
	IPCQI_CRASH_POINT("loan.reserved");
	msg->q    = q;
	msg->kind = IPCQI_MSG_LOAN;
	msg->shm  = m;
	msg->pos  = pos;
	msg->ext  = data;
	msg->len  = len;
	*mp       = msg;
	return 0;
}

int
ipcq_msg_loan(ipcq_msg **mp, ipcq_queue *q, size_t len, int timeout_ms)
{
	int64_t    deadline = ipcqi_deadline(timeout_ms);
	ipcqi_shm *m;
	ipcq_msg  *msg;
	int        rv;

	if (mp == NULL || q == NULL) {
		return IPCQ_EINVAL;
	}
	if ((rv = ipcqi_shm_pick(q, deadline, &m)) != 0) {
		return rv;
	}
	if (m != NULL) {
		return ipcqi_shm_loan(mp, q, m, len, deadline);
	}
	/* Socket path: a plain buffer, sent by ipcq_queue_send_loan. */
	if (len > IPCQI_MAX_MESSAGE_BYTES) {
		return IPCQ_EMSGSIZE;
	}
	if ((msg = calloc(1, sizeof(*msg) + len)) == NULL) {
		return IPCQ_ENOMEM;
	}
	msg->q    = q;
	msg->kind = IPCQI_MSG_LOAN_HEAP;
	msg->len  = len;
	*mp       = msg;
	return 0;
}

void *
ipcq_msg_buffer(ipcq_msg *m)
{
	if (m == NULL) {
		return NULL;
	}
	if (m->kind == IPCQI_MSG_LOAN) {
		return m->ext;
	}
	return m->kind == IPCQI_MSG_LOAN_HEAP ? m->data : NULL;
}

int
ipcq_queue_send_loan(ipcq_queue *q, ipcq_msg *msg, int timeout_ms)
{
	ipcqi_shm *m;
	int        rv;

	if (q == NULL || msg == NULL || msg->q != q ||
	    (msg->kind != IPCQI_MSG_LOAN && msg->kind != IPCQI_MSG_LOAN_HEAP)) {
		ipcq_msg_free(msg);
		return IPCQ_EINVAL;
	}
	if (msg->kind == IPCQI_MSG_LOAN_HEAP) {
		rv = ipcq_queue_send(q, msg->data, msg->len, timeout_ms);
		free(msg);
		return rv;
	}
	m = (ipcqi_shm *) msg->shm;
	if ((rv = ipcqi_shm_lock(m)) == 0) {
		rv = ipcqi_seg_publish(&m->seg, msg->pos, m->holder, false);
		if (rv == 0) {
			ipcqi_seg_wake_data(&m->seg, 1);
			ipcqi_seg_ring_broker(&m->seg, m->bell, IPCQI_WATCH_DATA);
		}
		ipcqi_seg_unlock(&m->seg);
		if (rv == 0) {
			/* Sent (consumers may have it already); under --sync
			 * always it must also be on disk: EIO if not. */
			rv = ipcqi_seg_sync(&m->seg);
		}
	}
	/* ENOLEASE: our connection dropped and the broker discarded the
	 * loan as a dead producer's. */
	if (rv == IPCQ_ENOLEASE) {
		rv = IPCQ_ECONNLOST;
	}
	free(msg);
	return rv;
}

int
ipcqi_shm_view(ipcq_queue *q, ipcqi_shm *m, ipcq_msg **mp, int64_t deadline)
{
	ipcq_msg     *msg;
	ipcqi_seg_ref r;
	int           rv;

	if ((rv = ipcqi_shm_as_consumer(q, m, deadline)) != 0) {
		return rv;
	}
	if ((msg = calloc(1, sizeof(*msg))) == NULL) {
		return IPCQ_ENOMEM;
	}
	for (;;) {
		if ((rv = ipcqi_shm_lock(m)) != 0) {
			break;
		}
		if ((rv = ipcqi_seg_take(&m->seg, m->holder, &r)) == 0) {
			__atomic_fetch_add(&m->own_leases, 1, __ATOMIC_RELAXED);
			ipcqi_seg_unlock(&m->seg);
			break;
		}
		rv = ipcqi_seg_corrupt(&m->seg)
		    ? IPCQ_ECORRUPT
		    : ipcqi_seg_empty_status(&m->seg,
		          __atomic_load_n(&m->own_leases, __ATOMIC_RELAXED));
		if (rv != IPCQI_WOULD_BLOCK) {
			ipcqi_seg_unlock(&m->seg);
			break;
		}
		if ((rv = ipcqi_shm_sleep(q, m, IPCQI_SLEEP_RECV, deadline)) !=
		    0) {
			break;
		}
	}
	if (rv != 0) {
		free(msg);
		return rv;
	}
	msg->q              = q;
	msg->kind           = IPCQI_MSG_VIEW;
	msg->shm            = m;
	msg->pos            = r.pos;
	msg->lease          = r.lease;
	msg->epoch          = m->epoch;
	msg->ext            = (unsigned char *) r.data;
	msg->len            = r.len;
	msg->delivery_count = r.deliveries;
	msg->redelivered    = r.deliveries > 1;
	*mp                 = msg;
	return 0;
}


void
ipcqi_msg_release(ipcq_msg *msg)
{
	ipcqi_shm *m = (ipcqi_shm *) msg->shm;
	bool       requeue;

	if (msg->kind == IPCQI_MSG_LOAN_HEAP || m == NULL ||
	    ipcqi_shm_lock(m) != 0) {
		return; /* nothing in the segment, or it is gone */
	}
	if (msg->kind == IPCQI_MSG_LOAN) {
		ipcqi_seg_publish(&m->seg, msg->pos, m->holder, true);
		ipcqi_seg_wake_space(&m->seg, 1);
		ipcqi_seg_ring_broker(&m->seg, m->bell, IPCQI_WATCH_SPACE);
	} else {
		requeue = msg->q->opts.ack_mode == IPCQ_ACK_EXPLICIT &&
		    msg->verdict != 1;
		if (ipcqi_seg_finish(&m->seg, msg->pos, msg->lease, m->holder,
		        requeue) == 0) {
			__atomic_fetch_sub(&m->own_leases, 1, __ATOMIC_RELAXED);
		}
		ipcqi_seg_wake_data(&m->seg, 1);
		ipcqi_seg_wake_space(&m->seg, 1);
		ipcqi_seg_ring_broker(&m->seg, m->bell,
		    IPCQI_WATCH_DATA | IPCQI_WATCH_SPACE);
	}
	ipcqi_seg_unlock(&m->seg);
}
