/*
 * threads_shared_client — several threads of one process share ONE
 * ipcq_client: the client is thread-safe. P producer threads each open
 * their OWN handle on the queue (a handle per thread); C consumer threads
 * all share ONE consumer handle (a handle shared by threads). Every
 * producer sends M messages "<producer> <seq>" and ends its stream; the
 * queue declares expected_producers = P, so it ends when the last one
 * ends, and then every consumer thread gets IPCQ_EOF on the shared handle
 * (end of stream is sticky: no sentinel per thread).
 *
 * Usage: threads_shared_client [P [C [M [QUEUE]]]]
 *        (defaults: 4 4 1000 threads; P, C in 1..64, M in 1..100000)
 * Exit 0 only if each of the P*M messages arrived exactly once, 1 on an
 * error or a lost or duplicated message, 2 on bad arguments.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcq.h"

#define TS_MAX_THREADS 64
#define TS_MAX_M       100000

typedef struct ts_state {
	ipcq_client    *c;       /* the one client every thread uses */
	const char     *name;
	unsigned        p, nc, m;
	ipcq_queue     *shared;  /* the consumers' one handle */
	pthread_mutex_t mtx;     /* guards seen, dups, bad */
	unsigned char  *seen;    /* seen[p * m + seq] */
	unsigned long   dups, bad;
	int             err;     /* first error of any thread */
} ts_state;

typedef struct ts_thread {
	ts_state     *st;
	unsigned      id;
	unsigned long got; /* consumer: messages received */
	pthread_t     tid;
} ts_thread;

static void
ts_fail(ts_state *st, const char *what, int err)
{
	fprintf(stderr, "threads_shared_client: %s: %s\n", what,
	    ipcq_strerror(err));
	pthread_mutex_lock(&st->mtx);
	if (st->err == 0) {
		st->err = err;
	}
	pthread_mutex_unlock(&st->mtx);
}

static void
ts_opts(const ts_state *st, ipcq_queue_opts *o, int role)
{
	ipcq_queue_opts_init(o);
	o->roles              = role;
	o->expected_producers = st->p;
}

/* A producer thread: its own handle on the shared client. */
static void *
ts_producer(void *arg)
{
	ts_thread      *t  = arg;
	ts_state       *st = t->st;
	ipcq_queue_opts o;
	ipcq_queue     *q;
	char            text[32];
	int             err;

	ts_opts(st, &o, IPCQ_ROLE_PRODUCER);
	if ((err = ipcq_queue_open(&q, st->c, st->name, &o)) != 0) {
		ts_fail(st, "producer open", err);
		return NULL;
	}
	for (unsigned s = 0; s < st->m && err == 0; s++) {
		int n = snprintf(text, sizeof(text), "%u %u", t->id, s);
		err   = ipcq_queue_send(q, text, (size_t) n, -1);
	}
	/* This thread's end of stream; the queue ends at the P-th. */
	if (err == 0) {
		err = ipcq_queue_end(q);
	}
	if (err != 0) {
		ts_fail(st, "producer send", err);
	}
	ipcq_queue_close(q);
	return NULL;
}

/* Record one message; returns 0 or IPCQ_EPROTO if it is not ours. */
static int
ts_record(ts_state *st, const ipcq_msg *m)
{
	char     text[32];
	size_t   len = ipcq_msg_size(m);
	unsigned p, s;

	if (len >= sizeof(text)) {
		return IPCQ_EPROTO;
	}
	memcpy(text, ipcq_msg_data(m), len);
	text[len] = '\0';
	if (sscanf(text, "%u %u", &p, &s) != 2 || p >= st->p || s >= st->m) {
		return IPCQ_EPROTO;
	}
	pthread_mutex_lock(&st->mtx);
	if (st->seen[(size_t) p * st->m + s]++ != 0) {
		st->dups++;
	}
	pthread_mutex_unlock(&st->mtx);
	return 0;
}

