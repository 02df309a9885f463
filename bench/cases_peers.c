/*
 * The comparison peers' cases (issue 3, docs/bench.md "Comparison
 * peers"): the bare SPSC ring with busy-spin and futex waits, POSIX
 * message queues, ZeroMQ PUSH/PULL, Redis lists and Python's
 * multiprocessing.Queue, next to the socket path in the same run.
 *
 * A peer whose library was not found at configure time, or whose tool or
 * kernel limit is missing at run time, prints "case=... skipped
 * reason=..." and counts as skipped, never as failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "peers.h"
#include "ring.h"

static const size_t pc_sizes[] = { 64, 4096, 1024 * 1024 };

static void
pc_add(bench_case *cases, int *n, int max, enum bench_ckind kind,
    const char *name, size_t size, uint32_t pc, uint32_t batch)
{
	bench_case *bc = bench_case_add(cases, n, max, kind, name, size, pc,
	    batch);

	if (bc != NULL) {
		bc->peer = 1;
	}
}

void
bench_peer_cases_build(bench_case *cases, int *n, int max)
{
	pc_add(cases, n, max, BENCH_PEER_RTT, "ring.spin", 64, 1, 1);
	pc_add(cases, n, max, BENCH_PEER_RTT, "ring.futex", 64, 1, 1);
	pc_add(cases, n, max, BENCH_PEER_RTT, "posix.mq", 64, 1, 1);
	for (size_t i = 0; i < sizeof(pc_sizes) / sizeof(pc_sizes[0]); i++) {
		size_t s = pc_sizes[i];

		/* The ring is single-producer, single-consumer: 1x1 only. */
		pc_add(cases, n, max, BENCH_PEER_TPUT, "ring.spin", s, 1, 1);
		pc_add(cases, n, max, BENCH_PEER_TPUT, "ring.futex", s, 1, 1);
		for (uint32_t pc = 1; pc <= 4; pc += 3) {
			pc_add(cases, n, max, BENCH_PEER_TPUT, "posix.mq", s,
			    pc, 1);
			pc_add(cases, n, max, BENCH_PEER_TPUT, "zmq.pushpull",
			    s, pc, 1);
			pc_add(cases, n, max, BENCH_PEER_TPUT, "redis", s, pc,
			    s >= 1024 * 1024 ? 4 : 100);
			pc_add(cases, n, max, BENCH_PEER_TPUT, "py.mpqueue", s,
			    pc, 1);
		}
	}
}

int
bench_peer_skip(const bench_case *bc, const char *reason)
{
	if (bc->kind == BENCH_PEER_TPUT) {
		printf("case=%s size=%zu p=%u c=%u skipped reason=%s round=%d\n",
		    bc->name, bc->size, bc->p, bc->c, reason, bc->round + 1);
	} else {
		printf("case=%s size=%zu skipped reason=%s round=%d\n",
		    bc->name, bc->size, reason, bc->round + 1);
	}
	return (1);
}

int
bench_peer_fail(const bench_case *bc, const char *why)
{
	printf("case=%s size=%zu p=%u c=%u FAIL reason=%s round=%d\n",
	    bc->name, bc->size, bc->p, bc->c, why, bc->round + 1);
	return (-1);
}

/* The ring: the driver creates the segment(s), the workers map them, the
 * driver unlinks them when the case is over, whatever happened. */
static int
pc_ring(const bench_env *env, const bench_opts *o, bench_case *bc, int idx)
{
	bench_tput_spec sp = { .cons = "ring.cons", .prod = "ring.prod" };
	char            na[BENCH_URL_MAX + 4], nb[BENCH_URL_MAX + 4];
	char            why[BENCH_LINE_MAX] = "";
	int             rt = bc->kind == BENCH_PEER_RTT, rv;
	uint64_t        cap = ring_cap_for(bc->size);

	(void) env;
	sp.mode = strcmp(bc->name, "ring.futex") == 0 ? "futex" : "spin";
	snprintf(sp.ctr, sizeof(sp.ctr), "-");
	snprintf(sp.url, sizeof(sp.url), "/ipcq-bench-ring-%d-%d",
	    (int) getpid(), idx);
	snprintf(na, sizeof(na), "%s%s", sp.url, rt ? "-a" : "");
	snprintf(nb, sizeof(nb), "%s-b", sp.url);
	if ((rv = ring_create(na, cap)) != 0 ||
	    (rt && (rv = ring_create(nb, cap)) != 0)) {
		ring_unlink(na);
		snprintf(why, sizeof(why), "shm_open:%s", strerror(rv));
		return (bench_peer_skip(bc, why));
	}
	if (!rt) {
		rv = bench_run_tput(env, o, bc, idx, &sp);
	} else {
		sp.cons = "ring.pong";
		sp.prod = "ring.ping";
		rv = bench_run_pingpong(env, o, bc, idx, &sp, o->rtt, why,
		    sizeof(why));
		if (rv != 0) {
			bench_peer_fail(bc, why);
		}
	}
	ring_unlink(na);
	if (rt) {
		ring_unlink(nb);
	}
	return (rv);
}

static long
pc_proc_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long  v = -1;

	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1) {
			v = -1;
		}
		fclose(f);
	}
	return (v);
}

