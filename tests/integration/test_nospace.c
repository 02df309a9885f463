/*
 * integration.nospace — a full file system under the segments
 * (docs/shm.md, "Out of space"): each test runs in its own mount
 * namespace with a 100 MiB tmpfs over /dev/shm (or under the broker's
 * --state-dir), so the real broker, the test's client and its peers all
 * see a small, private /dev/shm. A queue whose segment does not fit is
 * refused with IPCQ_ENOSPC at creation; a queue that was created keeps
 * every message it confirmed, deliverable on both paths; a smaller queue
 * can still be created; the broker keeps serving. And: a restarted
 * broker recovers a segment lock that names a thread which no longer
 * exists (as a broker that died holding it leaves it), instead of
 * answering EBUSY forever.
 *
 * Needs root (CAP_SYS_ADMIN) for unshare and mount: without it the test
 * fails, saying so.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare */
#endif
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "th_raw.h"
#include "th_seg.h"

#define NS_TMPFS_OPTS "size=100m,mode=%o"
#define NS_MSG_BYTES  16384
#define NS_COUNT      2500 /* 40 MiB of 16 KiB messages into queue A */


/* One client per test (each test runs in its own forked process). */
static ipcq_client *
ts_client(void)
{
	static ipcq_client *c;

	if (c == NULL) {
		c = th_client();
	}
	return c;
}

static char        state_dir[600];
static const char *durable_args[] = { "--state-dir", state_dir, NULL };

/* A private mount namespace with a 100 MiB tmpfs at dir. */
static void
ns_small_tmpfs(const char *dir, unsigned mode)
{
	char opts[64];

	snprintf(opts, sizeof(opts), NS_TMPFS_OPTS, mode);
	ck_assert_msg(unshare(CLONE_NEWNS) == 0,
	    "unshare(CLONE_NEWNS): %s (this test needs root)", strerror(errno));
	ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
	    "make / private: %s", strerror(errno));
	ck_assert_msg(mount("tmpfs", dir, "tmpfs", 0, opts) == 0,
	    "mount tmpfs on %s: %s", dir, strerror(errno));
}

static void
begin_small_shm(void)
{
	ns_small_tmpfs("/dev/shm", 01777);
	th_begin();
}

static void
begin_small_state_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "%s/state-%d",
	    getenv("TH_ROOT") != NULL ? getenv("TH_ROOT") : "/tmp",
	    (int) getpid());
	ck_assert_int_eq(mkdir(state_dir, 0700), 0);
	ns_small_tmpfs(state_dir, 0700);
	th_begin_args(durable_args);
}

static int
ns_open(ipcq_queue **q, const char *name, uint64_t max_bytes,
    uint64_t max_messages, int transport, int durable)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.max_bytes         = max_bytes;
	o.max_messages      = max_messages;
	o.max_message_bytes = 65536;
	o.transport         = transport;
	o.durable           = durable;
	return ipcq_queue_open(q, ts_client(), name, &o);
}

/* A ~49 MiB queue holding NS_COUNT confirmed 16 KiB messages; a 74 MiB
 * queue (default bounds) refused; a small one created; every confirmed
 * message delivered once, in order, on the same path. */
static void
ns_full_fs(int transport, int durable)
{
	ipcq_queue *a, *b = NULL, *c;
	ipcq_stats  st;
	char       *buf = calloc(1, NS_MSG_BYTES);
	int         rv;

	ck_assert_int_eq(ns_open(&a, "ns.a", 48u << 20, NS_COUNT, transport,
	                     durable),
	    0);
	ck_assert_int_eq(ipcq_queue_is_shm(a),
	    transport != IPCQ_TRANSPORT_SOCKET);
	for (int i = 0; i < NS_COUNT; i++) {
		snprintf(buf, NS_MSG_BYTES, "m%08d", i);
		rv = ipcq_queue_send(a, buf, NS_MSG_BYTES, 5000);
		ck_assert_msg(rv == 0, "send %d: %s", i, ipcq_err_name(rv));
	}
	/* 49 + 74 MiB > 100 MiB: refused where it is created, not by a
	 * fault in whoever first writes the page that is not there. */
	rv = ns_open(&b, "ns.b", 64u << 20, 100000, transport, durable);
	ck_assert_msg(rv == IPCQ_ENOSPC, "open ns.b: %s, want IPCQ_ENOSPC",
	    ipcq_err_name(rv));
	ck_assert_ptr_null(b);
	/* Refused, not half-made: no queue, and room for a small one. */
	ck_assert_int_eq(ipcq_client_stats(ts_client(), "ns.b", &st),
	    IPCQ_ENOTFOUND);
	ck_assert_int_eq(ns_open(&c, "ns.c", 1u << 20, 1000, transport,
	                     durable),
	    0);
	th_send_str(c, "small");
	th_expect_recv(c, "small", TH_WAIT_MS);

	th_stats(ts_client(), "ns.a", &st);
	ck_assert_int_eq(st.corrupt, 0);
	ck_assert_uint_eq(st.depth, NS_COUNT);
	ck_assert_uint_gt(st.segment_bytes, 48u << 20);
	ck_assert_uint_ge(st.broker_segment_bytes, st.segment_bytes);
	for (int i = 0; i < NS_COUNT; i++) {
		ipcq_msg *m;
		char      want[16];

		rv = ipcq_queue_recv(a, &m, 5000);
		ck_assert_msg(rv == 0, "recv %d: %s", i, ipcq_err_name(rv));
		snprintf(want, sizeof(want), "m%08d", i);
		ck_assert_uint_eq(ipcq_msg_size(m), NS_MSG_BYTES);
		ck_assert_str_eq((const char *) ipcq_msg_data(m), want);
		ipcq_msg_free(m);
	}
	ck_assert_int_eq(ipcq_queue_recv(a, &(ipcq_msg *){ NULL }, 0),
	    IPCQ_ETIMEDOUT);
	th_stats(ts_client(), "ns.a", &st);
	ck_assert_uint_eq(st.sent, NS_COUNT);
	ck_assert_uint_eq(st.received, NS_COUNT);
	ck_assert_int_eq(st.corrupt, 0);
	ipcq_queue_close(a);
	ipcq_queue_close(c);
	/* Room again for th_end's default-sized queue (74 MiB). */
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "ns.a"), 0);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "ns.c"), 0);
	free(buf);
	if (durable) {
		/* Nothing of the broker's is left there: leave no mount
		 * point for the harness's clean-up to trip on. */
		ck_assert_int_eq(umount2(state_dir, MNT_DETACH), 0);
		ck_assert_int_eq(rmdir(state_dir), 0);
	}
}

