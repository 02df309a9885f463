/*
 * unit.codec — the wire envelopes (Request/Reply of proto/ipcq.proto)
 * survive pack/unpack unchanged, batches included, and bytes that are not
 * a valid encoding are refused by unpack rather than half-decoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcq.pb-c.h"
#include "th_run.h"

#define BATCH 100

/* Pack req into a malloc'ed buffer. */
static uint8_t *
pack_request(const Ipcq__V1__Request *req, size_t *len)
{
	uint8_t *buf;

	*len = ipcq__v1__request__get_packed_size(req);
	buf  = malloc(*len ? *len : 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(ipcq__v1__request__pack(req, buf), *len);
	return buf;
}

static Ipcq__V1__Request *
round_trip_request(const Ipcq__V1__Request *req)
{
	size_t             len;
	uint8_t           *buf = pack_request(req, &len);
	Ipcq__V1__Request *out = ipcq__v1__request__unpack(NULL, len, buf);

	free(buf);
	ck_assert_ptr_nonnull(out);
	return out;
}

static Ipcq__V1__Reply *
round_trip_reply(const Ipcq__V1__Reply *rep)
{
	size_t           len = ipcq__v1__reply__get_packed_size(rep);
	uint8_t         *buf = malloc(len ? len : 1);
	Ipcq__V1__Reply *out;

	ck_assert_ptr_nonnull(buf);
	ipcq__v1__reply__pack(rep, buf);
	out = ipcq__v1__reply__unpack(NULL, len, buf);
	free(buf);
	ck_assert_ptr_nonnull(out);
	return out;
}

START_TEST(open_request_round_trips)
{
	Ipcq__V1__Request      req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest  open = IPCQ__V1__OPEN_REQUEST__INIT;
	Ipcq__V1__QueueOptions qo   = IPCQ__V1__QUEUE_OPTIONS__INIT;
	Ipcq__V1__Request     *out;

	qo.max_messages       = 123456789012ull;
	qo.max_bytes          = UINT64_MAX;
	qo.max_message_bytes  = 4096;
	qo.full_policy        = IPCQ__V1__FULL_POLICY__FULL_DROP_OLDEST;
	qo.expected_producers = 7;
	open.queue            = "jobs.v2";
	open.roles = IPCQ__V1__ROLE__ROLE_PRODUCER | IPCQ__V1__ROLE__ROLE_CONSUMER;
	open.ack_mode  = IPCQ__V1__ACK_MODE__ACK_EXPLICIT;
	open.options   = &qo;
	open.declare   = 1;
	req.version    = 1;
	req.body_case  = IPCQ__V1__REQUEST__BODY_OPEN;
	req.open       = &open;

	out = round_trip_request(&req);
	ck_assert_uint_eq(out->version, 1);
	ck_assert_int_eq(out->body_case, IPCQ__V1__REQUEST__BODY_OPEN);
	ck_assert_str_eq(out->open->queue, "jobs.v2");
	ck_assert_uint_eq(out->open->roles, 3);
	ck_assert_int_eq(out->open->ack_mode, IPCQ__V1__ACK_MODE__ACK_EXPLICIT);
	ck_assert(out->open->declare);
	ck_assert_ptr_nonnull(out->open->options);
	ck_assert_uint_eq(out->open->options->max_messages, 123456789012ull);
	ck_assert_uint_eq(out->open->options->max_bytes, UINT64_MAX);
	ck_assert_uint_eq(out->open->options->max_message_bytes, 4096);
	ck_assert_int_eq(out->open->options->full_policy,
	    IPCQ__V1__FULL_POLICY__FULL_DROP_OLDEST);
	ck_assert_uint_eq(out->open->options->expected_producers, 7);
	ipcq__v1__request__free_unpacked(out, NULL);
}
END_TEST

/* Payload i of the batch: binary, NULs included, sizes 0..BATCH-1, and
 * one of 1 MiB. */
static size_t
payload_fill(uint8_t *buf, int i)
{
	size_t len = i == BATCH - 1 ? (size_t) 1 << 20 : (size_t) i;

	for (size_t k = 0; k < len; k++) {
		buf[k] = (uint8_t) (k * 31 + (size_t) i);
	}
	return len;
}

START_TEST(send_batch_round_trips)
{
	Ipcq__V1__Request     req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__SendRequest send = IPCQ__V1__SEND_REQUEST__INIT;
	ProtobufCBinaryData   pl[BATCH];
	Ipcq__V1__Request    *out;

	for (int i = 0; i < BATCH; i++) {
		pl[i].data = malloc((size_t) 1 << 20);
		ck_assert_ptr_nonnull(pl[i].data);
		pl[i].len = payload_fill(pl[i].data, i);
	}
	send.handle     = UINT64_MAX - 1;
	send.n_payloads = BATCH;
	send.payloads   = pl;
	send.timeout_ms = -1;
	req.version     = 1;
	req.body_case   = IPCQ__V1__REQUEST__BODY_SEND;
	req.send        = &send;

	out = round_trip_request(&req);
	ck_assert_int_eq(out->body_case, IPCQ__V1__REQUEST__BODY_SEND);
	ck_assert_uint_eq(out->send->handle, UINT64_MAX - 1);
	ck_assert_int_eq(out->send->timeout_ms, -1);
	ck_assert_uint_eq(out->send->n_payloads, BATCH);
	for (int i = 0; i < BATCH; i++) {
		ck_assert_uint_eq(out->send->payloads[i].len, pl[i].len);
		if (pl[i].len > 0) {
			ck_assert_mem_eq(out->send->payloads[i].data, pl[i].data,
			    pl[i].len);
		}
		free(pl[i].data);
	}
	ipcq__v1__request__free_unpacked(out, NULL);
}
END_TEST

START_TEST(every_request_body_round_trips)
{
	Ipcq__V1__OpenRequest   open   = IPCQ__V1__OPEN_REQUEST__INIT;
	Ipcq__V1__SendRequest   send   = IPCQ__V1__SEND_REQUEST__INIT;
	Ipcq__V1__RecvRequest   recv   = IPCQ__V1__RECV_REQUEST__INIT;
	Ipcq__V1__AckRequest    ack    = IPCQ__V1__ACK_REQUEST__INIT;
	Ipcq__V1__EndRequest    end    = IPCQ__V1__END_REQUEST__INIT;
	Ipcq__V1__DetachRequest detach = IPCQ__V1__DETACH_REQUEST__INIT;
	Ipcq__V1__ShutdownRequest  close  = IPCQ__V1__SHUTDOWN_REQUEST__INIT;
	Ipcq__V1__StatsRequest  stats  = IPCQ__V1__STATS_REQUEST__INIT;
	Ipcq__V1__ListRequest   list   = IPCQ__V1__LIST_REQUEST__INIT;
	Ipcq__V1__PurgeRequest  purge  = IPCQ__V1__PURGE_REQUEST__INIT;
	Ipcq__V1__DeleteRequest del    = IPCQ__V1__DELETE_REQUEST__INIT;
	uint64_t                ids[3] = { 1, 2, UINT64_MAX };
	struct {
		int   body;
		void *msg;
	} bodies[] = {
		{ IPCQ__V1__REQUEST__BODY_OPEN, &open },
		{ IPCQ__V1__REQUEST__BODY_SEND, &send },
		{ IPCQ__V1__REQUEST__BODY_RECV, &recv },
		{ IPCQ__V1__REQUEST__BODY_ACK, &ack },
		{ IPCQ__V1__REQUEST__BODY_END, &end },
		{ IPCQ__V1__REQUEST__BODY_DETACH, &detach },
		{ IPCQ__V1__REQUEST__BODY_SHUTDOWN, &close },
		{ IPCQ__V1__REQUEST__BODY_STATS, &stats },
		{ IPCQ__V1__REQUEST__BODY_LIST, &list },
		{ IPCQ__V1__REQUEST__BODY_PURGE, &purge },
		{ IPCQ__V1__REQUEST__BODY_DELETE, &del },
	};

	open.queue        = "q";
	recv.handle       = 9;
	recv.max_messages = 500;
	recv.timeout_ms   = 250;
	ack.handle        = 9;
	ack.n_ids         = 3;
	ack.ids           = ids;
	ack.requeue       = 1;
	close.queue       = "q";
	purge.queue       = "q";
	del.queue         = "q";
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		Ipcq__V1__Request req = IPCQ__V1__REQUEST__INIT;
		req.version           = 1;
		req.body_case         = bodies[i].body;
		req.open              = bodies[i].msg; /* any union member */
		Ipcq__V1__Request *out = round_trip_request(&req);
		ck_assert_int_eq(out->body_case, bodies[i].body);
		ck_assert_ptr_nonnull(out->open);
		if (bodies[i].body == IPCQ__V1__REQUEST__BODY_ACK) {
			ck_assert_uint_eq(out->ack->n_ids, 3);
			ck_assert_uint_eq(out->ack->ids[2], UINT64_MAX);
			ck_assert(out->ack->requeue);
		}
		if (bodies[i].body == IPCQ__V1__REQUEST__BODY_RECV) {
			ck_assert_uint_eq(out->recv->max_messages, 500);
			ck_assert_int_eq(out->recv->timeout_ms, 250);
		}
		ipcq__v1__request__free_unpacked(out, NULL);
	}
}
END_TEST

