/*
 * Segment files, adoption and the doorbell's waker (segment.h).
 */
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "ipcq.h"
#include "log.h"
#include "queue_int.h"

/* Where POSIX shm objects live on Linux (glibc's shm_open). */
#define SEG_DIR "/dev/shm"

/* Suffix of a durable file set aside at adoption (seg_discard). */
#define SEG_ASIDE ".unreadable"

static uint64_t
seg_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char) *s;
		h *= 1099511628211ull;
	}
	return h;
}

/* How many fresh names a creation tries when a name is taken: another
 * user cannot predict them, so a second collision means something else
 * is wrong. */
#define SEG_NAME_TRIES 8

/* 64 random bits for a name: what makes it unpredictable to another
 * local user, who could otherwise create it first (/dev/shm is shared). */
static uint64_t
seg_random(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t) sizeof(r)) {
		struct timespec ts;
		/* No entropy source: still unique, only guessable. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = seg_hash("") ^ ((uint64_t) ts.tv_nsec << 20) ^
		    ((uint64_t) getpid() << 40) ^ (uint64_t) ts.tv_sec;
	}
	return r;
}

/* Create a new file under shm_name: O_EXCL (never someone else's file,
 * never one of ours already in use) and O_NOFOLLOW (never through a
 * planted link); mode and group set on the descriptor whatever the
 * umask. -1 with errno on failure. */
static int
seg_create_file(const ipcqd_segs *s, const char *shm_name)
{
	int         flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int         fd, err;
	struct stat st;

	fd = ipcqd_segs_is_file(shm_name) ? open(shm_name, flags, 0600)
	                                  : shm_open(shm_name, flags, 0600);
	if (fd < 0) {
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() ||
	    !S_ISREG(st.st_mode) || fchmod(fd, s->file_mode) != 0 ||
	    (s->gid >= 0 && fchown(fd, (uid_t) -1, (gid_t) s->gid) != 0)) {
		err = errno != 0 ? errno : EPERM;
		close(fd);
		ipcqd_segs_unlink(shm_name);
		errno = err;
		return -1;
	}
	return fd;
}

/* Create our doorbell under a fresh name and map it. */
static int
seg_bell_open(ipcqd_segs *s)
{
	int   fd = -1;
	void *p;

	for (int i = 0; i < SEG_NAME_TRIES && fd < 0; i++) {
		snprintf(s->bell_name, sizeof(s->bell_name),
		    "/%sbell-%016" PRIx64, s->prefix, seg_random());
		if ((fd = seg_create_file(s, s->bell_name)) < 0 &&
		    errno != EEXIST) {
			break;
		}
	}
	if (fd < 0) {
		ipcqd_error("cannot create the doorbell %s: %s", s->bell_name,
		    strerror(errno != 0 ? errno : EPERM));
		s->bell_name[0] = '\0';
		return IPCQ_EPERM;
	}
	if (ftruncate(fd, 4096) != 0) {
		ipcqd_error("cannot size %s: %s", s->bell_name, strerror(errno));
		close(fd);
		shm_unlink(s->bell_name);
		s->bell_name[0] = '\0';
		return IPCQ_ENOMEM;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		shm_unlink(s->bell_name);
		s->bell_name[0] = '\0';
		return IPCQ_ENOMEM;
	}
	s->bell          = p;
	s->bell->version = IPCQI_SEG_VERSION;
	__atomic_store_n(&s->bell->magic, IPCQI_BELL_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* The state directory: created 0700 if missing; it must be a directory
 * of ours that nobody else may write (its files are trusted segments). */
static int
seg_state_dir(const char *dir)
{
	struct stat st;

	if (dir[0] != '/') {
		ipcqd_error("--state-dir %s: an absolute path is needed", dir);
		return IPCQ_EINVAL;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		ipcqd_error("cannot create state directory %s: %s", dir,
		    strerror(errno));
		return IPCQ_EPERM;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 0022) != 0) {
		ipcqd_error("state directory %s must be a directory owned by "
		            "uid %u and writable by nobody else", dir,
		    (unsigned) geteuid());
		return IPCQ_EPERM;
	}
	return 0;
}

int
ipcqd_segs_init(ipcqd_segs *s, const char *url, const char *state_dir,
    int sync_mode, int sync_ms, int gid)
{
	int rv;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->sync_mtx, NULL);
	pthread_cond_init(&s->sync_cv, NULL);
	snprintf(s->prefix, sizeof(s->prefix), "ipcq-%u-%016" PRIx64 "-",
	    (unsigned) geteuid(), seg_hash(url));
	s->gid       = gid;
	s->file_mode = gid >= 0 ? 0660 : 0600;
	s->next_id   = 1;
	s->sync_mode = sync_mode;
	s->sync_ms   = sync_ms;
	if (state_dir != NULL) {
		if (strlen(state_dir) >= sizeof(s->state_dir) - 100) {
			ipcqd_error("--state-dir: path too long");
			return IPCQ_EINVAL;
		}
		if ((rv = seg_state_dir(state_dir)) != 0) {
			return rv;
		}
		snprintf(s->state_dir, sizeof(s->state_dir), "%s", state_dir);
	}
	return seg_bell_open(s);
}

int
ipcqd_segs_is_file(const char *shm_name)
{
	return shm_name[0] == '/' && strchr(shm_name + 1, '/') != NULL;
}

/* Open a segment by name: a POSIX shm object, or a durable file. */
static int
seg_open(const char *shm_name, int flags, mode_t mode)
{
	flags |= O_NOFOLLOW | O_CLOEXEC;
	if (ipcqd_segs_is_file(shm_name)) {
		return open(shm_name, flags, mode);
	}
	return shm_open(shm_name, flags, mode);
}

int
ipcqd_segs_create(ipcqd_segs *s, const char *name,
    const ipcqd_queue_opts *o, ipcqi_seg *seg, char *shm_name, size_t len,
    int *fdp)
{
	ipcqi_seg_params p;
	int              fd, rv;

	ipcqd_queue_seg_params(&p, name, o);
	p.sync_mode = s->sync_mode;
	p.sync_ms   = (uint32_t) s->sync_ms;

	*fdp = -1;
	if (o->durable && s->state_dir[0] == '\0') {
		return IPCQ_ENOTSUP;
	}
	fd = -1;
	for (int i = 0; i < SEG_NAME_TRIES && fd < 0; i++) {
		/* <id>-<random>: the id keeps adoption's numbering, the
		 * random part keeps the name from being taken first. */
		if (o->durable) {
			snprintf(shm_name, len, "%s/%s%" PRIu64 "-%016" PRIx64,
			    s->state_dir, s->prefix, s->next_id, seg_random());
		} else {
			snprintf(shm_name, len, "/%s%" PRIu64 "-%016" PRIx64,
			    s->prefix, s->next_id, seg_random());
		}
		p.queue_id = s->next_id++;
		if ((fd = seg_create_file(s, shm_name)) < 0 && errno != EEXIST) {
			break;
		}
	}
	if (fd < 0) {
		int e = errno;
		ipcqd_error("cannot create segment %s: %s", shm_name,
		    strerror(e));
		shm_name[0] = '\0';
		if (e == EMFILE || e == ENFILE) {
			return IPCQ_EMFILE;
		}
		if (e == ENOSPC || e == EDQUOT) {
			return IPCQ_ENOSPC; /* no inode left */
		}
		return e == EEXIST ? IPCQ_EINTERNAL : IPCQ_ENOMEM;
	}
	rv = ipcqi_seg_create(seg, fd, &p);
	if (rv != 0) {
		ipcqd_error("cannot create segment %s of %llu bytes: %s",
		    shm_name, (unsigned long long) (IPCQI_SEG_HDR_BYTES +
		                  ipcqi_seg_ring_bytes(&p)), ipcq_strerror(rv));
		close(fd);
		ipcqd_segs_unlink(shm_name);
	} else if (o->durable) {
		*fdp = fd; /* kept for the syncer */
	} else {
		close(fd);
	}
	return rv;
}

void
ipcqd_segs_unlink(const char *shm_name)
{
	if (shm_name[0] == '\0') {
		return;
	}
	if (ipcqd_segs_is_file(shm_name)) {
		unlink(shm_name);
	} else {
		shm_unlink(shm_name);
	}
}

/* An unreadable (or duplicate) file of ours found at adoption: a
 * /dev/shm object is removed; a durable file is the user's data, so it
 * is renamed aside (SEG_ASIDE suffix: never adopted again) for the
 * operator to inspect. The log says which happened, or why neither. */
static void
seg_discard(const char *shm_name)
{
	char aside[820];

	if (!ipcqd_segs_is_file(shm_name)) {
		if (shm_unlink(shm_name) == 0) {
			ipcqd_error("segment %s is unreadable or a duplicate: "
			            "removed", shm_name);
		} else {
			ipcqd_error("segment %s is unreadable or a duplicate; "
			            "cannot remove it: %s", shm_name,
			    strerror(errno));
		}
		return;
	}
	snprintf(aside, sizeof(aside), "%s%s", shm_name, SEG_ASIDE);
	if (rename(shm_name, aside) == 0) {
		ipcqd_error("durable file %s is unreadable or a duplicate: "
		            "renamed to %s", shm_name, aside);
	} else {
		ipcqd_error("durable file %s is unreadable or a duplicate; "
		            "cannot rename it to %s: %s", shm_name, aside,
		    strerror(errno));
	}
}

/* Map one file of ours and make it a queue again. */
static void
seg_adopt_one(ipcqd_segs *s, ipcqd_broker *b, const char *dir,
    const char *file)
{
	char        shm_name[800];
	struct stat st;
	ipcqi_seg   seg;
	ipcqd_queue *q;
	uint64_t    id  = strtoull(file + strlen(s->prefix), NULL, 10);
	int         fd, rv;

	if (dir == NULL) {
		snprintf(shm_name, sizeof(shm_name), "/%s", file);
	} else {
		snprintf(shm_name, sizeof(shm_name), "%s/%s", dir, file);
	}
	/* O_NONBLOCK: a FIFO planted under one of our names must not
	 * hang the start; the owner check below rejects it. */
	fd = seg_open(shm_name, O_RDWR | O_NONBLOCK, 0);
	if (fd < 0) {
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		close(fd); /* not ours after all: never touch it */
		return;
	}
	/* Ours: it takes this instance's access rule (--socket-group). */
	(void) fchmod(fd, s->file_mode);
	if (s->gid >= 0) {
		(void) fchown(fd, (uid_t) -1, (gid_t) s->gid);
	}
	/* A file of an older broker may be sparse: allocate its pages now,
	 * so that a send into it cannot fault for want of space. */
	if (ipcqi_seg_allocate(fd, (uint64_t) st.st_size) != 0) {
		ipcqd_warn("segment %s: cannot allocate its %lld bytes (full "
		           "file system?); adopted as it is", shm_name,
		    (long long) st.st_size);
	}
	rv = ipcqi_seg_map(&seg, fd, NULL);
	if (rv != 0 || dir == NULL) {
		close(fd);
		fd = -1;
	}
	if (rv == IPCQ_EVERSION) {
		ipcqd_warn("segment %s has another layout version: left alone",
		    shm_name);
		return;
	}
	if (rv != 0 || !ipcqi_name_valid(seg.hdr->name) ||
	    (seg.hdr->qstate & IPCQI_QS_DELETED) != 0 ||
	    ipcqd_broker_find_queue(b, seg.hdr->name) != NULL) {
		if (rv == 0) {
			ipcqi_seg_unmap(&seg);
		}
		seg_discard(shm_name);
		return;
	}
	if ((q = ipcqd_queue_from_seg(&seg, shm_name)) == NULL) {
		ipcqi_seg_unmap(&seg);
		if (fd >= 0) {
			close(fd);
		}
		return;
	}
	q->fd   = fd; /* durable: kept for the syncer */
	q->bell = s->bell;
	/* Whoever held leases or loans died with the old instance. A
	 * client of it still alive (or stopped, or frozen) inside its
	 * critical section holds the lock: then the returns wait for it
	 * (queue_lock.c), and the broker does not. A word naming a thread
	 * that is gone is the old instance's, which the kernel could not
	 * mark (its mapping was zero pages by then): recover it now. */
	rv = ipcqd_qu_lock(q);
	if (rv == IPCQ_EBUSY && ipcqi_seg_lock_reclaim(&q->seg) == 0) {
		ipcqd_warn("segment %s: lock held by a thread that is gone; "
		           "recovered", shm_name);
		rv = ipcqd_qu_lock(q);
	}
	if (rv == 0) {
		uint64_t bad;
		/* Returns the leases; checks every record (and its checksum:
		 * a durable file may have rotted on disk meanwhile). */
		if (ipcqi_seg_adopt(&q->seg, &bad) != 0) {
			ipcqd_error("segment %s: record at file offset %" PRIu64
			            " is damaged (failed its %s): queue %s "
			            "quarantined, nothing of it is delivered",
			    shm_name, bad, q->seg.sums ? "checksum" : "checks",
			    q->name);
		}
		q->seg.hdr->broker_watch   = 0;
		q->seg.hdr->broker_pending = 0;
		ipcqi_seg_unlock(&q->seg);
	} else if (rv == IPCQ_EBUSY) {
		ipcqd_warn("segment %s: lock held by a process of the old "
		           "instance; its leases return when it lets go",
		    shm_name);
		ipcqd_qu_defer_return(q, 0);
	}
	ipcqd_broker_insert_queue(b, q);
	if (id >= s->next_id) {
		s->next_id = id + 1;
	}
	ipcqd_info("adopted queue %s from %s (%" PRIu64 " ready)%s", q->name,
	    shm_name, seg.hdr->ready,
	    ipcqi_seg_corrupt(&seg) ? " QUARANTINED: corrupt" : "");
}

/* A doorbell of an earlier instance of ours (it crashed): nobody rings
 * it any more. Removed only if it is a regular file of our uid. */
static void
seg_drop_old_bell(const ipcqd_segs *s, const char *file)
{
	char        path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", SEG_DIR, file);
	if (strcmp(s->bell_name + 1, file) != 0 && lstat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
		ipcqd_info("removing the doorbell of an earlier instance: /%s",
		    file);
		shm_unlink(path + strlen(SEG_DIR));
	}
}

/* The part of a file name after the prefix is ours when it reads
 * <id>-<16 hex digits>, as segment creation makes it, or <id> alone (a
 * file of an earlier version of ipcqd). Anything else, a file set aside
 * (<name>.unreadable) included, is not. */
static bool
seg_name_is_ours(const char *rest)
{
	size_t digits = strspn(rest, "0123456789");

	if (digits == 0) {
		return false;
	}
	if (rest[digits] == '\0') {
		return true;
	}
	return rest[digits] == '-' &&
	    strspn(rest + digits + 1, "0123456789abcdef") == 16 &&
	    rest[digits + 17] == '\0';
}

/* Adopt our files in dir (NULL: /dev/shm, as POSIX shm names). */
static void
seg_adopt_dir(ipcqd_segs *s, ipcqd_broker *b, const char *dir)
{
	DIR           *d = opendir(dir != NULL ? dir : SEG_DIR);
	struct dirent *e;
	size_t         plen = strlen(s->prefix);

	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, s->prefix, plen) != 0) {
			continue;
		}
		if (strncmp(e->d_name + plen, "bell", 4) == 0) {
			if (dir == NULL) {
				seg_drop_old_bell(s, e->d_name);
			}
			continue;
		}
		/* Ours are <prefix><id>-<16 hex>: not a file set aside
		 * (<name>.unreadable), nothing else. */
		if (!seg_name_is_ours(e->d_name + plen)) {
			continue;
		}
		seg_adopt_one(s, b, dir, e->d_name);
	}
	closedir(d);
}

