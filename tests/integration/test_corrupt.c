/*
 * integration.corrupt — a client that truncates a queue's segment file or
 * scribbles on its header must not crash the broker (docs/shm.md,
 * "Crashes"): the queue is quarantined (send and recv answer
 * IPCQ_ECORRUPT, stats say corrupt), `delete` removes it and its file,
 * and every other queue goes on working. A truncation is survived by
 * the broker's SIGBUS handler (proto/ipcqi_sigbus.h).
 *
 * The test's own handles use the socket path, so that this process never
 * touches the pages it truncates (a client mapping them would take the
 * SIGBUS itself). It maps a segment only briefly, to find its file or
 * to scribble on it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_timedjoin_np */
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

#define QA "corrupt.a" /* the queue a client damages */
#define QB "corrupt.b" /* a bystander */

static ipcq_queue *
socket_queue(ipcq_client *c, const char *name)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.transport = IPCQ_TRANSPORT_SOCKET;
	return th_queue(c, name, &o);
}

/* The file of queue's segment (under /dev/shm), not left mapped. */
static void
seg_path(const char *queue, char *path, size_t len)
{
	ipcqi_seg seg;

	th_seg_map(queue, &seg, path, len);
	ipcqi_seg_unmap(&seg);
}

static void
truncate_segment(const char *path, off_t size)
{
	ck_assert_msg(truncate(path, size) == 0, "truncate %s: %s", path,
	    strerror(errno));
}

/* Send one message and return the result (no assertion). */
static int
send_rv(ipcq_queue *q, const char *s)
{
	return ipcq_queue_send(q, s, strlen(s), 1000);
}

static int
recv_rv(ipcq_queue *q, int timeout_ms)
{
	ipcq_msg *m  = NULL;
	int       rv = ipcq_queue_recv(q, &m, timeout_ms);

	ipcq_msg_free(m);
	return rv;
}

/* A damaged queue answers ECORRUPT and says so in its stats. */
static void
assert_quarantined(ipcq_client *c, ipcq_queue *qa)
{
	ipcq_stats st;
	int        rv;

	rv = send_rv(qa, "after");
	ck_assert_msg(rv == IPCQ_ECORRUPT, "send to damaged queue: %s",
	    ipcq_err_name(rv));
	rv = recv_rv(qa, 0);
	ck_assert_msg(rv == IPCQ_ECORRUPT, "recv from damaged queue: %s",
	    ipcq_err_name(rv));
	th_stats(c, QA, &st);
	ck_assert_int_eq(st.corrupt, 1);
}

/* The bystander works end to end, many times (each request may run on
 * another of the broker's threads: all of them must be fine). */
static void
assert_bystander_works(ipcq_queue *qb, int rounds)
{
	char want[32];

	for (int i = 0; i < rounds; i++) {
		snprintf(want, sizeof(want), "b-%d", i);
		th_send_str(qb, want);
		th_expect_recv(qb, want, TH_WAIT_MS);
	}
}

/* delete removes the quarantined queue and its file. */
static void
assert_delete_removes(ipcq_client *c, ipcq_queue *qa, const char *path)
{
	ipcq_stats st;

	ipcq_queue_close(qa); /* accepts NULL */
	ck_assert_int_eq(ipcq_client_delete(c, QA), 0);
	ck_assert_msg(access(path, F_OK) != 0 && errno == ENOENT,
	    "%s still exists after delete", path);
	ck_assert_int_eq(ipcq_client_stats(c, QA, &st), IPCQ_ENOTFOUND);
}

/* ---------------------------------------------------------------- 1 */

/* Truncated to nothing: the broker's first touch of the queue (lock,
 * waker, stats) faults on the header. */
START_TEST(truncated_segment_quarantines_queue)
{
	ipcq_client *c  = th_client();
	ipcq_queue  *qa = socket_queue(c, QA);
	ipcq_queue  *qb = socket_queue(c, QB);
	char         path[600];

	for (int i = 0; i < 5; i++) {
		th_send_str(qa, "a");
	}
	th_send_str(qb, "b-first");
	seg_path(QA, path, sizeof(path));
	truncate_segment(path, 0);

	assert_quarantined(c, qa);
	th_expect_recv(qb, "b-first", TH_WAIT_MS);
	assert_bystander_works(qb, 20);
	th_assert_serving();
	assert_delete_removes(c, qa, path);
	assert_bystander_works(qb, 20);
	ipcq_queue_close(qb);
	ipcq_client_close(c);
}
END_TEST

/* ---------------------------------------------------------------- 2 */