START_TEST(recv_reply_batch_round_trips)
{
	Ipcq__V1__Reply     rep  = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__RecvReply recv = IPCQ__V1__RECV_REPLY__INIT;
	Ipcq__V1__Delivery  d[BATCH], *dp[BATCH];
	char                text[BATCH][16];
	Ipcq__V1__Reply    *out;

	for (int i = 0; i < BATCH; i++) {
		ipcq__v1__delivery__init(&d[i]);
		snprintf(text[i], sizeof(text[i]), "p1-%d", i);
		d[i].id             = 1000 + (uint64_t) i;
		d[i].payload.data   = (uint8_t *) text[i];
		d[i].payload.len    = strlen(text[i]);
		d[i].redelivered    = i % 3 == 0;
		d[i].delivery_count = 1 + (uint32_t) (i % 3 == 0);
		dp[i]               = &d[i];
	}
	recv.n_messages = BATCH;
	recv.messages   = dp;
	rep.body_case   = IPCQ__V1__REPLY__BODY_RECV;
	rep.recv        = &recv;

	out = round_trip_reply(&rep);
	ck_assert_int_eq(out->status, IPCQ__V1__STATUS__STATUS_OK);
	ck_assert_int_eq(out->body_case, IPCQ__V1__REPLY__BODY_RECV);
	ck_assert_uint_eq(out->recv->n_messages, BATCH);
	for (int i = 0; i < BATCH; i++) {
		const Ipcq__V1__Delivery *g = out->recv->messages[i];
		ck_assert_uint_eq(g->id, 1000 + (uint64_t) i);
		ck_assert_uint_eq(g->payload.len, strlen(text[i]));
		ck_assert_mem_eq(g->payload.data, text[i], g->payload.len);
		ck_assert_int_eq(g->redelivered, i % 3 == 0);
		ck_assert_uint_eq(g->delivery_count, 1 + (i % 3 == 0));
	}
	ipcq__v1__reply__free_unpacked(out, NULL);
}
END_TEST

