/*
 * Listener watchdog (see watchdog.h).
 *
 * Repair of an ipc:// listener: a new listener is started on a fresh
 * path beside the old one and renamed over the public path, so new
 * clients reach it while the old listener, which only stopped accepting,
 * keeps serving the connections it has. The retired listener is closed
 * at shutdown. A tcp:// listener cannot share its port, so it is closed
 * and reopened: its clients reconnect (libipcq does so by itself).
 */
#include "watchdog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "probe.h"

/* Consecutive silent probes before a listener counts as wedged: a probe
 * waits a full period for the handshake, so one slow answer on a busy
 * machine is not enough. */
#define WD_STRIKES 2
/* Retired ipc listeners kept open for their connections. */
#define WD_RETIRED_MAX 64

struct ipcqd_watchdog {
	ipcqd_broker   *b;
	pthread_t       thread;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	bool            stop; /* mtx */
	int             period_ms;
	int             strikes[IPCQD_MAX_LISTEN];
	nng_listener    retired[WD_RETIRED_MAX];
	int             nretired;
};

/*
 * Clients that connected while the listener was wedged sit in its accept
 * backlog; nng would leave them there for its 10 s handshake timeout.
 * Find the old listening socket among our descriptors (the only one
 * accepting connections under the public path: the new one is bound to
 * its temporary name) and replace it with /dev/null. That closes the
 * socket, so the kernel resets the waiting connections and their clients
 * redial at once, into the new listener; nng keeps a valid descriptor
 * number, which it only closes at shutdown. Best effort: without it the
 * waiting clients are only slower.
 */
static void
wd_reset_backlog(const char *path)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	int            devnull;

	if (d == NULL) {
		return;
	}
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct sockaddr_un sa;
		socklen_t          sl = sizeof(sa), il = sizeof(int);
		int                fd = atoi(e->d_name), listening = 0;

		if (fd <= 2 || fd == dirfd(d) || fd == devnull ||
		    getsockname(fd, (struct sockaddr *) &sa, &sl) != 0 ||
		    sa.sun_family != AF_UNIX ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &il) != 0 ||
		    !listening || sl <= offsetof(struct sockaddr_un, sun_path) ||
		    strncmp(sa.sun_path, path, sizeof(sa.sun_path)) != 0) {
			continue;
		}
		if (dup2(devnull, fd) == fd) {
			ipcqd_info("reset the wedged listener's waiting clients");
		}
	}
	close(devnull);
	closedir(d);
}

static int
wd_repair_ipc(ipcqd_watchdog *w, int i)
{
	ipcqd_broker *b    = w->b;
	const char   *path = b->urls[i] + 6;
	char          url[600], tmp[560], err[256];
	nng_listener  l;
	int           rv;

	if (w->nretired == WD_RETIRED_MAX) {
		ipcqd_error("too many wedged listeners on %s; not repairing",
		    b->urls[i]);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.%d.new", path, (int) getpid());
	snprintf(url, sizeof(url), "ipc://%s", tmp);
	unlink(tmp);
	if ((rv = ipcqd_broker_listener_open(b, url, &l, err, sizeof(err))) != 0) {
		ipcqd_error("cannot start a replacement listener: %s", err);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		ipcqd_error("cannot move %s over %s: %s", tmp, path,
		    strerror(errno));
		nng_listener_close(l);
		unlink(tmp);
		return -1;
	}
	w->retired[w->nretired++] = b->listeners[i];
	b->listeners[i]           = l;
	wd_reset_backlog(path);
	return 0;
}

static int
wd_repair_tcp(ipcqd_watchdog *w, int i)
{
	ipcqd_broker *b = w->b;
	char          err[256];
	nng_listener  l;

	nng_listener_close(b->listeners[i]);
	if (ipcqd_broker_listener_open(b, b->urls[i], &l, err, sizeof(err)) != 0) {
		ipcqd_error("cannot restart the listener: %s", err);
		return -1;
	}
	b->listeners[i] = l;
	return 0;
}

static void
wd_check(ipcqd_watchdog *w, int i)
{
	ipcqd_broker *b      = w->b;
	uint32_t      before = ipcqd_broker_accepted(b, b->listeners[i]);
	int           rv     = ipcqd_probe(b->urls[i], w->period_ms);

	/* Unanswered, but the listener handed a connection (the probe's or
	 * anyone's) to the socket meanwhile: it accepts, and the broker was
	 * only slow to answer (a busy machine, a long request). The wedge
	 * hands none. */
	if (rv == IPCQD_PROBE_ANSWERED ||
	    ipcqd_broker_accepted(b, b->listeners[i]) != before) {
		w->strikes[i] = 0;
		return;
	}
	if (++w->strikes[i] < WD_STRIKES) {
		return;
	}
	w->strikes[i] = 0;
	ipcqd_error("listener on %s stopped accepting (nanomsg/nng#1518: a "
	            "peer hung up during the handshake); replacing it",
	    b->urls[i]);
	rv = strncmp(b->urls[i], "ipc://", 6) == 0 ? wd_repair_ipc(w, i)
	                                          : wd_repair_tcp(w, i);
	if (rv == 0) {
		ipcqd_info("listening again on %s", b->urls[i]);
	}
}

static void *
wd_thread(void *arg)
{
	ipcqd_watchdog *w = arg;
	struct timespec ts;

	pthread_mutex_lock(&w->mtx);
	while (!w->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += w->period_ms / 1000;
		ts.tv_nsec += (long) (w->period_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!w->stop &&
		    pthread_cond_timedwait(&w->cv, &w->mtx, &ts) != ETIMEDOUT) {
		}
		if (w->stop) {
			break;
		}
		pthread_mutex_unlock(&w->mtx);
		for (int i = 0; i < w->b->nlisteners; i++) {
			wd_check(w, i);
		}
		pthread_mutex_lock(&w->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
	return NULL;
}

int
ipcqd_watchdog_start(ipcqd_watchdog **wp, ipcqd_broker *b, int period_ms)
{
	ipcqd_watchdog    *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int                rv;

	if (w == NULL) {
		return ENOMEM;
	}
	w->b         = b;
	w->period_ms = period_ms;
	pthread_mutex_init(&w->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = pthread_create(&w->thread, NULL, wd_thread, w)) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mtx);
		free(w);
		return rv;
	}
	*wp = w;
	return 0;
}

void
ipcqd_watchdog_stop(ipcqd_watchdog *w)
{
	if (w == NULL) {
		return;
	}
	pthread_mutex_lock(&w->mtx);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thread, NULL);
	/* Shutdown: the retired listeners' connections go now. Closed one by
	 * one, not left to the socket's close, which in nng 1.5.2 does not
	 * free a listener whose accepting stopped. */
	for (int i = 0; i < w->nretired; i++) {
		nng_listener_close(w->retired[i]);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mtx);
	free(w);
}
