/*
 * ipcq.h — the whole public contract of libipcq, the ipcq client library.
 *
 * Model: a client (ipcq_client) is one connection to the broker; it is
 * thread-safe, and any number of threads may share it. A queue handle
 * (ipcq_queue) is one attachment of this client to a named queue, as a
 * producer, a consumer or both; a handle may be used by several threads.
 * A message (ipcq_msg) is owned by the caller until ipcq_msg_free() and
 * is one of three kinds: a copy (ipcq_queue_recv, ipcq_queue_recv_batch:
 * the payload is the message's own memory), a view (ipcq_queue_recv_view
 * on shared memory: the payload is read in place in the queue's segment,
 * and the record stays held until the view is freed) or a loan
 * (ipcq_msg_loan: room reserved for a message to send). A message is
 * used by one thread at a time; different messages by any threads.
 *
 * Every fallible call returns int: 0 (IPCQ_OK) or an ipcq_err. Out
 * parameters are written only on success, except where a call says so.
 * Blocking calls take `int timeout_ms`: -1 waits forever, 0 does not wait,
 * otherwise the call gives up with IPCQ_ETIMEDOUT after that many
 * milliseconds. The library never prints and never exits.
 *
 * docs/api.md explains the semantics (end of stream, acks, bounds) at
 * length; this header is the reference.
 */
#ifndef IPCQ_H
#define IPCQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPCQ_VERSION_MAJOR 0
#define IPCQ_VERSION_MINOR 1
#define IPCQ_VERSION_PATCH 0
/* Wire protocol version spoken by this library (proto/ipcq.proto). */
#define IPCQ_PROTOCOL_VERSION 1

/*
 * The error table. One row per error: name, number, message. It generates
 * the enum, ipcq_strerror() and ipcq_err_name(); the protocol's Status enum
 * (proto/ipcq.proto) mirrors it name for name and number for number.
 * Numbers are part of the protocol: rows are only ever appended.
 */
#define IPCQ_ERRNO_MAP(X)                                                     \
	X(OK, 0, "success")                                                   \
	X(EINVAL, 1, "invalid argument")                                      \
	X(ENOMEM, 2, "out of memory")                                         \
	X(ETIMEDOUT, 3, "timed out")                                          \
	X(EOF, 4, "end of stream")                                            \
	X(ECLOSED, 5, "queue has ended: no more messages are accepted")       \
	X(EFULL, 6, "queue is full")                                          \
	X(EBADNAME, 7, "invalid queue name")                                  \
	X(ENOTFOUND, 8, "no such queue")                                      \
	X(EMSGSIZE, 9, "message too large")                                   \
	X(EPROTO, 10, "protocol error: malformed request or reply")           \
	X(EVERSION, 11, "unsupported protocol version")                       \
	X(ENOBROKER, 12, "broker unreachable")                                \
	X(ECONNLOST, 13, "connection to the broker lost")                     \
	X(EBADHANDLE, 14, "unknown or stale queue handle")                    \
	X(EABANDONED, 15,                                                     \
	    "stream abandoned: a producer left without ending it")            \
	X(EEXIST, 16, "queue exists with different options")                  \
	X(EBUSY, 17, "broker busy: too many parked requests")                 \
	X(EPERM, 18, "permission denied")                                     \
	X(ENOTSUP, 19, "operation not supported")                             \
	X(EDELETED, 20, "queue was deleted")                                  \
	X(ENOLEASE, 21, "no such lease: message not held by this handle")     \
	X(EINTERNAL, 22, "internal error")                                    \
	X(ECORRUPT, 23, "queue segment is corrupt: the queue is quarantined") \
	X(EIO, 24, "a disk sync failed: the message may not be durable")             \
	X(ENOSPC, 25, "no space left to back the queue's memory")                    \
	X(ELIMIT, 26, "a broker limit was reached")                                  \
	X(EMFILE, 27, "the broker is out of file descriptors")                       \
	X(ENOSHM, 28, "the shared-memory path is required but cannot be had")

typedef enum ipcq_err {
#define IPCQ_ERR_ENUM_(name, num, msg) IPCQ_##name = num,
	IPCQ_ERRNO_MAP(IPCQ_ERR_ENUM_)
#undef IPCQ_ERR_ENUM_
} ipcq_err;

