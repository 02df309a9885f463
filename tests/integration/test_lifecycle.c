/*
 * integration.broker_lifecycle — one live broker per address: a second
 * broker on the same address refuses to start (exit 3) and the first
 * keeps serving; a stale socket file left by a SIGKILLed broker is probed
 * and replaced; usage errors exit 2.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

START_TEST(second_broker_on_same_address_refuses)
{
	th_broker   second;
	struct stat st;
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "life.q", NULL);

	th_send_str(q, "before");
	ck_assert_int_eq(th_broker_start(&second, th_url(), NULL, 10000), -1);
	ck_assert_msg(th_exit_code(second.status) == 3,
	    "second broker exited with %d, expected 3",
	    th_exit_code(second.status));
	/* It left the first broker's socket alone. */
	ck_assert_int_eq(stat(th_sock(), &st), 0);
	th_assert_serving();
	th_expect_recv(q, "before", 1000);
	th_send_str(q, "after");
	th_expect_recv(q, "after", 1000);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(stale_socket_is_replaced)
{
	th_broker  *b = th_main_broker();
	struct stat st;
	int         status;

	status = th_broker_signal_wait(b, SIGKILL, 10000);
	ck_assert_int_eq(th_exit_code(status), 128 + SIGKILL);
	/* SIGKILL leaves the socket file behind. */
	ck_assert_msg(stat(th_sock(), &st) == 0 && S_ISSOCK(st.st_mode),
	    "no stale socket file after SIGKILL");
	ck_assert_int_eq(th_broker_start(b, th_url(), NULL, 10000), 0);
	th_assert_serving();
	/* th_end stops this one and checks exit 0 and socket removal. */
}
END_TEST

START_TEST(bad_arguments_exit_2)
{
	static const char *const bogus[] = { "--no-such-option", NULL };
	static const char *const level[] = { "--log-level", "loud", NULL };
	th_broker                b;

	ck_assert_int_eq(th_broker_start(&b, "ipc:///nonexistent/x.sock",
	                     bogus, 10000),
	    -1);
	ck_assert_int_eq(th_exit_code(b.status), 2);
	ck_assert_int_eq(th_broker_start(&b, "ipc:///nonexistent/x.sock",
	                     level, 10000),
	    -1);
	ck_assert_int_eq(th_exit_code(b.status), 2);
	th_assert_serving();
}
END_TEST

START_TEST(two_listen_addresses_serve_the_same_queues)
{
	static const char *fmt = "ipc://%s/second.sock";
	char               url2[400];
	th_broker         *b = th_main_broker();
	th_broker          multi;
	const char        *args[3];
	ipcq_client_opts   o;
	ipcq_client       *c1, *c2;
	ipcq_queue        *q1, *q2;

	/* Replace the main broker by one listening on two addresses. */
	th_broker_stop_ok(b, th_sock());
	snprintf(url2, sizeof(url2), fmt, th_dir());
	args[0] = "--listen";
	args[1] = url2;
	args[2] = NULL;
	ck_assert_int_eq(th_broker_start(&multi, th_url(), args, 10000), 0);
	*b = multi;
	c1 = th_client();
	ipcq_client_opts_init(&o);
	o.url = url2;
	ck_assert_int_eq(ipcq_client_open(&c2, &o), 0);
	q1 = th_queue(c1, "life.two", NULL);
	q2 = th_queue(c2, "life.two", NULL);
	th_send_str(q1, "across");
	th_expect_recv(q2, "across", 1000);
	ipcq_queue_close(q2);
	ipcq_queue_close(q1);
	ipcq_client_close(c2);
	ipcq_client_close(c1);
	th_assert_serving();
	th_broker_stop_ok(b, th_sock());
	ck_assert_msg(access(url2 + 6, F_OK) != 0, "second socket left");
}
END_TEST

static Suite *
lifecycle_suite(void)
{
	Suite *s  = suite_create("broker_lifecycle");
	TCase *tc = th_tcase("broker_lifecycle");

	tcase_add_test(tc, second_broker_on_same_address_refuses);
	tcase_add_test(tc, stale_socket_is_replaced);
	tcase_add_test(tc, bad_arguments_exit_2);
	tcase_add_test(tc, two_listen_addresses_serve_the_same_queues);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(lifecycle_suite());
}
