/*
 * unit.wire: the second look at a frame (proto/ipcqi_wire.c). protobuf-c
 * cuts a string at its first NUL; the wire walk finds such a string in
 * any field at any depth, leaves bytes fields alone, and reads nothing
 * outside the frame.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ipcq.pb-c.h"
#include "ipcqi_wire.h"
#include "th_run.h"

/* Packed message with every '~' turned into a NUL byte; *len set. */
static uint8_t *
packed(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf  = malloc(*len > 0 ? *len : 1);
	ck_assert_ptr_nonnull(buf);
	protobuf_c_message_pack(m, buf);
	for (size_t i = 0; i < *len; i++) {
		if (buf[i] == '~') {
			buf[i] = 0;
		}
	}
	return buf;
}

static ipcqi_wire_verdict
check_request(const char *name, Ipcq__V1__Request__BodyCase body)
{
	Ipcq__V1__Request       req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest   op  = IPCQ__V1__OPEN_REQUEST__INIT;
	Ipcq__V1__QueueOptions  qo  = IPCQ__V1__QUEUE_OPTIONS__INIT;
	Ipcq__V1__DeleteRequest de  = IPCQ__V1__DELETE_REQUEST__INIT;
	ipcqi_wire_verdict      v;
	size_t                  len;
	uint8_t                *buf;

	req.version   = 1;
	req.body_case = body;
	op.queue      = (char *) name;
	op.options    = &qo;
	qo.max_bytes  = 1234567;
	de.queue      = (char *) name;
	if (body == IPCQ__V1__REQUEST__BODY_OPEN) {
		req.open = &op;
	} else {
		req.delete_ = &de;
	}
	buf = packed(&req.base, &len);
	v   = ipcqi_wire_check_strings(&ipcq__v1__request__descriptor, buf, len);
	free(buf);
	return v;
}

START_TEST(names_are_checked_on_their_full_length)
{
	ck_assert_int_eq(check_request("jobs", IPCQ__V1__REQUEST__BODY_OPEN),
	    IPCQI_WIRE_CLEAN);
	ck_assert_int_eq(check_request("jobs~x", IPCQ__V1__REQUEST__BODY_OPEN),
	    IPCQI_WIRE_NUL);
	ck_assert_int_eq(check_request("~jobs", IPCQ__V1__REQUEST__BODY_DELETE),
	    IPCQI_WIRE_NUL);
	ck_assert_int_eq(check_request("jobs~", IPCQ__V1__REQUEST__BODY_DELETE),
	    IPCQI_WIRE_NUL);
}
END_TEST

START_TEST(payloads_may_hold_nul_bytes)
{
	Ipcq__V1__Request     req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__SendRequest sr  = IPCQ__V1__SEND_REQUEST__INIT;
	ProtobufCBinaryData   p[2] = { { 5, (uint8_t *) "a~b~c" },
		  { 3, (uint8_t *) "~~~" } };
	size_t                len;
	uint8_t              *buf;

	sr.handle     = 9;
	sr.n_payloads = 2;
	sr.payloads   = p;
	req.version   = 1;
	req.body_case = IPCQ__V1__REQUEST__BODY_SEND;
	req.send      = &sr;
	buf           = packed(&req.base, &len);
	ck_assert_ptr_nonnull(memchr(buf, 0, len));
	ck_assert_int_eq(ipcqi_wire_check_strings(&ipcq__v1__request__descriptor,
	                     buf, len),
	    IPCQI_WIRE_CLEAN);
	free(buf);
}
END_TEST

/* Replies too: a nested string (ShmInfo.segment) and the second of a
 * repeated one (ListReply.queues). */
START_TEST(nested_and_repeated_strings_in_replies)
{
	Ipcq__V1__Reply     rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__OpenReply orp = IPCQ__V1__OPEN_REPLY__INIT;
	Ipcq__V1__ShmInfo   shm = IPCQ__V1__SHM_INFO__INIT;
	Ipcq__V1__ListReply lrp = IPCQ__V1__LIST_REPLY__INIT;
	char               *names[2] = { "a", "b~c" };
	size_t              len;
	uint8_t            *buf;

	shm.segment   = "/ipcq-1~x";
	shm.bell      = "/ipcq-bell";
	orp.handle    = 1;
	orp.shm       = &shm;
	rep.body_case = IPCQ__V1__REPLY__BODY_OPEN;
	rep.open      = &orp;
	buf           = packed(&rep.base, &len);
	ck_assert_int_eq(ipcqi_wire_check_strings(&ipcq__v1__reply__descriptor,
	                     buf, len),
	    IPCQI_WIRE_NUL);
	free(buf);
	shm.segment = "/ipcq-1";
	buf         = packed(&rep.base, &len);
	ck_assert_int_eq(ipcqi_wire_check_strings(&ipcq__v1__reply__descriptor,
	                     buf, len),
	    IPCQI_WIRE_CLEAN);
	free(buf);

	lrp.n_queues  = 2;
	lrp.queues    = names;
	rep.body_case = IPCQ__V1__REPLY__BODY_LIST;
	rep.list      = &lrp;
	buf           = packed(&rep.base, &len);
	ck_assert_int_eq(ipcqi_wire_check_strings(&ipcq__v1__reply__descriptor,
	                     buf, len),
	    IPCQI_WIRE_NUL);
	free(buf);
}
END_TEST

/* Every prefix of a frame and random bytes: a verdict, never a read
 * outside the buffer (each copy is exactly its length, for ASan). */
START_TEST(truncated_and_random_frames_stay_in_bounds)
{
	size_t   len;
	uint8_t *buf;
	unsigned seed = 77;
	Ipcq__V1__Request     req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest op  = IPCQ__V1__OPEN_REQUEST__INIT;

	op.queue      = "some.queue";
	req.version   = 1;
	req.body_case = IPCQ__V1__REQUEST__BODY_OPEN;
	req.open      = &op;
	buf           = packed(&req.base, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n > 0 ? n : 1);
		memcpy(cut, buf, n);
		ipcqi_wire_verdict v = ipcqi_wire_check_strings(
		    &ipcq__v1__request__descriptor, cut, n);
		ck_assert(v == IPCQI_WIRE_CLEAN || v == IPCQI_WIRE_MALFORMED);
		free(cut);
	}
	free(buf);
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t) (rand_r(&seed) % 64);
		buf      = malloc(n > 0 ? n : 1);
		for (size_t j = 0; j < n; j++) {
			buf[j] = (uint8_t) rand_r(&seed);
		}
		(void) ipcqi_wire_check_strings(&ipcq__v1__request__descriptor, buf,
		    n);
		free(buf);
	}
}
END_TEST

static Suite *
wire_suite(void)
{
	Suite *s  = suite_create("wire");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, names_are_checked_on_their_full_length);
	tcase_add_test(tc, payloads_may_hold_nul_bytes);
	tcase_add_test(tc, nested_and_repeated_strings_in_replies);
	tcase_add_test(tc, truncated_and_random_frames_stay_in_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(wire_suite());
}
