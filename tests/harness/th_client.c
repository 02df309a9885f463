/*
 * th_client.c — the test's own in-process libipcq client, with asserting
 * shorthands. Peers are other processes; this is "one more client".
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

ipcq_client *
th_client(void)
{
	ipcq_client     *c;
	ipcq_client_opts o;
	int              rv;

	ipcq_client_opts_init(&o);
	o.url = th_url();
	rv    = ipcq_client_open(&c, &o);
	ck_assert_msg(rv == 0, "ipcq_client_open(%s): %s", th_url(),
	    ipcq_err_name(rv));
	return c;
}

ipcq_queue *
th_queue(ipcq_client *c, const char *name, const ipcq_queue_opts *opts)
{
	ipcq_queue *q;
	int         rv = ipcq_queue_open(&q, c, name, opts);

	ck_assert_msg(rv == 0, "ipcq_queue_open(%s): %s", name,
	    ipcq_err_name(rv));
	th_assert_forced_transport(q, opts);
	return q;
}

void
th_assert_forced_transport(ipcq_queue *q, const ipcq_queue_opts *opts)
{
	const char *env = getenv("IPCQ_TRANSPORT");

	/* A test's .socket run (tests/CMakeLists.txt) must really take the
	 * socket path, or it tests the shared-memory path twice. */
	if (env != NULL && strcmp(env, "socket") == 0 &&
	    (opts == NULL || opts->transport == IPCQ_TRANSPORT_AUTO)) {
		ck_assert_msg(!ipcq_queue_is_shm(q),
		    "IPCQ_TRANSPORT=socket but %s is on shared memory",
		    ipcq_queue_name(q));
	}
}

void
th_send_str(ipcq_queue *q, const char *s)
{
	int rv = ipcq_queue_send(q, s, strlen(s), 5000);

	ck_assert_msg(rv == 0, "send \"%s\" to %s: %s", s, ipcq_queue_name(q),
	    ipcq_err_name(rv));
}

char *
th_recv_str(ipcq_queue *q, int timeout_ms, ipcq_msg **mp)
{
	ipcq_msg *m;
	char     *s;
	int       rv = ipcq_queue_recv(q, &m, timeout_ms);

	ck_assert_msg(rv == 0, "recv from %s: %s", ipcq_queue_name(q),
	    ipcq_err_name(rv));
	s = malloc(ipcq_msg_size(m) + 1);
	ck_assert_ptr_nonnull(s);
	memcpy(s, ipcq_msg_data(m), ipcq_msg_size(m));
	s[ipcq_msg_size(m)] = '\0';
	if (mp != NULL) {
		*mp = m;
	} else {
		ipcq_msg_free(m);
	}
	return s;
}

void
th_expect_recv(ipcq_queue *q, const char *want, int timeout_ms)
{
	char *got = th_recv_str(q, timeout_ms, NULL);

	ck_assert_msg(strcmp(got, want) == 0, "recv from %s: \"%s\", expected "
	    "\"%s\"", ipcq_queue_name(q), got, want);
	free(got);
}

void
th_stats(ipcq_client *c, const char *name, ipcq_stats *st)
{
	int rv = ipcq_client_stats(c, name, st);

	ck_assert_msg(rv == 0, "stats %s: %s", name, ipcq_err_name(rv));
}

int
th_poll_stats(ipcq_client *c, const char *name,
    int (*pred)(const ipcq_stats *st, void *arg), void *arg, int timeout_ms)
{
	long long       deadline = th_now_ms() + timeout_ms;
	struct timespec ts       = { 0, 10 * 1000000 };
	ipcq_stats      st;

	for (;;) {
		th_stats(c, name, &st);
		if (pred(&st, arg)) {
			return 0;
		}
		if (th_now_ms() >= deadline) {
			return -1;
		}
		nanosleep(&ts, NULL);
	}
}
