/*
 * Small helpers shared by driver and workers: latency samples, the nng
 * consumers' shared counters, and key=value lookup in result lines.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

int
bench_lat_init(bench_lat *l, size_t cap)
{
	l->n   = 0;
	l->cap = cap;
	l->ns  = calloc(cap ? cap : 1, sizeof(uint64_t));
	return (l->ns == NULL ? -1 : 0);
}

void
bench_lat_add(bench_lat *l, uint64_t ns)
{
	if (l->n < l->cap) {
		l->ns[l->n++] = ns;
	}
}

static int
lat_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return (x < y ? -1 : x > y);
}

/* Nearest rank: the smallest sample with at least q of them at or below. */
static uint64_t
lat_pct(const bench_lat *l, double q)
{
	size_t rank = (size_t) (q * (double) l->n + 0.999999);

	if (rank < 1) {
		rank = 1;
	}
	return (l->ns[(rank > l->n ? l->n : rank) - 1]);
}

void
bench_lat_format(bench_lat *l, char *buf, size_t len)
{
	uint64_t sum = 0;

	if (l->n == 0) {
		snprintf(buf, len, "n=0");
		return;
	}
	qsort(l->ns, l->n, sizeof(uint64_t), lat_cmp);
	for (size_t i = 0; i < l->n; i++) {
		sum += l->ns[i];
	}
	snprintf(buf, len, "n=%zu p50=%" PRIu64 " p99=%" PRIu64
	    " p999=%" PRIu64 " mean=%" PRIu64 " max=%" PRIu64, l->n,
	    lat_pct(l, 0.50), lat_pct(l, 0.99), lat_pct(l, 0.999),
	    sum / l->n, l->ns[l->n - 1]);
}

void
bench_lat_fini(bench_lat *l)
{
	free(l->ns);
	l->ns = NULL;
}

int
bench_ctr_map(const char *path, bench_ctr **ctr)
{
	int   fd;
	void *p;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		return (-1);
	}
	p = mmap(NULL, sizeof(bench_ctr), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		return (-1);
	}
	*ctr = p;
	return (0);
}

void
bench_ctr_unmap(bench_ctr *ctr)
{
	if (ctr != NULL) {
		munmap(ctr, sizeof(*ctr));
	}
}

/* Find " key=" (or "key=" at the start) and return the value's start. */
static const char *
kv_find(const char *line, const char *key)
{
	size_t      klen = strlen(key);
	const char *p    = line;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			return (p + klen + 1);
		}
		p += klen;
	}
	return (NULL);
}

int
bench_kv_u64(const char *line, const char *key, uint64_t *v)
{
	const char *p = kv_find(line, key);
	char       *end;

	if (p == NULL) {
		return (-1);
	}
	*v = strtoull(p, &end, 10);
	return (end == p ? -1 : 0);
}

int
bench_kv_str(const char *line, const char *key, char *buf, size_t len)
{
	const char *p = kv_find(line, key);
	size_t      n;

	if (p == NULL || len == 0) {
		return (-1);
	}
	n = strcspn(p, " \n");
	if (n >= len) {
		n = len - 1;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	return (0);
}
