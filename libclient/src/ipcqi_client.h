/*
 * Internals of libipcq shared by its modules (prefix ipcqi_): the client
 * and queue structures, deadlines, and the one round-trip helper that
 * every API call goes through. Not installed.
 *
 * Lock order: ipcq_queue.mtx before ipcq_client.mtx. Neither is held
 * across a round trip, except ipcq_queue.mtx while a handle is being
 * re-opened (so that concurrent callers re-open it once, not N times).
 */
#ifndef IPCQI_CLIENT_H
#define IPCQI_CLIENT_H

#include <pthread.h>
#include <stdint.h>

#include <nng/nng.h>

#include "ipcq.h"
#include "ipcq.pb-c.h"
#include "ipcqi_common.h"
#include "ipcqi_seg.h"

/* ------------------------------------------------------------ deadlines */

/* Absolute monotonic deadlines in ms; IPCQI_FOREVER for "no deadline". */
#define IPCQI_FOREVER INT64_MAX

int64_t ipcqi_now_ms(void);
/* timeout_ms (-1 forever, any other negative treated as forever) to an
 * absolute deadline, computed once at API entry. */
int64_t ipcqi_deadline(int timeout_ms);
/* What is left of deadline as a wire timeout_ms: -1 for forever, else
 * 0..INT32_MAX. */
int32_t ipcqi_remaining(int64_t deadline);

/* --------------------------------------------------------------- client */

/* One pooled request context: an nng REQ context and the aio used to
 * drive it synchronously. */
typedef struct ipcqi_slot {
	nng_ctx  ctx;
	nng_aio *aio;
} ipcqi_slot;

#define IPCQI_POOL_MAX 32

struct ipcq_client {
	nng_socket      sock;
	ipcq_client_opts opts;  /* url points into url_buf */
	char            url_buf[1024];

	pthread_mutex_t mtx;    /* guards everything below */
	pthread_cond_t  cv;     /* signalled when pipe changes */
	uint32_t        pipe;   /* id of the live connection, 0 if none */
	uint64_t        pipes_seen; /* connections ever made */
	ipcqi_slot      pool[IPCQI_POOL_MAX]; /* idle contexts */
	int             npool;
	struct ipcq_queue *queues; /* open handles (shm wake-ups) */
	/* ipcq_client_last_error: a static sentence or NULL; atomic (any
	 * thread may set or read it, no lock). */
	const char     *last_error;
};

/* The connection the next request will go out on: its pipe id, waiting
 * up to min(connect_timeout_ms, deadline + reply_grace_ms) for one to
 * exist. IPCQ_ECONNLOST if none appeared in time. */
int ipcqi_client_pipe(ipcq_client *c, int64_t deadline, uint32_t *pipe);

/* ---------------------------------------------------------------- calls */

/*
 * One round trip: send req (its version is filled in here), wait for
 * the reply until deadline + reply_grace_ms, decode it.
 *
 * Returns the reply's status (0 or an ipcq_err) when a reply arrived and
 * decoded; then *rep is the reply (free it with ipcqi_reply_free) — also
 * for error statuses, whose body may carry partial progress. A successful
 * reply whose body is not `want` gives IPCQ_EPROTO; want NOT_SET accepts
 * any body (for replies that carry nothing: an empty message may be
 * encoded or left out). Otherwise returns a
 * transport error (IPCQ_ECONNLOST, IPCQ_ENOMEM, IPCQ_EPROTO) and *rep is
 * NULL. *pipe (may be NULL) gets the id of the connection that answered.
 */
int ipcqi_call(ipcq_client *c, Ipcq__V1__Request *req, int64_t deadline,
    Ipcq__V1__Reply__BodyCase want, Ipcq__V1__Reply **rep, uint32_t *pipe);

void ipcqi_reply_free(Ipcq__V1__Reply *rep);

/* nng error to ipcq error, for errors outside a round trip. */
int ipcqi_nng_err(int rv);

/* ---------------------------------------------------------------- queue */

struct ipcq_queue {
	ipcq_client    *c;
	char            name[IPCQI_NAME_MAX + 1];
	ipcq_queue_opts opts;
	int             transport; /* effective: opts or IPCQ_TRANSPORT env,
	                              chosen once at open (transport.c) */

	pthread_mutex_t mtx;    /* guards everything below */
	uint64_t        handle; /* broker handle id for this attachment */
	uint32_t        pipe;   /* connection the handle belongs to */
	uint64_t        epoch;  /* bumped at each (re)open: leases of an
	                           older epoch are gone */
	int             stale;  /* broker said EBADHANDLE: re-open first */
	uint32_t        max_message_bytes; /* from OpenReply, 0 unknown */
	int             eof;    /* recv saw EOF: sticky for this handle */

