/*
 * integration.examples — the example programs run end to end as separate
 * processes against a real broker (docs/examples.md, "For tests"): an
 * example that does not run is a bug.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#ifndef IPCQ_TEST_EXAMPLES_DIR
#error "IPCQ_TEST_EXAMPLES_DIR must be defined by CMake"
#endif

#define EX_ARGS_MAX 16

/* Start examples/<prog> with args (NULL-terminated). */
static th_proc *
ex_start(const char *prog, ...)
{
	static char path[8][512];
	static int  slot;
	const char *argv[EX_ARGS_MAX];
	int         n = 0;
	va_list     ap;
	char       *p = path[slot++ % 8];

	snprintf(p, sizeof(path[0]), "%s/%s", IPCQ_TEST_EXAMPLES_DIR, prog);
	argv[n++] = p;
	va_start(ap, prog);
	for (const char *a = va_arg(ap, const char *); a != NULL;
	     a = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, EX_ARGS_MAX - 1);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	return th_spawn(argv, NULL);
}

/* Number of lines of text that contain needle. */
static int
count_lines_with(const char *text, const char *needle)
{
	int n = 0;

	for (const char *l = text; *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t      len = nl ? (size_t) (nl - l) : strlen(l);
		char       *line = strndup(l, len);
		n += strstr(line, needle) != NULL;
		free(line);
		if (nl == NULL) {
			break;
		}
		l = nl + 1;
	}
	return n;
}

START_TEST(hello_producer_and_consumer)
{
	th_proc *cons = ex_start("hello_consumer", "hello.t", (char *) NULL);
	th_proc *prod = ex_start("hello_producer", "hello.t", "5", (char *) NULL);

	th_proc_expect_exit(prod, 0);
	th_proc_expect_exit(cons, 0);
	ck_assert_int_eq(count_lines_with(th_proc_output(cons),
	                     "hello_consumer: got"),
	    5);
	ck_assert_ptr_nonnull(strstr(th_proc_output(cons),
	    "end of stream after 5 messages"));
	/* A consumer started after the end gets EOF at once. */
	cons = ex_start("hello_consumer", "hello.t", (char *) NULL);
	th_proc_expect_exit(cons, 0);
	ck_assert_ptr_nonnull(strstr(th_proc_output(cons),
	    "end of stream after 0 messages"));
}
END_TEST

START_TEST(pool_driver_squares_with_workers)
{
	th_proc *drv = ex_start("pool_driver", "300", "3", "tasks.t",
	    "results.t", (char *) NULL);

	th_proc_expect_exit(drv, 0);
	ck_assert_msg(strstr(th_proc_output(drv), ": OK") != NULL,
	    "pool_driver: %s", th_proc_output(drv));
	ck_assert_int_eq(count_lines_with(th_proc_output(drv),
	                     "pool_worker["),
	    3);
}
END_TEST

/* The second whitespace-separated field of the last line. */
static long
pipeline_count(const char *out)
{
	const char *last = out, *p;
	long        n    = -1;

	for (p = out; *p != '\0'; p++) {
		if (*p == '\n' && p[1] != '\0') {
			last = p + 1;
		}
	}
	ck_assert_int_eq(sscanf(last, "%*s %ld", &n), 1);
	return n;
}

START_TEST(pipeline_four_producers_three_consumers)
{
	th_proc *cons[3], *prod[4];
	char     id[4][4];
	long     total = 0;

	for (int i = 0; i < 3; i++) {
		snprintf(id[i], sizeof(id[i]), "%d", i + 1);
		cons[i] = ex_start("pipeline_consumer", id[i], "pipe.t", "4",
		    (char *) NULL);
	}
	/* Producers 1-3 run and finish before producer 4 starts. */
	for (int k = 0; k < 4; k++) {
		snprintf(id[k], sizeof(id[k]), "%d", k + 1);
		prod[k] = ex_start("pipeline_producer", id[k], "250", "pipe.t",
		    "4", (char *) NULL);
		if (k == 2) {
			for (int j = 0; j <= 2; j++) {
				th_proc_expect_exit(prod[j], 0);
			}
		}
	}
	th_proc_expect_exit(prod[3], 0);
	for (int i = 0; i < 3; i++) {
		th_proc_expect_exit(cons[i], 0);
		total += pipeline_count(th_proc_output(cons[i]));
	}
	ck_assert_int_eq(total, 4 * 250);
}
END_TEST