int
ipcqd_segs_adopt(ipcqd_segs *s, ipcqd_broker *b)
{
	int n = (int) b->nqueues;

	seg_adopt_dir(s, b, NULL);
	if (s->state_dir[0] != '\0') {
		seg_adopt_dir(s, b, s->state_dir);
	}
	return (int) b->nqueues - n;
}

/* The waker: sleeps on the doorbell; when a client rings, pumps every
 * queue that asked (broker_pending), outside any segment lock. A queue
 * whose segment lock a client held when the broker last tried it is
 * tried again on a timer (queue_lock.c): nothing rings when the holder
 * lets go. A try never waits, so a stuck queue costs the others
 * microseconds per retry. */
static void *
seg_waker(void *arg)
{
	ipcqd_broker *b = arg;
	ipcqd_segs   *s = &b->segs;

	for (;;) {
		/* Acquire: pairs with the client's release increment, so the
		 * pending flags it set before are visible to the scan. */
		uint32_t seen = __atomic_load_n(&s->bell->seq, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
			break;
		}
		uint64_t next = UINT64_MAX, now = ipcqd_now_ms(), at;
		ipcqd_broker_lock(b);
		for (ipcqd_node *n = b->queues.next; n != &b->queues;
		     n             = n->next) {
			ipcqd_queue *q   = IPCQD_CONTAINER(n, ipcqd_queue, node);
			bool         due = (at = ipcqd_queue_retry_at(q)) != 0 &&
			    at <= now;
			if (due) {
				ipcqd_queue_retry(q);
			}
			if (__atomic_exchange_n(&q->seg.hdr->broker_pending, 0,
			        __ATOMIC_ACQUIRE) ||
			    due) {
				ipcqd_queue_poke(q);
			}
			if ((at = ipcqd_queue_retry_at(q)) != 0 && at < next) {
				next = at;
			}
		}
		ipcqd_broker_unlock(b);
		ipcqi_futex_wait(&s->bell->seq, seen,
		    next == UINT64_MAX ? INT64_MAX : (int64_t) next);
	}
	return NULL;
}

