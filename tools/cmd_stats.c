/*
 * cmd_stats.c — `ipcq stats [QUEUE]`: every queue as a table, or one
 * queue field by field; --json for scripts. The field list is built once
 * (stats_fields) and printed either way, so the two outputs agree.
 */
#include "cli.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IPCQI_TOP_NAME 129

#define STATS_NFIELDS 32

typedef struct stats_field {
	const char *key;
	char        val[48];
	int         quoted; /* a JSON string, not a number or boolean */
} stats_field;

static const char *
stats_state(const ipcq_stats *st)
{
	if (st->corrupt) {
		return "corrupt";
	}
	if (st->ended) {
		return "ended";
	}
	return st->abandoned ? "abandoned" : "open";
}

static const char *
stats_policy(int policy)
{
	switch (policy) {
	case IPCQ_FULL_BLOCK:
		return "block";
	case IPCQ_FULL_FAIL:
		return "fail";
	case IPCQ_FULL_DROP_OLDEST:
		return "drop-oldest";
	default:
		return "unknown";
	}
}

static void
stats_set(stats_field *f, size_t *i, const char *key, int quoted,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
stats_set(stats_field *f, size_t *i, const char *key, int quoted,
    const char *fmt, ...)
{
	va_list ap;

	f[*i].key    = key;
	f[*i].quoted = quoted;
	va_start(ap, fmt);
	vsnprintf(f[*i].val, sizeof(f[*i].val), fmt, ap);
	va_end(ap);
	(*i)++;
}

/* Every field of st, in display order. Queue names need no JSON escaping:
 * their alphabet is [A-Za-z0-9._-]. */
static void
stats_fields(const char *name, const ipcq_stats *st, stats_field *f)
{
	size_t i = 0;

	stats_set(f, &i, "queue", 1, "%s", name);
	stats_set(f, &i, "state", 1, "%s", stats_state(st));
	stats_set(f, &i, "depth", 0, "%" PRIu64, st->depth);
	stats_set(f, &i, "in_flight", 0, "%" PRIu64, st->in_flight);
	stats_set(f, &i, "bytes", 0, "%" PRIu64, st->bytes);
	stats_set(f, &i, "producers", 0, "%" PRIu32, st->producers);
	stats_set(f, &i, "producers_ended", 0, "%" PRIu32, st->producers_ended);
	stats_set(f, &i, "producers_lost", 0, "%" PRIu32, st->producers_lost);
	stats_set(f, &i, "expected_producers", 0, "%" PRIu32,
	    st->expected_producers);
	stats_set(f, &i, "consumers", 0, "%" PRIu32, st->consumers);
	stats_set(f, &i, "sent", 0, "%" PRIu64, st->sent);
	stats_set(f, &i, "received", 0, "%" PRIu64, st->received);
	stats_set(f, &i, "acked", 0, "%" PRIu64, st->acked);
	stats_set(f, &i, "redelivered", 0, "%" PRIu64, st->redelivered);
	stats_set(f, &i, "dropped", 0, "%" PRIu64, st->dropped);
	stats_set(f, &i, "purged", 0, "%" PRIu64, st->purged);
	stats_set(f, &i, "senders_waiting", 0, "%" PRIu32, st->senders_waiting);
	stats_set(f, &i, "receivers_waiting", 0, "%" PRIu32,
	    st->receivers_waiting);
	stats_set(f, &i, "ended", 0, "%s", st->ended ? "true" : "false");
	stats_set(f, &i, "abandoned", 0, "%s", st->abandoned ? "true" : "false");
	stats_set(f, &i, "corrupt", 0, "%s", st->corrupt ? "true" : "false");
	stats_set(f, &i, "writing", 0, "%" PRIu64, st->writing);
	stats_set(f, &i, "sync_errors", 0, "%" PRIu64, st->sync_errors);
	stats_set(f, &i, "max_messages", 0, "%" PRIu64, st->max_messages);
	stats_set(f, &i, "max_bytes", 0, "%" PRIu64, st->max_bytes);
	stats_set(f, &i, "max_message_bytes", 0, "%" PRIu32,
	    st->max_message_bytes);
	stats_set(f, &i, "full_policy", 1, "%s", stats_policy(st->full_policy));
	stats_set(f, &i, "segment_bytes", 0, "%" PRIu64, st->segment_bytes);
	stats_set(f, &i, "broker_queues", 0, "%" PRIu32, st->broker_queues);
	stats_set(f, &i, "broker_max_queues", 0, "%" PRIu32,
	    st->broker_max_queues);
	stats_set(f, &i, "broker_segment_bytes", 0, "%" PRIu64,
	    st->broker_segment_bytes);
	stats_set(f, &i, "broker_max_memory", 0, "%" PRIu64,
	    st->broker_max_memory);
	assert(i == STATS_NFIELDS);
}

static void
stats_print_json(const char *name, const ipcq_stats *st)
{
	stats_field f[STATS_NFIELDS];

	stats_fields(name, st, f);
	printf("{");
	for (size_t i = 0; i < STATS_NFIELDS; i++) {
		printf(f[i].quoted ? "%s\"%s\": \"%s\"" : "%s\"%s\": %s",
		    i ? ", " : "", f[i].key, f[i].val);
	}
	printf("}");
}

static void
stats_print_detail(const char *name, const ipcq_stats *st)
{
	stats_field f[STATS_NFIELDS];

	stats_fields(name, st, f);
	for (size_t i = 0; i < STATS_NFIELDS; i++) {
		printf("%-20s %s\n", f[i].key, f[i].val);
	}
}

static void
stats_print_row(int w, const char *name, const ipcq_stats *st)
{
	printf("%-*s %8" PRIu64 " %8" PRIu64 " %10" PRIu64 " %5" PRIu32
	       " %5" PRIu32 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
	       " %8" PRIu64 "  %s%s\n",
	    w, name, st->depth, st->in_flight, st->bytes, st->producers,
	    st->consumers, st->sent, st->received, st->acked,
	    st->redelivered, stats_state(st),
	    st->sync_errors > 0 ? " sync-errors" : "");
}

static int
stats_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Every queue, sorted by name; a queue deleted meanwhile is skipped. */
static int
stats_all(ipcq_client *c, int json)
{
	char      **names;
	size_t      n, w = 5, shown = 0;
	ipcq_stats  st;
	int         err;

	if ((err = ipcq_client_list(c, &names, &n)) != 0) {
		return err;
	}
	qsort(names, n, sizeof(names[0]), stats_cmp_names);
	for (size_t i = 0; i < n; i++) {
		w = strlen(names[i]) > w ? strlen(names[i]) : w;
	}
	if (json) {
		printf("[");
	} else {
		printf("%-*s %8s %8s %10s %5s %5s %10s %10s %10s %8s  %s\n",
		    (int) w, "QUEUE", "DEPTH", "INFLIGHT", "BYTES", "PROD",
		    "CONS", "SENT", "RECV", "ACKED", "REDELIV", "STATE");
	}
	for (size_t i = 0; i < n && err == 0; i++) {
		err = ipcq_client_stats(c, names[i], &st);
		if (err == IPCQ_ENOTFOUND) {
			err = 0;
			continue;
		}
		if (err == 0 && json) {
			printf(shown++ ? ",\n " : "\n ");
			stats_print_json(names[i], &st);
		} else if (err == 0) {
			stats_print_row((int) w, names[i], &st);
			shown++;
		}
	}
	if (json) {
		printf("\n]\n");
	} else if (err == 0 && shown > 0) {
		/* The broker's totals ride along with every queue's stats. */
		printf("broker: %" PRIu32 " of %" PRIu32 " queues, %" PRIu64
		       " of %" PRIu64 " segment bytes committed\n",
		    st.broker_queues, st.broker_max_queues,
		    st.broker_segment_bytes, st.broker_max_memory);
	}
	ipcq_names_free(names);
	return err;
}

/* One sample of every queue for `ipcq top`: name and totals. */
typedef struct top_row {
	char     name[IPCQI_TOP_NAME];
	uint64_t sent, received;
} top_row;

static const top_row *
top_find(const top_row *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].name, name) == 0) {
			return &rows[i];
		}
	}
	return NULL;
}

