/*
 * integration.limits — errors that name their cause (docs/broker.md,
 * "Memory bounds"): the queue past --max-queues (default 4096) is refused
 * with IPCQ_ELIMIT and a message naming the limit; a queue whose segment
 * would take the broker's segments past --max-memory likewise; a broker
 * out of file descriptors answers a queue open with IPCQ_EMFILE; stats
 * report each segment's size and the broker's totals and limits. Each
 * refusal leaves the broker serving and creating queues again once there
 * is room.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* prlimit */
#endif
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"
#include "th_raw.h"


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

static const char *three_queues[] = { "--max-queues", "3", NULL };
static const char *mem_100m[]     = { "--max-memory", "100M", NULL };

static void
begin_three_queues(void)
{
	th_begin_args(three_queues);
}

static void
begin_mem_100m(void)
{
	th_begin_args(mem_100m);
}

/* Open a small queue (a 12 KiB segment) over a raw socket; the reply. */
static Ipcq__V1__Reply *
raw_open_small(nng_socket s, const char *name)
{
	Ipcq__V1__Request      req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest  open = IPCQ__V1__OPEN_REQUEST__INIT;
	Ipcq__V1__QueueOptions qo   = IPCQ__V1__QUEUE_OPTIONS__INIT;

	qo.max_messages      = 4;
	qo.max_bytes         = 1024;
	qo.max_message_bytes = 1024;
	open.queue           = (char *) name;
	open.options         = &qo;
	req.version          = IPCQ_PROTOCOL_VERSION;
	req.body_case        = IPCQ__V1__REQUEST__BODY_OPEN;
	req.open             = &open;
	return th_raw_request(s, &req);
}

static int
open_small(ipcq_queue **q, const char *name, int transport)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.max_messages      = 4;
	o.max_bytes         = 1024;
	o.max_message_bytes = 1024;
	o.transport         = transport;
	*q                  = NULL;
	return ipcq_queue_open(q, ts_client(), name, &o);
}

/* The queue past the limit is refused, on either path, until one goes. */
static void
limit_queues(int transport)
{
	ipcq_queue *q[4];
	ipcq_stats  st;

	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "lim.%d", i);
		ck_assert_int_eq(open_small(&q[i], name, transport), 0);
	}
	ck_assert_int_eq(ipcq_queue_is_shm(q[0]),
	    transport != IPCQ_TRANSPORT_SOCKET);
	ck_assert_int_eq(open_small(&q[3], "lim.3", transport), IPCQ_ELIMIT);
	ck_assert_ptr_null(q[3]);
	th_stats(ts_client(), "lim.0", &st);
	ck_assert_uint_eq(st.broker_queues, 3);
	ck_assert_uint_eq(st.broker_max_queues, 3);
	ck_assert_uint_eq(st.broker_segment_bytes, 3 * st.segment_bytes);
	/* The queues there still work. */
	th_send_str(q[0], "x");
	th_expect_recv(q[0], "x", TH_WAIT_MS);
	ipcq_queue_close(q[0]);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "lim.0"), 0);
	ck_assert_int_eq(open_small(&q[3], "lim.3", transport), 0);
	th_send_str(q[3], "y");
	th_expect_recv(q[3], "y", TH_WAIT_MS);
	for (int i = 1; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "lim.%d", i);
		ipcq_queue_close(q[i]);
		ck_assert_int_eq(ipcq_client_delete(ts_client(), name), 0);
	}
}

START_TEST(queue_past_max_queues_is_elimit_shm)
{
	limit_queues(IPCQ_TRANSPORT_AUTO);
}
END_TEST

START_TEST(queue_past_max_queues_is_elimit_socket)
{
	limit_queues(IPCQ_TRANSPORT_SOCKET);
}
END_TEST

START_TEST(elimit_reply_names_the_limit)
{
	nng_socket       s;
	Ipcq__V1__Reply *r;

	th_raw_open(&s, th_url(), 10000);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "lim.%d", i);
		th_raw_expect(raw_open_small(s, name), IPCQ_OK, name);
	}
	r = raw_open_small(s, "lim.3");
	ck_assert_int_eq((int) r->status, IPCQ_ELIMIT);
	ck_assert_msg(strstr(r->message, "limit of 3 queues") != NULL &&
	        strstr(r->message, "--max-queues") != NULL,
	    "message: %s", r->message);
	ipcq__v1__reply__free_unpacked(r, NULL);
	th_raw_close(s);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "lim.%d", i);
		ck_assert_int_eq(ipcq_client_delete(ts_client(), name), 0);
	}
}
END_TEST