	/* Shared-memory fast path (shm.c): the mapping of the current
	 * handle, or NULL. Replaced under mtx at each (re-)open; read with
	 * an acquire load. Older mappings stay mapped until detach, because
	 * another thread may still be inside an operation on one. */
	struct ipcqi_shm *shm;
	struct ipcqi_shm *shm_all; /* every mapping, newest first */
	/* Why the last (re-)open left q on the socket (a static sentence),
	 * NULL if it mapped the segment. Written under mtx, read with an
	 * acquire load by ipcq_queue_transport_reason. */
	const char     *why_socket;
	struct ipcq_queue *next; /* c->queues, under c->mtx */

	/* Event-loop readiness (poll.c). poll_on is set once, under mtx,
	 * by the first ipcq_queue_pollfd, after pmtx, pfd, pw_ctx and
	 * pw_aio exist; detach releases them. pw_busy and pw_stop are
	 * guarded by pmtx, which is never held across a round trip and is
	 * the only lock the wait's aio callback takes. Lock order: mtx
	 * before pmtx. */
	int             poll_on;
	pthread_mutex_t pmtx;
	int             pfd;      /* eventfd (EFD_NONBLOCK | EFD_CLOEXEC) */
	nng_ctx         pw_ctx;   /* the wait's own REQ context */
	nng_aio        *pw_aio;   /* drives it, callback-driven */
	int             pw_busy;  /* 0 idle, 1 sending, 2 awaiting reply */
	int             pw_stop;  /* detaching: start nothing new */
};

/* A snapshot of the handle to put in a request. */
typedef struct ipcqi_hsnap {
	uint64_t handle;
	uint64_t epoch;
} ipcqi_hsnap;

/*
 * The handle to use for the next operation on q, re-opening the queue
 * first if the handle belongs to an older connection or the broker
 * called it stale. A handle id is never sent on a connection other than
 * the one that created it: broker handles are per connection.
 */
int ipcqi_queue_handle(ipcq_queue *q, int64_t deadline, ipcqi_hsnap *h);

/* The broker answered EBADHANDLE for h: mark q for re-open (unless
 * another thread already re-opened it since h was taken). */
void ipcqi_queue_stale(ipcq_queue *q, const ipcqi_hsnap *h);

/* Non-zero if q's handle belongs to the client's live connection (so the
 * broker still knows it and its leases). Call with q->mtx held, or where
 * nothing else touches q (detach). Takes q->c->mtx briefly. */
int ipcqi_queue_on_live_pipe(ipcq_queue *q);

/* One operation on q's handle, made of one or more round trips. */
typedef int (*ipcqi_queue_fn)(ipcq_queue *q, const ipcqi_hsnap *h,
    int64_t deadline, void *arg);

/*
 * Run fn with a current handle. If the broker answers EBADHANDLE (it
 * restarted, or dropped the session), re-open the queue with the same
 * options once and run fn once more: a request refused for its handle
 * was not executed, so the retry cannot duplicate anything.
 */
int ipcqi_queue_run(ipcq_queue *q, int64_t deadline, ipcqi_queue_fn fn,
    void *arg);

/* ------------------------------------------------------ event loop (poll.c) */

/* Called by recv after each receive on q with its result: a receive
 * that timed out (or found the stream abandoned) proves nothing is
 * ready, so the pollfd (if any) is drained and its wait re-armed. Cheap
 * no-op without a pollfd. */
void ipcqi_poll_after_recv(ipcq_queue *q, int rv);

/* Called by detach before the handle is released: stop the wait, close
 * the eventfd. No-op without a pollfd. */
void ipcqi_poll_fini(ipcq_queue *q);

/* ------------------------------------------------------------- messages */

/* How long ipcq_client_close waits for nng to close the socket before it
 * gives up and leaks the client (nanomsg/nng#1543). */
#define IPCQI_CLIENT_CLOSE_MS 5000

/* What an ipcq_msg is: a received copy (payload in data[]), a loan
 * (reserved for sending: in the segment, or on the heap on the socket
 * path), or a view (a received record read in place in the segment). */
enum ipcqi_msg_kind {
	IPCQI_MSG_COPY = 0,
	IPCQI_MSG_LOAN,      /* ext: WRITING record at pos */
	IPCQI_MSG_LOAN_HEAP, /* data[]: sent through the socket */
	IPCQI_MSG_VIEW,      /* ext: LEASED record at pos */
};

struct ipcq_msg {
	const ipcq_queue *q;     /* handle it was received on */
	int               kind;  /* enum ipcqi_msg_kind */
	int               verdict; /* view, explicit mode: 1 acked, -1
	                              nacked, 0 neither (returned at free) */
	unsigned char    *ext;   /* loan, view: payload in the segment */
	const struct ipcqi_shm *shm; /* shared-memory lease: its mapping */
	uint64_t          pos;   /* and the record's position */
	uint64_t          epoch; /* q's epoch at receipt */
	uint64_t          lease; /* Delivery.id */
	uint32_t          delivery_count;
	int               redelivered;
	size_t            len;
	unsigned char     data[]; /* payload, same allocation */
};

/* A message from a Delivery (payload copied). NULL on ENOMEM. */
ipcq_msg *ipcqi_msg_from_delivery(const ipcq_queue *q, uint64_t epoch,
    const Ipcq__V1__Delivery *d);

