/*
 * integration.socket_group — a broker shared with a group (docs/broker.md,
 * "Sharing a broker with a group"): with --socket-mode 0660 (the broker's
 * own group) or --socket-group G, a process of another uid in that group
 * connects through the default runtime directory and uses a queue on the
 * shared-memory path and on the socket path; a process of another uid
 * outside the group is refused. The second uid is real: a forked child
 * sets its groups, gid and uid (65534) before it opens a client, so the
 * case needs root (tests run as root; as another user it says so).
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

#define OTHER_UID 65534
#define GROUP_GID 4243 /* in no /etc/group: named by number */
#define N_MSGS    40

static char grp_url[600], grp_sock[560], grp_dir[500];

/* Start a broker on the default address, in a runtime directory under
 * the test's own (XDG_RUNTIME_DIR), with extra args. The test's
 * directories get o+x so that the other uid can reach the socket; the
 * broker decides about its runtime directory. Returns as
 * th_broker_start. */
static int
start_default(th_broker *b, const char *const *args)
{
	const char *root = getenv("TH_ROOT");
	int         rv, fd;

	ck_assert_int_eq(chmod(th_dir(), 0711), 0);
	if (root != NULL) {
		ck_assert_int_eq(chmod(root, 0711), 0);
	}
	setenv("XDG_RUNTIME_DIR", th_dir(), 1);
	unsetenv("IPCQ_URL");
	snprintf(grp_dir, sizeof(grp_dir), "%s/ipcq", th_dir());
	snprintf(grp_sock, sizeof(grp_sock), "%s/ipcqd.sock", grp_dir);
	snprintf(grp_url, sizeof(grp_url), "ipc://%s", grp_sock);
	fd = th_broker_launch(b, NULL, args);
	rv = th_broker_await(b, fd, 15000);
	/* Everything else in the test (peers, th_end) uses the main one. */
	setenv("IPCQ_URL", th_url(), 1);
	return rv;
}

static void
child_fail(const char *what, int rv)
{
	fprintf(stderr, "socket_group child (uid %d): %s: %s\n", (int) getuid(),
	    what, rv != 0 ? ipcq_err_name(rv) : "mismatch");
}

/* As uid 65534 with only supplementary group gid: send N on the shared
 * memory path, receive them on the socket path, send N more on the
 * socket path and leave them. Exit codes say where it stopped. */
static int
child_main(gid_t gid, int want_shm)
{
	gid_t            groups[1] = { gid };
	ipcq_client_opts co;
	ipcq_queue_opts  so;
	ipcq_client     *c;
	ipcq_queue      *shm, *sock;
	char             buf[64];
	int              rv;

	if (setgroups(1, groups) != 0 || setgid(OTHER_UID) != 0 ||
	    setuid(OTHER_UID) != 0) {
		child_fail("drop privileges", 0);
		return 20;
	}
	ipcq_client_opts_init(&co);
	co.url = grp_url;
	if ((rv = ipcq_client_open(&c, &co)) != 0) {
		child_fail("client open", rv);
		return 10;
	}
	if ((rv = ipcq_queue_open(&shm, c, "grp.q", NULL)) != 0) {
		child_fail("queue open", rv);
		return 11;
	}
	if (ipcq_queue_is_shm(shm) != want_shm) {
		child_fail("shared-memory path", 0);
		return 12;
	}
	ipcq_queue_opts_init(&so);
	so.transport = IPCQ_TRANSPORT_SOCKET;
	if ((rv = ipcq_queue_open(&sock, c, "grp.q", &so)) != 0) {
		child_fail("socket queue open", rv);
		return 13;
	}
	for (int i = 0; i < N_MSGS; i++) {
		snprintf(buf, sizeof(buf), "g-shm-%d", i);
		if ((rv = ipcq_queue_send(shm, buf, strlen(buf), 5000)) != 0) {
			child_fail("send (shm)", rv);
			return 14;
		}
	}
	for (int i = 0; i < N_MSGS; i++) {
		ipcq_msg *m;
		snprintf(buf, sizeof(buf), "g-shm-%d", i);
		if ((rv = ipcq_queue_recv(sock, &m, 5000)) != 0 ||
		    ipcq_msg_size(m) != strlen(buf) ||
		    memcmp(ipcq_msg_data(m), buf, strlen(buf)) != 0) {
			child_fail("recv (socket)", rv);
			return 15;
		}
		ipcq_msg_free(m);
	}
	for (int i = 0; i < N_MSGS; i++) {
		snprintf(buf, sizeof(buf), "g-sock-%d", i);
		if ((rv = ipcq_queue_send(sock, buf, strlen(buf), 5000)) != 0) {
			child_fail("send (socket)", rv);
			return 16;
		}
	}
	ipcq_queue_close(sock);
	ipcq_queue_close(shm);
	ipcq_client_close(c);
	return 0;
}

