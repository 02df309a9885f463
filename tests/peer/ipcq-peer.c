/*
 * ipcq-peer — a scriptable producer or consumer process for the
 * integration tests. Each peer is a separate process with its own libipcq
 * client (IPCQ_URL from the environment), so the tests cross real process
 * boundaries, and a peer can be SIGKILLed at a chosen moment.
 *
 *   ipcq-peer produce QUEUE --id K --count N [--start S] [--batch B]
 *             [--end] [--pause-at N] [--size BYTES]
 *   ipcq-peer consume QUEUE [--ack explicit|auto] [--batch B] [--count N]
 *             [--hold N] [--out FILE] [--eof-repeat R] [--notify-after N]
 *   ipcq-peer ping
 *   common:   [--expected P] [--max-messages N] [--policy block|fail|drop]
 *             [--role auto|producer|consumer] [--timeout MS] [--gate]
 *             [--durable] (the queue, if this open creates it)
 *             [--zero-copy] (batch 1 only: produce with ipcq_msg_loan +
 *             ipcq_queue_send_loan; consume with ipcq_queue_recv_view;
 *             with --pause-at, the pause holds one more loan half
 *             written; with --hold, the held views stay unreleased)
 *
 * Payloads are "p<K>-<seq>" (padded with '.' to --size), so a test can
 * detect loss, duplicates and reordering exactly.
 *
 * stdout, produce: "SENT count=N", then "END" with --end; on error
 *   "ERR <NAME> sent=N".
 * stdout, consume: one "M <payload> <delivery_count> <redelivered>" line
 *   per message, then one final line: "EOF count=N", "DONE count=N"
 *   (--count reached), "HOLD count=N" (--hold reached; then, once stdin
 *   closes, "RELEASED count=N") or "ERR <NAME> count=N". --eof-repeat R adds "REPEAT EOF x<R>" when R
 *   more receives all returned IPCQ_EOF, else "REPEAT <NAME> at <i>".
 * Events, one line each on fd 3 when it is open (the harness's pipe):
 *   READY (queue opened), PAUSE (--pause-at reached; waits for stdin to
 *   close), HOLD (--hold messages received, unacked; waits likewise),
 *   PROGRESS (--notify-after messages received), GATE (--gate: after
 *   READY, waits for stdin to close before doing anything).
 * Exit status: 0 success (EOF counts as success), 2 usage, 3 check failed,
 *   20 + ipcq_err on an ipcq error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcq.h"

#define PEER_BATCH_MAX 1024
#define PEER_ERR_EXIT  20

struct peer_opts {
	const char *cmd;
	const char *queue;
	const char *out;
	int         id;
	long        count;
	long        start;
	size_t      batch;
	int         end;
	int         gate;
	long        pause_at;
	int         zero_copy;
	int         durable;
	size_t      size;
	int         ack_explicit;
	long        hold;
	long        eof_repeat;
	long        notify_after;
	uint32_t    expected;
	uint64_t    max_messages;
	int         policy;
	int         roles;
	int         timeout_ms;
};

static void
peer_event(const char *ev)
{
	char line[64];
	int  n = snprintf(line, sizeof(line), "%s\n", ev);

	fflush(stdout);
	/* fd 3 is the harness's event pipe; absent when run by hand. */
	if (fcntl(3, F_GETFD) != -1) {
		(void) !write(3, line, (size_t) n);
	}
}

/* Block until the harness closes our stdin (or sends anything). */
static void
peer_wait_stdin(void)
{
	char c;

	(void) !read(0, &c, 1);
}

static int
peer_fail(const char *what, int rv, long n)
{
	printf("ERR %s %s=%ld\n", ipcq_err_name(rv), what, n);
	fflush(stdout);
	return PEER_ERR_EXIT + rv;
}

static int
peer_usage(const char *why)
{
	fprintf(stderr, "ipcq-peer: %s\n", why);
	return 2;
}

static int
parse_policy(const char *s)
{
	if (strcmp(s, "fail") == 0) {
		return IPCQ_FULL_FAIL;
	}
	if (strcmp(s, "drop") == 0) {
		return IPCQ_FULL_DROP_OLDEST;
	}
	return IPCQ_FULL_BLOCK;
}

static int
parse_role(const char *s)
{
	if (strcmp(s, "producer") == 0) {
		return IPCQ_ROLE_PRODUCER;
	}
	return strcmp(s, "consumer") == 0 ? IPCQ_ROLE_CONSUMER : IPCQ_ROLE_AUTO;
}

