/*
 * The broker object: lifecycle, the broker lock with its completion
 * flush, the queue registry and pipe events.
 */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nng/protocol/reqrep0/rep.h>

#include "ipcq.h"
#include "ipcqi_close.h"
#include "ipcqi_sigbus.h"
#include "log.h"
#include "queue_int.h"
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
	cfg->socket_gid    = -1;
	cfg->close_timeout_ms = 3000;
	cfg->probe_ms         = 1000;
	cfg->sync_mode        = IPCQI_SYNC_BATCH; /* like Redis everysec */
	cfg->sync_ms          = 1000;
	cfg->max_queues       = IPCQI_SIGBUS_SLOTS;
	cfg->max_memory       = ipcqd_default_max_memory();
}

uint64_t
ipcqd_default_max_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);

	/* Half of RAM, as tmpfs sizes /dev/shm by default: segments are
	 * memory the kernel cannot reclaim (no swap) while queues live. */
	if (pages <= 0 || psize <= 0) {
		return 1ull << 32;
	}
	return (uint64_t) pages * (uint64_t) psize / 2;
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
	for (int i = 0; i < IPCQD_MAX_LISTEN; i++) {
		b->lock_fds[i] = -1;
	}
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
	b->seg_bytes += q->seg.seg_bytes;
}

/* Whether the broker's limits admit one more queue of these options:
 * 0, or IPCQ_ELIMIT with the limit named in why. */
static int
br_admit_queue(ipcqd_broker *b, const char *name, const ipcqd_queue_opts *o,
    char *why, size_t whylen)
{
	ipcqi_seg_params p;
	uint64_t         need;

	if (b->nqueues >= b->cfg.max_queues) {
		snprintf(why, whylen, "the broker holds its limit of %u "
		    "queues (ipcqd --max-queues)", (unsigned) b->cfg.max_queues);
		return IPCQ_ELIMIT;
	}
	ipcqd_queue_seg_params(&p, name, o);
	need = IPCQI_SEG_HDR_BYTES + ipcqi_seg_ring_bytes(&p);
	if (b->seg_bytes + need > b->cfg.max_memory) {
		snprintf(why, whylen, "the queue's segment of %llu bytes "
		    "would take the broker's segments past their bound of "
		    "%llu bytes (%llu committed; ipcqd --max-memory)",
		    (unsigned long long) need,
		    (unsigned long long) b->cfg.max_memory,
		    (unsigned long long) b->seg_bytes);
		return IPCQ_ELIMIT;
	}
	return 0;
}

static void
br_create_failed(char *why, size_t whylen, const char *name, int rv)
{
	switch (rv) {
	case IPCQ_ENOSPC:
		snprintf(why, whylen, "no space to back the queue's segment "
		    "(the file system of /dev/shm or of the state directory "
		    "is full)");
		break;
	case IPCQ_EMFILE:
		snprintf(why, whylen, "the broker is out of file descriptors "
		    "(RLIMIT_NOFILE)");
		break;
	default:
		snprintf(why, whylen, "cannot create queue %s: %s", name,
		    ipcq_strerror(rv));
		break;
	}
}