void
ipcqd_segs_sync_failed(ipcqd_broker *b, const char *queue, int err,
    const char *what)
{
	ipcqd_queue *q;

	ipcqd_broker_lock(b);
	if ((q = ipcqd_broker_find_queue(b, queue)) != NULL) {
		q->sync_errors++;
		/* A batch sync is tried again at the next period even if
		 * nothing changed meanwhile. */
		q->synced = UINT64_MAX;
	}
	ipcqd_broker_unlock(b);
	ipcqd_error("queue %s: disk sync failed: %s; %s (recent sends may "
	            "not be on disk; stats sync_errors counts it)",
	    queue, strerror(err), what);
}

/* A durable queue's change count: it moved if any of these did. */
static uint64_t
seg_changes(const ipcqd_queue *q)
{
	const ipcqi_seg_hdr *h = q->seg.hdr;

	return __atomic_load_n(&h->sent, __ATOMIC_RELAXED) +
	    __atomic_load_n(&h->acked, __ATOMIC_RELAXED) +
	    __atomic_load_n(&h->redelivered, __ATOMIC_RELAXED) +
	    __atomic_load_n(&h->dropped, __ATOMIC_RELAXED) +
	    __atomic_load_n(&h->purged, __ATOMIC_RELAXED);
}

/* IPCQI_SYNC_BATCH: every sync_ms, fdatasync each durable queue that
 * changed. The descriptors are duplicated under the broker lock and
 * synced outside it (a sync may take long; a queue deleted meanwhile
 * only makes the sync of an unlinked file). */
