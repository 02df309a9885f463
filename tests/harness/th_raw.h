/*
 * th_raw.h — a bare nng REQ socket speaking (or mis-speaking) the wire
 * protocol, for tests that send what libipcq never would: random bytes,
 * garbage protobuf, unknown bodies, wrong versions, oversize frames.
 */
#ifndef TH_RAW_H
#define TH_RAW_H

#include <stddef.h>

#include <nng/nng.h>

#include "ipcq.pb-c.h"

/* Dial url with a REQ socket whose receives give up after
 * recv_timeout_ms and that never re-sends a request by itself. */
void th_raw_open(nng_socket *s, const char *url, int recv_timeout_ms);
void th_raw_close(nng_socket s);

/* Send len raw bytes as one request and decode the reply. Returns 0 with
 * *reply set (free with ipcq__v1__reply__free_unpacked), an nng error if
 * no reply came (timeout, connection dropped), or -1 if a reply came but
 * is not a valid Reply (which is always a broker bug). */
int th_raw_call(nng_socket s, const void *buf, size_t len,
    Ipcq__V1__Reply **reply);

/* Pack req and th_raw_call it; asserts a decodable reply arrives and
 * returns it. */
Ipcq__V1__Reply *th_raw_request(nng_socket s, const Ipcq__V1__Request *req);

/* Same, for requests built from a body: version 1 and the given body. */
Ipcq__V1__Reply *th_raw_open_queue(nng_socket s, const char *name,
    uint32_t max_message_bytes);
Ipcq__V1__Reply *th_raw_send(nng_socket s, uint64_t handle, const void *data,
    size_t len);

/* Assert that the reply's status is want, then free it. */
void th_raw_expect(Ipcq__V1__Reply *reply, int want, const char *what);

#endif
