/*
 * integration.durable — durable queues (docs/shm.md, "Durable queues"):
 * the segment is a file in the broker's --state-dir, never in /dev/shm;
 * after every process is killed (producer, consumer, broker: SIGKILL) a
 * broker restarted with the same state directory has every message whose
 * send returned (nothing acked comes back, leases come back as
 * redelivered, the end of stream is kept); a clean stop keeps the file;
 * delete removes it; a broker without a state directory refuses durable
 * queues with a clear error. A disk sync that fails (made to fail by
 * a preloaded library, harness/fail_sync.c) fails the send with EIO
 * under --sync always, on both paths, and is logged and counted
 * (stats sync_errors) under --sync batch; the message stays queued.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* --------------------------------------------- records that rot on disk */


/* The durable file of the (only) queue in the state directory. */
static void
durable_file(char *path, size_t len)
{
	char           prefix[64];
	DIR           *d = opendir(state_dir);
	struct dirent *e;
	int            n = 0;

	th_seg_prefix(th_url(), prefix, sizeof(prefix));
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			int w = snprintf(path, len, "%s/%s", state_dir,
			    e->d_name);
			ck_assert(w > 0 && (size_t) w < len);
			n++;
		}
	}
	closedir(d);
	ck_assert_int_eq(n, 1);
}

/* Flip one bit of the file at off, through the file (not a mapping):
 * what a disk or a bad page does to it. */
