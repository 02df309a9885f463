/*
 * pool_driver — Python's Pool.map across processes. The driver puts the
 * numbers 1..N on a tasks queue and ends it; W pool_worker processes
 * (started here with fork+exec) square them and send "n n*n" on a results
 * queue; the driver collects until end of stream and checks that every
 * number came back and that the sum is the sum of squares.
 *
 * Usage: pool_driver [N [WORKERS [TASKS_QUEUE [RESULTS_QUEUE]]]]
 *        (defaults: 1000 4 tasks results)
 * The worker program is $IPCQ_POOL_WORKER, else pool_worker next to this
 * executable. Broker: $IPCQ_URL, else the per-user default socket.
 * Exit 0 if the results check out, 1 otherwise.
 *
 * Workers ack a task only after its result is sent (at least once): when
 * a worker dies, the broker redelivers its unacked task to another
 * worker, so a result can arrive twice; the driver counts each number
 * once. The driver replaces a dead worker (at most WORKERS times in all),
 * so that the results queue still sees WORKERS producers end.
 */
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipcq.h"

/* The driver sends every task before it collects a result, so all the
 * results must fit in the results queue meanwhile: its default bound is
 * 100k messages (docs/api.md). Else workers block on a full results queue
 * and the driver on a full tasks queue. */
#define POOL_MAX_TASKS   100000
#define POOL_MAX_WORKERS 64
#define POOL_BATCH       256
#define POOL_POLL_MS     500   /* how often a silent driver checks workers */
#define POOL_WAIT_MS     30000 /* longest silence before giving up */

typedef struct pool {
	uint64_t    n;        /* tasks 1..n */
	int         nworkers;
	const char *tasks;    /* queue names */
	const char *results;
	char        worker[PATH_MAX + 16]; /* pool_worker program */
	pid_t       pids[POOL_MAX_WORKERS]; /* 0 once reaped */
	int         respawned; /* replacements started so far */
	int         failed;    /* a worker failed and was not replaced */
	uint8_t    *seen;     /* seen[i]: result for i arrived */
	uint64_t    dups;     /* results that arrived twice */
	uint64_t    sum;      /* of distinct results */
} pool;

static int
pool_err(const char *what, int err)
{
	fprintf(stderr, "pool_driver: %s: %s\n", what, ipcq_strerror(err));
	return err;
}

/* The worker lives next to us unless $IPCQ_POOL_WORKER says otherwise. */
static void
pool_worker_path(char *buf, size_t len)
{
	char    self[PATH_MAX];
	ssize_t n;

	if (getenv("IPCQ_POOL_WORKER") != NULL) {
		snprintf(buf, len, "%s", getenv("IPCQ_POOL_WORKER"));
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	snprintf(buf, len, "%s/pool_worker", n > 0 ? dirname(self) : ".");
}

/* Start worker i. */
static int
pool_spawn_one(pool *p, int i)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("pool_driver: fork");
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec: the
		 * parent has library threads running. */
		static const char msg[] = "pool_driver: exec failed\n";

		execl(p->worker, "pool_worker", p->tasks, p->results,
		    (char *) NULL);
		(void) !write(2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	p->pids[i] = pid;
	return 0;
}

static int
pool_spawn(pool *p)
{
	pool_worker_path(p->worker, sizeof(p->worker));
	for (int i = 0; i < p->nworkers; i++) {
		if (pool_spawn_one(p, i) != 0) {
			return -1;
		}
	}
	return 0;
}

/* 1..n in batches: many messages per round trip. */
static int
pool_send_tasks(pool *p, ipcq_queue *tq)
{
	char     text[POOL_BATCH][24];
	ipcq_iov iov[POOL_BATCH];
	uint64_t i = 1;
	int      err = 0;

	while (i <= p->n && err == 0) {
		size_t k = 0;

		for (; k < POOL_BATCH && i <= p->n; k++, i++) {
			iov[k].data = text[k];
			iov[k].len  = (size_t) snprintf(text[k], sizeof(text[k]),
			     "%" PRIu64, i);
		}
		err = ipcq_queue_send_batch(tq, iov, k, NULL, -1);
	}
	if (err != 0) {
		return pool_err("send tasks", err);
	}
	/* The sentinel: workers see IPCQ_EOF once every task is taken. */
	if ((err = ipcq_queue_end(tq)) != 0) {
		return pool_err("end tasks", err);
	}
	return 0;
}

/* Check one "n square" result and count it once. */
static int
pool_take(pool *p, const ipcq_msg *m)
{
	char     text[64];
	uint64_t v, sq;
	size_t   len = ipcq_msg_size(m);

	if (len >= sizeof(text)) {
		return -1;
	}
	memcpy(text, ipcq_msg_data(m), len);
	text[len] = '\0';
	if (sscanf(text, "%" SCNu64 " %" SCNu64, &v, &sq) != 2 || v < 1 ||
	    v > p->n || sq != v * v) {
		fprintf(stderr, "pool_driver: bad result '%s'\n", text);
		return -1;
	}
	if (p->seen[v]) {
		p->dups++;
		return 0;
	}
	p->seen[v] = 1;
	p->sum += sq;
	return 0;
}

/* Reap worker i if it has exited (flags 0: wait for it). 1 if it failed
 * (killed, or exit status not 0), else 0. */
static int
pool_reap_one(pool *p, int i, int flags)
{
	int status;

	if (p->pids[i] <= 0 || waitpid(p->pids[i], &status, flags) <= 0) {
		return 0; /* reaped before, or still running */
	}
	p->pids[i] = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		return 0;
	}
	fprintf(stderr, "pool_driver: worker %d failed\n", i);
	return 1;
}