START_TEST(stats_and_error_replies_round_trip)
{
	Ipcq__V1__Reply        rep   = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__StatsReply   stats = IPCQ__V1__STATS_REPLY__INIT;
	Ipcq__V1__QueueStats   qs    = IPCQ__V1__QUEUE_STATS__INIT;
	Ipcq__V1__QueueOptions qo    = IPCQ__V1__QUEUE_OPTIONS__INIT;
	Ipcq__V1__QueueStats  *qsp   = &qs;
	Ipcq__V1__Reply       *out;

	qs.name            = "jobs";
	qs.depth           = 5;
	qs.sent            = UINT64_MAX;
	qs.redelivered     = 4;
	qs.ended           = 1;
	qs.producers_lost  = 2;
	qs.purged          = 17;
	qo.expected_producers = 3;
	qs.options         = &qo;
	stats.n_queues     = 1;
	stats.queues       = &qsp;
	rep.body_case      = IPCQ__V1__REPLY__BODY_STATS;
	rep.stats          = &stats;
	out = round_trip_reply(&rep);
	ck_assert_uint_eq(out->stats->n_queues, 1);
	ck_assert_str_eq(out->stats->queues[0]->name, "jobs");
	ck_assert_uint_eq(out->stats->queues[0]->sent, UINT64_MAX);
	ck_assert_uint_eq(out->stats->queues[0]->redelivered, 4);
	ck_assert_uint_eq(out->stats->queues[0]->producers_lost, 2);
	ck_assert_uint_eq(out->stats->queues[0]->purged, 17);
	ck_assert(out->stats->queues[0]->ended);
	ck_assert_uint_eq(out->stats->queues[0]->options->expected_producers, 3);
	ipcq__v1__reply__free_unpacked(out, NULL);

	Ipcq__V1__Reply err = IPCQ__V1__REPLY__INIT;
	err.status          = IPCQ__V1__STATUS__STATUS_EVERSION;
	err.message         = "unsupported protocol version 7";
	out                 = round_trip_reply(&err);
	ck_assert_int_eq(out->status, IPCQ__V1__STATUS__STATUS_EVERSION);
	ck_assert_str_eq(out->message, "unsupported protocol version 7");
	ck_assert_int_eq(out->body_case, IPCQ__V1__REPLY__BODY__NOT_SET);
	ipcq__v1__reply__free_unpacked(out, NULL);
}
END_TEST

