/*
 * The ipcq workers: producers, consumers and latency clients that go
 * through the broker with libipcq. They use only ipcq.h.
 *
 * Every producer registers as one at open and the queue declares
 * expected_producers, so the stream ends exactly when all of a case's
 * producers have called ipcq_queue_end, and consumers stop at IPCQ_EOF:
 * end of stream is the broker's job here, not the benchmark's.
 *
 * With zerocopy=1 (unbatched only) the producer loans each message and
 * writes the whole payload into the loan (the pattern buffer copied in,
 * then stamped: the same bytes, written the same way, as a send or the
 * ring's ring_put), and the consumer checks each one in place through a
 * view (ipcq_queue_recv_view) before freeing it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ipcq.h"

static int
iq_fail(const bench_wcfg *cfg, const char *what, int err)
{
	return (bench_fail(cfg, what, ipcq_err_name(err)));
}

static int
iq_connect(const bench_wcfg *cfg, ipcq_client **c)
{
	ipcq_client_opts o;

	ipcq_client_opts_init(&o);
	o.url                = cfg->url;
	o.connect_timeout_ms = 5000;
	return (ipcq_client_open(c, &o));
}

/* Every worker of a case opens its queues with the same options, so it
 * does not matter which of them creates the queue. */
static int
iq_open(ipcq_queue **q, ipcq_client *c, const char *name, int roles,
    const bench_wcfg *cfg)
{
	ipcq_queue_opts o;

	/* Broker default bounds: the throughput cases measure the queue as
	 * users get it, producers blocking when it is full. */
	ipcq_queue_opts_init(&o);
	o.roles              = roles;
	o.expected_producers = cfg->nprod;
	o.spin_us            = cfg->spin_us;
	/* ack_mode belongs to the handle: only consumers ask for it. */
	if (cfg->ack != 0 && (roles & IPCQ_ROLE_CONSUMER) != 0) {
		o.ack_mode = IPCQ_ACK_EXPLICIT;
	}
	return (ipcq_queue_open(q, c, name, &o));
}

/* One message, zero copy: loan, write the payload, send the loan. */
static int
iq_send_loan(ipcq_queue *q, const bench_wcfg *cfg, char *buf, uint64_t *seq)
{
	ipcq_msg *m;
	void     *p;
	int       rv;

	rv = ipcq_msg_loan(&m, q, cfg->size, BENCH_CALL_TIMEOUT_MS);
	if (rv != 0) {
		return (rv);
	}
	if ((p = ipcq_msg_buffer(m)) == NULL) {
		ipcq_msg_free(m);
		return (IPCQ_EINVAL);
	}
	bench_stamp(buf, cfg->id, *seq);
	memcpy(p, buf, cfg->size);
	if ((rv = ipcq_queue_send_loan(q, m, BENCH_CALL_TIMEOUT_MS)) == 0) {
		(*seq)++;
	}
	return (rv);
}

static int
iq_send_some(ipcq_queue *q, const bench_wcfg *cfg, char *bufs,
    ipcq_iov *iov, uint64_t *seq)
{
	size_t n = cfg->batch, sent = 0;
	int    rv;

	if (cfg->zerocopy != 0) {
		return (iq_send_loan(q, cfg, bufs, seq));
	}
	if (n == 1) {
		bench_stamp(bufs, cfg->id, *seq);
		if ((rv = ipcq_queue_send(q, bufs, cfg->size,
		         BENCH_CALL_TIMEOUT_MS)) == 0) {
			(*seq)++;
		}
		return (rv);
	}
	if (cfg->count != 0 && cfg->count - *seq < n) {
		n = (size_t) (cfg->count - *seq);
	}
	for (size_t k = 0; k < n; k++) {
		bench_stamp(bufs + k * cfg->size, cfg->id, *seq + k);
	}
	rv = ipcq_queue_send_batch(q, iov, n, &sent, BENCH_CALL_TIMEOUT_MS);
	*seq += sent;
	return (rv);
}

