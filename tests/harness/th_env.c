/*
 * th_env.c — one test's environment: its temporary directory, its broker,
 * and the checks and clean-up at its end. (A test that fails an assertion
 * ends at once with _exit() in Check's fork mode: its processes die with
 * it (PR_SET_PDEATHSIG), and th_suite_end, in the runner, removes what it
 * left on disk.)
 */
#include "harness.h"
#include "th_internal.h"
#include "th_seg.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TH_BROKERS_MAX 256
#define TH_SHM_MAX     512
#define TH_SHM_DIR     "/dev/shm"

static struct {
	int       active;   /* th_begin ran, th_end has not finished */
	int       atexit_set;
	char      dir[256];
	char      sock[320];
	char      url[340];
	th_broker broker;
	pid_t     brokers[TH_BROKERS_MAX];
	int       nbrokers;
	char      seg_prefix[TH_BROKERS_MAX][64]; /* "ipcq-<uid>-<tag>-" */
	int       nprefix;
	char    **shm_before; /* /dev/shm names present at th_begin */
	size_t    nshm_before;
} env;

void
thi_env_need(void)
{
	ck_assert_msg(env.active, "th_begin() has not run");
}

const char *
th_dir(void)
{
	return env.dir;
}

const char *
th_url(void)
{
	return env.url;
}

const char *
th_sock(void)
{
	return env.sock;
}

th_broker *
th_main_broker(void)
{
	return &env.broker;
}

const char *
th_path(const char *name)
{
	static char buf[8][512];
	static int  slot;
	char       *p = buf[slot++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", env.dir, name);
	return p;
}

char *
thi_read_file(const char *path, size_t *lenp)
{
	FILE  *f = fopen(path, "r");
	char  *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0) {
			break;
		}
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL) {
		*lenp = len;
	}
	return buf;
}


void
thi_broker_register(pid_t pid, const char *url)
{
	FILE *f;
	char  pfx[64];

	ck_assert_int_lt(env.nbrokers, TH_BROKERS_MAX);
	env.brokers[env.nbrokers++] = pid;
	th_seg_prefix(url, pfx, sizeof(pfx));
	for (int i = 0; i < env.nprefix; i++) {
		if (strcmp(env.seg_prefix[i], pfx) == 0) {
			pfx[0] = '\0'; /* a restart on the same address */
		}
	}
	if (pfx[0] != '\0' && env.nprefix < TH_BROKERS_MAX) {
		snprintf(env.seg_prefix[env.nprefix++], sizeof(pfx), "%s", pfx);
		/* For th_suite_end, should this test die before th_end. */
		if ((f = fopen(th_path(TH_SEGS_FILE), "a")) != NULL) {
			fprintf(f, "%s\n", pfx);
			fclose(f);
		}
	}
	/* For th_suite_end, which cleans up after a failed test. */
	if ((f = fopen(th_path(TH_PIDS_FILE), "a")) != NULL) {
		fprintf(f, "%d\n", (int) pid);
		fclose(f);
	}
}

/* ------------------------------------------------------------ /dev/shm */

static char **
shm_list(size_t *n)
{
	DIR           *d = opendir(TH_SHM_DIR);
	char         **names = calloc(TH_SHM_MAX + 1, sizeof(char *));
	struct dirent *de;

	*n = 0;
	if (d == NULL || names == NULL) {
		if (d != NULL) {
			closedir(d);
		}
		return names;
	}
	while ((de = readdir(d)) != NULL && *n < TH_SHM_MAX) {
		if (de->d_name[0] != '.') {
			names[(*n)++] = strdup(de->d_name);
		}
	}
	closedir(d);
	return names;
}

static void
shm_free(char **names, size_t n)
{
	for (size_t i = 0; names != NULL && i < n; i++) {
		free(names[i]);
	}
	free(names);
}

/* Does name contain the decimal number pid, not as part of a longer
 * number? */
int
thi_shm_name_has_pid(const char *name, pid_t pid)
{
	char        num[24];
	size_t      nl = (size_t) snprintf(num, sizeof(num), "%d", (int) pid);
	const char *s  = name;

	while ((s = strstr(s, num)) != NULL) {
		int before = s > name && s[-1] >= '0' && s[-1] <= '9';
		int after  = s[nl] >= '0' && s[nl] <= '9';
		if (!before && !after) {
			return 1;
		}
		s++;
	}
	return 0;
}

/* A broker's segment or doorbell (its prefix comes from the test's own
 * address, so it is nobody else's). */
static int
shm_is_segment(const char *name)
{
	for (int i = 0; i < env.nprefix; i++) {
		if (strncmp(name, env.seg_prefix[i],
		        strlen(env.seg_prefix[i])) == 0) {
			return 1;
		}
	}
	return 0;
}

/* A name is this test's if it is one of our brokers' segments, or new
 * and carries one of our brokers' pids or the test directory's name:
 * other tests run in parallel, so "new" alone is not ours. */
static int
shm_is_ours(const char *name)
{
	const char *base = strrchr(env.dir, '/');

	if (shm_is_segment(name)) {
		return 1;
	}
	for (size_t i = 0; i < env.nshm_before; i++) {
		if (strcmp(env.shm_before[i], name) == 0) {
			return 0;
		}
	}
	for (int i = 0; i < env.nbrokers; i++) {
		if (thi_shm_name_has_pid(name, env.brokers[i])) {
			return 1;
		}
	}
	return base != NULL && strstr(name, base + 1) != NULL;
}

/* A clean stop keeps a queue that holds messages or leases, for the
 * next start (docs/broker.md, "Shutdown"): such a segment may stay (it
 * is removed by env_cleanup); an empty one, a deleted one, the doorbell
 * or anything else of ours may not. */
