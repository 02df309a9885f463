/*
 * POSIX message queue workers (mq_overview(7)): P producers mq_send and C
 * consumers mq_receive on one queue the driver created (url is its name;
 * the ping-pong's two are url-a and url-b). All messages have the same
 * priority, so the kernel keeps them FIFO and each consumer sees each
 * producer's sequence numbers rising.
 *
 * End of stream: a queue has none, so each producer sends one 1-byte END
 * after its data. The consumer that takes an END counts it in the shared
 * counters file (ctr->done); whoever takes the P-th END knows every
 * message was already dequeued (each END follows its producer's data in
 * one FIFO), sends C-1 STOPs for the other consumers and stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define WM_END  'E'
#define WM_STOP 'S'

static void
wm_deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts); /* mq_timed* take realtime */
	ts->tv_sec += BENCH_CALL_TIMEOUT_MS / 1000;
}

static int
wm_send(mqd_t q, const void *buf, size_t len)
{
	struct timespec ts;

	wm_deadline(&ts);
	while (mq_timedsend(q, buf, len, 0, &ts) != 0) {
		if (errno != EINTR) {
			return (errno);
		}
	}
	return (0);
}

static int
wm_recv(mqd_t q, void *buf, size_t cap, size_t *len)
{
	struct timespec ts;
	ssize_t         n;

	wm_deadline(&ts);
	while ((n = mq_timedreceive(q, buf, cap, NULL, &ts)) < 0) {
		if (errno != EINTR) {
			return (errno);
		}
	}
	*len = (size_t) n;
	return (0);
}

static int
wm_open(const bench_wcfg *cfg, const char *suffix, mqd_t *q)
{
	char name[512];

	snprintf(name, sizeof(name), "%s%s", cfg->url, suffix);
	if ((*q = mq_open(name, O_RDWR | O_CLOEXEC)) == (mqd_t) -1) {
		return (bench_fail(cfg, "mq_open", strerror(errno)));
	}
	return (0);
}