/* Number of rows in IPCQ_ERRNO_MAP (counted from the table itself). */
#define IPCQ_ERR_ONE_(name, num, msg) +1
enum { IPCQ_ERR_COUNT = 0 IPCQ_ERRNO_MAP(IPCQ_ERR_ONE_) };
#undef IPCQ_ERR_ONE_

/* A static, human-readable message for err; "unknown error" if unknown.
 * Never NULL, never a shared buffer; any thread. */
const char *ipcq_strerror(int err);

/* The error's symbolic name without prefix ("ETIMEDOUT"), or "UNKNOWN".
 * Static; any thread. */
const char *ipcq_err_name(int err);

/* ---------------------------------------------------------------- client */

typedef struct ipcq_client ipcq_client;

typedef struct ipcq_client_opts {
	/* Broker address: "ipc:///path" or "tcp://host:port". NULL: the
	 * environment variable IPCQ_URL, else ipcq_default_url(). */
	const char *url;
	/* How long ipcq_client_open waits for the first connection.
	 * Default 2000 ms; -1 forever. */
	int connect_timeout_ms;
	/* Extra time the client waits for a reply beyond the request's own
	 * timeout before it reports IPCQ_ECONNLOST. Default 5000 ms. */
	int reply_grace_ms;
} ipcq_client_opts;

/* Fill opts with defaults (NULL: nothing). Any thread; never fails. */
void ipcq_client_opts_init(ipcq_client_opts *opts);

/* Write the default broker URL into buf (size len):
 * "ipc://$XDG_RUNTIME_DIR/ipcq/ipcqd.sock", or
 * "ipc:///tmp/ipcq-$UID/ipcqd.sock" when XDG_RUNTIME_DIR is unset. The
 * broker uses the same rule. Returns IPCQ_EINVAL if buf is too small.
 * Any thread. */
int ipcq_default_url(char *buf, size_t len);

/* Connect to a broker. opts may be NULL (defaults). On success *c owns
 * the connection; release it with ipcq_client_close; on failure nothing
 * is left to release. The client reconnects by itself if the connection
 * drops (for example a broker restart); queue handles are re-attached on
 * their next call. Blocks up to opts->connect_timeout_ms. Any thread.
 * Errors: IPCQ_ENOBROKER (nobody listening), IPCQ_EINVAL (bad URL, c
 * NULL), IPCQ_ENOMEM. */
int ipcq_client_open(ipcq_client **c, const ipcq_client_opts *opts);

/* Disconnect and free. Handles still open on c are released by the
 * broker (leases redelivered, producers that had not ended counted as
 * lost) but must still be closed with ipcq_queue_close, before this call
 * (their views and loans freed first). Accepts NULL; cannot fail. Do not
 * call while another thread is inside a call on c or on one of its
 * handles. Blocks at most about 5 s: if nng 1.5.2's close hangs
 * (nanomsg/nng#1543), the client's memory and one thread are abandoned
 * instead. */
void ipcq_client_close(ipcq_client *c);

/* ----------------------------------------------------------------- queue */

typedef struct ipcq_queue ipcq_queue;

enum ipcq_role {
	IPCQ_ROLE_AUTO     = 0, /* producer at first send/end, consumer at
	                           first recv */
	IPCQ_ROLE_PRODUCER = 1, /* registered as a producer at open */
	IPCQ_ROLE_CONSUMER = 2, /* registered as a consumer at open */
};

enum ipcq_ack_mode {
	IPCQ_ACK_AUTO     = 0, /* at most once: delivered means done */
	IPCQ_ACK_EXPLICIT = 1, /* at least once: leased until acked */
};

enum ipcq_full_policy {
	IPCQ_FULL_BLOCK       = 0, /* sender waits for space (default) */
	IPCQ_FULL_FAIL        = 1, /* send fails with IPCQ_EFULL */
	IPCQ_FULL_DROP_OLDEST = 2, /* oldest ready message is discarded */
};