static int
parse_opt(struct peer_opts *o, const char *k, const char *v)
{
	if (strcmp(k, "--end") == 0) {
		o->end = 1;
		return 0;
	}
	if (strcmp(k, "--gate") == 0) {
		o->gate = 1;
		return 0;
	}
	if (strcmp(k, "--zero-copy") == 0) {
		o->zero_copy = 1;
		return 0;
	}
	if (strcmp(k, "--durable") == 0) {
		o->durable = 1;
		return 0;
	}
	if (v == NULL) {
		return -1;
	}
	if (strcmp(k, "--id") == 0) o->id = atoi(v);
	else if (strcmp(k, "--count") == 0) o->count = atol(v);
	else if (strcmp(k, "--start") == 0) o->start = atol(v);
	else if (strcmp(k, "--batch") == 0) o->batch = (size_t) atol(v);
	else if (strcmp(k, "--pause-at") == 0) o->pause_at = atol(v);
	else if (strcmp(k, "--size") == 0) o->size = (size_t) atol(v);
	else if (strcmp(k, "--ack") == 0) o->ack_explicit = !strcmp(v, "explicit");
	else if (strcmp(k, "--hold") == 0) o->hold = atol(v);
	else if (strcmp(k, "--out") == 0) o->out = v;
	else if (strcmp(k, "--eof-repeat") == 0) o->eof_repeat = atol(v);
	else if (strcmp(k, "--notify-after") == 0) o->notify_after = atol(v);
	else if (strcmp(k, "--expected") == 0) o->expected = (uint32_t) atol(v);
	else if (strcmp(k, "--max-messages") == 0) o->max_messages = strtoull(v, NULL, 10);
	else if (strcmp(k, "--policy") == 0) o->policy = parse_policy(v);
	else if (strcmp(k, "--role") == 0) o->roles = parse_role(v);
	else if (strcmp(k, "--timeout") == 0) o->timeout_ms = atoi(v);
	else return -1;
	return 1;
}

