/*
 * th_broker.c — start the real ipcqd and wait for its READY line on a
 * pipe (--ready-fd); stop it with a signal and check how it ended.
 */
#include "harness.h"
#include "th_internal.h"
#include "ipcqi_common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TH_BROKER_ARGS_MAX 32

static int broker_seq;

static void
broker_reaped(th_broker *b)
{
	b->reaped = 1;
	if (b->pidfd >= 0) {
		close(b->pidfd);
		b->pidfd = -1;
	}
}

/* Read the ready pipe until "READY\n", EOF or the deadline.
 * Returns 1 ready, 0 EOF, -1 timeout. */
static int
broker_read_ready(int fd, long long deadline)
{
	char   buf[64];
	size_t len = 0;

	for (;;) {
		long long left = deadline - th_now_ms();
		if (left <= 0) {
			return -1;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, (int) left) <= 0) {
			continue;
		}
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			return 0;
		}
		len += (size_t) r;
		buf[len] = '\0';
		if (strstr(buf, "READY\n") != NULL) {
			return 1;
		}
		if (len == sizeof(buf) - 1) {
			return 0; /* garbage instead of READY */
		}
	}
}

static void
broker_argv(const char **argv, const char *url, const char *const *args)
{
	const char *level = getenv("TH_BROKER_LOG_LEVEL");
	int         n     = 0;

	argv[n++] = IPCQ_TEST_BROKER;
	if (url != NULL) {
		argv[n++] = "--listen";
		argv[n++] = url;
	}
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	argv[n++] = "--log-level";
	argv[n++] = level != NULL ? level : "info";
	for (int i = 0; args != NULL && args[i] != NULL; i++) {
		ck_assert_int_lt(n, TH_BROKER_ARGS_MAX - 1);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
}

int
th_broker_launch(th_broker *b, const char *url, const char *const *args)
{
	const char      *argv[TH_BROKER_ARGS_MAX];
	int              rp[2];
	struct thi_spawn sp = { .argv = argv, .fd_in = -1, .fd_out = -1 };
	char             def[600];

	thi_env_need();
	memset(b, 0, sizeof(*b));
	broker_argv(argv, url, args);
	if (url == NULL) {
		/* The broker's default address, by the rule it uses. */
		ck_assert_int_eq(ipcqi_default_url(def, sizeof(def)), 0);
		url = def;
	}
	snprintf(b->log, sizeof(b->log), "%s/broker-%d.log", th_dir(),
	    ++broker_seq);
	sp.fd_err = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600);
	ck_assert_msg(sp.fd_err >= 0, "open %s: %s", b->log, strerror(errno));
	ck_assert_int_eq(pipe2(rp, O_CLOEXEC), 0);
	sp.fd3 = rp[1];
	b->pid = thi_spawn(&sp);
	ck_assert_msg(b->pid > 0, "fork: %s", strerror(errno));
	b->pidfd = thi_pidfd_open(b->pid);
	close(rp[1]);
	close(sp.fd_err);
	thi_broker_register(b->pid, url);
	return rp[0];
}

int
th_broker_await(th_broker *b, int ready_fd, int timeout_ms)
{
	int ready = broker_read_ready(ready_fd, th_now_ms() + timeout_ms);

	close(ready_fd);
	if (ready == 1) {
		return 0;
	}
	if (ready == 0 &&
	    thi_wait_pid(b->pid, b->pidfd, timeout_ms, &b->status) == 0) {
		broker_reaped(b);
		return -1;
	}
	th_broker_dump_log(b);
	ck_abort_msg("broker %d: neither READY nor exit within %d ms",
	    (int) b->pid, timeout_ms);
	return -1;
}

int
th_broker_start(th_broker *b, const char *url, const char *const *args,
    int timeout_ms)
{
	return th_broker_await(b, th_broker_launch(b, url, args), timeout_ms);
}

int
th_broker_signal_wait(th_broker *b, int sig, int timeout_ms)
{
	if (b->reaped) {
		return b->status;
	}
	kill(b->pid, sig);
	if (thi_wait_pid(b->pid, b->pidfd, timeout_ms, &b->status) != 0) {
		kill(b->pid, SIGKILL);
		(void) thi_wait_pid(b->pid, b->pidfd, 5000, &b->status);
		broker_reaped(b);
		th_broker_dump_log(b);
		ck_abort_msg("broker %d did not exit within %d ms of signal %d",
		    (int) b->pid, timeout_ms, sig);
	}
	broker_reaped(b);
	return b->status;
}

void
th_broker_stop_ok(th_broker *b, const char *sock_path)
{
	struct stat st;
	char        lock[600];
	int         status = th_broker_signal_wait(b, SIGTERM, 15000);

	if (th_exit_code(status) != 0) {
		th_broker_dump_log(b);
	}
	ck_assert_msg(th_exit_code(status) == 0,
	    "broker exited with %d on SIGTERM, expected 0",
	    th_exit_code(status));
	ck_assert_msg(stat(sock_path, &st) != 0 && errno == ENOENT,
	    "socket %s still exists after the broker exited", sock_path);
	snprintf(lock, sizeof(lock), "%s.lock", sock_path);
	ck_assert_msg(stat(lock, &st) != 0 && errno == ENOENT,
	    "lock file %s still exists after the broker exited", lock);
}

int
th_broker_log_has(const th_broker *b, const char *text)
{
	size_t len   = 0;
	char  *log   = thi_read_file(b->log, &len);
	int    found = log != NULL && strstr(log, text) != NULL;

	free(log);
	return found;
}

void
th_broker_dump_log(const th_broker *b)
{
	size_t len  = 0;
	char  *text = thi_read_file(b->log, &len);

	if (text == NULL) {
		return;
	}
	/* The tail is what explains a failure; keep the output short. */
	const char *start = len > 6000 ? text + len - 6000 : text;
	fprintf(stderr, "---- %s (pid %d) tail ----\n%s---- end ----\n",
	    b->log, (int) b->pid, start);
	free(text);
}
