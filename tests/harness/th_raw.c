/*
 * th_raw.c — a bare REQ client for malformed-input tests.
 */
#include "ipcqi_close.h"
#include "th_raw.h"

#include "harness.h"
#include "ipcq.h"

#include <nng/protocol/reqrep0/req.h>

#include <stdlib.h>
#include <string.h>

void
th_raw_open(nng_socket *s, const char *url, int recv_timeout_ms)
{
	int rv;

	ck_assert_int_eq(nng_req0_open(s), 0);
	/* No automatic re-send: one request, at most one reply. */
	ck_assert_int_eq(nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME,
	                     NNG_DURATION_INFINITE),
	    0);
	ck_assert_int_eq(nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO,
	                     recv_timeout_ms),
	    0);
	ck_assert_int_eq(nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, 5000), 0);
	/* Replies are small, but a RecvReply can carry a big payload. */
	ck_assert_int_eq(nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 0), 0);
	rv = nng_dial(*s, url, NULL, 0);
	ck_assert_msg(rv == 0, "dial %s: %s", url, nng_strerror(rv));
}

void
th_raw_close(nng_socket s)
{
	/* Bounded, like the broker's and the library's own closes: nng
	 * 1.5.2's close can hang (nanomsg/nng#1543); a test must not. */
	(void) ipcqi_close_socket(s, 5000);
}

int
th_raw_call(nng_socket s, const void *buf, size_t len,
    Ipcq__V1__Reply **reply)
{
	nng_msg *m;
	int      rv;

	ck_assert_int_eq(nng_msg_alloc(&m, 0), 0);
	ck_assert_int_eq(nng_msg_append(m, buf, len), 0);
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
		return rv;
	}
	if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
		return rv;
	}
	*reply = ipcq__v1__reply__unpack(NULL, nng_msg_len(m),
	    nng_msg_body(m));
	nng_msg_free(m);
	return *reply != NULL ? 0 : -1;
}

Ipcq__V1__Reply *
th_raw_request(nng_socket s, const Ipcq__V1__Request *req)
{
	size_t           len = ipcq__v1__request__get_packed_size(req);
	uint8_t         *buf = malloc(len ? len : 1);
	Ipcq__V1__Reply *reply = NULL;
	int              rv;

	ck_assert_ptr_nonnull(buf);
	ipcq__v1__request__pack(req, buf);
	rv = th_raw_call(s, buf, len, &reply);
	free(buf);
	ck_assert_msg(rv == 0, "no valid reply: %s",
	    rv < 0 ? "undecodable Reply" : nng_strerror(rv));
	return reply;
}

Ipcq__V1__Reply *
th_raw_open_queue(nng_socket s, const char *name, uint32_t max_message_bytes)
{
	Ipcq__V1__Request      req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest  open = IPCQ__V1__OPEN_REQUEST__INIT;
	Ipcq__V1__QueueOptions qo   = IPCQ__V1__QUEUE_OPTIONS__INIT;

	qo.max_message_bytes = max_message_bytes;
	open.queue           = (char *) name;
	open.options         = &qo;
	req.version          = IPCQ_PROTOCOL_VERSION;
	req.body_case        = IPCQ__V1__REQUEST__BODY_OPEN;
	req.open             = &open;
	return th_raw_request(s, &req);
}

Ipcq__V1__Reply *
th_raw_send(nng_socket s, uint64_t handle, const void *data, size_t len)
{
	Ipcq__V1__Request     req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__SendRequest send = IPCQ__V1__SEND_REQUEST__INIT;
	ProtobufCBinaryData   pl   = { len, (uint8_t *) data };

	send.handle     = handle;
	send.n_payloads = 1;
	send.payloads   = &pl;
	send.timeout_ms = 0;
	req.version     = IPCQ_PROTOCOL_VERSION;
	req.body_case   = IPCQ__V1__REQUEST__BODY_SEND;
	req.send        = &send;
	return th_raw_request(s, &req);
}

void
th_raw_expect(Ipcq__V1__Reply *reply, int want, const char *what)
{
	int got = (int) reply->status;

	ck_assert_msg(got == want, "%s: status %s (%d) \"%s\", expected %s",
	    what, ipcq_err_name(got), got, reply->message,
	    ipcq_err_name(want));
	ipcq__v1__reply__free_unpacked(reply, NULL);
}