int
bench_mq_prod(const bench_wcfg *cfg)
{
	mqd_t    q;
	char    *buf = malloc(cfg->size), end = WM_END;
	uint64_t seq = 0, t0, t1;
	int      rv  = 0;

	if (buf == NULL || wm_open(cfg, "", &q) != 0) {
		return (-1);
	}
	bench_fill(buf, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	t0 = bench_now_ns();
	while (rv == 0 && bench_more(cfg, seq, t0)) {
		bench_stamp(buf, cfg->id, seq);
		if ((rv = wm_send(q, buf, cfg->size)) == 0) {
			seq++;
		}
	}
	t1 = bench_now_ns();
	rv = rv != 0 ? rv : wm_send(q, &end, 1);
	if (rv != 0) {
		bench_fail(cfg, "mq_send", strerror(rv));
	} else {
		bench_report(cfg, "sent=%llu t0=%llu t1=%llu",
		    (unsigned long long) seq, (unsigned long long) t0,
		    (unsigned long long) t1);
	}
	mq_close(q);
	free(buf);
	return (rv == 0 ? 0 : -1);
}

/* A 1-byte control message: 1 to stop, 0 to go on, or an errno value. */
static int
wm_control(const bench_wcfg *cfg, mqd_t q, bench_ctr *ctr, char c)
{
	char stop = WM_STOP;
	int  rv;

	if (c == WM_STOP) {
		return (1);
	}
	if (atomic_fetch_add(&ctr->done, 1) + 1 < cfg->nprod) {
		return (0);
	}
	for (uint32_t i = 1; i < cfg->ncons; i++) {
		if ((rv = wm_send(q, &stop, 1)) != 0) {
			return (-rv);
		}
	}
	return (1);
}

int
bench_mq_cons(const bench_wcfg *cfg)
{
	struct mq_attr at;
	mqd_t          q;
	bench_ctr     *ctr;
	bench_tally    t;
	char          *buf, line[BENCH_LINE_MAX];
	size_t         len = 0;
	int            rv = 0;

	if (bench_ctr_map(cfg->ctr, &ctr) != 0 || wm_open(cfg, "", &q) != 0 ||
	    mq_getattr(q, &at) != 0 ||
	    (buf = malloc((size_t) at.mq_msgsize)) == NULL) {
		return (bench_fail(cfg, "setup", "counters, queue or memory"));
	}
	bench_tally_init(&t, cfg->nprod, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	while ((rv = wm_recv(q, buf, (size_t) at.mq_msgsize, &len)) == 0) {
		if (len == 1 && (rv = wm_control(cfg, q, ctr, buf[0])) != 0) {
			rv = rv == 1 ? 0 : -rv;
			break;
		}
		if (len != 1) {
			(void) bench_tally_add(&t, buf, len);
			t.t_last = bench_now_ns();
			t.calls++;
		}
	}
	if (rv != 0) {
		bench_fail(cfg, "mq_receive", strerror(rv));
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	mq_close(q);
	bench_ctr_unmap(ctr);
	free(buf);
	return (rv == 0 && t.err[0] == '\0' ? 0 : -1);
}

int
bench_mq_ping(const bench_wcfg *cfg)
{
	mqd_t     a, b;
	bench_lat lat;
	char     *buf = malloc(cfg->size), *in = malloc(cfg->size), end = WM_END;
	char      line[BENCH_LINE_MAX];
	size_t    len = 0;
	int       rv = 0;

	if (buf == NULL || in == NULL || bench_lat_init(&lat, cfg->count) != 0 ||
	    wm_open(cfg, "-a", &a) != 0 || wm_open(cfg, "-b", &b) != 0) {
		return (-1);
	}
	bench_fill(buf, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	for (uint64_t i = 0; rv == 0 && i < cfg->warmup + cfg->count; i++) {
		uint64_t t0 = bench_now_ns();

		bench_stamp(buf, 0, i);
		if ((rv = wm_send(a, buf, cfg->size)) == 0 &&
		    (rv = wm_recv(b, in, cfg->size, &len)) == 0 &&
		    (len != cfg->size || bench_seq_of(in) != i)) {
			rv = EPROTO;
		}
		if (rv == 0 && i >= cfg->warmup) {
			bench_lat_add(&lat, bench_now_ns() - t0);
		}
	}
	rv = rv != 0 ? rv : wm_send(a, &end, 1);
	if (rv != 0) {
		bench_fail(cfg, "mq_ping", strerror(rv));
	} else {
		bench_lat_format(&lat, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	mq_close(a);
	mq_close(b);
	bench_lat_fini(&lat);
	free(buf);
	free(in);
	return (rv == 0 ? 0 : -1);
}

int
bench_mq_pong(const bench_wcfg *cfg)
{
	mqd_t       a, b;
	bench_tally t;
	char       *buf = malloc(cfg->size), line[BENCH_LINE_MAX];
	size_t      len = 0;
	int         rv = 0;

	if (buf == NULL || wm_open(cfg, "-a", &a) != 0 ||
	    wm_open(cfg, "-b", &b) != 0) {
		return (-1);
	}
	bench_tally_init(&t, 1, cfg->size);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	while ((rv = wm_recv(a, buf, cfg->size, &len)) == 0 && len != 1) {
		(void) bench_tally_add(&t, buf, len);
		if ((rv = wm_send(b, buf, len)) != 0) {
			break;
		}
	}
	if (rv != 0) {
		bench_fail(cfg, "mq_pong", strerror(rv));
	} else {
		bench_tally_format(&t, line, sizeof(line));
		bench_report(cfg, "%s", line);
	}
	mq_close(a);
	mq_close(b);
	free(buf);
	return (rv == 0 && t.err[0] == '\0' ? 0 : -1);
}
