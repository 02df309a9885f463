/*
 * The client: one nng REQ socket dialed to the broker, the pool of
 * request contexts, and the tracking of which connection (pipe) is live.
 *
 * Why track the pipe: the broker keeps a session per connection, and a
 * queue handle id only means something inside the session that created
 * it. The client remembers the live pipe so that queue.c can re-open a
 * handle on a new connection before it ever sends the old id there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipcqi_client.h"
#include "ipcqi_close.h"

#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

/* Replies hold at most one frame's worth of deliveries, but the broker
 * may run with a larger --max-frame than ours: accept generously, yet
 * keep a bound so a confused peer cannot make us allocate without end. */
#define CLIENT_RECVMAXSZ (16 * (size_t) IPCQI_DEFAULT_MAX_FRAME)

/* Redial quickly after a broker restart; a restarted broker is usually
 * back within milliseconds. */
#define CLIENT_RECONNMINT_MS 10
#define CLIENT_RECONNMAXT_MS 500

void
ipcq_client_opts_init(ipcq_client_opts *opts)
{
	if (opts == NULL) {
		return;
	}
	memset(opts, 0, sizeof(*opts));
	opts->url                = NULL;
	opts->connect_timeout_ms = 2000;
	opts->reply_grace_ms     = 5000;
}

int
ipcq_default_url(char *buf, size_t len)
{
	if (buf == NULL || ipcqi_default_url(buf, len) != 0) {
		return (IPCQ_EINVAL);
	}
	return (IPCQ_OK);
}

/* Runs on an nng thread; touches only our own state (nng forbids
 * calling back into the socket from here). */
static void
client_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	ipcq_client *c  = arg;
	uint32_t     id = (uint32_t) nng_pipe_id(p);

	pthread_mutex_lock(&c->mtx);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		__atomic_store_n(&c->pipe, id, __ATOMIC_SEQ_CST);
		c->pipes_seen++;
	} else if (ev == NNG_PIPE_EV_REM_POST && c->pipe == id) {
		/* Seq-cst store before the kick: a shared-memory sleeper that
		 * sees the kicked word also sees the pipe gone. */
		__atomic_store_n(&c->pipe, 0, __ATOMIC_SEQ_CST);
		ipcqi_shm_kick_all(c);
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mtx);
}

static void
ms_to_timespec(int64_t ms, struct timespec *ts)
{
	ts->tv_sec  = (time_t) (ms / 1000);
	ts->tv_nsec = (long) (ms % 1000) * 1000000L;
}

static int64_t
client_wait_limit(const ipcq_client *c, int64_t deadline)
{
	int64_t limit = IPCQI_FOREVER;
	int64_t now   = ipcqi_now_ms();

	if (c->opts.connect_timeout_ms >= 0) {
		limit = now + c->opts.connect_timeout_ms;
	}
	if (deadline != IPCQI_FOREVER && c->opts.reply_grace_ms >= 0) {
		int64_t d = deadline + c->opts.reply_grace_ms;
		if (d < limit) {
			limit = d;
		}
	}
	return (limit);
}

int
ipcqi_client_pipe(ipcq_client *c, int64_t deadline, uint32_t *pipe)
{
	int64_t limit = client_wait_limit(c, deadline);
	int     rv    = 0;

	pthread_mutex_lock(&c->mtx);
	while (c->pipe == 0 && rv != ETIMEDOUT) {
		if (limit == IPCQI_FOREVER) {
			pthread_cond_wait(&c->cv, &c->mtx);
		} else {
			struct timespec ts;
			ms_to_timespec(limit, &ts);
			rv = pthread_cond_timedwait(&c->cv, &c->mtx, &ts);
		}
	}
	*pipe = c->pipe;
	pthread_mutex_unlock(&c->mtx);
	return (*pipe != 0 ? IPCQ_OK : IPCQ_ECONNLOST);
}

static int
client_resolve_url(ipcq_client *c, const char *url)
{
	const char *env = getenv("IPCQ_URL");

	if (url == NULL && env != NULL && env[0] != '\0') {
		url = env;
	}
	if (url == NULL) {
		if (ipcqi_default_url(c->url_buf, sizeof(c->url_buf)) != 0) {
			return (IPCQ_EINVAL);
		}
	} else if (strlen(url) >= sizeof(c->url_buf) || url[0] == '\0') {
		return (IPCQ_EINVAL);
	} else {
		strcpy(c->url_buf, url);
	}
	c->opts.url = c->url_buf;
	return (IPCQ_OK);
}

