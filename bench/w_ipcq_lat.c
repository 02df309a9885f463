/*
 * ipcq latency workers.
 *
 * sendrtt times single ipcq_queue_send calls: each is one REQ/REP round
 * trip to the broker, the twin of the plain nng REQ/REP case. Nobody
 * consumes while it runs (the driver drains and verifies the queue
 * afterwards), so the broker does only the enqueue.
 *
 * ping/pong: A sends on q1, B receives it and sends it back on q2, A
 * receives it. One sample is A's whole cycle: four broker round trips
 * and two hand-offs between parked requests (on the socket path), or
 * two sends and two receives on the queues' segments (shared memory).
 * spin_us=N (ipcq.shm.pingpong.spin) makes both sides watch the queue
 * for N us before they sleep.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "ipcq.h"

static int
lat_fail(const bench_wcfg *cfg, const char *what, int err)
{
	return (bench_fail(cfg, what, ipcq_err_name(err)));
}

static int
lat_open(ipcq_queue **q, ipcq_client *c, const char *name, int roles,
    uint64_t max_messages, const bench_wcfg *cfg)
{
	ipcq_queue_opts o;
	size_t          size = max_messages != 0 ? cfg->size : 0;

	ipcq_queue_opts_init(&o);
	o.roles              = roles;
	o.expected_producers = 1;
	o.max_messages       = max_messages;
	o.spin_us            = cfg->spin_us;
	/* Room for every message of the send-latency case, which nobody
	 * consumes until it is done (only huge counts need more bytes). */
	if (max_messages * size > (32u << 20)) {
		o.max_bytes = max_messages * size + (1u << 20);
	}
	return (ipcq_queue_open(q, c, name, &o));
}

static int
lat_connect(const bench_wcfg *cfg, ipcq_client **c)
{
	ipcq_client_opts o;

	ipcq_client_opts_init(&o);
	o.url                = cfg->url;
	o.connect_timeout_ms = 5000;
	return (ipcq_client_open(c, &o));
}

/* Shared tail: report the samples (or the error) and release. */
static int
lat_finish(const bench_wcfg *cfg, int rv, const char *what, bench_lat *lat,
    uint64_t done)
{
	char line[BENCH_LINE_MAX];

	if (rv != 0) {
		lat_fail(cfg, what, rv);
	} else {
		bench_lat_format(lat, line, sizeof(line));
		bench_report(cfg, "%s sent=%llu", line,
		    (unsigned long long) done);
	}
	bench_lat_fini(lat);
	return (rv == 0 ? 0 : -1);
}