enum ipcq_transport {
	/* Shared memory when the broker offers the queue's segment and this
	 * process can map it (same host, same user); else the socket, about
	 * two orders of magnitude slower: ipcq_queue_transport_reason says
	 * why. The environment variable IPCQ_TRANSPORT (auto, socket or
	 * shm) replaces AUTO by the other two; an explicit choice below
	 * ignores it. */
	IPCQ_TRANSPORT_AUTO   = 0,
	IPCQ_TRANSPORT_SOCKET = 1, /* always the socket (protocol) path */
	/* Shared memory or nothing: ipcq_queue_open fails with IPCQ_ENOSHM
	 * (ipcq_client_last_error says why) rather than fall back. */
	IPCQ_TRANSPORT_SHM    = 2,
};

typedef struct ipcq_queue_opts {
	int      roles;     /* ipcq_role bits; default IPCQ_ROLE_AUTO */
	int      ack_mode;  /* ipcq_ack_mode; default IPCQ_ACK_AUTO */
	int      transport; /* ipcq_transport; default IPCQ_TRANSPORT_AUTO */
	/* Shared memory only: a blocked send or recv first watches the
	 * queue for up to spin_us microseconds before it sleeps, trading a
	 * busy core for wake-up latency (0, the default: sleep at once). */
	uint32_t spin_us;
	/* The rest are the queue's options: this open sets them when it
	 * creates the queue (0 = broker default, listed in docs/api.md).
	 * For an existing queue, every non-zero one is "given" and must be
	 * the queue's, else the open fails with IPCQ_EEXIST; 0 accepts what
	 * the queue has (docs/api.md, "Options of an existing queue"). */
	uint64_t max_messages;      /* bound on ready + leased messages */
	uint64_t max_bytes;         /* bound on ready + leased bytes */
	uint32_t max_message_bytes; /* largest payload */
	int      full_policy;       /* ipcq_full_policy */
	/* The queue ends when this many producers have ended, however
	 * many are attached at any moment (a fast producer that ends before
	 * a slow one attaches does not end it). 0: it ends when a producer
	 * ends and no other producer is attached. */
	uint32_t expected_producers;
	/* Non-zero: every option counts as given, 0 meaning the default:
	 * an existing queue with any other option gives IPCQ_EEXIST. */
	int declare;
	/* Non-zero when this open creates the queue: it keeps its segment in
	 * a file under the broker's --state-dir, so its messages survive a
	 * reboot as the broker's --sync policy promises (docs/shm.md);
	 * IPCQ_ENOTSUP from a broker without a state directory. */
	int durable;
} ipcq_queue_opts;

/* Fill opts with defaults (NULL: nothing). Any thread; never fails. */
void ipcq_queue_opts_init(ipcq_queue_opts *opts);

/* Attach to the queue called name, creating it if needed. name must match
 * [A-Za-z0-9][A-Za-z0-9._-]{0,127} (else IPCQ_EBADNAME). opts may be NULL.
 * An existing queue whose options contradict the ones opts gives
 * (non-zero, or all of them with declare) is IPCQ_EEXIST, and nothing is
 * attached; NULL or all-zero options accept the queue as it is.
 * On success *q is a handle owned by the caller (ipcq_queue_close); on
 * failure the broker keeps no handle of it (the queue may have been
 * created). The transport is chosen here (enum ipcq_transport). Blocks
 * for one round trip (two with IPCQ_TRANSPORT_SHM and the producer role),
 * at most reply_grace_ms. Any thread. Errors: IPCQ_EBADNAME,
 * IPCQ_EEXIST, IPCQ_EINVAL (bad opts, or an unknown value of
 * IPCQ_TRANSPORT: ipcq_client_last_error says so), IPCQ_ENOTSUP
 * (durable without a broker state directory), IPCQ_ENOSHM (shared memory
 * required and not to be had: ipcq_client_last_error says why),
 * IPCQ_ECONNLOST, IPCQ_ENOMEM, and what the broker answers when it
 * cannot create or back the queue (IPCQ_EPERM, IPCQ_ENOSPC, IPCQ_ELIMIT,
 * IPCQ_EMFILE). */
int ipcq_queue_open(ipcq_queue **q, ipcq_client *c, const char *name,
    const ipcq_queue_opts *opts);

