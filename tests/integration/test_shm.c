/*
 * integration.shm — the shared-memory fast path (docs/shm.md): a local
 * client moves messages through the queue's segment, interoperating with
 * socket handles on the same queue; a broker killed with SIGKILL leaves
 * the segment behind and a broker restarted on the same address adopts
 * it (queued messages kept, leases returned as redelivered); end of
 * stream reaches both paths; a recv sleeping on the segment returns
 * IPCQ_ECONNLOST when the broker dies. Exact counts throughout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_timedjoin_np */
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

/* ------------------------------------------------------------ helpers */

static ipcq_queue *
shm_open_q(ipcq_client *c, const char *name, int ack_mode, int transport)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.ack_mode  = ack_mode;
	o.transport = transport;
	return th_queue(c, name, &o);
}

/* Receive one message and return its payload (malloc'ed), the message
 * itself in *m. */
static char *
recv_payload(ipcq_queue *q, ipcq_msg **m)
{
	return th_recv_str(q, TH_WAIT_MS, m);
}

static void
kill_broker(void)
{
	int st = th_broker_signal_wait(th_main_broker(), SIGKILL, 10000);

	ck_assert_int_eq(th_exit_code(st), 128 + SIGKILL);
}

static void
restart_broker(void)
{
	ck_assert_int_eq(
	    th_broker_start(th_main_broker(), th_url(), NULL, 10000), 0);
}

/* ---------------------------------------------------------------- 1 */

#define LOCAL_N 100

START_TEST(local_client_uses_shared_memory)
{
	ipcq_client *c = th_client();
	ipcq_queue  *qs, *qk;
	ipcq_stats   st;
	char         want[32];

	qs = shm_open_q(c, "shm.local", IPCQ_ACK_AUTO, IPCQ_TRANSPORT_AUTO);
	qk = shm_open_q(c, "shm.local", IPCQ_ACK_AUTO, IPCQ_TRANSPORT_SOCKET);
	ck_assert_int_eq(ipcq_queue_is_shm(qs), 1);
	ck_assert_int_eq(ipcq_queue_is_shm(qk), 0);

	/* Shared memory to socket, then socket to shared memory. */
	for (int i = 0; i < LOCAL_N; i++) {
		snprintf(want, sizeof(want), "s2k-%d", i);
		th_send_str(qs, want);
	}
	for (int i = 0; i < LOCAL_N; i++) {
		snprintf(want, sizeof(want), "s2k-%d", i);
		th_expect_recv(qk, want, TH_WAIT_MS);
	}
	for (int i = 0; i < LOCAL_N; i++) {
		snprintf(want, sizeof(want), "k2s-%d", i);
		th_send_str(qk, want);
	}
	for (int i = 0; i < LOCAL_N; i++) {
		snprintf(want, sizeof(want), "k2s-%d", i);
		th_expect_recv(qs, want, TH_WAIT_MS);
	}
	/* Still on their paths after the traffic. */
	ck_assert_int_eq(ipcq_queue_is_shm(qs), 1);
	ck_assert_int_eq(ipcq_queue_is_shm(qk), 0);

	th_stats(c, "shm.local", &st);
	ck_assert_uint_eq(st.sent, 2 * LOCAL_N);
	ck_assert_uint_eq(st.received, 2 * LOCAL_N);
	ck_assert_uint_eq(st.acked, 2 * LOCAL_N);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.redelivered, 0);

	ipcq_queue_close(qk);
	ipcq_queue_close(qs);
	ipcq_client_close(c);
	th_assert_serving();
}
END_TEST

/* ---------------------------------------------------------------- 2 */

#define KILL_N     50
#define KILL_RECV  10
#define KILL_ACKED 5

