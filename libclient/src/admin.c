/*
 * Administration by queue name: stats, list, purge, delete, close.
 * Each is one round trip that does not block in the broker; the reply
 * is awaited for reply_grace_ms.
 */
#include <stdlib.h>
#include <string.h>

#include "ipcqi_client.h"

void
ipcqi_stats_fill(ipcq_stats *st, const Ipcq__V1__QueueStats *qs)
{
	const Ipcq__V1__QueueOptions *o = qs->options;

	memset(st, 0, sizeof(*st));
	st->depth           = qs->depth;
	st->bytes           = qs->bytes;
	st->in_flight       = qs->in_flight;
	st->producers       = qs->producers;
	st->consumers       = qs->consumers;
	st->producers_ended = qs->producers_ended;
	st->producers_lost  = qs->producers_lost;
	st->sent            = qs->sent;
	st->received        = qs->received;
	st->acked           = qs->acked;
	st->redelivered     = qs->redelivered;
	st->dropped         = qs->dropped;
	st->purged          = qs->purged;
	st->senders_waiting   = qs->senders_waiting;
	st->receivers_waiting = qs->receivers_waiting;
	st->writing           = qs->writing;
	st->ended           = qs->ended;
	st->abandoned       = qs->abandoned;
	st->corrupt         = qs->corrupt;
	st->sync_errors     = qs->sync_errors;
	st->segment_bytes   = qs->segment_bytes;
	if (o != NULL) {
		st->max_messages       = o->max_messages;
		st->max_bytes          = o->max_bytes;
		st->max_message_bytes  = o->max_message_bytes;
		st->expected_producers = o->expected_producers;
		st->full_policy        = (int) o->full_policy;
	}
}

void
ipcqi_stats_fill_broker(ipcq_stats *st, const Ipcq__V1__BrokerStats *bs)
{
	if (bs != NULL) {
		st->broker_segment_bytes = bs->segment_bytes;
		st->broker_max_memory    = bs->max_memory;
		st->broker_queues        = bs->queues;
		st->broker_max_queues    = bs->max_queues;
	}
}

/* A round trip for a request that names one queue. */
static int
admin_call(ipcq_client *c, const char *name, Ipcq__V1__Request *req,
    Ipcq__V1__Reply__BodyCase want, Ipcq__V1__Reply **rep)
{
	*rep = NULL;
	if (c == NULL) {
		return (IPCQ_EINVAL);
	}
	if (name != NULL && !ipcqi_name_valid(name)) {
		return (IPCQ_EBADNAME);
	}
	return (ipcqi_call(c, req, ipcqi_deadline(0), want, rep, NULL));
}

int
ipcq_client_stats(ipcq_client *c, const char *name, ipcq_stats *st)
{
	Ipcq__V1__Request      req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__StatsRequest s   = IPCQ__V1__STATS_REQUEST__INIT;
	Ipcq__V1__Reply       *rep;
	int                    rv;

	if (st == NULL || name == NULL) {
		return (c == NULL || st == NULL ? IPCQ_EINVAL : IPCQ_EBADNAME);
	}
	s.queue       = (char *) name;
	req.body_case = IPCQ__V1__REQUEST__BODY_STATS;
	req.stats     = &s;
	rv = admin_call(c, name, &req, IPCQ__V1__REPLY__BODY_STATS, &rep);
	if (rv == 0) {
		rv = IPCQ_ENOTFOUND;
		for (size_t i = 0; i < rep->stats->n_queues; i++) {
			const Ipcq__V1__QueueStats *qs = rep->stats->queues[i];
			if (qs->name != NULL && strcmp(qs->name, name) == 0) {
				ipcqi_stats_fill(st, qs);
				ipcqi_stats_fill_broker(st, rep->stats->broker);
				rv = IPCQ_OK;
				break;
			}
		}
	}
	ipcqi_reply_free(rep);
	return (rv);
}

/* The names as one allocation: the pointer array (NULL-terminated)
 * followed by the strings, so that ipcq_names_free is a single free. */
