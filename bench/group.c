/*
 * Worker process groups: spawn (fork + exec of ourselves), line up on a
 * start pipe, collect result lines, reap.
 *
 * Every pipe is created close-on-exec; a child clears the flag only on its
 * own ends. Otherwise a later worker would inherit an earlier worker's
 * result pipe and the driver would never see EOF when that worker dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/prctl.h>

#include "driver.h"

volatile sig_atomic_t bench_interrupted;

void
bench_args_init(bench_args *a)
{
	a->n = 0;
}

void
bench_args_add(bench_args *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n >= (int) (sizeof(a->v) / sizeof(a->v[0]))) {
		abort(); /* a bug in the case table, not a runtime condition */
	}
	va_start(ap, fmt);
	vsnprintf(a->v[a->n++], sizeof(a->v[0]), fmt, ap);
	va_end(ap);
}

int
bench_group_init(bench_group *g)
{
	memset(g, 0, sizeof(*g));
	if (pipe2(g->go, O_CLOEXEC) != 0) {
		return (-1);
	}
	if (pipe2(g->rel, O_CLOEXEC) != 0) {
		close(g->go[0]);
		close(g->go[1]);
		return (-1);
	}
	return (0);
}

static void
grp_exec(const bench_group *g, const bench_env *env, const bench_args *args,
    int out)
{
	char *argv[64];
	char  fds[3][32];
	int   n = 0;

	/* If the driver dies, so do its workers. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fcntl(g->go[0], F_SETFD, 0);
	fcntl(g->rel[0], F_SETFD, 0);
	fcntl(out, F_SETFD, 0);
	snprintf(fds[0], sizeof(fds[0]), "fd_go=%d", g->go[0]);
	snprintf(fds[1], sizeof(fds[1]), "fd_rel=%d", g->rel[0]);
	snprintf(fds[2], sizeof(fds[2]), "fd_out=%d", out);
	argv[n++] = (char *) env->self;
	argv[n++] = "__worker";
	for (int i = 0; i < 3; i++) {
		argv[n++] = fds[i];
	}
	for (int i = 0; i < args->n; i++) {
		argv[n++] = (char *) args->v[i];
	}
	argv[n] = NULL;
	execv(env->self, argv);
	_exit(127);
}

int
bench_group_spawn(bench_group *g, const bench_env *env,
    const bench_args *args)
{
	bench_proc *p;
	int         out[2];

	if (g->n >= BENCH_GROUP_MAX || pipe2(out, O_CLOEXEC) != 0) {
		return (-1);
	}
	p = &g->procs[g->n];
	memset(p, 0, sizeof(*p));
	fflush(NULL);
	if ((p->pid = fork()) < 0) {
		close(out[0]);
		close(out[1]);
		return (-1);
	}
	if (p->pid == 0) {
		grp_exec(g, env, args, out[1]);
	}
	close(out[1]);
	p->fd = out[0];
	g->n++;
	return (0);
}

/* Next line from p into dst, waiting until deadline (monotonic ns). */
static int
grp_read_line(bench_proc *p, uint64_t deadline, char *dst, size_t len)
{
	for (;;) {
		char         *nl = memchr(p->buf, '\n', p->len);
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		uint64_t      now = bench_now_ns();
		ssize_t       n;

		if (nl != NULL) {
			size_t ln = (size_t) (nl - p->buf);

			snprintf(dst, len, "%.*s", (int) ln, p->buf);
			memmove(p->buf, nl + 1, p->len - ln - 1);
			p->len -= ln + 1;
			return (0);
		}
		if (p->len == sizeof(p->buf) || now >= deadline) {
			snprintf(dst, len, "err=timeout_waiting_for_worker");
			return (-1);
		}
		if (bench_interrupted) {
			snprintf(dst, len, "err=interrupted");
			return (-1);
		}
		if (poll(&pfd, 1, (int) ((deadline - now) / 1000000 + 1)) < 0 &&
		    errno != EINTR) {
			return (-1);
		}
		if (pfd.revents == 0) {
			continue;
		}
		n = read(p->fd, p->buf + p->len, sizeof(p->buf) - p->len);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
			snprintf(dst, len, "err=worker_exited_without_result");
			return (-1);
		}
		if (n > 0) {
			p->len += (size_t) n;
		}
	}
}

/* Remember the first failure: a worker's err= line, or ours. */
static void
grp_note(bench_group *g, int i, const char *line)
{
	if (g->err[0] == '\0') {
		snprintf(g->err, sizeof(g->err), "worker%d:%.900s", i, line);
	}
}

int
bench_group_ready(bench_group *g, int from, uint64_t timeout_ms)
{
	uint64_t deadline = bench_now_ns() + timeout_ms * 1000000u;
	char     line[BENCH_LINE_MAX];

	for (int i = from; i < g->n; i++) {
		if (grp_read_line(&g->procs[i], deadline, line, sizeof(line)) !=
		        0 ||
		    strcmp(line, "READY") != 0) {
			grp_note(g, i, line);
			return (-1);
		}
	}
	return (0);
}

static void
grp_write_n(int fd, int n)
{
	char b[BENCH_GROUP_MAX];

	memset(b, 'g', sizeof(b));
	while (n > 0) {
		ssize_t w = write(fd, b, (size_t) n);

		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return;
		}
		n -= (int) w;
	}
}

void
bench_group_go(bench_group *g)
{
	grp_write_n(g->go[1], g->n);
}

void
bench_group_release(bench_group *g)
{
	grp_write_n(g->rel[1], g->n);
}

int
bench_group_collect(bench_group *g, uint64_t timeout_ms)
{
	uint64_t deadline = bench_now_ns() + timeout_ms * 1000000u;
	int      rv       = 0;

	for (int i = 0; i < g->n; i++) {
		bench_proc *p = &g->procs[i];

		if (grp_read_line(p, deadline, p->line, sizeof(p->line)) != 0 ||
		    strstr(p->line, "err=") != NULL) {
			grp_note(g, i, p->line);
			rv = -1;
		}
	}
	return (rv);
}

int
bench_group_finish(bench_group *g, int failed)
{
	int rv = 0;

	for (int i = 0; i < g->n; i++) {
		int st;

		if (failed) {
			kill(g->procs[i].pid, SIGKILL); /* our own child */
		}
		close(g->procs[i].fd);
		while (waitpid(g->procs[i].pid, &st, 0) < 0 && errno == EINTR) {
		}
		if (!failed && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
			grp_note(g, i, "err=worker_exit_status_nonzero");
			rv = -1;
		}
	}
	for (int k = 0; k < 2; k++) {
		close(g->go[k]);
		close(g->rel[k]);
	}
	g->n = 0;
	return (rv);
}