START_TEST(broker_sigkill_keeps_queued_and_inflight_messages)
{
	ipcq_client *c = th_client(), *c2;
	ipcq_queue  *prod, *cons, *q2, *end;
	ipcq_msg    *held[KILL_RECV];
	ipcq_msg    *m;
	ipcq_stats   st;
	char         want[32];
	char        *got;
	int          rv;

	prod = shm_open_q(c, "shm.kill", IPCQ_ACK_AUTO, IPCQ_TRANSPORT_AUTO);
	cons = shm_open_q(c, "shm.kill", IPCQ_ACK_EXPLICIT,
	    IPCQ_TRANSPORT_AUTO);
	ck_assert_int_eq(ipcq_queue_is_shm(prod), 1);
	ck_assert_int_eq(ipcq_queue_is_shm(cons), 1);
	for (int i = 0; i < KILL_N; i++) {
		snprintf(want, sizeof(want), "m-%d", i);
		th_send_str(prod, want);
	}
	for (int i = 0; i < KILL_RECV; i++) {
		snprintf(want, sizeof(want), "m-%d", i);
		got = recv_payload(cons, &held[i]);
		ck_assert_str_eq(got, want);
		free(got);
	}
	for (int i = 0; i < KILL_ACKED; i++) {
		ck_assert_int_eq(ipcq_queue_ack(cons, held[i]), 0);
	}
	th_stats(c, "shm.kill", &st);
	ck_assert_uint_eq(st.depth, KILL_N - KILL_RECV);
	ck_assert_uint_eq(st.in_flight, KILL_RECV - KILL_ACKED);
	ck_assert_uint_eq(st.acked, KILL_ACKED);

	kill_broker();
	/* The segment outlives the broker. */
	ck_assert_int_eq(th_seg_count(th_url(), NULL), 1);
	for (int i = 0; i < KILL_RECV; i++) {
		ipcq_msg_free(held[i]);
	}
	ipcq_queue_close(cons);
	ipcq_queue_close(prod);
	ipcq_client_close(c);

	restart_broker();
	c2 = th_client();
	th_stats(c2, "shm.kill", &st);
	ck_assert_uint_eq(st.depth, KILL_N - KILL_ACKED);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_ge(st.redelivered, KILL_RECV - KILL_ACKED);
	ck_assert_uint_eq(st.sent, KILL_N);
	ck_assert_int_eq(st.ended, 0);

	/* Returned leases are ready again in place: first, in order,
	 * marked redelivered; then the never-delivered ones. */
	q2 = shm_open_q(c2, "shm.kill", IPCQ_ACK_AUTO, IPCQ_TRANSPORT_AUTO);
	ck_assert_int_eq(ipcq_queue_is_shm(q2), 1);
	for (int i = KILL_ACKED; i < KILL_N; i++) {
		snprintf(want, sizeof(want), "m-%d", i);
		got = recv_payload(q2, &m);
		ck_assert_str_eq(got, want);
		ck_assert_int_eq(ipcq_msg_redelivered(m), i < KILL_RECV);
		ck_assert_uint_eq(ipcq_msg_delivery_count(m),
		    i < KILL_RECV ? 2u : 1u);
		free(got);
		ipcq_msg_free(m);
	}

	/* End the adopted queue: the consumer drains to EOF, nothing more
	 * (the acked ones never come back). */
	end = shm_open_q(c2, "shm.kill", IPCQ_ACK_AUTO, IPCQ_TRANSPORT_AUTO);
	ck_assert_int_eq(ipcq_queue_end(end), 0);
	m  = NULL;
	rv = ipcq_queue_recv(q2, &m, TH_WAIT_MS);
	ck_assert_msg(rv == IPCQ_EOF, "recv after end: %s", ipcq_err_name(rv));
	ck_assert_ptr_null(m);

	th_stats(c2, "shm.kill", &st);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.in_flight, 0);
	ck_assert_uint_eq(st.sent, KILL_N);
	ck_assert_uint_eq(st.received, KILL_RECV + (KILL_N - KILL_ACKED));
	ck_assert_uint_eq(st.acked, KILL_N);
	ck_assert_int_eq(st.ended, 1);

	ipcq_queue_close(end);
	ipcq_queue_close(q2);
	ipcq_client_close(c2);
	th_assert_serving();
}
END_TEST

/* ---------------------------------------------------------------- 3 */

#define EOF_N 500

struct eof_consumer {
	ipcq_queue   *q;
	unsigned char seen[EOF_N]; /* how often each message arrived */
	long          n;
	int           final; /* the error that ended the loop */
	char          bad[64];
};

static void *
eof_consume(void *arg)
{
	struct eof_consumer *ec = arg;
	ipcq_msg            *m;
	char                 buf[32];
	int                  rv;

	for (;;) {
		rv = ipcq_queue_recv(ec->q, &m, TH_WAIT_MS);
		if (rv != 0) {
			ec->final = rv;
			return NULL;
		}
		size_t len = ipcq_msg_size(m);
		int    k   = -1;
		if (len < sizeof(buf)) {
			memcpy(buf, ipcq_msg_data(m), len);
			buf[len] = '\0';
			if (sscanf(buf, "e-%d", &k) != 1) {
				k = -1;
			}
		}
		if (k < 0 || k >= EOF_N) {
			snprintf(ec->bad, sizeof(ec->bad), "bad payload (%zu B)",
			    len);
		} else {
			ec->seen[k]++;
		}
		ec->n++;
		ipcq_msg_free(m);
	}
}

