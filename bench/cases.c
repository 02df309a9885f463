/*
 * The case table and the throughput cases: start C consumers, then P
 * producers, start them all at once, and check that what the consumers
 * got, added up, is exactly what the producers sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "driver.h"

#define CS_START_MS 15000 /* how long workers may take to get ready */

static const size_t cs_sizes[] = { 64, 4096, 1024 * 1024 };

/* Batched calls move 100 messages, or as many 1 MiB ones as fit well in
 * one frame (the broker's default frame limit is 16 MiB). */
static uint32_t
cs_batch_for(size_t size)
{
	return (size >= 1024 * 1024 ? 4 : 100);
}

bench_case *
bench_case_add(bench_case *cases, int *n, int max, enum bench_ckind kind,
    const char *name, size_t size, uint32_t pc, uint32_t batch)
{
	bench_case *bc;

	if (*n >= max) {
		/* A silently shorter list would drop cases from every run. */
		fprintf(stderr, "ipcq-bench: more than %d cases: %s/%zu "
		                "left out (raise MAIN_MAX_CASES)\n", max, name,
		    size);
		return (NULL);
	}
	bc = &cases[(*n)++];
	memset(bc, 0, sizeof(*bc));
	bc->kind  = kind;
	bc->name  = name;
	bc->size  = size;
	bc->p     = pc;
	bc->c     = pc;
	bc->batch = batch;
	if (kind == BENCH_NNG_TPUT || kind == BENCH_IPCQ_TPUT ||
	    kind == BENCH_PEER_TPUT) {
		snprintf(bc->id, sizeof(bc->id), "%s/%zu/%ux%u", name, size,
		    pc, pc);
	} else {
		snprintf(bc->id, sizeof(bc->id), "%s/%zu", name, size);
	}
	return (bc);
}

#define cs_add(...) (void) bench_case_add(__VA_ARGS__)