/* The default limit: 4096 queues, the 4097th is refused with ELIMIT
 * (it was ENOMEM). */
START_TEST(queue_4097_is_elimit_by_default)
{
	nng_socket       s;
	Ipcq__V1__Reply *r;
	ipcq_queue      *q;
	char             name[16];

	th_raw_open(&s, th_url(), 10000);
	for (int i = 0; i < 4096; i++) {
		snprintf(name, sizeof(name), "many.%d", i);
		r = raw_open_small(s, name);
		ck_assert_msg((int) r->status == IPCQ_OK, "open %s: %d %s", name,
		    (int) r->status, r->message);
		ipcq__v1__reply__free_unpacked(r, NULL);
	}
	r = raw_open_small(s, "many.4096");
	ck_assert_int_eq((int) r->status, IPCQ_ELIMIT);
	ck_assert_msg(strstr(r->message, "limit of 4096 queues") != NULL,
	    "message: %s", r->message);
	ipcq__v1__reply__free_unpacked(r, NULL);
	th_raw_close(s);
	ck_assert_int_eq(open_small(&q, "many.4096", IPCQ_TRANSPORT_AUTO),
	    IPCQ_ELIMIT);
	ck_assert_int_eq(open_small(&q, "many.4096", IPCQ_TRANSPORT_SOCKET),
	    IPCQ_ELIMIT);
	for (int i = 0; i < 4096; i++) {
		snprintf(name, sizeof(name), "many.%d", i);
		ck_assert_int_eq(ipcq_client_delete(ts_client(), name), 0);
	}
}
END_TEST

/* --max-memory 100M: one default queue (74 MiB) fits, a second does not;
 * a small one still does. */
static void
limit_memory(int transport)
{
	ipcq_queue_opts o;
	ipcq_queue     *a, *b = NULL, *c;
	ipcq_stats      st;

	ipcq_queue_opts_init(&o);
	o.transport = transport;
	ck_assert_int_eq(ipcq_queue_open(&a, ts_client(), "mem.a", &o), 0);
	ck_assert_int_eq(ipcq_queue_is_shm(a),
	    transport != IPCQ_TRANSPORT_SOCKET);
	ck_assert_int_eq(ipcq_queue_open(&b, ts_client(), "mem.b", &o),
	    IPCQ_ELIMIT);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(open_small(&c, "mem.c", transport), 0);
	th_stats(ts_client(), "mem.a", &st);
	ck_assert_uint_eq(st.broker_max_memory, 100u << 20);
	ck_assert_uint_gt(st.segment_bytes, 64u << 20);
	ck_assert_uint_eq(st.broker_queues, 2);
	ck_assert_uint_le(st.broker_segment_bytes, 100u << 20);
	ck_assert_uint_gt(st.broker_segment_bytes, st.segment_bytes);
	th_send_str(a, "a");
	th_expect_recv(a, "a", TH_WAIT_MS);
	ipcq_queue_close(a);
	ipcq_queue_close(c);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "mem.a"), 0);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "mem.c"), 0);
	/* Room again. */
	ck_assert_int_eq(ipcq_queue_open(&b, ts_client(), "mem.b", &o), 0);
	ipcq_queue_close(b);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "mem.b"), 0);
}

START_TEST(queue_past_max_memory_is_elimit_shm)
{
	limit_memory(IPCQ_TRANSPORT_AUTO);
}
END_TEST

START_TEST(queue_past_max_memory_is_elimit_socket)
{
	limit_memory(IPCQ_TRANSPORT_SOCKET);
}
END_TEST

START_TEST(max_memory_reply_names_the_bound)
{
	nng_socket       s;
	Ipcq__V1__Reply *r;

	th_raw_open(&s, th_url(), 10000);
	th_raw_expect(th_raw_open_queue(s, "mem.a", 0), IPCQ_OK, "mem.a");
	r = th_raw_open_queue(s, "mem.b", 0);
	ck_assert_int_eq((int) r->status, IPCQ_ELIMIT);
	ck_assert_msg(strstr(r->message, "104857600 bytes") != NULL &&
	        strstr(r->message, "--max-memory") != NULL,
	    "message: %s", r->message);
	ipcq__v1__reply__free_unpacked(r, NULL);
	th_raw_close(s);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "mem.a"), 0);
}
END_TEST

/* Bad values are usage errors (exit 2), never a broker that runs with a
 * bound it did not understand. */
