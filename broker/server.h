/*
 * The asynchronous REP server: a pool of nng contexts, each a small state
 * machine driven by its aio callback:
 *
 *   RECV --request--> dispatch --reply--> SEND --sent--> RECV (or idle)
 *                         \--must wait--> PARKED --claimed--> SEND
 *
 * A parked request holds no thread; its context is out of the receiving
 * pool, so the server tops the pool up to keep `recv_contexts` receiving
 * (parked requests never stall other clients). A context in SEND is out
 * of the pool too, until its client takes the reply: the pool is topped
 * up the same way, so a client that does not read never stalls the
 * others, and outbox.h bounds what it can make the broker hold. A parked request is
 * completed exactly once by whoever unlinks its waiter under the broker
 * lock (queue.h); if it has a deadline timer, the reply is sent from the
 * timer callback once the timer has been cancelled or has fired, so a
 * context is never reused while its timer is live.
 */
#ifndef IPCQD_SERVER_H
#define IPCQD_SERVER_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdbool.h>

#include "broker.h"
#include "ipcq.pb-c.h"
#include "list.h"
#include "outbox.h"
#include "queue.h"

typedef struct ipcqd_ctx {
	ipcqd_server      *srv;
	nng_ctx            ctx;
	nng_aio           *aio;      /* receives requests */
	nng_aio           *send_aio; /* sends replies */
	nng_aio           *timer; /* deadline of a parked request */
	ipcqd_node         all;   /* srv->all (server lock) */
	ipcqd_node         idle;  /* srv->idle (server lock) */
	ipcqd_node         done;  /* broker->done (broker lock) */
	uint32_t           pipe_id;
	size_t             charged;  /* server lock: in srv->outbox */
	Ipcq__V1__Request *req;      /* the request being served */
	nng_msg           *reply;    /* encoded reply, ready to send */
	ipcqd_waiter       w;        /* when parked */
	ipcqd_payload     *payloads; /* parked send: views into req */
	size_t             parked_bytes; /* broker lock: counted in srv */
	/* Broker lock: */
	bool timer_armed;     /* the timer was started for this park */
	bool in_timer;        /* the timer callback is the claimer */
	/* Work decided under the broker lock and done after it is released,
	 * just before the reply is sent (a disk sync under --sync always:
	 * h_data.c); NULL if none. It may replace cx->reply. */
	void (*unlocked)(struct ipcqd_ctx *cx);
	int      sync_fd;       /* for unlocked: a dup of the queue's file */
	size_t   sync_accepted; /* messages the synced send added */
	char     sync_queue[IPCQI_NAME_MAX + 1];
} ipcqd_ctx;

struct ipcqd_server {
	ipcqd_broker   *b;
	pthread_mutex_t mtx;
	ipcqd_list      all;  /* every context */
	ipcqd_list      idle; /* contexts neither receiving nor busy */
	int             receiving;
	int             parked;       /* broker lock */
	size_t          parked_bytes; /* broker lock: payloads held */
	ipcqd_outbox    outbox;       /* replies not yet taken, dropped
	                                 connections (sv_drop) */
	bool            stopping;
};

/* Handler results. */
#define IPCQD_REPLIED 0 /* cx->reply is set: send it */
#define IPCQD_PARKED  1 /* the waiter is parked; its claimer replies */

int  ipcqd_server_start(ipcqd_server **sp, ipcqd_broker *b);
/* Stop serving: stop every aio (waiting for running callbacks); replies
 * produced from now on are dropped. Before nng_close. */
void ipcqd_server_quiesce(ipcqd_server *srv);
/* Broker lock held: the pipe is gone (REM_POST); forget that it was
 * dropped. */
void ipcqd_server_pipe_gone(ipcqd_server *srv, uint32_t pipe_id);
/* After the socket is closed: free the contexts. */
void ipcqd_server_free(ipcqd_server *srv);

/* Encode rep (status and message filled in by the caller) as cx->reply.
 * Returns IPCQD_REPLIED. */
int ipcqd_reply(ipcqd_ctx *cx, Ipcq__V1__Reply *rep);
/* An error reply with a formatted message. Returns IPCQD_REPLIED. */
int ipcqd_reply_error(ipcqd_ctx *cx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Broker lock held. Reserve a parking place for a request holding bytes
 * of payload and arm the deadline timer (timeout_ms > 0; -1 for none);
 * the caller then links cx->w with ipcqd_queue_park. 0, or IPCQ_EBUSY
 * past --max-parked requests or --max-parked-bytes. */
int ipcqd_park(ipcqd_ctx *cx, int timeout_ms, size_t bytes);

/* Broker lock held: cx->reply is ready for a parked request that was
 * just claimed; queue it for sending after the broker unlocks. */
void ipcqd_complete(ipcqd_ctx *cx);

/* After the broker unlocks: send each context of a completion list. */
void ipcqd_server_flush(ipcqd_list *done);

/* The list where completions wait while this thread dispatches a request
 * (they are sent after its reply), or NULL. */
ipcqd_list *ipcqd_server_deferred(void);

/* dispatch.c: decode and serve one request. Returns IPCQD_REPLIED or
 * IPCQD_PARKED. */
int ipcqd_dispatch(ipcqd_broker *b, ipcqd_ctx *cx, const void *buf,
    size_t len);
/* Release the request held by cx (after its reply was produced). */
void ipcqd_request_free(ipcqd_ctx *cx);

#endif
