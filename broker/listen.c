/*
 * Listening addresses: the default runtime directory, and the checks
 * made before binding an ipc:// path. A live broker is never displaced:
 * an existing socket file is probed with a connect, and removed only if
 * nobody answers (a stale file left by a crash). Before any of that, the
 * address is locked: only the holder of its lock file probes, binds or
 * touches a file, so two brokers started at once cannot both get past
 * the probe.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker.h"
#include "ipcqi_common.h"
#include "log.h"
#include "probe.h"

/* The runtime directory must be ours and private: another user who
 * could write there could replace the socket. When the socket admits a
 * group (--socket-mode 0660), the group may search it (0710), never list
 * or write it; gid < 0: the directory's group as it is. */
static int
ln_runtime_dir(const char *dir, int gid, int socket_mode)
{
	struct stat st;
	mode_t      want = (socket_mode & 0060) != 0 ? 0710 : 0700;

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
	if (gid >= 0 && st.st_gid != (gid_t) gid &&
	    chown(dir, (uid_t) -1, (gid_t) gid) != 0) {
		ipcqd_error("cannot give %s to group %d: %s", dir, gid,
		    strerror(errno));
		return -1;
	}
	if ((st.st_mode & 07777) != want && chmod(dir, want) != 0) {
		ipcqd_error("cannot set %s to mode %04o: %s", dir,
		    (unsigned) want, strerror(errno));
		return -1;
	}
	return 0;
}

int
ipcqd_listen_default_url(char *buf, size_t len, int gid, int socket_mode)
{
	const char *env = getenv("IPCQ_URL");
	char        dir[512];

	if (env != NULL && env[0] != '\0') {
		int n = snprintf(buf, len, "%s", env);
		return (n < 0 || (size_t) n >= len) ? -1 : 0;
	}
	if (ipcqi_default_dir(dir, sizeof(dir)) != 0 ||
	    ln_runtime_dir(dir, gid, socket_mode) != 0) {
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

/* The lock of one ipc:// address: "<socket path>.lock", flock()ed for
 * the broker's life. A lock on a file already unlinked by a broker that
 * was stopping is no lock at all (a third broker would create and lock a
 * new file), so the locked descriptor must still be the path's file.
 * The loser opens an existing file and closes it: no side effect. */
int
ipcqd_listen_lock(const char *url, int *fdp, char **pathp, char *err,
    size_t errlen)
{
	char        path[sizeof(((struct sockaddr_un *) 0)->sun_path) + 8];
	struct stat a, b;
	int         fd;

	*fdp   = -1;
	*pathp = NULL;
	if (strncmp(url, "ipc://", 6) != 0) {
		return 0; /* tcp://: the kernel's bind is the lock */
	}
	if (url[6] == '\0' ||
	    (size_t) snprintf(path, sizeof(path), "%s.lock", url + 6) >=
	        sizeof(path)) {
		snprintf(err, errlen, "%s: socket path empty or too long", url);
		return IPCQD_START_FAILED;
	}
	for (int tries = 0; tries < 100; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(err, errlen, "cannot open the lock file %s: %s",
			    path, strerror(errno));
			return IPCQD_START_FAILED;
		}
		if (fstat(fd, &a) != 0 || !S_ISREG(a.st_mode) ||
		    a.st_uid != geteuid()) {
			snprintf(err, errlen, "lock file %s is not a file of uid "
			                      "%u: refusing to use it", path,
			    (unsigned) geteuid());
			close(fd);
			return IPCQD_START_FAILED;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int e = errno;
			close(fd);
			if (e == EWOULDBLOCK) {
				snprintf(err, errlen, "another broker is already "
				    "serving %s (it holds %s)", url, path);
				return IPCQD_START_ADDRINUSE;
			}
			snprintf(err, errlen, "cannot lock %s: %s", path,
			    strerror(e));
			return IPCQD_START_FAILED;
		}
		if (stat(path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			if ((*pathp = strdup(path)) == NULL) {
				close(fd);
				snprintf(err, errlen, "out of memory");
				return IPCQD_START_FAILED;
			}
			*fdp = fd;
			return 0;
		}
		close(fd); /* unlinked by its last holder meanwhile: again */
	}
	snprintf(err, errlen, "the lock file %s keeps being replaced", path);
	return IPCQD_START_FAILED;
}

void
ipcqd_listen_unlock(int fd, const char *path)
{
	/* Unlink while still holding it: a broker that opened the old file
	 * finds it is no longer the path's and retries (above). */
	if (fd >= 0) {
		unlink(path);
		close(fd);
	}
}
