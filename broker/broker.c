/*
 * The broker object: lifecycle, the broker lock with its completion
 * flush, the queue registry and pipe events.
 */
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nng/protocol/reqrep0/rep.h>

#include "ipcq.h"
#include "ipcqi_close.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "watchdog.h"

void
ipcqd_config_init(ipcqd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_frame     = IPCQI_DEFAULT_MAX_FRAME;
	cfg->recv_contexts = 8;
	cfg->max_parked    = 10000;
	cfg->max_parked_bytes = 256u * 1024 * 1024;
	/* Four maximal replies queued behind the one being written; a client
	 * that reads keeps far fewer (libipcq reads on its own thread). */
	cfg->max_unread_bytes   = 64u * 1024 * 1024;
	cfg->max_unread_replies = 1024;
	cfg->drain_ms           = 10000;
	cfg->socket_mode   = 0600;
	cfg->close_timeout_ms = 3000;
	cfg->probe_ms         = 1000;
	cfg->sync_mode        = IPCQI_SYNC_BATCH; /* like Redis everysec */
	cfg->sync_ms          = 1000;
}

int
ipcqd_broker_new(ipcqd_broker **bp, const ipcqd_config *cfg)
{
	ipcqd_broker   *b = calloc(1, sizeof(*b));
	struct timespec ts;

	if (b == NULL) {
		return IPCQ_ENOMEM;
	}
	b->cfg = *cfg;
	pthread_mutex_init(&b->mtx, NULL);
	ipcqd_list_init(&b->queues);
	ipcqd_list_init(&b->done);
	if (ipcqd_idmap_init(&b->handles) != 0 ||
	    ipcqd_idmap_init(&b->sessions) != 0) {
		ipcqd_broker_free(b);
		return IPCQ_ENOMEM;
	}
	/* Not a secret, only distinct per instance. */
	clock_gettime(CLOCK_REALTIME, &ts);
	b->epoch = ((uint64_t) (ts.tv_nsec ^ (getpid() << 12) ^ ts.tv_sec) &
	               0xffffffull) << 32 | (1ull << 60);
	*bp = b;
	return 0;
}

void
ipcqd_broker_lock(ipcqd_broker *b)
{
	pthread_mutex_lock(&b->mtx);
}

void
ipcqd_broker_unlock(ipcqd_broker *b)
{
	ipcqd_list *later = ipcqd_server_deferred();
	ipcqd_list  done;

	if (later != NULL) {
		/* Inside a request: its own reply goes first. */
		ipcqd_list_splice_back(later, &b->done);
		pthread_mutex_unlock(&b->mtx);
		return;
	}
	ipcqd_list_init(&done);
	ipcqd_list_splice_back(&done, &b->done);
	pthread_mutex_unlock(&b->mtx);
	ipcqd_server_flush(&done);
}

ipcqd_queue *
ipcqd_broker_find_queue(ipcqd_broker *b, const char *name)
{
	for (ipcqd_node *n = b->queues.next; n != &b->queues; n = n->next) {
		ipcqd_queue *q = IPCQD_CONTAINER(n, ipcqd_queue, node);
		if (strcmp(q->name, name) == 0) {
			return q;
		}
	}
	return NULL;
}

void
ipcqd_broker_insert_queue(ipcqd_broker *b, ipcqd_queue *q)
{
	ipcqd_list_push_back(&b->queues, &q->node);
	b->nqueues++;
}

int
ipcqd_broker_add_queue(ipcqd_broker *b, const char *name,
    const ipcqd_queue_opts *o, ipcqd_queue **qp)
{
	ipcqd_queue *q;
	ipcqi_seg    seg;
	char         shm_name[800];
	int          rv, fd = -1;

	if (b->segs.bell == NULL) {
		/* Not serving (a test's in-process broker): anonymous. */
		q = ipcqd_queue_new(name, o);
	} else {
		rv = ipcqd_segs_create(&b->segs, name, o, &seg, shm_name,
		    sizeof(shm_name), &fd);
		if (rv != 0) {
			return rv;
		}
		if ((q = ipcqd_queue_from_seg(&seg, shm_name)) == NULL) {
			ipcqi_seg_unmap(&seg);
			ipcqd_segs_unlink(shm_name);
			if (fd >= 0) {
				close(fd);
			}
		} else {
			q->bell = b->segs.bell;
			q->fd   = fd;
		}
	}
	if (q == NULL) {
		return IPCQ_ENOMEM;
	}
	ipcqd_broker_insert_queue(b, q);
	ipcqd_debug("queue %s created (%s)", name,
	    q->shm_name[0] != '\0' ? q->shm_name : "anonymous segment");
	*qp = q;
	return 0;
}