int
bench_cases_build(bench_case *cases, int max)
{
	static const uint32_t pcs[] = { 1, 4 };
	int                   n     = 0;
	bench_case           *bc;

	/* Latency first, while nothing else has warmed up the machine; each
	 * ratio's two sides run next to each other. */
	cs_add(cases, &n, max, BENCH_NNG_RTT, "nng.reqrep", 64, 1, 1);
	cs_add(cases, &n, max, BENCH_IPCQ_SEND, "ipcq.send", 64, 1, 1);
	cs_add(cases, &n, max, BENCH_NNG_RTT_AIO, "nng.reqrep.aio", 64, 1, 1);
	cs_add(cases, &n, max, BENCH_IPCQ_PING, "ipcq.pingpong", 64, 1, 1);
	cs_add(cases, &n, max, BENCH_IPCQ_SEND, "ipcq.shm.send", 64, 1, 1);
	cs_add(cases, &n, max, BENCH_IPCQ_PING, "ipcq.shm.pingpong", 64, 1, 1);
	/* Spin before sleeping: both sides watch the queue for 50 us. Not
	 * in --quick: two spinners on a machine that also runs the test
	 * suite make a slow, noisy smoke test. */
	if ((bc = bench_case_add(cases, &n, max, BENCH_IPCQ_PING,
	         "ipcq.shm.pingpong.spin", 64, 1, 1)) != NULL) {
		bc->spin_us = 50;
		bc->full    = 1;
	}
	cs_add(cases, &n, max, BENCH_IPCQ_SEGBYTES, "ipcq.shm.segbytes", 64,
	    1, 1);
	for (size_t s = 0; s < sizeof(cs_sizes) / sizeof(cs_sizes[0]); s++) {
		for (int k = 0; k < 2; k++) {
			cs_add(cases, &n, max, BENCH_NNG_TPUT, "nng.pushpull",
			    cs_sizes[s], pcs[k], 1);
			cs_add(cases, &n, max, BENCH_IPCQ_TPUT, "ipcq.batched",
			    cs_sizes[s], pcs[k], cs_batch_for(cs_sizes[s]));
			cs_add(cases, &n, max, BENCH_IPCQ_TPUT,
			    "ipcq.unbatched", cs_sizes[s], pcs[k], 1);
			cs_add(cases, &n, max, BENCH_IPCQ_TPUT,
			    "ipcq.shm.batched", cs_sizes[s], pcs[k],
			    cs_batch_for(cs_sizes[s]));
			/* The same with explicit acks, one ack_batch per
			 * received batch (at-least-once's cost). */
			if (cs_sizes[s] == 64 &&
			    (bc = bench_case_add(cases, &n, max,
			         BENCH_IPCQ_TPUT, "ipcq.shm.acked", 64, pcs[k],
			         cs_batch_for(64))) != NULL) {
				bc->ack = 1;
			}
			cs_add(cases, &n, max, BENCH_IPCQ_TPUT,
			    "ipcq.shm.unbatched", cs_sizes[s], pcs[k], 1);
			/* Unbatched zero copy: the producer writes each
			 * payload into a loan and sends it, the consumer
			 * checks it in place (a view). Only 4096/1x1 in
			 * --quick. */
			if (cs_sizes[s] >= 4096 &&
			    (bc = bench_case_add(cases, &n, max,
			         BENCH_IPCQ_TPUT, "ipcq.shm.zerocopy",
			         cs_sizes[s], pcs[k], 1)) != NULL) {
				bc->zerocopy = 1;
				bc->full = cs_sizes[s] != 4096 || pcs[k] != 1;
			}
		}
	}
	/* A fresh queue (every case run has its own) from its first
	 * message: 10 000 against 100 000 messages of 4 KiB, unbatched;
	 * the ratio i8.fresh_10k_vs_100k_4096 compares their rates. */
	if ((bc = bench_case_add(cases, &n, max, BENCH_IPCQ_TPUT,
	         "ipcq.shm.fresh10k", 4096, 1, 1)) != NULL) {
		bc->count = 10000;
		bc->full  = 1;
	}
	if ((bc = bench_case_add(cases, &n, max, BENCH_IPCQ_TPUT,
	         "ipcq.shm.fresh100k", 4096, 1, 1)) != NULL) {
		bc->count = 100000;
		bc->full  = 1;
	}
	bench_peer_cases_build(cases, &n, max);
	return (n);
}

uint64_t
bench_case_timeout_ms(const bench_opts *o)
{
	/* A --count run has no known length: allow it ten grace periods. */
	return (o->count != 0 ? 10 * BENCH_GRACE_MS : o->dur_ms + BENCH_GRACE_MS);
}

uint64_t
bench_expected_hsum(uint32_t prod, uint64_t n)
{
	uint64_t h = 0;

	for (uint64_t s = 0; s < n; s++) {
		h += bench_mix(prod, s);
	}
	return (h);
}

int
bench_tally_get(const char *line, uint32_t prod, uint64_t *cnt,
    uint64_t *hsum)
{
	char               key[16], val[64];
	unsigned long long c, h;

	snprintf(key, sizeof(key), "v%" PRIu32, prod);
	if (bench_kv_str(line, key, val, sizeof(val)) != 0 ||
	    sscanf(val, "%llu:%llu", &c, &h) != 2) {
		return (-1);
	}
	*cnt  = c;
	*hsum = h;
	return (0);
}

static void
cs_tput_args(bench_args *a, const bench_opts *o, const bench_case *bc,
    const char *kind, const char *url, const char *ctr, int idx, uint32_t id)
{
	uint64_t count = bc->count != 0 ? bc->count : o->count;
	uint64_t per   = count / bc->p;

	bench_args_init(a);
	bench_args_add(a, "kind=%s", kind);
	bench_args_add(a, "url=%s", url);
	bench_args_add(a, "queue=bench-%d", idx);
	bench_args_add(a, "ctr=%s", ctr);
	bench_args_add(a, "size=%zu", bc->size);
	bench_args_add(a, "batch=%u", bc->batch);
	bench_args_add(a, "id=%u", id);
	bench_args_add(a, "nprod=%u", bc->p);
	bench_args_add(a, "ncons=%u", bc->c);
	bench_args_add(a, "count=%llu",
	    (unsigned long long) (count != 0 && per == 0 ? 1 : per));
	bench_args_add(a, "dur_ms=%llu", (unsigned long long) o->dur_ms);
	bench_case_args(a, bc);
}

