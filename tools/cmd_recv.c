/*
 * cmd_recv.c — the consumer side of `ipcq`: `recv` prints messages, one
 * per line, until end of stream or until it has printed -n N of them.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Messages asked for per round trip. With -n, never more than are still
 * wanted: a message received is a message taken from other consumers. */
#define RECV_BATCH 256

typedef struct recv_args {
	int      has_count;  /* -n given */
	uint64_t count;      /* -n */
	int      timeout_ms; /* --timeout, per message */
	int      ack;        /* --ack: explicit ack after output */
	uint64_t expected;   /* --expected-producers */
} recv_args;

static int
recv_parse_opts(cli_ctx *ctx, int argc, char **argv, recv_args *a)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS,
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ack", no_argument, NULL, 'a' },
		{ "expected-producers", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int rc = 0;
	int opt;

	while ((opt = cli_getopt(ctx, argc, argv, CLI_SHORTOPTS "n:t:aP:",
	            longopts, &rc)) != -1) {
		switch (opt) {
		case -2:
			return rc;
		case 'n':
			a->has_count = 1;
			rc = cli_parse_u64(ctx, "-n", optarg, UINT64_MAX,
			    &a->count);
			if (rc == 0 && a->count == 0) {
				rc = cli_usage(ctx, "-n: must be at least 1");
			}
			break;
		case 't':
			rc = cli_parse_timeout(ctx, optarg, &a->timeout_ms);
			break;
		case 'a':
			a->ack = 1;
			break;
		case 'P':
			rc = cli_parse_u64(ctx, "--expected-producers", optarg,
			    UINT32_MAX, &a->expected);
			break;
		default:
			rc = cli_usage(ctx, "unexpected option");
			break;
		}
		if (rc != 0) {
			return rc;
		}
	}
	return CLI_EXIT_OK;
}

/* Write each message as its bytes and '\n'; flushed, so that an ack that
 * follows means "the reader has it". 0, or -1 with errno. */
static int
recv_write(ipcq_msg **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = ipcq_msg_size(msgs[i]);

		if (fwrite(ipcq_msg_data(msgs[i]), 1, len, stdout) != len ||
		    putchar('\n') == EOF) {
			return -1;
		}
	}
	return fflush(stdout) == 0 ? 0 : -1;
}

static void
recv_free(ipcq_msg **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ipcq_msg_free(msgs[i]);
	}
}

/* Receive, print and (with --ack) ack until done. Returns an exit code. */
static int
recv_loop(cli_ctx *ctx, ipcq_queue *q, const recv_args *a)
{
	ipcq_msg *msgs[RECV_BATCH];
	uint64_t  got = 0;
	size_t    n, max;
	int       err;

	while (!a->has_count || got < a->count) {
		max = RECV_BATCH;
		if (a->has_count && a->count - got < max) {
			max = (size_t) (a->count - got);
		}
		err = ipcq_queue_recv_batch(q, msgs, max, &n, a->timeout_ms);
		if (err == IPCQ_EOF && !a->has_count) {
			return CLI_EXIT_OK; /* the normal end of `recv` */
		}
		if (err != 0) {
			return cli_fail(ctx, err);
		}
		if (recv_write(msgs, n) != 0) {
			/* Not acked: the broker redelivers them. */
			recv_free(msgs, n);
			return cli_error(ctx, "stdout: %s", strerror(errno));
		}
		err = a->ack ? ipcq_queue_ack_batch(q, msgs, n) : 0;
		recv_free(msgs, n);
		if (err != 0) {
			return cli_fail(ctx, err);
		}
		got += n;
	}
	return CLI_EXIT_OK;
}

/* ipcq recv [-n N] [-t MS] [-a] [-P N] QUEUE */
int
cli_cmd_recv(cli_ctx *ctx, int argc, char **argv)
{
	recv_args    a = { .timeout_ms = -1 };
	ipcq_client *c;
	ipcq_queue  *q;
	int          rc;

	if ((rc = recv_parse_opts(ctx, argc, argv, &a)) != 0) {
		return rc;
	}
	if (optind != argc - 1) {
		return cli_usage(ctx, optind >= argc ? "missing QUEUE"
		                                     : "too many arguments");
	}
	if ((rc = cli_connect(ctx, &c)) != 0) {
		return rc;
	}
	rc = cli_open_queue(ctx, c, argv[optind], IPCQ_ROLE_CONSUMER,
	    a.ack ? IPCQ_ACK_EXPLICIT : IPCQ_ACK_AUTO, (uint32_t) a.expected,
	    &q);
	if (rc == 0) {
		rc = recv_loop(ctx, q, &a);
		ipcq_queue_close(q);
	}
	ipcq_client_close(c);
	return rc;
}