/* Create one queue for the case; an errno value if it cannot be had. */
static int
pc_mq_create(const char *name, size_t size)
{
	long           maxmsg = pc_proc_long("/proc/sys/fs/mqueue/msg_max");
	struct mq_attr at     = { 0 };
	mqd_t          q;

	/* The unprivileged ceiling (10 by default), whoever runs us. */
	at.mq_maxmsg  = maxmsg > 0 ? (maxmsg > 64 ? 64 : maxmsg) : 10;
	at.mq_msgsize = (long) size;
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &at);
	if (q == (mqd_t) -1) {
		return (errno);
	}
	mq_close(q);
	return (0);
}

static int
pc_mq(const bench_env *env, const bench_opts *o, bench_case *bc, int idx)
{
	bench_tput_spec sp = { .cons = "mq.cons", .prod = "mq.prod" };
	char            na[BENCH_URL_MAX + 4], nb[BENCH_URL_MAX + 4];
	char            why[BENCH_LINE_MAX] = "";
	long            lim = pc_proc_long("/proc/sys/fs/mqueue/msgsize_max");
	int             rt  = bc->kind == BENCH_PEER_RTT, rv;

	/* root could exceed msgsize_max; ordinary users cannot, so the
	 * figure would not be one a user gets: skip instead. */
	if (lim > 0 && (long) bc->size > lim) {
		snprintf(why, sizeof(why), "msgsize_max=%ld", lim);
		return (bench_peer_skip(bc, why));
	}
	snprintf(sp.url, sizeof(sp.url), "/ipcq-bench-mq-%d-%d",
	    (int) getpid(), idx);
	snprintf(na, sizeof(na), "%s%s", sp.url, rt ? "-a" : "");
	snprintf(nb, sizeof(nb), "%s-b", sp.url);
	if ((rv = pc_mq_create(na, bc->size)) != 0 ||
	    (rt && (rv = pc_mq_create(nb, bc->size)) != 0)) {
		mq_unlink(na);
		snprintf(why, sizeof(why), "mq_open:%s", strerror(rv));
		for (char *p = why; *p; p++) {
			*p = *p == ' ' ? '_' : *p;
		}
		return (bench_peer_skip(bc, why));
	}
	if (!rt) {
		rv = bench_ctr_file(env, idx, sp.ctr, sizeof(sp.ctr)) != 0
		    ? bench_peer_fail(bc, "counters_file")
		    : bench_run_tput(env, o, bc, idx, &sp);
	} else {
		sp.cons = "mq.pong";
		sp.prod = "mq.ping";
		rv = bench_run_pingpong(env, o, bc, idx, &sp, o->rtt, why,
		    sizeof(why));
		if (rv != 0) {
			bench_peer_fail(bc, why);
		}
	}
	mq_unlink(na);
	if (rt) {
		mq_unlink(nb);
	}
	return (rv);
}

static int
pc_zmq(const bench_env *env, const bench_opts *o, bench_case *bc, int idx)
{
#ifdef IPCQ_BENCH_ZMQ
	bench_tput_spec sp = { .cons = "zmq.pull", .prod = "zmq.push" };

	snprintf(sp.url, sizeof(sp.url), "ipc://%s/zmq%d", env->dir, idx);
	if (bench_ctr_file(env, idx, sp.ctr, sizeof(sp.ctr)) != 0) {
		return (bench_peer_fail(bc, "counters_file"));
	}
	return (bench_run_tput(env, o, bc, idx, &sp));
#else
	(void) env;
	(void) o;
	(void) idx;
	return (bench_peer_skip(bc, "built_without_libzmq"
	                            "(bench/install-peers.sh,_then_rerun_cmake)"));
#endif
}

static int
pc_redis(const bench_env *env, const bench_opts *o, bench_case *bc, int idx)
{
#ifdef IPCQ_BENCH_REDIS
	bench_tput_spec sp = { .cons = "redis.cons", .prod = "redis.prod" };
	char            why[256];

	if (bench_redis_start(env, sp.url, sizeof(sp.url), why,
	        sizeof(why)) != 0) {
		return (bench_peer_skip(bc, why));
	}
	if (bench_ctr_file(env, idx, sp.ctr, sizeof(sp.ctr)) != 0) {
		return (bench_peer_fail(bc, "counters_file"));
	}
	return (bench_run_tput(env, o, bc, idx, &sp));
#else
	(void) env;
	(void) o;
	(void) idx;
	return (bench_peer_skip(bc, "built_without_hiredis"
	                            "(bench/install-peers.sh,_then_rerun_cmake)"));
#endif
}

int
bench_peer_run(const bench_env *env, const bench_opts *o, bench_case *bc,
    int idx)
{
	if (strncmp(bc->name, "ring.", 5) == 0) {
		return (pc_ring(env, o, bc, idx));
	}
	if (strcmp(bc->name, "posix.mq") == 0) {
		return (pc_mq(env, o, bc, idx));
	}
	if (strcmp(bc->name, "zmq.pushpull") == 0) {
		return (pc_zmq(env, o, bc, idx));
	}
	if (strcmp(bc->name, "redis") == 0) {
		return (pc_redis(env, o, bc, idx));
	}
	return (bench_py_run(env, o, bc));
}
