/*
 * cmd_send.c — the producer side of `ipcq`: `send` (messages from the
 * arguments or from stdin) and `end` (one producer ends its stream).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stdin batch is sent when it holds this many lines or bytes: large
 * enough that a round trip carries many messages, small enough that a
 * batch is far below the broker's frame limit. */
#define SEND_BATCH_MSGS  1024
#define SEND_BATCH_BYTES (1024u * 1024)

typedef struct send_args {
	int      end;        /* --end */
	int      timeout_ms; /* --timeout */
	uint64_t expected;   /* --expected-producers */
} send_args;

static const struct option send_longopts[] = {
	CLI_LONGOPTS,
	{ "end", no_argument, NULL, 'e' },
	{ "timeout", required_argument, NULL, 't' },
	{ "expected-producers", required_argument, NULL, 'P' },
	{ NULL, 0, NULL, 0 },
};

/* `end` takes only -P of send's options. */
static const struct option end_longopts[] = {
	CLI_LONGOPTS,
	{ "expected-producers", required_argument, NULL, 'P' },
	{ NULL, 0, NULL, 0 },
};

/* Option parsing shared by send and end. */
static int
send_parse_opts(cli_ctx *ctx, int argc, char **argv, const char *shortopts,
    const struct option *longopts, send_args *a)
{
	int rc = 0;
	int opt;

	while ((opt = cli_getopt(ctx, argc, argv, shortopts, longopts, &rc)) !=
	    -1) {
		switch (opt) {
		case -2:
			return rc;
		case 'e':
			a->end = 1;
			break;
		case 't':
			rc = cli_parse_timeout(ctx, optarg, &a->timeout_ms);
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

/* Each argument is one message: one batch, split by the library. */
static int
send_from_args(ipcq_queue *q, char **msgs, int n, int timeout_ms)
{
	ipcq_iov *iov = calloc((size_t) n, sizeof(*iov));
	int       err;

	if (iov == NULL) {
		return IPCQ_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		iov[i].data = msgs[i];
		iov[i].len  = strlen(msgs[i]);
	}
	err = ipcq_queue_send_batch(q, iov, (size_t) n, NULL, timeout_ms);
	free(iov);
	return err;
}

static void
send_free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(lines[i]);
	}
}

/* One message per stdin line, without its '\n'. Returns an exit code. */
static int
send_from_stdin(cli_ctx *ctx, ipcq_queue *q, int timeout_ms)
{
	static char *lines[SEND_BATCH_MSGS];
	static ipcq_iov iov[SEND_BATCH_MSGS];
	size_t  n = 0, bytes = 0, cap;
	ssize_t len;
	int     err = 0, eof = 0;

	while (!eof && err == 0) {
		lines[n] = NULL;
		cap      = 0;
		if ((len = getline(&lines[n], &cap, stdin)) < 0) {
			free(lines[n]);
			if (ferror(stdin)) {
				send_free_lines(lines, n);
				return cli_error(ctx, "stdin: %s", strerror(errno));
			}
			eof = 1;
		} else {
			if (len > 0 && lines[n][len - 1] == '\n') {
				len--;
			}
			iov[n].data = lines[n];
			iov[n].len  = (size_t) len;
			bytes += (size_t) len;
			n++;
		}
		if (n > 0 && (eof || n == SEND_BATCH_MSGS ||
		                 bytes >= SEND_BATCH_BYTES)) {
			err = ipcq_queue_send_batch(q, iov, n, NULL, timeout_ms);
			send_free_lines(lines, n);
			n = bytes = 0;
		}
	}
	return err == 0 ? CLI_EXIT_OK : cli_fail(ctx, err);
}

/* Shared tail of send and end: end if asked, then let go of everything. */
static int
send_finish(cli_ctx *ctx, ipcq_client *c, ipcq_queue *q, int rc, int end)
{
	int err;

	if (rc == CLI_EXIT_OK && end && (err = ipcq_queue_end(q)) != 0) {
		rc = cli_fail(ctx, err);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
	return rc;
}

/* ipcq send [-e] [-t MS] [-P N] QUEUE [MSG...] */
int
cli_cmd_send(cli_ctx *ctx, int argc, char **argv)
{
	send_args    a = { .end = 0, .timeout_ms = -1, .expected = 0 };
	ipcq_client *c;
	ipcq_queue  *q;
	const char  *name;
	int          rc;

	if ((rc = send_parse_opts(ctx, argc, argv, CLI_SHORTOPTS "et:P:",
	         send_longopts, &a)) != 0) {
		return rc;
	}
	if (optind >= argc) {
		return cli_usage(ctx, "missing QUEUE");
	}
	name = argv[optind++];
	if ((rc = cli_connect(ctx, &c)) != 0) {
		return rc;
	}
	if ((rc = cli_open_queue(ctx, c, name, IPCQ_ROLE_PRODUCER,
	         IPCQ_ACK_AUTO, (uint32_t) a.expected, &q)) != 0) {
		ipcq_client_close(c);
		return rc;
	}
	if (optind < argc) {
		int err = send_from_args(q, argv + optind, argc - optind,
		    a.timeout_ms);
		rc      = err == 0 ? CLI_EXIT_OK : cli_fail(ctx, err);
	} else {
		rc = send_from_stdin(ctx, q, a.timeout_ms);
	}
	return send_finish(ctx, c, q, rc, a.end);
}

/* ipcq end [-P N] QUEUE: attach as a producer and end at once. */
int
cli_cmd_end(cli_ctx *ctx, int argc, char **argv)
{
	send_args    a = { .end = 1, .timeout_ms = -1, .expected = 0 };
	ipcq_client *c;
	ipcq_queue  *q;
	int          rc;

	if ((rc = send_parse_opts(ctx, argc, argv, CLI_SHORTOPTS "P:",
	         end_longopts, &a)) != 0) {
		return rc;
	}
	if (optind != argc - 1) {
		return cli_usage(ctx, optind >= argc ? "missing QUEUE"
		                                     : "too many arguments");
	}
	if ((rc = cli_connect(ctx, &c)) != 0) {
		return rc;
	}
	if ((rc = cli_open_queue(ctx, c, argv[optind], IPCQ_ROLE_PRODUCER,
	         IPCQ_ACK_AUTO, (uint32_t) a.expected, &q)) != 0) {
		ipcq_client_close(c);
		return rc;
	}
	return send_finish(ctx, c, q, CLI_EXIT_OK, 1);
}