/* QueueStats (wire) to ipcq_stats. */
void ipcqi_stats_fill(ipcq_stats *st, const Ipcq__V1__QueueStats *qs);
/* The broker-wide fields of a StatsReply (NULL from an older broker). */
void ipcqi_stats_fill_broker(ipcq_stats *st,
    const Ipcq__V1__BrokerStats *bs);

/* ----------------------------------------------- shared memory (shm.c) */

/* One mapping of a queue's segment, for one broker handle. */
typedef struct ipcqi_shm {
	ipcqi_seg         seg;
	ipcqi_bell       *bell;
	uint64_t          holder;     /* the broker handle id */
	uint32_t          pipe;       /* connection the handle belongs to */
	uint64_t          epoch;      /* q->epoch of that handle */
	uint64_t          own_leases; /* atomic: leases this handle holds */
	int               producer;   /* atomic: broker counts us (role) */
	int               consumer;   /* atomic: likewise, as a consumer */
	int               ended;      /* atomic: this producer ended */
	struct ipcqi_shm *older;      /* previous mappings of q */
} ipcqi_shm;

/* ------------------------------------------ transport choice (transport.c) */

/* The effective transport of a new handle from opts->transport and the
 * environment variable IPCQ_TRANSPORT; IPCQ_EINVAL (and c's last error
 * set) for an unknown value of the variable. */
int ipcqi_transport_choose(ipcq_client *c, int transport, int *out);

/* Why the open must not ask for the segment (q->transport, the URL): a
 * static sentence, or NULL when it should ask. */
const char *ipcqi_shm_unwanted(const ipcq_queue *q);

/* Why opening a segment failed with errno err (static sentence). */
const char *ipcqi_why_open_errno(int err);

/* Record why a call on c failed (ipcq_client_last_error). */
void ipcqi_client_set_error(ipcq_client *c, const char *why);

/* After a successful (re-)open with q->mtx held: map the segment the
 * reply names (info may be NULL: the broker offered none). Returns NULL
 * once mapped, else why not (a static sentence); a mapping that fails
 * leaves q on the socket path. */
const char *ipcqi_shm_attach(ipcq_queue *q, const Ipcq__V1__ShmInfo *info);

/* The current mapping if it belongs to the live connection, else NULL
 * (then the socket path re-opens, which re-maps). */
ipcqi_shm *ipcqi_shm_current(ipcq_queue *q);

/* The mapping a send or recv should use, re-opening first if q was on
 * shared memory and its connection changed; NULL: use the socket. */
int ipcqi_shm_pick(ipcq_queue *q, int64_t deadline, ipcqi_shm **m);

int ipcqi_shm_send(ipcq_queue *q, ipcqi_shm *m, const ipcq_iov *msgs,
    size_t n, size_t *sent, int64_t deadline);
int ipcqi_shm_recv(ipcq_queue *q, ipcqi_shm *m, ipcq_msg **msgs, size_t max,
    size_t *n, int64_t deadline);
/* Ack or requeue shared-memory messages of one mapping. */
int ipcqi_shm_finish(ipcq_queue *q, const ipcq_msg *const *msgs, size_t n,
    int requeue);

/* The connection dropped: wake every sleeper of every mapped queue of c
 * so that it notices (c->mtx held). */
void ipcqi_shm_kick_all(ipcq_client *c);

/* Detach: unmap every mapping of q. */
void ipcqi_shm_fini(ipcq_queue *q);

/* Sleep on the segment (lock held, released here) until something
 * changes for kind (IPCQI_SLEEP_RECV/SEND) or the deadline. */
int ipcqi_shm_sleep(ipcq_queue *q, ipcqi_shm *m, uint32_t kind,
    int64_t deadline);

/* Lock m's segment: 0, IPCQ_ECORRUPT, or IPCQ_EDELETED (unlocked). */
int ipcqi_shm_lock(ipcqi_shm *m);

/* Tell the broker about our role once (an empty send / a zero wait). */
int ipcqi_shm_as_producer(ipcq_queue *q, ipcqi_shm *m, int64_t deadline);
int ipcqi_shm_as_consumer(ipcq_queue *q, ipcqi_shm *m, int64_t deadline);

/* One message as a view into m's segment (loan.c). */
int ipcqi_shm_view(ipcq_queue *q, ipcqi_shm *m, ipcq_msg **mp,
    int64_t deadline);

/* A loan on m (loan.c); ipcq_queue_send_loan sends it. */
int ipcqi_shm_loan(ipcq_msg **mp, ipcq_queue *q, ipcqi_shm *m, size_t len,
    int64_t deadline);

/* Free a loan or a view: discard the loan; finish the view (ack, or
 * return it for redelivery). */
void ipcqi_msg_release(ipcq_msg *m);

/* Register / unregister q with its client (c->queues). */
void ipcqi_client_add_queue(ipcq_client *c, ipcq_queue *q);
void ipcqi_client_remove_queue(ipcq_client *c, ipcq_queue *q);

#endif /* IPCQI_CLIENT_H */