/* A consumer thread: all of them call recv on the same handle. */
static void *
ts_consumer(void *arg)
{
	ts_thread *t  = arg;
	ts_state  *st = t->st;
	ipcq_msg  *m;
	int        err;

	while ((err = ipcq_queue_recv(st->shared, &m, -1)) == 0) {
		err = ts_record(st, m);
		ipcq_msg_free(m);
		if (err != 0) {
			ts_fail(st, "consumer: unexpected message", err);
			return NULL;
		}
		t->got++;
	}
	/* Every thread sees IPCQ_EOF: it is sticky on the handle. */
	if (err != IPCQ_EOF) {
		ts_fail(st, "consumer recv", err);
	}
	return NULL;
}

static int
ts_args(ts_state *st, int argc, char **argv)
{
	long p = argc > 1 ? atol(argv[1]) : 4;
	long c = argc > 2 ? atol(argv[2]) : 4;
	long m = argc > 3 ? atol(argv[3]) : 1000;

	st->name = argc > 4 ? argv[4] : "threads";
	if (p < 1 || p > TS_MAX_THREADS || c < 1 || c > TS_MAX_THREADS ||
	    m < 1 || m > TS_MAX_M) {
		fprintf(stderr, "usage: threads_shared_client [P [C [M "
		                "[QUEUE]]]]  (P, C: 1..64; M: 1..100000)\n");
		return 2;
	}
	st->p  = (unsigned) p;
	st->nc = (unsigned) c;
	st->m  = (unsigned) m;
	return 0;
}

/* Start the consumers first (they wait), then the producers; join all. */
static void
ts_run(ts_state *st, ts_thread *th)
{
	unsigned n = st->nc + st->p;

	for (unsigned i = 0; i < n; i++) {
		th[i].st = st;
		th[i].id = i < st->nc ? i : i - st->nc;
		if (pthread_create(&th[i].tid, NULL,
		        i < st->nc ? ts_consumer : ts_producer, &th[i]) != 0) {
			ts_fail(st, "pthread_create", IPCQ_ENOMEM);
			n = i;
			break;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(th[i].tid, NULL);
	}
}

/* Print what happened; returns the exit code. */
static int
ts_report(ts_state *st, const ts_thread *th)
{
	unsigned long total = (unsigned long) st->p * st->m, missing = 0;

	for (unsigned long i = 0; i < total; i++) {
		missing += st->seen[i] == 0;
	}
	for (unsigned i = 0; i < st->nc; i++) {
		printf("threads_shared_client: consumer thread %u got %lu\n", i,
		    th[i].got);
	}
	printf("threads_shared_client: %u producer threads (own handles), %u "
	       "consumer threads (one shared handle), one client: %lu/%lu "
	       "messages, %lu duplicates, %lu missing: %s\n",
	    st->p, st->nc, total - missing, total, st->dups, missing,
	    st->err == 0 && st->dups == 0 && missing == 0 ? "OK" : "FAILED");
	return st->err == 0 && st->dups == 0 && missing == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static ts_thread th[2 * TS_MAX_THREADS];
	ts_state         st;
	ipcq_queue_opts  o;
	int              err, rv;

	memset(&st, 0, sizeof(st));
	if ((rv = ts_args(&st, argc, argv)) != 0) {
		return rv;
	}
	pthread_mutex_init(&st.mtx, NULL);
	st.seen = calloc((size_t) st.p * st.m, 1);
	if (st.seen == NULL) {
		return 1;
	}
	if ((err = ipcq_client_open(&st.c, NULL)) != 0) {
		ts_fail(&st, "connect", err);
		free(st.seen);
		return 1;
	}
	ts_opts(&st, &o, IPCQ_ROLE_CONSUMER);
	if ((err = ipcq_queue_open(&st.shared, st.c, st.name, &o)) != 0) {
		ts_fail(&st, "consumer open", err);
		rv = 1;
	} else {
		ts_run(&st, th);
		rv = ts_report(&st, th);
	}
	ipcq_queue_close(st.shared);
	ipcq_client_close(st.c);
	pthread_mutex_destroy(&st.mtx);
	free(st.seen);
	return rv;
}