int
bench_ipcq_prod(const bench_wcfg *cfg)
{
	ipcq_client *c;
	ipcq_queue  *q;
	char        *bufs = malloc(cfg->size * cfg->batch);
	ipcq_iov    *iov  = calloc(cfg->batch, sizeof(*iov));
	uint64_t     seq  = 0, t0, t1;
	int          rv;

	if (bufs == NULL || iov == NULL) {
		return (bench_fail(cfg, "setup", "no memory"));
	}
	if (cfg->zerocopy != 0 && cfg->batch != 1) {
		return (bench_fail(cfg, "setup", "zerocopy is unbatched only"));
	}
	for (uint32_t k = 0; k < cfg->batch; k++) {
		bench_fill(bufs + k * cfg->size, cfg->size);
		iov[k].data = bufs + k * cfg->size;
		iov[k].len  = cfg->size;
	}
	if ((rv = iq_connect(cfg, &c)) != 0) {
		return (iq_fail(cfg, "client_open", rv));
	}
	if ((rv = iq_open(&q, c, cfg->queue, IPCQ_ROLE_PRODUCER, cfg)) != 0) {
		return (iq_fail(cfg, "queue_open", rv));
	}
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	t0 = bench_now_ns();
	while (rv == 0 && bench_more(cfg, seq, t0)) {
		rv = iq_send_some(q, cfg, bufs, iov, &seq);
	}
	t1 = bench_now_ns();
	if (rv != 0 || (rv = ipcq_queue_end(q)) != 0) {
		iq_fail(cfg, "send", rv);
	} else {
		bench_report(cfg, "sent=%llu t0=%llu t1=%llu",
		    (unsigned long long) seq, (unsigned long long) t0,
		    (unsigned long long) t1);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
	free(iov);
	free(bufs);
	return (rv == 0 ? 0 : -1);
}

/* Receive until IPCQ_EOF, unbatched (batch 1) or batched; with
 * zerocopy=1 one view at a time, checked in place. With ack=1
 * (IPCQ_ACK_EXPLICIT) every received batch is acked with one
 * ipcq_queue_ack_batch after it has been tallied. */
static int
iq_drain(const bench_wcfg *cfg, ipcq_queue *q, ipcq_msg **msgs,
    bench_tally *t)
{
	size_t n;
	int    rv;

	for (;;) {
		if (cfg->zerocopy != 0) {
			rv = ipcq_queue_recv_view(q, &msgs[0],
			    BENCH_CALL_TIMEOUT_MS);
			n  = 1;
		} else if (cfg->batch == 1) {
			rv = ipcq_queue_recv(q, &msgs[0], BENCH_CALL_TIMEOUT_MS);
			n  = 1;
		} else {
			rv = ipcq_queue_recv_batch(q, msgs, cfg->batch, &n,
			    BENCH_CALL_TIMEOUT_MS);
		}
		if (rv == IPCQ_EOF) {
			return (0);
		}
		if (rv != 0) {
			return (rv);
		}
		t->t_last = bench_now_ns();
		t->calls++;
		for (size_t k = 0; k < n; k++) {
			(void) bench_tally_add(t, ipcq_msg_data(msgs[k]),
			    ipcq_msg_size(msgs[k]));
		}
		rv = cfg->ack != 0 ? ipcq_queue_ack_batch(q, msgs, n) : 0;
		for (size_t k = 0; k < n; k++) {
			ipcq_msg_free(msgs[k]);
		}
		if (rv != 0) {
			return (rv);
		}
	}
}

int
bench_ipcq_cons(const bench_wcfg *cfg)
{
	ipcq_client *c;
	ipcq_queue  *q;
	ipcq_msg   **msgs = calloc(cfg->batch, sizeof(*msgs));
	bench_tally  t;
	char         line[BENCH_LINE_MAX];
	int          rv;

	if (msgs == NULL) {
		return (bench_fail(cfg, "setup", "no memory"));
	}
	if (cfg->zerocopy != 0 && (cfg->batch != 1 || cfg->ack != 0)) {
		return (bench_fail(cfg, "setup",
		    "zerocopy is unbatched, auto-ack"));
	}
	if ((rv = iq_connect(cfg, &c)) != 0) {
		return (iq_fail(cfg, "client_open", rv));
	}
	if ((rv = iq_open(&q, c, cfg->queue, IPCQ_ROLE_CONSUMER, cfg)) != 0) {
		return (iq_fail(cfg, "queue_open", rv));
	}
	bench_tally_init(&t, cfg->nprod, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	if ((rv = iq_drain(cfg, q, msgs, &t)) != 0) {
		iq_fail(cfg, "recv", rv);
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
	free(msgs);
	return (rv == 0 && t.err[0] == '\0' ? 0 : -1);
}