static void
flip_bit(const char *path, off_t off)
{
	unsigned char b;
	int           fd = open(path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* Records of these 3-byte payloads ("m0".."m9" plus NUL-less) each take
 * 64 bytes of ring: header 32, payload, checksum 4, rounded to 32; the
 * ring starts at 4096 and the first record at position 0. */
#define REC_OFF(i) (4096 + 64 * (i))

static int
recv_status(ipcq_queue *q)
{
	ipcq_msg *m  = NULL;
	int       rv = ipcq_queue_recv(q, &m, 1000);

	if (rv == 0) {
		fprintf(stderr, "delivered: %.*s\n", (int) ipcq_msg_size(m),
		    (const char *) ipcq_msg_data(m));
	}
	ipcq_msg_free(m);
	return rv;
}

static ipcq_queue *
durable_on(ipcq_client *c, const char *name, int shm)
{
	ipcq_queue_opts o;
	ipcq_queue     *q;

	ipcq_queue_opts_init(&o);
	o.durable   = 1;
	o.transport = shm ? IPCQ_TRANSPORT_SHM : IPCQ_TRANSPORT_SOCKET;
	q           = th_queue(c, name, &o);
	return q;
}

/* A bit flipped in a record's payload between two broker runs: the
 * restarted broker finds it when it adopts the file, logs the file and
 * the record's offset, and quarantines the queue: the damaged message
 * is never delivered as valid, on either path. */
START_TEST(bit_flipped_on_disk_is_found_at_adoption)
{
	int          shm = _i;
	ipcq_client *c   = th_client();
	ipcq_queue  *q   = durable_on(c, "dur.rot", 0);
	ipcq_stats   st;
	char         path[700], want[1000];
	int          rv;

	th_send_str(q, "m0");
	th_send_str(q, "m1");
	th_send_str(q, "m2");
	ipcq_queue_close(q);
	ipcq_client_close(c);
	th_broker_stop_ok(th_main_broker(), th_sock()); /* the file stays */
	durable_file(path, sizeof(path));
	flip_bit(path, REC_OFF(1) + 32); /* the first payload byte of m1 */
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(),
	                     durable_args, 10000),
	    0);
	snprintf(want, sizeof(want), "segment %s: record at file offset %d ",
	    path, REC_OFF(1));
	ck_assert_msg(th_broker_log_has(th_main_broker(), want),
	    "the log does not name %s", want);

	c = th_client();
	q = durable_on(c, "dur.rot", shm);
	for (int i = 0; i < 3; i++) {
		rv = recv_status(q);
		ck_assert_msg(rv == IPCQ_ECORRUPT, "recv %d from a rotten "
		    "queue: %s", i, ipcq_err_name(rv));
	}
	th_stats(c, "dur.rot", &st);
	ck_assert_int_eq(st.corrupt, 1);
	th_assert_serving();
	ipcq_queue_close(q);
	ck_assert_int_eq(ipcq_client_delete(c, "dur.rot"), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	ipcq_client_close(c);
}
END_TEST

/* A bit flipped while the broker runs (a page read back from a bad
 * disk): the messages before it are delivered, the damaged one is not
 * (ECORRUPT, queue quarantined), on either path; the broker's log names
 * the file and the offset. */
START_TEST(bit_flipped_while_running_is_never_delivered)
{
	int          shm = _i;
	ipcq_client *c   = th_client();
	ipcq_queue  *q   = durable_on(c, "dur.rot", shm);
	ipcq_stats   st;
	char         path[700], want[1000];
	int          rv;

	ck_assert_int_eq(ipcq_queue_is_shm(q), shm);
	th_send_str(q, "m0");
	th_send_str(q, "m1");
	th_send_str(q, "m2");
	durable_file(path, sizeof(path));
	flip_bit(path, REC_OFF(1) + 33); /* a payload byte of m1 */
	th_expect_recv(q, "m0", TH_WAIT_MS);
	rv = recv_status(q);
	ck_assert_msg(rv == IPCQ_ECORRUPT, "recv of a rotten record: %s",
	    ipcq_err_name(rv));
	rv = recv_status(q);
	ck_assert_msg(rv == IPCQ_ECORRUPT, "recv after a rotten record: %s",
	    ipcq_err_name(rv));
	th_stats(c, "dur.rot", &st);
	ck_assert_int_eq(st.corrupt, 1);
	snprintf(want, sizeof(want), "record at file offset %d of %s failed "
	    "its checksum", REC_OFF(1), path);
	ck_assert_msg(th_broker_log_has(th_main_broker(), want),
	    "the log does not say: %s", want);
	th_assert_serving();
	ipcq_queue_close(q);
	ck_assert_int_eq(ipcq_client_delete(c, "dur.rot"), 0);
	ipcq_client_close(c);
}
END_TEST

/* ------------------------------------------------- failing disk syncs */

/* While this file exists, msync/fdatasync/fsync fail with EIO in every
 * process that preloads IPCQ_TEST_FAIL_SYNC_LIB. */
static char fail_flag[640];

static void
preload_on(void)
{
	setenv("LD_PRELOAD", IPCQ_TEST_FAIL_SYNC_LIB, 1);
	setenv("IPCQ_TEST_FAIL_SYNC", fail_flag, 1);
	/* An ASan build checks that its runtime is the first library. */
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
}

static void
preload_off(void)
{
	unsetenv("LD_PRELOAD");
}

static void
disk_fails(int on)
{
	if (on) {
		FILE *f = fopen(fail_flag, "w");
		ck_assert_ptr_nonnull(f);
		fclose(f);
	} else {
		ck_assert_int_eq(unlink(fail_flag), 0);
	}
}

/* The broker runs with the library preloaded. */
static void
begin_failing(const char *policy)
{
	snprintf(fail_flag, sizeof(fail_flag), "%s/failsync-%d",
	    getenv("TH_ROOT") != NULL ? getenv("TH_ROOT") : "/tmp",
	    (int) getpid());
	durable_args[3] = policy;
	if (strcmp(policy, "batch") == 0) {
		durable_args[4] = "--sync-ms";
		durable_args[5] = "20";
	}
	preload_on();
	begin_durable();
	preload_off();
}

static void
begin_failing_always(void)
{
	begin_failing("always");
}

static void
begin_failing_batch(void)
{
	begin_failing("batch");
}

/* A producer peer on path 0 (socket), 1 (shared memory) or 2 (shared
 * memory, zero copy), preloaded: on shared memory it syncs itself. */
static th_proc *
failing_producer(int path, const char *queue, const char *id)
{
	th_proc    *p;
	const char *was = getenv("IPCQ_TRANSPORT");
	char        saved[16] = "";

	/* The path is this case's, whatever the run forces (.socket). */
	if (was != NULL) {
		snprintf(saved, sizeof(saved), "%s", was);
	}
	setenv("IPCQ_TRANSPORT", path == 0 ? "socket" : "shm", 1);
	preload_on();
	p = path == 2 ? th_peer("produce", queue, "--id", id, "--count", "1",
	                    "--zero-copy", (char *) NULL)
	              : th_peer("produce", queue, "--id", id, "--count", "1",
	                    (char *) NULL);
	preload_off();
	if (saved[0] != '\0') {
		setenv("IPCQ_TRANSPORT", saved, 1);
	} else {
		unsetenv("IPCQ_TRANSPORT");
	}
	return p;
}

/* --sync always: a send whose sync failed answers IPCQ_EIO (it used to
 * answer 0); the message is queued all the same (queued, not known
 * durable) and delivered once. After the disk recovers, sends succeed. */
START_TEST(sync_always_failure_fails_the_send_with_eio)
{
	int          path = _i;
	ipcq_client *c    = th_client();
	ipcq_queue  *q    = durable_queue(c, "dur.eio", IPCQ_ACK_AUTO);
	ipcq_stats   st;
	th_proc     *p;

	disk_fails(1);
	p = failing_producer(path, "dur.eio", "1");
	ck_assert_int_ne(th_exit_code(th_proc_wait(p, TH_WAIT_MS)), 0);
	ck_assert_msg(strstr(th_proc_output(p), "ERR EIO") != NULL,
	    "path %d: a send whose sync failed printed: %s", path,
	    th_proc_output(p));
	th_proc_free(p);
	th_stats(c, "dur.eio", &st);
	ck_assert_uint_eq(st.depth, 1);
	ck_assert_uint_eq(st.sent, 1);
	/* The broker made the sync on the socket path and counts it; on
	 * shared memory the client made it and only it knows. */
	ck_assert_uint_eq(st.sync_errors, path == 0 ? 1 : 0);
	if (path == 0) {
		ck_assert(th_broker_log_has(th_main_broker(), "disk sync failed"));
	}

	disk_fails(0);
	p = failing_producer(path, "dur.eio", "2");
	th_proc_expect_exit(p, 0);
	th_proc_free(p);
	th_expect_recv(q, "p1-0", TH_WAIT_MS);
	th_expect_recv(q, "p2-0", TH_WAIT_MS);
	th_stats(c, "dur.eio", &st);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.sent, 2);
	ck_assert_uint_eq(st.sync_errors, path == 0 ? 1 : 0);
	ipcq_queue_close(q);
	ck_assert_int_eq(ipcq_client_delete(c, "dur.eio"), 0);
	ipcq_client_close(c);
}
END_TEST