/* Release the handle. Unacked messages it holds are redelivered (copies
 * received on it that are still allocated stay the caller's to free,
 * and their acks are refused); if it is a producer that has not called
 * ipcq_queue_end, it counts as abandoned (docs/api.md, "End of stream").
 * Free q's views and loans first: their payload lives in q's mapping of
 * the segment, which this unmaps. Blocks for one round trip at most
 * (reply_grace_ms). Accepts NULL; cannot fail. Not while another thread
 * is inside a call on q. */
void ipcq_queue_close(ipcq_queue *q);

/* The queue's name, owned by q (valid until ipcq_queue_close); NULL
 * for q NULL. Never blocks; any thread. */
const char *ipcq_queue_name(const ipcq_queue *q);

/* Send one message (len bytes copied from data; the caller keeps data).
 * Blocks while the queue is full under IPCQ_FULL_BLOCK, up to timeout_ms
 * (on shared memory asleep on the segment, on the socket parked in the
 * broker). Any thread. Errors: IPCQ_ECLOSED (the stream has ended),
 * IPCQ_EFULL, IPCQ_ETIMEDOUT, IPCQ_EMSGSIZE, IPCQ_EINVAL, IPCQ_EDELETED,
 * IPCQ_ECORRUPT, IPCQ_ECONNLOST, IPCQ_ENOSHM (IPCQ_TRANSPORT_SHM, and the
 * re-open after a reconnect could not map the segment), and IPCQ_EIO on a
 * durable queue under the broker's --sync always when the disk sync
 * failed: the message IS queued (do not resend it blindly) but not known
 * to be on disk. */
int ipcq_queue_send(ipcq_queue *q, const void *data, size_t len,
    int timeout_ms);

typedef struct ipcq_iov {
	const void *data;
	size_t      len;
} ipcq_iov;

/* Send n messages in order in as few round trips (or segment lock holds)
 * as the frame limit allows; the caller keeps msgs. *sent (if not NULL)
 * is always written, also on error: the number of messages enqueued (a
 * prefix of msgs). Blocks and errors as ipcq_queue_send; any thread. */
int ipcq_queue_send_batch(ipcq_queue *q, const ipcq_iov *msgs, size_t n,
    size_t *sent, int timeout_ms);

typedef struct ipcq_msg ipcq_msg;

/* Receive one message, waiting up to timeout_ms while the queue is empty.
 * On success *msg is a copy owned by the caller (ipcq_msg_free, which
 * does not ack it); in IPCQ_ACK_EXPLICIT mode it stays leased to q until
 * ipcq_queue_ack or ipcq_queue_nack, or until q is closed. After the
 * stream has ended and the queue is drained, returns IPCQ_EOF, on this
 * and every later call on this handle. Any thread. Errors: IPCQ_EOF,
 * IPCQ_ETIMEDOUT, IPCQ_EABANDONED (drained, no producer left, one left
 * without ending; not final: a new producer may attach), IPCQ_EINVAL,
 * IPCQ_EDELETED, IPCQ_ECORRUPT, IPCQ_ECONNLOST, IPCQ_ENOMEM,
 * IPCQ_ENOSHM (as for ipcq_queue_send). */
int ipcq_queue_recv(ipcq_queue *q, ipcq_msg **msg, int timeout_ms);

/* Receive up to max messages: whatever is ready, waiting up to timeout_ms
 * only while none is. On success *n >= 1 copies are stored in msgs[]
 * (each owned by the caller, as from ipcq_queue_recv); on error nothing
 * is stored and *n is 0. Blocks, threads and errors as
 * ipcq_queue_recv. */
int ipcq_queue_recv_batch(ipcq_queue *q, ipcq_msg **msgs, size_t max,
    size_t *n, int timeout_ms);

/* Acknowledge a message received on q in IPCQ_ACK_EXPLICIT mode: the
 * queue forgets it. Does not free msg (the caller still owns it). A copy
 * is acked now (one round trip on the socket, the segment lock on shared
 * memory); a view is marked, and acked when ipcq_msg_free releases it.
 * Any thread. Errors: IPCQ_EINVAL (q in IPCQ_ACK_AUTO mode, msg received
 * on another handle, or a loan), IPCQ_ENOLEASE (not leased to this handle
 * any more: it was received before a reconnect, or its lease expired and
 * it was redelivered), IPCQ_ECONNLOST, IPCQ_ECORRUPT. */