void
bench_case_args(bench_args *a, const bench_case *bc)
{
	if (bc->ack != 0) {
		bench_args_add(a, "ack=%u", bc->ack);
	}
	if (bc->spin_us != 0) {
		bench_args_add(a, "spin_us=%u", bc->spin_us);
	}
	if (bc->zerocopy != 0) {
		bench_args_add(a, "zerocopy=%u", bc->zerocopy);
	}
}

/* Add the consumers' tallies up per producer and hold them against what
 * each producer sent; then the case's figures. */
static int
cs_tput_verify(const bench_group *g, bench_case *bc, char *why, size_t len)
{
	bench_fig *f  = &bc->fig[bc->round];
	uint64_t   t0 = UINT64_MAX, tl = 0, total = 0, calls = 0;

	for (uint32_t i = 0; i < bc->p; i++) {
		const char *pl = g->procs[bc->c + i].line;
		uint64_t    sent, st, cnt = 0, hs = 0;

		if (bench_kv_u64(pl, "sent", &sent) != 0 ||
		    bench_kv_u64(pl, "t0", &st) != 0) {
			snprintf(why, len, "bad_producer_line:%.900s", pl);
			return (-1);
		}
		t0 = st < t0 ? st : t0;
		for (uint32_t j = 0; j < bc->c; j++) {
			const char *cl = g->procs[j].line;
			uint64_t    c, h, t;

			if (bench_tally_get(cl, i, &c, &h) != 0 ||
			    bench_kv_u64(cl, "tl", &t) != 0) {
				snprintf(why, len, "bad_consumer_line:%.900s", cl);
				return (-1);
			}
			cnt += c;
			hs += h;
			tl = t > tl ? t : tl;
		}
		if (cnt != sent) {
			snprintf(why, len, "producer%u_sent=%" PRIu64
			    "_consumers_got=%" PRIu64, i, sent, cnt);
			return (-1);
		}
		if (hs != bench_expected_hsum(i, sent)) {
			snprintf(why, len, "producer%u_sequence_numbers_differ"
			    "(lost_and_duplicated)", i);
			return (-1);
		}
		total += sent;
	}
	for (uint32_t j = 0; j < bc->c; j++) {
		uint64_t c;

		if (bench_kv_u64(g->procs[j].line, "calls", &c) == 0) {
			calls += c;
		}
	}
	if (total == 0 || tl <= t0) {
		snprintf(why, len, "no_messages_moved");
		return (-1);
	}
	f->msg_per_s = (double) total / ((double) (tl - t0) / 1e9);
	printf("case=%s size=%zu p=%u c=%u batch=%u msgs=%" PRIu64
	       " secs=%.3f msg_per_s=%.0f MiB_per_s=%.1f per_recv=%.1f"
	       " round=%d\n",
	    bc->name, bc->size, bc->p, bc->c, bc->batch, total,
	    (double) (tl - t0) / 1e9, f->msg_per_s,
	    f->msg_per_s * (double) bc->size / (1024.0 * 1024.0),
	    calls ? (double) total / (double) calls : 0.0, bc->round + 1);
	return (0);
}

/* Shared counters for consumers that need them (no end of stream): a
 * zeroed file in the run dir. */
int
bench_ctr_file(const bench_env *env, int idx, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/ctr%d", env->dir, idx);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		return (-1);
	}
	if (ftruncate(fd, sizeof(bench_ctr)) != 0) {
		close(fd);
		return (-1);
	}
	close(fd);
	return (0);
}

static void
cs_spec_args(bench_args *a, const bench_opts *o, const bench_case *bc,
    const bench_tput_spec *sp, const char *kind, int idx, uint32_t id)
{
	cs_tput_args(a, o, bc, kind, sp->url, sp->ctr, idx, id);
	if (sp->mode != NULL) {
		bench_args_add(a, "mode=%s", sp->mode);
	}
}