static void *
seg_syncer(void *arg)
{
	ipcqd_broker *b = arg;
	ipcqd_segs   *s = &b->segs;

	for (;;) {
		struct timespec ts;
		int             fds[64], n = 0, stop;
		char            names[64][IPCQI_NAME_MAX + 1];

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += s->sync_ms / 1000;
		ts.tv_nsec += (long) (s->sync_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&s->sync_mtx);
		if (!s->sync_stop) {
			pthread_cond_timedwait(&s->sync_cv, &s->sync_mtx, &ts);
		}
		stop = s->sync_stop;
		pthread_mutex_unlock(&s->sync_mtx);
		ipcqd_broker_lock(b);
		for (ipcqd_node *x = b->queues.next;
		     x != &b->queues && n < (int) (sizeof(fds) / sizeof(fds[0]));
		     x = x->next) {
			ipcqd_queue *q = IPCQD_CONTAINER(x, ipcqd_queue, node);
			uint64_t     c;
			if (q->fd < 0 || (c = seg_changes(q)) == q->synced) {
				continue;
			}
			if ((fds[n] = dup(q->fd)) >= 0) {
				q->synced = c;
				snprintf(names[n], sizeof(names[n]), "%s", q->name);
				n++;
			}
		}
		ipcqd_broker_unlock(b);
		for (int i = 0; i < n; i++) {
			if (fdatasync(fds[i]) != 0) {
				ipcqd_segs_sync_failed(b, names[i], errno,
				    "the periodic (--sync batch) sync");
			}
			close(fds[i]);
		}
		if (stop) {
			break; /* after a last sync */
		}
	}
	return NULL;
}

