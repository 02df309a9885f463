/*
 * pipeline_consumer — one of several consumers of the pipeline queue.
 * Receives until end of stream (every consumer gets IPCQ_EOF, not just
 * one), checks that each producer's messages arrive in the order they
 * were sent, and prints how many it got, per producer too.
 *
 * Usage: pipeline_consumer ID [QUEUE [P]]   (defaults: 1 pipeline 1)
 * Last stdout line: "pipeline_consumer[ID]: COUNT messages (p1:.. p2:..)"
 * — the second field is the count, for scripts to sum. Exit 0 at end of
 * stream, 1 on error or out-of-order delivery, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcq.h"

#define CONS_MAX_PRODUCERS 64

typedef struct cons {
	int  id;
	long count;
	long per[CONS_MAX_PRODUCERS + 1];  /* messages from producer i */
	long last[CONS_MAX_PRODUCERS + 1]; /* last seq seen from producer i */
} cons;

/* Account one "p<ID> <seq>" message; -1 if malformed or out of order. */
static int
cons_take(cons *c, const ipcq_msg *m)
{
	char   text[48];
	size_t len = ipcq_msg_size(m);
	int    pid;
	long   seq;

	if (len >= sizeof(text)) {
		return -1;
	}
	memcpy(text, ipcq_msg_data(m), len);
	text[len] = '\0';
	if (sscanf(text, "p%d %ld", &pid, &seq) != 2 || pid < 1 ||
	    pid > CONS_MAX_PRODUCERS) {
		fprintf(stderr, "pipeline_consumer[%d]: bad message '%s'\n",
		    c->id, text);
		return -1;
	}
	/* FIFO per queue: what this consumer sees of one producer is a
	 * subsequence of what it sent, so seq only grows. */
	if (seq <= c->last[pid]) {
		fprintf(stderr, "pipeline_consumer[%d]: '%s' after seq %ld\n",
		    c->id, text, c->last[pid]);
		return -1;
	}
	c->last[pid] = seq;
	c->per[pid]++;
	c->count++;
	return 0;
}

static void
cons_report(const cons *c)
{
	printf("pipeline_consumer[%d]: %ld messages (", c->id, c->count);
	for (int i = 1, sep = 0; i <= CONS_MAX_PRODUCERS; i++) {
		if (c->per[i] > 0) {
			printf("%sp%d:%ld", sep++ ? " " : "", i, c->per[i]);
		}
	}
	printf(")\n");
}

int
main(int argc, char **argv)
{
	cons            st   = { .id = argc > 1 ? atoi(argv[1]) : 1 };
	const char     *name = argc > 2 ? argv[2] : "pipeline";
	long            p    = argc > 3 ? atol(argv[3]) : 1;
	ipcq_queue_opts opts;
	ipcq_client    *c;
	ipcq_queue     *q;
	ipcq_msg       *m;
	int             err, bad = 0;

	if (p < 1 || p > CONS_MAX_PRODUCERS) {
		fprintf(stderr, "usage: pipeline_consumer ID [QUEUE [P]]\n");
		return 2;
	}
	if ((err = ipcq_client_open(&c, NULL)) != 0) {
		fprintf(stderr, "pipeline_consumer: %s\n", ipcq_strerror(err));
		return 1;
	}
	ipcq_queue_opts_init(&opts);
	opts.roles              = IPCQ_ROLE_CONSUMER;
	opts.expected_producers = (uint32_t) p; /* same P as the producers */
	if ((err = ipcq_queue_open(&q, c, name, &opts)) == 0) {
		while (!bad && (err = ipcq_queue_recv(q, &m, -1)) == 0) {
			bad = cons_take(&st, m) != 0;
			ipcq_msg_free(m);
		}
		ipcq_queue_close(q);
	}
	ipcq_client_close(c);
	if (!bad && err != IPCQ_EOF) {
		fprintf(stderr, "pipeline_consumer[%d]: %s\n", st.id,
		    ipcq_strerror(err));
		return 1;
	}
	cons_report(&st);
	return bad ? 1 : 0;
}
