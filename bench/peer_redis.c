/*
 * The redis cases' server: the bench starts its own redis-server, never
 * a system one, on a unix socket in the run directory (no TCP port, no
 * persistence), the first time a redis case runs; bench_peers_stop stops
 * it (SIGTERM, then SIGKILL after a bound) at the end of the run.
 *
 * redis-server has no ready-fd: the driver connects and sends PING until
 * it answers, a bounded number of times, 10 ms apart, also giving up at
 * once if the server exits. Then "LMPOP 1 k RIGHT" checks the server
 * knows the 7.0 list-pop commands (BLMPOP came with LMPOP in 7.0).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peers.h"

#define PR_TRIES   500 /* x 10 ms: 5 s to come up */
#define PR_STOP_MS 10000

static pid_t pr_pid;
static char  pr_path[BENCH_URL_MAX];
static char  pr_broken[128]; /* set once starting failed: skip the rest */

/* redis-server on PATH (or where Debian puts it). */
static int
pr_find(char *exe, size_t len)
{
	const char *env = getenv("PATH");
	char        path[4096], *save = NULL;

	snprintf(path, sizeof(path), "%s:/usr/bin:/usr/sbin",
	    env != NULL ? env : "");
	for (char *d = strtok_r(path, ":", &save); d != NULL;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(exe, len, "%s/redis-server", d);
		if (d[0] == '/' && access(exe, X_OK) == 0) {
			return (0);
		}
	}
	return (-1);
}

/* Send an inline command, read one reply into buf. */
static int
pr_ask(const char *cmd, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd      p;
	ssize_t            n = -1;
	int                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		return (-1);
	}
	if (strlen(pr_path) >= sizeof(sa.sun_path)) {
		close(fd);
		return (-1);
	}
	memcpy(sa.sun_path, pr_path, strlen(pr_path) + 1);
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
	    write(fd, cmd, strlen(cmd)) == (ssize_t) strlen(cmd)) {
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) == 1) {
			n = read(fd, buf, len - 1);
		}
	}
	close(fd);
	if (n <= 0) {
		return (-1);
	}
	buf[n] = '\0';
	return (0);
}

static void
pr_exec(const char *exe, const bench_env *env)
{
	int null = open("/dev/null", O_RDWR);

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1); /* its log: a warning level goes to stdout */
	}
	execl(exe, exe, "--port", "0", "--unixsocket", pr_path,
	    "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
	    "--dir", env->dir, "--loglevel", "warning", "--daemonize", "no",
	    (char *) NULL);
	_exit(127);
}

static int
pr_wait_ping(void)
{
	char buf[256];
	int  st;

	for (int i = 0; i < PR_TRIES; i++) {
		if (pr_ask("PING\r\n", buf, sizeof(buf)) == 0 &&
		    strncmp(buf, "+PONG", 5) == 0) {
			return (0);
		}
		if (waitpid(pr_pid, &st, WNOHANG) == pr_pid) {
			pr_pid = 0;
			return (-1);
		}
		(void) poll(NULL, 0, 10);
	}
	return (-1);
}

static int
pr_start(const bench_env *env)
{
	char exe[PATH_MAX + 16], buf[256];

	if (pr_find(exe, sizeof(exe)) != 0) {
		snprintf(pr_broken, sizeof(pr_broken), "redis-server_not_found"
		         "(bench/install-peers.sh)");
		return (-1);
	}
	snprintf(pr_path, sizeof(pr_path), "%s/redis.sock", env->dir);
	fflush(NULL);
	if ((pr_pid = fork()) < 0) {
		pr_pid = 0;
		snprintf(pr_broken, sizeof(pr_broken), "fork_failed");
		return (-1);
	}
	if (pr_pid == 0) {
		pr_exec(exe, env);
	}
	if (pr_wait_ping() != 0) {
		snprintf(pr_broken, sizeof(pr_broken),
		    "redis-server_did_not_answer_PING");
		bench_peers_stop();
		return (-1);
	}
	if (pr_ask("LMPOP 1 ipcq-bench-probe RIGHT\r\n", buf,
	        sizeof(buf)) != 0 ||
	    buf[0] == '-') {
		snprintf(pr_broken, sizeof(pr_broken),
		    "redis-server_has_no_BLMPOP(needs_7.0)");
		bench_peers_stop();
		return (-1);
	}
	return (0);
}

int
bench_redis_start(const bench_env *env, char *path, size_t len, char *why,
    size_t wlen)
{
	if (pr_pid == 0 && (pr_broken[0] != '\0' || pr_start(env) != 0)) {
		snprintf(why, wlen, "%s", pr_broken);
		return (-1);
	}
	snprintf(path, len, "%s", pr_path);
	return (0);
}

void
bench_peers_stop(void)
{
	if (pr_pid > 0) {
		kill(pr_pid, SIGTERM); /* our own child */
		(void) bench_reap(pr_pid, PR_STOP_MS);
		pr_pid = 0;
	}
}