/* ------------------------------------------------------------ garbage */

struct garbage {
	const char *what;
	size_t      len;
	const char *bytes;
};

/* Each is invalid as a Request and as a Reply. */
static const struct garbage garbage[] = {
	{ "lone tag", 1, "\x08" },
	{ "tag with unterminated varint", 2, "\x08\xff" },
	{ "varint longer than 10 bytes", 12,
	    "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" },
	{ "length past the end", 3, "\x1a\x05\x08" },
	{ "huge length", 6, "\x1a\xff\xff\xff\xff\x0f" },
	{ "wire type 6", 2, "\x0e\x01" },
	{ "wire type 7", 2, "\x0f\x01" },
	{ "field number 0", 2, "\x00\x01" },
	{ "end group without start", 1, "\x0c" },
	{ "known message field as varint", 2, "\x10\x01" },
	{ "nested garbage in a body", 4, "\x12\x02\x0a\xff" },
	{ "all 0xff", 8, "\xff\xff\xff\xff\xff\xff\xff\xff" },
};

START_TEST(garbage_is_rejected)
{
	const struct garbage *g = &garbage[_i];
	const uint8_t        *b = (const uint8_t *) g->bytes;

	Ipcq__V1__Request *req = ipcq__v1__request__unpack(NULL, g->len, b);
	ck_assert_msg(req == NULL, "Request accepted garbage: %s", g->what);
}
END_TEST

/* Cutting an encoded Request inside its body (a length-delimited field)
 * must fail: a short read never looks like a shorter valid request. */
