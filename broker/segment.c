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
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "ipcq.h"
#include "log.h"

/* Where POSIX shm objects live on Linux (glibc's shm_open). */
#define SEG_DIR "/dev/shm"

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

/* Open or create our doorbell and map it. */
static int
seg_bell_open(ipcqd_segs *s)
{
	int         fd;
	void       *p;
	struct stat st;

	fd = shm_open(s->bell_name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		ipcqd_error("cannot create %s: %s", s->bell_name,
		    strerror(errno));
		return IPCQ_EPERM;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() ||
	    fchmod(fd, 0600) != 0 || ftruncate(fd, 4096) != 0) {
		ipcqd_error("%s is not ours or cannot be sized", s->bell_name);
		close(fd);
		return IPCQ_EPERM;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		return IPCQ_ENOMEM;
	}
	s->bell          = p;
	s->bell->version = IPCQI_SEG_VERSION;
	__atomic_store_n(&s->bell->magic, IPCQI_BELL_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int
ipcqd_segs_init(ipcqd_segs *s, const char *url)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->prefix, sizeof(s->prefix), "ipcq-%u-%016" PRIx64 "-",
	    (unsigned) geteuid(), seg_hash(url));
	snprintf(s->bell_name, sizeof(s->bell_name), "/%sbell", s->prefix);
	s->next_id = 1;
	return seg_bell_open(s);
}

int
ipcqd_segs_create(ipcqd_segs *s, const char *name,
    const ipcqd_queue_opts *o, ipcqi_seg *seg, char *shm_name, size_t len)
{
	ipcqi_seg_params p = {
		.name               = name,
		.queue_id           = s->next_id,
		.max_messages       = o->max_messages,
		.max_bytes          = o->max_bytes,
		.max_message_bytes  = o->max_message_bytes,
		.full_policy        = o->full_policy,
		.expected_producers = o->expected_producers,
	};
	int fd, rv;

	snprintf(shm_name, len, "/%s%" PRIu64, s->prefix, s->next_id++);
	/* O_EXCL: a name is never reused, and never someone else's. */
	fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	        O_CLOEXEC, 0600);
	if (fd < 0) {
		ipcqd_error("cannot create segment %s: %s", shm_name,
		    strerror(errno));
		return errno == EEXIST ? IPCQ_EINTERNAL : IPCQ_ENOMEM;
	}
	fchmod(fd, 0600); /* whatever the umask */
	rv = ipcqi_seg_create(seg, fd, &p);
	close(fd);
	if (rv != 0) {
		shm_unlink(shm_name);
	}
	return rv;
}

void
ipcqd_segs_unlink(const char *shm_name)
{
	if (shm_name[0] != '\0') {
		shm_unlink(shm_name);
	}
}

/* Map one file of ours and make it a queue again. */
static void
seg_adopt_one(ipcqd_segs *s, ipcqd_broker *b, const char *file)
{
	char        shm_name[300];
	struct stat st;
	ipcqi_seg   seg;
	ipcqd_queue *q;
	uint64_t    id  = strtoull(file + strlen(s->prefix), NULL, 10);
	int         fd, rv;

	snprintf(shm_name, sizeof(shm_name), "/%s", file);
	fd = shm_open(shm_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		close(fd); /* not ours after all: never touch it */
		return;
	}
	rv = ipcqi_seg_map(&seg, fd, NULL);
	close(fd);
	if (rv == IPCQ_EVERSION) {
		ipcqd_warn("segment %s has another layout version: left alone",
		    shm_name);
		return;
	}
	if (rv != 0 || !ipcqi_name_valid(seg.hdr->name) ||
	    ipcqd_broker_find_queue(b, seg.hdr->name) != NULL) {
		ipcqd_error("segment %s is unreadable or a duplicate: removed",
		    shm_name);
		if (rv == 0) {
			ipcqi_seg_unmap(&seg);
		}
		shm_unlink(shm_name);
		return;
	}
	/* Whoever held leases or loans died with the old instance. */
	if (ipcqi_seg_lock(&seg) == 0) {
		ipcqi_seg_return_holder(&seg, 0);
		seg.hdr->broker_watch   = 0;
		seg.hdr->broker_pending = 0;
		ipcqi_seg_unlock(&seg);
	}
	if ((q = ipcqd_queue_from_seg(&seg, shm_name)) == NULL) {
		ipcqi_seg_unmap(&seg);
		return;
	}
	q->bell = s->bell;
	ipcqd_broker_insert_queue(b, q);
	if (id >= s->next_id) {
		s->next_id = id + 1;
	}
	ipcqd_info("adopted queue %s from %s (%" PRIu64 " ready)%s", q->name,
	    shm_name, seg.hdr->ready,
	    ipcqi_seg_corrupt(&seg) ? " QUARANTINED: corrupt" : "");
}

int
ipcqd_segs_adopt(ipcqd_segs *s, ipcqd_broker *b)
{
	DIR           *d = opendir(SEG_DIR);
	struct dirent *e;
	size_t         plen = strlen(s->prefix);
	int            n    = (int) b->nqueues;

	if (d == NULL) {
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, s->prefix, plen) != 0 ||
		    strcmp(e->d_name + plen, "bell") == 0) {
			continue;
		}
		seg_adopt_one(s, b, e->d_name);
	}
	closedir(d);
	return (int) b->nqueues - n;
}

/* The waker: sleeps on the doorbell; when a client rings, pumps every
 * queue that asked (broker_pending), outside any segment lock. */
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
		ipcqd_broker_lock(b);
		for (ipcqd_node *n = b->queues.next; n != &b->queues;
		     n             = n->next) {
			ipcqd_queue *q = IPCQD_CONTAINER(n, ipcqd_queue, node);
			if (__atomic_exchange_n(&q->seg.hdr->broker_pending, 0,
			        __ATOMIC_ACQUIRE)) {
				ipcqd_queue_poke(q);
			}
		}
		ipcqd_broker_unlock(b);
		ipcqi_futex_wait(&s->bell->seq, seen, INT64_MAX);
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
	return 0;
}

void
ipcqd_segs_fini(ipcqd_segs *s)
{
	if (s->waker_on) {
		__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
		__atomic_fetch_add(&s->bell->seq, 1, __ATOMIC_RELEASE);
		ipcqi_futex_wake(&s->bell->seq, 1);
		pthread_join(s->waker, NULL);
		s->waker_on = 0;
	}
	if (s->bell != NULL) {
		munmap(s->bell, 4096);
		s->bell = NULL;
		shm_unlink(s->bell_name);
	}
}
