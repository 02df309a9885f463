/*
 * pool_worker (also built as tcp_worker) — one worker of the pool_driver
 * example: take a number from the tasks queue, send "n n*n" to the
 * results queue, then ack the task. At end of stream on tasks, end this
 * worker's stream on results. Messages are prefixed with the name it was
 * started as.
 *
 * Usage: pool_worker [-u URL] [--hold-after K] [TASKS_QUEUE [RESULTS_QUEUE]]
 *   (defaults: tasks results). Normally started by pool_driver.
 *   URL: -u, else $IPCQ_WORKER_URL, else $IPCQ_URL, else the default. As
 *   tcp_worker it plays the worker on "another host": pool_driver starts
 *   it with IPCQ_POOL_WORKER=path/to/tcp_worker and
 *   IPCQ_WORKER_URL=tcp://127.0.0.1:PORT while the driver itself stays on
 *   the broker's ipc:// socket (ipcqd --listen ipc://... --listen tcp://...).
 *   --hold-after K: after K tasks, take one more, print
 *   "NAME[PID]: holding task N" and wait without acking it, to be killed
 *   (a worker dying mid-way: the broker redelivers the held task). It
 *   dies with its parent, or by itself after 60 s.
 *
 * Explicit ack, after the result is sent: if this process dies between
 * taking a task and acking it, the broker redelivers the task to another
 * worker (at least once). The driver copes with a result sent twice.
 * Exit 0 after a clean end of stream, 1 on any error, 2 on bad arguments.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ipcq.h"

/* The name this program was started as (pool_worker or tcp_worker). */
static const char *tw_name = "pool_worker";

#define TW_HOLD_MAX_S 60 /* a held worker nobody kills ends by SIGALRM */

typedef struct tw_args {
	const char *url;
	const char *tasks, *results;
	long        hold_after; /* -1: never hold */
} tw_args;

static int
tw_err(const char *what, int err)
{
	fprintf(stderr, "%s[%d]: %s: %s\n", tw_name, (int) getpid(), what,
	    ipcq_strerror(err));
	return err;
}

/* Square one task and send its result. */
static int
tw_one(ipcq_queue *rq, const ipcq_msg *m, uint64_t *v)
{
	char   text[64];
	size_t len = ipcq_msg_size(m);
	int    n;

	if (len >= 24) {
		return IPCQ_EINVAL;
	}
	memcpy(text, ipcq_msg_data(m), len);
	text[len] = '\0';
	if (sscanf(text, "%" SCNu64, v) != 1) {
		return IPCQ_EINVAL;
	}
	n = snprintf(text, sizeof(text), "%" PRIu64 " %" PRIu64, *v, *v * *v);
	return ipcq_queue_send(rq, text, (size_t) n, -1);
}

/* Keep the lease, say so, and wait to be killed. */
static void
tw_hold(const ipcq_msg *m)
{
	printf("%s[%d]: holding task %.*s\n", tw_name, (int) getpid(),
	    (int) ipcq_msg_size(m), (const char *) ipcq_msg_data(m));
	fflush(stdout);
	/* Nobody may be coming: die with the parent, or after a while. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(TW_HOLD_MAX_S);
	for (;;) {
		pause();
	}
}

static int
tw_loop(const tw_args *a, ipcq_queue *tq, ipcq_queue *rq, unsigned *done)
{
	ipcq_msg *m;
	uint64_t  v;
	int       err;

	while ((err = ipcq_queue_recv(tq, &m, -1)) == 0) {
		if (a->hold_after >= 0 && *done == (unsigned) a->hold_after) {
			tw_hold(m);
		}
		if (ipcq_msg_redelivered(m)) {
			printf("%s[%d]: task %.*s was redelivered "
			       "(delivery %u)\n", tw_name, (int) getpid(),
			    (int) ipcq_msg_size(m),
			    (const char *) ipcq_msg_data(m),
			    (unsigned) ipcq_msg_delivery_count(m));
		}
		if ((err = tw_one(rq, m, &v)) == 0) {
			/* Only now is the task done: ack it. */
			err = ipcq_queue_ack(tq, m);
		}
		ipcq_msg_free(m);
		if (err != 0) {
			return tw_err("task", err);
		}
		(*done)++;
	}
	if (err != IPCQ_EOF) {
		return tw_err("recv", err);
	}
	if ((err = ipcq_queue_end(rq)) != 0) {
		return tw_err("end results", err);
	}
	return 0;
}

static int
tw_parse(tw_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "hold-after", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	a->url        = getenv("IPCQ_WORKER_URL");
	a->hold_after = -1;
	while ((o = getopt_long(argc, argv, "u:H:", longopts, NULL)) != -1) {
		if (o == 'u') {
			a->url = optarg;
		} else if (o == 'H' && atol(optarg) >= 0) {
			a->hold_after = atol(optarg);
		} else {
			fprintf(stderr, "usage: %s [-u URL] [--hold-after K] "
			                "[TASKS [RESULTS]]\n", tw_name);
			return 2;
		}
	}
	if (a->url != NULL && a->url[0] == '\0') {
		a->url = NULL; /* empty: $IPCQ_URL, as libipcq does */
	}
	a->tasks   = optind < argc ? argv[optind] : "tasks";
	a->results = optind + 1 < argc ? argv[optind + 1] : "results";
	return 0;
}

int
main(int argc, char **argv)
{
	tw_args          a;
	ipcq_client_opts co;
	ipcq_queue_opts  to, ro;
	ipcq_client     *c;
	ipcq_queue      *tq = NULL, *rq = NULL;
	unsigned         done = 0;
	int              err;

	const char *slash = strrchr(argv[0], '/');

	tw_name = slash != NULL ? slash + 1 : argv[0];
	if ((err = tw_parse(&a, argc, argv)) != 0) {
		return err;
	}
	ipcq_client_opts_init(&co);
	co.url = a.url; /* NULL: $IPCQ_URL, else the default */
	if ((err = ipcq_client_open(&c, &co)) != 0) {
		tw_err("connect", err);
		return 1;
	}
	ipcq_queue_opts_init(&to);
	to.roles    = IPCQ_ROLE_CONSUMER;
	to.ack_mode = IPCQ_ACK_EXPLICIT;
	ipcq_queue_opts_init(&ro);
	ro.roles = IPCQ_ROLE_PRODUCER;
	if ((err = ipcq_queue_open(&tq, c, a.tasks, &to)) != 0 ||
	    (err = ipcq_queue_open(&rq, c, a.results, &ro)) != 0) {
		tw_err("open", err);
	} else {
		err = tw_loop(&a, tq, rq, &done);
	}
	ipcq_queue_close(rq);
	ipcq_queue_close(tq);
	ipcq_client_close(c);
	if (err == 0) {
		printf("%s[%d]: squared %u numbers%s%s\n", tw_name,
		    (int) getpid(), done, a.url != NULL ? " via " : "",
		    a.url != NULL ? a.url : "");
	}
	return err == 0 ? 0 : 1;
}
