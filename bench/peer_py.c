/*
 * The py.mpqueue peer: the driver runs bench/py_mpqueue.py with
 * /usr/bin/python3 (it starts and verifies its own producer and consumer
 * processes with multiprocessing) and reads its one result line, then
 * prints the case line in the C cases' format.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peers.h"

#define PY_EXE "/usr/bin/python3"
#ifndef IPCQ_BENCH_PY_SCRIPT
#define IPCQ_BENCH_PY_SCRIPT "py_mpqueue.py"
#endif

static void
py_exec(const bench_opts *o, const bench_case *bc, int out)
{
	char a[5][64];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0); /* so that a timeout kills its workers too */
	if (dup2(out, 1) < 0) {
		_exit(127);
	}
	snprintf(a[0], sizeof(a[0]), "size=%zu", bc->size);
	snprintf(a[1], sizeof(a[1]), "p=%u", bc->p);
	snprintf(a[2], sizeof(a[2]), "c=%u", bc->c);
	snprintf(a[3], sizeof(a[3]), "dur_ms=%" PRIu64, o->dur_ms);
	snprintf(a[4], sizeof(a[4]), "count=%" PRIu64, o->count);
	execl(PY_EXE, PY_EXE, IPCQ_BENCH_PY_SCRIPT, a[0], a[1], a[2], a[3],
	    a[4], (char *) NULL);
	_exit(127);
}

/* The script's output, up to its exit or the case's time limit. */
static int
py_read(int fd, uint64_t timeout_ms, char *buf, size_t len)
{
	uint64_t deadline = bench_now_ns() + timeout_ms * 1000000u;
	size_t   off      = 0;

	for (;;) {
		struct pollfd p   = { .fd = fd, .events = POLLIN };
		uint64_t      now = bench_now_ns();
		ssize_t       n;

		if (now >= deadline || bench_interrupted) {
			return (-1);
		}
		if (poll(&p, 1, (int) ((deadline - now) / 1000000 + 1)) <= 0) {
			continue;
		}
		n = read(fd, buf + off, len - 1 - off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0 || (off += (size_t) n) == len - 1) {
			buf[off] = '\0';
			return (0);
		}
	}
}

static int
py_line(bench_case *bc, const char *line)
{
	bench_fig *f = &bc->fig[bc->round];
	uint64_t   msgs;
	char       secs[32], why[BENCH_LINE_MAX];
	double     s;

	if (bench_kv_u64(line, "msgs", &msgs) != 0 ||
	    bench_kv_str(line, "secs", secs, sizeof(secs)) != 0 ||
	    (s = strtod(secs, NULL)) <= 0) {
		snprintf(why, sizeof(why), "script:%.900s",
		    line[0] ? line : "no_output");
		for (char *p = why; *p; p++) {
			*p = (*p == ' ' || *p == '\n') ? '_' : *p;
		}
		return (bench_peer_fail(bc, why));
	}
	f->msg_per_s = (double) msgs / s;
	printf("case=%s size=%zu p=%u c=%u batch=%u msgs=%" PRIu64
	       " secs=%.3f msg_per_s=%.0f MiB_per_s=%.1f per_recv=1.0"
	       " round=%d\n", bc->name, bc->size, bc->p, bc->c, bc->batch,
	    msgs, s, f->msg_per_s,
	    f->msg_per_s * (double) bc->size / (1024.0 * 1024.0),
	    bc->round + 1);
	return (0);
}

int
bench_py_run(const bench_env *env, const bench_opts *o, bench_case *bc)
{
	char  line[BENCH_LINE_MAX] = "";
	int   fds[2], st, rv;
	pid_t pid;

	(void) env;
	if (access(PY_EXE, X_OK) != 0) {
		return (bench_peer_skip(bc, "no_" PY_EXE));
	}
	if (access(IPCQ_BENCH_PY_SCRIPT, R_OK) != 0) {
		return (bench_peer_skip(bc, "script_not_found"));
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		return (bench_peer_fail(bc, "pipe"));
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return (bench_peer_fail(bc, "fork"));
	}
	if (pid == 0) {
		py_exec(o, bc, fds[1]);
	}
	close(fds[1]);
	rv = py_read(fds[0], bench_case_timeout_ms(o), line, sizeof(line));
	close(fds[0]);
	if (rv != 0) {
		kill(-pid, SIGKILL); /* our own child's process group */
	}
	st = bench_reap(pid, 10000);
	if (rv != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		line[strcspn(line, "\n")] = '\0';
		return (py_line(bc, rv != 0 ? "timeout" : line) == 0
		        ? bench_peer_fail(bc, "script_exit_status")
		        : -1);
	}
	return (py_line(bc, line));
}
