/*
 * The bare ring's workers (ring.h): one producer and one consumer per
 * ring, and a ping-pong over two rings. url names the shm object (the
 * ping-pong's two are url-a, A to B, and url-b, back); mode is "spin" or
 * "futex".
 *
 * The consumer copies each record out of the ring into its own buffer
 * before checking it: the figure is a ring "with copies" on both sides,
 * the fair twin of a queue's send + recv. (Checking in place would be the
 * zero-copy figure.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ring.h"

static int
wr_open(const bench_wcfg *cfg, ring *r, const char *suffix)
{
	char name[512];
	int  rv;

	snprintf(name, sizeof(name), "%s%s", cfg->url, suffix);
	rv = ring_open(r, name,
	    strcmp(cfg->mode, "futex") == 0 ? RING_FUTEX : RING_SPIN);
	if (rv != 0) {
		return (bench_fail(cfg, "ring_open", strerror(rv)));
	}
	return (0);
}

int
bench_ring_prod(const bench_wcfg *cfg)
{
	ring     r;
	char    *buf = malloc(cfg->size);
	uint64_t seq = 0, t0, t1;
	int      rv  = 0;

	if (buf == NULL || wr_open(cfg, &r, "") != 0) {
		free(buf);
		return (-1);
	}
	bench_fill(buf, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	t0 = bench_now_ns();
	while (rv == 0 && bench_more(cfg, seq, t0)) {
		bench_stamp(buf, cfg->id, seq);
		if ((rv = ring_put(&r, RING_DATA, buf, cfg->size)) == 0) {
			seq++;
		}
	}
	t1 = bench_now_ns();
	if (rv == 0) {
		rv = ring_put(&r, RING_END, "", 0);
	}
	if (rv != 0) {
		bench_fail(cfg, "ring_put", strerror(rv));
	} else {
		bench_report(cfg, "sent=%llu t0=%llu t1=%llu wakes=%llu "
		    "sleeps=%llu", (unsigned long long) seq,
		    (unsigned long long) t0, (unsigned long long) t1,
		    (unsigned long long) r.wakes, (unsigned long long) r.sleeps);
	}
	ring_close(&r);
	free(buf);
	return (rv == 0 ? 0 : -1);
}

int
bench_ring_cons(const bench_wcfg *cfg)
{
	ring        r;
	bench_tally t;
	char       *buf = malloc(cfg->size), line[BENCH_LINE_MAX];
	int         rv  = 0;

	if (buf == NULL || wr_open(cfg, &r, "") != 0) {
		free(buf);
		return (-1);
	}
	bench_tally_init(&t, cfg->nprod, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	for (;;) {
		const void *view;
		size_t      len;
		uint32_t    type;

		if ((rv = ring_get(&r, &type, &view, &len)) != 0 ||
		    type == RING_END) {
			break;
		}
		if (len <= cfg->size) {
			memcpy(buf, view, len);
		}
		ring_release(&r);
		(void) bench_tally_add(&t, buf, len);
		t.t_last = bench_now_ns();
		t.calls++;
	}
	if (rv != 0) {
		bench_fail(cfg, "ring_get", strerror(rv));
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	ring_close(&r);
	free(buf);
	return (rv == 0 && t.err[0] == '\0' ? 0 : -1);
}

/* One round trip: put on out, get the echo from in, check it. */
static int
wr_trip(ring *out, ring *in, const void *buf, size_t size, uint64_t seq)
{
	const void *view;
	size_t      len;
	uint32_t    type;
	int         rv;

	if ((rv = ring_put(out, RING_DATA, buf, size)) != 0 ||
	    (rv = ring_get(in, &type, &view, &len)) != 0) {
		return (rv);
	}
	rv = type != RING_DATA || len != size || bench_seq_of(view) != seq
	    ? EPROTO : 0;
	ring_release(in);
	return (rv);
}

int
bench_ring_ping(const bench_wcfg *cfg)
{
	ring      a, b;
	bench_lat lat;
	char     *buf = malloc(cfg->size), line[BENCH_LINE_MAX];
	int       rv  = 0;

	if (buf == NULL || bench_lat_init(&lat, cfg->count) != 0 ||
	    wr_open(cfg, &a, "-a") != 0 || wr_open(cfg, &b, "-b") != 0) {
		return (-1);
	}
	bench_fill(buf, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	for (uint64_t i = 0; rv == 0 && i < cfg->warmup + cfg->count; i++) {
		uint64_t t0 = bench_now_ns();

		bench_stamp(buf, 0, i);
		if ((rv = wr_trip(&a, &b, buf, cfg->size, i)) == 0 &&
		    i >= cfg->warmup) {
			bench_lat_add(&lat, bench_now_ns() - t0);
		}
	}
	if (rv == 0) {
		rv = ring_put(&a, RING_END, "", 0);
	}
	if (rv != 0) {
		bench_fail(cfg, "ring_ping", strerror(rv));
	} else {
		bench_lat_format(&lat, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	ring_close(&a);
	ring_close(&b);
	bench_lat_fini(&lat);
	free(buf);
	return (rv == 0 ? 0 : -1);
}

/* Echo every record from A back on B, tallying what arrived. */
int
bench_ring_pong(const bench_wcfg *cfg)
{
	ring        a, b;
	bench_tally t;
	char       *buf = malloc(cfg->size), line[BENCH_LINE_MAX];
	int         rv  = 0;

	if (buf == NULL || wr_open(cfg, &a, "-a") != 0 ||
	    wr_open(cfg, &b, "-b") != 0) {
		return (-1);
	}
	bench_tally_init(&t, 1, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	for (;;) {
		const void *view;
		size_t      len;
		uint32_t    type;

		if ((rv = ring_get(&a, &type, &view, &len)) != 0 ||
		    type == RING_END) {
			break;
		}
		if (len <= cfg->size) {
			memcpy(buf, view, len);
		}
		ring_release(&a);
		(void) bench_tally_add(&t, buf, len);
		if ((rv = ring_put(&b, RING_DATA, buf, len)) != 0) {
			break;
		}
	}
	if (rv != 0) {
		bench_fail(cfg, "ring_pong", strerror(rv));
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	ring_close(&a);
	ring_close(&b);
	free(buf);
	return (rv == 0 && t.err[0] == '\0' ? 0 : -1);
}
