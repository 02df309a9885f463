/*
 * th_suite.c — the runner's side (Check's parent process): a root
 * directory per test case under which every test makes its own, and the
 * clean-up after tests that failed. A failed assertion ends the forked
 * test child with _exit(), so no teardown or atexit handler of the child
 * runs; what it left (its directory, its broker logs) is found here.
 */
#include "harness.h"
#include "th_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char suite_root[256];

void
th_suite_begin(void)
{
	snprintf(suite_root, sizeof(suite_root), "/tmp/ipcq-test-XXXXXX");
	if (mkdtemp(suite_root) == NULL) {
		fprintf(stderr, "th: mkdtemp: %s\n", strerror(errno));
		abort();
	}
	setenv("TH_ROOT", suite_root, 1);
}

/* Show the tail of every broker log in dir: the failed test's story. */
static void
suite_dump_logs(const char *dir)
{
	DIR           *d = opendir(dir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "broker-", 7) != 0) {
			continue;
		}
		char   path[1024];
		size_t len;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *text = thi_read_file(path, &len);
		if (text != NULL) {
			fprintf(stderr, "---- %s (tail) ----\n%s---- end ----\n",
			    path, len > 4000 ? text + len - 4000 : text);
			free(text);
		}
	}
	if (d != NULL) {
		closedir(d);
	}
}

/* Remove /dev/shm names created by the failed test's brokers. */
static void
suite_clean_shm(const char *dir)
{
	char  path[1024];
	FILE *f;
	int   pid;

	snprintf(path, sizeof(path), "%s/%s", dir, TH_PIDS_FILE);
	if ((f = fopen(path, "r")) == NULL) {
		return;
	}
	while (fscanf(f, "%d", &pid) == 1) {
		DIR           *d = opendir("/dev/shm");
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (thi_shm_name_has_pid(de->d_name, pid)) {
				snprintf(path, sizeof(path), "/dev/shm/%s",
				    de->d_name);
				(void) unlink(path);
			}
		}
		if (d != NULL) {
			closedir(d);
		}
	}
	fclose(f);
	/* And their segments, named by address, not pid (docs/shm.md). */
	snprintf(path, sizeof(path), "%s/%s", dir, TH_SEGS_FILE);
	if ((f = fopen(path, "r")) == NULL) {
		return;
	}
	char pfx[128];
	while (fscanf(f, "%127s", pfx) == 1) {
		DIR           *d = opendir("/dev/shm");
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, pfx, strlen(pfx)) == 0) {
				snprintf(path, sizeof(path), "/dev/shm/%s",
				    de->d_name);
				(void) unlink(path);
			}
		}
		if (d != NULL) {
			closedir(d);
		}
	}
	fclose(f);
}

void
th_suite_end(void)
{
	DIR           *d = opendir(suite_root);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			continue;
		}
		char dir[512];
		snprintf(dir, sizeof(dir), "%s/%s", suite_root, de->d_name);
		/* Only a test that did not reach th_end leaves its dir. */
		fprintf(stderr, "th: a test left %s\n", dir);
		suite_dump_logs(dir);
		suite_clean_shm(dir);
	}
	if (d != NULL) {
		closedir(d);
	}
	if (getenv("TH_KEEP") == NULL) {
		thi_rm_rf(suite_root);
	}
	unsetenv("TH_ROOT");
}

TCase *
th_tcase_with(const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, th_suite_begin, th_suite_end);
	tcase_add_checked_fixture(tc, setup, th_end);
	tcase_set_timeout(tc, TH_CASE_TIMEOUT);
	return tc;
}

TCase *
th_tcase(const char *name)
{
	return th_tcase_with(name, th_begin);
}