static int
client_socket_setup(ipcq_client *c)
{
	int rv;

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		return (ipcqi_nng_err(rv));
	}
	/* Never resend: a resent blocking send or recv would be executed
	 * twice. With resend off, nng 1.5.2 fails an outstanding request
	 * with NNG_ECONNRESET when its connection drops (see call.c). This
	 * must be set before any context is opened: contexts copy it. */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	         NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(
	         c->sock, NNG_OPT_RECVMAXSZ, CLIENT_RECVMAXSZ)) != 0 ||
	    (rv = nng_socket_set_ms(
	         c->sock, NNG_OPT_RECONNMINT, CLIENT_RECONNMINT_MS)) != 0 ||
	    (rv = nng_socket_set_ms(
	         c->sock, NNG_OPT_RECONNMAXT, CLIENT_RECONNMAXT_MS)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST,
	         client_pipe_cb, c)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST,
	         client_pipe_cb, c)) != 0) {
		return (ipcqi_nng_err(rv));
	}
	return (IPCQ_OK);
}

/* The first dial is synchronous, so that a missing broker is reported
 * here and not as a hang in the first call. While nobody listens it is
 * retried with a short back-off until connect_timeout_ms; once it has
 * succeeded, nng redials by itself after any disconnect. */
static int
client_dial(ipcq_client *c)
{
	int64_t deadline = ipcqi_deadline(c->opts.connect_timeout_ms);
	int64_t backoff  = 5;
	int     rv;

	for (;;) {
		rv = nng_dial(c->sock, c->opts.url, NULL, 0);
		if ((rv = ipcqi_nng_err(rv)) != IPCQ_ENOBROKER) {
			return (rv);
		}
		int64_t left = deadline - ipcqi_now_ms();
		if (left <= 0) {
			return (IPCQ_ENOBROKER);
		}
		backoff = backoff * 2 > 100 ? 100 : backoff * 2;
		nng_msleep((nng_duration) (left < backoff ? left : backoff));
	}
}

static int
client_sync_init(ipcq_client *c)
{
	pthread_condattr_t attr;
	int                rv;

	if (pthread_condattr_init(&attr) != 0) {
		return (IPCQ_ENOMEM);
	}
	/* Deadlines are monotonic; so must the condition's clock be. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rv = pthread_cond_init(&c->cv, &attr);
	pthread_condattr_destroy(&attr);
	if (rv != 0) {
		return (IPCQ_ENOMEM);
	}
	if (pthread_mutex_init(&c->mtx, NULL) != 0) {
		pthread_cond_destroy(&c->cv);
		return (IPCQ_ENOMEM);
	}
	return (IPCQ_OK);
}

int
ipcq_client_open(ipcq_client **cp, const ipcq_client_opts *opts)
{
	ipcq_client *c;
	int          rv;

	if (cp == NULL) {
		return (IPCQ_EINVAL);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (IPCQ_ENOMEM);
	}
	if (opts != NULL) {
		c->opts = *opts;
	} else {
		ipcq_client_opts_init(&c->opts);
	}
	if ((rv = client_resolve_url(c, c->opts.url)) != 0 ||
	    (rv = client_sync_init(c)) != 0) {
		free(c);
		return (rv);
	}
	if ((rv = client_socket_setup(c)) != 0 || (rv = client_dial(c)) != 0) {
		ipcq_client_close(c);
		return (rv);
	}
	*cp = c;
	return (IPCQ_OK);
}

void
ipcq_client_close(ipcq_client *c)
{
	if (c == NULL) {
		return;
	}
	/* Closing the socket closes its contexts and pipes; nng runs the
	 * last REM_POST callback before nng_close returns, so c may be
	 * freed afterwards. The broker sees the disconnect and detaches
	 * every handle of this client (leases are redelivered). If nng's
	 * close hangs (nanomsg/nng#1543), give up after a while and leak c:
	 * its callbacks may still run. */
	if (!ipcqi_close_socket(c->sock, IPCQI_CLIENT_CLOSE_MS)) {
		return;
	}
	for (int i = 0; i < c->npool; i++) {
		nng_aio_free(c->pool[i].aio);
	}
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

void
ipcqi_client_add_queue(ipcq_client *c, ipcq_queue *q)
{
	pthread_mutex_lock(&c->mtx);
	q->next    = c->queues;
	c->queues  = q;
	pthread_mutex_unlock(&c->mtx);
}

void
ipcqi_client_remove_queue(ipcq_client *c, ipcq_queue *q)
{
	pthread_mutex_lock(&c->mtx);
	for (ipcq_queue **pp = &c->queues; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->mtx);
}
