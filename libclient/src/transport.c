/*
 * The transport choice of a queue handle: shared memory or the socket,
 * and why a handle is not on shared memory (ipcq_queue_transport_reason,
 * ipcq_client_last_error).
 *
 * The shared-memory path is about two orders of magnitude faster than
 * the socket, so a silent fall-back is a performance bug its user cannot
 * see. Every reason is a static sentence, never a formatted buffer: it
 * can be handed to any thread and outlives the handle it was about.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipcqi_client.h"

static const char why_opt_socket[] =
    "the queue was opened with IPCQ_TRANSPORT_SOCKET";
static const char why_env_socket[] =
    "IPCQ_TRANSPORT=socket is set in the environment";
static const char why_not_ipc[] =
    "the broker URL is not ipc://: shared memory needs the broker on this "
    "host, reached over ipc://";
static const char why_reconnect[] =
    "the connection to the broker dropped: the next call re-opens the "
    "queue and maps its segment again";
static const char why_bad_env[] =
    "IPCQ_TRANSPORT must be auto, socket or shm";

/*
 * The effective transport of a new handle: an explicit opts->transport
 * wins; IPCQ_TRANSPORT_AUTO follows the environment variable
 * IPCQ_TRANSPORT (auto, socket or shm), so that a deployment or a test
 * run can force either path without a rebuild. IPCQ_EINVAL for an
 * unknown value: a typo must not silently pick a path.
 */
int
ipcqi_transport_choose(ipcq_client *c, int transport, int *out)
{
	const char *env = getenv("IPCQ_TRANSPORT");

	if (transport != IPCQ_TRANSPORT_AUTO || env == NULL || env[0] == '\0' ||
	    strcmp(env, "auto") == 0) {
		*out = transport;
	} else if (strcmp(env, "socket") == 0) {
		*out = IPCQ_TRANSPORT_SOCKET;
	} else if (strcmp(env, "shm") == 0) {
		*out = IPCQ_TRANSPORT_SHM;
	} else {
		ipcqi_client_set_error(c, why_bad_env);
		return IPCQ_EINVAL;
	}
	return 0;
}

const char *
ipcqi_shm_unwanted(const ipcq_queue *q)
{
	if (q->transport == IPCQ_TRANSPORT_SOCKET) {
		return q->opts.transport == IPCQ_TRANSPORT_SOCKET
		    ? why_opt_socket
		    : why_env_socket;
	}
	/* A segment name means something only on the broker's host, and
	 * over tcp:// we cannot know that we share it. */
	if (strncmp(q->c->opts.url, "ipc://", 6) != 0) {
		return why_not_ipc;
	}
	return NULL;
}

const char *
ipcqi_why_open_errno(int err)
{
	switch (err) {
	case ENOENT:
		return "the queue's segment does not exist here: the broker "
		       "runs on another host or in another IPC namespace";
	case EACCES:
	case EPERM:
		return "permission denied on the queue's segment: the broker "
		       "runs as another user";
	case EMFILE:
	case ENFILE:
		return "this process is out of file descriptors";
	case ENOMEM:
		return "out of memory while mapping the queue's segment";
	default:
		return "the queue's segment could not be opened";
	}
}

void
ipcqi_client_set_error(ipcq_client *c, const char *why)
{
	__atomic_store_n(&c->last_error, why, __ATOMIC_RELEASE);
}

const char *
ipcq_client_last_error(const ipcq_client *c)
{
	return c != NULL ? __atomic_load_n(&c->last_error, __ATOMIC_ACQUIRE)
	                 : NULL;
}

const char *
ipcq_queue_transport_reason(ipcq_queue *q)
{
	const char *why;

	if (q == NULL || ipcqi_shm_current(q) != NULL) {
		return NULL;
	}
	why = __atomic_load_n(&q->why_socket, __ATOMIC_ACQUIRE);
	/* It was on shared memory: its connection dropped since. */
	return why != NULL ? why : why_reconnect;
}
