/*
 * integration.cli — the `ipcq` command line end to end against a real
 * broker: what it prints, and the exit codes scripts rely on
 * (docs/cli.md: 0 ok, 2 usage, 3 EOF before -n, 4 timeout, 5 closed,
 * 6 broker unreachable, 7 not found, 8 abandoned, 9 bad name).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifndef IPCQ_TEST_CLI
#error "IPCQ_TEST_CLI (path of the ipcq program) must be defined by CMake"
#endif

#define CLI_ARGS_MAX 32

/* Run `ipcq ARGS...` (NULL-terminated) with stdin_text; return its exit
 * code; *out (if not NULL) gets a malloc'ed copy of its stdout. */
static int
cli_in(const char *stdin_text, char **out, const char *arg, ...)
{
	const char *argv[CLI_ARGS_MAX];
	int         n = 0, code;
	va_list     ap;
	th_proc    *p;

	argv[n++] = IPCQ_TEST_CLI;
	va_start(ap, arg);
	for (const char *a = arg; a != NULL; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, CLI_ARGS_MAX - 1);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	p       = th_spawn(argv, stdin_text);
	code    = th_exit_code(th_proc_wait(p, TH_WAIT_MS));
	if (out != NULL) {
		*out = strdup(th_proc_output(p));
	}
	/* Errors: one line on stderr, "ipcq: <command>: ..." */
	const char *err = th_proc_stderr(p);
	if (code != 0 && code != 3 && code != 4) {
		ck_assert_msg(strncmp(err, "ipcq: ", 6) == 0,
		    "ipcq %s exited %d with stderr \"%s\"", arg, code, err);
	}
	if (code == 0) {
		ck_assert_msg(err[0] == '\0', "ipcq %s: stderr \"%s\"", arg, err);
	}
	th_proc_free(p);
	return code;
}

#define cli(out, ...) cli_in(NULL, out, __VA_ARGS__, (char *) NULL)

/* Assert exit code and exact stdout. */
static void
cli_expect(int code, const char *want_out, int got_code, char *got_out)
{
	ck_assert_msg(got_code == code, "exit %d, expected %d (stdout \"%s\")",
	    got_code, code, got_out);
	ck_assert_str_eq(got_out, want_out);
	free(got_out);
}

/* In `stats QUEUE` output ("name   value" lines), field name has value. */
static void
expect_field(const char *text, const char *name, const char *value)
{
	for (const char *l = text; l != NULL && *l != '\0';) {
		char key[64], val[128];
		if (sscanf(l, "%63s %127s", key, val) == 2 &&
		    strcmp(key, name) == 0) {
			ck_assert_msg(strcmp(val, value) == 0,
			    "stats: %s is %s, expected %s", name, val, value);
			return;
		}
		l = strchr(l, '\n');
		l = l != NULL ? l + 1 : NULL;
	}
	ck_abort_msg("stats: no field %s in:\n%s", name, text);
}

START_TEST(send_recv_and_timeout)
{
	char *o;
	int   rc;

	rc = cli(&o, "send", "--end", "cli.q", "a", "b", "c");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "recv", "-n", "2", "cli.q");
	cli_expect(0, "a\nb\n", rc, o);
	rc = cli(&o, "recv", "-n", "2", "cli.q");
	cli_expect(3, "c\n", rc, o);
	/* Nobody has produced on this one: recv waits, then times out. */
	long long t0 = th_now_ms();
	rc = cli(&o, "recv", "-n", "1", "--timeout", "300", "cli.empty");
	cli_expect(4, "", rc, o);
	ck_assert_int_ge(th_now_ms() - t0, 300);
}
END_TEST

