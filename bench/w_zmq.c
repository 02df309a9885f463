/*
 * ZeroMQ PUSH/PULL over ipc:// (libzmq, built only when cmake found it):
 * the same mesh as nng.pushpull — each PULL binds its own address
 * (url-N.sock), each PUSH connects to all of them and ZeroMQ spreads its
 * messages over them — and the same end rule through the shared counters
 * file, since PUSH/PULL has no end of stream either.
 *
 * Consumers add what they received to the shared counter only when they
 * go idle (ZMQ_RCVTIMEO), not per message: every consumer is idle at the
 * end, so the total is complete then, and the hot loop has no shared
 * atomic in it. A consumer's clock stops at its last message, so the
 * idle wait is not measured.
 *
 * High-water marks are set in bytes' worth of messages (about 64 MiB per
 * pipe), so that 1 MiB messages do not queue gigabytes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bench.h"

#define WZ_POLL_MS 20

static int
wz_fail(const bench_wcfg *cfg, const char *what)
{
	return (bench_fail(cfg, what, zmq_strerror(zmq_errno())));
}

static int
wz_hwm(void *s, size_t size)
{
	int hwm = (int) ((64u << 20) / size);

	hwm = hwm > 1000 ? 1000 : (hwm < 16 ? 16 : hwm);
	return (zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) ||
	    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)));
}

static int
wz_push_setup(const bench_wcfg *cfg, void *s)
{
	char addr[512];
	int  tmo = BENCH_CALL_TIMEOUT_MS;

	if (wz_hwm(s, cfg->size) != 0 ||
	    zmq_setsockopt(s, ZMQ_SNDTIMEO, &tmo, sizeof(tmo)) != 0) {
		return (-1);
	}
	for (uint32_t i = 0; i < cfg->ncons; i++) {
		snprintf(addr, sizeof(addr), "%s-%u.sock", cfg->url, i);
		if (zmq_connect(s, addr) != 0) {
			return (-1);
		}
	}
	return (0);
}

int
bench_zmq_push(const bench_wcfg *cfg)
{
	void      *ctx = zmq_ctx_new(), *s;
	bench_ctr *ctr;
	char      *buf = malloc(cfg->size);
	uint64_t   seq = 0, t0, t1;
	int        rv  = 0;

	if (buf == NULL || ctx == NULL || bench_ctr_map(cfg->ctr, &ctr) != 0) {
		return (bench_fail(cfg, "setup", "no memory or counters"));
	}
	if ((s = zmq_socket(ctx, ZMQ_PUSH)) == NULL ||
	    wz_push_setup(cfg, s) != 0) {
		return (wz_fail(cfg, "push_setup"));
	}
	bench_fill(buf, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	t0 = bench_now_ns();
	while (bench_more(cfg, seq, t0)) {
		bench_stamp(buf, cfg->id, seq);
		if (zmq_send(s, buf, cfg->size, 0) != (int) cfg->size) {
			rv = -1;
			break;
		}
		seq++;
	}
	t1 = bench_now_ns();
	atomic_fetch_add_explicit(&ctr->expected, seq, memory_order_relaxed);
	atomic_fetch_add_explicit(&ctr->done, 1, memory_order_release);
	if (rv != 0) {
		wz_fail(cfg, "zmq_send");
	} else {
		bench_report(cfg, "sent=%llu t0=%llu t1=%llu",
		    (unsigned long long) seq, (unsigned long long) t0,
		    (unsigned long long) t1);
	}
	/* Default linger is infinite: close delivers what is queued. */
	zmq_close(s);
	zmq_ctx_term(ctx);
	bench_ctr_unmap(ctr);
	free(buf);
	return (rv);
}

static int
wz_pull_loop(const bench_wcfg *cfg, void *s, bench_ctr *ctr, bench_tally *t)
{
	uint64_t   idle_since = bench_now_ns(), flushed = 0;
	zmq_msg_t  m;

	zmq_msg_init(&m);
	for (;;) {
		if (zmq_msg_recv(&m, s, 0) >= 0) {
			(void) bench_tally_add(t, zmq_msg_data(&m),
			    zmq_msg_size(&m));
			t->t_last = idle_since = bench_now_ns();
			t->calls++;
			continue;
		}
		if (zmq_errno() != EAGAIN) {
			break;
		}
		atomic_fetch_add(&ctr->received, t->total - flushed);
		flushed = t->total;
		if (atomic_load(&ctr->done) >= cfg->nprod &&
		    atomic_load(&ctr->received) >= atomic_load(&ctr->expected)) {
			zmq_msg_close(&m);
			return (0);
		}
		if (bench_now_ns() - idle_since >
		    BENCH_CALL_TIMEOUT_MS * 1000000ull) {
			break;
		}
	}
	zmq_msg_close(&m);
	return (-1);
}

int
bench_zmq_pull(const bench_wcfg *cfg)
{
	void       *ctx = zmq_ctx_new(), *s;
	bench_ctr  *ctr;
	bench_tally t;
	char        addr[512], line[BENCH_LINE_MAX];
	int         tmo = WZ_POLL_MS, rv;

	if (ctx == NULL || bench_ctr_map(cfg->ctr, &ctr) != 0) {
		return (bench_fail(cfg, "setup", "counters"));
	}
	snprintf(addr, sizeof(addr), "%s-%u.sock", cfg->url, cfg->id);
	if ((s = zmq_socket(ctx, ZMQ_PULL)) == NULL || wz_hwm(s, cfg->size) ||
	    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo)) != 0 ||
	    zmq_bind(s, addr) != 0) {
		return (wz_fail(cfg, "pull_setup"));
	}
	bench_tally_init(&t, cfg->nprod, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	if ((rv = wz_pull_loop(cfg, s, ctr, &t)) != 0) {
		wz_fail(cfg, "zmq_recv");
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	bench_ctr_unmap(ctr);
	return (rv == 0 && t.err[0] == '\0' ? 0 : -1);
}