START_TEST(files_driver_with_three_workers)
{
	const char *dir = th_path("files");
	th_proc    *w[3], *drv;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	for (int i = 0; i < 3; i++) {
		w[i] = ex_start("files_worker", "3", "todo.t", "done.t",
		    (char *) NULL);
	}
	drv = ex_start("files_driver", "12", "3", dir, "todo.t", "done.t",
	    (char *) NULL);
	th_proc_expect_exit(drv, 0);
	ck_assert_msg(strstr(th_proc_output(drv),
	                  "12/12 files upper-cased and verified: OK") != NULL,
	    "files_driver: %s", th_proc_output(drv));
	for (int i = 0; i < 3; i++) {
		th_proc_expect_exit(w[i], 0);
	}
}
END_TEST

START_TEST(threads_share_one_client)
{
	th_proc *p = ex_start("threads_shared_client", "4", "4", "500",
	    "threads.t", (char *) NULL);

	th_proc_expect_exit(p, 0);
	ck_assert_msg(strstr(th_proc_output(p),
	                  "2000/2000 messages, 0 duplicates, 0 missing: OK") !=
	        NULL,
	    "threads_shared_client: %s", th_proc_output(p));
	ck_assert_int_eq(
	    count_lines_with(th_proc_output(p), "consumer thread "), 4);
}
END_TEST

/* "tcp://127.0.0.1:PORT" with a port that was free a moment ago. */
static char ex_tcp_url[64];

static void
begin_with_tcp(void)
{
	struct sockaddr_in sa;
	socklen_t          len = sizeof(sa);
	const char        *args[] = { "--listen", ex_tcp_url, NULL };
	int                fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	snprintf(ex_tcp_url, sizeof(ex_tcp_url), "tcp://127.0.0.1:%d",
	    (int) ntohs(sa.sin_port));
	close(fd);
	th_begin_args(args);
}

/* The driver on the broker's ipc:// socket ($IPCQ_URL), its workers
 * (tcp_worker, via $IPCQ_POOL_WORKER) on tcp:// ($IPCQ_WORKER_URL). */
START_TEST(tcp_workers_ipc_driver)
{
	char     worker[512];
	th_proc *drv;

	snprintf(worker, sizeof(worker), "%s/tcp_worker",
	    IPCQ_TEST_EXAMPLES_DIR);
	setenv("IPCQ_POOL_WORKER", worker, 1);
	setenv("IPCQ_WORKER_URL", ex_tcp_url, 1);
	drv = ex_start("pool_driver", "300", "3", "tasks.tcp", "results.tcp",
	    (char *) NULL);
	th_proc_expect_exit(drv, 0);
	unsetenv("IPCQ_POOL_WORKER");
	unsetenv("IPCQ_WORKER_URL");
	ck_assert_msg(strstr(th_proc_output(drv), ": OK") != NULL,
	    "pool_driver: %s", th_proc_output(drv));
	ck_assert_int_eq(count_lines_with(th_proc_output(drv), ex_tcp_url),
	    3);
}
END_TEST