/* Print one screen; rates against the previous sample (prev, nprev). */
static int
top_screen(ipcq_client *c, top_row **prev, size_t *nprev, double secs,
    int tty)
{
	char      **names;
	size_t      n;
	top_row    *rows;
	ipcq_stats  st;
	int         err;

	if ((err = ipcq_client_list(c, &names, &n)) != 0) {
		return err;
	}
	qsort(names, n, sizeof(names[0]), stats_cmp_names);
	rows = calloc(n > 0 ? n : 1, sizeof(*rows));
	if (tty) {
		printf("\033[H\033[2J"); /* home, clear */
	}
	printf("%-24s %8s %8s %5s %5s %10s %10s  %s\n", "QUEUE", "DEPTH",
	    "INFLIGHT", "PROD", "CONS", "SENT/s", "RECV/s", "STATE");
	for (size_t i = 0; i < n && rows != NULL; i++) {
		if (ipcq_client_stats(c, names[i], &st) != 0) {
			continue; /* deleted meanwhile */
		}
		snprintf(rows[i].name, sizeof(rows[i].name), "%s", names[i]);
		rows[i].sent     = st.sent;
		rows[i].received = st.received;
		const top_row *p = top_find(*prev, *nprev, names[i]);
		double         ds = p && secs > 0 ? (st.sent - p->sent) / secs : 0;
		double dr = p && secs > 0 ? (st.received - p->received) / secs : 0;
		printf("%-24s %8" PRIu64 " %8" PRIu64 " %5" PRIu32 " %5" PRIu32
		       " %10.0f %10.0f  %s\n",
		    names[i], st.depth, st.in_flight, st.producers, st.consumers,
		    ds, dr, stats_state(&st));
	}
	fflush(stdout);
	ipcq_names_free(names);
	if (rows == NULL) {
		return IPCQ_ENOMEM;
	}
	free(*prev);
	*prev  = rows;
	*nprev = n;
	return 0;
}

