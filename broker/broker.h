/*
 * The broker: configuration, the one broker lock, the queue registry,
 * sessions, and the nng socket with its listeners. No global state: a
 * test can run several brokers in one process.
 *
 * Lock order: broker->mtx, then server->mtx (server.h). The broker lock
 * guards every queue, handle, session and parked waiter and the
 * completion list; it is never held while sending on nng (completions
 * are flushed by ipcqd_broker_unlock after the mutex is released). The
 * nng calls made under it are arming and cancelling a parked request's
 * timer: nng runs aio callbacks on its task threads, never inside those
 * calls, so they cannot re-enter the lock.
 */
#ifndef IPCQD_BROKER_H
#define IPCQD_BROKER_H

#include <nng/nng.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "idmap.h"
#include "list.h"
#include "queue.h"
#include "segment.h"

#define IPCQD_MAX_LISTEN 16

typedef struct ipcqd_config {
	const char *listen[IPCQD_MAX_LISTEN]; /* URLs; none: the default */
	int         nlisten;
	size_t      max_frame;     /* NNG_OPT_RECVMAXSZ per listener */
	int         recv_contexts; /* contexts kept receiving */
	int         max_parked;    /* parked requests before EBUSY */
	size_t      max_parked_bytes; /* payload bytes parked sends hold */
	size_t      max_unread_bytes;   /* per connection (outbox.h) */
	int         max_unread_replies; /* per connection (outbox.h) */
	int         drain_ms; /* a queued reply not taken: drop the peer */
	int         socket_mode;   /* ipc:// socket file mode */
	int         socket_gid;    /* --socket-group; -1: none */
	int         close_timeout_ms; /* give up on nng_close after this */
	int         probe_ms;      /* listener watchdog period; 0: off */
	const char *state_dir;     /* durable queues' files; NULL: none */
	int         sync_mode;     /* IPCQI_SYNC_* for durable queues */
	int         sync_ms;       /* IPCQI_SYNC_BATCH period */
	int         discard_on_exit; /* a clean stop removes every /dev/shm
	                                queue, not only the empty ones */
	uint32_t    max_queues;    /* queues at once (<= IPCQI_SIGBUS_SLOTS) */
	uint64_t    max_memory;    /* bytes every segment together commits */
} ipcqd_config;

void ipcqd_config_init(ipcqd_config *cfg);
/* --max-memory's default: half of the machine's RAM. */
uint64_t ipcqd_default_max_memory(void);

typedef struct ipcqd_server   ipcqd_server;
typedef struct ipcqd_watchdog ipcqd_watchdog;

typedef struct ipcqd_broker {
	pthread_mutex_t mtx;
	ipcqd_config    cfg;
	ipcqd_list      queues;   /* ipcqd_queue.node, creation order */
	uint32_t        nqueues;
	uint64_t        seg_bytes; /* sum of the queues' segment sizes
	                              (broker lock; --max-memory) */
	ipcqd_idmap     handles;  /* handle id -> ipcqd_handle */
	ipcqd_idmap     sessions; /* pipe id -> ipcqd_session */
	uint64_t        epoch;    /* high bits of every handle id */
	uint64_t        next_handle;
	ipcqd_list      done;     /* completed contexts to send */
	ipcqd_server   *srv;
	ipcqd_watchdog *watchdog;
	nng_socket      sock;
	nng_listener    listeners[IPCQD_MAX_LISTEN];
	char           *urls[IPCQD_MAX_LISTEN]; /* as listening */
	char           *ipc_paths[IPCQD_MAX_LISTEN]; /* to unlink */
	int             lock_fds[IPCQD_MAX_LISTEN];   /* flock()ed, or -1 */
	char           *lock_paths[IPCQD_MAX_LISTEN]; /* "<socket>.lock" */
	int             nlisteners; /* the watchdog owns listeners[] while
	                               it runs */
	ipcqd_segs      segs;   /* segment names, doorbell, waker */
	int             started;
	/* Connections each listener handed to the socket, by listener id
	 * modulo the size (atomic; counted before the broker lock, so a
	 * stalled broker still counts them): the watchdog tells a wedged
	 * listener from a slow broker by it. */
	uint32_t        accepted[64];
	int             leak; /* nng_close timed out: never free */
} ipcqd_broker;

/* Start results beyond ipcq errors. */
#define IPCQD_START_ADDRINUSE 1001 /* another broker serves an address */
#define IPCQD_START_FAILED    1002 /* could not listen (message in err) */

int  ipcqd_broker_new(ipcqd_broker **bp, const ipcqd_config *cfg);
/* Listen on every configured address and start serving. On failure
 * returns IPCQD_START_* with a message in err. */
int  ipcqd_broker_start(ipcqd_broker *b, char *err, size_t errlen);
/* Stop serving: stop every context, remove the ipc socket files, close
 * the socket, free the queues. Idempotent. */
void ipcqd_broker_stop(ipcqd_broker *b);
void ipcqd_broker_free(ipcqd_broker *b);

void ipcqd_broker_lock(ipcqd_broker *b);
/* Unlock, then send every reply completed while the lock was held. */
void ipcqd_broker_unlock(ipcqd_broker *b);

/* Registry (broker lock held). */
ipcqd_queue *ipcqd_broker_find_queue(ipcqd_broker *b, const char *name);
/* Create a queue. On failure an ipcq error and, in why, its cause for
 * the client: IPCQ_ELIMIT (--max-queues or --max-memory reached),
 * IPCQ_ENOSPC (no room to back the segment), IPCQ_EMFILE (out of file
 * descriptors), IPCQ_ENOMEM. */
int          ipcqd_broker_add_queue(ipcqd_broker *b, const char *name,
             const ipcqd_queue_opts *o, ipcqd_queue **qp, char *why,
             size_t whylen);
void         ipcqd_broker_delete_queue(ipcqd_broker *b, ipcqd_queue *q);
/* Register a queue built elsewhere (adoption). */
void         ipcqd_broker_insert_queue(ipcqd_broker *b, ipcqd_queue *q);

/* How many connections listener l has handed to the socket so far (a
 * count that only grows; compare two readings). */
uint32_t ipcqd_broker_accepted(ipcqd_broker *b, nng_listener l);

/* Create and start a listener on url with the broker's options (no
 * checks: see ipcqd_listen_prepare). 0 or IPCQD_START_*. */
int ipcqd_broker_listener_open(ipcqd_broker *b, const char *url,
    nng_listener *lp, char *err, size_t errlen);

/* listen.c: resolve, check and prepare one address; see there. */
int ipcqd_listen_prepare(const char *url, char *err, size_t errlen);
/* The default address ($IPCQ_URL, else the runtime directory's socket,
 * the directory created and set for the socket's group). */
int ipcqd_listen_default_url(char *buf, size_t len, int gid,
    int socket_mode);
/* Take the exclusive lock of an ipc:// address (nothing for others):
 * 0 with *fdp >= 0 and *pathp (malloc'ed) to release later,
 * IPCQD_START_ADDRINUSE when another broker holds it, or
 * IPCQD_START_FAILED; a message in err. */
int  ipcqd_listen_lock(const char *url, int *fdp, char **pathp, char *err,
     size_t errlen);
/* Remove the lock file, then let go of the lock. fd < 0: nothing. */
void ipcqd_listen_unlock(int fd, const char *path);

#endif
