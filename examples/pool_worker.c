/*
 * pool_worker — one worker of the pool_driver example: take a number from
 * the tasks queue, send "n n*n" to the results queue, then ack the task.
 * At end of stream on tasks, end this worker's stream on results.
 *
 * Usage: pool_worker [TASKS_QUEUE [RESULTS_QUEUE]]  (defaults: tasks
 * results). Normally started by pool_driver. Exit 0 after a clean end of
 * stream, 1 on any error.
 *
 * Explicit ack, after the result is sent: if this process dies between
 * taking a task and acking it, the broker redelivers the task to another
 * worker (at least once). The driver copes with a result sent twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ipcq.h"

static int
worker_err(const char *what, int err)
{
	fprintf(stderr, "pool_worker[%d]: %s: %s\n", (int) getpid(), what,
	    ipcq_strerror(err));
	return err;
}

/* Square one task and send its result. */
static int
worker_one(ipcq_queue *rq, const ipcq_msg *m)
{
	char     text[64];
	uint64_t v;
	size_t   len = ipcq_msg_size(m);
	int      n;

	if (len >= 24) {
		return IPCQ_EINVAL;
	}
	memcpy(text, ipcq_msg_data(m), len);
	text[len] = '\0';
	if (sscanf(text, "%" SCNu64, &v) != 1) {
		return IPCQ_EINVAL;
	}
	n = snprintf(text, sizeof(text), "%" PRIu64 " %" PRIu64, v, v * v);
	return ipcq_queue_send(rq, text, (size_t) n, -1);
}

static int
worker_loop(ipcq_queue *tq, ipcq_queue *rq, unsigned *done)
{
	ipcq_msg *m;
	int       err;

	while ((err = ipcq_queue_recv(tq, &m, -1)) == 0) {
		if ((err = worker_one(rq, m)) != 0) {
			ipcq_msg_free(m);
			return worker_err("task", err);
		}
		/* Only now is the task done: ack it. */
		err = ipcq_queue_ack(tq, m);
		ipcq_msg_free(m);
		if (err != 0) {
			return worker_err("ack", err);
		}
		(*done)++;
	}
	if (err != IPCQ_EOF) {
		return worker_err("recv", err);
	}
	/* No more tasks: this worker's results stream ends. */
	if ((err = ipcq_queue_end(rq)) != 0) {
		return worker_err("end results", err);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char     *tasks   = argc > 1 ? argv[1] : "tasks";
	const char     *results = argc > 2 ? argv[2] : "results";
	ipcq_queue_opts to, ro;
	ipcq_client    *c;
	ipcq_queue     *tq = NULL, *rq = NULL;
	unsigned        done = 0;
	int             err;

	if ((err = ipcq_client_open(&c, NULL)) != 0) {
		worker_err("connect", err);
		return 1;
	}
	ipcq_queue_opts_init(&to);
	to.roles    = IPCQ_ROLE_CONSUMER;
	to.ack_mode = IPCQ_ACK_EXPLICIT;
	ipcq_queue_opts_init(&ro);
	ro.roles = IPCQ_ROLE_PRODUCER;
	if ((err = ipcq_queue_open(&tq, c, tasks, &to)) != 0 ||
	    (err = ipcq_queue_open(&rq, c, results, &ro)) != 0) {
		worker_err("open", err);
	} else {
		err = worker_loop(tq, rq, &done);
	}
	ipcq_queue_detach(rq);
	ipcq_queue_detach(tq);
	ipcq_client_close(c);
	if (err == 0) {
		printf("pool_worker[%d]: squared %u numbers\n", (int) getpid(),
		    done);
	}
	return err == 0 ? 0 : 1;
}