static int
cs_tput_spawn(bench_group *g, const bench_env *env, const bench_opts *o,
    const bench_case *bc, int idx, const bench_tput_spec *sp)
{
	bench_args a;

	/* Consumers first: nng producers dial them, and nng_dial fails
	 * when nobody listens yet. */
	for (uint32_t i = 0; i < bc->c; i++) {
		cs_spec_args(&a, o, bc, sp, sp->cons, idx, i);
		if (bench_group_spawn(g, env, &a) != 0) {
			return (-1);
		}
	}
	if (bench_group_ready(g, 0, CS_START_MS) != 0) {
		return (-1);
	}
	for (uint32_t i = 0; i < bc->p; i++) {
		cs_spec_args(&a, o, bc, sp, sp->prod, idx, i);
		if (bench_group_spawn(g, env, &a) != 0) {
			return (-1);
		}
	}
	return (bench_group_ready(g, (int) bc->c, CS_START_MS));
}

int
bench_run_tput(const bench_env *env, const bench_opts *o, bench_case *bc,
    int idx, const bench_tput_spec *sp)
{
	bench_group g;
	char        why[BENCH_LINE_MAX];
	int         rv;

	if (bench_group_init(&g) != 0) {
		return (-1);
	}
	rv = cs_tput_spawn(&g, env, o, bc, idx, sp);
	if (rv == 0) {
		bench_group_go(&g);
		rv = bench_group_collect(&g, bench_case_timeout_ms(o));
		bench_group_release(&g);
	}
	if (bench_group_finish(&g, rv != 0) != 0) {
		rv = -1;
	}
	if (rv == 0 && cs_tput_verify(&g, bc, why, sizeof(why)) == 0) {
		return (0);
	}
	printf("case=%s size=%zu p=%u c=%u batch=%u FAIL reason=%s round=%d\n",
	    bc->name, bc->size, bc->p, bc->c, bc->batch,
	    rv != 0 ? g.err : why, bc->round + 1);
	return (-1);
}

static int
cs_run_tput(const bench_env *env, const bench_opts *o, bench_case *bc,
    int idx)
{
	bench_tput_spec sp = { .cons = "ipcq.cons", .prod = "ipcq.prod" };

	snprintf(sp.ctr, sizeof(sp.ctr), "-");
	snprintf(sp.url, sizeof(sp.url), "%s", env->url);
	if (bc->kind == BENCH_NNG_TPUT) {
		sp.cons = "nng.pull";
		sp.prod = "nng.push";
		snprintf(sp.url, sizeof(sp.url), "ipc://%s/pp%d", env->dir, idx);
		if (bench_ctr_file(env, idx, sp.ctr, sizeof(sp.ctr)) != 0) {
			printf("case=%s size=%zu FAIL reason=counters_file "
			       "round=%d\n", bc->name, bc->size, bc->round + 1);
			return (-1);
		}
	}
	return (bench_run_tput(env, o, bc, idx, &sp));
}

int
bench_case_run(const bench_env *env, const bench_opts *o, bench_case *bc,
    int uid)
{
	int rv;

	/* The ipcq cases run once per path: "ipcq.shm.*" on the
	 * shared-memory fast path (libipcq's default), the others on the
	 * socket. The workers inherit the choice through the environment. */
	if (strncmp(bc->name, "ipcq.shm.", 9) == 0) {
		unsetenv("IPCQ_TRANSPORT");
	} else {
		setenv("IPCQ_TRANSPORT", "socket", 1);
	}
	if (bc->peer) {
		rv = bench_peer_run(env, o, bc, uid);
	} else if (bc->kind == BENCH_NNG_TPUT || bc->kind == BENCH_IPCQ_TPUT) {
		rv = cs_run_tput(env, o, bc, uid);
	} else {
		rv = bench_run_lat(env, o, bc, uid);
	}
	bc->fig[bc->round].ok = rv == 0; /* > 0: skipped, not failed */
	fflush(stdout);
	return (rv);
}
