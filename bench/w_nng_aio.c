/*
 * Reference REP server in the broker's shape: a REP context driven by its
 * aio callback (receive, then send the request straight back), instead of
 * a thread blocked in nng_recvmsg. The callback runs on nng's own task
 * thread, which saves the wake-up of a user thread per request; the
 * blocking loop (w_nng.c) is what plain application code usually writes.
 */
#include <pthread.h>
#include <stdio.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "bench.h"

typedef struct ra_echo {
	nng_ctx         ctx;
	nng_aio        *aio;
	int             sending; /* state: 0 receiving, 1 sending */
	uint64_t        served, total;
	int             err;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             done;
} ra_echo;

static void
ra_finish(ra_echo *e, int err)
{
	pthread_mutex_lock(&e->mtx);
	e->err  = err;
	e->done = 1;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mtx);
}

static void
ra_cb(void *arg)
{
	ra_echo *e  = arg;
	int      rv = nng_aio_result(e->aio);

	if (rv != 0) {
		if (e->sending) {
			nng_msg_free(nng_aio_get_msg(e->aio));
		}
		ra_finish(e, rv);
		return;
	}
	if (e->sending) {
		e->sending = 0;
		if (++e->served == e->total) {
			ra_finish(e, 0);
			return;
		}
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	/* The request message goes back as the reply, untouched. */
	e->sending = 1;
	nng_aio_set_msg(e->aio, nng_aio_get_msg(e->aio));
	nng_ctx_send(e->ctx, e->aio);
}

static int
ra_setup(const bench_wcfg *cfg, nng_socket *s, ra_echo *e)
{
	int rv;

	if ((rv = nng_rep0_open(s)) != 0 ||
	    (rv = nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ,
	         cfg->size + 4096)) != 0 ||
	    (rv = nng_listen(*s, cfg->url, NULL, 0)) != 0 ||
	    (rv = nng_ctx_open(&e->ctx, *s)) != 0 ||
	    (rv = nng_aio_alloc(&e->aio, ra_cb, e)) != 0) {
		return (rv);
	}
	nng_aio_set_timeout(e->aio, BENCH_CALL_TIMEOUT_MS);
	return (0);
}

int
bench_nng_repaio(const bench_wcfg *cfg)
{
	nng_socket s;
	ra_echo    e = { .total = cfg->warmup + cfg->count };
	int        rv;

	pthread_mutex_init(&e.mtx, NULL);
	pthread_cond_init(&e.cv, NULL);
	if ((rv = ra_setup(cfg, &s, &e)) != 0) {
		return (bench_fail(cfg, "repaio_setup", nng_strerror(rv)));
	}
	nng_ctx_recv(e.ctx, e.aio);
	if (bench_ready(cfg) != 0) {
		return (-1);
	}
	pthread_mutex_lock(&e.mtx);
	while (!e.done) {
		pthread_cond_wait(&e.cv, &e.mtx);
	}
	pthread_mutex_unlock(&e.mtx);
	if (e.err != 0) {
		bench_fail(cfg, "repaio", nng_strerror(e.err));
	} else {
		bench_report(cfg, "served=%llu", (unsigned long long) e.served);
	}
	bench_wait_release(cfg); /* the last reply must leave first */
	nng_aio_free(e.aio);
	nng_close(s);
	return (e.err == 0 ? 0 : -1);
}
