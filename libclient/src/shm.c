/*
 * The shared-memory fast path: send, recv, ack and nack straight on the
 * queue's segment, with the same rules as the broker (proto/ipcqi_seg*.c
 * is the one implementation of them both paths use), futex sleeps for
 * blocking calls, and the broker's doorbell rung when it has parked
 * socket requests on the queue.
 *
 * The broker stays the authority for everything else: the handle (our
 * holder id in the segment) is opened, ended and detached over the
 * socket, and the socket connection is how the broker learns that we
 * died (it then returns our leases and discards our unfinished writes).
 * If that connection drops, sleepers are woken (ipcqi_shm_kick_all) and
 * return IPCQ_ECONNLOST; the next call re-opens and re-maps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcqi_client.h"
#include "ipcqi_crash.h"


/* Messages admitted per segment lock: bounds how long a big batch holds
 * the lock against other processes. */
#define SHM_CHUNK 64
/* ... and payload bytes copied per lock hold: a batch of 4 KiB messages
 * copied under one hold would make producer and consumer take turns;
 * short holds let them overlap. */
#define SHM_CHUNK_BYTES (16u * 1024)

/* From this size on, a message is copied outside the segment lock: the
 * record is reserved (WRITING) or leased to us while we copy, so nobody
 * else touches it, and a producer and a consumer copy at once instead
 * of taking turns under the lock. Below it, one lock round per batch is
 * cheaper than two. */
#define SHM_BIG (32u * 1024)

