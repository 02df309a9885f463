/*
 * integration.start_race — brokers started at the same instant on one
 * address (docs/broker.md, "Addresses and safety"): each takes the
 * address's lock file before probing, binding or touching any file, so
 * exactly one serves and every other exits 3 having changed nothing: the
 * winner's socket and lock file stay, the winner serves at once on both
 * paths, and its clean stop leaves no socket, no lock file and nothing in
 * /dev/shm. Rounds: IPCQ_RACE_ROUNDS (default 25).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

#define RACERS 3

static int
rounds(void)
{
	const char *env = getenv("IPCQ_RACE_ROUNDS");
	int         n   = env != NULL ? atoi(env) : 25;

	return n > 0 && n <= 80 ? n : 25;
}

/* One message each way on the shared-memory and the socket path of the
 * broker at url, through a fresh client. */
static void
serve_both_paths(const char *url, int round)
{
	ipcq_client_opts co;
	ipcq_queue_opts  qo;
	ipcq_client     *c;
	ipcq_queue      *shm, *sock;
	char             buf[64];

	ipcq_client_opts_init(&co);
	co.url = url;
	ck_assert_int_eq(ipcq_client_open(&c, &co), 0);
	shm = th_queue(c, "race.q", NULL);
	ipcq_queue_opts_init(&qo);
	qo.transport = IPCQ_TRANSPORT_SOCKET;
	sock = th_queue(c, "race.q", &qo);
	ck_assert_int_eq(ipcq_queue_is_shm(shm), 1);
	snprintf(buf, sizeof(buf), "round-%d-shm", round);
	th_send_str(shm, buf);
	th_expect_recv(sock, buf, TH_WAIT_MS);
	snprintf(buf, sizeof(buf), "round-%d-sock", round);
	th_send_str(sock, buf);
	th_expect_recv(shm, buf, TH_WAIT_MS);
	ipcq_queue_close(sock);
	ipcq_queue_close(shm);
	ipcq_client_close(c);
}

START_TEST(brokers_started_at_once_exactly_one_serves)
{
	char      url[420], sock[400], lock[420];
	th_broker b[RACERS];
	int       fds[RACERS], n = rounds();

	snprintf(sock, sizeof(sock), "%s/race.sock", th_dir());
	snprintf(url, sizeof(url), "ipc://%s", sock);
	snprintf(lock, sizeof(lock), "%s.lock", sock);
	for (int r = 0; r < n; r++) {
		struct stat before, after;
		int         winner = -1, ready = 0;

		/* All launched before any is awaited: they start together. */
		for (int i = 0; i < RACERS; i++) {
			fds[i] = th_broker_launch(&b[i], url, NULL);
		}
		for (int i = 0; i < RACERS; i++) {
			if (th_broker_await(&b[i], fds[i], TH_WAIT_MS) == 0) {
				winner = i;
				ready++;
			}
		}
		ck_assert_msg(ready == 1, "round %d: %d brokers came up", r,
		    ready);
		for (int i = 0; i < RACERS; i++) {
			int code;
			if (i == winner) {
				continue;
			}
			/* await reaped it: its exit status is final */
			code = th_exit_code(b[i].status);
			if (code != 3) {
				th_broker_dump_log(&b[i]);
			}
			ck_assert_msg(code == 3, "round %d: loser exited %d", r,
			    code);
		}
		/* The losers changed nothing: the winner's files are the
		 * ones it made, and it serves at once. */
		ck_assert_int_eq(stat(sock, &before), 0);
		ck_assert_int_eq(stat(lock, &after), 0);
		serve_both_paths(url, r);
		ck_assert_int_eq(stat(sock, &after), 0);
		ck_assert_int_eq(before.st_ino, after.st_ino);
		th_broker_stop_ok(&b[winner], sock);
		ck_assert_msg(th_seg_files(url) == 0, "round %d: /dev/shm not clean",
		    r);
	}
	th_assert_serving();
}
END_TEST

START_TEST(brokers_started_at_once_on_a_live_address_all_exit_3)
{
	th_broker   b[RACERS];
	int         fds[RACERS];
	struct stat before, after;
	char        lock[420];
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "race.live", NULL);

	snprintf(lock, sizeof(lock), "%s.lock", th_sock());
	th_send_str(q, "before");
	ck_assert_int_eq(stat(th_sock(), &before), 0);
	for (int r = 0; r < 10; r++) {
		for (int i = 0; i < RACERS; i++) {
			fds[i] = th_broker_launch(&b[i], th_url(), NULL);
		}
		for (int i = 0; i < RACERS; i++) {
			ck_assert_int_eq(th_broker_await(&b[i], fds[i],
			                     TH_WAIT_MS),
			    -1);
			ck_assert_int_eq(th_exit_code(b[i].status), 3);
		}
	}
	ck_assert_int_eq(stat(th_sock(), &after), 0);
	ck_assert_int_eq(before.st_ino, after.st_ino);
	ck_assert_int_eq(stat(lock, &after), 0);
	/* Served on the same connection, and a new one. */
	th_expect_recv(q, "before", TH_WAIT_MS);
	th_send_str(q, "after");
	th_expect_recv(q, "after", TH_WAIT_MS);
	th_assert_serving();
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
race_suite(void)
{
	Suite *s  = suite_create("integration.start_race");
	TCase *tc = th_tcase("start_race");

	tcase_add_test(tc, brokers_started_at_once_exactly_one_serves);
	tcase_add_test(tc, brokers_started_at_once_on_a_live_address_all_exit_3);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(race_suite());
}