int
ipcqd_segs_start_waker(ipcqd_segs *s, ipcqd_broker *b)
{
	if (s->bell == NULL) {
		return IPCQ_EINVAL;
	}
	if (pthread_create(&s->waker, NULL, seg_waker, b) != 0) {
		return IPCQ_ENOMEM;
	}
	s->waker_on = 1;
	if (s->state_dir[0] != '\0' && s->sync_mode == IPCQI_SYNC_BATCH) {
		if (pthread_create(&s->syncer, NULL, seg_syncer, b) != 0) {
			return IPCQ_ENOMEM;
		}
		s->syncer_on = 1;
	}
	return 0;
}

void
ipcqd_segs_fini(ipcqd_segs *s)
{
	if (s->syncer_on) {
		pthread_mutex_lock(&s->sync_mtx);
		s->sync_stop = 1;
		pthread_cond_signal(&s->sync_cv);
		pthread_mutex_unlock(&s->sync_mtx);
		pthread_join(s->syncer, NULL);
		s->syncer_on = 0;
	}
	if (s->waker_on) {
		__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
		ipcqi_bell_ring(s->bell);
		pthread_join(s->waker, NULL);
		s->waker_on = 0;
	}
	if (s->bell != NULL) {
		munmap(s->bell, 4096);
		s->bell = NULL;
		shm_unlink(s->bell_name);
	}
}
