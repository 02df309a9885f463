/*
 * integration.options — the options of an open that finds the queue
 * already there (docs/api.md, "Options of an existing queue"): an option
 * the open gives (non-zero) that contradicts the queue's fails with
 * IPCQ_EEXIST and a message naming the option and both values; options
 * left at 0 accept the queue as it is; declare compares every option,
 * 0 meaning the default. Nothing is attached or changed by a refused
 * open, and the queue keeps serving.
 *
 * Each case runs with _i 0 on the default path (shared memory) and _i 1
 * with IPCQ_TRANSPORT=socket: the open is a broker request on both, and
 * the handles that do open must move messages on their path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "th_raw.h"

static void
use_path(int socket)
{
	if (socket) {
		setenv("IPCQ_TRANSPORT", "socket", 1);
	}
}

static int
try_open(ipcq_client *c, const char *name, const ipcq_queue_opts *o)
{
	ipcq_queue *q  = NULL;
	int         rv = ipcq_queue_open(&q, c, name, o);

	if (rv == 0) {
		ipcq_queue_close(q);
	} else {
		ck_assert_ptr_null(q);
	}
	return rv;
}

/* The case: a consumer opens first and creates the queue with
 * defaults; a producer that then asks for expected_producers = 2 is
 * refused instead of believing the stream waits for two producers. */
START_TEST(later_open_contradicting_options_fails)
{
	ipcq_client    *c = th_client();
	ipcq_queue     *cons, *prod;
	ipcq_queue_opts o;
	ipcq_stats      st;

	use_path(_i);
	cons = th_queue(c, "opt.q", NULL);
	ipcq_queue_opts_init(&o);
	o.roles              = IPCQ_ROLE_PRODUCER;
	o.expected_producers = 2;
	ck_assert_int_eq(try_open(c, "opt.q", &o), IPCQ_EEXIST);

	ipcq_queue_opts_init(&o);
	o.max_messages = 500;
	ck_assert_int_eq(try_open(c, "opt.q", &o), IPCQ_EEXIST);
	ipcq_queue_opts_init(&o);
	o.max_bytes = 4096;
	ck_assert_int_eq(try_open(c, "opt.q", &o), IPCQ_EEXIST);
	ipcq_queue_opts_init(&o);
	o.max_message_bytes = 1024;
	ck_assert_int_eq(try_open(c, "opt.q", &o), IPCQ_EEXIST);
	ipcq_queue_opts_init(&o);
	o.full_policy = IPCQ_FULL_FAIL;
	ck_assert_int_eq(try_open(c, "opt.q", &o), IPCQ_EEXIST);
	ipcq_queue_opts_init(&o);
	o.durable = 1; /* exists: EEXIST before "no state directory" */
	ck_assert_int_eq(try_open(c, "opt.q", &o), IPCQ_EEXIST);

	/* Nothing attached, nothing changed; the queue serves. */
	th_stats(c, "opt.q", &st);
	ck_assert_uint_eq(st.expected_producers, 0);
	ck_assert_uint_eq(st.max_messages, 100000);
	ck_assert_int_eq(st.full_policy, IPCQ_FULL_BLOCK);
	ck_assert_uint_eq(st.producers, 0);
	ck_assert_uint_eq(st.consumers, 0);
	prod = th_queue(c, "opt.q", NULL); /* no options: accepts it */
	ck_assert_int_eq(ipcq_queue_is_shm(prod), !_i);
	ck_assert_int_eq(ipcq_queue_is_shm(cons), !_i);
	th_send_str(prod, "one");
	th_expect_recv(cons, "one", TH_WAIT_MS);
	th_stats(c, "opt.q", &st);
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_uint_eq(st.received, 1);
	ipcq_queue_close(prod);
	ipcq_queue_close(cons);
}
END_TEST

/* Options equal to the queue's, given in part or after the adjustments
 * creation applies, all open; declare still compares every option. */