static int
shm_may_stay(const char *name)
{
	return shm_is_segment(name) && th_seg_file_holds_messages(name);
}

static void
shm_check(void)
{
	size_t n;
	char **now = shm_list(&n);
	char   left[512] = "";

	for (size_t i = 0; i < n; i++) {
		if (shm_is_ours(now[i]) && !shm_may_stay(now[i]) &&
		    strlen(left) + strlen(now[i]) + 2 < sizeof(left)) {
			strcat(left, " ");
			strcat(left, now[i]);
		}
	}
	shm_free(now, n);
	ck_assert_msg(left[0] == '\0', "left in /dev/shm:%s", left);
}

/* ------------------------------------------------------------- clean-up */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

void
thi_rm_rf(const char *dir)
{
	(void) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
env_cleanup(void)
{
	if (!env.active) {
		return;
	}
	thi_proc_kill_all();
	for (int i = 0; i < env.nbrokers; i++) {
		int   st;
		pid_t r = waitpid(env.brokers[i], &st, WNOHANG);
		if (r == 0) { /* still ours and running */
			kill(env.brokers[i], SIGKILL);
			(void) waitpid(env.brokers[i], &st, 0);
		}
	}
	/* A failed test's brokers were killed: remove their segments so
	 * that they do not pile up in /dev/shm. */
	if (env.nprefix > 0) {
		size_t n;
		char **now = shm_list(&n);
		char   path[600];
		for (size_t i = 0; i < n; i++) {
			if (shm_is_segment(now[i])) {
				snprintf(path, sizeof(path), "%s/%s", TH_SHM_DIR,
				    now[i]);
				unlink(path);
			}
		}
		shm_free(now, n);
		env.nprefix = 0;
	}
	if (getenv("TH_KEEP") == NULL) {
		thi_rm_rf(env.dir);
	} else {
		fprintf(stderr, "TH_KEEP: kept %s\n", env.dir);
	}
	shm_free(env.shm_before, env.nshm_before);
	env.shm_before = NULL;
	unsetenv("IPCQ_URL");
	env.active = 0;
}

/* Runs if the test child exits through exit() before th_end (not after a
 * failed assertion: Check's fork mode leaves with _exit(); th_suite_end
 * in the runner cleans up after those). */
static void
env_atexit(void)
{
	if (env.active) {
		th_broker_dump_log(&env.broker);
	}
	env_cleanup();
}

/* ------------------------------------------------------------ begin/end */

static const char *
env_tmp_root(void)
{
	const char *t = getenv("TH_ROOT");

	if (t != NULL && t[0] == '/') {
		return t; /* set by th_suite_begin in the runner */
	}
	t = getenv("TMPDIR");
	/* An ipc:// path must fit in sun_path (108 bytes). */
	if (t != NULL && t[0] == '/' && strlen(t) < 50) {
		return t;
	}
	return "/tmp";
}

void
th_begin_args(const char *const *broker_args)
{
	ck_assert_msg(!env.active, "th_begin() twice");
	if (!env.atexit_set) {
		atexit(env_atexit);
		env.atexit_set = 1;
	}
	snprintf(env.dir, sizeof(env.dir), "%s/t-XXXXXX", env_tmp_root());
	ck_assert_msg(mkdtemp(env.dir) != NULL, "mkdtemp: %s",
	    strerror(errno));
	snprintf(env.sock, sizeof(env.sock), "%s/ipcqd.sock", env.dir);
	snprintf(env.url, sizeof(env.url), "ipc://%s", env.sock);
	env.shm_before = shm_list(&env.nshm_before);
	env.nbrokers   = 0;
	env.active     = 1;
	setenv("IPCQ_URL", env.url, 1);

	int rv = th_broker_start(&env.broker, env.url, broker_args, 15000);
	if (rv != 0) {
		th_broker_dump_log(&env.broker);
	}
	ck_assert_msg(rv == 0, "broker failed to start: exit %d",
	    th_exit_code(env.broker.status));
}

void
th_begin(void)
{
	th_begin_args(NULL);
}

void
th_assert_serving(void)
{
	th_proc *p = th_peer("ping", (char *) NULL);

	th_proc_expect_exit(p, 0);
	th_proc_free(p);
}

void
th_assert_serving_within(int timeout_ms)
{
	struct timespec t0, t;
	int             code = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		th_proc *p = th_peer("ping", (char *) NULL);
		code       = th_proc_wait(p, 30000);
		th_proc_free(p);
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000L +
		    (t.tv_nsec - t0.tv_nsec) / 1000000L;
		if (code == 0) {
			return;
		}
		ck_assert_msg(ms < timeout_ms,
		    "broker not serving new clients within %d ms (last ping "
		    "exit %d)", timeout_ms, code);
	}
}

void
th_end(void)
{
	if (!env.active) {
		return;
	}
	/* A test may stop the main broker itself (SIGTERM, restart tests);
	 * then it has asserted how it ended. */
	if (!env.broker.reaped) {
		/* Usually the first ping is served. After a test that made
		 * clients drop connections mid-handshake (reconnects, kills),
		 * nng 1.5.2 may have wedged the listener (nanomsg/nng#1518);
		 * the broker's watchdog repairs it within seconds, and that
		 * recovery is what is asserted then. */
		th_assert_serving_within(20000);
	}
	thi_proc_kill_all();
	if (!env.broker.reaped) {
		th_broker_stop_ok(&env.broker, env.sock);
	}
	shm_check();
	env_cleanup();
}