START_TEST(eof_reaches_both_paths)
{
	ipcq_client        *c = th_client();
	struct eof_consumer cs[2];
	pthread_t           t[2];
	ipcq_queue         *prod;
	ipcq_stats          st;
	char                msg[32];

	memset(cs, 0, sizeof(cs));
	cs[0].q = shm_open_q(c, "shm.eof", IPCQ_ACK_AUTO, IPCQ_TRANSPORT_AUTO);
	cs[1].q = shm_open_q(c, "shm.eof", IPCQ_ACK_AUTO,
	    IPCQ_TRANSPORT_SOCKET);
	ck_assert_int_eq(ipcq_queue_is_shm(cs[0].q), 1);
	ck_assert_int_eq(ipcq_queue_is_shm(cs[1].q), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_create(&t[i], NULL, eof_consume, &cs[i]),
		    0);
	}

	prod = shm_open_q(c, "shm.eof", IPCQ_ACK_AUTO, IPCQ_TRANSPORT_AUTO);
	for (int i = 0; i < EOF_N; i++) {
		snprintf(msg, sizeof(msg), "e-%d", i);
		th_send_str(prod, msg);
	}
	ck_assert_int_eq(ipcq_queue_end(prod), 0);

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	}
	ck_assert_msg(cs[0].final == IPCQ_EOF, "shm consumer ended with %s",
	    ipcq_err_name(cs[0].final));
	ck_assert_msg(cs[1].final == IPCQ_EOF, "socket consumer ended with %s",
	    ipcq_err_name(cs[1].final));
	ck_assert_msg(cs[0].bad[0] == '\0' && cs[1].bad[0] == '\0', "%s%s",
	    cs[0].bad, cs[1].bad);
	ck_assert_int_eq(cs[0].n + cs[1].n, EOF_N);
	for (int k = 0; k < EOF_N; k++) {
		ck_assert_msg(cs[0].seen[k] + cs[1].seen[k] == 1,
		    "e-%d arrived %d times (shm %d, socket %d)", k,
		    cs[0].seen[k] + cs[1].seen[k], cs[0].seen[k],
		    cs[1].seen[k]);
	}

	th_stats(c, "shm.eof", &st);
	ck_assert_uint_eq(st.sent, EOF_N);
	ck_assert_uint_eq(st.received, EOF_N);
	ck_assert_uint_eq(st.acked, EOF_N);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_int_eq(st.ended, 1);

	ipcq_queue_close(prod);
	ipcq_queue_close(cs[1].q);
	ipcq_queue_close(cs[0].q);
	ipcq_client_close(c);
	th_assert_serving();
}
END_TEST

/* ---------------------------------------------------------------- 4 */

struct blocked_recv {
	ipcq_queue *q;
	int         rv;
};

static void *
blocked_recv_fn(void *arg)
{
	struct blocked_recv *br = arg;
	ipcq_msg            *m  = NULL;

	br->rv = ipcq_queue_recv(br->q, &m, -1);
	ipcq_msg_free(m);
	return NULL;
}

static int
one_receiver_waiting(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->receivers_waiting == 1;
}

START_TEST(blocked_shm_recv_returns_when_broker_dies)
{
	ipcq_client        *c = th_client(), *admin = th_client();
	struct blocked_recv br;
	pthread_t           t;
	struct timespec     dl;
	int                 rv;

	br.q  = shm_open_q(c, "shm.blocked", IPCQ_ACK_AUTO, IPCQ_TRANSPORT_AUTO);
	br.rv = -12345;
	ck_assert_int_eq(ipcq_queue_is_shm(br.q), 1);
	ck_assert_int_eq(pthread_create(&t, NULL, blocked_recv_fn, &br), 0);
	ck_assert_msg(th_poll_stats(admin, "shm.blocked", one_receiver_waiting,
	                  NULL, TH_WAIT_MS) == 0,
	    "the shm recv never showed as waiting");

	kill_broker();
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += TH_WAIT_MS / 1000;
	rv = pthread_timedjoin_np(t, NULL, &dl);
	ck_assert_msg(rv == 0, "blocked shm recv did not return after the "
	                       "broker died");
	ck_assert_msg(br.rv == IPCQ_ECONNLOST, "blocked shm recv returned %s",
	    ipcq_err_name(br.rv));

	/* Close the clients before the restart: a client that hangs up in
	 * the middle of its redial's handshake can wedge nng 1.5.2's
	 * listener (nanomsg/nng#1518, docs/broker.md). */
	ipcq_queue_close(br.q);
	ipcq_client_close(admin);
	ipcq_client_close(c);
	/* th_end stops the broker it started: start it again. */
	restart_broker();
	th_assert_serving();
}
END_TEST

static Suite *
shm_suite(void)
{
	Suite *s  = suite_create("shm");
	TCase *tc = th_tcase("shm");

	tcase_add_test(tc, local_client_uses_shared_memory);
	tcase_add_test(tc, broker_sigkill_keeps_queued_and_inflight_messages);
	tcase_add_test(tc, eof_reaches_both_paths);
	tcase_add_test(tc, blocked_shm_recv_returns_when_broker_dies);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(shm_suite());
}