START_TEST(later_open_with_matching_or_no_options_succeeds)
{
	ipcq_client    *c = th_client();
	ipcq_queue_opts o, created;
	ipcq_queue     *q;

	use_path(_i);
	ipcq_queue_opts_init(&created);
	created.expected_producers = 2;
	created.max_bytes          = 65536; /* max_message_bytes lowered */
	created.full_policy        = IPCQ_FULL_FAIL;
	q = th_queue(c, "opt.q", &created);

	ck_assert_int_eq(try_open(c, "opt.q", NULL), 0);
	ck_assert_int_eq(try_open(c, "opt.q", &created), 0);
	ipcq_queue_opts_init(&o);
	o.expected_producers = 2;
	ck_assert_int_eq(try_open(c, "opt.q", &o), 0);
	ipcq_queue_opts_init(&o);
	o.max_message_bytes = 65536;
	ck_assert_int_eq(try_open(c, "opt.q", &o), 0);
	ipcq_queue_opts_init(&o);
	o.max_bytes         = 65536;
	o.max_message_bytes = 4u << 20; /* lowered to 65536 as at creation */
	ck_assert_int_eq(try_open(c, "opt.q", &o), 0);
	/* Roles, ack mode, transport belong to the handle, not the queue. */
	ipcq_queue_opts_init(&o);
	o.roles    = IPCQ_ROLE_CONSUMER;
	o.ack_mode = IPCQ_ACK_EXPLICIT;
	ck_assert_int_eq(try_open(c, "opt.q", &o), 0);

	o         = created;
	o.declare = 1;
	ck_assert_int_eq(try_open(c, "opt.q", &o), 0);
	/* Under declare a 0 is the default, not "whatever it has". */
	ipcq_queue_opts_init(&o);
	o.declare            = 1;
	o.expected_producers = 2;
	ck_assert_int_eq(try_open(c, "opt.q", &o), IPCQ_EEXIST);

	th_send_str(q, "still");
	th_expect_recv(q, "still", TH_WAIT_MS);
	ipcq_queue_close(q);
}
END_TEST

/* The refusal says which option and both values (raw protocol: the C
 * API returns only the code). */
START_TEST(refusal_names_the_option_and_both_values)
{
	nng_socket               s;
	Ipcq__V1__Request        req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest    o   = IPCQ__V1__OPEN_REQUEST__INIT;
	Ipcq__V1__QueueOptions   qo  = IPCQ__V1__QUEUE_OPTIONS__INIT;
	Ipcq__V1__Reply         *rep;
	ipcq_client             *c = th_client();
	ipcq_queue              *q;

	use_path(_i);
	q = th_queue(c, "opt.q", NULL);
	th_raw_open(&s, th_url(), 10000);
	qo.expected_producers = 2;
	o.queue               = "opt.q";
	o.options             = &qo;
	req.version           = 1;
	req.body_case         = IPCQ__V1__REQUEST__BODY_OPEN;
	req.open              = &o;
	rep                   = th_raw_request(s, &req);
	ck_assert_int_eq(rep->status, IPCQ__V1__STATUS__STATUS_EEXIST);
	ck_assert_msg(strstr(rep->message, "expected_producers is 0, not 2") !=
	        NULL,
	    "message: %s", rep->message);
	ipcq__v1__reply__free_unpacked(rep, NULL);

	qo.expected_producers = 0;
	qo.full_policy        = IPCQ__V1__FULL_POLICY__FULL_DROP_OLDEST;
	rep                   = th_raw_request(s, &req);
	ck_assert_int_eq(rep->status, IPCQ__V1__STATUS__STATUS_EEXIST);
	ck_assert_msg(strstr(rep->message, "full_policy is 0, not 2") != NULL,
	    "message: %s", rep->message);
	ipcq__v1__reply__free_unpacked(rep, NULL);
	th_raw_close(s);
	th_send_str(q, "served");
	th_expect_recv(q, "served", TH_WAIT_MS);
	ipcq_queue_close(q);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s  = suite_create("options");
	TCase *tc = th_tcase("options");

	tcase_add_loop_test(tc, later_open_contradicting_options_fails, 0, 2);
	tcase_add_loop_test(tc, later_open_with_matching_or_no_options_succeeds,
	    0, 2);
	tcase_add_loop_test(tc, refusal_names_the_option_and_both_values, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(suite());
}