/*
 * Replace every worker that has died. Its unacked task went back to the
 * tasks queue when its connection dropped (another worker will do it,
 * perhaps a second time: hence pool_take's duplicates), but it never
 * ended its stream on results, and the results queue ends only after
 * nworkers producers have ended: the replacement ends one in its place.
 * Returns how many were replaced, -1 when the replacements are used up.
 */
static int
pool_replace_dead(pool *p)
{
	int n = 0;

	for (int i = 0; i < p->nworkers; i++) {
		if (!pool_reap_one(p, i, WNOHANG)) {
			continue;
		}
		if (p->respawned++ >= p->nworkers || pool_spawn_one(p, i) != 0) {
			p->failed = 1;
			return -1;
		}
		fprintf(stderr, "pool_driver: worker %d replaced\n", i);
		n++;
	}
	return n;
}

/*
 * Collect results until the results stream ends. IPCQ_EABANDONED means a
 * worker left without ending (it died): replace it. While no result
 * comes, check on the workers too. Waiting for a dead worker's exit to
 * become visible after its connection dropped is the one place this
 * polls (with a short nanosleep), bounded by POOL_WAIT_MS like silence.
 */
static int
pool_collect(pool *p, ipcq_queue *rq, uint64_t *got)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	ipcq_msg *msgs[POOL_BATCH];
	size_t    n;
	int       err, bad = 0, silent_ms = 0;

	for (;;) {
		err = ipcq_queue_recv_batch(rq, msgs, POOL_BATCH, &n,
		    POOL_POLL_MS);
		if ((err == IPCQ_ETIMEDOUT || err == IPCQ_EABANDONED) &&
		    silent_ms < POOL_WAIT_MS) {
			if (pool_replace_dead(p) < 0) {
				return -1;
			}
			if (err == IPCQ_EABANDONED) {
				nanosleep(&tick, NULL);
			}
			silent_ms += err == IPCQ_ETIMEDOUT ? POOL_POLL_MS : 10;
			continue;
		}
		if (err != 0) {
			break;
		}
		for (size_t i = 0; i < n; i++) {
			bad |= pool_take(p, msgs[i]);
			ipcq_msg_free(msgs[i]);
		}
		*got += n;
		silent_ms = 0;
	}
	if (err != IPCQ_EOF) {
		return pool_err("collect results", err);
	}
	return bad ? -1 : 0;
}