/* Header kept, ring gone: the broker takes the segment lock (which
 * lives in the header) and faults inside its critical section, on the
 * record it is about to deliver. The mutex it held is gone with the
 * pages; the broker thread's robust-mutex list still points into them,
 * so the queue's address range must stay reserved after delete: the
 * bystander's lock, on any thread, then goes on working. */
START_TEST(truncated_ring_faults_inside_the_lock)
{
	ipcq_client *c  = th_client();
	ipcq_queue  *qa = socket_queue(c, QA);
	ipcq_queue  *qb = socket_queue(c, QB);
	char         path[600];
	int          rv;

	for (int i = 0; i < 5; i++) {
		th_send_str(qa, "a");
	}
	seg_path(QA, path, sizeof(path));
	truncate_segment(path, 4096);

	rv = recv_rv(qa, 0);
	ck_assert_msg(rv == IPCQ_ECORRUPT, "recv from a segment without a "
	    "ring: %s", ipcq_err_name(rv));
	assert_quarantined(c, qa);
	assert_bystander_works(qb, 20);
	assert_delete_removes(c, qa, path);
	assert_bystander_works(qb, 100);
	th_assert_serving();
	ipcq_queue_close(qb);
	ipcq_client_close(c);
}
END_TEST

/* ---------------------------------------------------------------- 3 */

/* A header that lies: tail ten rings past head. Caught by the checks,
 * no signal involved. */
START_TEST(scribbled_header_quarantines_queue)
{
	ipcq_client *c  = th_client();
	ipcq_queue  *qa = socket_queue(c, QA);
	ipcq_queue  *qb = socket_queue(c, QB);
	ipcqi_seg    seg;
	char         path[600];
	int          rv;

	th_send_str(qa, "a");
	th_seg_map(QA, &seg, path, sizeof(path));
	__atomic_store_n(&seg.hdr->tail,
	    seg.hdr->head + 10 * seg.ring_bytes, __ATOMIC_RELEASE);
	ipcqi_seg_unmap(&seg);

	rv = recv_rv(qa, 0);
	ck_assert_msg(rv == IPCQ_ECORRUPT, "recv past a scribbled tail: %s",
	    ipcq_err_name(rv));
	assert_quarantined(c, qa);
	assert_bystander_works(qb, 20);
	th_assert_serving();
	assert_delete_removes(c, qa, path);
	ipcq_queue_close(qb);
	ipcq_client_close(c);
}
END_TEST

/* ---------------------------------------------------------------- 4 */

#define PARKED_TIMEOUT_MS 20000

typedef struct parked {
	ipcq_client *c;
	ipcq_queue  *q;
	int          rv;
	long long    ms; /* how long the recv took */
} parked;

static void *
parked_recv(void *arg)
{
	parked   *p  = arg;
	long long t0 = th_now_ms();

	p->rv = recv_rv(p->q, PARKED_TIMEOUT_MS);
	p->ms = th_now_ms() - t0;
	return NULL;
}

static int
one_receiver_parked(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->receivers_waiting == 1;
}

/* A socket recv parked in the broker when the segment is truncated.
 * Nothing wakes it by itself: a send that fails (ECORRUPT) moves nothing,
 * so it does not re-examine the parked requests, and the recv would wait
 * for its deadline and answer ETIMEDOUT. A request that does re-examine
 * them (here: another handle detaching) completes it with IPCQ_ECORRUPT
 * at once. */
START_TEST(truncated_while_consumer_waits)
{
	ipcq_client    *c = th_client();
	ipcq_queue     *qa;
	parked          p = { .c = th_client() };
	pthread_t       t;
	struct timespec dl;
	char            path[600];
	int             rv;

	p.q = socket_queue(p.c, QA);
	qa  = socket_queue(c, QA);
	seg_path(QA, path, sizeof(path));
	ck_assert_int_eq(pthread_create(&t, NULL, parked_recv, &p), 0);
	ck_assert_int_eq(th_poll_stats(c, QA, one_receiver_parked, NULL,
	                     10000), 0);
	truncate_segment(path, 0);
	rv = send_rv(qa, "wake");
	ck_assert_msg(rv == IPCQ_ECORRUPT, "send to damaged queue: %s",
	    ipcq_err_name(rv));
	ipcq_queue_close(qa);

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += PARKED_TIMEOUT_MS / 1000 + 10;
	ck_assert_int_eq(pthread_timedjoin_np(t, NULL, &dl), 0);
	ck_assert_msg(p.rv == IPCQ_ECORRUPT, "parked recv returned %s after "
	    "%lld ms", ipcq_err_name(p.rv), p.ms);
	ck_assert_msg(p.ms < PARKED_TIMEOUT_MS / 2, "parked recv returned "
	    "only after %lld ms", p.ms);

	ipcq_queue_close(p.q);
	ipcq_client_close(p.c);
	assert_delete_removes(c, NULL, path);
	th_assert_serving();
	ipcq_client_close(c);
}
END_TEST