/* Run child_main in a forked child (before this process uses nng). */
static int
run_child(gid_t gid, int want_shm)
{
	pid_t pid = fork();
	int   st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		_exit(child_main(gid, want_shm));
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return th_exit_code(st);
}

/* As root again: the child's N socket messages are there, exactly. */
static void
drain_as_owner(void)
{
	ipcq_client_opts co;
	ipcq_client     *c;
	ipcq_queue      *q;
	ipcq_stats       st;
	char             buf[64];

	ipcq_client_opts_init(&co);
	co.url = grp_url;
	ck_assert_int_eq(ipcq_client_open(&c, &co), 0);
	q = th_queue(c, "grp.q", NULL);
	for (int i = 0; i < N_MSGS; i++) {
		snprintf(buf, sizeof(buf), "g-sock-%d", i);
		th_expect_recv(q, buf, TH_WAIT_MS);
	}
	th_stats(c, "grp.q", &st);
	ck_assert_uint_eq(st.sent, 2 * N_MSGS);
	ck_assert_uint_eq(st.received, 2 * N_MSGS);
	ck_assert_uint_eq(st.depth, 0);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}

/* Mode and group of the runtime directory, the socket, the segments. */
static void
check_files(gid_t gid)
{
	char           prefix[64], path[700];
	struct stat    st;
	DIR           *d;
	struct dirent *e;
	int            n = 0;

	ck_assert_int_eq(stat(grp_dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0710);
	ck_assert_int_eq(st.st_gid, gid);
	ck_assert_int_eq(stat(grp_sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	ck_assert_int_eq(st.st_gid, gid);
	th_seg_prefix(grp_url, prefix, sizeof(prefix));
	ck_assert_ptr_nonnull(d = opendir("/dev/shm"));
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) {
			continue;
		}
		snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
		ck_assert_int_eq(lstat(path, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0660);
		ck_assert_int_eq(st.st_gid, gid);
		n++;
	}
	closedir(d);
	ck_assert_int_eq(n, 2); /* the queue's segment and the doorbell */
}

static int
need_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "socket_group: not root: cannot run a client "
		                "as another uid; case not run\n");
		return 0;
	}
	return 1;
}

START_TEST(socket_mode_0660_admits_the_brokers_group)
{
	static const char *const args[] = { "--socket-mode", "0660", NULL };
	th_broker                b;

	if (!need_root()) {
		return;
	}
	ck_assert_int_eq(start_default(&b, args), 0);
	/* Another uid, in the broker's group: both paths. */
	ck_assert_int_eq(run_child(getegid(), 1), 0);
	check_files(getegid());
	drain_as_owner();
	th_broker_stop_ok(&b, grp_sock);
	th_assert_serving();
}
END_TEST

START_TEST(socket_group_admits_that_group_only)
{
	static const char *const args[] = { "--socket-group", "4243", NULL };
	th_broker                b;

	if (!need_root()) {
		return;
	}
	ck_assert_int_eq(start_default(&b, args), 0);
	/* Another uid outside the group cannot even connect... */
	ck_assert_int_eq(run_child(OTHER_UID, 1), 10);
	/* ...one in it uses both paths. */
	ck_assert_int_eq(run_child(GROUP_GID, 1), 0);
	check_files(GROUP_GID);
	drain_as_owner();
	th_broker_stop_ok(&b, grp_sock);
	th_assert_serving();
}
END_TEST

START_TEST(socket_group_bad_values_exit_2)
{
	static const char *const unknown[] = { "--socket-group",
		"no-such-group-ipcq", NULL };
	static const char *const closed[] = { "--socket-group", "4243",
		"--socket-mode", "0600", NULL };
	char      url[400];
	th_broker b;

	snprintf(url, sizeof(url), "ipc://%s/bad.sock", th_dir());
	ck_assert_int_eq(th_broker_start(&b, url, unknown, 10000), -1);
	ck_assert_int_eq(th_exit_code(b.status), 2);
	ck_assert_int_eq(th_broker_start(&b, url, closed, 10000), -1);
	ck_assert_int_eq(th_exit_code(b.status), 2);
	ck_assert_int_ne(access(url + 6, F_OK), 0);
	th_assert_serving();
}
END_TEST

static Suite *
group_suite(void)
{
	Suite *s  = suite_create("integration.socket_group");
	TCase *tc = th_tcase("socket_group");

	tcase_add_test(tc, socket_mode_0660_admits_the_brokers_group);
	tcase_add_test(tc, socket_group_admits_that_group_only);
	tcase_add_test(tc, socket_group_bad_values_exit_2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(group_suite());
}
