/*
 * Crash points (ipcqi_crash.h): built only into the test peer's library.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ipcqi_crash.h"

void
ipcqi_crash_point(const char *point)
{
	static long count; /* one armed point per process; tests are
	                      single-threaded where it matters */
	const char *env = getenv("IPCQ_TEST_CRASH_AT");
	const char *colon;
	size_t      len = strlen(point);

	if (env == NULL || (colon = strchr(env, ':')) == NULL ||
	    (size_t) (colon - env) != len || strncmp(env, point, len) != 0) {
		return;
	}
	if (++count == atol(colon + 1)) {
		raise(SIGKILL);
	}
}
