/*
 * cli_common.c — what every `ipcq` subcommand shares: the mapping from
 * library errors to exit codes, the shape of error messages, option
 * parsing and connecting.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cli_exit_code(int err)
{
	/* One exit code per condition a script may want to branch on;
	 * everything else is "other error". */
	switch (err) {
	case IPCQ_OK:
		return CLI_EXIT_OK;
	case IPCQ_EOF:
		return CLI_EXIT_EOF;
	case IPCQ_ETIMEDOUT:
		return CLI_EXIT_TIMEOUT;
	case IPCQ_ECLOSED:
		return CLI_EXIT_CLOSED;
	case IPCQ_ENOBROKER:
	case IPCQ_ECONNLOST:
		return CLI_EXIT_NOBROKER;
	case IPCQ_ENOTFOUND:
	case IPCQ_EDELETED:
		return CLI_EXIT_NOTFOUND;
	case IPCQ_EABANDONED:
		return CLI_EXIT_ABANDONED;
	case IPCQ_EBADNAME:
		return CLI_EXIT_BADNAME;
	default:
		return CLI_EXIT_ERROR;
	}
}

int
cli_fail(const cli_ctx *ctx, int err)
{
	fprintf(stderr, "ipcq: %s: %s (%s)\n", ctx->cmd, ipcq_strerror(err),
	    ipcq_err_name(err));
	return cli_exit_code(err);
}

static void
cli_vmsg(const cli_ctx *ctx, const char *fmt, va_list ap)
{
	if (strcmp(ctx->cmd, "ipcq") == 0) {
		fprintf(stderr, "ipcq: "); /* before any command */
	} else {
		fprintf(stderr, "ipcq: %s: ", ctx->cmd);
	}
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int
cli_usage(const cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(ctx, fmt, ap);
	va_end(ap);
	if (strcmp(ctx->cmd, "ipcq") == 0) {
		fprintf(stderr, "Try 'ipcq --help'.\n");
	} else {
		fprintf(stderr, "Try 'ipcq %s --help'.\n", ctx->cmd);
	}
	return CLI_EXIT_USAGE;
}

int
cli_error(const cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(ctx, fmt, ap);
	va_end(ap);
	return CLI_EXIT_ERROR;
}

int
cli_getopt(cli_ctx *ctx, int argc, char **argv, const char *shortopts,
    const struct option *longopts, int *rc)
{
	int opt;

	opterr = 0; /* our own messages, in the "ipcq: CMD: ..." shape */
	for (;;) {
		opt = getopt_long(argc, argv, shortopts, longopts, NULL);
		switch (opt) {
		case 'u':
			ctx->url = optarg;
			continue;
		case 'h':
			cli_print_cmd_help(cli_find(ctx->cmd));
			*rc = CLI_DONE;
			return -2;
		case '?':
			if (optopt != 0) {
				*rc = cli_usage(ctx, "unknown option '-%c'", optopt);
			} else {
				*rc = cli_usage(ctx, "unknown option '%s'",
				    argv[optind - 1]);
			}
			return -2;
		case ':':
			*rc = cli_usage(ctx, "option '%s' needs an argument",
			    argv[optind - 1]);
			return -2;
		default:
			return opt;
		}
	}
}

int
cli_parse_u64(const cli_ctx *ctx, const char *what, const char *s,
    uint64_t max, uint64_t *v)
{
	char              *end;
	unsigned long long n;

	/* strtoull accepts "-1" as a huge number: refuse any sign. */
	if (s[0] < '0' || s[0] > '9') {
		return cli_usage(ctx, "%s: not a number: '%s'", what, s);
	}
	errno = 0;
	n     = strtoull(s, &end, 10);
	if (*end != '\0') {
		return cli_usage(ctx, "%s: not a number: '%s'", what, s);
	}
	if (errno == ERANGE || n > max) {
		return cli_usage(ctx, "%s: out of range: '%s'", what, s);
	}
	*v = n;
	return CLI_EXIT_OK;
}

int
cli_parse_timeout(const cli_ctx *ctx, const char *s, int *ms)
{
	uint64_t v;
	int      rc;

	if (strcmp(s, "-1") == 0) {
		*ms = -1;
		return CLI_EXIT_OK;
	}
	if ((rc = cli_parse_u64(ctx, "--timeout", s, INT_MAX, &v)) != 0) {
		return rc;
	}
	*ms = (int) v;
	return CLI_EXIT_OK;
}

int
cli_connect(const cli_ctx *ctx, ipcq_client **c)
{
	ipcq_client_opts opts;
	int              err;

	ipcq_client_opts_init(&opts);
	opts.url = ctx->url; /* NULL: the library applies IPCQ_URL/default */
	if ((err = ipcq_client_open(c, &opts)) != 0) {
		return cli_fail(ctx, err);
	}
	return CLI_EXIT_OK;
}

int
cli_open_queue(const cli_ctx *ctx, ipcq_client *c, const char *name,
    int roles, int ack_mode, uint32_t expected_producers, ipcq_queue **q)
{
	ipcq_queue_opts opts;
	int             err;

	ipcq_queue_opts_init(&opts);
	opts.roles              = roles;
	opts.ack_mode           = ack_mode;
	opts.expected_producers = expected_producers;
	if ((err = ipcq_queue_open(q, c, name, &opts)) != 0) {
		return cli_fail(ctx, err);
	}
	return CLI_EXIT_OK;
}

void
cli_print_exit_codes(void)
{
	printf("Exit status:\n");
#define CLI_EXIT_ROW_(name, num, msg) printf("  %d  %s\n", num, msg);
	CLI_EXIT_MAP(CLI_EXIT_ROW_)
#undef CLI_EXIT_ROW_
}