int ipcq_queue_ack(ipcq_queue *q, const ipcq_msg *msg);

/* Acknowledge n messages of q in one round trip (or one segment lock
 * hold), each as ipcq_queue_ack would. Those still leased are acked even
 * when others are not (then IPCQ_ENOLEASE). Same ownership, threads and
 * errors as ipcq_queue_ack; n == 0 does nothing. */
int ipcq_queue_ack_batch(ipcq_queue *q, ipcq_msg *const *msgs, size_t n);

/* Negative acknowledgement: put msg back at the head of the queue for
 * redelivery (its delivery count grows). Does not free msg. A copy goes
 * back now; a view is marked, and goes back when ipcq_msg_free releases
 * it. Blocks, threads and errors as ipcq_queue_ack. */
int ipcq_queue_nack(ipcq_queue *q, const ipcq_msg *msg);

/* End this producer's stream (the sentinel); its later sends fail with
 * IPCQ_ECLOSED. The queue ends when expected_producers producers have
 * ended, or, with none declared, when a producer ends and no other is
 * attached; then every send fails with IPCQ_ECLOSED and consumers get
 * IPCQ_EOF once the queue is drained. Ending twice is harmless. One round
 * trip. Any thread. Errors: IPCQ_EINVAL, IPCQ_ECONNLOST, IPCQ_EDELETED. */
int ipcq_queue_end(ipcq_queue *q);

/* End the queue at once for every producer, whatever they declared.
 * Queued messages are still delivered. One round trip; any thread.
 * Errors: IPCQ_EINVAL, IPCQ_ENOTFOUND, IPCQ_ECONNLOST. (Releasing the
 * handle is ipcq_queue_close.) */
int ipcq_queue_shutdown(ipcq_queue *q);

typedef struct ipcq_stats {
	uint64_t depth;       /* ready messages */
	uint64_t bytes;       /* ready + leased payload bytes */
	uint64_t in_flight;   /* leased, not acked */
	uint32_t producers;   /* attached producers that have not ended */
	uint32_t consumers;   /* attached consumers */
	uint32_t producers_ended;
	uint32_t producers_lost; /* left without ending */
	uint64_t sent;        /* messages accepted */
	uint64_t received;    /* deliveries, redeliveries included */
	uint64_t acked;       /* acks, auto-acks included */
	uint64_t redelivered; /* messages put back for redelivery */
	uint64_t dropped;     /* discarded by IPCQ_FULL_DROP_OLDEST */
	uint64_t purged;      /* discarded by purge */
	uint32_t senders_waiting;   /* sends waiting (full): parked in the
	                               broker or asleep on shared memory */
	uint32_t receivers_waiting; /* recvs waiting (empty), likewise */
	uint64_t writing;     /* zero-copy loans reserved, not yet sent */
	int      ended;       /* stream has ended */
	int      abandoned;   /* a producer left without ending */
	int      corrupt;     /* its segment failed a check: quarantined
	                       * (every call answers IPCQ_ECORRUPT) */
	uint64_t max_messages, max_bytes;
	uint32_t max_message_bytes, expected_producers;
	int      full_policy;
	uint64_t sync_errors; /* durable: disk syncs the broker saw fail
	                         since it started (--sync batch or always);
	                         not 0: sends may not be on disk */
	uint64_t segment_bytes; /* memory the queue's segment commits */
	/* The broker's totals and limits, the same in every queue's stats
	 * (ipcqd --max-queues, --max-memory); 0 from an older broker. */
	uint64_t broker_segment_bytes; /* every segment together */
	uint64_t broker_max_memory;    /* bound on broker_segment_bytes */
	uint32_t broker_queues, broker_max_queues;
} ipcq_stats;

/* Statistics of the handle's queue, written to *st on success. One round
 * trip; any thread. Errors as ipcq_client_stats. */
int ipcq_queue_stats(ipcq_queue *q, ipcq_stats *st);

