/*
 * The latency cases: plain nng REQ/REP, one ipcq_queue_send, and the
 * ipcq ping-pong. Each prints percentiles of its timed round trips and
 * checks that every message it sent arrived exactly once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"
#include "ipcqi_seg.h" /* the layout constants, for the segment case */

#define CL_START_MS 15000

/* Untimed round trips first: connections, caches and allocators settle. */
static uint64_t
cl_warmup(const bench_opts *o)
{
	uint64_t w = o->rtt / 10;

	return (w > 1000 ? 1000 : (w < 10 ? 10 : w));
}

static void
cl_args(bench_args *a, const bench_opts *o, const char *kind,
    const char *url, int idx, uint64_t count)
{
	bench_args_init(a);
	bench_args_add(a, "kind=%s", kind);
	bench_args_add(a, "url=%s", url);
	bench_args_add(a, "queue=bench-%d", idx);
	bench_args_add(a, "queue2=bench-%d-back", idx);
	bench_args_add(a, "size=64");
	bench_args_add(a, "count=%llu", (unsigned long long) count);
	bench_args_add(a, "warmup=%llu", (unsigned long long) cl_warmup(o));
}

/* Spawn one worker and wait until it is ready. */
static int
cl_spawn(bench_group *g, const bench_env *env, const bench_args *a)
{
	if (bench_group_spawn(g, env, a) != 0) {
		snprintf(g->err, sizeof(g->err), "spawn_failed");
		return (-1);
	}
	return (bench_group_ready(g, g->n - 1, CL_START_MS));
}

/* Start the (ready) group, collect, release, reap. */
static int
cl_run(bench_group *g, const bench_opts *o, int rv)
{
	if (rv == 0) {
		bench_group_go(g);
		rv = bench_group_collect(g, bench_case_timeout_ms(o));
		bench_group_release(g);
	}
	if (bench_group_finish(g, rv != 0) != 0) {
		rv = -1;
	}
	return (rv);
}

/* A consumer line must hold exactly n messages 0..n-1 of producer 0. */
static int
cl_check_tally(const char *line, uint64_t n, char *why, size_t len)
{
	uint64_t c, h;

	if (bench_tally_get(line, 0, &c, &h) != 0) {
		snprintf(why, len, "bad_consumer_line:%.900s", line);
		return (-1);
	}
	if (c != n || h != bench_expected_hsum(0, n)) {
		snprintf(why, len, "sent=%" PRIu64 "_received=%" PRIu64
		    "%s", n, c, c == n ? "_sequence_numbers_differ" : "");
		return (-1);
	}
	return (0);
}

/* Print the percentiles a latency client reported. */
static int
cl_print(bench_case *bc, const char *line, char *why, size_t len)
{
	bench_fig *f = &bc->fig[bc->round];
	uint64_t   n, p50, p99, p999, mean, max;

	if (bench_kv_u64(line, "n", &n) != 0 ||
	    bench_kv_u64(line, "p50", &p50) != 0 ||
	    bench_kv_u64(line, "p99", &p99) != 0 ||
	    bench_kv_u64(line, "p999", &p999) != 0 ||
	    bench_kv_u64(line, "mean", &mean) != 0 ||
	    bench_kv_u64(line, "max", &max) != 0 || n == 0) {
		snprintf(why, len, "bad_latency_line:%.900s", line);
		return (-1);
	}
	f->p50_us  = (double) p50 / 1e3;
	f->p99_us  = (double) p99 / 1e3;
	f->p999_us = (double) p999 / 1e3;
	printf("case=%s size=%zu n=%" PRIu64 " p50_us=%.1f p99_us=%.1f "
	       "p999_us=%.1f mean_us=%.1f max_us=%.1f round=%d\n",
	    bc->name, bc->size, n, f->p50_us, f->p99_us, f->p999_us,
	    (double) mean / 1e3, (double) max / 1e3, bc->round + 1);
	return (0);
}

