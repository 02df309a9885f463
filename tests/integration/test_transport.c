/*
 * integration.transport — the choice between shared memory and the socket
 * is never silent (docs/api.md, "Transports"): IPCQ_TRANSPORT_SHM maps
 * the segment or fails with IPCQ_ENOSHM and ipcq_client_last_error says
 * why, leaving no handle (and no lost producer) behind; IPCQ_TRANSPORT_AUTO
 * falls back to the socket and ipcq_queue_transport_reason says why; the
 * environment variable IPCQ_TRANSPORT (auto, socket, shm) replaces AUTO
 * only, and an unknown value is refused.
 *
 * Two ways shared memory cannot be had, against the real broker: a
 * client on its tcp:// address (no segment name means anything there),
 * and a queue whose segment file is gone from this process's view (as
 * for a broker in another IPC namespace): the broker still serves it,
 * over the socket. A handle that required it and loses it across a broker
 * restart answers IPCQ_ENOSHM instead of moving to the socket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

/* Explicit choices ignore the variable; these tests set it themselves. */
static void
begin_no_env(void)
{
	unsetenv("IPCQ_TRANSPORT");
	th_begin();
}

/* "tcp://127.0.0.1:PORT" with a port that was free a moment ago. */
static char tr_tcp_url[64];

static void
begin_with_tcp(void)
{
	struct sockaddr_in sa;
	socklen_t          len    = sizeof(sa);
	const char        *args[] = { "--listen", tr_tcp_url, NULL };
	int                fd     = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	snprintf(tr_tcp_url, sizeof(tr_tcp_url), "tcp://127.0.0.1:%d",
	    (int) ntohs(sa.sin_port));
	close(fd);
	unsetenv("IPCQ_TRANSPORT");
	th_begin_args(args);
}

static ipcq_client *
tcp_client(void)
{
	ipcq_client_opts o;
	ipcq_client     *c = NULL;

	ipcq_client_opts_init(&o);
	o.url = tr_tcp_url;
	ck_assert_int_eq(ipcq_client_open(&c, &o), 0);
	return c;
}

static int
open_rv(ipcq_queue **q, ipcq_client *c, const char *name, int transport,
    int roles)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.transport = transport;
	o.roles     = roles;
	*q          = NULL;
	return ipcq_queue_open(q, c, name, &o);
}

static void
assert_says(const char *why, const char *part)
{
	ck_assert_msg(why != NULL && strstr(why, part) != NULL,
	    "reason \"%s\" does not say \"%s\"", why ? why : "(null)", part);
}

/* One message each way on q. */
static void
round_trip(ipcq_queue *q, const char *s)
{
	th_send_str(q, s);
	th_expect_recv(q, s, TH_WAIT_MS);
}

START_TEST(shm_required_is_had_on_the_local_broker)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q;

	/* Explicit wins over the variable. */
	setenv("IPCQ_TRANSPORT", "socket", 1);
	ck_assert_int_eq(open_rv(&q, c, "tr.local", IPCQ_TRANSPORT_SHM, 0), 0);
	unsetenv("IPCQ_TRANSPORT");
	ck_assert_int_eq(ipcq_queue_is_shm(q), 1);
	ck_assert_ptr_null(ipcq_queue_transport_reason(q));
	ck_assert_ptr_null(ipcq_client_last_error(c));
	round_trip(q, "fast");
	ipcq_queue_close(q);
}
END_TEST