static int
parse_args(struct peer_opts *o, int argc, char **argv)
{
	int i = 2;

	memset(o, 0, sizeof(*o));
	o->batch      = 1;
	o->timeout_ms = 20000; /* never hang forever on a broken broker */
	o->pause_at   = -1;
	if (argc < 2) {
		return -1;
	}
	o->cmd = argv[1];
	if (strcmp(o->cmd, "ping") != 0) {
		if (argc < 3) {
			return -1;
		}
		o->queue = argv[i++];
	}
	for (; i < argc; i++) {
		int r = parse_opt(o, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
		if (r < 0) {
			return -1;
		}
		i += r;
	}
	if (o->batch < 1 || o->batch > PEER_BATCH_MAX) {
		return -1;
	}
	return 0;
}

static int
peer_open(ipcq_client **c, ipcq_queue **q, const struct peer_opts *o,
    const char *name)
{
	ipcq_queue_opts qo;
	const char     *env;
	int             rv;

	if ((rv = ipcq_client_open(c, NULL)) != 0) {
		return rv;
	}
	ipcq_queue_opts_init(&qo);
	qo.roles              = o->roles;
	qo.ack_mode = o->ack_explicit ? IPCQ_ACK_EXPLICIT : IPCQ_ACK_AUTO;
	qo.expected_producers = o->expected;
	qo.durable            = o->durable;
	qo.max_messages       = o->max_messages;
	qo.full_policy        = o->policy;
	if ((rv = ipcq_queue_open(q, *c, name, &qo)) != 0) {
		ipcq_client_close(*c);
		*c = NULL;
		return rv;
	}
	/* A test's .socket run must really take the socket path. */
	env = getenv("IPCQ_TRANSPORT");
	if (env != NULL && strcmp(env, "socket") == 0 && ipcq_queue_is_shm(*q)) {
		fprintf(stderr, "ipcq-peer: IPCQ_TRANSPORT=socket, but %s is on "
		                "shared memory\n", name);
		exit(3);
	}
	return rv;
}

static size_t
make_payload(char *buf, size_t cap, const struct peer_opts *o, long seq)
{
	size_t len = (size_t) snprintf(buf, cap, "p%d-%ld", o->id, seq);

	if (o->size > len && o->size <= cap) {
		memset(buf + len, '.', o->size - len);
		len = o->size;
	}
	return len;
}

/* Zero copy: loan, fill in place, send. */
static int
send_loaned(ipcq_queue *q, const void *data, size_t len, int timeout_ms)
{
	ipcq_msg *m;
	int       rv = ipcq_msg_loan(&m, q, len, timeout_ms);

	if (rv != 0) {
		return rv;
	}
	memcpy(ipcq_msg_buffer(m), data, len);
	return ipcq_queue_send_loan(q, m, timeout_ms);
}

/* Send messages [from, to) in batches of o->batch. */
static int
produce_range(ipcq_queue *q, const struct peer_opts *o, long from, long to,
    long *sent)
{
	static ipcq_iov iov[PEER_BATCH_MAX];
	static char    *bufs[PEER_BATCH_MAX];
	size_t          cap = o->size > 64 ? o->size : 64;

	for (long seq = from; seq < to;) {
		size_t n = 0, done = 0;
		for (; n < o->batch && seq + (long) n < to; n++) {
			if (bufs[n] == NULL && (bufs[n] = malloc(cap)) == NULL) {
				return IPCQ_ENOMEM;
			}
			iov[n].data = bufs[n];
			iov[n].len  = make_payload(bufs[n], cap, o, seq + (long) n);
		}
		int rv = o->zero_copy
		    ? send_loaned(q, iov[0].data, iov[0].len, o->timeout_ms)
		    : o->batch == 1
		    ? ipcq_queue_send(q, iov[0].data, iov[0].len, o->timeout_ms)
		    : ipcq_queue_send_batch(q, iov, n, &done, o->timeout_ms);
		if (o->batch == 1 && rv == 0) {
			done = 1;
		}
		*sent += (long) done;
		seq += (long) done;
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

static int
cmd_produce(ipcq_queue *q, const struct peer_opts *o)
{
	long sent = 0, first = o->start, last = o->start + o->count;
	long pause = o->pause_at >= 0 ? o->start + o->pause_at : last;
	int  rv;

	if (pause > last) {
		pause = last;
	}
	if ((rv = produce_range(q, o, first, pause, &sent)) != 0) {
		return peer_fail("sent", rv, sent);
	}
	if (o->pause_at >= 0) {
		/* Zero copy: pause holding a loan written half-way (a kill
		 * now is a producer dying in the middle of a write). */
		ipcq_msg *loan = NULL;
		if (o->zero_copy &&
		    (rv = ipcq_msg_loan(&loan, q, 64, o->timeout_ms)) == 0) {
			memset(ipcq_msg_buffer(loan), 'x', 32);
		}
		peer_event("PAUSE");
		peer_wait_stdin();
		ipcq_msg_free(loan); /* unsent: its room comes back */
	}
	if ((rv = produce_range(q, o, pause, last, &sent)) != 0) {
		return peer_fail("sent", rv, sent);
	}
	printf("SENT count=%ld\n", sent);
	if (o->end) {
		if ((rv = ipcq_queue_end(q)) != 0) {
			return peer_fail("sent", rv, sent);
		}
		printf("END\n");
	}
	return 0;
}

static void
print_msg(FILE *out, const ipcq_msg *m)
{
	const char *d   = ipcq_msg_data(m);
	size_t      len = ipcq_msg_size(m), show = 0;

	/* The payload up to its padding; never more than a line's worth. */
	while (show < len && show < 64 && d[show] != '.' && d[show] > ' ') {
		show++;
	}
	fprintf(out, "M %.*s %u %d\n", (int) show, d,
	    ipcq_msg_delivery_count(m), ipcq_msg_redelivered(m) ? 1 : 0);
}

static int
consume_eof(ipcq_queue *q, FILE *out, const struct peer_opts *o, long got)
{
	fprintf(out, "EOF count=%ld\n", got);
	for (long i = 0; i < o->eof_repeat; i++) {
		ipcq_msg *m  = NULL;
		int       rv = ipcq_queue_recv(q, &m, 2000);
		if (rv != IPCQ_EOF) {
			ipcq_msg_free(m);
			fprintf(out, "REPEAT %s at %ld\n", ipcq_err_name(rv), i);
			return 3;
		}
	}
	if (o->eof_repeat > 0) {
		fprintf(out, "REPEAT EOF x%ld\n", o->eof_repeat);
	}
	return 0;
}

/* Views kept unreleased under --zero-copy --hold. */
static ipcq_msg *held[PEER_BATCH_MAX];
static size_t    held_n;

/* One receive of up to want messages; prints them, acks unless holding. */
static int
consume_some(ipcq_queue *q, FILE *out, const struct peer_opts *o,
    size_t want, size_t *n)
{
	ipcq_msg *msgs[PEER_BATCH_MAX];
	int       rv;

	if (o->zero_copy) {
		rv = ipcq_queue_recv_view(q, &msgs[0], o->timeout_ms);
		*n = rv == 0 ? 1 : 0;
	} else if (o->batch == 1) {
		rv = ipcq_queue_recv(q, &msgs[0], o->timeout_ms);
		*n = rv == 0 ? 1 : 0;
	} else {
		rv = ipcq_queue_recv_batch(q, msgs, want, n, o->timeout_ms);
	}
	if (rv != 0) {
		return rv;
	}
	for (size_t i = 0; i < *n; i++) {
		print_msg(out, msgs[i]);
	}
	if (o->ack_explicit && o->hold == 0) {
		rv = ipcq_queue_ack_batch(q, msgs, *n);
	}
	for (size_t i = 0; i < *n; i++) {
		if (o->zero_copy && o->hold > 0 && held_n < PEER_BATCH_MAX) {
			held[held_n++] = msgs[i]; /* a view stays held */
		} else {
			ipcq_msg_free(msgs[i]);
		}
	}
	return rv;
}

static int
cmd_consume(ipcq_queue *q, const struct peer_opts *o, FILE *out)
{
	long limit = o->hold > 0 ? o->hold : o->count;
	long got   = 0;
	int  rv;

	while (limit <= 0 || got < limit) {
		size_t want = o->batch, n = 0;
		if (limit > 0 && (size_t) (limit - got) < want) {
			want = (size_t) (limit - got);
		}
		rv = consume_some(q, out, o, want, &n);
		long before = got;
		got += (long) n;
		if (o->notify_after > 0 && before < o->notify_after &&
		    got >= o->notify_after) {
			fflush(out);
			peer_event("PROGRESS");
		}
		if (rv == IPCQ_EOF) {
			return consume_eof(q, out, o, got);
		}
		if (rv != 0) {
			fprintf(out, "ERR %s count=%ld\n", ipcq_err_name(rv), got);
			return PEER_ERR_EXIT + rv;
		}
	}
	if (o->hold > 0) {
		fprintf(out, "HOLD count=%ld\n", got);
		fflush(out);
		peer_event("HOLD");
		peer_wait_stdin();
		fprintf(out, "RELEASED count=%ld\n", got);
		while (held_n > 0) {
			ipcq_msg_free(held[--held_n]);
		}
		return 0;
	}
	fprintf(out, "DONE count=%ld\n", got);
	return 0;
}

/* A fresh client's open + send + recv round trip on a private queue. */
static int
cmd_ping(const struct peer_opts *o)
{
	char         name[64], msg[64];
	ipcq_client *c;
	ipcq_queue  *q;
	ipcq_msg    *m = NULL;
	int          rv;

	snprintf(name, sizeof(name), "ping-%d", (int) getpid());
	snprintf(msg, sizeof(msg), "ping from %d", (int) getpid());
	if ((rv = peer_open(&c, &q, o, name)) != 0) {
		return peer_fail("open", rv, 0);
	}
	if ((rv = ipcq_queue_send(q, msg, strlen(msg), 5000)) == 0 &&
	    (rv = ipcq_queue_recv(q, &m, 5000)) == 0) {
		if (ipcq_msg_size(m) != strlen(msg) ||
		    memcmp(ipcq_msg_data(m), msg, strlen(msg)) != 0) {
			rv = -1;
		}
		ipcq_msg_free(m);
	}
	ipcq_queue_close(q);
	if (rv == 0) {
		rv = ipcq_client_delete(c, name);
	}
	ipcq_client_close(c);
	if (rv != 0) {
		return rv < 0 ? 3 : peer_fail("ping", rv, 0);
	}
	printf("PONG\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct peer_opts o;
	ipcq_client     *c;
	ipcq_queue      *q;
	FILE            *out = stdout;
	int              rv;

	if (parse_args(&o, argc, argv) != 0) {
		return peer_usage("bad arguments (see the comment in ipcq-peer.c)");
	}
	if (strcmp(o.cmd, "ping") == 0) {
		return cmd_ping(&o);
	}
	if (strcmp(o.cmd, "produce") != 0 && strcmp(o.cmd, "consume") != 0) {
		return peer_usage("unknown command");
	}
	if (o.out != NULL && (out = fopen(o.out, "w")) == NULL) {
		return peer_usage("cannot open --out file");
	}
	if ((rv = peer_open(&c, &q, &o, o.queue)) != 0) {
		return peer_fail("open", rv, 0);
	}
	peer_event("READY");
	if (o.gate) {
		peer_event("GATE");
		peer_wait_stdin();
	}
	rv = strcmp(o.cmd, "produce") == 0 ? cmd_produce(q, &o)
	                                   : cmd_consume(q, &o, out);
	fflush(out);
	ipcq_queue_close(q);
	ipcq_client_close(c);
	if (out != stdout) {
		fclose(out);
	}
	fflush(stdout);
	return rv;
}