static int
cl_reqrep(const bench_env *env, const bench_opts *o, bench_case *bc,
    int idx, char *why, size_t len)
{
	bench_group g;
	bench_args  a;
	char        url[BENCH_URL_MAX];
	int         rv;

	snprintf(url, sizeof(url), "ipc://%s/rr%d.sock", env->dir, idx);
	if (bench_group_init(&g) != 0) {
		return (-1);
	}
	cl_args(&a, o, bc->kind == BENCH_NNG_RTT ? "nng.rep" : "nng.repaio",
	    url, idx, o->rtt);
	rv = cl_spawn(&g, env, &a);
	cl_args(&a, o, "nng.req", url, idx, o->rtt);
	rv = rv != 0 ? rv : cl_spawn(&g, env, &a);
	if ((rv = cl_run(&g, o, rv)) != 0) {
		snprintf(why, len, "%s", g.err);
		return (-1);
	}
	return (cl_print(bc, g.procs[1].line, why, len));
}

/* The sender runs alone; then a consumer drains the queue and checks
 * every message is there once. */
static int
cl_send(const bench_env *env, const bench_opts *o, bench_case *bc, int idx,
    char *why, size_t len)
{
	bench_group g;
	bench_args  a;
	char        line[BENCH_LINE_MAX];
	int         rv;

	if (bench_group_init(&g) != 0) {
		return (-1);
	}
	cl_args(&a, o, "ipcq.sendrtt", env->url, idx, o->rtt);
	if ((rv = cl_run(&g, o, cl_spawn(&g, env, &a))) != 0) {
		snprintf(why, len, "%s", g.err);
		return (-1);
	}
	snprintf(line, sizeof(line), "%s", g.procs[0].line);
	if (bench_group_init(&g) != 0) {
		return (-1);
	}
	cl_args(&a, o, "ipcq.cons", env->url, idx, 0);
	bench_args_add(&a, "batch=100");
	if ((rv = cl_run(&g, o, cl_spawn(&g, env, &a))) != 0) {
		snprintf(why, len, "drain:%.900s", g.err);
		return (-1);
	}
	if (cl_check_tally(g.procs[0].line, o->rtt + cl_warmup(o), why,
	        len) != 0) {
		return (-1);
	}
	return (cl_print(bc, line, why, len));
}

/* Segment space per queued message: a producer sends CL_SEG_MSGS
 * messages nobody consumes and reads the ring's use (tail - head) from
 * the queue's segment file; that must be what the layout constants say
 * (a record header, the payload rounded up to the record alignment).
 * Then a consumer drains the queue and checks every message is there. */
#define CL_SEG_MSGS 1000

static int
cl_segbytes(const bench_env *env, const bench_opts *o, bench_case *bc,
    int idx, char *why, size_t len)
{
	bench_group g;
	bench_args  a;
	char        line[BENCH_LINE_MAX];
	uint64_t    sent, used, layout;
	double      per;
	int         rv;

	if (bench_group_init(&g) != 0) {
		return (-1);
	}
	cl_args(&a, o, "ipcq.segbytes", env->url, idx, CL_SEG_MSGS);
	bench_args_add(&a, "size=%zu", bc->size);
	bench_args_add(&a, "warmup=0");
	if ((rv = cl_run(&g, o, cl_spawn(&g, env, &a))) != 0) {
		snprintf(why, len, "%s", g.err);
		return (-1);
	}
	snprintf(line, sizeof(line), "%s", g.procs[0].line);
	if (bench_group_init(&g) != 0) {
		return (-1);
	}
	cl_args(&a, o, "ipcq.cons", env->url, idx, 0);
	bench_args_add(&a, "size=%zu", bc->size);
	bench_args_add(&a, "batch=100");
	if ((rv = cl_run(&g, o, cl_spawn(&g, env, &a))) != 0) {
		snprintf(why, len, "drain:%.900s", g.err);
		return (-1);
	}
	if (cl_check_tally(g.procs[0].line, CL_SEG_MSGS, why, len) != 0) {
		return (-1);
	}
	if (bench_kv_u64(line, "sent", &sent) != 0 ||
	    bench_kv_u64(line, "used", &used) != 0 || sent == 0) {
		snprintf(why, len, "bad_segbytes_line:%.900s", line);
		return (-1);
	}
	layout = IPCQI_SEG_REC_BYTES + (bc->size + IPCQI_SEG_ALIGN - 1) /
	    IPCQI_SEG_ALIGN * IPCQI_SEG_ALIGN;
	per = (double) used / (double) sent;
	if (used != layout * sent) {
		snprintf(why, len, "measured_%.2f_bytes_per_msg_layout_says_%"
		    PRIu64, per, layout);
		return (-1);
	}
	bc->fig[bc->round].value = per;
	printf("case=%s size=%zu msgs=%" PRIu64 " ring_used=%" PRIu64
	       " layout_bytes_per_msg=%" PRIu64 " shm.bytes_per_%zuB_msg=%g"
	       " round=%d\n", bc->name, bc->size, sent, used, layout, bc->size,
	    per, bc->round + 1);
	return (0);
}