void
ipcqd_broker_delete_queue(ipcqd_broker *b, ipcqd_queue *q)
{
	ipcqd_node_remove(&q->node);
	b->nqueues--;
	ipcqd_segs_unlink(q->shm_name);
	ipcqd_queue_free(q);
}

/* Sessions follow pipes: ADD_PRE runs before the pipe can deliver a
 * request, and nng promises REM_POST for every pipe that saw ADD_PRE. */
static void
br_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	ipcqd_broker *b   = arg;
	uint32_t      id  = (uint32_t) nng_pipe_id(p);
	uint64_t      pid = UINT64_MAX, uid = UINT64_MAX;

	if (ev == NNG_PIPE_EV_ADD_PRE) {
		(void) nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid);
		(void) nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid);
		ipcqd_broker_lock(b);
		if (ipcqd_session_add(b, id, (int) pid, (int) uid) != 0) {
			ipcqd_broker_unlock(b);
			ipcqd_error("out of memory: refusing connection");
			nng_pipe_close(p);
			return;
		}
		ipcqd_broker_unlock(b);
		ipcqd_debug("pipe %u connected (pid %d uid %d)", id, (int) pid,
		    (int) uid);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		ipcqd_broker_lock(b);
		ipcqd_session_remove(b, id);
		if (b->srv != NULL) {
			ipcqd_server_pipe_gone(b->srv, id);
		}
		ipcqd_broker_unlock(b);
		ipcqd_debug("pipe %u disconnected", id);
	}
}

int
ipcqd_broker_listener_open(ipcqd_broker *b, const char *url, nng_listener *lp,
    char *err, size_t errlen)
{
	nng_listener l;
	int          rv;

	if ((rv = nng_listener_create(&l, b->sock, url)) != 0) {
		snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		return IPCQD_START_FAILED;
	}
	if (strncmp(url, "ipc://", 6) == 0) {
		nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS,
		    b->cfg.socket_mode);
	}
	nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, b->cfg.max_frame);
	if ((rv = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		nng_listener_close(l);
		return rv == NNG_EADDRINUSE ? IPCQD_START_ADDRINUSE
		                            : IPCQD_START_FAILED;
	}
	*lp = l;
	return 0;
}

static int
br_listen_one(ipcqd_broker *b, const char *url, char *err, size_t errlen)
{
	nng_listener l;
	int          rv;

	if ((rv = ipcqd_listen_prepare(url, err, errlen)) != 0) {
		return rv;
	}
	if ((rv = ipcqd_broker_listener_open(b, url, &l, err, errlen)) != 0) {
		return rv;
	}
	if (strncmp(url, "ipc://", 6) == 0) {
		b->ipc_paths[b->nlisteners] = strdup(url + 6);
	}
	b->listeners[b->nlisteners] = l;
	b->urls[b->nlisteners]      = strdup(url);
	b->nlisteners++;
	ipcqd_info("listening on %s", url);
	return 0;
}

/* Doorbell, adoption of a crashed instance's segments, waker. */
static int
br_segments_start(ipcqd_broker *b, char *err, size_t errlen)
{
	int n;

	if (ipcqd_segs_init(&b->segs, b->urls[0], b->cfg.state_dir,
	        b->cfg.sync_mode, b->cfg.sync_ms) != 0) {
		snprintf(err, errlen, "cannot create the doorbell segment in "
		                      "/dev/shm, or use the state directory");
		return IPCQD_START_FAILED;
	}
	ipcqd_broker_lock(b);
	n = ipcqd_segs_adopt(&b->segs, b);
	ipcqd_broker_unlock(b);
	if (n > 0) {
		ipcqd_info("adopted %d queue(s) left by an earlier instance", n);
	}
	if (ipcqd_segs_start_waker(&b->segs, b) != 0) {
		snprintf(err, errlen, "cannot start the waker thread");
		return IPCQD_START_FAILED;
	}
	return 0;
}

/* A clean stop leaves nothing in /dev/shm: the segment files go now
 * (mappings stay valid until the queues are freed). Durable queues'
 * files stay, synced. */
static void
br_segments_stop(ipcqd_broker *b)
{
	ipcqd_segs_fini(&b->segs); /* waker joined first: it takes the lock */
	ipcqd_broker_lock(b);
	for (ipcqd_node *n = b->queues.next; n != &b->queues; n = n->next) {
		ipcqd_queue *q = IPCQD_CONTAINER(n, ipcqd_queue, node);
		q->keep = true;
		if (q->opts.durable && q->fd >= 0) {
			(void) fdatasync(q->fd);
		} else {
			ipcqd_segs_unlink(q->shm_name);
		}
		q->shm_name[0] = '\0';
		q->bell        = NULL; /* unmapped by ipcqd_segs_fini */
	}
	ipcqd_broker_unlock(b);
}

