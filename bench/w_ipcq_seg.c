/*
 * The segment-space worker (ipcq.shm.segbytes): open a queue through
 * libipcq, send count messages that nobody consumes, then read how much
 * of the ring they take straight from the queue's segment file.
 *
 * The file is found the way the broker names it (broker/segment.c,
 * docs/shm.md): /dev/shm/ipcq-<euid>-<FNV-1a-64 of the broker URL as
 * %016llx>-<id>, the one whose header carries this queue's name. It is
 * mapped read-only; head and tail are read without the segment lock, which
 * is fine here: nothing else touches the queue while we look.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "ipcq.h"
#include "ipcqi_seg.h"

#define SEG_DIR "/dev/shm"

static uint64_t
seg_fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char) *s;
		h *= 1099511628211ull;
	}
	return (h);
}

/* Map the segment of queue `name` under the broker at url read-only and
 * read tail - head and the ready count. 0, or an errno value. */
static int
seg_measure(const char *url, const char *name, uint64_t *used,
    uint64_t *ready)
{
	char           prefix[64], path[512];
	size_t         plen;
	DIR           *d;
	struct dirent *e;
	int            rv = ENOENT;

	snprintf(prefix, sizeof(prefix), "ipcq-%u-%016" PRIx64 "-",
	    (unsigned) geteuid(), seg_fnv1a(url));
	plen = strlen(prefix);
	if ((d = opendir(SEG_DIR)) == NULL) {
		return (errno);
	}
	while (rv == ENOENT && (e = readdir(d)) != NULL) {
		const ipcqi_seg_hdr *h;
		int                  fd;

		if (strncmp(e->d_name, prefix, plen) != 0 ||
		    strcmp(e->d_name + plen, "bell") == 0) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", SEG_DIR, e->d_name);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			continue;
		}
		h = mmap(NULL, IPCQI_SEG_HDR_BYTES, PROT_READ, MAP_SHARED, fd,
		    0);
		close(fd);
		if (h == MAP_FAILED) {
			continue;
		}
		if (h->magic == IPCQI_SEG_MAGIC &&
		    h->version == IPCQI_SEG_VERSION &&
		    strncmp(h->name, name, sizeof(h->name)) == 0) {
			*used  = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE) -
			    __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
			*ready = __atomic_load_n(&h->ready, __ATOMIC_ACQUIRE);
			rv     = 0;
		}
		munmap((void *) h, IPCQI_SEG_HDR_BYTES);
	}
	closedir(d);
	return (rv);
}

int
bench_ipcq_segbytes(const bench_wcfg *cfg)
{
	ipcq_client_opts co;
	ipcq_queue_opts  qo;
	ipcq_client     *c;
	ipcq_queue      *q;
	char            *buf = malloc(cfg->size);
	uint64_t         i = 0, used = 0, ready = 0;
	int              rv, shm;

	if (buf == NULL) {
		return (bench_fail(cfg, "setup", "no memory"));
	}
	bench_fill(buf, cfg->size);
	ipcq_client_opts_init(&co);
	co.url                = cfg->url;
	co.connect_timeout_ms = 5000;
	if ((rv = ipcq_client_open(&c, &co)) != 0) {
		free(buf);
		return (bench_fail(cfg, "client_open", ipcq_err_name(rv)));
	}
	ipcq_queue_opts_init(&qo);
	qo.roles              = IPCQ_ROLE_PRODUCER;
	qo.expected_producers = 1;
	if ((rv = ipcq_queue_open(&q, c, cfg->queue, &qo)) != 0) {
		ipcq_client_close(c);
		free(buf);
		return (bench_fail(cfg, "queue_open", ipcq_err_name(rv)));
	}
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	shm = ipcq_queue_is_shm(q) == 1;
	for (; rv == 0 && i < cfg->count; i++) {
		bench_stamp(buf, 0, i);
		rv = ipcq_queue_send(q, buf, cfg->size, BENCH_CALL_TIMEOUT_MS);
	}
	if (rv != 0) {
		bench_fail(cfg, "send", ipcq_err_name(rv));
	} else if ((rv = seg_measure(cfg->url, cfg->queue, &used, &ready)) !=
	    0) {
		bench_fail(cfg, "segment", strerror(rv));
	} else if (ready != cfg->count) {
		char why[64];

		snprintf(why, sizeof(why), "ready=%" PRIu64 "_sent=%" PRIu64,
		    ready, cfg->count);
		rv = -1;
		bench_fail(cfg, "segment", why);
	} else if ((rv = ipcq_queue_end(q)) != 0) {
		bench_fail(cfg, "end", ipcq_err_name(rv));
	} else {
		bench_report(cfg, "sent=%" PRIu64 " used=%" PRIu64
		    " ready=%" PRIu64 " shm=%d", cfg->count, used, ready, shm);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
	free(buf);
	return (rv == 0 ? 0 : -1);
}
