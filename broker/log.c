#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Relaxed: the level is a hint read on every log call; a stale value for
 * a moment after a change is harmless. */
static atomic_int log_level = IPCQD_LOG_INFO;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
ipcqd_log_set_level(ipcqd_log_level lvl)
{
	atomic_store_explicit(&log_level, (int) lvl, memory_order_relaxed);
}

int
ipcqd_log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			return i;
		}
	}
	return -1;
}

int
ipcqd_log_enabled(ipcqd_log_level lvl)
{
	return (int) lvl <=
	    atomic_load_explicit(&log_level, memory_order_relaxed);
}

void
ipcqd_log_at(ipcqd_log_level lvl, const char *place, const char *fmt, ...)
{
	char            line[1024];
	struct timespec ts;
	struct tm       tm;
	va_list         ap;
	int             n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ipcqd[%d] %s %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, (int) getpid(),
	    log_names[lvl], place);
	va_start(ap, fmt);
	if (n > 0 && (size_t) n < sizeof(line)) {
		vsnprintf(line + n, sizeof(line) - (size_t) n, fmt, ap);
	}
	va_end(ap);
	/* One fprintf per line: stdio locks the stream, so lines from
	 * different threads never interleave. */
	fprintf(stderr, "%s\n", line);
}
