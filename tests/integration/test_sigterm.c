/*
 * integration.sigterm_load — SIGTERM (and SIGINT) while producers and
 * consumers are busy and receivers are parked: the broker exits 0 promptly
 * and removes its socket; its clients fail cleanly instead of hanging.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

#define NPEERS 2

static void
stop_under_load(int sig)
{
	th_proc   *prod[NPEERS], *cons[NPEERS], *parked;
	th_broker *b = th_main_broker();
	struct stat st;

	for (int i = 0; i < NPEERS; i++) {
		/* Far more than can be done before the signal; peers give up
		 * quickly once the broker is gone. */
		prod[i] = th_peer("produce", "load.q", "--id", i ? "2" : "1",
		    "--count", "10000000", "--batch", i ? "50" : "1",
		    "--timeout", "2000", (char *) NULL);
		cons[i] = th_peer("consume", "load.q", "--notify-after", "200",
		    "--batch", i ? "32" : "1", "--timeout", "2000",
		    (char *) NULL);
	}
	parked = th_peer("consume", "load.empty", "--timeout", "-1",
	    (char *) NULL);
	th_expect_event(parked, "READY");
	for (int i = 0; i < NPEERS; i++) {
		th_expect_event(cons[i], "PROGRESS");
	}

	long long t0 = th_now_ms();
	int status = th_broker_signal_wait(b, sig, 15000);
	if (th_exit_code(status) != 0) {
		th_broker_dump_log(b);
	}
	ck_assert_msg(th_exit_code(status) == 0,
	    "broker exited with %d on signal %d under load",
	    th_exit_code(status), sig);
	ck_assert_int_lt(th_now_ms() - t0, 10000);
	ck_assert_msg(stat(th_sock(), &st) != 0, "socket left behind");

	/* Every client notices and exits by itself (no crash, no hang),
	 * except the one parked forever, which the harness kills. */
	for (int i = 0; i < NPEERS; i++) {
		int ps = th_proc_wait(prod[i], TH_WAIT_MS);
		int cs = th_proc_wait(cons[i], TH_WAIT_MS);
		ck_assert_msg(WIFEXITED(ps) && WIFEXITED(cs),
		    "a peer crashed: %d %d", th_exit_code(ps), th_exit_code(cs));
	}
}

START_TEST(sigterm_under_load_exits_0_and_removes_socket)
{
	stop_under_load(SIGTERM);
}
END_TEST

START_TEST(sigint_under_load_exits_0_and_removes_socket)
{
	stop_under_load(SIGINT);
}
END_TEST

START_TEST(sigterm_with_connected_idle_clients)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "idle.q", NULL);
	th_proc     *holder;

	th_send_str(q, "x");
	th_send_str(q, "y");
	/* A consumer holding a lease, and our own idle connection. */
	holder = th_peer("consume", "idle.q", "--ack", "explicit", "--hold",
	    "1", (char *) NULL);
	th_expect_event(holder, "HOLD");
	th_broker_stop_ok(th_main_broker(), th_sock());
	th_proc_free(holder);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
sigterm_suite(void)
{
	Suite *s  = suite_create("sigterm_load");
	TCase *tc = th_tcase("sigterm_load");

	tcase_add_test(tc, sigterm_under_load_exits_0_and_removes_socket);
	tcase_add_test(tc, sigint_under_load_exits_0_and_removes_socket);
	tcase_add_test(tc, sigterm_with_connected_idle_clients);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(sigterm_suite());
}
