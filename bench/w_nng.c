/*
 * The reference workers: plain nng over ipc://, no broker.
 *
 * PUSH/PULL P -> C is a mesh: each consumer's PULL listens on its own
 * address and each producer's PUSH dials all of them, so nng spreads each
 * producer's messages over the consumers. REQ/REP is one REQ client
 * against one blocking REP echo loop: the cheapest round trip nng offers.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"

/* How often a PULL consumer with nothing to read looks at the shared
 * counters. It only delays noticing the end, not the measured time: a
 * consumer's clock stops at its last message. */
#define NN_POLL_MS 20

static int
nn_fail(const bench_wcfg *cfg, const char *what, int rv)
{
	return (bench_fail(cfg, what, nng_strerror(rv)));
}

static int
nn_dial_all(const bench_wcfg *cfg, nng_socket s)
{
	char addr[512];
	int  rv;

	for (uint32_t i = 0; i < cfg->ncons; i++) {
		snprintf(addr, sizeof(addr), "%s-%u.sock", cfg->url, i);
		if ((rv = nng_dial(s, addr, NULL, 0)) != 0) {
			return (rv);
		}
	}
	return (0);
}

int
bench_nng_push(const bench_wcfg *cfg)
{
	nng_socket s;
	bench_ctr *ctr;
	char      *buf = malloc(cfg->size);
	uint64_t   seq = 0, t0, t1;
	int        rv;

	if (buf == NULL || bench_ctr_map(cfg->ctr, &ctr) != 0) {
		return (bench_fail(cfg, "setup", "no memory or counters"));
	}
	bench_fill(buf, cfg->size);
	if ((rv = nng_push0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO,
	         BENCH_CALL_TIMEOUT_MS)) != 0 ||
	    (rv = nn_dial_all(cfg, s)) != 0) {
		return (nn_fail(cfg, "push_setup", rv));
	}
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	t0 = bench_now_ns();
	while (bench_more(cfg, seq, t0)) {
		bench_stamp(buf, cfg->id, seq);
		if ((rv = nng_send(s, buf, cfg->size, 0)) != 0) {
			break;
		}
		seq++;
	}
	t1 = bench_now_ns();
	/* Release pairs with the consumers' acquire of done: once they see
	 * every producer done, every producer's expected is in. */
	atomic_fetch_add_explicit(&ctr->expected, seq, memory_order_relaxed);
	atomic_fetch_add_explicit(&ctr->done, 1, memory_order_release);
	if (rv != 0) {
		nn_fail(cfg, "nng_send", rv);
	} else {
		bench_report(cfg, "sent=%llu t0=%llu t1=%llu",
		    (unsigned long long) seq, (unsigned long long) t0,
		    (unsigned long long) t1);
	}
	/* nng_close does not linger: messages still queued in the socket
	 * would be dropped, so close only once the consumers have them. */
	bench_wait_release(cfg);
	nng_close(s);
	bench_ctr_unmap(ctr);
	free(buf);
	return (rv == 0 ? 0 : -1);
}

static int
nn_pull_done(bench_ctr *ctr, uint32_t nprod)
{
	if (atomic_load_explicit(&ctr->done, memory_order_acquire) < nprod) {
		return (0);
	}
	return (atomic_load_explicit(&ctr->received, memory_order_relaxed) >=
	    atomic_load_explicit(&ctr->expected, memory_order_relaxed));
}

static int
nn_pull_loop(const bench_wcfg *cfg, nng_socket s, bench_ctr *ctr,
    bench_tally *t)
{
	uint64_t idle_since = bench_now_ns();
	nng_msg *m;
	int      rv;

	while (!nn_pull_done(ctr, cfg->nprod)) {
		if ((rv = nng_recvmsg(s, &m, 0)) == NNG_ETIMEDOUT) {
			if (bench_now_ns() - idle_since >
			    BENCH_CALL_TIMEOUT_MS * 1000000ull) {
				return (rv);
			}
			continue;
		}
		if (rv != 0) {
			return (rv);
		}
		(void) bench_tally_add(t, nng_msg_body(m), nng_msg_len(m));
		t->t_last = idle_since = bench_now_ns();
		t->calls++;
		nng_msg_free(m);
		atomic_fetch_add_explicit(&ctr->received, 1,
		    memory_order_relaxed);
	}
	return (0);
}

