#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Relaxed: the level is a hint read on every log call; a stale value for
 * a moment after a change is harmless. */
static atomic_int log_level = IPCQD_LOG_INFO;

/* Set once by main before threads start, read by the signal loop. */
static const char *log_path;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
ipcqd_log_set_level(ipcqd_log_level lvl)
{
	atomic_store_explicit(&log_level, (int) lvl, memory_order_relaxed);
}

/* dup2 over fd 2: every writer keeps using stderr, and a line written
 * while the descriptor is swapped goes whole to the old or the new file. */
static int
log_open_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
	    0640);
	int err;

	if (fd < 0) {
		return -1;
	}
	fflush(stderr);
	if (dup2(fd, STDERR_FILENO) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	return 0;
}

int
ipcqd_log_open(const char *path)
{
	if (log_open_path(path) != 0) {
		return -1;
	}
	log_path = path;
	return 0;
}

int
ipcqd_log_reopen(void)
{
	if (log_path == NULL) {
		return 1;
	}
	return log_open_path(log_path);
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