/* ------------------------------------------------------------ event loop */

/* A file descriptor for epoll/poll/select/libuv that is readable when
 * ipcq_queue_recv(q, &m, 0) would not return IPCQ_ETIMEDOUT: a message is
 * ready, or recv would report IPCQ_EOF, IPCQ_EABANDONED or an error such
 * as IPCQ_ECONNLOST (then recv also re-opens the handle, as every call
 * does). It is a hint; recv is the truth. The fd turns unreadable again
 * only when a recv on q returns IPCQ_ETIMEDOUT, so the loop is: on
 * readable, recv with timeout 0 until IPCQ_ETIMEDOUT (like EAGAIN under
 * edge-triggered epoll); after IPCQ_EOF it stays readable. After
 * IPCQ_EABANDONED (not final) it turns unreadable until a message or the
 * end of stream: treat it like IPCQ_ETIMEDOUT and wait. The first call
 * makes one round trip and creates the fd; later calls return the same
 * fd. The fd belongs to q: never read, write or close it; epoll it for
 * reading only; ipcq_queue_close closes it. No thread waits for it: the
 * library keeps one request parked in the broker per handle. Any thread;
 * as for every call on q, do not close q while another thread uses q.
 * Errors: IPCQ_ENOTSUP (the broker predates this call), IPCQ_ECONNLOST,
 * IPCQ_EDELETED, IPCQ_ENOMEM, IPCQ_EINVAL. */
int ipcq_queue_pollfd(ipcq_queue *q, int *fd);

/* ------------------------------------------------------ admin, by name */

/* Statistics of the queue called name, written to *st on success. One
 * round trip; any thread. Errors: IPCQ_ENOTFOUND, IPCQ_EBADNAME,
 * IPCQ_EINVAL, IPCQ_ECONNLOST. */
int ipcq_client_stats(ipcq_client *c, const char *name, ipcq_stats *st);

/* The names of every queue. On success *names is a NULL-terminated array
 * of *n strings owned by the caller; release it with ipcq_names_free
 * (which accepts NULL). One round trip; any thread. Errors: IPCQ_EINVAL,
 * IPCQ_ECONNLOST, IPCQ_ENOMEM. */
int ipcq_client_list(ipcq_client *c, char ***names, size_t *n);
void ipcq_names_free(char **names);

/* Discard the ready messages of a queue (leased ones are kept);
 * *purged (may be NULL) gets the count. One round trip; any thread.
 * Errors as ipcq_client_stats. */
int ipcq_client_purge(ipcq_client *c, const char *name, uint64_t *purged);

/* Delete a queue and its messages. Parked calls on it return
 * IPCQ_EDELETED; handles to it get IPCQ_EDELETED from then on (and must
 * still be closed). One round trip; any thread. Errors as
 * ipcq_client_stats. */
int ipcq_client_delete(ipcq_client *c, const char *name);

/* End the queue called name at once (ipcq_queue_shutdown by name). One
 * round trip; any thread. Errors as ipcq_client_stats. */
int ipcq_client_shutdown_queue(ipcq_client *c, const char *name);

/* -------------------------------------------------------------- message */

/* The payload (valid until ipcq_msg_free; for a view, also only while its
 * handle is open) and its length; for a loan, its buffer. NULL and 0 for
 * m NULL. Never block; any thread that owns m. */
const void *ipcq_msg_data(const ipcq_msg *m);
size_t      ipcq_msg_size(const ipcq_msg *m);
/* How many times this message has been delivered (1 the first time), and
 * whether it was delivered before (count > 1); 0 for a loan or NULL.
 * Never block. */
uint32_t ipcq_msg_delivery_count(const ipcq_msg *m);
int      ipcq_msg_redelivered(const ipcq_msg *m);

