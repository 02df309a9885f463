/*
 * Redis workers (hiredis; built only when cmake found it), against the
 * redis-server the driver started on a unix socket (url is its path):
 * producers pipeline LPUSH key MSG (a window of 100 commands, 4 for
 * 1 MiB, then read the window's replies), consumers BLMPOP 1 1 key RIGHT
 * COUNT 100 (Redis >= 7.0), so the list is a FIFO and each consumer sees
 * each producer's numbers rising. queue is the key.
 *
 * End of stream: one 1-byte END per producer after its data; the
 * consumer that takes the P-th END knows every message has been popped
 * (each END follows its producer's data in one FIFO) and sets a flag in
 * the shared counters file (ctr->expected := 1); a consumer whose BLMPOP
 * times out (50 ms, not measured: its clock stops at its last message)
 * stops when it sees the flag. (STOP messages do not work here: one
 * BLMPOP COUNT 100 can take all of them.)
 *
 * A list is unbounded. LPUSH replies with the list's length, so a
 * producer that sees more than about 64 MiB queued polls LLEN until the
 * consumers have taken half of it: flow control by round trips, the only
 * kind Redis lists have.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "bench.h"

#define WR_END  'E'

static char wd_err[128] = "bad reply"; /* the server's error, if any */

static int
wd_connect(const bench_wcfg *cfg, redisContext **c)
{
	struct timeval tv = { .tv_sec = BENCH_CALL_TIMEOUT_MS / 1000 };

	*c = redisConnectUnixWithTimeout(cfg->url, tv);
	if (*c == NULL || (*c)->err) {
		return (bench_fail(cfg, "redis_connect",
		    *c ? (*c)->errstr : "no memory"));
	}
	return (redisSetTimeout(*c, tv) == REDIS_OK ? 0 : -1);
}

static uint64_t
wd_hwm(size_t size)
{
	uint64_t h = (64u << 20) / size;

	return (h < 16 ? 16 : h);
}

/* Read n replies (LPUSH: integers); the largest list length into *len. */
static int
wd_replies(redisContext *c, int n, long long *len)
{
	redisReply *r;

	*len = 0;
	for (int i = 0; i < n; i++) {
		if (redisGetReply(c, (void **) &r) != REDIS_OK) {
			return (-1);
		}
		if (r->type != REDIS_REPLY_INTEGER) {
			freeReplyObject(r);
			return (-1);
		}
		*len = r->integer > *len ? r->integer : *len;
		freeReplyObject(r);
	}
	return (0);
}

static int
wd_throttle(redisContext *c, const char *key, long long len, uint64_t hwm)
{
	while ((uint64_t) len > hwm / 2 && len > 0) {
		redisReply *r = redisCommand(c, "LLEN %s", key);

		if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
			freeReplyObject(r);
			return (-1);
		}
		len = r->integer;
		freeReplyObject(r);
	}
	return (0);
}

static int
wd_push_all(const bench_wcfg *cfg, redisContext *c, char *buf, uint64_t *seq,
    uint64_t t0)
{
	int       win = cfg->size >= (1u << 20) ? 4 : 100, n;
	long long len;
	uint64_t  hwm = wd_hwm(cfg->size);

	while (bench_more(cfg, *seq, t0)) {
		for (n = 0; n < win && bench_more(cfg, *seq + n, t0); n++) {
			bench_stamp(buf, cfg->id, *seq + n);
			redisAppendCommand(c, "LPUSH %s %b", cfg->queue, buf,
			    cfg->size);
		}
		if (wd_replies(c, n, &len) != 0) {
			return (-1);
		}
		*seq += (uint64_t) n;
		if ((uint64_t) len > hwm && wd_throttle(c, cfg->queue, len,
		                                hwm) != 0) {
			return (-1);
		}
	}
	return (0);
}

