/*
 * Handlers for administration by queue name: stats, list, purge, delete.
 */
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "ipcq.h"
#include "log.h"

static void
ha_fill_stats(Ipcq__V1__QueueStats *w, Ipcq__V1__QueueOptions *wo,
    ipcqd_queue *q)
{
	ipcqd_queue_stats st;

	ipcqd_queue_get_stats(q, &st);
	w->name                = (char *) q->name;
	w->depth               = st.depth;
	w->bytes               = st.bytes;
	w->in_flight           = st.in_flight;
	w->producers           = st.producers;
	w->consumers           = st.consumers;
	w->sent                = st.sent;
	w->received            = st.received;
	w->acked               = st.acked;
	w->redelivered         = st.redelivered;
	w->dropped             = st.dropped;
	w->purged              = st.purged;
	w->senders_waiting     = st.senders_waiting;
	w->receivers_waiting   = st.receivers_waiting;
	w->ended               = st.ended;
	w->abandoned           = st.abandoned;
	w->corrupt             = st.corrupt;
	w->writing             = st.writing;
	w->sync_errors         = st.sync_errors;
	w->producers_ended     = st.producers_ended;
	w->producers_lost      = st.producers_lost;
	w->segment_bytes       = q->seg.seg_bytes;
	ipcqd_h_opts_to_wire(wo, &q->opts);
	w->options = wo;
}

/* Stats: StatsRequest{queue or ""} -> StatsReply{queues} */
int
ipcqd_h_stats(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	const char             *name = req->stats->queue;
	Ipcq__V1__Reply         rep  = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__StatsReply    srp  = IPCQ__V1__STATS_REPLY__INIT;
	Ipcq__V1__QueueStats   *sts  = NULL;
	Ipcq__V1__QueueStats  **ptrs = NULL;
	Ipcq__V1__QueueOptions *wos  = NULL;
	Ipcq__V1__BrokerStats   bst  = IPCQ__V1__BROKER_STATS__INIT;
	size_t                  n    = 0;
	int                     result;

	if (name[0] != '\0' && ipcqd_h_check_name(cx, name) != 0) {
		return IPCQD_REPLIED;
	}
	ipcqd_broker_lock(b);
	size_t cap = b->nqueues > 0 ? b->nqueues : 1;
	sts        = calloc(cap, sizeof(*sts));
	ptrs       = calloc(cap, sizeof(*ptrs));
	wos        = calloc(cap, sizeof(*wos));
	if (sts == NULL || ptrs == NULL || wos == NULL) {
		result = ipcqd_reply_error(cx, IPCQ_ENOMEM, "out of memory");
		goto out;
	}
	for (ipcqd_node *nd = b->queues.next; nd != &b->queues; nd = nd->next) {
		ipcqd_queue *q = IPCQD_CONTAINER(nd, ipcqd_queue, node);
		if (name[0] != '\0' && strcmp(name, q->name) != 0) {
			continue;
		}
		ipcq__v1__queue_stats__init(&sts[n]);
		ipcq__v1__queue_options__init(&wos[n]);
		ha_fill_stats(&sts[n], &wos[n], q);
		ptrs[n] = &sts[n];
		n++;
	}
	if (name[0] != '\0' && n == 0) {
		result = ipcqd_reply_error(cx, IPCQ_ENOTFOUND,
		    "no queue named %s", name);
		goto out;
	}
	bst.segment_bytes = b->seg_bytes;
	bst.max_memory    = b->cfg.max_memory;
	bst.queues        = b->nqueues;
	bst.max_queues    = b->cfg.max_queues;
	srp.broker        = &bst;
	srp.n_queues  = n;
	srp.queues    = ptrs;
	rep.body_case = IPCQ__V1__REPLY__BODY_STATS;
	rep.stats     = &srp;
	result        = ipcqd_reply(cx, &rep);
out:
	ipcqd_broker_unlock(b);
	free(sts);
	free(ptrs);
	free(wos);
	return result;
}

/* List: ListRequest -> ListReply{queues} */
int
ipcqd_h_list(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	Ipcq__V1__Reply     rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__ListReply lrp = IPCQ__V1__LIST_REPLY__INIT;
	char              **names;
	size_t              n = 0;
	int                 result;

	ipcqd_broker_lock(b);
	names = calloc(b->nqueues > 0 ? b->nqueues : 1, sizeof(*names));
	if (names == NULL) {
		result = ipcqd_reply_error(cx, IPCQ_ENOMEM, "out of memory");
	} else {
		for (ipcqd_node *nd = b->queues.next; nd != &b->queues;
		     nd             = nd->next) {
			names[n++] = IPCQD_CONTAINER(nd, ipcqd_queue, node)->name;
		}
		lrp.n_queues  = n;
		lrp.queues    = names;
		rep.body_case = IPCQ__V1__REPLY__BODY_LIST;
		rep.list      = &lrp;
		result        = ipcqd_reply(cx, &rep);
	}
	ipcqd_broker_unlock(b);
	free(names);
	return result;
}

static int
ha_purge(ipcqd_broker *b, ipcqd_ctx *cx, ipcqd_queue *q)
{
	Ipcq__V1__Reply      rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__PurgeReply prp = IPCQ__V1__PURGE_REPLY__INIT;

	prp.purged    = ipcqd_queue_purge(q);
	rep.body_case = IPCQ__V1__REPLY__BODY_PURGE;
	rep.purge     = &prp;
	return ipcqd_reply(cx, &rep);
}

/* Purge: PurgeRequest -> PurgeReply{purged} */
int
ipcqd_h_purge(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	return ipcqd_h_with_queue(b, cx, req->purge->queue, ha_purge);
}

static int
ha_delete(ipcqd_broker *b, ipcqd_ctx *cx, ipcqd_queue *q)
{
	ipcqd_info("deleting queue %s", q->name);
	ipcqd_broker_delete_queue(b, q);
	return ipcqd_reply_empty(cx, IPCQ__V1__REPLY__BODY_DELETE);
}

/* Delete: DeleteRequest -> DeleteReply */
int
ipcqd_h_delete(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	return ipcqd_h_with_queue(b, cx, req->delete_->queue, ha_delete);
}