static ipcqi_bell *
shm_map_bell(const char *name)
{
	int         fd = shm_open(name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	struct stat st;
	void       *p;

	if (fd < 0) {
		return NULL;
	}
	if (fstat(fd, &st) != 0 || st.st_size < (off_t) sizeof(ipcqi_bell)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(ipcqi_bell), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		return NULL;
	}
	if (__atomic_load_n(&((ipcqi_bell *) p)->magic, __ATOMIC_ACQUIRE) !=
	    IPCQI_BELL_MAGIC) {
		munmap(p, sizeof(ipcqi_bell));
		return NULL;
	}
	return p;
}

static void
shm_unmap(ipcqi_shm *m)
{
	ipcqi_seg_unmap(&m->seg);
	if (m->bell != NULL) {
		munmap(m->bell, sizeof(ipcqi_bell));
	}
	free(m);
}

const char *
ipcqi_shm_attach(ipcq_queue *q, const Ipcq__V1__ShmInfo *info)
{
	ipcqi_shm *m;
	int        fd;

	/* Whatever happens, the old mapping no longer is the handle's. */
	__atomic_store_n(&q->shm, NULL, __ATOMIC_RELEASE);
	if (info == NULL) {
		return "the broker offered no shared-memory segment for this "
		       "queue";
	}
	if (info->segment == NULL || info->bell == NULL ||
	    info->segment[0] != '/') {
		return "the broker's shared-memory offer names no segment";
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		return ipcqi_why_open_errno(ENOMEM);
	}
	/* A durable queue's segment is a file (a path), others a POSIX
	 * shm object ("/name"). */
	fd = strchr(info->segment + 1, '/') != NULL
	    ? open(info->segment, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
	    : shm_open(info->segment, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		free(m); /* another host or user: the socket path it is */
		return ipcqi_why_open_errno(errno);
	}
	if (ipcqi_seg_map(&m->seg, fd, q->name) != 0 ||
	    m->seg.seg_bytes != info->seg_bytes) {
		close(fd);
		shm_unmap(m);
		return "the queue's segment could not be mapped or failed its "
		       "checks (magic, layout version, size)";
	}
	close(fd);
	if ((m->bell = shm_map_bell(info->bell)) == NULL) {
		shm_unmap(m);
		return "the broker's doorbell could not be mapped";
	}
	m->holder   = q->handle;
	m->pipe     = q->pipe;
	m->epoch    = q->epoch;
	m->producer = (q->opts.roles & IPCQ_ROLE_PRODUCER) != 0;
	m->consumer = (q->opts.roles & IPCQ_ROLE_CONSUMER) != 0;
	m->older    = q->shm_all;
	q->shm_all  = m;
	/* Release: a thread that loads q->shm sees the mapping whole. */
	__atomic_store_n(&q->shm, m, __ATOMIC_RELEASE);
	return NULL;
}

ipcqi_shm *
ipcqi_shm_current(ipcq_queue *q)
{
	ipcqi_shm *m = __atomic_load_n(&q->shm, __ATOMIC_ACQUIRE);

	if (m == NULL || __atomic_load_n(&q->stale, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&q->c->pipe, __ATOMIC_SEQ_CST) != m->pipe) {
		return NULL;
	}
	return m;
}

int
ipcqi_shm_pick(ipcq_queue *q, int64_t deadline, ipcqi_shm **mp)
{
	ipcqi_hsnap h;
	int         rv;

	*mp = ipcqi_shm_current(q);
	/* Only a queue that was on shared memory pays for the re-open
	 * here (the socket path does its own); a failure to reconnect is
	 * the call's answer, not a reason to try the socket again. */
	if (*mp == NULL &&
	    __atomic_load_n(&q->shm_all, __ATOMIC_ACQUIRE) != NULL) {
		if ((rv = ipcqi_queue_handle(q, deadline, &h)) != 0) {
			return rv;
		}
		*mp = ipcqi_shm_current(q);
	}
	/* Required: never fall back, say so (ipcq_queue_transport_reason
	 * says why the re-open could not map the segment). */
	if (*mp == NULL && q->transport == IPCQ_TRANSPORT_SHM) {
		return IPCQ_ENOSHM;
	}
	return 0;
}

void
ipcqi_shm_kick_all(ipcq_client *c)
{
	for (ipcq_queue *q = c->queues; q != NULL; q = q->next) {
		ipcqi_shm *m = __atomic_load_n(&q->shm, __ATOMIC_ACQUIRE);
		if (m != NULL) {
			/* A changed word makes a sleeper about to sleep
			 * return at once; the wake gets the others. */
			__atomic_fetch_add(&m->seg.hdr->data_seq, 1,
			    __ATOMIC_SEQ_CST);
			__atomic_fetch_add(&m->seg.hdr->space_seq, 1,
			    __ATOMIC_SEQ_CST);
			ipcqi_futex_wake(&m->seg.hdr->data_seq, INT32_MAX);
			ipcqi_futex_wake(&m->seg.hdr->space_seq, INT32_MAX);
		}
	}
}

void
ipcqi_shm_fini(ipcq_queue *q)
{
	ipcqi_shm *m = q->shm_all;

	q->shm     = NULL;
	q->shm_all = NULL;
	while (m != NULL) {
		ipcqi_shm *older = m->older;
		shm_unmap(m);
		m = older;
	}
}

/* Lock the segment, or say why not. */
int
ipcqi_shm_lock(ipcqi_shm *m)
{
	int      rv = ipcqi_seg_lock(&m->seg);
	uint32_t qs = rv == 0 ? m->seg.hdr->qstate : 0;

	if (qs & (IPCQI_QS_STOPPED | IPCQI_QS_DELETED)) {
		ipcqi_seg_unlock(&m->seg);
		/* A stopping broker removes its empty queues: the broker is
		 * going, not the queue; the caller's next call reconnects
		 * (the restarted broker creates the queue again). Checked
		 * first: the broker marks the segment deleted as well when
		 * it frees the queue. */
		return (qs & IPCQI_QS_STOPPED) ? IPCQ_ECONNLOST : IPCQ_EDELETED;
	}
	return rv;
}

/*
 * Watch seq for up to spin_us (lock held on entry; held again on a false
 * return, released on a true one). The sleepers flag is not set while
 * spinning, so a waker spends no system call on a spinner; if nothing
 * changed, the caller goes on to the sleep protocol under the lock it
 * holds again, so no change can slip between spinning and sleeping.
 */
static bool
shm_spin(ipcqi_shm *m, uint32_t *seq, uint32_t spin_us)
{
	uint32_t        seen = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
	struct timespec t0, t;

	ipcqi_seg_unlock(&m->seg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 1;; i++) {
		if (__atomic_load_n(seq, __ATOMIC_ACQUIRE) != seen) {
			return true;
		}
		IPCQI_CPU_RELAX();
		if ((i & 63) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000 +
			        (t.tv_nsec - t0.tv_nsec) / 1000 >=
			    (long) spin_us) {
				break;
			}
		}
	}
	if (ipcqi_seg_lock(&m->seg) != 0) {
		return true; /* the caller's next lock reports it */
	}
	/* A change between the last look and the lock rang no futex (no
	 * sleeper was flagged): the caller must look again, not sleep. */
	if (__atomic_load_n(seq, __ATOMIC_ACQUIRE) != seen) {
		ipcqi_seg_unlock(&m->seg);
		return true;
	}
	return false;
}

/*
 * Sleep on a segment word (lock held on entry, released here) until it
 * changes or the deadline passes. IPCQ_ECONNLOST if the connection that
 * owns the handle dropped meanwhile.
 */
int
ipcqi_shm_sleep(ipcq_queue *q, ipcqi_shm *m, uint32_t kind,
    int64_t deadline)
{
	ipcqi_seg_hdr *h        = m->seg.hdr;
	uint32_t      *seq      = kind == IPCQI_SLEEP_RECV ? &h->data_seq
	                                                   : &h->space_seq;
	uint32_t      *sleepers = kind == IPCQI_SLEEP_RECV ? &h->data_sleepers
	                                                   : &h->space_sleepers;
	uint32_t       seen;
	int            rv = 0;

	if (ipcqi_now_ms() >= deadline) {
		ipcqi_seg_unlock(&m->seg);
		return IPCQ_ETIMEDOUT;
	}
	if (q->opts.spin_us > 0 && shm_spin(m, seq, q->opts.spin_us)) {
		return 0; /* it changed while we watched: look again */
	}
	*sleepers = 1;
	seen      = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
	/* Counted for the broker's stats (and its parked-peer tests). */
	ipcqi_seg_sleeper(&m->seg, m->holder, kind, +1);
	ipcqi_seg_unlock(&m->seg);
	/* After reading seq: a drop kicked after this check changes seq,
	 * so the sleep below returns at once. */
	if (ipcqi_shm_current(q) != m) {
		rv = IPCQ_ECONNLOST;
	} else {
		(void) ipcqi_futex_wait(seq, seen, deadline);
		if (ipcqi_shm_current(q) != m) {
			rv = IPCQ_ECONNLOST;
		}
	}
	if (ipcqi_seg_lock(&m->seg) == 0) {
		ipcqi_seg_sleeper(&m->seg, m->holder, kind, -1);
		ipcqi_seg_unlock(&m->seg);
	}
	return rv;
}

/* Tell the broker once, with req, that this handle plays a role the
 * fast path hides from it; *done records that it did. Statuses in ok
 * (besides 0) also mean the broker counted us. */
static int
shm_register(ipcq_queue *q, Ipcq__V1__Request *req, int *done,
    const int *ok, int64_t deadline)
{
	Ipcq__V1__Reply *rep;
	int              rv;

	if (__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		return 0;
	}
	rv = ipcqi_call(q->c, req, deadline, IPCQ__V1__REPLY__BODY__NOT_SET,
	    &rep, NULL);
	ipcqi_reply_free(rep);
	for (; rv != 0 && *ok != 0; ok++) {
		if (rv == *ok) {
			rv = 0;
		}
	}
	if (rv == 0) {
		__atomic_store_n(done, 1, __ATOMIC_RELEASE);
	}
	return rv == IPCQ_EBADHANDLE ? IPCQ_ECONNLOST : rv;
}

/* The broker counts producers for end of stream: a handle opened without
 * the producer role becomes one at its first send, which on this path
 * the broker does not see. Tell it with an empty send. */
int
ipcqi_shm_as_producer(ipcq_queue *q, ipcqi_shm *m, int64_t deadline)
{
	static const int      ok[] = { 0 };
	Ipcq__V1__Request     req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__SendRequest s    = IPCQ__V1__SEND_REQUEST__INIT;

	s.handle      = m->holder;
	req.body_case = IPCQ__V1__REQUEST__BODY_SEND;
	req.send      = &s;
	return shm_register(q, &req, &m->producer, ok, deadline);
}

/* Likewise for consumers (stats): a wait that does not wait, whatever
 * it finds. */
int
ipcqi_shm_as_consumer(ipcq_queue *q, ipcqi_shm *m, int64_t deadline)
{
	static const int      ok[] = { IPCQ_ETIMEDOUT, IPCQ_EOF, IPCQ_EABANDONED,
		     0 };
	Ipcq__V1__Request     req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__WaitRequest w   = IPCQ__V1__WAIT_REQUEST__INIT;

	w.handle      = m->holder;
	w.timeout_ms  = 0;
	req.body_case = IPCQ__V1__REQUEST__BODY_WAIT;
	req.wait      = &w;
	return shm_register(q, &req, &m->consumer, ok, deadline);
}

static int
shm_check_batch(const ipcqi_shm *m, const ipcq_iov *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].data == NULL && msgs[i].len != 0) {
			return IPCQ_EINVAL;
		}
		if (msgs[i].len > m->seg.max_message_bytes) {
			return IPCQ_EMSGSIZE; /* nothing of the batch goes in */
		}
	}
	return 0;
}

