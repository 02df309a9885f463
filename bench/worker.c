/*
 * Worker process entry: parse key=value arguments, dispatch on kind. The
 * worker's own figures go to the driver as one line on fd_out; errors go
 * there too (err=...), so the driver can print why a case failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const struct {
	const char *kind;
	int (*run)(const bench_wcfg *);
} worker_kinds[] = {
	{ "nng.push", bench_nng_push },
	{ "nng.pull", bench_nng_pull },
	{ "nng.rep", bench_nng_rep },
	{ "nng.req", bench_nng_req },
	{ "nng.repaio", bench_nng_repaio },
	{ "ipcq.prod", bench_ipcq_prod },
	{ "ipcq.cons", bench_ipcq_cons },
	{ "ipcq.sendrtt", bench_ipcq_sendrtt },
	{ "ipcq.ping", bench_ipcq_ping },
	{ "ipcq.pong", bench_ipcq_pong },
	{ "ipcq.segbytes", bench_ipcq_segbytes },
	{ "ring.prod", bench_ring_prod },
	{ "ring.cons", bench_ring_cons },
	{ "ring.ping", bench_ring_ping },
	{ "ring.pong", bench_ring_pong },
	{ "mq.prod", bench_mq_prod },
	{ "mq.cons", bench_mq_cons },
	{ "mq.ping", bench_mq_ping },
	{ "mq.pong", bench_mq_pong },
#ifdef IPCQ_BENCH_ZMQ
	{ "zmq.push", bench_zmq_push },
	{ "zmq.pull", bench_zmq_pull },
#endif
#ifdef IPCQ_BENCH_REDIS
	{ "redis.prod", bench_redis_prod },
	{ "redis.cons", bench_redis_cons },
#endif
};

static void
wk_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

static int
wk_parse_one(bench_wcfg *cfg, const char *key, const char *val)
{
	unsigned long long v = strtoull(val, NULL, 10);

	if (strcmp(key, "kind") == 0) {
		wk_copy(cfg->kind, sizeof(cfg->kind), val);
	} else if (strcmp(key, "url") == 0) {
		wk_copy(cfg->url, sizeof(cfg->url), val);
	} else if (strcmp(key, "queue") == 0) {
		wk_copy(cfg->queue, sizeof(cfg->queue), val);
	} else if (strcmp(key, "queue2") == 0) {
		wk_copy(cfg->queue2, sizeof(cfg->queue2), val);
	} else if (strcmp(key, "ctr") == 0) {
		wk_copy(cfg->ctr, sizeof(cfg->ctr), val);
	} else if (strcmp(key, "mode") == 0) {
		wk_copy(cfg->mode, sizeof(cfg->mode), val);
	} else if (strcmp(key, "size") == 0) {
		cfg->size = (size_t) v;
	} else if (strcmp(key, "batch") == 0) {
		cfg->batch = (uint32_t) v;
	} else if (strcmp(key, "id") == 0) {
		cfg->id = (uint32_t) v;
	} else if (strcmp(key, "nprod") == 0) {
		cfg->nprod = (uint32_t) v;
	} else if (strcmp(key, "ncons") == 0) {
		cfg->ncons = (uint32_t) v;
	} else if (strcmp(key, "count") == 0) {
		cfg->count = v;
	} else if (strcmp(key, "dur_ms") == 0) {
		cfg->dur_ms = v;
	} else if (strcmp(key, "warmup") == 0) {
		cfg->warmup = v;
	} else if (strcmp(key, "ack") == 0) {
		cfg->ack = (uint32_t) v;
	} else if (strcmp(key, "spin_us") == 0) {
		cfg->spin_us = (uint32_t) v;
	} else if (strcmp(key, "zerocopy") == 0) {
		cfg->zerocopy = (uint32_t) v;
	} else if (strcmp(key, "fd_go") == 0) {
		cfg->fd_go = (int) v;
	} else if (strcmp(key, "fd_out") == 0) {
		cfg->fd_out = (int) v;
	} else if (strcmp(key, "fd_rel") == 0) {
		cfg->fd_rel = (int) v;
	} else {
		return (-1);
	}
	return (0);
}

static int
wk_parse(bench_wcfg *cfg, int argc, char **argv)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->batch  = 1;
	cfg->nprod  = 1;
	cfg->ncons  = 1;
	cfg->fd_go  = -1;
	cfg->fd_out = -1;
	cfg->fd_rel = -1;
	for (int i = 0; i < argc; i++) {
		char  key[32];
		char *eq = strchr(argv[i], '=');

		if (eq == NULL || (size_t) (eq - argv[i]) >= sizeof(key)) {
			return (-1);
		}
		memcpy(key, argv[i], (size_t) (eq - argv[i]));
		key[eq - argv[i]] = '\0';
		if (wk_parse_one(cfg, key, eq + 1) != 0) {
			return (-1);
		}
	}
	if (cfg->fd_go < 0 || cfg->fd_out < 0 || cfg->batch == 0 ||
	    cfg->nprod == 0 || cfg->nprod > BENCH_MAX_PROCS ||
	    cfg->size < BENCH_HDR_SIZE) {
		return (-1);
	}
	return (0);
}

int
bench_worker_main(int argc, char **argv)
{
	bench_wcfg cfg;

	if (wk_parse(&cfg, argc, argv) != 0) {
		fprintf(stderr, "ipcq-bench: bad worker arguments\n");
		return (2);
	}
	for (size_t i = 0; i < sizeof(worker_kinds) / sizeof(worker_kinds[0]);
	     i++) {
		if (strcmp(cfg.kind, worker_kinds[i].kind) == 0) {
			return (worker_kinds[i].run(&cfg) == 0 ? 0 : 1);
		}
	}
	fprintf(stderr, "ipcq-bench: unknown worker kind %s\n", cfg.kind);
	return (2);
}

static int
wk_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return (-1);
		}
		buf += n;
		len -= (size_t) n;
	}
	return (0);
}

/* Read one byte from fd, retrying on EINTR. 0 on success. */
static int
wk_read_byte(int fd)
{
	char    b;
	ssize_t n;

	do {
		n = read(fd, &b, 1);
	} while (n < 0 && errno == EINTR);
	return (n == 1 ? 0 : -1);
}

int
bench_ready(const bench_wcfg *cfg)
{
	if (wk_write_all(cfg->fd_out, "READY\n", 6) != 0) {
		return (-1);
	}
	return (wk_read_byte(cfg->fd_go));
}

void
bench_wait_release(const bench_wcfg *cfg)
{
	if (cfg->fd_rel >= 0) {
		(void) wk_read_byte(cfg->fd_rel);
	}
}

void
bench_report(const bench_wcfg *cfg, const char *fmt, ...)
{
	char    line[BENCH_LINE_MAX];
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	if ((size_t) n > sizeof(line) - 2) {
		n = (int) sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* Under PIPE_BUF: the line arrives whole. */
	(void) wk_write_all(cfg->fd_out, line, (size_t) n);
}

int
bench_more(const bench_wcfg *cfg, uint64_t seq, uint64_t t0_ns)
{
	if (cfg->count != 0) {
		return (seq < cfg->count);
	}
	return (bench_now_ns() - t0_ns < cfg->dur_ms * 1000000u);
}

int
bench_fail(const bench_wcfg *cfg, const char *what, const char *why)
{
	char buf[160];

	snprintf(buf, sizeof(buf), "%s", why);
	for (char *p = buf; *p != '\0'; p++) {
		if (*p == ' ') {
			*p = '_';
		}
	}
	bench_report(cfg, "err=%s:%s", what, buf);
	return (-1);
}
