/*
 * pipeline_producer — one of P producers feeding one queue. Sends M
 * messages "p<ID> <seq>" (seq 1..M) and ends its stream. The queue is
 * opened with expected_producers = P, so it ends only when all P
 * producers have ended, even if this one finishes before another has
 * even started.
 *
 * Usage: pipeline_producer ID [M [QUEUE [P]]]
 *        (defaults: 1 250 pipeline 1; ID in 1..64)
 * Run P of them (IDs 1..P) and any number of pipeline_consumer. Exit 0
 * after all M are sent and the stream ended, 1 on error, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ipcq.h"

static int
prod_err(int id, const char *what, int err)
{
	fprintf(stderr, "pipeline_producer[%d]: %s: %s\n", id, what,
	    ipcq_strerror(err));
	return 1;
}

int
main(int argc, char **argv)
{
	int             id   = argc > 1 ? atoi(argv[1]) : 1;
	long            m    = argc > 2 ? atol(argv[2]) : 250;
	const char     *name = argc > 3 ? argv[3] : "pipeline";
	long            p    = argc > 4 ? atol(argv[4]) : 1;
	ipcq_queue_opts opts;
	ipcq_client    *c;
	ipcq_queue     *q;
	char            text[48];
	int             err;

	if (id < 1 || id > 64 || m < 0 || p < 1 || p > 64) {
		fprintf(stderr, "usage: pipeline_producer ID [M [QUEUE [P]]] "
		                "(ID and P in 1..64)\n");
		return 2;
	}
	if ((err = ipcq_client_open(&c, NULL)) != 0) {
		return prod_err(id, "connect", err);
	}
	/* Whoever opens first creates the queue: producers and consumers
	 * all pass the same P so the outcome does not depend on timing. */
	ipcq_queue_opts_init(&opts);
	opts.roles              = IPCQ_ROLE_PRODUCER;
	opts.expected_producers = (uint32_t) p;
	if ((err = ipcq_queue_open(&q, c, name, &opts)) != 0) {
		ipcq_client_close(c);
		return prod_err(id, "open", err);
	}
	for (long seq = 1; seq <= m && err == 0; seq++) {
		int len = snprintf(text, sizeof(text), "p%d %ld", id, seq);
		err     = ipcq_queue_send(q, text, (size_t) len, -1);
	}
	if (err == 0 && (err = ipcq_queue_end(q)) == 0) {
		printf("pipeline_producer[%d]: sent %ld messages, ended\n", id,
		    m);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
	return err == 0 ? 0 : prod_err(id, "send", err);
}
