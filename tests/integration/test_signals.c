/*
 * integration.signals — what each signal the broker handles does
 * (docs/broker.md, "Signals"): SIGHUP never stops it (a closed terminal,
 * a supervisor's reload): it reopens --log-file, or says there is nothing
 * to reload, and every client keeps being served on both paths; SIGTERM,
 * SIGINT and SIGQUIT stop it with exit 0, leaving no socket, no lock
 * file and nothing in /dev/shm (queues empty: what a clean stop does
 * with queued messages is not this test's business).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

#define N_MSGS 50

/* Wait until the file at path contains needle. The line is the broker's
 * answer to the signal; nothing else announces it. Fails at once if the
 * broker exits instead (the bug: SIGHUP killed it). */
static void
wait_log(th_broker *b, const char *path, const char *needle)
{
	long long deadline = th_now_ms() + TH_WAIT_MS;

	for (;;) {
		FILE  *f = fopen(path, "r");
		char   buf[65536];
		size_t n = 0;

		if (f != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		if (strstr(buf, needle) != NULL) {
			return;
		}
		/* The pidfd turns readable when the broker exits. */
		struct pollfd pfd = { .fd = b->pidfd, .events = POLLIN };
		if (poll(&pfd, 1, 10) == 1) {
			int st = th_broker_signal_wait(b, 0, 5000);
			ck_abort_msg("broker exited with %d instead of logging "
			             "'%s'", th_exit_code(st), needle);
		}
		ck_assert_msg(th_now_ms() < deadline, "no '%s' in %s", needle,
		    path);
	}
}

static ipcq_queue *
open_q(ipcq_client *c, const char *name, int transport)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.transport = transport;
	return th_queue(c, name, &o);
}

/* n messages through each handle, on the same queue: exact, in order. */
static void
round_trip(ipcq_queue *shm, ipcq_queue *sock, const char *tag)
{
	char buf[64];

	ck_assert_int_eq(ipcq_queue_is_shm(shm), 1);
	ck_assert_int_eq(ipcq_queue_is_shm(sock), 0);
	for (int i = 0; i < N_MSGS; i++) {
		snprintf(buf, sizeof(buf), "%s-shm-%d", tag, i);
		th_send_str(shm, buf);
		snprintf(buf, sizeof(buf), "%s-sock-%d", tag, i);
		th_send_str(sock, buf);
	}
	for (int i = 0; i < N_MSGS; i++) {
		snprintf(buf, sizeof(buf), "%s-shm-%d", tag, i);
		th_expect_recv(sock, buf, TH_WAIT_MS);
		snprintf(buf, sizeof(buf), "%s-sock-%d", tag, i);
		th_expect_recv(shm, buf, TH_WAIT_MS);
	}
}

static void
expect_empty(ipcq_client *c, const char *name, uint64_t sent)
{
	ipcq_stats st;

	th_stats(c, name, &st);
	ck_assert_uint_eq(st.sent, sent);
	ck_assert_uint_eq(st.received, sent);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.in_flight, 0);
}

/* ---------------------------------------------------------------- HUP */

START_TEST(sighup_reopens_the_log_file_and_keeps_serving)
{
	th_broker         *b = th_main_broker();
	const char        *args[3] = { "--log-file", NULL, NULL };
	ipcq_client       *c;
	ipcq_queue        *shm, *sock;
	char               rotated[600];
	struct stat        st;

	/* The same address again, now logging to a file. */
	th_broker_stop_ok(b, th_sock());
	args[1] = th_path("ipcqd.log");
	ck_assert_int_eq(th_broker_start(b, th_url(), args, 15000), 0);
	c    = th_client();
	shm  = open_q(c, "sig.hup", IPCQ_TRANSPORT_AUTO);
	sock = open_q(c, "sig.hup", IPCQ_TRANSPORT_SOCKET);
	round_trip(shm, sock, "before");
	wait_log(b, th_path("ipcqd.log"), "ready (pid");

	/* Rotation: the file is renamed away, SIGHUP makes a new one. */
	snprintf(rotated, sizeof(rotated), "%s.1", th_path("ipcqd.log"));
	ck_assert_int_eq(rename(th_path("ipcqd.log"), rotated), 0);
	ck_assert_int_eq(kill(b->pid, SIGHUP), 0);
	wait_log(b, th_path("ipcqd.log"), "SIGHUP: log file reopened");
	ck_assert_int_eq(stat(th_path("ipcqd.log"), &st), 0);
	/* 0640 at most (the umask may take more away) */
	ck_assert_int_eq(st.st_mode & 0777 & ~0640u, 0);

	/* The same handles, the same connection: nothing was restarted. */
	round_trip(shm, sock, "after");
	/* Twice more, back to back: a reload is never a stop. */
	ck_assert_int_eq(kill(b->pid, SIGHUP), 0);
	ck_assert_int_eq(kill(b->pid, SIGHUP), 0);
	round_trip(shm, sock, "again");
	expect_empty(c, "sig.hup", 6 * N_MSGS);
	th_assert_serving();
	ipcq_queue_close(sock);
	ipcq_queue_close(shm);
	ipcq_client_close(c);
	/* th_end: SIGTERM, exit 0, socket, lock and /dev/shm clean. */
}
END_TEST