static double
top_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ipcq top [-n COUNT] [-i MS]: stats of every queue, refreshed, with
 * rates; until interrupted, or COUNT screens. */
int
cli_cmd_top(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS,
		{ "count", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	ipcq_client *c;
	top_row     *prev  = NULL;
	size_t       nprev = 0;
	uint64_t     count = 0, interval = 1000;
	double       last;
	int          rc = 0, err = 0, opt;

	while ((opt = cli_getopt(ctx, argc, argv, CLI_SHORTOPTS "n:i:",
	            longopts, &rc)) != -1) {
		if (opt == -2) {
			return rc;
		}
		if (opt == 'n') {
			rc = cli_parse_u64(ctx, "--count", optarg, UINT64_MAX,
			    &count);
		} else if (opt == 'i') {
			rc = cli_parse_u64(ctx, "--interval", optarg, 3600000,
			    &interval);
		}
		if (rc != 0) {
			return rc;
		}
	}
	if (optind != argc) {
		return cli_usage(ctx, "too many arguments");
	}
	if (interval == 0) {
		return cli_usage(ctx, "--interval must be at least 1 ms");
	}
	if ((rc = cli_connect(ctx, &c)) != 0) {
		return rc;
	}
	last = top_now();
	for (uint64_t i = 0; err == 0 && (count == 0 || i < count); i++) {
		double now = top_now();
		if (i > 0) {
			/* A display refresh, not synchronisation. */
			struct timespec ts = { .tv_sec = (time_t) (interval / 1000),
				.tv_nsec = (long) (interval % 1000) * 1000000L };
			nanosleep(&ts, NULL);
			now = top_now();
		}
		err  = top_screen(c, &prev, &nprev, now - last, isatty(1));
		last = now;
	}
	free(prev);
	rc = err == 0 ? CLI_EXIT_OK : cli_fail(ctx, err);
	ipcq_client_close(c);
	return rc;
}

/* ipcq stats [-j] [QUEUE] */
int
cli_cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	ipcq_client *c;
	ipcq_stats   st;
	int          json = 0, rc = 0, err, opt;

	while ((opt = cli_getopt(ctx, argc, argv, CLI_SHORTOPTS "j", longopts,
	            &rc)) != -1) {
		if (opt == -2) {
			return rc;
		}
		json = json || opt == 'j';
	}
	if (argc - optind > 1) {
		return cli_usage(ctx, "too many arguments");
	}
	if ((rc = cli_connect(ctx, &c)) != 0) {
		return rc;
	}
	if (optind == argc) {
		err = stats_all(c, json);
	} else if ((err = ipcq_client_stats(c, argv[optind], &st)) == 0) {
		if (json) {
			stats_print_json(argv[optind], &st);
			printf("\n");
		} else {
			stats_print_detail(argv[optind], &st);
		}
	}
	rc = err == 0 ? CLI_EXIT_OK : cli_fail(ctx, err);
	ipcq_client_close(c);
	return rc;
}
