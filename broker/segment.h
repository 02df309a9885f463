/*
 * The segment files of one broker instance: their names, creation,
 * removal and adoption after a crash, and the doorbell with the waker
 * thread that turns a shared-memory client's change into a pump of the
 * queue's parked socket requests.
 *
 * Names are the broker's, never a user's: "/ipcq-<uid>-<tag>-<id>-<rnd>"
 * for a queue and "/ipcq-<uid>-<tag>-bell-<rnd>" for the doorbell, where
 * tag is a hash of the broker's first listening address (so a broker
 * restarted on the same address finds its segments, and brokers on other
 * addresses never touch them), id a number unique within the tag and rnd
 * 64 random bits, so that another local user cannot create a name before
 * us. Every file is created O_EXCL|O_NOFOLLOW (a taken name is retried
 * under a new one, never opened) and checked to be ours. Mode 0600, or
 * 0660 with the --socket-group group.
 */
#ifndef IPCQD_SEGMENT_H
#define IPCQD_SEGMENT_H

#include <pthread.h>
#include <stdint.h>

#include "ipcqi_seg.h"
#include "queue.h"

struct ipcqd_broker;

typedef struct ipcqd_segs {
	char        prefix[64]; /* "ipcq-<uid>-<tag>-" (no leading '/') */
	char        state_dir[512]; /* durable queues' files; "" if none */
	int         sync_mode;      /* IPCQI_SYNC_* for durable queues */
	int         sync_ms;
	pthread_t   syncer;         /* IPCQI_SYNC_BATCH: syncs every sync_ms */
	int         syncer_on;
	pthread_mutex_t sync_mtx;   /* guards sync_stop, with sync_cv */
	pthread_cond_t  sync_cv;
	int             sync_stop;
	uint64_t    next_id;    /* broker lock */
	int         gid;        /* group of every file, -1: our own */
	int         file_mode;  /* 0600, or 0660 with a group */
	ipcqi_bell *bell;       /* mapped doorbell, NULL if none */
	char        bell_name[96];
	pthread_t   waker;
	int         waker_on;
	int         stop; /* atomic: the waker should exit */
} ipcqd_segs;

/* Derive names from the broker's first address and create a new
 * doorbell; check or create the state directory (NULL: durable queues
 * are refused). gid >= 0: every file is 0660 in that group (clients of
 * --socket-group map them), else 0600. 0 or an ipcq error. */
int ipcqd_segs_init(ipcqd_segs *s, const char *url, const char *state_dir,
    int sync_mode, int sync_ms, int gid);

/* Create the segment file of a new queue and map it: in /dev/shm, or a
 * file in the state directory for a durable queue (IPCQ_ENOTSUP without
 * one). On success shm_name holds its name ("/ipcq-..." for a POSIX shm
 * object, an absolute path for a file) and *fd, for a durable queue, an
 * open descriptor of the file (else -1). */
int ipcqd_segs_create(ipcqd_segs *s, const char *name,
    const ipcqd_queue_opts *o, ipcqi_seg *seg, char *shm_name, size_t len,
    int *fd);

/* Remove a segment (mappings stay valid until unmapped). */
void ipcqd_segs_unlink(const char *shm_name);

/* Whether a segment name is a file path (durable) rather than a POSIX
 * shm object name. */
int ipcqd_segs_is_file(const char *shm_name);

/* Adopt every segment of ours left by an earlier instance: each valid
 * one becomes a queue again (its leases and unfinished loans returned:
 * their holders died with that instance); an unreadable one of ours is
 * removed (/dev/shm) or renamed aside to <name>.unreadable (a durable
 * file); files of other users, other tags or other layout versions are
 * left alone. Broker lock held. Returns the number adopted. */
int ipcqd_segs_adopt(ipcqd_segs *s, struct ipcqd_broker *b);

/* A disk sync of queue's file failed with errno err (broker lock NOT
 * held; taken here): counted in the queue's stats (sync_errors) and
 * logged with what failed. */
void ipcqd_segs_sync_failed(struct ipcqd_broker *b, const char *queue,
    int err, const char *what);

/* Start / stop the waker thread (stop also removes the doorbell), and
 * the syncer of durable queues (IPCQI_SYNC_BATCH). */
int  ipcqd_segs_start_waker(ipcqd_segs *s, struct ipcqd_broker *b);
void ipcqd_segs_fini(ipcqd_segs *s);

#endif
