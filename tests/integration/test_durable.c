/*
 * integration.durable — durable queues (docs/shm.md, "Durable queues"):
 * the segment is a file in the broker's --state-dir, never in /dev/shm;
 * after every process is killed (producer, consumer, broker: SIGKILL) a
 * broker restarted with the same state directory has every message whose
 * send returned (nothing acked comes back, leases come back as
 * redelivered, the end of stream is kept); a clean stop keeps the file;
 * delete removes it; a broker without a state directory refuses durable
 * queues with a clear error.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "th_seg.h"

static char        state_dir[600];
static const char *durable_args[] = { "--state-dir", state_dir, "--sync",
	"always", NULL, NULL, NULL };

static void
begin_durable(void)
{
	/* th_dir() exists only once the test has begun: name the state
	 * directory after the temporary root the harness uses. */
	snprintf(state_dir, sizeof(state_dir), "%s/state-%d",
	    getenv("TH_ROOT") != NULL ? getenv("TH_ROOT") : "/tmp",
	    (int) getpid());
	th_begin_args(durable_args);
}

/* The same cases under the default policy, with a short period: the
 * broker's syncer thread, not the sender, writes the pages. */
static void
begin_durable_batch(void)
{
	durable_args[3] = "batch";
	durable_args[4] = "--sync-ms";
	durable_args[5] = "20";
	begin_durable();
}

/* Number of entries of dir whose names start with prefix. */
static int
count_files(const char *dir, const char *prefix)
{
	DIR           *d = opendir(dir);
	struct dirent *e;
	int            n = 0;

	if (d == NULL) {
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
		    strstr(e->d_name, "bell") == NULL) {
			n++;
		}
	}
	closedir(d);
	return n;
}

static ipcq_queue *
durable_queue(ipcq_client *c, const char *name, int ack_mode)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.durable  = 1;
	o.ack_mode = ack_mode;
	return th_queue(c, name, &o);
}

static void
restart(void)
{
	th_broker_signal_wait(th_main_broker(), SIGKILL, 10000);
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(),
	                     durable_args, 10000),
	    0);
}

START_TEST(durable_queue_survives_every_process_killed)
{
	char         prefix[64];
	ipcq_client *c = th_client();
	ipcq_queue  *q = durable_queue(c, "dur.q", IPCQ_ACK_EXPLICIT);
	ipcq_msg    *m[10];
	ipcq_stats   st;
	th_proc     *prod;

	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	prod = th_peer("produce", "dur.q", "--id", "1", "--count", "50",
	    "--end", (char *) NULL);
	th_proc_expect_exit(prod, 0);
	th_proc_free(prod);
	for (int i = 0; i < 10; i++) {
		char want[16];
		char *got = th_recv_str(q, TH_WAIT_MS, &m[i]);
		snprintf(want, sizeof(want), "p1-%d", i);
		ck_assert_str_eq(got, want);
		free(got);
	}
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(ipcq_queue_ack(q, m[i]), 0);
	}
	/* The segment is the file in the state directory, not /dev/shm. */
	ck_assert_int_eq(count_files(state_dir, prefix), 1);
	ck_assert_int_eq(count_files("/dev/shm", prefix), 0);

	/* Everyone dies: the consumer's client (it holds 5 leases) and the
	 * broker. */
	for (int i = 0; i < 10; i++) {
		ipcq_msg_free(m[i]);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
	restart();

	c = th_client();
	q = durable_queue(c, "dur.q", IPCQ_ACK_AUTO);
	th_stats(c, "dur.q", &st);
	ck_assert_uint_eq(st.depth, 45);
	ck_assert_uint_eq(st.sent, 50);
	ck_assert_int_eq(st.ended, 1);
	for (int i = 5; i < 50; i++) {
		char want[16];
		snprintf(want, sizeof(want), "p1-%d", i);
		th_expect_recv(q, want, TH_WAIT_MS);
	}
	ck_assert_int_eq(ipcq_queue_recv(q, &m[0], 1000), IPCQ_EOF);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(clean_stop_keeps_durable_queue_and_delete_removes_it)
{
	char         prefix[64];
	ipcq_client *c = th_client();
	ipcq_queue  *q = durable_queue(c, "dur.keep", IPCQ_ACK_AUTO);

	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	th_send_str(q, "kept");
	ipcq_queue_close(q);
	ipcq_client_close(c);
	th_broker_stop_ok(th_main_broker(), th_sock());
	ck_assert_int_eq(count_files(state_dir, prefix), 1);
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(),
	                     durable_args, 10000),
	    0);
	c = th_client();
	q = th_queue(c, "dur.keep", NULL);
	th_expect_recv(q, "kept", TH_WAIT_MS);
	ipcq_queue_close(q);
	ck_assert_int_eq(ipcq_client_delete(c, "dur.keep"), 0);
	ck_assert_int_eq(count_files(state_dir, prefix), 0);
	ipcq_client_close(c);
}
END_TEST

START_TEST(durable_queue_needs_a_state_dir)
{
	ipcq_client    *c = th_client();
	ipcq_queue     *q = NULL;
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.durable = 1;
	ck_assert_int_eq(ipcq_queue_open(&q, c, "dur.none", &o), IPCQ_ENOTSUP);
	ck_assert_ptr_null(q);
	ipcq_client_close(c);
}
END_TEST

static Suite *
durable_suite(void)
{
	Suite *s  = suite_create("integration.durable");
	TCase *tc = th_tcase_with("durable", begin_durable);
	TCase *tb = th_tcase_with("durable_batch", begin_durable_batch);
	TCase *tn = th_tcase("no_state_dir");

	tcase_add_test(tc, durable_queue_survives_every_process_killed);
	tcase_add_test(tc, clean_stop_keeps_durable_queue_and_delete_removes_it);
	suite_add_tcase(s, tc);
	tcase_add_test(tb, durable_queue_survives_every_process_killed);
	suite_add_tcase(s, tb);
	tcase_add_test(tn, durable_queue_needs_a_state_dir);
	suite_add_tcase(s, tn);
	return s;
}

int
main(void)
{
	return th_run(durable_suite());
}