START_TEST(truncated_request_is_rejected)
{
	Ipcq__V1__Request     req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__SendRequest send = IPCQ__V1__SEND_REQUEST__INIT;
	ProtobufCBinaryData   pl[3] = { { 5, (uint8_t *) "p1-00" },
		  { 0, NULL }, { 5, (uint8_t *) "p1-02" } };
	size_t                len;
	uint8_t              *buf;

	send.handle     = 300;
	send.n_payloads = 3;
	send.payloads   = pl;
	req.version     = 1;
	req.body_case   = IPCQ__V1__REQUEST__BODY_SEND;
	req.send        = &send;
	buf             = pack_request(&req, &len);
	/* 08 01 = version 1; the body's tag is at offset 2. */
	ck_assert_int_eq(buf[2], 0x1a);
	for (size_t cut = 3; cut < len; cut++) {
		uint8_t           *copy = malloc(cut);
		Ipcq__V1__Request *out;
		memcpy(copy, buf, cut);
		out = ipcq__v1__request__unpack(NULL, cut, copy);
		ck_assert_msg(out == NULL, "accepted a %zu-byte prefix of %zu",
		    cut, len);
		free(copy);
	}
	free(buf);
}
END_TEST

/* What the broker sees for an empty frame or an unknown body: a valid
 * Request with no body (it must answer with an error status). */
START_TEST(empty_and_unknown_bodies_decode_without_body)
{
	Ipcq__V1__Request *out = ipcq__v1__request__unpack(NULL, 0,
	    (const uint8_t *) "");

	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(out->version, 0);
	ck_assert_int_eq(out->body_case, IPCQ__V1__REQUEST__BODY__NOT_SET);
	ipcq__v1__request__free_unpacked(out, NULL);

	/* version 1, field 99 (length-delimited, 2 bytes) */
	static const uint8_t unknown[] = { 0x08, 0x01, 0x9a, 0x06, 0x02, 'h',
		'i' };
	out = ipcq__v1__request__unpack(NULL, sizeof(unknown), unknown);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(out->version, 1);
	ck_assert_int_eq(out->body_case, IPCQ__V1__REQUEST__BODY__NOT_SET);
	ipcq__v1__request__free_unpacked(out, NULL);
}
END_TEST

/* Random bytes: whatever unpack decides, it must not crash or leak
 * (run under ASan), and what it accepts must pack again. */
START_TEST(random_bytes_never_crash_unpack)
{
	uint8_t  buf[512];
	unsigned seed = 12345, rejected = 0;

	for (int round = 0; round < 5000; round++) {
		size_t len = 1 + (size_t) (rand_r(&seed) % sizeof(buf));
		for (size_t i = 0; i < len; i++) {
			buf[i] = (uint8_t) rand_r(&seed);
		}
		Ipcq__V1__Request *req = ipcq__v1__request__unpack(NULL, len, buf);
		Ipcq__V1__Reply   *rep = ipcq__v1__reply__unpack(NULL, len, buf);
		rejected += req == NULL;
		if (req != NULL) {
			size_t   n   = ipcq__v1__request__get_packed_size(req);
			uint8_t *out = malloc(n ? n : 1);
			ipcq__v1__request__pack(req, out);
			free(out);
			ipcq__v1__request__free_unpacked(req, NULL);
		}
		if (rep != NULL) {
			ipcq__v1__reply__free_unpacked(rep, NULL);
		}
	}
	/* Random data is almost never a valid encoding. */
	ck_assert_uint_gt(rejected, 4500);
}
END_TEST

static TCase *
codec_garbage_tcase(void)
{
	TCase *tc = tcase_create("garbage");

	tcase_add_loop_test(tc, garbage_is_rejected, 0,
	    (int) (sizeof(garbage) / sizeof(garbage[0])));
	tcase_add_test(tc, truncated_request_is_rejected);
	tcase_add_test(tc, empty_and_unknown_bodies_decode_without_body);
	tcase_add_test(tc, random_bytes_never_crash_unpack);
	return tc;
}

static Suite *
codec_suite(void)
{
	Suite *s  = suite_create("codec");
	TCase *tc = tcase_create("round_trip");

	tcase_add_test(tc, open_request_round_trips);
	tcase_add_test(tc, send_batch_round_trips);
	tcase_add_test(tc, every_request_body_round_trips);
	tcase_add_test(tc, recv_reply_batch_round_trips);
	tcase_add_test(tc, stats_and_error_replies_round_trip);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, codec_garbage_tcase());
	return s;
}

int
main(void)
{
	return th_run(codec_suite());
}
