/*
 * Request dispatch: decode, check the version, route by body through the
 * handler table. Every failure here is answered with a status; the
 * broker never drops a request it could decode the framing of.
 */
#include <stdlib.h>

#include "handlers.h"
#include "ipcq.h"
#include "ipcqi_arena.h"
#include "ipcqi_wire.h"
#include "log.h"
#include "server.h"

static const struct {
	Ipcq__V1__Request__BodyCase body;
	const char                 *name;
	ipcqd_handler_fn            fn;
} dispatch_table[] = {
	{ IPCQ__V1__REQUEST__BODY_OPEN, "open", ipcqd_h_open },
	{ IPCQ__V1__REQUEST__BODY_SEND, "send", ipcqd_h_send },
	{ IPCQ__V1__REQUEST__BODY_RECV, "recv", ipcqd_h_recv },
	{ IPCQ__V1__REQUEST__BODY_ACK, "ack", ipcqd_h_ack },
	{ IPCQ__V1__REQUEST__BODY_END, "end", ipcqd_h_end },
	{ IPCQ__V1__REQUEST__BODY_DETACH, "detach", ipcqd_h_detach },
	{ IPCQ__V1__REQUEST__BODY_SHUTDOWN, "shutdown", ipcqd_h_shutdown },
	{ IPCQ__V1__REQUEST__BODY_STATS, "stats", ipcqd_h_stats },
	{ IPCQ__V1__REQUEST__BODY_LIST, "list", ipcqd_h_list },
	{ IPCQ__V1__REQUEST__BODY_PURGE, "purge", ipcqd_h_purge },
	{ IPCQ__V1__REQUEST__BODY_DELETE, "delete", ipcqd_h_delete },
	{ IPCQ__V1__REQUEST__BODY_WAIT, "wait", ipcqd_h_wait },
};

void
ipcqd_request_free(ipcqd_ctx *cx)
{
	if (cx->req != NULL) {
		ipcqi_arena_free_msg(cx->req);
		cx->req = NULL;
	}
	free(cx->payloads);
	cx->payloads = NULL;
}

int
ipcqd_dispatch(ipcqd_broker *b, ipcqd_ctx *cx, const void *buf, size_t len)
{
	Ipcq__V1__Request *req;

	/* One arena for the whole request: a batch of payloads costs one
	 * allocation, not two per message. */
	req = (Ipcq__V1__Request *) ipcqi_arena_unpack(
	    &ipcq__v1__request__descriptor, len, buf);
	if (req == NULL) {
		ipcqd_debug("pipe %u: undecodable request (%zu bytes)",
		    cx->pipe_id, len);
		return ipcqd_reply_error(cx, IPCQ_EPROTO,
		    "malformed request: not an ipcq.v1.Request");
	}
	cx->req = req;
	if (req->version != IPCQ_PROTOCOL_VERSION) {
		return ipcqd_reply_error(cx, IPCQ_EVERSION,
		    "protocol version %u not supported (broker speaks %d)",
		    req->version, IPCQ_PROTOCOL_VERSION);
	}
	/* protobuf-c cut every string at its first NUL byte: "name\0x"
	 * would act on "name". Every string of a Request is a queue name. */
	switch (ipcqi_wire_check_strings(&ipcq__v1__request__descriptor, buf,
	    len)) {
	case IPCQI_WIRE_CLEAN:
		break;
	case IPCQI_WIRE_NUL:
		return ipcqd_reply_error(cx, IPCQ_EBADNAME,
		    "bad queue name: contains a NUL byte (names match "
		    "[A-Za-z0-9][A-Za-z0-9._-]{0,127})");
	default:
		return ipcqd_reply_error(cx, IPCQ_EPROTO,
		    "malformed request: not an ipcq.v1.Request");
	}
	for (size_t i = 0;
	     i < sizeof(dispatch_table) / sizeof(dispatch_table[0]); i++) {
		if (dispatch_table[i].body == req->body_case) {
			return dispatch_table[i].fn(b, cx, req);
		}
	}
	return ipcqd_reply_error(cx, IPCQ_ENOTSUP,
	    "unknown or missing request body (case %d)", (int) req->body_case);
}