int
ipcqd_broker_start(ipcqd_broker *b, char *err, size_t errlen)
{
	char def[600];
	int  rv;

	if ((rv = nng_rep0_open(&b->sock)) != 0) {
		snprintf(err, errlen, "cannot open socket: %s", nng_strerror(rv));
		return IPCQD_START_FAILED;
	}
	b->started = 1;
	nng_pipe_notify(b->sock, NNG_PIPE_EV_ADD_PRE, br_pipe_cb, b);
	nng_pipe_notify(b->sock, NNG_PIPE_EV_REM_POST, br_pipe_cb, b);
	nng_socket_set_size(b->sock, NNG_OPT_RECVMAXSZ, b->cfg.max_frame);
	if (b->cfg.nlisten == 0) {
		if (ipcqd_listen_default_url(def, sizeof(def)) != 0) {
			snprintf(err, errlen, "cannot prepare the default "
			                      "runtime directory");
			return IPCQD_START_FAILED;
		}
		if ((rv = br_listen_one(b, def, err, errlen)) != 0) {
			return rv;
		}
	}
	for (int i = 0; i < b->cfg.nlisten; i++) {
		if ((rv = br_listen_one(b, b->cfg.listen[i], err, errlen)) != 0) {
			return rv;
		}
	}
	/* Only now that the address is ours may we touch its segments: a
	 * second broker on a live address has failed above. */
	if ((rv = br_segments_start(b, err, errlen)) != 0) {
		return rv;
	}
	ipcqd_server *srv = NULL;
	rv = ipcqd_server_start(&srv, b);
	/* Under the lock: pipe events (REM_POST) read b->srv. */
	ipcqd_broker_lock(b);
	b->srv = srv;
	ipcqd_broker_unlock(b);
	if (rv != 0) {
		return rv;
	}
	if (b->cfg.probe_ms > 0 &&
	    ipcqd_watchdog_start(&b->watchdog, b, b->cfg.probe_ms) != 0) {
		ipcqd_warn("cannot start the listener watchdog");
	}
	return 0;
}

/* Remove our socket files; nng leaves them behind on close. */
static void
br_unlink_ipc(ipcqd_broker *b)
{
	struct stat st;

	for (int i = 0; i < b->nlisteners; i++) {
		const char *path = b->ipc_paths[i];
		if (path != NULL && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			unlink(path);
		}
	}
}

void
ipcqd_broker_stop(ipcqd_broker *b)
{
	ipcqd_node *n;

	if (!b->started) {
		return;
	}
	b->started = 0;
	/* First: the watchdog replaces listeners; nothing may race it. */
	ipcqd_watchdog_stop(b->watchdog);
	b->watchdog = NULL;
	if (b->srv != NULL) {
		ipcqd_server_quiesce(b->srv);
	}
	/* Nobody new can reach us once the files are gone. */
	br_unlink_ipc(b);
	br_segments_stop(b);
	/* Not under the broker lock: closing runs every pipe's REM_POST
	 * callback, which takes it; when close returns they are done. */
	if (!ipcqi_close_socket(b->sock, b->cfg.close_timeout_ms)) {
		ipcqd_warn("nng did not finish closing within %d ms "
		           "(nanomsg/nng#1543); leaving the rest to exit",
		    b->cfg.close_timeout_ms);
		b->leak = 1;
		return;
	}
	ipcqd_broker_lock(b);
	while ((n = ipcqd_list_first(&b->queues)) != NULL) {
		ipcqd_broker_delete_queue(b, IPCQD_CONTAINER(n, ipcqd_queue, node));
	}
	ipcqd_broker_unlock(b);
	ipcqd_server_free(b->srv);
	b->srv = NULL;
}

void
ipcqd_broker_free(ipcqd_broker *b)
{
	if (b == NULL) {
		return;
	}
	ipcqd_broker_stop(b);
	if (b->leak) {
		return; /* nng threads may still reach b; the process exits */
	}
	for (int i = 0; i < b->nlisteners; i++) {
		free(b->urls[i]);
		free(b->ipc_paths[i]);
	}
	if (b->handles.buckets != NULL) {
		ipcqd_idmap_fini(&b->handles);
	}
	if (b->sessions.buckets != NULL) {
		ipcqd_idmap_fini(&b->sessions);
	}
	pthread_mutex_destroy(&b->mtx);
	free(b);
}
