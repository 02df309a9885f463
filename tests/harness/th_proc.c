/*
 * th_proc.c — child processes of a test: spawn with fork+exec, wait with a
 * deadline (pidfd + poll, never a sleep), read event lines from a pipe.
 */
#include "harness.h"
#include "th_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TH_PROC_MAX   128
#define TH_ARGS_MAX   64
#define TH_EVBUF_SIZE 4096

struct th_proc {
	pid_t  pid;
	int    pidfd;
	int    ev_fd;    /* read end of the peer's fd 3, or -1 */
	int    stdin_fd; /* write end of the peer's stdin, or -1 */
	int    reaped;
	int    status;
	char   name[64];
	char   out_path[512];
	char   err_path[512]; /* "" when stderr is inherited */
	char  *out;
	char  *err;
	char   evbuf[TH_EVBUF_SIZE];
	size_t evlen;
	size_t evpos; /* start of the first unread line */
};

/* Every live process of this test, for the atexit cleanup. */
static th_proc *proc_live[TH_PROC_MAX];
static int      proc_seq;

long long
th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
th_exit_code(int status)
{
	if (WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

int
thi_pidfd_open(pid_t pid)
{
	return (int) syscall(SYS_pidfd_open, pid, 0);
}

/* Wait until pid exits or the deadline passes. A pidfd becomes readable
 * when the process exits; without pidfd support (old kernels) fall back
 * to polling waitpid every few ms, which only delays, never decides. */
int
thi_wait_pid(pid_t pid, int pidfd, int timeout_ms, int *status)
{
	long long deadline = th_now_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid) {
			return 0;
		}
		if (r < 0 && errno != EINTR) {
			return -1;
		}
		long long left = deadline - th_now_ms();
		if (left <= 0) {
			return -1;
		}
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
			(void) poll(&pfd, 1, (int) left);
		} else {
			struct timespec ts = { 0, 5 * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
}

/* The child side: only async-signal-safe calls between fork and exec,
 * since the parent may run nng threads. */
static void
proc_child(const struct thi_spawn *sp)
{
	if (sp->fd_in >= 0 && dup2(sp->fd_in, 0) < 0) {
		_exit(126);
	}
	if (sp->fd_out >= 0 && dup2(sp->fd_out, 1) < 0) {
		_exit(126);
	}
	if (sp->fd_err >= 0 && dup2(sp->fd_err, 2) < 0) {
		_exit(126);
	}
	if (sp->fd3 >= 0 && dup2(sp->fd3, 3) < 0) {
		_exit(126);
	}
	/* Die with the test, even if it is killed by Check's timeout. */
	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != sp->parent) {
		_exit(126);
	}
	execv(sp->argv[0], (char *const *) sp->argv);
	_exit(127);
}

pid_t
thi_spawn(const struct thi_spawn *spc)
{
	struct thi_spawn sp = *spc;
	pid_t            pid;

	sp.parent = getpid();
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		proc_child(&sp);
	}
	return pid;
}

static int
open_cloexec(const char *path, int flags)
{
	return open(path, flags | O_CLOEXEC, 0600);
}

static void
proc_register(th_proc *p)
{
	for (int i = 0; i < TH_PROC_MAX; i++) {
		if (proc_live[i] == NULL) {
			proc_live[i] = p;
			return;
		}
	}
	ck_abort_msg("too many processes in one test");
}

static void
proc_unregister(th_proc *p)
{
	for (int i = 0; i < TH_PROC_MAX; i++) {
		if (proc_live[i] == p) {
			proc_live[i] = NULL;
		}
	}
}

/* Kill and reap everything still running (atexit, and th_end). */
void
thi_proc_kill_all(void)
{
	for (int i = 0; i < TH_PROC_MAX; i++) {
		th_proc *p = proc_live[i];
		if (p != NULL) {
			th_proc_free(p);
		}
	}
}