/* A big message: reserved under the lock, copied outside it, then
 * published (the zero-copy loan, with the copy done for the caller). */
static int
shm_send_big(ipcq_queue *q, ipcqi_shm *m, const ipcq_iov *msg,
    int64_t deadline)
{
	ipcq_msg *loan;
	int       rv = ipcqi_shm_loan(&loan, q, m, msg->len, deadline);

	if (rv != 0) {
		return rv;
	}
	memcpy(ipcq_msg_buffer(loan), msg->data, msg->len);
	return ipcq_queue_send_loan(q, loan, 0);
}

/* The body of ipcqi_shm_send: *total counts what went in. */
static int
shm_send_chunks(ipcq_queue *q, ipcqi_shm *m, const ipcq_iov *msgs, size_t n,
    size_t *sent, int64_t deadline, size_t *totalp)
{
	ipcqi_seg_payload p[SHM_CHUNK];
	size_t            total = 0;
	int               rv    = 0;

	while (total < n) {
		size_t k = 0, acc = 0;

		if (msgs[total].len >= SHM_BIG) {
			rv = shm_send_big(q, m, &msgs[total], deadline);
			if (rv == 0 || rv == IPCQ_EIO) { /* EIO: sent, not synced */
				total++;
				if (sent != NULL) {
					*sent = total;
				}
			}
			if (rv != 0) {
				break;
			}
			continue;
		}
		/* A chunk of the small messages that come next, in order
		 * (at least one, at most SHM_CHUNK_BYTES of them after it). */
		size_t bytes = 0;
		while (k < SHM_CHUNK && total + k < n &&
		    msgs[total + k].len < SHM_BIG &&
		    (k == 0 || bytes + msgs[total + k].len <= SHM_CHUNK_BYTES)) {
			p[k].data = msgs[total + k].data;
			p[k].len  = msgs[total + k].len;
			bytes += p[k].len;
			k++;
		}
		if ((rv = ipcqi_shm_lock(m)) != 0) {
			break;
		}
		rv = ipcqi_seg_admit(&m->seg, p, k, &acc);
		if (acc > 0) {
			IPCQI_CRASH_POINT("send.locked");
			ipcqi_seg_wake_data(&m->seg, (int) acc);
			ipcqi_seg_ring_broker(&m->seg, m->bell, IPCQI_WATCH_DATA);
		}
		total += acc;
		if (sent != NULL) {
			*sent = total;
		}
		if (rv == IPCQI_WOULD_BLOCK) {
			rv = ipcqi_shm_sleep(q, m, IPCQI_SLEEP_SEND, deadline);
			if (rv != 0) {
				break;
			}
			continue;
		}
		ipcqi_seg_unlock(&m->seg);
		if (rv != 0) {
			break;
		}
	}
	*totalp = total;
	return rv;
}