/* sp->cons is the pong (tallies and echoes), sp->prod the ping. */
int
bench_run_pingpong(const bench_env *env, const bench_opts *o,
    bench_case *bc, int idx, const bench_tput_spec *sp, uint64_t n,
    char *why, size_t len)
{
	bench_group g;
	bench_args  a;
	int         rv;

	if (bench_group_init(&g) != 0) {
		return (-1);
	}
	cl_args(&a, o, sp->cons, sp->url, idx, n);
	if (sp->mode != NULL) {
		bench_args_add(&a, "mode=%s", sp->mode);
	}
	bench_case_args(&a, bc);
	rv = cl_spawn(&g, env, &a);
	cl_args(&a, o, sp->prod, sp->url, idx, n);
	if (sp->mode != NULL) {
		bench_args_add(&a, "mode=%s", sp->mode);
	}
	bench_case_args(&a, bc);
	rv = rv != 0 ? rv : cl_spawn(&g, env, &a);
	if ((rv = cl_run(&g, o, rv)) != 0) {
		snprintf(why, len, "%s", g.err);
		return (-1);
	}
	if (cl_check_tally(g.procs[0].line, n + cl_warmup(o), why, len) != 0) {
		return (-1);
	}
	return (cl_print(bc, g.procs[1].line, why, len));
}

static int
cl_ping(const bench_env *env, const bench_opts *o, bench_case *bc, int idx,
    char *why, size_t len)
{
	bench_tput_spec sp = { .cons = "ipcq.pong", .prod = "ipcq.ping" };

	snprintf(sp.url, sizeof(sp.url), "%s", env->url);
	/* 4 round trips each */
	return (bench_run_pingpong(env, o, bc, idx, &sp,
	    o->rtt / 2 ? o->rtt / 2 : 1, why, len));
}

int
bench_run_lat(const bench_env *env, const bench_opts *o, bench_case *bc,
    int idx)
{
	char why[BENCH_LINE_MAX] = "";
	int  rv;

	switch (bc->kind) {
	case BENCH_NNG_RTT:
	case BENCH_NNG_RTT_AIO:
		rv = cl_reqrep(env, o, bc, idx, why, sizeof(why));
		break;
	case BENCH_IPCQ_SEND:
		rv = cl_send(env, o, bc, idx, why, sizeof(why));
		break;
	case BENCH_IPCQ_SEGBYTES:
		rv = cl_segbytes(env, o, bc, idx, why, sizeof(why));
		break;
	default:
		rv = cl_ping(env, o, bc, idx, why, sizeof(why));
		break;
	}
	if (rv != 0) {
		printf("case=%s size=%zu FAIL reason=%s round=%d\n", bc->name,
		    bc->size, why[0] != '\0' ? why : "setup", bc->round + 1);
	}
	return (rv);
}
