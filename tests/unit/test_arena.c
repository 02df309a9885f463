/*
 * unit.arena: protobuf-c unpacking into one arena (proto/ipcqi_arena.c).
 * The broker and the library both rely on the first allocation being the
 * top-level message; if a protobuf-c release changed that, every request
 * would be refused, so it is checked here.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcq.pb-c.h"
#include "ipcqi_arena.h"
#include "th_run.h"

START_TEST(batch_request_unpacks_into_one_arena)
{
	Ipcq__V1__Request     req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__SendRequest sr  = IPCQ__V1__SEND_REQUEST__INIT;
	ProtobufCBinaryData   p[300];
	char                  text[300][16];

	for (int i = 0; i < 300; i++) {
		p[i].len  = (size_t) snprintf(text[i], sizeof(text[i]), "m%d", i);
		p[i].data = (uint8_t *) text[i];
	}
	sr.handle      = 7;
	sr.n_payloads  = 300;
	sr.payloads    = p;
	req.version    = 1;
	req.body_case  = IPCQ__V1__REQUEST__BODY_SEND;
	req.send       = &sr;
	size_t   len   = ipcq__v1__request__get_packed_size(&req);
	uint8_t *buf   = malloc(len);
	ipcq__v1__request__pack(&req, buf);

	Ipcq__V1__Request *got = (Ipcq__V1__Request *) ipcqi_arena_unpack(
	    &ipcq__v1__request__descriptor, len, buf);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(got->body_case, IPCQ__V1__REQUEST__BODY_SEND);
	ck_assert_uint_eq(got->send->n_payloads, 300);
	for (int i = 0; i < 300; i++) {
		ck_assert_uint_eq(got->send->payloads[i].len, p[i].len);
		ck_assert_int_eq(memcmp(got->send->payloads[i].data, text[i],
		                     p[i].len), 0);
	}
	ipcqi_arena_free_msg(got);
	free(buf);
}
END_TEST

START_TEST(payload_bigger_than_the_hint_gets_its_own_block)
{
	Ipcq__V1__Reply     rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__RecvReply rr  = IPCQ__V1__RECV_REPLY__INIT;
	Ipcq__V1__Delivery  d   = IPCQ__V1__DELIVERY__INIT;
	Ipcq__V1__Delivery *dp  = &d;
	size_t              big = 3u << 20;
	uint8_t            *payload = malloc(big);

	memset(payload, 'x', big);
	d.payload.data = payload;
	d.payload.len  = big;
	rr.n_messages  = 1;
	rr.messages    = &dp;
	rep.body_case  = IPCQ__V1__REPLY__BODY_RECV;
	rep.recv       = &rr;
	size_t   len   = ipcq__v1__reply__get_packed_size(&rep);
	uint8_t *buf   = malloc(len);
	ipcq__v1__reply__pack(&rep, buf);

	Ipcq__V1__Reply *got = (Ipcq__V1__Reply *) ipcqi_arena_unpack(
	    &ipcq__v1__reply__descriptor, len, buf);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got->recv->messages[0]->payload.len, big);
	ck_assert_int_eq(got->recv->messages[0]->payload.data[big - 1], 'x');
	ipcqi_arena_free_msg(got);
	free(buf);
	free(payload);
}
END_TEST

START_TEST(garbage_is_refused_and_freed)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12 };

	ck_assert_ptr_null(ipcqi_arena_unpack(&ipcq__v1__request__descriptor,
	    sizeof(junk), junk));
	ipcqi_arena_free_msg(NULL); /* accepted */
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("unit.arena");
	TCase *t = tcase_create("arena");

	tcase_add_test(t, batch_request_unpacks_into_one_arena);
	tcase_add_test(t, payload_bigger_than_the_hint_gets_its_own_block);
	tcase_add_test(t, garbage_is_refused_and_freed);
	suite_add_tcase(s, t);
	return th_run(s);
}
