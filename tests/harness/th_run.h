/*
 * th_run.h — the main() every Check test program shares.
 *
 * Header-only so that unit tests need no harness library (and no nng).
 * CK_ENV: CK_VERBOSITY, CK_RUN_SUITE, CK_RUN_CASE and CK_FORK from the
 * environment still apply, so a developer can run one case without
 * forking (CK_FORK=no) under a debugger.
 */
#ifndef TH_RUN_H
#define TH_RUN_H

#include <check.h>
#include <stdarg.h>
#include <stdlib.h>

/* Per-case Check timeout (s). ctest's TIMEOUT is the outer guard; this one
 * must be shorter so that Check reports which case hung. The harness's
 * own waits are shorter still, so a hang normally fails with a message. */
#define TH_CASE_TIMEOUT 50

/* Run the suites (NULL-terminated); CK_RUN_SUITE picks one, which is how
 * one program serves several ctest tests (ipcq_add_check_test SUITE). */
static inline int
th_run_suites(Suite *s, ...)
{
	SRunner *sr = srunner_create(s);
	va_list  ap;
	int      failed;

	va_start(ap, s);
	for (Suite *more = va_arg(ap, Suite *); more != NULL;
	     more = va_arg(ap, Suite *)) {
		srunner_add_suite(sr, more);
	}
	va_end(ap);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static inline int
th_run(Suite *s)
{
	return th_run_suites(s, (Suite *) NULL);
}

#endif
