/*
 * Listening addresses: the default runtime directory, and the checks
 * made before binding an ipc:// path. A live broker is never displaced:
 * an existing socket file is probed with a connect, and removed only if
 * nobody answers (a stale file left by a crash).
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker.h"
#include "ipcqi_common.h"
#include "log.h"
#include "probe.h"

/* The runtime directory must be ours and private: another user who
 * could write there could replace the socket. */
static int
ln_private_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		ipcqd_error("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ipcqd_error("%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != getuid()) {
		ipcqd_error("%s belongs to uid %u, not to us: refusing to use it",
		    dir, (unsigned) st.st_uid);
		return -1;
	}
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) != 0) {
		ipcqd_error("cannot make %s private: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
ipcqd_listen_default_url(char *buf, size_t len)
{
	const char *env = getenv("IPCQ_URL");
	char        dir[512];

	if (env != NULL && env[0] != '\0') {
		int n = snprintf(buf, len, "%s", env);
		return (n < 0 || (size_t) n >= len) ? -1 : 0;
	}
	if (ipcqi_default_dir(dir, sizeof(dir)) != 0 || ln_private_dir(dir) != 0) {
		return -1;
	}
	return ipcqi_default_url(buf, len);
}

int
ipcqd_listen_prepare(const char *url, char *err, size_t errlen)
{
	const char        *path;
	struct stat        st;
	struct sockaddr_un sa;

	if (strncmp(url, "ipc://", 6) != 0) {
		return 0; /* tcp:// and others: nng reports EADDRINUSE */
	}
	path = url + 6;
	if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path empty or longer than %zu",
		    url, sizeof(sa.sun_path) - 1);
		return IPCQD_START_FAILED;
	}
	if (lstat(path, &st) != 0) {
		return 0; /* nothing there */
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket: "
		                      "refusing to remove it", path);
		return IPCQD_START_FAILED;
	}
	switch (ipcqd_probe(url, 1000)) {
	case IPCQD_PROBE_ANSWERED:
	case IPCQD_PROBE_SILENT:
		/* Something accepted the connection: it is live whether or
		 * not it speaks SP (a wedged broker still owns its socket). */
		snprintf(err, errlen, "another broker is already listening on %s",
		    url);
		return IPCQD_START_ADDRINUSE;
	case IPCQD_PROBE_REFUSED:
		ipcqd_info("removing stale socket %s (nobody listening)", path);
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove stale %s: %s", path,
			    strerror(errno));
			return IPCQD_START_FAILED;
		}
		return 0;
	default:
		snprintf(err, errlen, "cannot probe %s: %s", path,
		    strerror(errno));
		return IPCQD_START_FAILED;
	}
}