int
bench_ipcq_sendrtt(const bench_wcfg *cfg)
{
	ipcq_client *c;
	ipcq_queue  *q;
	bench_lat    lat;
	char        *buf   = malloc(cfg->size);
	uint64_t     total = cfg->warmup + cfg->count, i = 0;
	int          rv;

	if (buf == NULL || bench_lat_init(&lat, cfg->count) != 0) {
		return (bench_fail(cfg, "setup", "no memory"));
	}
	bench_fill(buf, cfg->size);
	if ((rv = lat_connect(cfg, &c)) != 0 ||
	    (rv = lat_open(&q, c, cfg->queue, IPCQ_ROLE_PRODUCER,
	         total + 1, cfg)) != 0) {
		return (lat_fail(cfg, "setup", rv));
	}
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	for (; i < total; i++) {
		uint64_t t0;

		bench_stamp(buf, 0, i);
		t0 = bench_now_ns();
		if ((rv = ipcq_queue_send(q, buf, cfg->size,
		         BENCH_CALL_TIMEOUT_MS)) != 0) {
			break;
		}
		if (i >= cfg->warmup) {
			bench_lat_add(&lat, bench_now_ns() - t0);
		}
	}
	if (rv == 0) {
		rv = ipcq_queue_end(q);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
	free(buf);
	return (lat_finish(cfg, rv, "send", &lat, i));
}

/* One ping: send seq on q1, wait for it to come back on q2. */
static int
lat_ping_one(ipcq_queue *q1, ipcq_queue *q2, char *buf, size_t size,
    uint64_t seq)
{
	ipcq_msg *m;
	int       rv;

	bench_stamp(buf, 0, seq);
	if ((rv = ipcq_queue_send(q1, buf, size, BENCH_CALL_TIMEOUT_MS)) != 0 ||
	    (rv = ipcq_queue_recv(q2, &m, BENCH_CALL_TIMEOUT_MS)) != 0) {
		return (rv);
	}
	if (ipcq_msg_size(m) != size || bench_seq_of(ipcq_msg_data(m)) != seq) {
		rv = IPCQ_EPROTO;
	}
	ipcq_msg_free(m);
	return (rv);
}

int
bench_ipcq_ping(const bench_wcfg *cfg)
{
	ipcq_client *c;
	ipcq_queue  *q1, *q2;
	ipcq_msg    *m;
	bench_lat    lat;
	char        *buf = malloc(cfg->size);
	uint64_t     i   = 0;
	int          rv;

	if (buf == NULL || bench_lat_init(&lat, cfg->count) != 0) {
		return (bench_fail(cfg, "setup", "no memory"));
	}
	bench_fill(buf, cfg->size);
	if ((rv = lat_connect(cfg, &c)) != 0 ||
	    (rv = lat_open(&q1, c, cfg->queue, IPCQ_ROLE_PRODUCER, 0, cfg)) != 0 ||
	    (rv = lat_open(&q2, c, cfg->queue2, IPCQ_ROLE_CONSUMER, 0, cfg)) != 0) {
		return (lat_fail(cfg, "setup", rv));
	}
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	for (; i < cfg->warmup + cfg->count; i++) {
		uint64_t t0 = bench_now_ns();

		if ((rv = lat_ping_one(q1, q2, buf, cfg->size, i)) != 0) {
			break;
		}
		if (i >= cfg->warmup) {
			bench_lat_add(&lat, bench_now_ns() - t0);
		}
	}
	/* End q1; the ponger then ends q2, and our EOF on q2 says it is
	 * finished with everything. */
	if (rv == 0 && (rv = ipcq_queue_end(q1)) == 0) {
		rv = ipcq_queue_recv(q2, &m, BENCH_CALL_TIMEOUT_MS);
		if (rv == 0) {
			ipcq_msg_free(m);
			rv = IPCQ_EPROTO; /* an extra message */
		} else if (rv == IPCQ_EOF) {
			rv = 0;
		}
	}
	ipcq_queue_close(q1);
	ipcq_queue_close(q2);
	ipcq_client_close(c);
	free(buf);
	return (lat_finish(cfg, rv, "ping", &lat, i));
}

static int
lat_pong_loop(ipcq_queue *q1, ipcq_queue *q2, bench_tally *t)
{
	ipcq_msg *m;
	int       rv;

	while ((rv = ipcq_queue_recv(q1, &m, BENCH_CALL_TIMEOUT_MS)) == 0) {
		(void) bench_tally_add(t, ipcq_msg_data(m), ipcq_msg_size(m));
		t->t_last = bench_now_ns();
		rv = ipcq_queue_send(q2, ipcq_msg_data(m), ipcq_msg_size(m),
		    BENCH_CALL_TIMEOUT_MS);
		ipcq_msg_free(m);
		if (rv != 0) {
			return (rv);
		}
	}
	return (rv == IPCQ_EOF ? ipcq_queue_end(q2) : rv);
}

int
bench_ipcq_pong(const bench_wcfg *cfg)
{
	ipcq_client *c;
	ipcq_queue  *q1, *q2;
	bench_tally  t;
	char         line[BENCH_LINE_MAX];
	int          rv;

	if ((rv = lat_connect(cfg, &c)) != 0 ||
	    (rv = lat_open(&q1, c, cfg->queue, IPCQ_ROLE_CONSUMER, 0, cfg)) != 0 ||
	    (rv = lat_open(&q2, c, cfg->queue2, IPCQ_ROLE_PRODUCER, 0, cfg)) != 0) {
		return (lat_fail(cfg, "setup", rv));
	}
	bench_tally_init(&t, 1, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	if ((rv = lat_pong_loop(q1, q2, &t)) != 0) {
		lat_fail(cfg, "pong", rv);
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	ipcq_queue_close(q1);
	ipcq_queue_close(q2);
	ipcq_client_close(c);
	return (rv == 0 && t.err[0] == '\0' ? 0 : -1);
}
