/*
 * The run's environment: a mkdtemp directory for every socket and file,
 * and the broker the ipcq cases talk to (started with --ready-fd, stopped
 * with SIGTERM).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"

/* How long the broker may take to start listening, and to exit. */
#define RD_START_MS 10000
#define RD_STOP_MS  10000

int
bench_dir_create(bench_env *env)
{
	const char *tmp = getenv("TMPDIR");

	/* ipc:// paths must fit in sun_path (108 bytes). */
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 60) {
		tmp = "/tmp";
	}
	snprintf(env->dir, sizeof(env->dir), "%s/ipcq-bench-XXXXXX", tmp);
	if (mkdtemp(env->dir) == NULL) {
		return (-1);
	}
	snprintf(env->url, sizeof(env->url), "ipc://%s/ipcqd.sock", env->dir);
	return (0);
}

void
bench_dir_remove(bench_env *env)
{
	DIR           *d = opendir(env->dir);
	struct dirent *e;
	char           path[PATH_MAX + 256];

	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", env->dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(env->dir);
}

static void
rd_exec_broker(const bench_env *env, int ready)
{
	char *argv[] = { (char *) env->ipcqd, "--listen", (char *) env->url,
		"--ready-fd", "3", "--log-level",
		env->broker_log ? "info" : "warn", NULL };

	/* If the driver dies, the broker shuts down cleanly. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (ready == 3) {
		fcntl(3, F_SETFD, 0);
	} else if (dup2(ready, 3) < 0) { /* dup2 clears close-on-exec */
		_exit(127);
	}
	execv(env->ipcqd, argv);
	fprintf(stderr, "ipcq-bench: cannot run %s: %s\n", env->ipcqd,
	    strerror(errno));
	_exit(127);
}

int
bench_broker_start(bench_env *env)
{
	int           fds[2];
	char          buf[16];
	ssize_t       n;
	struct pollfd pfd;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		return (-1);
	}
	fflush(NULL);
	if ((env->broker = fork()) < 0) {
		env->broker = 0;
		close(fds[0]);
		close(fds[1]);
		return (-1);
	}
	if (env->broker == 0) {
		rd_exec_broker(env, fds[1]);
	}
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	n   = -1;
	if (poll(&pfd, 1, RD_START_MS) == 1) {
		n = read(fds[0], buf, sizeof(buf) - 1);
	}
	close(fds[0]);
	if (n < 6 || strncmp(buf, "READY\n", 6) != 0) {
		bench_broker_stop(env);
		return (-1);
	}
	return (0);
}

/* Wait for pid to exit, at most timeout_ms (a pidfd makes it a poll, not
 * a sleep loop); then SIGKILL it. Returns the wait status. */
int
bench_reap(pid_t pid, int timeout_ms)
{
	int st = 0, pfd = (int) syscall(SYS_pidfd_open, pid, 0);

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		if (poll(&p, 1, timeout_ms) != 1) {
			fprintf(stderr, "ipcq-bench: process %d did not exit "
			                "in %d ms; killing it\n", (int) pid,
			    timeout_ms);
			kill(pid, SIGKILL);
		}
		close(pfd);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return (st);
}

int
bench_broker_stop(bench_env *env)
{
	int st;

	if (env->broker <= 0) {
		return (-1);
	}
	kill(env->broker, SIGTERM);
	st          = bench_reap(env->broker, RD_STOP_MS);
	env->broker = 0;
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