START_TEST(bad_limit_values_are_usage_errors)
{
	static const char *const bad[][3] = {
		{ "--max-memory", "12X", NULL },
		{ "--max-memory", "0", NULL },
		{ "--max-memory", "-5M", NULL },
		{ "--max-queues", "0", NULL },
		{ "--max-queues", "4097", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		th_broker b;
		char      url[700];
		snprintf(url, sizeof(url), "ipc://%s", th_path("bad.sock"));
		ck_assert_int_eq(th_broker_start(&b, url, bad[i], 10000), -1);
		ck_assert_msg(th_exit_code(b.status) == 2, "%s %s: exit %d",
		    bad[i][0], bad[i][1], th_exit_code(b.status));
	}
}
END_TEST

/* The lowest descriptor number pid does not use. */
static int
lowest_free_fd(pid_t pid)
{
	char           dir[64];
	unsigned char  used[4096] = { 0 };
	DIR           *d;
	struct dirent *e;
	int            n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int) pid);
	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd < (int) sizeof(used)) {
			used[fd] = 1;
		}
	}
	closedir(d);
	while (used[n]) {
		n++;
	}
	return n;
}

/* The broker's RLIMIT_NOFILE lowered to its lowest free descriptor: no
 * new one can be had, so creating a segment fails with EMFILE. */
static void
limit_fds(int transport)
{
	pid_t         pid = th_main_broker()->pid;
	struct rlimit old, low;
	ipcq_queue   *q;
	int           rv  = 0;

	/* Connected first: the client's connection needs no new fd. */
	ck_assert_int_eq(open_small(&q, "fd.warm", transport), 0);
	ck_assert_int_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &old), 0);
	/* A descriptor the broker opens and closes meanwhile (its listener
	 * probe) can leave a hole below the limit: then the open succeeds
	 * and we look again. */
	for (int tries = 0; tries < 20; tries++) {
		low.rlim_cur = (rlim_t) lowest_free_fd(pid);
		low.rlim_max = old.rlim_max;
		ck_assert_int_eq(prlimit(pid, RLIMIT_NOFILE, &low, NULL), 0);
		rv = open_small(&q, "fd.q", transport);
		if (rv != 0) {
			break;
		}
		ipcq_queue_close(q);
		ck_assert_int_eq(ipcq_client_delete(ts_client(), "fd.q"), 0);
	}
	ck_assert_int_eq(prlimit(pid, RLIMIT_NOFILE, &old, NULL), 0);
	ck_assert_msg(rv == IPCQ_EMFILE, "open with no fd left: %s",
	    ipcq_err_name(rv));
	/* Descriptors again: the same open succeeds. */
	ck_assert_int_eq(open_small(&q, "fd.q", transport), 0);
	th_send_str(q, "fd");
	th_expect_recv(q, "fd", TH_WAIT_MS);
	ipcq_queue_close(q);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "fd.q"), 0);
	ck_assert_int_eq(ipcq_client_delete(ts_client(), "fd.warm"), 0);
}

START_TEST(out_of_fds_is_emfile_shm)
{
	limit_fds(IPCQ_TRANSPORT_AUTO);
}
END_TEST

START_TEST(out_of_fds_is_emfile_socket)
{
	limit_fds(IPCQ_TRANSPORT_SOCKET);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s  = suite_create("integration.limits");
	TCase *tq = th_tcase_with("max_queues", begin_three_queues);
	TCase *tm = th_tcase_with("max_memory", begin_mem_100m);
	TCase *td = th_tcase("defaults");

	tcase_add_test(tq, queue_past_max_queues_is_elimit_shm);
	tcase_add_test(tq, queue_past_max_queues_is_elimit_socket);
	tcase_add_test(tq, elimit_reply_names_the_limit);
	tcase_add_test(tm, queue_past_max_memory_is_elimit_shm);
	tcase_add_test(tm, queue_past_max_memory_is_elimit_socket);
	tcase_add_test(tm, max_memory_reply_names_the_bound);
	tcase_add_test(td, queue_4097_is_elimit_by_default);
	tcase_add_test(td, bad_limit_values_are_usage_errors);
	tcase_add_test(td, out_of_fds_is_emfile_shm);
	tcase_add_test(td, out_of_fds_is_emfile_socket);
	suite_add_tcase(s, tq);
	suite_add_tcase(s, tm);
	suite_add_tcase(s, td);
	return s;
}

int
main(void)
{
	return th_run(limits_suite());
}