int
thi_proc_count_live(void)
{
	int n = 0;

	for (int i = 0; i < TH_PROC_MAX; i++) {
		n += proc_live[i] != NULL && !proc_live[i]->reaped;
	}
	return n;
}

static th_proc *
proc_start(const char *const *argv, int with_events, const char *stdin_text)
{
	th_proc         *p = calloc(1, sizeof(*p));
	int              evp[2] = { -1, -1 }, inp[2] = { -1, -1 };
	struct thi_spawn sp = { .argv = argv, .fd_err = -1, .fd3 = -1 };
	const char      *base = strrchr(argv[0], '/');

	ck_assert_ptr_nonnull(p);
	thi_env_need();
	snprintf(p->name, sizeof(p->name), "%s#%d",
	    base != NULL ? base + 1 : argv[0], ++proc_seq);
	snprintf(p->out_path, sizeof(p->out_path), "%s/out-%d.txt", th_dir(),
	    proc_seq);
	sp.fd_out = open_cloexec(p->out_path, O_WRONLY | O_CREAT | O_TRUNC);
	ck_assert_msg(sp.fd_out >= 0, "open %s: %s", p->out_path,
	    strerror(errno));
	if (with_events) {
		ck_assert_int_eq(pipe2(evp, O_CLOEXEC), 0);
		ck_assert_int_eq(pipe2(inp, O_CLOEXEC), 0);
		sp.fd3   = evp[1];
		sp.fd_in = inp[0];
	} else {
		char in_path[512];
		snprintf(p->err_path, sizeof(p->err_path), "%s/err-%d.txt",
		    th_dir(), proc_seq);
		sp.fd_err = open_cloexec(p->err_path, O_WRONLY | O_CREAT | O_TRUNC);
		ck_assert_int_ge(sp.fd_err, 0);
		snprintf(in_path, sizeof(in_path), "%s/in-%d.txt", th_dir(),
		    proc_seq);
		FILE *f = fopen(in_path, "w");
		ck_assert_ptr_nonnull(f);
		if (stdin_text != NULL) {
			fputs(stdin_text, f);
		}
		fclose(f);
		sp.fd_in = open_cloexec(in_path, O_RDONLY);
	}
	p->pid = thi_spawn(&sp);
	ck_assert_msg(p->pid > 0, "fork: %s", strerror(errno));
	p->pidfd    = thi_pidfd_open(p->pid);
	p->ev_fd    = evp[0];
	p->stdin_fd = inp[1];
	close(sp.fd_out);
	close(sp.fd_in);
	if (sp.fd_err >= 0) {
		close(sp.fd_err);
	}
	if (evp[1] >= 0) {
		close(evp[1]);
	}
	proc_register(p);
	return p;
}

th_proc *
th_peerv(const char *const *args)
{
	const char *argv[TH_ARGS_MAX];
	int         n = 0;

	argv[n++] = IPCQ_TEST_PEER;
	for (; args[n - 1] != NULL; n++) {
		ck_assert_int_lt(n, TH_ARGS_MAX - 1);
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	return proc_start(argv, 1, NULL);
}

th_proc *
th_peer(const char *arg, ...)
{
	const char *args[TH_ARGS_MAX];
	int         n = 0;
	va_list     ap;

	va_start(ap, arg);
	for (const char *a = arg; a != NULL; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, TH_ARGS_MAX - 1);
		args[n++] = a;
	}
	va_end(ap);
	args[n] = NULL;
	return th_peerv(args);
}

th_proc *
th_spawn(const char *const *argv, const char *stdin_text)
{
	return proc_start(argv, 0, stdin_text);
}

/* Look for a complete line starting with ev among the unread ones. */
static int
proc_find_event(th_proc *p, const char *ev)
{
	size_t evl = strlen(ev);

	while (p->evpos < p->evlen) {
		char  *line = p->evbuf + p->evpos;
		char  *nl   = memchr(line, '\n', p->evlen - p->evpos);
		if (nl == NULL) {
			return 0;
		}
		p->evpos = (size_t) (nl - p->evbuf) + 1;
		if ((size_t) (nl - line) >= evl && memcmp(line, ev, evl) == 0) {
			return 1;
		}
	}
	return 0;
}

