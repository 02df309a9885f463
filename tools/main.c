/*
 * main.c — `ipcq`, the command line of the ipcq message queue: global
 * options, the table of subcommands, help and version. Each subcommand
 * lives in a cmd_*.c file and returns an exit code (cli.h); only this
 * file exits.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_QOPTS                                                             \
	"  -P, --expected-producers N  when this call creates the queue, it\n" \
	"                      ends after N producers have ended\n"

static const cli_cmd cli_cmds[] = {
	{ "send", cli_cmd_send, "send [OPTIONS] QUEUE [MSG...]",
	    "send each MSG (or each stdin line) as one message",
	    "  -e, --end           end this producer's stream after sending\n"
	    "  -t, --timeout MS    wait at most MS ms for room in a full queue\n"
	    "                      (default -1: forever)\n" CLI_QOPTS
	    "Without MSG, reads stdin and sends one message per line (the\n"
	    "newline removed), in batches. Use -- before a MSG starting with\n"
	    "'-'. Without --end the producer leaves without ending: once the\n"
	    "queue is drained and no producer is attached, consumers get\n"
	    "'stream abandoned' (exit 8) instead of waiting.\n" },
	{ "recv", cli_cmd_recv, "recv [OPTIONS] QUEUE",
	    "print messages, one per line, until end of stream",
	    "  -n, --count N       stop after N messages (exit 3 if the stream\n"
	    "                      ends first)\n"
	    "  -t, --timeout MS    wait at most MS ms for each message (exit 4)\n"
	    "                      (default -1: forever)\n"
	    "  -a, --ack           explicit ack: a message is acked only after\n"
	    "                      it has been written to stdout\n" CLI_QOPTS
	    "Each message is written as its raw bytes followed by '\\n'.\n"
	    "Without -n, exits 0 at end of stream.\n" },
	{ "end", cli_cmd_end, "end [OPTIONS] QUEUE",
	    "end one producer's stream (attach as a producer, then end)",
	    CLI_QOPTS },
	{ "shutdown", cli_cmd_shutdown, "shutdown [OPTIONS] QUEUE",
	    "end the queue at once for every producer", "" },
	{ "list", cli_cmd_list, "list [OPTIONS]", "list queue names", "" },
	{ "stats", cli_cmd_stats, "stats [OPTIONS] [QUEUE]",
	    "show queue statistics (every queue, or one in detail)",
	    "  -j, --json          print JSON (an array, or one object when\n"
	    "                      QUEUE is given)\n" },
	{ "top", cli_cmd_top, "top [OPTIONS]",
	    "every queue's statistics with rates, refreshed until interrupted",
	    "  -n, --count N       stop after N screens\n"
	    "  -i, --interval MS   time between screens (default 1000)\n" },
	{ "purge", cli_cmd_purge, "purge [OPTIONS] QUEUE",
	    "discard the ready messages of a queue", "" },
	{ "delete", cli_cmd_delete, "delete [OPTIONS] QUEUE",
	    "delete a queue and its messages", "" },
};

#define CLI_NCMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

const cli_cmd *
cli_find(const char *name)
{
	for (size_t i = 0; i < CLI_NCMDS; i++) {
		if (strcmp(cli_cmds[i].name, name) == 0) {
			return &cli_cmds[i];
		}
	}
	return NULL;
}

static void cli_print_help(void);

void
cli_print_cmd_help(const cli_cmd *cmd)
{
	if (cmd == NULL) {
		cli_print_help();
		return;
	}
	printf("Usage: ipcq %s\n%s.\n\nOptions:\n", cmd->synopsis,
	    cmd->summary);
	printf("  -u, --url URL       broker address (default: $IPCQ_URL, "
	       "else the\n                      per-user socket)\n");
	printf("  -h, --help          show this help\n%s", cmd->options);
}

static void
cli_print_help(void)
{
	char url[512];

	if (ipcq_default_url(url, sizeof(url)) != 0) {
		snprintf(url, sizeof(url), "(too long)");
	}
	printf("Usage: ipcq [-u URL] COMMAND [OPTIONS] [ARGS]\n"
	       "Send to, receive from and manage ipcq message queues.\n\n"
	       "Commands:\n");
	for (size_t i = 0; i < CLI_NCMDS; i++) {
		printf("  %-30s %s\n", cli_cmds[i].synopsis,
		    cli_cmds[i].summary);
	}
	printf("\nOptions:\n"
	       "  -u, --url URL   broker address, also accepted after COMMAND\n"
	       "  -h, --help      show this help; 'ipcq COMMAND --help' for "
	       "one command\n"
	       "  -V, --version   show the version\n\n"
	       "Broker address: --url, else $IPCQ_URL, else %s\n\n",
	    url);
	cli_print_exit_codes();
	printf("\nErrors are printed on stderr as "
	       "'ipcq: COMMAND: MESSAGE (ERRNAME)'.\n");
}

static int
cli_main_opts(cli_ctx *ctx, int argc, char **argv, int *done)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int rc = 0;
	int opt;

	/* '+': stop at COMMAND, whose options are its own. */
	while ((opt = cli_getopt(ctx, argc, argv, "+" CLI_SHORTOPTS "V",
	            longopts, &rc)) != -1) {
		if (opt == -2) {
			*done = 1;
			return rc;
		}
		if (opt == 'V') {
			printf("ipcq %d.%d.%d (protocol %d)\n",
			    IPCQ_VERSION_MAJOR, IPCQ_VERSION_MINOR,
			    IPCQ_VERSION_PATCH, IPCQ_PROTOCOL_VERSION);
			*done = 1;
			return CLI_EXIT_OK;
		}
	}
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	cli_ctx        ctx  = { .cmd = "ipcq", .url = NULL };
	const cli_cmd *cmd;
	int            done = 0;
	int            rc;

	/* -h here: cli_getopt finds no command "ipcq", so the main help. */
	rc = cli_main_opts(&ctx, argc, argv, &done);
	if (done) {
		return rc == CLI_DONE ? CLI_EXIT_OK : rc;
	}
	if (optind >= argc) {
		return cli_usage(&ctx, "missing COMMAND");
	}
	if (strcmp(argv[optind], "help") == 0) {
		cmd = optind + 1 < argc ? cli_find(argv[optind + 1]) : NULL;
		cli_print_cmd_help(cmd); /* NULL: the main help */
		return CLI_EXIT_OK;
	}
	if ((cmd = cli_find(argv[optind])) == NULL) {
		return cli_usage(&ctx, "unknown command '%s'", argv[optind]);
	}
	ctx.cmd = cmd->name;
	argc -= optind;
	argv += optind;
	optind = 0; /* GNU getopt: start afresh for the subcommand */
	rc = cmd->run(&ctx, argc, argv);
	return rc == CLI_DONE ? CLI_EXIT_OK : rc;
}
