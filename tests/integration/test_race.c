/*
 * integration.race — exactly one party finishes a parked request.
 *
 * Consumer threads sharing one client park receives with deadlines of a
 * few milliseconds while a producer process sends one message at a time:
 * deliveries, deadline timers and the expired-waiter rule race all the
 * time. Whoever claims a waiter, a message must reach exactly one
 * receive, and no timed-out receive may have taken one (it would be lost
 * in auto-ack mode). Counted exactly: every message once, none twice,
 * and the broker's own counters agree.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define RACE_MSGS    3000
#define RACE_THREADS 4

typedef struct race {
	ipcq_queue     *q;
	pthread_mutex_t mtx;
	unsigned char   seen[RACE_MSGS];
	int             got, dups, timeouts, bad;
} race;

static void *
race_consumer(void *arg)
{
	race *r = arg;

	for (int i = 0;; i++) {
		ipcq_msg *m;
		int       rv = ipcq_queue_recv(r->q, &m, 1 + i % 3);

		pthread_mutex_lock(&r->mtx);
		if (rv == IPCQ_ETIMEDOUT) {
			r->timeouts++;
		} else if (rv == 0) {
			int id, seq;
			char text[32];
			snprintf(text, sizeof(text), "%.*s", (int) ipcq_msg_size(m),
			    (const char *) ipcq_msg_data(m));
			if (sscanf(text, "p%d-%d", &id, &seq) != 2 || seq < 0 ||
			    seq >= RACE_MSGS) {
				r->bad++;
			} else if (r->seen[seq]++) {
				r->dups++;
			} else {
				r->got++;
			}
			ipcq_msg_free(m);
		} else if (rv != IPCQ_EOF) {
			r->bad++;
		}
		int done = rv == IPCQ_EOF || r->bad > 0;
		pthread_mutex_unlock(&r->mtx);
		if (done) {
			return NULL;
		}
	}
}

START_TEST(a_message_reaches_exactly_one_receive_under_racing_deadlines)
{
	ipcq_client *c = th_client();
	race         r;
	pthread_t    th[RACE_THREADS];
	th_proc     *prod;
	ipcq_stats   st;
	char         count[16];

	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.mtx, NULL);
	r.q = th_queue(c, "race.q", NULL);
	for (int i = 0; i < RACE_THREADS; i++) {
		pthread_create(&th[i], NULL, race_consumer, &r);
	}
	snprintf(count, sizeof(count), "%d", RACE_MSGS);
	prod = th_peer("produce", "race.q", "--id", "1", "--count", count,
	    "--end", (char *) NULL);
	th_proc_expect_exit(prod, 0);
	for (int i = 0; i < RACE_THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	ck_assert_int_eq(r.bad, 0);
	ck_assert_int_eq(r.dups, 0);
	ck_assert_int_eq(r.got, RACE_MSGS);
	ck_assert_int_eq(ipcq_queue_stats(r.q, &st), 0);
	ck_assert_uint_eq(st.sent, RACE_MSGS);
	ck_assert_uint_eq(st.received, RACE_MSGS); /* none lost in transit */
	ck_assert_uint_eq(st.depth, 0);
	/* The race really ran: receives did time out while messages flowed. */
	ck_assert_msg(r.timeouts > 0, "no receive timed out");
	ipcq_queue_close(r.q);
	ipcq_client_close(c);
	pthread_mutex_destroy(&r.mtx);
}
END_TEST

int
main(void)
{
	Suite *s  = suite_create("race");
	TCase *tc = th_tcase("race");

	tcase_add_test(tc, a_message_reaches_exactly_one_receive_under_racing_deadlines);
	suite_add_tcase(s, tc);
	return th_run(s);
}
