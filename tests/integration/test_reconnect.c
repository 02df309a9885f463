/*
 * integration.reconnect — the client library survives a broker restart:
 * a client opened before the restart opens queues and sends after a new
 * broker has started on the same address; while no broker runs, calls
 * fail in bounded time with a connection error instead of hanging.
 */
#include <signal.h>

#include "harness.h"

static void
restart_broker(void)
{
	th_broker *b = th_main_broker();

	th_broker_stop_ok(b, th_sock());
	ck_assert_int_eq(th_broker_start(b, th_url(), NULL, 10000), 0);
}

START_TEST(client_works_after_broker_restart)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "rc.q", NULL);
	ipcq_queue  *q2;

	th_send_str(q, "old");
	th_expect_recv(q, "old", 1000);
	restart_broker();

	/* New queues, and the old handle re-attached by its next call. */
	q2 = th_queue(c, "rc.new", NULL);
	th_send_str(q2, "fresh");
	th_expect_recv(q2, "fresh", 5000);
	th_send_str(q, "again");
	th_expect_recv(q, "again", 5000);
	ipcq_queue_close(q2);
	ipcq_queue_close(q);
	ipcq_client_close(c);
	th_assert_serving();
}
END_TEST

START_TEST(calls_fail_in_bounded_time_while_broker_is_down)
{
	ipcq_client     *c = th_client(), *c2 = NULL;
	ipcq_queue      *q = th_queue(c, "rc.down", NULL);
	ipcq_client_opts o;
	ipcq_msg        *m = NULL;

	th_broker_stop_ok(th_main_broker(), th_sock());

	/* A new client finds nobody: ENOBROKER after its connect timeout. */
	ipcq_client_opts_init(&o);
	o.connect_timeout_ms = 300;
	long long t0 = th_now_ms();
	ck_assert_int_eq(ipcq_client_open(&c2, &o), IPCQ_ENOBROKER);
	ck_assert_ptr_null(c2);
	ck_assert_int_lt(th_now_ms() - t0, 300 + 2000);

	/* The existing client's calls give up with a connection error. */
	t0     = th_now_ms();
	int rv = ipcq_queue_send(q, "x", 1, 500);
	ck_assert_msg(rv == IPCQ_ECONNLOST || rv == IPCQ_ENOBROKER,
	    "send with no broker: %s", ipcq_err_name(rv));
	rv = ipcq_queue_recv(q, &m, 500);
	ck_assert_msg(rv == IPCQ_ECONNLOST || rv == IPCQ_ENOBROKER,
	    "recv with no broker: %s", ipcq_err_name(rv));
	/* Bounded: connect_timeout_ms (2 s) per call, plus slack. */
	ck_assert_int_lt(th_now_ms() - t0, 2 * (2000 + 500) + 3000);

	/* And they work again once a broker is back. */
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(), NULL,
	                     10000),
	    0);
	th_send_str(q, "back");
	th_expect_recv(q, "back", 5000);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(parked_recv_returns_when_broker_stops)
{
	ipcq_client *c = th_client();
	th_proc     *cons;

	/* A consumer parked without a deadline must not hang forever when
	 * its broker goes away. */
	cons = th_peer("consume", "rc.parked", "--timeout", "-1", (char *) NULL);
	th_expect_event(cons, "READY");
	restart_broker();
	int st = th_proc_wait(cons, TH_WAIT_MS);
	ck_assert_msg(th_exit_code(st) == 20 + IPCQ_ECONNLOST,
	    "parked consumer exited %d:\n%s", th_exit_code(st),
	    th_proc_output(cons));
	ipcq_client_close(c);
}
END_TEST

static Suite *
reconnect_suite(void)
{
	Suite *s  = suite_create("reconnect");
	TCase *tc = th_tcase("reconnect");

	tcase_add_test(tc, client_works_after_broker_restart);
	tcase_add_test(tc, calls_fail_in_bounded_time_while_broker_is_down);
	tcase_add_test(tc, parked_recv_returns_when_broker_stops);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(reconnect_suite());
}
