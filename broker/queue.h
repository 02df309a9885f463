/*
 * Queue semantics: bounds and full policies, producers and end of stream,
 * consumers, leases and redelivery, and the parked waiters of one queue.
 * Storage is delegated to an ipcqd_store (store.h).
 *
 * Locking: every function here is called with the broker lock held
 * (broker.h); the queue has no lock of its own. Waiter completion
 * callbacks run under that lock too and must not call into nng.
 */
#ifndef IPCQD_QUEUE_H
#define IPCQD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipcqi_common.h"
#include "list.h"
#include "store.h"

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
} ipcqd_queue_opts;

typedef struct ipcqd_queue_stats {
	uint64_t depth, bytes, in_flight;
	uint32_t producers, consumers, producers_ended, producers_lost;
	uint64_t sent, received, acked, redelivered, dropped, purged;
	uint32_t senders_waiting, receivers_waiting;
	bool     ended, abandoned;
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
	ipcqd_list             leases; /* ipcqd_rec.node, oldest first */
	uint64_t               nleases;
};

typedef enum ipcqd_wait_kind {
	IPCQD_WAIT_RECV,
	IPCQD_WAIT_SEND,
	IPCQD_WAIT_READY, /* until a recv by h would not block; takes nothing */
} ipcqd_wait_kind;

typedef struct ipcqd_payload {
	const void *data;
	size_t      len;
} ipcqd_payload;

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
	void (*done)(ipcqd_waiter *w, int status, ipcqd_rec **recs, size_t n);
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
	ipcqd_store     *store;
	uint64_t         leased;       /* records held by handles */
	uint64_t         leased_bytes;
	uint64_t         next_lease;
	uint32_t         producers_live, producers_ended, producers_lost;
	uint32_t         consumers;
	bool             ended;  /* sticky: no more sends accepted */
	bool             closed; /* ended by close */
	ipcqd_list       handles;
	ipcqd_list       recv_waiters;
	ipcqd_list       send_waiters;
	ipcqd_list       ready_waiters; /* all served at once, take nothing */
	uint64_t         sent, received, acked, redelivered, dropped, purged;
};

/* Fill defaults into zero fields and check ranges: IPCQ_EINVAL or 0. */
int ipcqd_queue_opts_normalize(ipcqd_queue_opts *o);

/* New empty queue with heap storage; NULL when out of memory. */
ipcqd_queue *ipcqd_queue_new(const char *name, const ipcqd_queue_opts *o);

/* Delete: every waiter completes with IPCQ_EDELETED, every handle is cut
 * loose (h->q = NULL, leases dropped), then the queue is freed. */
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
    ipcqd_rec **recs, int *status);
void   ipcqd_queue_release(ipcqd_queue *q, ipcqd_rec **recs, size_t n);

/* Whether a recv by h would not block now: a message is ready, or it
 * would answer IPCQ_EOF or (unless past_abandoned) IPCQ_EABANDONED. */
bool ipcqd_queue_ready(const ipcqd_queue *q, const ipcqd_handle *h,
    bool past_abandoned);

/* Ack (or requeue) leases of h by id. *done counts those found; returns
 * IPCQ_ENOLEASE if any id was not leased to h. */
int ipcqd_queue_ack(ipcqd_queue *q, ipcqd_handle *h, const uint64_t *ids,
    size_t n, bool requeue, size_t *done);

/* End h's producer stream; *queue_ended tells whether the queue ended. */
void ipcqd_queue_end_producer(ipcqd_queue *q, ipcqd_handle *h,
    bool *queue_ended);

/* End the queue at once. */
void ipcqd_queue_close(ipcqd_queue *q);

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
void ipcqd_queue_get_stats(const ipcqd_queue *q, ipcqd_queue_stats *st);

#endif
