/*
 * Fuzz target: the `ipcq` command line's parsing of its arguments
 * (tools/): the global options, the subcommand lookup, each subcommand's
 * options and their values (numbers, timeouts, the URL) and arguments,
 * help and usage errors. Scripts pass it what they were given, so it is
 * input from elsewhere (docs/testing.md, "Fuzzing").
 *
 * Input: the arguments after "ipcq", separated by NUL bytes (at most
 * FZ_MAX_ARGS). The run stops where the command would first talk to a
 * broker: ipcq_client_open is wrapped at link time (-Wl,--wrap) to fail
 * with IPCQ_ENOBROKER at once, so no input waits on a connection.
 * tools/main.c is built with main renamed to ipcq_cli_main.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcq.h"

#define FZ_MAX_ARGS 32

int ipcq_cli_main(int argc, char **argv);

int
__wrap_ipcq_client_open(ipcq_client **c, const ipcq_client_opts *opts)
{
	(void) c;
	(void) opts;
	return IPCQ_ENOBROKER;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char  *buf = malloc(size + 1);
	char  *argv[FZ_MAX_ARGS + 2];
	int    argc = 0;
	size_t i    = 0;

	if (buf == NULL) {
		abort();
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "ipcq";
	while (i < size && argc <= FZ_MAX_ARGS) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	optind     = 0; /* GNU getopt: forget the previous run */
	(void) ipcq_cli_main(argc, argv);
	fflush(stdout);
	free(buf);
	return 0;
}
