/*
 * Request handlers, one per Request body (dispatch.c holds the table).
 * Each is called without the broker lock, takes it as needed, and
 * returns IPCQD_REPLIED (cx->reply set) or IPCQD_PARKED.
 */
#ifndef IPCQD_HANDLERS_H
#define IPCQD_HANDLERS_H

#include "broker.h"
#include "ipcq.pb-c.h"
#include "server.h"

typedef int (*ipcqd_handler_fn)(ipcqd_broker *b, ipcqd_ctx *cx,
    const Ipcq__V1__Request *req);

/* h_queue.c */
int ipcqd_h_open(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_detach(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_end(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_shutdown(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
/* h_data.c */
int ipcqd_h_send(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_recv(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_ack(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_wait(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
/* h_admin.c */
int ipcqd_h_stats(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_list(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_purge(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);
int ipcqd_h_delete(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req);

/* Shared by handlers (broker lock held): the caller's handle, or an
 * error reply (EBADHANDLE, EDELETED) and NULL. */
ipcqd_handle *ipcqd_h_lookup(ipcqd_broker *b, ipcqd_ctx *cx, uint64_t id,
    int *result);

/* Serve a request that names a queue: check the name (EBADNAME), find
 * the queue (ENOTFOUND) and call fn with the broker lock held. */
typedef int (*ipcqd_named_fn)(ipcqd_broker *b, ipcqd_ctx *cx,
    ipcqd_queue *q);
int ipcqd_h_with_queue(ipcqd_broker *b, ipcqd_ctx *cx, const char *name,
    ipcqd_named_fn fn);

/* A queue's options as the wire's QueueOptions (OpenReply, QueueStats). */
void ipcqd_h_opts_to_wire(Ipcq__V1__QueueOptions *w,
    const ipcqd_queue_opts *o);

/* Check a queue name from the wire; on failure an EBADNAME reply. */
int ipcqd_h_check_name(ipcqd_ctx *cx, const char *name);

/* Shared: an OK reply whose body is one of the empty messages
 * (DetachReply, ShutdownReply, DeleteReply). */
int ipcqd_reply_empty(ipcqd_ctx *cx, Ipcq__V1__Reply__BodyCase body);

#endif