int
th_proc_event(th_proc *p, const char *ev, int timeout_ms)
{
	long long deadline = th_now_ms() + timeout_ms;

	ck_assert_msg(p->ev_fd >= 0, "%s has no event pipe", p->name);
	while (!proc_find_event(p, ev)) {
		/* Keep the unread tail at the front of the buffer. */
		memmove(p->evbuf, p->evbuf + p->evpos, p->evlen - p->evpos);
		p->evlen -= p->evpos;
		p->evpos = 0;
		ck_assert_msg(p->evlen < sizeof(p->evbuf), "event overflow");
		long long left = deadline - th_now_ms();
		if (left <= 0) {
			return -1;
		}
		struct pollfd pfd = { .fd = p->ev_fd, .events = POLLIN };
		if (poll(&pfd, 1, (int) left) <= 0) {
			continue;
		}
		ssize_t r = read(p->ev_fd, p->evbuf + p->evlen,
		    sizeof(p->evbuf) - p->evlen);
		if (r == 0) {
			return -1; /* the peer exited (or closed fd 3) */
		}
		if (r > 0) {
			p->evlen += (size_t) r;
		}
	}
	return 0;
}

void
th_proc_release(th_proc *p)
{
	if (p->stdin_fd >= 0) {
		close(p->stdin_fd);
		p->stdin_fd = -1;
	}
}

void
th_proc_kill(th_proc *p, int sig)
{
	if (!p->reaped) {
		kill(p->pid, sig);
	}
}

int
th_proc_wait(th_proc *p, int timeout_ms)
{
	if (!p->reaped) {
		if (thi_wait_pid(p->pid, p->pidfd, timeout_ms, &p->status) !=
		    0) {
			kill(p->pid, SIGKILL);
			(void) thi_wait_pid(p->pid, p->pidfd, 5000, &p->status);
			p->reaped = 1;
			ck_abort_msg("%s did not exit within %d ms", p->name,
			    timeout_ms);
		}
		p->reaped = 1;
	}
	return p->status;
}

void
th_proc_expect_exit(th_proc *p, int code)
{
	int st = th_proc_wait(p, TH_WAIT_MS);

	ck_assert_msg(th_exit_code(st) == code,
	    "%s exited with %d, expected %d; output:\n%.2000s", p->name,
	    th_exit_code(st), code, th_proc_output(p));
}

const char *
th_proc_output(th_proc *p)
{
	free(p->out);
	p->out = thi_read_file(p->out_path, NULL);
	ck_assert_msg(p->out != NULL, "read %s", p->out_path);
	return p->out;
}

const char *
th_proc_stderr(th_proc *p)
{
	ck_assert_msg(p->err_path[0] != '\0', "%s: stderr not captured",
	    p->name);
	free(p->err);
	p->err = thi_read_file(p->err_path, NULL);
	ck_assert_msg(p->err != NULL, "read %s", p->err_path);
	return p->err;
}

const char *
th_proc_name(const th_proc *p)
{
	return p->name;
}

pid_t
th_proc_pid(const th_proc *p)
{
	return p->pid;
}

void
th_proc_free(th_proc *p)
{
	if (p == NULL) {
		return;
	}
	if (!p->reaped) {
		kill(p->pid, SIGKILL);
		(void) thi_wait_pid(p->pid, p->pidfd, 5000, &p->status);
		p->reaped = 1;
	}
	th_proc_release(p);
	if (p->ev_fd >= 0) {
		close(p->ev_fd);
	}
	if (p->pidfd >= 0) {
		close(p->pidfd);
	}
	proc_unregister(p);
	free(p->out);
	free(p->err);
	free(p);
}