static int
sync_failed(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->sync_errors > 0;
}

/* --sync batch: the syncer's failure used to be dropped. It is logged,
 * counted in stats, and the sends (on either path) are not lost. */
START_TEST(sync_batch_failure_is_logged_and_counted)
{
	int             shm = _i;
	ipcq_client    *c   = th_client();
	ipcq_queue     *q;
	ipcq_queue_opts o;
	ipcq_stats      st;

	ipcq_queue_opts_init(&o);
	o.durable   = 1;
	o.transport = shm ? IPCQ_TRANSPORT_SHM : IPCQ_TRANSPORT_SOCKET;
	q           = th_queue(c, "dur.batch", &o);
	ck_assert_int_eq(ipcq_queue_is_shm(q), shm);
	disk_fails(1);
	th_send_str(q, "kept");
	/* Nothing announces the syncer's next period: poll the stats. */
	ck_assert_int_eq(th_poll_stats(c, "dur.batch", sync_failed, NULL,
	                     10000),
	    0);
	ck_assert(th_broker_log_has(th_main_broker(), "disk sync failed"));
	ck_assert(th_broker_log_has(th_main_broker(), "dur.batch"));
	disk_fails(0);
	th_stats(c, "dur.batch", &st);
	ck_assert_uint_eq(st.depth, 1);
	th_expect_recv(q, "kept", TH_WAIT_MS);
	th_send_str(q, "after");
	th_expect_recv(q, "after", TH_WAIT_MS);
	ipcq_queue_close(q);
	ck_assert_int_eq(ipcq_client_delete(c, "dur.batch"), 0);
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
	TCase *tf;

	tcase_add_test(tc, durable_queue_survives_every_process_killed);
	tcase_add_test(tc, clean_stop_keeps_durable_queue_and_delete_removes_it);
	suite_add_tcase(s, tc);
	tcase_add_test(tb, durable_queue_survives_every_process_killed);
	suite_add_tcase(s, tb);
	tcase_add_test(tn, durable_queue_needs_a_state_dir);
	suite_add_tcase(s, tn);
	tf = th_tcase_with("rot", begin_durable);
	tcase_add_loop_test(tf, bit_flipped_on_disk_is_found_at_adoption, 0, 2);
	tcase_add_loop_test(tf, bit_flipped_while_running_is_never_delivered,
	    0, 2);
	suite_add_tcase(s, tf);
	tf = th_tcase_with("sync_fails_always", begin_failing_always);
	tcase_add_loop_test(tf, sync_always_failure_fails_the_send_with_eio, 0,
	    3);
	suite_add_tcase(s, tf);
	tf = th_tcase_with("sync_fails_batch", begin_failing_batch);
	tcase_add_loop_test(tf, sync_batch_failure_is_logged_and_counted, 0, 2);
	suite_add_tcase(s, tf);
	return s;
}

int
main(void)
{
	return th_run(durable_suite());
}
