/*
 * Sessions and handles. A session is one client connection (one nng
 * pipe): created when the pipe is added, destroyed when the broker sees
 * it drop. Its handles are its attachments to queues; destroying the
 * session detaches them, which redelivers their leases and counts their
 * unended producers as lost. All under the broker lock.
 */
#ifndef IPCQD_SESSION_H
#define IPCQD_SESSION_H

#include <stdint.h>

#include "list.h"
#include "queue.h"

struct ipcqd_broker;

typedef struct ipcqd_session {
	uint32_t   pipe_id;
	int        pid; /* peer's pid over ipc://, else -1 */
	int        uid; /* peer's uid over ipc://, else -1 */
	ipcqd_list handles; /* ipcqd_handle.snode */
} ipcqd_session;

/* Register a session for a new pipe. 0 or IPCQ_ENOMEM. */
int ipcqd_session_add(struct ipcqd_broker *b, uint32_t pipe_id, int pid,
    int uid);

/* The pipe dropped: detach every handle (waiters get IPCQ_ECONNLOST) and
 * forget the session. Unknown pipes are ignored. */
void ipcqd_session_remove(struct ipcqd_broker *b, uint32_t pipe_id);

ipcqd_session *ipcqd_session_find(struct ipcqd_broker *b, uint32_t pipe_id);

/* New handle of s on q with the given roles and ack mode. */
int ipcqd_handle_new(struct ipcqd_broker *b, ipcqd_session *s,
    ipcqd_queue *q, int roles, int ack_mode, ipcqd_handle **hp);

/* The handle with this id if it belongs to the session of pipe_id. */
ipcqd_handle *ipcqd_handle_find(struct ipcqd_broker *b, uint32_t pipe_id,
    uint64_t id);

/* Detach (if still attached) and free. */
void ipcqd_handle_free(struct ipcqd_broker *b, ipcqd_handle *h,
    int cancel_status);

#endif