int
ipcqd_broker_add_queue(ipcqd_broker *b, const char *name,
    const ipcqd_queue_opts *o, ipcqd_queue **qp, char *why, size_t whylen)
{
	ipcqd_queue *q;
	ipcqi_seg    seg;
	char         shm_name[800];
	int          rv, fd = -1;

	if ((rv = br_admit_queue(b, name, o, why, whylen)) != 0) {
		return rv;
	}
	if (b->segs.bell == NULL) {
		/* Not serving (a test's in-process broker): anonymous. */
		q = ipcqd_queue_new(name, o);
	} else {
		rv = ipcqd_segs_create(&b->segs, name, o, &seg, shm_name,
		    sizeof(shm_name), &fd);
		if (rv != 0) {
			br_create_failed(why, whylen, name, rv);
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
		br_create_failed(why, whylen, name, IPCQ_ENOMEM);
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
	b->seg_bytes -= q->seg.seg_bytes;
	ipcqd_segs_unlink(q->shm_name);
	ipcqd_queue_free(q);
}

uint32_t
ipcqd_broker_accepted(ipcqd_broker *b, nng_listener l)
{
	int id = nng_listener_id(l);

	return id > 0 ? __atomic_load_n(&b->accepted[(uint32_t) id % 64],
	                    __ATOMIC_RELAXED)
	              : 0;
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
		int lid = nng_listener_id(nng_pipe_listener(p));
		if (lid > 0) { /* before the lock: see ipcqd_broker_accepted */
			__atomic_fetch_add(&b->accepted[(uint32_t) lid % 64], 1,
			    __ATOMIC_RELAXED);
		}
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

/* The group the broker's files are shared with: --socket-group, else
 * our own when --socket-mode admits a group, else none (-1). One rule
 * for the runtime directory, the socket files and the segments, so that
 * a client the socket admits can also reach and map the rest. */
static int
br_share_gid(const ipcqd_broker *b)
{
	if (b->cfg.socket_gid >= 0) {
		return b->cfg.socket_gid;
	}
	return (b->cfg.socket_mode & 0060) != 0 ? (int) getegid() : -1;
}

int
ipcqd_broker_listener_open(ipcqd_broker *b, const char *url, nng_listener *lp,
    char *err, size_t errlen)
{
	nng_listener l;
	int          rv, gid;

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
	/* nng sets the mode; the group is ours to set (until then the file
	 * has our own group: fewer rights, never more). */
	if (strncmp(url, "ipc://", 6) == 0 && (gid = br_share_gid(b)) >= 0 &&
	    chown(url + 6, (uid_t) -1, (gid_t) gid) != 0) {
		snprintf(err, errlen, "cannot give %s to group %d: %s", url + 6,
		    gid, strerror(errno));
		nng_listener_close(l);
		return IPCQD_START_FAILED;
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

	/* Segments are shared with the group the socket admits, so that
	 * its clients take the shared-memory path too. */
	if (ipcqd_segs_init(&b->segs, b->urls[0], b->cfg.state_dir,
	        b->cfg.sync_mode, b->cfg.sync_ms, br_share_gid(b)) != 0) {
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

/* Whether a clean stop keeps q's segment for the next start on this
 * address (docs/broker.md, "Shutdown"): a durable file always; a
 * /dev/shm queue while it holds messages or leases, as a crash would
 * have kept it, unless --discard-on-exit. Decided under the segment
 * lock, and a queue that goes is marked STOPPED there: a shared-memory
 * client's send racing the stop either lands in a kept queue or fails
 * with IPCQ_ECONNLOST (the broker is going), never vanishes. A lock we
 * cannot have (a stopped client holds it, or the segment is corrupt)
 * means we cannot look: keep it. */
static bool
br_keep_on_stop(const ipcqd_broker *b, ipcqd_queue *q)
{
	ipcqi_seg_hdr *h = q->seg.hdr;
	bool           keep;

	if (q->opts.durable) {
		return true;
	}
	if (ipcqd_qu_lock(q) != 0) {
		return !b->cfg.discard_on_exit;
	}
	keep = !b->cfg.discard_on_exit && h->ready + h->leased > 0;
	if (!keep) {
		h->qstate |= IPCQI_QS_STOPPED;
		ipcqi_seg_wake_data(&q->seg, 0);
		ipcqi_seg_wake_space(&q->seg, 0);
	}
	ipcqi_seg_unlock(&q->seg);
	return keep;
}

/* Empty queues' segments go now (mappings stay valid until the queues
 * are freed); kept ones stay as they are, for adoption. */
static void
br_segments_stop(ipcqd_broker *b)
{
	int kept = 0;

	ipcqd_segs_fini(&b->segs); /* waker joined first: it takes the lock */
	ipcqd_broker_lock(b);
	for (ipcqd_node *n = b->queues.next; n != &b->queues; n = n->next) {
		ipcqd_queue *q = IPCQD_CONTAINER(n, ipcqd_queue, node);
		q->bell        = NULL; /* unmapped by ipcqd_segs_fini */
		q->keep        = br_keep_on_stop(b, q);
		if (q->keep) {
			kept++;
			/* Under the lock, but nothing else runs any more: the
			 * server is quiesced and the waker joined. */
			if (q->fd >= 0 && fdatasync(q->fd) != 0) {
				ipcqd_error("queue %s: disk sync at stop failed: "
				            "%s", q->name, strerror(errno));
			}
		} else {
			ipcqd_segs_unlink(q->shm_name);
		}
		q->shm_name[0] = '\0';
	}
	ipcqd_broker_unlock(b);
	if (kept > 0) {
		ipcqd_info("kept %d queue(s) holding messages or durable for "
		           "the next start", kept);
	}
}

/* Lock every ipc:// address before anything else: the loser of two
 * brokers started at once stops here, having probed, bound and touched
 * nothing (listen.c). */
static int
br_lock_all(ipcqd_broker *b, const char *const *urls, int n, char *err,
    size_t errlen)
{
	for (int i = 0; i < n; i++) {
		int rv = ipcqd_listen_lock(urls[i], &b->lock_fds[i],
		    &b->lock_paths[i], err, errlen);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

static void
br_unlock_all(ipcqd_broker *b)
{
	for (int i = 0; i < IPCQD_MAX_LISTEN; i++) {
		ipcqd_listen_unlock(b->lock_fds[i], b->lock_paths[i]);
		b->lock_fds[i] = -1;
		free(b->lock_paths[i]);
		b->lock_paths[i] = NULL;
	}
}

int
ipcqd_broker_start(ipcqd_broker *b, char *err, size_t errlen)
{
	char        def[600];
	const char *urls[IPCQD_MAX_LISTEN];
	int         n = 0, rv;

	if ((rv = nng_rep0_open(&b->sock)) != 0) {
		snprintf(err, errlen, "cannot open socket: %s", nng_strerror(rv));
		return IPCQD_START_FAILED;
	}
	b->started = 1;
	nng_pipe_notify(b->sock, NNG_PIPE_EV_ADD_PRE, br_pipe_cb, b);
	nng_pipe_notify(b->sock, NNG_PIPE_EV_REM_POST, br_pipe_cb, b);
	nng_socket_set_size(b->sock, NNG_OPT_RECVMAXSZ, b->cfg.max_frame);
	if (b->cfg.nlisten == 0) {
		if (ipcqd_listen_default_url(def, sizeof(def),
		        br_share_gid(b), b->cfg.socket_mode) != 0) {
			snprintf(err, errlen, "cannot prepare the default "
			                      "runtime directory");
			return IPCQD_START_FAILED;
		}
		urls[n++] = def;
	}
	for (int i = 0; i < b->cfg.nlisten; i++) {
		urls[n++] = b->cfg.listen[i];
	}
	if ((rv = br_lock_all(b, urls, n, err, errlen)) != 0) {
		return rv;
	}
	for (int i = 0; i < n; i++) {
		if ((rv = br_listen_one(b, urls[i], err, errlen)) != 0) {
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
		br_unlock_all(b);
		return;
	}
	/* Last of the files: a broker waiting for the address may now
	 * adopt what we left (durable files), and nothing of ours moves. */
	br_unlock_all(b);
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