/* Free a message of any kind; m is invalid afterwards. Accepts NULL;
 * cannot fail (what it finishes in the segment it finishes as well as it
 * can: after a reconnect the broker already took the record back).
 *   copy: memory only. It does not ack: in IPCQ_ACK_EXPLICIT mode a
 *     copy freed unacked stays leased to its handle until the handle is
 *     closed, its connection drops or its lease expires; then it is
 *     redelivered.
 *   view: finishes the record it holds in the segment: in IPCQ_ACK_AUTO
 *     mode it is acked; in IPCQ_ACK_EXPLICIT mode it is acked if
 *     ipcq_queue_ack was called on it, else returned for redelivery at
 *     the head of the queue (also after ipcq_queue_nack).
 *   loan: gives its reserved room back unsent (nothing is delivered).
 * Takes the segment lock for a view or a shared-memory loan (never
 * sleeps otherwise); no round trip. Any thread that owns m; free views
 * and loans before their handle is closed. */
void ipcq_msg_free(ipcq_msg *m);

/* Non-zero if q currently moves messages through the queue's shared-memory
 * segment (the fast path), 0 if through the socket (also while q's
 * connection is down; the next call re-maps). Never blocks; any thread. */
int ipcq_queue_is_shm(ipcq_queue *q);

/* Why q does not move messages through shared memory: NULL when it does
 * (ipcq_queue_is_shm), else a sentence such as "the broker URL is not
 * ipc://..." or "permission denied on the queue's segment: the broker
 * runs as another user". The string is static (never freed, valid for
 * the life of the process). Never blocks; any thread. */
const char *ipcq_queue_transport_reason(ipcq_queue *q);

/* A sentence saying more than the error code about the most recent
 * failure on c that has more to say: why an open with IPCQ_TRANSPORT_SHM
 * failed with IPCQ_ENOSHM, or why IPCQ_TRANSPORT was refused with
 * IPCQ_EINVAL; NULL if there was none. Static string, as above. Any
 * thread; with several threads opening queues on c it is the most
 * recent of any of them. */
const char *ipcq_client_last_error(const ipcq_client *c);

/* ------------------------------------------------------------ zero copy */

/* Loan: reserve room for a len-byte message in q's segment, to be filled
 * in place (ipcq_msg_buffer) and sent with ipcq_queue_send_loan — the
 * payload is written once, straight into shared memory. Blocks like a
 * send while the queue is full (full policy, timeout_ms). On success *m
 * is owned by the caller until ipcq_queue_send_loan, or ipcq_msg_free,
 * which gives the room back unsent. On the socket path the loan is an
 * ordinary buffer and the send a normal send. Errors as ipcq_queue_send.
 * A loan must be sent or freed before q is closed; a producer that dies
 * holding a loan loses it (it is never delivered, its room comes back).
 * Any thread; the loan is then used by one thread at a time. */
int ipcq_msg_loan(ipcq_msg **m, ipcq_queue *q, size_t len, int timeout_ms);

/* The writable payload of a loan (ipcq_msg_size bytes, valid until the
 * loan is sent or freed); NULL for a copy or a view, whose payload is
 * read-only (ipcq_msg_data). Never blocks. */
void *ipcq_msg_buffer(ipcq_msg *m);

/* Send a loan on the queue it was loaned from. Takes m in every case (it
 * is freed, also on error, whatever its kind: a copy or a view passed
 * here is freed as ipcq_msg_free would). On shared memory it only takes
 * the segment lock (never waits for room: the loan holds it);
 * timeout_ms matters only on the socket path. Any thread. Errors:
 * IPCQ_EINVAL (not a loan of q), IPCQ_ECONNLOST (the connection dropped
 * since the loan: the broker discarded it), IPCQ_ECORRUPT, or those of
 * ipcq_queue_send on the socket path. */
int ipcq_queue_send_loan(ipcq_queue *q, ipcq_msg *m, int timeout_ms);

/* Receive one message as a view: ipcq_msg_data points into the segment,
 * nothing is copied. The record stays held by this handle until
 * ipcq_msg_free, which finishes it: in IPCQ_ACK_AUTO mode it is acked; in
 * IPCQ_ACK_EXPLICIT mode it is acked if ipcq_queue_ack was called on the
 * view, else returned for redelivery (as after ipcq_queue_nack). Views
 * must be freed before q is closed. On the socket path it is an
 * ordinary received copy with the usual rules. Blocks, threads and
 * errors as ipcq_queue_recv. */
int ipcq_queue_recv_view(ipcq_queue *q, ipcq_msg **m, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* IPCQ_H */
