/*
 * Received messages: one allocation holds the header and the payload,
 * so a message is one malloc and one free.
 */
#include <stdlib.h>
#include <string.h>

#include "ipcqi_client.h"

ipcq_msg *
ipcqi_msg_from_delivery(
    const ipcq_queue *q, uint64_t epoch, const Ipcq__V1__Delivery *d)
{
	size_t    len = d->payload.len;
	ipcq_msg *m;

	if ((m = malloc(sizeof(*m) + len)) == NULL) {
		return (NULL);
	}
	m->q              = q;
	m->kind           = IPCQI_MSG_COPY;
	m->verdict        = 0;
	m->ext            = NULL;
	m->shm            = NULL;
	m->pos            = 0;
	m->epoch          = epoch;
	m->lease          = d->id;
	m->delivery_count = d->delivery_count;
	m->redelivered    = d->redelivered || d->delivery_count > 1;
	m->len            = len;
	if (len > 0) {
		memcpy(m->data, d->payload.data, len);
	}
	return (m);
}

const void *
ipcq_msg_data(const ipcq_msg *m)
{
	if (m == NULL) {
		return (NULL);
	}
	return (m->ext != NULL ? (const void *) m->ext : (const void *) m->data);
}

size_t
ipcq_msg_size(const ipcq_msg *m)
{
	return (m != NULL ? m->len : 0);
}

uint32_t
ipcq_msg_delivery_count(const ipcq_msg *m)
{
	return (m != NULL ? m->delivery_count : 0);
}

int
ipcq_msg_redelivered(const ipcq_msg *m)
{
	return (m != NULL ? m->redelivered : 0);
}

void
ipcq_msg_free(ipcq_msg *m)
{
	if (m != NULL && m->kind != IPCQI_MSG_COPY) {
		ipcqi_msg_release(m); /* loan.c: finish it in the segment */
	}
	free(m);
}
