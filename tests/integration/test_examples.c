/*
 * integration.examples — the example programs run end to end as separate
 * processes against a real broker (docs/examples.md, "For tests"): an
 * example that does not run is a bug.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static Suite *
examples_suite(void)
{
	Suite *s  = suite_create("examples");
	TCase *tc = th_tcase("examples");

	tcase_add_test(tc, hello_producer_and_consumer);
	tcase_add_test(tc, pool_driver_squares_with_workers);
	tcase_add_test(tc, pipeline_four_producers_three_consumers);
	tcase_add_test(tc, files_driver_with_three_workers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(examples_suite());
}