int
bench_nng_pull(const bench_wcfg *cfg)
{
	nng_socket  s;
	bench_ctr  *ctr;
	bench_tally t;
	char        addr[512], line[BENCH_LINE_MAX];
	int         rv;

	if (bench_ctr_map(cfg->ctr, &ctr) != 0) {
		return (bench_fail(cfg, "setup", "counters"));
	}
	snprintf(addr, sizeof(addr), "%s-%u.sock", cfg->url, cfg->id);
	if ((rv = nng_pull0_open(&s)) != 0 ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ,
	         cfg->size + 4096)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, NN_POLL_MS)) != 0 ||
	    (rv = nng_listen(s, addr, NULL, 0)) != 0) {
		return (nn_fail(cfg, "pull_setup", rv));
	}
	bench_tally_init(&t, cfg->nprod, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	if ((rv = nn_pull_loop(cfg, s, ctr, &t)) != 0) {
		nn_fail(cfg, "nng_recv", rv);
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	nng_close(s);
	bench_ctr_unmap(ctr);
	return (rv == 0 && t.err[0] == '\0' ? 0 : -1);
}

int
bench_nng_rep(const bench_wcfg *cfg)
{
	nng_socket s;
	nng_msg   *m;
	uint64_t   n = 0, total = cfg->warmup + cfg->count;
	int        rv;

	if ((rv = nng_rep0_open(&s)) != 0 ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ,
	         cfg->size + 4096)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO,
	         BENCH_CALL_TIMEOUT_MS)) != 0 ||
	    (rv = nng_listen(s, cfg->url, NULL, 0)) != 0) {
		return (nn_fail(cfg, "rep_setup", rv));
	}
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	/* Echo: the request message goes straight back as the reply. */
	for (; n < total; n++) {
		if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
			break;
		}
		if ((rv = nng_sendmsg(s, m, 0)) != 0) {
			nng_msg_free(m);
			break;
		}
	}
	if (rv != 0) {
		nn_fail(cfg, "rep", rv);
	} else {
		bench_report(cfg, "served=%llu", (unsigned long long) n);
	}
	bench_wait_release(cfg); /* the last reply must leave first */
	nng_close(s);
	return (rv == 0 ? 0 : -1);
}

static int
nn_req_one(nng_socket s, const void *buf, size_t size, uint64_t seq)
{
	nng_msg *m;
	int      rv;

	if ((rv = nng_send(s, (void *) buf, size, 0)) != 0 ||
	    (rv = nng_recvmsg(s, &m, 0)) != 0) {
		return (rv);
	}
	if (nng_msg_len(m) != size || bench_seq_of(nng_msg_body(m)) != seq) {
		rv = NNG_EPROTO;
	}
	nng_msg_free(m);
	return (rv);
}

int
bench_nng_req(const bench_wcfg *cfg)
{
	nng_socket s;
	bench_lat  lat;
	char      *buf = malloc(cfg->size), line[BENCH_LINE_MAX];
	int        rv  = 0;

	if (buf == NULL || bench_lat_init(&lat, cfg->count) != 0) {
		return (bench_fail(cfg, "setup", "no memory"));
	}
	bench_fill(buf, cfg->size);
	/* No resend: a slow reply must not turn into a second request. */
	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME,
	         NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ,
	         cfg->size + 4096)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO,
	         BENCH_CALL_TIMEOUT_MS)) != 0 ||
	    (rv = nng_dial(s, cfg->url, NULL, 0)) != 0) {
		return (nn_fail(cfg, "req_setup", rv));
	}
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	for (uint64_t i = 0; i < cfg->warmup + cfg->count; i++) {
		uint64_t t0;

		bench_stamp(buf, 0, i);
		t0 = bench_now_ns();
		if ((rv = nn_req_one(s, buf, cfg->size, i)) != 0) {
			break;
		}
		if (i >= cfg->warmup) {
			bench_lat_add(&lat, bench_now_ns() - t0);
		}
	}
	if (rv != 0) {
		nn_fail(cfg, "req", rv);
	} else {
		bench_lat_format(&lat, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	nng_close(s);
	bench_lat_fini(&lat);
	free(buf);
	return (rv == 0 ? 0 : -1);
}
