/*
 * cli.h — shared pieces of the `ipcq` command line: the exit-code table,
 * the subcommand table entry, and the helpers every subcommand uses to
 * parse options, connect and report errors.
 *
 * The tool is a plain client of libipcq: it uses nothing but ipcq.h.
 */
#ifndef IPCQ_CLI_H
#define IPCQ_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "ipcq.h"

/*
 * Exit codes. Scripts rely on them (docs/cli.md): rows are only ever
 * appended, never renumbered. X(name, number, meaning).
 */
#define CLI_EXIT_MAP(X)                                                       \
	X(OK, 0, "success")                                                   \
	X(ERROR, 1, "other error")                                            \
	X(USAGE, 2, "usage error (bad option or argument)")                   \
	X(EOF, 3, "end of stream reached before -n N messages (recv)")        \
	X(TIMEOUT, 4, "timed out (--timeout)")                                \
	X(CLOSED, 5, "queue has ended: send refused (ECLOSED)")               \
	X(NOBROKER, 6, "broker unreachable or connection lost")               \
	X(NOTFOUND, 7, "no such queue (or queue deleted)")                    \
	X(ABANDONED, 8, "stream abandoned: a producer left without ending")   \
	X(BADNAME, 9, "invalid queue name")

enum cli_exit {
#define CLI_EXIT_ENUM_(name, num, msg) CLI_EXIT_##name = num,
	CLI_EXIT_MAP(CLI_EXIT_ENUM_)
#undef CLI_EXIT_ENUM_
	/* Not an exit code: "stop now, successfully" (after --help). It
	 * travels up like an error so parsing stops; main exits 0. */
	CLI_DONE = -1,
};

/* What a subcommand gets besides its arguments. */
typedef struct cli_ctx {
	const char *cmd; /* subcommand name, used in messages */
	const char *url; /* -u/--url, or NULL: IPCQ_URL, else the default */
} cli_ctx;

/* One row of the subcommand table (main.c). run() gets argv[0] == the
 * subcommand name and returns an exit code. */
typedef struct cli_cmd {
	const char *name;
	int (*run)(cli_ctx *ctx, int argc, char **argv);
	const char *synopsis; /* "send [OPTIONS] QUEUE [MSG...]" */
	const char *summary;  /* one line for `ipcq --help` */
	const char *options;  /* option lines for `ipcq CMD --help` */
} cli_cmd;

/* Subcommand handlers, one file per group. */
int cli_cmd_send(cli_ctx *ctx, int argc, char **argv);  /* cmd_send.c */
int cli_cmd_end(cli_ctx *ctx, int argc, char **argv);   /* cmd_send.c */
int cli_cmd_recv(cli_ctx *ctx, int argc, char **argv);  /* cmd_recv.c */
int cli_cmd_shutdown(cli_ctx *ctx, int argc, char **argv); /* cmd_admin.c */
int cli_cmd_list(cli_ctx *ctx, int argc, char **argv);  /* cmd_admin.c */
int cli_cmd_purge(cli_ctx *ctx, int argc, char **argv); /* cmd_admin.c */
int cli_cmd_delete(cli_ctx *ctx, int argc, char **argv); /* cmd_admin.c */
int cli_cmd_stats(cli_ctx *ctx, int argc, char **argv); /* cmd_stats.c */
int cli_cmd_top(cli_ctx *ctx, int argc, char **argv);   /* cmd_stats.c */

/* The table lookup and per-command help (main.c); help for NULL is the
 * main help. */
const cli_cmd *cli_find(const char *name);
void           cli_print_cmd_help(const cli_cmd *cmd);

/* The exit code for an ipcq_err (IPCQ_OK -> 0). */
int cli_exit_code(int err);

/* Print "ipcq: <cmd>: <strerror> (<err_name>)" on stderr and return the
 * exit code for err. */
int cli_fail(const cli_ctx *ctx, int err);

/* Print "ipcq: <cmd>: <message>" and a hint on stderr; return 2. */
int cli_usage(const cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "ipcq: <cmd>: <message>" on stderr; return 1. */
int cli_error(const cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Options every subcommand takes: each command's short option string
 * starts with CLI_SHORTOPTS and its long option table with CLI_LONGOPTS.
 * The leading ':' makes getopt report a missing argument distinctly and
 * print nothing itself, so every message has the same shape.
 */
#define CLI_SHORTOPTS ":hu:"
#define CLI_LONGOPTS                                                          \
	{ "help", no_argument, NULL, 'h' },                                   \
	{ "url", required_argument, NULL, 'u' }

/*
 * getopt_long, plus the handling of the common options and of errors.
 * Returns the next option character that is the command's own, -1 at the
 * end of the options, or -2 when the command must return *rc now (help
 * printed: CLI_DONE; unknown option or missing argument: 2). The caller (main)
 * sets optind = 0 before the first call so GNU getopt starts afresh.
 */
int cli_getopt(cli_ctx *ctx, int argc, char **argv, const char *shortopts,
    const struct option *longopts, int *rc);

/* Parse a timeout in ms: -1 (forever) or 0..INT_MAX. 0 on success, else
 * a usage error was printed and the exit code is returned. */
int cli_parse_timeout(const cli_ctx *ctx, const char *s, int *ms);

/* Parse a non-negative integer no larger than max. Same returns. */
int cli_parse_u64(const cli_ctx *ctx, const char *what, const char *s,
    uint64_t max, uint64_t *v);

/* Connect to the broker at ctx->url (or the default). On failure prints
 * the error and returns the exit code. */
int cli_connect(const cli_ctx *ctx, ipcq_client **c);

/* Attach to queue name with the given roles, ack mode and, if this open
 * creates the queue, expected_producers. On failure prints the error and
 * returns the exit code. */
int cli_open_queue(const cli_ctx *ctx, ipcq_client *c, const char *name,
    int roles, int ack_mode, uint32_t expected_producers, ipcq_queue **q);

/* Print the exit-code table (for --help). */
void cli_print_exit_codes(void);

#endif /* IPCQ_CLI_H */