int
ipcqi_shm_send(ipcq_queue *q, ipcqi_shm *m, const ipcq_iov *msgs, size_t n,
    size_t *sent, int64_t deadline)
{
	size_t total = 0;
	int    rv;

	if ((rv = shm_check_batch(m, msgs, n)) != 0) {
		return rv;
	}
	if (__atomic_load_n(&m->ended, __ATOMIC_ACQUIRE)) {
		return IPCQ_ECLOSED; /* this producer ended its stream */
	}
	if ((rv = ipcqi_shm_as_producer(q, m, deadline)) != 0) {
		return rv;
	}
	rv = shm_send_chunks(q, m, msgs, n, sent, deadline, &total);
	/* Durable under --sync always: on disk before we return, synced
	 * once for the whole call and outside the lock. A failed sync is
	 * reported over any other error: what was sent stays queued (and
	 * *sent counts it) but is not known to be on disk. */
	if (total > 0 && ipcqi_seg_sync(&m->seg) != 0) {
		rv = IPCQ_EIO;
	}
	return rv;
}

/* One received record as a message the caller owns (lock held). */
static ipcq_msg *
shm_msg(ipcq_queue *q, ipcqi_shm *m, const ipcqi_seg_ref *r, int explicit)
{
	ipcq_msg *msg = malloc(sizeof(*msg) + r->len);

	if (msg == NULL) {
		return NULL;
	}
	msg->q              = q;
	msg->kind           = IPCQI_MSG_COPY;
	msg->verdict        = 0;
	msg->ext            = NULL;
	msg->shm            = explicit ? m : NULL;
	msg->pos            = r->pos;
	msg->epoch          = m->epoch;
	msg->lease          = r->lease;
	msg->delivery_count = r->deliveries;
	msg->redelivered    = r->deliveries > 1;
	msg->len            = r->len;
	memcpy(msg->data, r->data, r->len);
	return msg;
}

