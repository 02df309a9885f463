/*
 * Queue semantics: producers and end of stream, consumers, socket-path
 * leases, and the parked waiters of one queue. The messages, their
 * leases and the bounds live in the queue's shared-memory segment
 * (proto/ipcqi_seg.h), whose rules (admit, take, finish) both the broker
 * and shared-memory clients apply.
 *
 * Locking: every function here is called with the broker lock held
 * (broker.h); each takes the segment lock briefly inside it, only ever
 * with a try (ipcqd_qu_lock): a client may hold it for as long as it
 * likes, and the broker lock must never wait for a client. Lock order:
 * broker lock, then segment lock. Waiter
 * completion callbacks run under the broker lock and must not call into
 * nng.
 */
#ifndef IPCQD_QUEUE_H
#define IPCQD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipcqi_common.h"
#include "ipcqi_seg.h"
#include "list.h"

/* Most messages one recv may take, and most payload bytes one recv
 * reply carries (a single larger message is still delivered alone). */
#define IPCQD_RECV_MAX       1024
#define IPCQD_RECV_MAX_BYTES (8u * 1024 * 1024)

/* Internal status: the operation must wait (never sent on the wire). */
#define IPCQD_WOULD_BLOCK (-1)

typedef struct ipcqd_queue_opts {
	uint64_t max_messages;
	uint64_t max_bytes;
	uint32_t max_message_bytes;
	int      full_policy;        /* enum ipcq_full_policy */
	uint32_t expected_producers; /* 0: every attached producer */
	int      durable;            /* segment file in the state dir */
} ipcqd_queue_opts;

typedef struct ipcqd_queue_stats {
	uint64_t depth, bytes, in_flight, writing;
	uint32_t producers, consumers, producers_ended, producers_lost;
	uint64_t sent, received, acked, redelivered, dropped, purged;
	uint32_t senders_waiting, receivers_waiting;
	bool     ended, abandoned, corrupt;
	uint64_t sync_errors;
} ipcqd_queue_stats;

typedef struct ipcqd_queue  ipcqd_queue;
typedef struct ipcqd_handle ipcqd_handle;
typedef struct ipcqd_waiter ipcqd_waiter;

/* One attachment of a session to a queue (see session.h for the owner). */
struct ipcqd_handle {
	uint64_t               id;
	struct ipcqd_session  *sess;
	ipcqd_queue           *q;     /* NULL once the queue is deleted */
	ipcqd_node             qnode; /* q->handles */
	ipcqd_node             snode; /* sess->handles */
	int                    roles;
	int                    ack_mode;
	bool                   producer; /* counted in q->producers_live.. */
	bool                   ended;    /* this producer ended its stream */
	bool                   consumer;
	ipcqd_list             leases; /* ipcqd_lease.node, oldest first */
	uint64_t               nleases;
};

/* A socket-path lease: where its record is, so that an ack naming the
 * lease id finds it (shared-memory clients keep their own). */
typedef struct ipcqd_lease {
	ipcqd_node node; /* h->leases */
	uint64_t   lease;
	uint64_t   pos;
} ipcqd_lease;

typedef enum ipcqd_wait_kind {
	IPCQD_WAIT_RECV,
	IPCQD_WAIT_SEND,
	IPCQD_WAIT_READY, /* until a recv by h would not block; takes nothing */
} ipcqd_wait_kind;

typedef ipcqi_seg_payload ipcqd_payload;

/*
 * A parked request. Exactly one party completes it: whoever unlinks it
 * from its queue under the broker lock (a sender or acker that serves it,
 * the timer that expires it, the disconnect or delete that cancels it)
 * calls done() once, and nobody touches it afterwards.
 */
