/*
 * Internals shared by queue.c (semantics) and queue_wait.c (parked
 * requests). Broker lock held.
 */
#ifndef IPCQD_QUEUE_INT_H
#define IPCQD_QUEUE_INT_H

#include "queue.h"

/* Unlink a parked waiter and complete it (exactly once). */
void ipcqd_qu_finish(ipcqd_waiter *w, int status, ipcqi_seg_ref *recs,
    size_t n);

/* Enqueue payloads[*accepted..n) while the bounds allow (takes the
 * segment lock; wakes shared-memory consumers). */
int ipcqd_qu_admit(ipcqd_queue *q, const ipcqd_payload *p, size_t n,
    size_t *accepted);

/* Ack the auto-mode records a recv reply has copied (segment lock taken
 * here; no pump). */
void ipcqd_qu_release(ipcqd_queue *q, ipcqd_handle *h,
    const ipcqi_seg_ref *recs, size_t n);

/* Messages ready now (segment lock taken here). */
uint64_t ipcqd_qu_ready_count(ipcqd_queue *q);

/* What a consumer with nothing ready gets: IPCQ_EOF, IPCQ_EABANDONED or
 * IPCQD_WOULD_BLOCK. */
int ipcqd_qu_empty_status(ipcqd_queue *q, const ipcqd_handle *h);

/* Take q's segment lock the broker's way (queue_lock.c): never waiting
 * for a client (a few microseconds of looking at most); IPCQ_EBUSY while
 * a client holds it, IPCQ_ECORRUPT for a quarantined segment. On
 * success, work that earlier failed to get the lock (returns of dead
 * holders, acks, the end-of-stream state) is done first. Release with
 * ipcqi_seg_unlock(&q->seg). */
int ipcqd_qu_lock(ipcqd_queue *q);

/* Ring the broker's own bell: the waker looks at q again (and pumps it
 * when want_pump), outside the request that called us. */
void ipcqd_qu_ring(ipcqd_queue *q, bool want_pump);

/* Remember to return holder's records once the lock can be had. */
void ipcqd_qu_defer_return(ipcqd_queue *q, uint64_t holder);

/* Remember to ack (or requeue) holder's lease (pos, lease) once the lock
 * can be had; false when out of memory (then the lease stays). */
bool ipcqd_qu_defer_finish(ipcqd_queue *q, uint64_t holder, uint64_t pos,
    uint64_t lease, bool requeue);

/* The IPCQI_QS_* bits the broker's state implies (ended, closed,
 * abandoned), and writing them (segment lock held; wakes on change). */
void ipcqd_qu_write_state(ipcqd_queue *q);

/* Serve every parked request that can now proceed. */
void ipcqd_qu_pump(ipcqd_queue *q);

#endif