/* Wait for every worker; -1 if one failed and was not replaced. */
static int
pool_reap(pool *p)
{
	for (int i = 0; i < p->nworkers; i++) {
		p->failed |= pool_reap_one(p, i, 0);
	}
	return p->failed ? -1 : 0;
}

/* Open both queues, start the workers, hand out the tasks, collect. */
static int
pool_run(pool *p, ipcq_client *c, uint64_t *got)
{
	ipcq_queue_opts ro, to;
	ipcq_queue     *rq = NULL, *tq = NULL;
	int             err, rv = -1;

	/* Declare results before any worker exists: the queue must end
	 * only after all nworkers have ended, however early one finishes. */
	ipcq_queue_opts_init(&ro);
	ro.roles              = IPCQ_ROLE_CONSUMER;
	ro.expected_producers = (uint32_t) p->nworkers;
	ipcq_queue_opts_init(&to);
	to.roles = IPCQ_ROLE_PRODUCER;
	if ((err = ipcq_queue_open(&rq, c, p->results, &ro)) != 0 ||
	    (err = ipcq_queue_open(&tq, c, p->tasks, &to)) != 0) {
		pool_err("open", err);
	} else if (pool_spawn(p) == 0 && pool_send_tasks(p, tq) == 0) {
		rv = pool_collect(p, rq, got);
	}
	if (rv != 0 && tq != NULL) {
		/* Let the workers stop: they see end of stream on tasks. */
		ipcq_queue_shutdown(tq);
	}
	ipcq_queue_close(tq);
	ipcq_queue_close(rq);
	return rv;
}

int
main(int argc, char **argv)
{
	pool         p = { .n = 1000, .nworkers = 4, .tasks = "tasks",
	            .results = "results" };
	ipcq_client *c;
	uint64_t     got = 0, want, missing = 0;
	int          err, rv;

	/* Line by line, also into a pipe: the output interleaves in
	 * order with the other processes' (scripts/demo.sh). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	p.n        = argc > 1 ? strtoull(argv[1], NULL, 10) : p.n;
	p.nworkers = argc > 2 ? atoi(argv[2]) : p.nworkers;
	p.tasks    = argc > 3 ? argv[3] : p.tasks;
	p.results  = argc > 4 ? argv[4] : p.results;
	if (p.n < 1 || p.n > POOL_MAX_TASKS || p.nworkers < 1 ||
	    p.nworkers > POOL_MAX_WORKERS) {
		fprintf(stderr, "usage: pool_driver [N [WORKERS [TASKS_QUEUE "
		                "[RESULTS_QUEUE]]]] (N <= %d, WORKERS <= %d)\n",
		    POOL_MAX_TASKS, POOL_MAX_WORKERS);
		return 2;
	}
	if ((p.seen = calloc(p.n + 1, 1)) == NULL) {
		return 1;
	}
	if ((err = ipcq_client_open(&c, NULL)) != 0) {
		pool_err("connect", err);
		free(p.seen);
		return 1;
	}
	printf("pool_driver: %" PRIu64 " tasks on '%s', %d workers, results "
	       "on '%s'\n", p.n, p.tasks, p.nworkers, p.results);
	fflush(stdout); /* before fork: no doubled buffered output */
	rv = pool_run(&p, c, &got);
	ipcq_client_close(c);
	rv |= pool_reap(&p);
	for (uint64_t i = 1; i <= p.n; i++) {
		missing += !p.seen[i];
	}
	free(p.seen);
	want = p.n * (p.n + 1) * (2 * p.n + 1) / 6;
	printf("pool_driver: %" PRIu64 " results (%" PRIu64 " duplicates, %"
	       PRIu64 " missing), sum of squares %" PRIu64 ", expected %"
	       PRIu64 ": %s\n", got, p.dups, missing, p.sum, want,
	    rv == 0 && missing == 0 && p.sum == want ? "OK" : "MISMATCH");
	return rv == 0 && missing == 0 && p.sum == want ? 0 : 1;
}