/* Take up to max ready records under SHM_BIG (lock held); the count.
 * *big: nothing taken because the oldest ready one is SHM_BIG or more
 * (shm_take_big's). */
static size_t
shm_take(ipcq_queue *q, ipcqi_shm *m, ipcq_msg **msgs, size_t max, bool *big)
{
	int    explicit = q->opts.ack_mode == IPCQ_ACK_EXPLICIT;
	size_t k        = 0, bytes = 0;

	*big = false;
	/* At least one, then up to SHM_CHUNK_BYTES per lock hold. */
	while (k < max && (k == 0 || bytes < SHM_CHUNK_BYTES)) {
		uint32_t      room = k == 0 ? SHM_BIG - 1
		                            : (uint32_t) (SHM_CHUNK_BYTES - bytes);
		ipcqi_seg_ref r;
		ipcq_msg     *msg;
		int           rv = ipcqi_seg_take_upto(&m->seg, m->holder, room, &r);

		if (rv != 0) {
			*big = k == 0 && rv == IPCQ_EMSGSIZE;
			break;
		}
		IPCQI_CRASH_POINT("recv.locked");
		if ((msg = shm_msg(q, m, &r, explicit)) == NULL) {
			ipcqi_seg_finish(&m->seg, r.pos, r.lease, m->holder, true);
			break;
		}
		if (explicit) {
			__atomic_fetch_add(&m->own_leases, 1, __ATOMIC_RELAXED);
		} else {
			ipcqi_seg_finish(&m->seg, r.pos, r.lease, m->holder, false);
		}
		bytes += r.len;
		msgs[k++] = msg;
	}
	if (k > 0 && !explicit) {
		/* Auto-acked: space for producers; and a drained queue may
		 * now answer EOF to the broker's parked receivers. */
		ipcqi_seg_wake_space(&m->seg, (int) k);
		ipcqi_seg_ring_broker(&m->seg, m->bell,
		    IPCQI_WATCH_SPACE | IPCQI_WATCH_DATA);
	}
	return k;
}

/* A big message, alone: leased under the lock, copied outside it, then
 * (auto-ack) acked under it again. Lock held on entry, not on return. */
