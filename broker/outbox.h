/*
 * Replies a connection has not taken yet, counted per pipe, so that one
 * client that never reads cannot hold the broker's memory without bound.
 *
 * A context's reply is counted from nng_ctx_send until its send aio
 * completes. nng's REP socket hands a pipe one reply at a time and queues
 * the rest, each holding its context; the server keeps its receiving pool
 * full regardless (server.c), so a stuck reader costs only these queued
 * replies, and the outbox decides when they are too many:
 *
 *   - more than --max-unread-replies replies, or more than
 *     --max-unread-bytes bytes (each counted with IPCQD_OUTBOX_CHARGE for
 *     the context that holds it), beyond the one reply being written;
 *   - a queued reply not taken within --drain-ms (the send aio's timeout).
 *
 * Either way the server drops the connection (server.c, sv_drop): its
 * session goes as for any disconnect (leases redelivered), and the outbox
 * remembers the pipe as dropped until its REM_POST. Guarded by the
 * server lock.
 */
#ifndef IPCQD_OUTBOX_H
#define IPCQD_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idmap.h"

/* What a queued reply costs besides its bytes: its context (ipcqd_ctx,
 * three nng aios, the nng context). An estimate, rounded up. */
#define IPCQD_OUTBOX_CHARGE 2048u

typedef struct ipcqd_outbox {
	ipcqd_idmap conns; /* pipe id -> ipcqd_outbox_conn, while it has
	                      replies in flight */
	ipcqd_idmap dropped; /* pipe ids dropped, until their REM_POST */
	size_t      max_bytes;
	int         max_replies;
	int         drain_ms; /* for the log: the server sets the timeout */
} ipcqd_outbox;

/* Why a connection is dropped (IPCQD_OUTBOX_KEEP: it is not). */
typedef enum ipcqd_outbox_verdict {
	IPCQD_OUTBOX_KEEP = 0,
	IPCQD_OUTBOX_OVER_REPLIES, /* more than max_replies unread */
	IPCQD_OUTBOX_OVER_BYTES,   /* more than max_bytes unread */
	IPCQD_OUTBOX_TIMED_OUT,    /* a reply not taken within --drain-ms */
} ipcqd_outbox_verdict;

int  ipcqd_outbox_init(ipcqd_outbox *o, size_t max_bytes, int max_replies,
    int drain_ms);
void ipcqd_outbox_fini(ipcqd_outbox *o);

/* A reply of len bytes is about to be sent on pipe_id. *charged is what
 * was counted (0 when out of memory: then nothing is, and nothing is
 * uncounted later). A verdict other than KEEP is given once per
 * connection: the caller drops it. */
ipcqd_outbox_verdict ipcqd_outbox_add(ipcqd_outbox *o, uint32_t pipe_id,
    size_t len, size_t *charged);

/* The send of a reply charged `charged` completed with nng result rv.
 * TIMED_OUT (once per connection) when the pipe did not take it in time:
 * the caller drops the connection. */
ipcqd_outbox_verdict ipcqd_outbox_done(ipcqd_outbox *o, uint32_t pipe_id,
    size_t charged, int rv);

/* Log the one warning line that says why pipe_id is dropped. */
void ipcqd_outbox_log_drop(const ipcqd_outbox *o, uint32_t pipe_id,
    ipcqd_outbox_verdict v);

/* The connection is dropped (server.c, sv_drop): 0, or -1 when out of
 * memory (then it is not). */
int ipcqd_outbox_drop(ipcqd_outbox *o, uint32_t pipe_id);
/* Whether it was dropped: its requests and replies are discarded. */
bool ipcqd_outbox_is_dropped(const ipcqd_outbox *o, uint32_t pipe_id);
/* Its pipe is gone (REM_POST): forget it. */
void ipcqd_outbox_forget(ipcqd_outbox *o, uint32_t pipe_id);

#endif