struct ipcqd_waiter {
	ipcqd_node      node; /* q->recv_waiters, send_waiters, ready_waiters */
	ipcqd_wait_kind kind;
	ipcqd_handle   *h;
	/* recv: status, and n records taken for it (leased to h in explicit
	 * mode; otherwise the callee must release them with
	 * ipcqd_queue_release after use). send: status only. ready: 0
	 * when a recv by h would not block, else an error; never records. */
	void (*done)(ipcqd_waiter *w, int status, ipcqi_seg_ref *recs,
	    size_t n);
	uint64_t             deadline; /* ms, monotonic; 0: none */
	uint32_t             max;      /* recv: most messages */
	const ipcqd_payload *payloads; /* send: the batch */
	size_t               npayloads;
	size_t               accepted; /* send: enqueued so far */
	bool                 past_abandoned; /* ready: EABANDONED is not
	                                        ready, only messages/EOF */
};

struct ipcqd_queue {
	ipcqd_node       node; /* broker's queue list */
	char             name[IPCQI_NAME_MAX + 1];
	ipcqd_queue_opts opts;
	ipcqi_seg        seg;
	char             shm_name[600]; /* "/ipcq-..." shm name, a durable
	                                   file's path, "" if anonymous */
	ipcqi_bell      *bell; /* the broker's doorbell, NULL if none */
	int              fd;   /* durable: the segment file, for syncs; -1 */
	uint64_t         synced; /* durable: change count at the last sync */
	uint64_t         sync_errors; /* durable: failed syncs (stats) */
	uint32_t         producers_live, producers_ended, producers_lost;
	uint32_t         consumers;
	bool             ended;  /* sticky: no more sends accepted */
	bool             closed; /* ended by close */
	ipcqd_list       handles;
	ipcqd_list       recv_waiters;
	ipcqd_list       send_waiters;
	ipcqd_list       ready_waiters; /* all served at once, take nothing */
	uint32_t         watch; /* IPCQI_WATCH_* last published */
	bool             corrupt_seen;   /* the segment lock said ECORRUPT */
	bool             corrupt_failed; /* ... and the waiters were failed */
	bool             keep;  /* freed by a clean stop, not deleted: the
	                           segment (a durable file) stays valid */

	/* The broker never waits for a segment lock a client holds
	 * (queue_lock.c): it tries it, and what cannot be done now waits
	 * for the next lock, the waker thread retrying meanwhile. */
	uint64_t         busy_since; /* ms, monotonic: the lock has been
	                                held by a client since (the first
	                                failed try); 0: had it last time */
	uint64_t         busy_tried; /* ms, monotonic: the last failed try */
	bool             stuck; /* held for IPCQD_STUCK_MS, or by a stopped
	                           thread: new requests get EBUSY at once
	                           (logged once per episode) */
	bool             state_dirty;  /* qstate not yet mirrored */
	bool             watch_stale;  /* broker_watch not yet written */
	struct ipcqd_todo *todo;       /* segment writes that wait for the
	                                  lock, done in order */
	size_t           ntodo, captodo;
};

/* When the waker should next try q's segment lock (ms, monotonic):
 * the broker has work on q that waits for it, or requests parked
 * because a client held it. 0: nothing waits. */
uint64_t ipcqd_queue_retry_at(const ipcqd_queue *q);

/* Try q's segment lock once, doing what waited for it (waker). */
void ipcqd_queue_retry(ipcqd_queue *q);

/* Whether the broker's last try of q's segment lock found it held. */
bool ipcqd_queue_lock_busy(const ipcqd_queue *q);

/* Whether a client has held q's segment lock so long (or is stopped
 * holding it) that requests get IPCQ_EBUSY instead of waiting for it. */
bool ipcqd_queue_stuck(const ipcqd_queue *q);

/* Fill defaults into zero fields and check ranges: IPCQ_EINVAL or 0. */
int ipcqd_queue_opts_normalize(ipcqd_queue_opts *o);

/* The segment parameters of a queue with these options (the caller
 * adds id, tag and sync policy where it has them). */
void ipcqd_queue_seg_params(ipcqi_seg_params *p, const char *name,
    const ipcqd_queue_opts *o);

/* New empty queue in an anonymous segment (memfd: tests, and queues no
 * other process needs to map). NULL when out of memory. */
ipcqd_queue *ipcqd_queue_new(const char *name, const ipcqd_queue_opts *o);

/* A queue around a mapped segment (fresh or adopted after a restart);
 * takes over the mapping. Its options and end state come from the
 * header; shm_name is its name in /dev/shm ("" if none). NULL when out
 * of memory (the mapping is then left to the caller). */