int
bench_redis_prod(const bench_wcfg *cfg)
{
	redisContext *c;
	char         *buf = malloc(cfg->size), end = WR_END;
	uint64_t      seq = 0, t0, t1;
	long long     len;
	int           rv;

	if (buf == NULL || wd_connect(cfg, &c) != 0) {
		return (-1);
	}
	bench_fill(buf, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	t0 = bench_now_ns();
	rv = wd_push_all(cfg, c, buf, &seq, t0);
	t1 = bench_now_ns();
	if (rv == 0) {
		redisAppendCommand(c, "LPUSH %s %b", cfg->queue, &end, 1);
		rv = wd_replies(c, 1, &len);
	}
	if (rv != 0) {
		bench_fail(cfg, "redis_lpush", c->err ? c->errstr : "bad reply");
	} else {
		bench_report(cfg, "sent=%llu t0=%llu t1=%llu",
		    (unsigned long long) seq, (unsigned long long) t0,
		    (unsigned long long) t1);
	}
	redisFree(c);
	free(buf);
	return (rv);
}

/* One element: data (tallied) or END. 1: this was the last END, stop
 * after this batch (the rest of a batch popped with the last END can
 * still hold data that other producers pushed after their END came
 * before it); -1 error. */
static int
wd_take(const bench_wcfg *cfg, bench_ctr *ctr, bench_tally *t,
    const redisReply *e)
{
	if (e->type != REDIS_REPLY_STRING) {
		return (-1);
	}
	if (e->len != 1) {
		(void) bench_tally_add(t, e->str, (size_t) e->len);
		return (0);
	}
	if (atomic_fetch_add(&ctr->done, 1) + 1 < cfg->nprod) {
		return (0);
	}
	atomic_store(&ctr->expected, 1); /* every consumer may stop */
	return (1);
}

/* One BLMPOP: 0 go on, 1 stop, -1 error. */
static int
wd_pop(const bench_wcfg *cfg, redisContext *c, bench_ctr *ctr,
    bench_tally *t, uint64_t *idle_since)
{
	redisReply *r = redisCommand(c, "BLMPOP 0.05 1 %s RIGHT COUNT 100",
	    cfg->queue);
	int         rv = 0;

	if (r == NULL) {
		return (-1);
	}
	if (r->type == REDIS_REPLY_NIL) { /* nothing for 50 ms */
		freeReplyObject(r);
		if (atomic_load(&ctr->expected) != 0) {
			return (1); /* the list is empty for good */
		}
		if (bench_now_ns() - *idle_since >
		    BENCH_CALL_TIMEOUT_MS * 1000000ull) {
			snprintf(wd_err, sizeof(wd_err), "idle_timeout");
			return (-1);
		}
		return (0);
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(wd_err, sizeof(wd_err), "%s", r->str);
		}
		freeReplyObject(r);
		return (-1);
	}
	uint64_t before = t->total;

	for (size_t i = 0; rv >= 0 && i < r->element[1]->elements; i++) {
		int k = wd_take(cfg, ctr, t, r->element[1]->element[i]);

		rv = k != 0 ? k : rv;
	}
	*idle_since = bench_now_ns();
	if (t->total != before) { /* the clock stops at the last data */
		t->t_last = *idle_since;
		t->calls++;
	}
	freeReplyObject(r);
	return (rv);
}

int
bench_redis_cons(const bench_wcfg *cfg)
{
	redisContext *c;
	bench_ctr    *ctr;
	bench_tally   t;
	char          line[BENCH_LINE_MAX];
	uint64_t      idle;
	int           rv;

	if (bench_ctr_map(cfg->ctr, &ctr) != 0 || wd_connect(cfg, &c) != 0) {
		return (bench_fail(cfg, "setup", "counters or connection"));
	}
	bench_tally_init(&t, cfg->nprod, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	idle = bench_now_ns();
	while ((rv = wd_pop(cfg, c, ctr, &t, &idle)) == 0) {
	}
	if (rv < 0) {
		bench_fail(cfg, "redis_blmpop", c->err ? c->errstr : wd_err);
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	redisFree(c);
	bench_ctr_unmap(ctr);
	return (rv > 0 && t.err[0] == '\0' ? 0 : -1);
}
