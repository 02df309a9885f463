/*
 * cmd_admin.c — queue administration by name: `shutdown`, `list`, `purge`,
 * `delete`. Each is one library call on a fresh connection.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct option admin_longopts[] = {
	CLI_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

/* Parse the common options and exactly nargs (0 or 1) arguments, then
 * connect. Returns an exit code; on 0 *c is connected and *name set. */
static int
admin_start(cli_ctx *ctx, int argc, char **argv, int nargs,
    const char **name, ipcq_client **c)
{
	int rc = 0;
	int opt;

	while ((opt = cli_getopt(ctx, argc, argv, CLI_SHORTOPTS,
	            admin_longopts, &rc)) != -1) {
		if (opt == -2) {
			return rc;
		}
	}
	if (argc - optind < nargs) {
		return cli_usage(ctx, "missing QUEUE");
	}
	if (argc - optind > nargs) {
		return cli_usage(ctx, "too many arguments");
	}
	*name = nargs > 0 ? argv[optind] : NULL;
	return cli_connect(ctx, c);
}

/* Common tail: report err if any, disconnect. */
static int
admin_done(cli_ctx *ctx, ipcq_client *c, int err)
{
	int rc = err == 0 ? CLI_EXIT_OK : cli_fail(ctx, err);

	ipcq_client_close(c);
	return rc;
}

/* ipcq shutdown QUEUE: end the queue at once for every producer. */
int
cli_cmd_shutdown(cli_ctx *ctx, int argc, char **argv)
{
	ipcq_client *c;
	const char  *name;
	int          rc;

	if ((rc = admin_start(ctx, argc, argv, 1, &name, &c)) != 0) {
		return rc;
	}
	return admin_done(ctx, c, ipcq_client_shutdown_queue(c, name));
}

static int
admin_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* ipcq list: one queue name per line, sorted. */
int
cli_cmd_list(cli_ctx *ctx, int argc, char **argv)
{
	ipcq_client *c;
	const char  *unused;
	char       **names;
	size_t       n;
	int          rc, err;

	if ((rc = admin_start(ctx, argc, argv, 0, &unused, &c)) != 0) {
		return rc;
	}
	if ((err = ipcq_client_list(c, &names, &n)) == 0) {
		qsort(names, n, sizeof(names[0]), admin_cmp_names);
		for (size_t i = 0; i < n; i++) {
			printf("%s\n", names[i]);
		}
		ipcq_names_free(names);
	}
	return admin_done(ctx, c, err);
}

/* ipcq purge QUEUE: discard ready messages, say how many. */
int
cli_cmd_purge(cli_ctx *ctx, int argc, char **argv)
{
	ipcq_client *c;
	const char  *name;
	uint64_t     purged = 0;
	int          rc, err;

	if ((rc = admin_start(ctx, argc, argv, 1, &name, &c)) != 0) {
		return rc;
	}
	if ((err = ipcq_client_purge(c, name, &purged)) == 0) {
		printf("%s: purged %" PRIu64 " message%s\n", name, purged,
		    purged == 1 ? "" : "s");
	}
	return admin_done(ctx, c, err);
}

/* ipcq delete QUEUE */
int
cli_cmd_delete(cli_ctx *ctx, int argc, char **argv)
{
	ipcq_client *c;
	const char  *name;
	int          rc;

	if ((rc = admin_start(ctx, argc, argv, 1, &name, &c)) != 0) {
		return rc;
	}
	return admin_done(ctx, c, ipcq_client_delete(c, name));
}