START_TEST(stdin_lines_and_end_of_stream)
{
	char *o;
	int   rc;

	rc = cli_in("1\n2\n\nlast-without-newline", &o, "send", "--end",
	    "cli.lines", (char *) NULL);
	cli_expect(0, "", rc, o);
	/* Without -n: until end of stream, then 0. */
	rc = cli(&o, "recv", "cli.lines");
	cli_expect(0, "1\n2\n\nlast-without-newline\n", rc, o);
	/* Ended: send is refused (5), recv -n gets EOF first (3). */
	rc = cli(&o, "send", "cli.lines", "late");
	cli_expect(5, "", rc, o);
	rc = cli(&o, "recv", "-n", "1", "cli.lines");
	cli_expect(3, "", rc, o);
}
END_TEST

START_TEST(send_end_flag_and_expected_producers)
{
	char *o;
	int   rc;

	rc = cli(&o, "send", "--end", "cli.e", "x", "y");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "recv", "cli.e");
	cli_expect(0, "x\ny\n", rc, o);

	/* -P 2: the first end does not end the queue, the second does. */
	rc = cli(&o, "end", "-P", "2", "cli.p2");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "send", "-P", "2", "cli.p2", "m");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "end", "cli.p2");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "recv", "cli.p2");
	cli_expect(0, "m\n", rc, o);
	rc = cli(&o, "send", "cli.p2", "n");
	cli_expect(5, "", rc, o);
}
END_TEST

START_TEST(abandoned_close_and_errors)
{
	char  url[600];
	char *o;
	int   rc;

	/* A send without --end leaves the stream abandoned: recv drains,
	 * then exits 8; shutdown turns it into a normal end. */
	rc = cli(&o, "send", "cli.ab", "x");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "recv", "cli.ab");
	cli_expect(8, "x\n", rc, o);
	rc = cli(&o, "shutdown", "cli.ab");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "recv", "cli.ab");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "send", "cli.ab", "y");
	cli_expect(5, "", rc, o);

	rc = cli(&o, "send", "../etc", "x");
	cli_expect(9, "", rc, o);
	rc = cli(&o, "recv", "-n", "1", "bad/name");
	cli_expect(9, "", rc, o);
	rc = cli(&o, "stats", "cli.nosuch");
	cli_expect(7, "", rc, o);
	rc = cli(&o, "shutdown", "cli.nosuch");
	cli_expect(7, "", rc, o);
	rc = cli(&o, "purge", "cli.nosuch");
	cli_expect(7, "", rc, o);
	rc = cli(&o, "delete", "cli.nosuch");
	cli_expect(7, "", rc, o);
	rc = cli(&o, "no-such-command");
	cli_expect(2, "", rc, o);
	rc = cli(&o, "recv");
	cli_expect(2, "", rc, o);
	rc = cli(&o, "recv", "--bogus", "cli.q");
	cli_expect(2, "", rc, o);
	snprintf(url, sizeof(url), "ipc://%s/nobody.sock", th_dir());
	rc = cli(&o, "-u", url, "list");
	cli_expect(6, "", rc, o);
}
END_TEST