START_TEST(auto_and_socket_say_why_they_are_on_the_socket)
{
	ipcq_client *c = th_client();
	ipcq_queue  *a, *s, *e;

	ck_assert_int_eq(open_rv(&a, c, "tr.why", IPCQ_TRANSPORT_AUTO, 0), 0);
	ck_assert_int_eq(ipcq_queue_is_shm(a), 1);
	ck_assert_ptr_null(ipcq_queue_transport_reason(a));

	ck_assert_int_eq(open_rv(&s, c, "tr.why", IPCQ_TRANSPORT_SOCKET, 0), 0);
	ck_assert_int_eq(ipcq_queue_is_shm(s), 0);
	assert_says(ipcq_queue_transport_reason(s), "IPCQ_TRANSPORT_SOCKET");

	setenv("IPCQ_TRANSPORT", "socket", 1);
	ck_assert_int_eq(open_rv(&e, c, "tr.why", IPCQ_TRANSPORT_AUTO, 0), 0);
	unsetenv("IPCQ_TRANSPORT");
	ck_assert_int_eq(ipcq_queue_is_shm(e), 0);
	assert_says(ipcq_queue_transport_reason(e), "IPCQ_TRANSPORT=socket");

	/* All three share the one queue. */
	th_send_str(a, "from shm");
	th_expect_recv(s, "from shm", TH_WAIT_MS);
	th_send_str(e, "from socket");
	th_expect_recv(a, "from socket", TH_WAIT_MS);
	ipcq_queue_close(e);
	ipcq_queue_close(s);
	ipcq_queue_close(a);
}
END_TEST

START_TEST(unknown_transport_variable_is_refused)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q;
	ipcq_stats   st;

	setenv("IPCQ_TRANSPORT", "shmem", 1);
	ck_assert_int_eq(open_rv(&q, c, "tr.bad", IPCQ_TRANSPORT_AUTO, 0),
	    IPCQ_EINVAL);
	unsetenv("IPCQ_TRANSPORT");
	ck_assert_ptr_null(q);
	assert_says(ipcq_client_last_error(c), "IPCQ_TRANSPORT must be");
	/* Refused before the broker heard of it. */
	ck_assert_int_eq(ipcq_client_stats(c, "tr.bad", &st), IPCQ_ENOTFOUND);
	ck_assert_int_eq(open_rv(&q, c, "tr.bad", 7, 0), IPCQ_EINVAL);
}
END_TEST

START_TEST(shm_required_over_tcp_fails_with_enoshm)
{
	ipcq_client *c = tcp_client();
	ipcq_queue  *q;
	ipcq_stats   st;

	ck_assert_int_eq(open_rv(&q, c, "tr.tcp", IPCQ_TRANSPORT_SHM,
	                     IPCQ_ROLE_PRODUCER),
	    IPCQ_ENOSHM);
	ck_assert_ptr_null(q);
	assert_says(ipcq_client_last_error(c), "not ipc://");
	ck_assert_int_eq(ipcq_client_stats(c, "tr.tcp", &st), IPCQ_ENOTFOUND);

	/* The variable makes AUTO opens require it too. */
	setenv("IPCQ_TRANSPORT", "shm", 1);
	ck_assert_int_eq(open_rv(&q, c, "tr.tcp", IPCQ_TRANSPORT_AUTO, 0),
	    IPCQ_ENOSHM);
	unsetenv("IPCQ_TRANSPORT");

	/* AUTO falls back, and says why. */
	ck_assert_int_eq(open_rv(&q, c, "tr.tcp", IPCQ_TRANSPORT_AUTO, 0), 0);
	ck_assert_int_eq(ipcq_queue_is_shm(q), 0);
	assert_says(ipcq_queue_transport_reason(q), "not ipc://");
	round_trip(q, "over tcp");
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

/* The segment of queue, unlinked: this process (and any other opening
 * it from now on) cannot map it; the broker keeps its own mapping. */
static void
hide_segment(const char *queue)
{
	ipcqi_seg seg;
	char      path[600];

	th_seg_map(queue, &seg, path, sizeof(path));
	ipcqi_seg_unmap(&seg);
	ck_assert_int_eq(unlink(path), 0);
}

START_TEST(shm_required_without_a_segment_fails_and_leaves_nothing)
{
	ipcq_client *c = th_client();
	ipcq_queue  *first, *q, *cons;
	ipcq_stats   st;

	first = th_queue(c, "tr.gone", NULL);
	ck_assert_int_eq(ipcq_queue_is_shm(first), 1);
	hide_segment("tr.gone");

	ck_assert_int_eq(open_rv(&q, c, "tr.gone", IPCQ_TRANSPORT_SHM,
	                     IPCQ_ROLE_PRODUCER),
	    IPCQ_ENOSHM);
	ck_assert_ptr_null(q);
	assert_says(ipcq_client_last_error(c), "does not exist here");
	/* The broker opened a handle to learn the segment's name; it was
	 * released without ever counting as a producer, so nobody sees a
	 * producer lost or the stream abandoned. */
	th_stats(c, "tr.gone", &st);
	ck_assert_uint_eq(st.producers, 0);
	ck_assert_uint_eq(st.producers_lost, 0);
	ck_assert_uint_eq(st.producers_ended, 0);
	ck_assert_int_eq(st.abandoned, 0);
	ck_assert_uint_eq(st.consumers, 0);

	/* AUTO falls back and says why; the queue is one queue still. */
	ck_assert_int_eq(open_rv(&cons, c, "tr.gone", IPCQ_TRANSPORT_AUTO,
	                     IPCQ_ROLE_CONSUMER),
	    0);
	ck_assert_int_eq(ipcq_queue_is_shm(cons), 0);
	assert_says(ipcq_queue_transport_reason(cons), "does not exist here");
	th_send_str(first, "through the broker's mapping");
	th_expect_recv(cons, "through the broker's mapping", TH_WAIT_MS);
	th_stats(c, "tr.gone", &st);
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.depth, 0);
	ipcq_queue_close(cons);
	ipcq_queue_close(first);
}
END_TEST