static int
shm_take_big(ipcq_queue *q, ipcqi_shm *m, ipcq_msg **out)
{
	int           explicit = q->opts.ack_mode == IPCQ_ACK_EXPLICIT;
	ipcqi_seg_ref r;
	ipcq_msg     *msg;
	int           rv;

	if ((rv = ipcqi_seg_take(&m->seg, m->holder, &r)) != 0) {
		ipcqi_seg_unlock(&m->seg);
		return rv == IPCQ_ETIMEDOUT ? IPCQ_ECORRUPT : rv;
	}
	IPCQI_CRASH_POINT("recv.locked");
	__atomic_fetch_add(&m->own_leases, 1, __ATOMIC_RELAXED);
	ipcqi_seg_unlock(&m->seg);
	msg = shm_msg(q, m, &r, explicit); /* the record is ours meanwhile */
	if (msg != NULL && explicit) {
		*out = msg;
		return 0;
	}
	if ((rv = ipcqi_shm_lock(m)) != 0) {
		free(msg);
		return rv;
	}
	/* Auto-ack: done; no memory for it: back for someone else. */
	ipcqi_seg_finish(&m->seg, r.pos, r.lease, m->holder, msg == NULL);
	__atomic_fetch_sub(&m->own_leases, 1, __ATOMIC_RELAXED);
	ipcqi_seg_wake_space(&m->seg, 1);
	ipcqi_seg_wake_data(&m->seg, 1);
	ipcqi_seg_ring_broker(&m->seg, m->bell,
	    IPCQI_WATCH_SPACE | IPCQI_WATCH_DATA);
	ipcqi_seg_unlock(&m->seg);
	if (msg == NULL) {
		return IPCQ_ENOMEM;
	}
	*out = msg;
	return 0;
}

int
ipcqi_shm_recv(ipcq_queue *q, ipcqi_shm *m, ipcq_msg **msgs, size_t max,
    size_t *n, int64_t deadline)
{
	bool big;
	int  rv;

	if ((rv = ipcqi_shm_as_consumer(q, m, deadline)) != 0) {
		return rv;
	}
	for (;;) {
		size_t k;

		if ((rv = ipcqi_shm_lock(m)) != 0) {
			return rv;
		}
		if ((k = shm_take(q, m, msgs, max, &big)) > 0) {
			ipcqi_seg_unlock(&m->seg);
			*n = k;
			return 0;
		}
		if (big) {
			if ((rv = shm_take_big(q, m, msgs)) == 0) {
				*n = 1;
			}
			return rv;
		}
		if (ipcqi_seg_corrupt(&m->seg)) {
			ipcqi_seg_unlock(&m->seg);
			return IPCQ_ECORRUPT;
		}
		rv = ipcqi_seg_empty_status(&m->seg,
		    __atomic_load_n(&m->own_leases, __ATOMIC_RELAXED));
		if (rv != IPCQI_WOULD_BLOCK) {
			ipcqi_seg_unlock(&m->seg);
			return rv;
		}
		rv = ipcqi_shm_sleep(q, m, IPCQI_SLEEP_RECV, deadline);
		if (rv != 0) {
			return rv;
		}
	}
}

int
ipcqi_shm_finish(ipcq_queue *q, const ipcq_msg *const *msgs, size_t n,
    int requeue)
{
	ipcqi_shm *m  = ipcqi_shm_current(q);
	size_t     ok = 0;
	int        rv = 0, lrv;

	(void) q;
	if (m == NULL) {
		return IPCQ_ENOLEASE; /* the connection went: leases with it */
	}
	if ((lrv = ipcqi_shm_lock(m)) != 0) {
		return lrv;
	}
	for (size_t i = 0; i < n; i++) {
		if (msgs[i]->shm != m) {
			rv = IPCQ_ENOLEASE; /* from an earlier handle */
			continue;
		}
		if (msgs[i]->kind == IPCQI_MSG_VIEW) {
			/* Its payload is read in place: the record is finished
			 * when the view is freed, as this verdict says. */
			((ipcq_msg *) msgs[i])->verdict = requeue ? -1 : 1;
			continue;
		}
		lrv = ipcqi_seg_finish(&m->seg, msgs[i]->pos, msgs[i]->lease,
		    m->holder, requeue != 0);
		if (lrv != 0) {
			rv = lrv;
			continue;
		}
		__atomic_fetch_sub(&m->own_leases, 1, __ATOMIC_RELAXED);
		IPCQI_CRASH_POINT("ack.locked");
		ok++;
	}
	if (ok > 0) {
		/* An ack frees space; either may let EOF through. */
		ipcqi_seg_wake_data(&m->seg, (int) ok);
		ipcqi_seg_wake_space(&m->seg, (int) ok);
		ipcqi_seg_ring_broker(&m->seg, m->bell,
		    IPCQI_WATCH_SPACE | IPCQI_WATCH_DATA);
	}
	ipcqi_seg_unlock(&m->seg);
	return rv;
}

int
ipcq_queue_is_shm(ipcq_queue *q)
{
	return q != NULL && ipcqi_shm_current(q) != NULL;
}