/* ---------------------------------------------------------------- 5 */

/* A queue handle on the path the loop index names (0 socket, 1 shm). */
static ipcq_queue *
path_queue(ipcq_client *c, const char *name, int shm)
{
	ipcq_queue     *q;
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.transport = shm ? IPCQ_TRANSPORT_AUTO : IPCQ_TRANSPORT_SOCKET;
	q           = th_queue(c, name, &o);
	ck_assert_int_eq(ipcq_queue_is_shm(q), shm);
	return q;
}

/* Counters scribbled past the bounds (here a byte count, and a message
 * count) used to read as "full": every send waited for space that never
 * came (ETIMEDOUT) while stats said corrupt=false with more bytes than
 * the bound. They are checked like every other field: the queue is
 * quarantined, on both paths, whether a send or stats looks first. */
START_TEST(scribbled_counter_quarantines_queue)
{
	int          shm = _i;
	ipcq_client *c   = th_client();
	ipcq_queue  *qa  = path_queue(c, QA, shm);
	ipcq_queue  *qb  = path_queue(c, QB, shm);
	ipcq_queue  *qc  = path_queue(c, "corrupt.c", shm);
	ipcqi_seg    seg;
	ipcq_stats   st;
	char         path[600], pathc[600];
	int          rv;

	th_send_str(qa, "a");
	th_send_str(qc, "c");

	/* qa: a byte counter; stats looks first. */
	th_seg_map(QA, &seg, path, sizeof(path));
	ck_assert_int_eq(ipcqi_seg_lock(&seg), 0);
	seg.hdr->ready_bytes = UINT64_MAX / 4;
	ipcqi_seg_unlock(&seg);
	ipcqi_seg_unmap(&seg);
	th_stats(c, QA, &st);
	ck_assert_msg(st.corrupt == 1, "stats of a scribbled byte count: "
	    "corrupt=%d bytes=%llu", st.corrupt,
	    (unsigned long long) st.bytes);
	rv = ipcq_queue_send(qa, "x", 1, 2000);
	ck_assert_msg(rv == IPCQ_ECORRUPT, "send after a scribbled byte "
	    "count: %s", ipcq_err_name(rv));

	/* qc: a message counter; a send looks first. */
	th_seg_map("corrupt.c", &seg, pathc, sizeof(pathc));
	ck_assert_int_eq(ipcqi_seg_lock(&seg), 0);
	seg.hdr->leased = seg.max_messages;
	ipcqi_seg_unlock(&seg);
	ipcqi_seg_unmap(&seg);
	rv = ipcq_queue_send(qc, "x", 1, 2000);
	ck_assert_msg(rv == IPCQ_ECORRUPT, "send after a scribbled message "
	    "count: %s", ipcq_err_name(rv));
	rv = recv_rv(qc, 0);
	ck_assert_msg(rv == IPCQ_ECORRUPT, "recv after a scribbled message "
	    "count: %s", ipcq_err_name(rv));
	th_stats(c, "corrupt.c", &st);
	ck_assert_int_eq(st.corrupt, 1);

	assert_bystander_works(qb, 20);
	th_assert_serving();
	assert_delete_removes(c, qa, path);
	ipcq_queue_close(qc);
	ck_assert_int_eq(ipcq_client_delete(c, "corrupt.c"), 0);
	ck_assert_msg(access(pathc, F_OK) != 0, "%s kept", pathc);
	assert_bystander_works(qb, 20);
	ipcq_queue_close(qb);
	ipcq_client_close(c);
}
END_TEST

static Suite *
corrupt_suite(void)
{
	Suite *s  = suite_create("corrupt");
	TCase *tc = th_tcase("corrupt");

	tcase_add_test(tc, truncated_segment_quarantines_queue);
	tcase_add_test(tc, truncated_ring_faults_inside_the_lock);
	tcase_add_test(tc, scribbled_header_quarantines_queue);
	tcase_add_test(tc, truncated_while_consumer_waits);
	tcase_add_loop_test(tc, scribbled_counter_quarantines_queue, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(corrupt_suite());
}
