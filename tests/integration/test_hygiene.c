/*
 * integration.hygiene — the broker's files in /dev/shm (docs/shm.md,
 * "Files and names"): a queue's segment is mode 0600 and named by the
 * broker, not after the queue; a broker restarted after a crash removes
 * an unreadable file of its own, and leaves alone a file of another
 * broker, of another user, or of another layout version; an unreadable
 * durable file of its own is renamed aside, not left in place. (A clean stop
 * leaving nothing behind is checked at the end of every test by the
 * harness.)
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

static void
plant(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "create %s", path);
	ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
	close(fd);
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

START_TEST(segment_is_private_and_broker_named)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "hyg.q", NULL);
	ipcqi_seg    seg;
	char         path[600];
	struct stat  st;

	th_seg_map("hyg.q", &seg, path, sizeof(path));
	ipcqi_seg_unmap(&seg);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_uid, geteuid());
	ck_assert_ptr_null(strstr(path, "hyg.q"));
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(restart_removes_own_garbage_and_leaves_others_alone)
{
	char          prefix[64], garbage[700], foreign[700], other_ver[700];
	char          junk[8192];
	ipcqi_seg     seg;
	ipcqi_seg_params p = { .name = "hyg.v", .max_messages = 8,
		.max_bytes = 1024, .max_message_bytes = 64 };
	int           fd;

	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	th_broker_signal_wait(th_main_broker(), SIGKILL, 10000);
	memset(junk, 0x5a, sizeof(junk));
	/* Ours but unreadable: removed at the restart. */
	snprintf(garbage, sizeof(garbage), "/dev/shm/%s999", prefix);
	plant(garbage, junk, sizeof(junk));
	/* Another broker's (another address): never touched. */
	snprintf(foreign, sizeof(foreign), "/dev/shm/ipcq-%u-0000000000000000-1",
	    (unsigned) geteuid());
	plant(foreign, junk, sizeof(junk));
	/* Ours, another layout version: left alone (a newer broker's). */
	snprintf(other_ver, sizeof(other_ver), "/dev/shm/%s998", prefix);
	fd = open(other_ver, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ipcqi_seg_create(&seg, fd, &p), 0);
	seg.hdr->version = IPCQI_SEG_VERSION + 1;
	ipcqi_seg_unmap(&seg);
	close(fd);

	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(), NULL,
	                     10000),
	    0);
	ck_assert_msg(!exists(garbage), "own unreadable file kept");
	ck_assert_msg(exists(foreign), "another broker's file touched");
	ck_assert_msg(exists(other_ver), "other-version file touched");
	th_assert_serving();
	unlink(foreign);
	unlink(other_ver);
}
END_TEST

START_TEST(restart_never_touches_another_users_file)
{
	char  prefix[64], path[700], junk[4096];

	if (geteuid() != 0) {
		/* Only root can make a file of ours owned by someone else:
		 * say so in the output rather than pass silently. */
		fprintf(stderr, "hygiene: not root: cannot plant another "
		                "user's file; case not run\n");
		return;
	}
	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	th_broker_signal_wait(th_main_broker(), SIGKILL, 10000);
	memset(junk, 0x5a, sizeof(junk));
	snprintf(path, sizeof(path), "/dev/shm/%s997", prefix);
	plant(path, junk, sizeof(junk));
	ck_assert_int_eq(chown(path, 4242, 4242), 0);
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(), NULL,
	                     10000),
	    0);
	ck_assert_msg(exists(path), "another user's file was touched");
	th_assert_serving();
	unlink(path);
}
END_TEST

static char        state_dir[600];
static const char *state_args[] = { "--state-dir", state_dir, NULL };

static void
begin_state_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "%s/state-%d",
	    getenv("TH_ROOT") != NULL ? getenv("TH_ROOT") : "/tmp",
	    (int) getpid());
	th_begin_args(state_args);
}

/* An unreadable durable file of ours is not in /dev/shm, so shm_unlink
 * cannot remove it: it is renamed aside (the user's data is kept for
 * inspection), the log says where to, and a later restart never adopts
 * the renamed file. */
START_TEST(restart_sets_unreadable_durable_file_aside)
{
	char prefix[64], garbage[700], aside[800], junk[8192];

	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	th_broker_signal_wait(th_main_broker(), SIGKILL, 10000);
	memset(junk, 0x5a, sizeof(junk));
	snprintf(garbage, sizeof(garbage), "%s/%s996", state_dir, prefix);
	snprintf(aside, sizeof(aside), "%s.unreadable", garbage);
	plant(garbage, junk, sizeof(junk));

	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(),
	                     state_args, 10000),
	    0);
	ck_assert_msg(!exists(garbage), "unreadable durable file %s kept "
	    "under its name", garbage);
	ck_assert_msg(exists(aside), "%s missing", aside);
	ck_assert_msg(th_broker_log_has(th_main_broker(), "renamed to"),
	    "the log does not say where the file went");
	th_assert_serving();

	/* Set aside means out of the way: the next broker leaves it. */
	th_broker_signal_wait(th_main_broker(), SIGKILL, 10000);
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(),
	                     state_args, 10000),
	    0);
	ck_assert_msg(exists(aside), "%s touched by a later restart", aside);
	ck_assert_msg(!th_broker_log_has(th_main_broker(), aside),
	    "a later restart looked at %s", aside);
	th_assert_serving();
	unlink(aside);
}
END_TEST

static Suite *
hygiene_suite(void)
{
	Suite *s  = suite_create("integration.hygiene");
	TCase *tc = th_tcase("hygiene");
	TCase *td;

	tcase_add_test(tc, segment_is_private_and_broker_named);
	tcase_add_test(tc, restart_removes_own_garbage_and_leaves_others_alone);
	tcase_add_test(tc, restart_never_touches_another_users_file);
	suite_add_tcase(s, tc);
	td = th_tcase_with("hygiene_state_dir", begin_state_dir);
	tcase_add_test(td, restart_sets_unreadable_durable_file_aside);
	suite_add_tcase(s, td);
	return s;
}

int
main(void)
{
	return th_run(hygiene_suite());
}
