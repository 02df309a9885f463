/*
 * integration.shm_squat — another local user cannot take the broker's
 * /dev/shm names (docs/shm.md, "Files and names"). Files of another uid
 * planted under every name an earlier version would have used (the
 * doorbell "<prefix>bell" and segments "<prefix>1" ... ) neither stop the
 * broker nor fail a queue open: the broker's names carry 64 random bits,
 * are created O_EXCL|O_NOFOLLOW, and the planted files are never opened
 * for use, changed or deleted, by a start, a clean stop, or a restart
 * after a crash (which adopts the broker's own segments and removes its
 * own stale doorbell). Both paths serve throughout, counted exactly.
 * Planting another user's file needs root; as another user the cases say
 * so and do nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

#define SQUAT_UID   4242
#define SQUAT_SEGS  16
#define N_QUEUES    3
#define N_MSGS      20

static const char squat_data[] = "planted by another user";

static char planted[SQUAT_SEGS + 1][700];

static void
plant_all(void)
{
	char prefix[64];

	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	snprintf(planted[0], sizeof(planted[0]), "/dev/shm/%sbell", prefix);
	for (int i = 1; i <= SQUAT_SEGS; i++) {
		snprintf(planted[i], sizeof(planted[i]), "/dev/shm/%s%d", prefix,
		    i);
	}
	for (int i = 0; i <= SQUAT_SEGS; i++) {
		int fd = open(planted[i],
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		ck_assert_msg(fd >= 0, "plant %s: %s", planted[i],
		    strerror(errno));
		ck_assert_int_eq(write(fd, squat_data, sizeof(squat_data)),
		    (ssize_t) sizeof(squat_data));
		ck_assert_int_eq(fchown(fd, SQUAT_UID, SQUAT_UID), 0);
		ck_assert_int_eq(fchmod(fd, 0666), 0);
		close(fd);
	}
}

/* Every planted file is as it was: same owner, size and bytes. */
static void
check_planted(const char *when)
{
	for (int i = 0; i <= SQUAT_SEGS; i++) {
		char        buf[sizeof(squat_data) + 8];
		struct stat st;
		int         fd = open(planted[i], O_RDONLY | O_CLOEXEC);

		ck_assert_msg(fd >= 0, "%s: %s was deleted", when, planted[i]);
		ck_assert_int_eq(fstat(fd, &st), 0);
		ck_assert_msg(st.st_uid == SQUAT_UID &&
		        st.st_size == (off_t) sizeof(squat_data),
		    "%s: %s was changed", when, planted[i]);
		ck_assert_int_eq(read(fd, buf, sizeof(buf)),
		    (ssize_t) sizeof(squat_data));
		ck_assert_int_eq(memcmp(buf, squat_data, sizeof(squat_data)), 0);
		close(fd);
	}
}

static void
unplant_all(void)
{
	for (int i = 0; i <= SQUAT_SEGS; i++) {
		unlink(planted[i]);
	}
}

/* The broker's own files: the doorbell's name in bell (if not NULL),
 * the number of segments returned. Each is ours, regular, 0600 and
 * named <prefix><id>-<16 hex> or <prefix>bell-<16 hex>. */
static int
own_files(char *bell, size_t len)
{
	char           prefix[64];
	DIR           *d = opendir("/dev/shm");
	struct dirent *e;
	int            nseg = 0, nbell = 0;

	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		const char *rest = e->d_name + strlen(prefix);
		const char *dash;
		char        path[700];
		struct stat st;

		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) {
			continue;
		}
		snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
		ck_assert_int_eq(lstat(path, &st), 0);
		if (st.st_uid == SQUAT_UID) {
			continue; /* planted */
		}
		ck_assert_int_eq(st.st_uid, geteuid());
		ck_assert_int_eq(st.st_mode & 0777, 0600);
		dash = strrchr(rest, '-');
		ck_assert_msg(dash != NULL && strlen(dash + 1) == 16 &&
		        strspn(dash + 1, "0123456789abcdef") == 16,
		    "name without a random part: %s", e->d_name);
		if (strncmp(rest, "bell-", 5) == 0) {
			nbell++;
			if (bell != NULL) {
				snprintf(bell, len, "%s", e->d_name);
			}
		} else {
			nseg++;
		}
	}
	closedir(d);
	ck_assert_int_eq(nbell, 1);
	return nseg;
}