START_TEST(full_tmpfs_refuses_queue_and_keeps_messages_shm)
{
	ns_full_fs(IPCQ_TRANSPORT_AUTO, 0);
}
END_TEST

START_TEST(full_tmpfs_refuses_queue_and_keeps_messages_socket)
{
	ns_full_fs(IPCQ_TRANSPORT_SOCKET, 0);
}
END_TEST

START_TEST(full_state_dir_refuses_durable_queue_shm)
{
	ns_full_fs(IPCQ_TRANSPORT_AUTO, 1);
}
END_TEST

START_TEST(full_state_dir_refuses_durable_queue_socket)
{
	ns_full_fs(IPCQ_TRANSPORT_SOCKET, 1);
}
END_TEST

/* The refusal names the cause. */
START_TEST(enospc_reply_says_no_space)
{
	nng_socket       s;
	Ipcq__V1__Reply *r;
	ipcq_queue      *a;

	ck_assert_int_eq(ns_open(&a, "ns.a", 48u << 20, NS_COUNT,
	                     IPCQ_TRANSPORT_AUTO, 0),
	    0);
	th_raw_open(&s, th_url(), 10000);
	r = th_raw_open_queue(s, "ns.b", 0); /* default bounds: 74 MiB */
	ck_assert_int_eq((int) r->status, IPCQ_ENOSPC);
	ck_assert_msg(strstr(r->message, "no space") != NULL, "message: %s",
	    r->message);
	ipcq__v1__reply__free_unpacked(r, NULL);
	th_raw_close(s);
	ipcq_queue_close(a);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "ns.a"), 0);
}
END_TEST

/* A thread id that no longer exists: a child's, reaped. */
static int
dead_tid(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	return (int) pid;
}

/* A broker that died holding a segment lock whose robust list the kernel
 * could not walk leaves the lock word naming its dead thread, without
 * FUTEX_OWNER_DIED. The restarted broker must recover it. */
START_TEST(restarted_broker_recovers_lock_of_dead_thread)
{
	ipcq_queue_opts o;
	ipcq_queue     *q, *qs;
	ipcqi_seg       seg;
	ipcq_client    *c = ts_client();

	ipcq_queue_opts_init(&o);
	o.max_bytes    = 1u << 20;
	o.max_messages = 1000;
	q              = th_queue(c, "stale.q", &o);
	for (int i = 0; i < 4; i++) {
		char s[16];
		snprintf(s, sizeof(s), "s%d", i);
		th_send_str(q, s);
	}
	ipcq_queue_close(q);
	th_broker_signal_wait(th_main_broker(), SIGKILL, 10000);
	th_seg_map("stale.q", &seg, NULL, 0);
	__atomic_store_n((uint32_t *) (void *) &seg.hdr->lock,
	    (uint32_t) dead_tid() & FUTEX_TID_MASK, __ATOMIC_RELEASE);
	ipcqi_seg_unmap(&seg);
	ck_assert_int_eq(th_broker_start(th_main_broker(), th_url(), NULL,
	                     10000),
	    0);

	/* Both paths see the 4 messages, exactly. */
	ipcq_queue_opts_init(&o);
	o.transport = IPCQ_TRANSPORT_SOCKET;
	q           = th_queue(c, "stale.q", &o);
	qs          = th_queue(c, "stale.q", NULL);
	ck_assert(ipcq_queue_is_shm(qs));
	th_expect_recv(q, "s0", 5000);
	th_expect_recv(qs, "s1", 5000);
	th_expect_recv(q, "s2", 5000);
	th_expect_recv(qs, "s3", 5000);
	th_send_str(qs, "after");
	th_expect_recv(q, "after", 5000);
	ipcq_queue_close(q);
	ipcq_queue_close(qs);
	ck_assert_int_eq(ipcq_client_delete(c, "stale.q"), 0);
}
END_TEST

static Suite *
nospace_suite(void)
{
	Suite *s  = suite_create("integration.nospace");
	TCase *ts = th_tcase_with("small_shm", begin_small_shm);
	TCase *td = th_tcase_with("small_state_dir", begin_small_state_dir);
	TCase *tl = th_tcase("stale_lock");

	tcase_add_test(ts, full_tmpfs_refuses_queue_and_keeps_messages_shm);
	tcase_add_test(ts, full_tmpfs_refuses_queue_and_keeps_messages_socket);
	tcase_add_test(ts, enospc_reply_says_no_space);
	tcase_add_test(td, full_state_dir_refuses_durable_queue_shm);
	tcase_add_test(td, full_state_dir_refuses_durable_queue_socket);
	tcase_add_test(tl, restarted_broker_recovers_lock_of_dead_thread);
	suite_add_tcase(s, ts);
	suite_add_tcase(s, td);
	suite_add_tcase(s, tl);
	return s;
}

int
main(void)
{
	return th_run(nospace_suite());
}