/* Wait for the line "tcp_worker[PID]: holding task N" on fd; its PID. */
static pid_t
ex_wait_holder(int fd)
{
	char      buf[256];
	size_t    n  = 0;
	long long t0 = th_now_ms();
	int       pid;

	while (memchr(buf, '\n', n) == NULL && n < sizeof(buf) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t       r;

		ck_assert_msg(th_now_ms() - t0 < TH_WAIT_MS,
		    "no worker held a task");
		if (poll(&pfd, 1, 200) == 1 &&
		    (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) {
			n += (size_t) r;
		}
	}
	buf[n] = '\0';
	ck_assert_msg(sscanf(buf, "tcp_worker[%d]: holding task", &pid) == 1 &&
	        strstr(buf, "holding task") != NULL,
	    "victim said: %s", buf);
	return (pid_t) pid;
}

/* One of the driver's workers takes a task and is SIGKILLed before it
 * acks: the task is redelivered, the driver replaces the worker and
 * still gets every result. The other workers start only once the victim
 * holds its task (go.fifo): on shared memory one worker can drain all
 * 2000 tasks before another has even attached. */
START_TEST(pool_worker_killed_midway)
{
	char         fifo[512], sh[512], go[512]; /* th_path's buffers get
	                                                reused */
	FILE        *f;
	th_proc     *drv;
	int          fd, gofd;
	ipcq_client *c;
	ipcq_stats   st;

	snprintf(fifo, sizeof(fifo), "%s", th_path("victim.fifo"));
	snprintf(sh, sizeof(sh), "%s", th_path("worker.sh"));
	snprintf(go, sizeof(go), "%s", th_path("go.fifo"));
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(mkfifo(go, 0600), 0);
	/* Held open read-write: lines written stay until a worker reads. */
	ck_assert_int_ge(gofd = open(go, O_RDWR), 0);
	/* O_RDWR: never end of file, whenever the writer comes and goes. */
	ck_assert_int_ge(fd = open(fifo, O_RDWR | O_NONBLOCK), 0);
	ck_assert_ptr_nonnull(f = fopen(sh, "w"));
	fprintf(f, "#!/bin/sh\n"
	           "if mkdir '%s' 2>/dev/null; then\n"
	           "  exec '%s/tcp_worker' --hold-after 0 \"$@\" >'%s'\n"
	           "fi\n"
	           "read go < '%s'\n"
	           "exec '%s/pool_worker' \"$@\"\n",
	    th_path("once"), IPCQ_TEST_EXAMPLES_DIR, fifo, go,
	    IPCQ_TEST_EXAMPLES_DIR);
	fclose(f);
	ck_assert_int_eq(chmod(sh, 0700), 0);
	setenv("IPCQ_POOL_WORKER", sh, 1);
	drv = ex_start("pool_driver", "2000", "3", "tasks.k", "results.k",
	    (char *) NULL);
	unsetenv("IPCQ_POOL_WORKER");
	ck_assert_int_eq(kill(ex_wait_holder(fd), SIGKILL), 0);
	/* One line per worker that may ever wait (two now, replacements). */
	ck_assert_int_eq(write(gofd, "go\ngo\ngo\ngo\n", 12), 12);
	th_proc_expect_exit(drv, 0);
	close(fd);
	close(gofd);
	ck_assert_msg(strstr(th_proc_output(drv), ": OK") != NULL,
	    "pool_driver: %s", th_proc_output(drv));
	ck_assert_int_eq(ipcq_client_open(&c, NULL), 0);
	ck_assert_int_eq(ipcq_client_stats(c, "tasks.k", &st), 0);
	ipcq_client_close(c);
	ck_assert_uint_ge(st.redelivered, 1);
	ck_assert_uint_eq(st.acked, 2000);
}
END_TEST

static Suite *
examples_suite(void)
{
	Suite *s  = suite_create("examples");
	TCase *tc = th_tcase("examples");
	TCase *tt = th_tcase_with("examples_tcp", begin_with_tcp);

	tcase_add_test(tc, hello_producer_and_consumer);
	tcase_add_test(tc, pool_driver_squares_with_workers);
	tcase_add_test(tc, pipeline_four_producers_three_consumers);
	tcase_add_test(tc, files_driver_with_three_workers);
	tcase_add_test(tc, threads_share_one_client);
	tcase_add_test(tc, pool_worker_killed_midway);
	suite_add_tcase(s, tc);
	tcase_add_test(tt, tcp_workers_ipc_driver);
	suite_add_tcase(s, tt);
	return s;
}

int
main(void)
{
	return th_run(examples_suite());
}