static void
use_queues(ipcq_client *c, const char *tag, int expect_ready)
{
	ipcq_queue_opts so;
	char            name[32], buf[64];

	ipcq_queue_opts_init(&so);
	so.transport = IPCQ_TRANSPORT_SOCKET;
	for (int k = 0; k < N_QUEUES; k++) {
		ipcq_queue *shm, *sock;
		ipcq_stats  st;

		snprintf(name, sizeof(name), "squat.%d", k);
		shm  = th_queue(c, name, NULL);
		sock = th_queue(c, name, &so);
		ck_assert_int_eq(ipcq_queue_is_shm(shm), 1);
		/* What an earlier instance left queued comes first. */
		for (int i = 0; i < expect_ready; i++) {
			snprintf(buf, sizeof(buf), "kept-%d-%d", k, i);
			th_expect_recv(sock, buf, TH_WAIT_MS);
		}
		for (int i = 0; i < N_MSGS; i++) {
			snprintf(buf, sizeof(buf), "%s-%d-%d", tag, k, i);
			th_send_str(i % 2 ? shm : sock, buf);
		}
		for (int i = 0; i < N_MSGS; i++) {
			snprintf(buf, sizeof(buf), "%s-%d-%d", tag, k, i);
			th_expect_recv(i % 2 ? sock : shm, buf, TH_WAIT_MS);
		}
		th_stats(c, name, &st);
		ck_assert_uint_eq(st.depth, 0);
		ck_assert_uint_eq(st.in_flight, 0);
		ipcq_queue_close(sock);
		ipcq_queue_close(shm);
	}
}

START_TEST(another_users_files_under_our_names_are_never_used)
{
	th_broker   *b = th_main_broker();
	ipcq_client *c;
	char         bell1[300], bell2[300], path[400], buf[64];
	struct stat  st;

	if (geteuid() != 0) {
		fprintf(stderr, "shm_squat: not root: cannot plant another "
		                "user's file; case not run\n");
		return;
	}
	th_broker_stop_ok(b, th_sock());
	plant_all();

	/* A start with every predictable name taken. */
	if (th_broker_start(b, th_url(), NULL, 15000) != 0) {
		th_broker_dump_log(b);
		ck_abort_msg("broker did not start (exit %d) with squatted "
		             "names", th_exit_code(b->status));
	}
	c = th_client();
	use_queues(c, "first", 0);
	ck_assert_int_eq(own_files(bell1, sizeof(bell1)), N_QUEUES);
	check_planted("after queue opens");

	/* Leave messages queued, crash, restart: the new instance adopts
	 * its own segments, removes its own stale doorbell, and never
	 * touches the planted files. */
	for (int k = 0; k < N_QUEUES; k++) {
		ipcq_queue *q;
		char        name[32];
		snprintf(name, sizeof(name), "squat.%d", k);
		q = th_queue(c, name, NULL);
		for (int i = 0; i < 2; i++) {
			snprintf(buf, sizeof(buf), "kept-%d-%d", k, i);
			th_send_str(q, buf);
		}
		ipcq_queue_close(q);
	}
	ipcq_client_close(c);
	ck_assert_int_eq(th_exit_code(th_broker_signal_wait(b, SIGKILL,
	                     10000)),
	    128 + SIGKILL);
	ck_assert_int_eq(th_broker_start(b, th_url(), NULL, 15000), 0);
	ck_assert_int_eq(own_files(bell2, sizeof(bell2)), N_QUEUES);
	ck_assert_msg(strcmp(bell1, bell2) != 0, "doorbell name reused: %s",
	    bell1);
	snprintf(path, sizeof(path), "/dev/shm/%s", bell1);
	ck_assert_msg(stat(path, &st) != 0, "stale doorbell %s kept", bell1);
	c = th_client();
	use_queues(c, "second", 2);
	ipcq_client_close(c);
	check_planted("after a restart");
	th_assert_serving();

	/* A clean stop removes ours, and only ours. */
	th_broker_stop_ok(b, th_sock());
	check_planted("after a clean stop");
	unplant_all();
	/* th_end: nothing of the broker's left in /dev/shm. */
}
END_TEST

START_TEST(a_planted_symlink_is_never_followed)
{
	th_broker *b = th_main_broker();
	char       prefix[64], link[700], target[400];
	struct stat st;

	if (geteuid() != 0) {
		fprintf(stderr, "shm_squat: not root; case not run\n");
		return;
	}
	/* Links under the old doorbell name and a segment name, pointing
	 * at a file the broker must never write or remove. */
	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	snprintf(target, sizeof(target), "%s", th_path("victim"));
	ck_assert_int_eq(close(open(target, O_RDWR | O_CREAT | O_CLOEXEC,
	                     0600)),
	    0);
	th_broker_stop_ok(b, th_sock());
	snprintf(link, sizeof(link), "/dev/shm/%sbell", prefix);
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(lchown(link, SQUAT_UID, SQUAT_UID), 0);
	ck_assert_int_eq(th_broker_start(b, th_url(), NULL, 15000), 0);
	{
		ipcq_client *c = th_client();
		use_queues(c, "link", 0);
		ipcq_client_close(c);
	}
	th_broker_stop_ok(b, th_sock());
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	unlink(link);
}
END_TEST

static Suite *
squat_suite(void)
{
	Suite *s  = suite_create("integration.shm_squat");
	TCase *tc = th_tcase("shm_squat");

	tcase_add_test(tc, another_users_files_under_our_names_are_never_used);
	tcase_add_test(tc, a_planted_symlink_is_never_followed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(squat_suite());
}