START_TEST(sighup_without_log_file_keeps_serving)
{
	th_broker   *b = th_main_broker();
	ipcq_client *c = th_client();
	ipcq_queue  *shm, *sock;

	shm  = open_q(c, "sig.hup2", IPCQ_TRANSPORT_AUTO);
	sock = open_q(c, "sig.hup2", IPCQ_TRANSPORT_SOCKET);
	round_trip(shm, sock, "before");
	ck_assert_int_eq(kill(b->pid, SIGHUP), 0);
	wait_log(b, b->log, "SIGHUP: nothing to reload");
	round_trip(shm, sock, "after");
	expect_empty(c, "sig.hup2", 4 * N_MSGS);
	th_assert_serving();
	ipcq_queue_close(sock);
	ipcq_queue_close(shm);
	ipcq_client_close(c);
}
END_TEST

/* --------------------------------------------------------- stop signals */

static void
stop_clean_on(int sig)
{
	th_broker   *b = th_main_broker();
	ipcq_client *c = th_client();
	ipcq_queue  *shm, *sock, *other;
	struct stat  st;
	char         lock[600];
	int          status;

	shm  = open_q(c, "sig.stop", IPCQ_TRANSPORT_AUTO);
	sock = open_q(c, "sig.stop", IPCQ_TRANSPORT_SOCKET);
	round_trip(shm, sock, "x");
	other = open_q(c, "sig.other", IPCQ_TRANSPORT_AUTO);
	/* Two segments and the doorbell exist while it runs. */
	ck_assert_int_eq(th_seg_files(th_url()), 3);
	snprintf(lock, sizeof(lock), "%s.lock", th_sock());
	ck_assert_int_eq(stat(lock, &st), 0);

	status = th_broker_signal_wait(b, sig, 15000);
	if (th_exit_code(status) != 0) {
		th_broker_dump_log(b);
	}
	ck_assert_msg(th_exit_code(status) == 0, "signal %d: exit %d", sig,
	    th_exit_code(status));
	ck_assert_msg(stat(th_sock(), &st) != 0, "signal %d: socket left",
	    sig);
	ck_assert_msg(stat(lock, &st) != 0, "signal %d: lock file left", sig);
	ck_assert_msg(th_seg_files(th_url()) == 0,
	    "signal %d: %d files left in /dev/shm", sig,
	    th_seg_files(th_url()));
	/* The client's calls now fail instead of hanging. */
	ck_assert_int_ne(ipcq_queue_send(sock, "late", 4, 2000), 0);
	ipcq_queue_close(other);
	ipcq_queue_close(sock);
	ipcq_queue_close(shm);
	ipcq_client_close(c);
	/* A new broker takes the address and serves (th_end stops it). */
	ck_assert_int_eq(th_broker_start(b, th_url(), NULL, 15000), 0);
	th_assert_serving();
}

START_TEST(sigterm_stops_clean)
{
	stop_clean_on(SIGTERM);
}
END_TEST

START_TEST(sigint_stops_clean)
{
	stop_clean_on(SIGINT);
}
END_TEST

START_TEST(sigquit_stops_clean)
{
	stop_clean_on(SIGQUIT);
}
END_TEST

static Suite *
signals_suite(void)
{
	Suite *s  = suite_create("integration.signals");
	TCase *tc = th_tcase("signals");

	tcase_add_test(tc, sighup_reopens_the_log_file_and_keeps_serving);
	tcase_add_test(tc, sighup_without_log_file_keeps_serving);
	tcase_add_test(tc, sigterm_stops_clean);
	tcase_add_test(tc, sigint_stops_clean);
	tcase_add_test(tc, sigquit_stops_clean);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(signals_suite());
}