/* A handle that required shared memory and loses it across a broker
 * restart (its re-open cannot map the adopted segment) answers
 * IPCQ_ENOSHM from send and recv instead of moving to the socket; the
 * queued message is still there for a socket handle. */
START_TEST(shm_required_lost_across_a_restart_is_enoshm)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q, *s;
	ipcq_msg    *m = NULL;
	int          st;

	ck_assert_int_eq(open_rv(&q, c, "tr.restart", IPCQ_TRANSPORT_SHM, 0), 0);
	th_send_str(q, "before");
	st = th_broker_signal_wait(th_main_broker(), SIGKILL, 10000);
	ck_assert_int_eq(th_exit_code(st), 128 + SIGKILL);
	ck_assert_int_eq(
	    th_broker_start(th_main_broker(), th_url(), NULL, 10000), 0);
	hide_segment("tr.restart"); /* adopted by the new broker */

	ck_assert_int_eq(ipcq_queue_send(q, "x", 1, 5000), IPCQ_ENOSHM);
	ck_assert_int_eq(ipcq_queue_is_shm(q), 0);
	assert_says(ipcq_queue_transport_reason(q), "does not exist here");
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_ENOSHM);
	ck_assert_int_eq(ipcq_msg_loan(&m, q, 1, 0), IPCQ_ENOSHM);

	ck_assert_int_eq(open_rv(&s, c, "tr.restart", IPCQ_TRANSPORT_AUTO, 0),
	    0);
	ck_assert_int_eq(ipcq_queue_is_shm(s), 0);
	th_expect_recv(s, "before", TH_WAIT_MS);
	/* q's producer was attached to the killed broker and could not
	 * re-attach (no shared memory): it counts as lost, so the drained
	 * queue is abandoned, not silently waiting (docs/shm.md, "End of
	 * stream across a restart"). */
	ck_assert_int_eq(ipcq_queue_recv(s, &m, 0), IPCQ_EABANDONED);
	ipcq_queue_close(s);
	ipcq_queue_close(q);
}
END_TEST

static Suite *
transport_suite(void)
{
	Suite *s  = suite_create("integration.transport");
	TCase *tc = th_tcase_with("transport", begin_no_env);
	TCase *tt = th_tcase_with("transport_tcp", begin_with_tcp);

	tcase_add_test(tc, shm_required_is_had_on_the_local_broker);
	tcase_add_test(tc, auto_and_socket_say_why_they_are_on_the_socket);
	tcase_add_test(tc, unknown_transport_variable_is_refused);
	tcase_add_test(tc, shm_required_without_a_segment_fails_and_leaves_nothing);
	tcase_add_test(tc, shm_required_lost_across_a_restart_is_enoshm);
	suite_add_tcase(s, tc);
	tcase_add_test(tt, shm_required_over_tcp_fails_with_enoshm);
	suite_add_tcase(s, tt);
	return s;
}

int
main(void)
{
	return th_run(transport_suite());
}
