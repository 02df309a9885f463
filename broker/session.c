/*
 * Sessions (one per client pipe) and their handles.
 */
#include "session.h"

#include <stdlib.h>

#include "broker.h"
#include "ipcq.h"
#include "log.h"

int
ipcqd_session_add(ipcqd_broker *b, uint32_t pipe_id, int pid, int uid)
{
	ipcqd_session *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		return IPCQ_ENOMEM;
	}
	s->pipe_id = pipe_id;
	s->pid     = pid;
	s->uid     = uid;
	ipcqd_list_init(&s->handles);
	if (ipcqd_idmap_put(&b->sessions, pipe_id, s) != 0) {
		free(s);
		return IPCQ_ENOMEM;
	}
	return 0;
}

ipcqd_session *
ipcqd_session_find(ipcqd_broker *b, uint32_t pipe_id)
{
	return ipcqd_idmap_get(&b->sessions, pipe_id);
}

void
ipcqd_session_remove(ipcqd_broker *b, uint32_t pipe_id)
{
	ipcqd_session *s = ipcqd_idmap_del(&b->sessions, pipe_id);
	ipcqd_node    *n;

	if (s == NULL) {
		return;
	}
	while ((n = ipcqd_list_first(&s->handles)) != NULL) {
		ipcqd_handle *h = IPCQD_CONTAINER(n, ipcqd_handle, snode);
		ipcqd_handle_free(b, h, IPCQ_ECONNLOST);
	}
	free(s);
}

int
ipcqd_handle_new(ipcqd_broker *b, ipcqd_session *s, ipcqd_queue *q,
    int roles, int ack_mode, ipcqd_handle **hp)
{
	ipcqd_handle *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		return IPCQ_ENOMEM;
	}
	/* The epoch in the high bits makes a handle id from an earlier
	 * broker instance unknown here, never someone else's handle. */
	h->id       = b->epoch | (++b->next_handle & 0xffffffffull);
	h->sess     = s;
	h->roles    = roles;
	h->ack_mode = ack_mode;
	ipcqd_list_init(&h->leases);
	ipcqd_node_init(&h->qnode);
	if (ipcqd_idmap_put(&b->handles, h->id, h) != 0) {
		free(h);
		return IPCQ_ENOMEM;
	}
	ipcqd_list_push_back(&s->handles, &h->snode);
	ipcqd_queue_attach(q, h);
	*hp = h;
	return 0;
}

ipcqd_handle *
ipcqd_handle_find(ipcqd_broker *b, uint32_t pipe_id, uint64_t id)
{
	ipcqd_handle *h = ipcqd_idmap_get(&b->handles, id);

	/* A handle is usable only on the connection that opened it. */
	if (h == NULL || h->sess->pipe_id != pipe_id) {
		return NULL;
	}
	return h;
}

void
ipcqd_handle_free(ipcqd_broker *b, ipcqd_handle *h, int cancel_status)
{
	if (h->q != NULL) {
		ipcqd_queue_detach(h->q, h, cancel_status);
	}
	ipcqd_node_remove(&h->snode);
	ipcqd_idmap_del(&b->handles, h->id);
	free(h);
}