START_TEST(list_stats_purge_delete)
{
	char *o;
	int   rc;

	rc = cli(&o, "send", "cli.b", "1", "2", "3");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "send", "cli.a", "x");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "list");
	cli_expect(0, "cli.a\ncli.b\n", rc, o);

	rc = cli(&o, "stats", "cli.b");
	ck_assert_int_eq(rc, 0);
	expect_field(o, "queue", "cli.b");
	expect_field(o, "depth", "3");
	expect_field(o, "sent", "3");
	expect_field(o, "producers_lost", "1");
	expect_field(o, "state", "abandoned");
	expect_field(o, "full_policy", "block");
	/* Default bounds: 4 KiB header + the ring (docs/shm.md). */
	expect_field(o, "segment_bytes", "77607296");
	expect_field(o, "broker_queues", "2");
	expect_field(o, "broker_max_queues", "4096");
	expect_field(o, "broker_segment_bytes", "155214592");
	free(o);
	rc = cli(&o, "stats", "--json", "cli.b");
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(o[0] == '{' && strstr(o, "\"depth\"") != NULL, "%s", o);
	free(o);
	rc = cli(&o, "stats");
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(o, "cli.a") && strstr(o, "cli.b"), "%s", o);
	ck_assert_msg(strstr(o, "\nbroker: 2 of 4096 queues, 155214592 of ") !=
	        NULL,
	    "%s", o);
	free(o);

	/* top: N screens, each a header and one row per queue. */
	rc = cli(&o, "top", "-n", "2", "-i", "50");
	ck_assert_int_eq(rc, 0);
	{
		const char *first  = strstr(o, "QUEUE");
		const char *second = first ? strstr(first + 1, "QUEUE") : NULL;
		ck_assert_msg(second != NULL && strstr(second, "cli.b") != NULL &&
		        strstr(o, "SENT/s") != NULL,
		    "top printed: %s", o);
	}
	free(o);
	rc = cli(&o, "top", "-i", "0");
	ck_assert_int_eq(rc, 2);
	free(o);

	rc = cli(&o, "purge", "cli.b");
	cli_expect(0, "cli.b: purged 3 messages\n", rc, o);
	rc = cli(&o, "delete", "cli.b");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "list");
	cli_expect(0, "cli.a\n", rc, o);
}
END_TEST

START_TEST(recv_ack_acks_what_it_printed)
{
	ipcq_client *c = th_client();
	ipcq_stats   st;
	char        *o;
	int          rc;

	rc = cli(&o, "send", "cli.ack", "x", "y");
	cli_expect(0, "", rc, o);
	rc = cli(&o, "recv", "-n", "1", "--ack", "cli.ack");
	cli_expect(0, "x\n", rc, o);
	th_stats(c, "cli.ack", &st);
	ck_assert_uint_eq(st.acked, 1);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.redelivered, 0);
	ck_assert_uint_eq(st.depth, 1);
	ipcq_client_close(c);
}
END_TEST

static int
one_taken(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->received == 1 && st->depth == 0;
}

START_TEST(recv_waiting_on_deleted_queue_exits_7)
{
	ipcq_client *c = th_client();
	const char  *argv[] = { IPCQ_TEST_CLI, "recv", "-n", "2", "cli.del",
		 NULL };
	th_proc     *p;

	/* A live producer (in-process), so the drained queue just waits. */
	ipcq_queue_opts qo;
	ipcq_queue_opts_init(&qo);
	qo.roles      = IPCQ_ROLE_PRODUCER;
	ipcq_queue *q = th_queue(c, "cli.del", &qo);
	th_send_str(q, "first");
	p = th_spawn(argv, NULL);
	/* It has taken the first message and waits for the second. */
	ck_assert_int_eq(th_poll_stats(c, "cli.del", one_taken, NULL, 10000), 0);
	ck_assert_int_eq(ipcq_client_delete(c, "cli.del"), 0);
	ck_assert_int_eq(th_exit_code(th_proc_wait(p, TH_WAIT_MS)), 7);
	ck_assert_str_eq(th_proc_output(p), "first\n");
	th_proc_free(p);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(version_and_help)
{
	char *o;
	int   rc;

	rc = cli(&o, "--version");
	cli_expect(0, "ipcq 0.1.0 (protocol 1)\n", rc, o);
	rc = cli(&o, "--help");
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(o, "recv"));
	free(o);
}
END_TEST

static Suite *
cli_suite(void)
{
	Suite *s  = suite_create("cli");
	TCase *tc = th_tcase("cli");

	tcase_add_test(tc, send_recv_and_timeout);
	tcase_add_test(tc, stdin_lines_and_end_of_stream);
	tcase_add_test(tc, send_end_flag_and_expected_producers);
	tcase_add_test(tc, abandoned_close_and_errors);
	tcase_add_test(tc, list_stats_purge_delete);
	tcase_add_test(tc, recv_ack_acks_what_it_printed);
	tcase_add_test(tc, recv_waiting_on_deleted_queue_exits_7);
	tcase_add_test(tc, version_and_help);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(cli_suite());
}