static char **
names_pack(const Ipcq__V1__ListReply *lr)
{
	size_t need = (lr->n_queues + 1) * sizeof(char *);
	char **names;
	char  *p;

	for (size_t i = 0; i < lr->n_queues; i++) {
		need += strlen(lr->queues[i]) + 1;
	}
	if ((names = malloc(need)) == NULL) {
		return (NULL);
	}
	p = (char *) (names + lr->n_queues + 1);
	for (size_t i = 0; i < lr->n_queues; i++) {
		size_t len = strlen(lr->queues[i]) + 1;
		memcpy(p, lr->queues[i], len);
		names[i] = p;
		p += len;
	}
	names[lr->n_queues] = NULL;
	return (names);
}

int
ipcq_client_list(ipcq_client *c, char ***names, size_t *n)
{
	Ipcq__V1__Request     req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__ListRequest l   = IPCQ__V1__LIST_REQUEST__INIT;
	Ipcq__V1__Reply      *rep;
	char                **out;
	int                   rv;

	if (names == NULL) {
		return (IPCQ_EINVAL);
	}
	req.body_case = IPCQ__V1__REQUEST__BODY_LIST;
	req.list      = &l;
	rv = admin_call(c, NULL, &req, IPCQ__V1__REPLY__BODY_LIST, &rep);
	if (rv == 0) {
		if ((out = names_pack(rep->list)) == NULL) {
			rv = IPCQ_ENOMEM;
		} else {
			*names = out;
			if (n != NULL) {
				*n = rep->list->n_queues;
			}
		}
	}
	ipcqi_reply_free(rep);
	return (rv);
}

void
ipcq_names_free(char **names)
{
	free(names);
}

int
ipcq_client_purge(ipcq_client *c, const char *name, uint64_t *purged)
{
	Ipcq__V1__Request      req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__PurgeRequest p   = IPCQ__V1__PURGE_REQUEST__INIT;
	Ipcq__V1__Reply       *rep;
	int                    rv;

	if (name == NULL) {
		return (c == NULL ? IPCQ_EINVAL : IPCQ_EBADNAME);
	}
	p.queue       = (char *) name;
	req.body_case = IPCQ__V1__REQUEST__BODY_PURGE;
	req.purge     = &p;
	rv = admin_call(c, name, &req, IPCQ__V1__REPLY__BODY_PURGE, &rep);
	if (rv == 0 && purged != NULL) {
		*purged = rep->purge->purged;
	}
	ipcqi_reply_free(rep);
	return (rv);
}

int
ipcq_client_delete(ipcq_client *c, const char *name)
{
	Ipcq__V1__Request       req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__DeleteRequest d   = IPCQ__V1__DELETE_REQUEST__INIT;
	Ipcq__V1__Reply        *rep;
	int                     rv;

	if (name == NULL) {
		return (c == NULL ? IPCQ_EINVAL : IPCQ_EBADNAME);
	}
	d.queue       = (char *) name;
	req.body_case = IPCQ__V1__REQUEST__BODY_DELETE;
	req.delete_   = &d;
	rv = admin_call(c, name, &req, IPCQ__V1__REPLY__BODY__NOT_SET, &rep);
	ipcqi_reply_free(rep);
	return (rv);
}

int
ipcq_client_shutdown_queue(ipcq_client *c, const char *name)
{
	Ipcq__V1__Request      req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__ShutdownRequest cl  = IPCQ__V1__SHUTDOWN_REQUEST__INIT;
	Ipcq__V1__Reply       *rep;
	int                    rv;

	if (name == NULL) {
		return (c == NULL ? IPCQ_EINVAL : IPCQ_EBADNAME);
	}
	cl.queue      = (char *) name;
	req.body_case = IPCQ__V1__REQUEST__BODY_SHUTDOWN;
	req.shutdown  = &cl;
	rv = admin_call(c, name, &req, IPCQ__V1__REPLY__BODY__NOT_SET, &rep);
	ipcqi_reply_free(rep);
	return (rv);
}