ipcqd_queue *ipcqd_queue_from_seg(const ipcqi_seg *seg, const char *shm_name);

/* Delete: every waiter completes with IPCQ_EDELETED, every handle is cut
 * loose (h->q = NULL, leases dropped), then the queue is freed and its
 * segment unmapped (the caller unlinks the file). */
void ipcqd_queue_free(ipcqd_queue *q);

/* Attach h (roles as asked) and detach it. Detaching redelivers its
 * leases, counts an unended producer as lost, and completes its waiters
 * with status cancel_status. */
void ipcqd_queue_attach(ipcqd_queue *q, ipcqd_handle *h);
void ipcqd_queue_detach(ipcqd_queue *q, ipcqd_handle *h, int cancel_status);

/* Make h a producer / consumer if it is not yet one. */
void ipcqd_queue_add_producer(ipcqd_queue *q, ipcqd_handle *h);
void ipcqd_queue_add_consumer(ipcqd_queue *q, ipcqd_handle *h);

/* Enqueue payloads[*accepted..n). Returns 0 when all are in, else an
 * ipcq error or IPCQD_WOULD_BLOCK (full under IPCQ_FULL_BLOCK, or earlier
 * senders are parked); *accepted counts what went in. */
int ipcqd_queue_send(ipcqd_queue *q, ipcqd_handle *h,
    const ipcqd_payload *payloads, size_t n, size_t *accepted);

/* Take up to max ready messages for h. Returns the count (> 0), or, when
 * none is ready, 0 with *status set: IPCQ_EOF, IPCQ_EABANDONED or
 * IPCQD_WOULD_BLOCK. Records are leased to h in explicit mode; in auto
 * mode the caller releases them (ipcqd_queue_release) after use. */
size_t ipcqd_queue_take(ipcqd_queue *q, ipcqd_handle *h, uint32_t max,
    ipcqi_seg_ref *recs, int *status);
void   ipcqd_queue_release(ipcqd_queue *q, ipcqd_handle *h,
      const ipcqi_seg_ref *recs, size_t n);

/* Whether a recv by h would not block now: a message is ready, or it
 * would answer IPCQ_EOF or (unless past_abandoned) IPCQ_EABANDONED. */
bool ipcqd_queue_ready(ipcqd_queue *q, const ipcqd_handle *h,
    bool past_abandoned);

/* Ack (or requeue) leases of h by id. *done counts those found; returns
 * IPCQ_ENOLEASE if any id was not leased to h. */
int ipcqd_queue_ack(ipcqd_queue *q, ipcqd_handle *h, const uint64_t *ids,
    size_t n, bool requeue, size_t *done);

/* End h's producer stream; *queue_ended tells whether the queue ended. */
void ipcqd_queue_end_producer(ipcqd_queue *q, ipcqd_handle *h,
    bool *queue_ended);

/* End the queue at once. */
void ipcqd_queue_shutdown(ipcqd_queue *q);

/* Discard ready messages; returns the count. */
uint64_t ipcqd_queue_purge(ipcqd_queue *q);

/* Now on the monotonic clock, in ms (the unit of waiter deadlines). */
uint64_t ipcqd_now_ms(void);

/* Park w on q. The caller has set kind, h, done, deadline and the request
 * fields. */
void ipcqd_queue_park(ipcqd_queue *q, ipcqd_waiter *w);

/* Complete a parked waiter with status if it is still parked; false if
 * somebody else completed it already. */
bool ipcqd_queue_cancel(ipcqd_waiter *w, int status);

bool ipcqd_queue_abandoned(const ipcqd_queue *q);

/* Complete every parked request of q with status (a quarantined queue:
 * nothing it waits for will come). */
void ipcqd_queue_fail_waiters(ipcqd_queue *q, int status);

/* A shared-memory client changed the segment (the broker's bell rang):
 * serve whatever parked request can now proceed. */
void ipcqd_queue_poke(ipcqd_queue *q);
void ipcqd_queue_get_stats(ipcqd_queue *q, ipcqd_queue_stats *st);

#endif
