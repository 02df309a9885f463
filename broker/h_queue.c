/*
 * Handlers for a queue's lifecycle: open, detach, end, close.
 */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "ipcq.h"
#include "log.h"
#include "session.h"

ipcqd_handle *
ipcqd_h_lookup(ipcqd_broker *b, ipcqd_ctx *cx, uint64_t id, int *result)
{
	ipcqd_handle *h = ipcqd_handle_find(b, cx->pipe_id, id);

	if (h == NULL) {
		*result = ipcqd_reply_error(cx, IPCQ_EBADHANDLE,
		    "unknown handle %llu on this connection",
		    (unsigned long long) id);
		return NULL;
	}
	if (h->q == NULL) {
		*result = ipcqd_reply_error(cx, IPCQ_EDELETED,
		    "the queue of handle %llu was deleted",
		    (unsigned long long) id);
		return NULL;
	}
	return h;
}

int
ipcqd_h_check_name(ipcqd_ctx *cx, const char *name)
{
	if (!ipcqi_name_valid(name)) {
		ipcqd_reply_error(cx, IPCQ_EBADNAME,
		    "invalid queue name: names match "
		    "[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
		return -1;
	}
	return 0;
}

int
ipcqd_reply_empty(ipcqd_ctx *cx, Ipcq__V1__Reply__BodyCase body)
{
	/* The empty replies share one shape: set the body so that a client
	 * can check which reply it got. */
	static const Ipcq__V1__DetachReply detach = IPCQ__V1__DETACH_REPLY__INIT;
	static const Ipcq__V1__ShutdownReply  shut   = IPCQ__V1__SHUTDOWN_REPLY__INIT;
	static const Ipcq__V1__DeleteReply del    = IPCQ__V1__DELETE_REPLY__INIT;
	Ipcq__V1__Reply                    rep    = IPCQ__V1__REPLY__INIT;

	rep.body_case = body;
	switch (body) {
	case IPCQ__V1__REPLY__BODY_DETACH:
		rep.detach = (Ipcq__V1__DetachReply *) &detach;
		break;
	case IPCQ__V1__REPLY__BODY_SHUTDOWN:
		rep.shutdown = (Ipcq__V1__ShutdownReply *) &shut;
		break;
	case IPCQ__V1__REPLY__BODY_DELETE:
		rep.delete_ = (Ipcq__V1__DeleteReply *) &del;
		break;
	default:
		rep.body_case = IPCQ__V1__REPLY__BODY__NOT_SET;
		break;
	}
	return ipcqd_reply(cx, &rep);
}

static void
hq_opts_from_wire(ipcqd_queue_opts *o, const Ipcq__V1__QueueOptions *w)
{
	memset(o, 0, sizeof(*o));
	if (w != NULL) {
		o->max_messages       = w->max_messages;
		o->max_bytes          = w->max_bytes;
		o->max_message_bytes  = w->max_message_bytes;
		o->full_policy        = (int) w->full_policy;
		o->expected_producers = w->expected_producers;
		o->durable            = w->durable;
	}
}

void
ipcqd_h_opts_to_wire(Ipcq__V1__QueueOptions *w, const ipcqd_queue_opts *o)
{
	w->max_messages       = o->max_messages;
	w->max_bytes          = o->max_bytes;
	w->max_message_bytes  = o->max_message_bytes;
	w->full_policy        = (Ipcq__V1__FullPolicy) o->full_policy;
	w->expected_producers = o->expected_producers;
	w->durable            = o->durable != 0;
}

/* One option: true, and its name and both values in msg, if the open
 * gave it and it differs from the queue's. */
static bool
hq_differs(const char *name, bool given, uint64_t have, uint64_t want,
    char *msg, size_t len)
{
	if (!given || have == want) {
		return false;
	}
	snprintf(msg, len, "%s is %llu, not %llu", name,
	    (unsigned long long) have, (unsigned long long) want);
	return true;
}

/* Whether the open's options contradict the existing queue's (docs/api.md,
 * "Options of an existing queue"); msg says how. The open's options get
 * exactly what creation would apply (defaults, max_message_bytes lowered
 * to max_bytes); then an option counts when it was given: every one
 * under declare (0 is then "the default", compared like any value),
 * else only the non-zero ones (0 is "whatever the queue has"). */
static bool
hq_opts_conflict(const ipcqd_queue_opts *have, const Ipcq__V1__QueueOptions *w,
    bool declare, char *msg, size_t len)
{
	ipcqd_queue_opts want, given;

	hq_opts_from_wire(&want, w);
	given = want;
	if (ipcqd_queue_opts_normalize(&want) != 0) {
		snprintf(msg, len, "invalid options never match");
		return true;
	}
	return hq_differs("max_messages", declare || given.max_messages != 0,
	           have->max_messages, want.max_messages, msg, len) ||
	    hq_differs("max_bytes", declare || given.max_bytes != 0,
	        have->max_bytes, want.max_bytes, msg, len) ||
	    hq_differs("max_message_bytes",
	        declare || given.max_message_bytes != 0,
	        have->max_message_bytes, want.max_message_bytes, msg, len) ||
	    hq_differs("full_policy", declare || given.full_policy != 0,
	        (uint64_t) have->full_policy, (uint64_t) want.full_policy, msg,
	        len) ||
	    hq_differs("expected_producers",
	        declare || given.expected_producers != 0,
	        have->expected_producers, want.expected_producers, msg, len) ||
	    hq_differs("durable", declare || given.durable != 0,
	        have->durable != 0, want.durable != 0, msg, len);
}

/* Find or create the queue; an error reply and NULL on failure. */
static ipcqd_queue *
hq_get_queue(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__OpenRequest *o,
    int *result)
{
	ipcqd_queue     *q = ipcqd_broker_find_queue(b, o->queue);
	ipcqd_queue_opts opts;
	int              rv;

	if (q != NULL) {
		char why[160];
		if (hq_opts_conflict(&q->opts, o->options, o->declare, why,
		        sizeof(why))) {
			/* RabbitMQ's PRECONDITION_FAILED: a later opener
			 * must not believe the queue has its options. */
			*result = ipcqd_reply_error(cx, IPCQ_EEXIST,
			    "queue %s exists with different options: %s",
			    q->name, why);
			return NULL;
		}
		return q;
	}
	hq_opts_from_wire(&opts, o->options);
	if (ipcqd_queue_opts_normalize(&opts) != 0) {
		*result = ipcqd_reply_error(cx, IPCQ_EINVAL,
		    "invalid queue options (max_message_bytes at most %u, "
		    "full_policy 0..2)", IPCQI_MAX_MESSAGE_BYTES);
		return NULL;
	}
	char why[320];
	if ((rv = ipcqd_broker_add_queue(b, o->queue, &opts, &q, why,
	         sizeof(why))) != 0) {
		*result = ipcqd_reply_error(cx, rv, "%s", why);
		return NULL;
	}
	return q;
}

/* Open: OpenRequest -> OpenReply{handle, options} */
int
ipcqd_h_open(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	const Ipcq__V1__OpenRequest *o   = req->open;
	Ipcq__V1__Reply              rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__OpenReply          orp = IPCQ__V1__OPEN_REPLY__INIT;
	Ipcq__V1__QueueOptions       wo  = IPCQ__V1__QUEUE_OPTIONS__INIT;
	Ipcq__V1__ShmInfo            shm = IPCQ__V1__SHM_INFO__INIT;
	ipcqd_session               *s;
	ipcqd_queue                 *q;
	ipcqd_handle                *h;
	int                          result = IPCQD_REPLIED, rv;

	if (ipcqd_h_check_name(cx, o->queue) != 0) {
		return IPCQD_REPLIED;
	}
	if (o->roles > (IPCQ_ROLE_PRODUCER | IPCQ_ROLE_CONSUMER) ||
	    ((int) o->ack_mode != IPCQ_ACK_AUTO &&
	        (int) o->ack_mode != IPCQ_ACK_EXPLICIT)) {
		return ipcqd_reply_error(cx, IPCQ_EINVAL,
		    "invalid roles (%u) or ack_mode (%d)", o->roles,
		    (int) o->ack_mode);
	}
	ipcqd_broker_lock(b);
	if ((s = ipcqd_session_find(b, cx->pipe_id)) == NULL) {
		result = ipcqd_reply_error(cx, IPCQ_ECONNLOST,
		    "connection is closing");
	} else if ((q = hq_get_queue(b, cx, o, &result)) != NULL) {
		rv = ipcqd_handle_new(b, s, q, (int) o->roles,
		    (int) o->ack_mode, &h);
		if (rv != 0) {
			result = ipcqd_reply_error(cx, rv, "cannot open handle");
		} else {
			ipcqd_h_opts_to_wire(&wo, &q->opts);
			orp.handle    = h->id;
			orp.options   = &wo;
			if (o->want_shm && q->shm_name[0] != '\0' &&
			    b->segs.bell != NULL) {
				/* The handle id is the client's holder id. */
				shm.segment   = q->shm_name;
				shm.bell      = b->segs.bell_name;
				shm.seg_bytes = q->seg.seg_bytes;
				orp.shm       = &shm;
			}
			rep.body_case = IPCQ__V1__REPLY__BODY_OPEN;
			rep.open      = &orp;
			result        = ipcqd_reply(cx, &rep);
		}
	}
	ipcqd_broker_unlock(b);
	return result;
}

/* Detach: DetachRequest -> DetachReply */
int
ipcqd_h_detach(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	ipcqd_handle *h;
	int           result;

	ipcqd_broker_lock(b);
	h = ipcqd_handle_find(b, cx->pipe_id, req->detach->handle);
	if (h == NULL) {
		result = ipcqd_reply_error(cx, IPCQ_EBADHANDLE,
		    "unknown handle");
	} else {
		ipcqd_handle_free(b, h, IPCQ_EBADHANDLE);
		result = ipcqd_reply_empty(cx, IPCQ__V1__REPLY__BODY_DETACH);
	}
	ipcqd_broker_unlock(b);
	return result;
}

/* End: EndRequest -> EndReply{queue_ended} */
int
ipcqd_h_end(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	Ipcq__V1__Reply    rep = IPCQ__V1__REPLY__INIT;
	Ipcq__V1__EndReply erp = IPCQ__V1__END_REPLY__INIT;
	ipcqd_handle      *h;
	int                result = IPCQD_REPLIED;
	bool               ended;

	ipcqd_broker_lock(b);
	if ((h = ipcqd_h_lookup(b, cx, req->end->handle, &result)) != NULL) {
		ipcqd_queue_end_producer(h->q, h, &ended);
		if (ended) {
			ipcqd_debug("queue %s ended", h->q->name);
		}
		erp.queue_ended = ended;
		rep.body_case   = IPCQ__V1__REPLY__BODY_END;
		rep.end         = &erp;
		result          = ipcqd_reply(cx, &rep);
	}
	ipcqd_broker_unlock(b);
	return result;
}

int
ipcqd_h_with_queue(ipcqd_broker *b, ipcqd_ctx *cx, const char *name,
    ipcqd_named_fn fn)
{
	ipcqd_queue *q;
	int          result;

	if (ipcqd_h_check_name(cx, name) != 0) {
		return IPCQD_REPLIED;
	}
	ipcqd_broker_lock(b);
	if ((q = ipcqd_broker_find_queue(b, name)) == NULL) {
		result = ipcqd_reply_error(cx, IPCQ_ENOTFOUND, "no queue named %s",
		    name);
	} else {
		result = fn(b, cx, q);
	}
	ipcqd_broker_unlock(b);
	return result;
}

static int
hq_shutdown(ipcqd_broker *b, ipcqd_ctx *cx, ipcqd_queue *q)
{
	ipcqd_queue_shutdown(q);
	return ipcqd_reply_empty(cx, IPCQ__V1__REPLY__BODY_SHUTDOWN);
}

/* Shutdown: ShutdownRequest -> ShutdownReply */
int
ipcqd_h_shutdown(ipcqd_broker *b, ipcqd_ctx *cx, const Ipcq__V1__Request *req)
{
	return ipcqd_h_with_queue(b, cx, req->shutdown->queue, hq_shutdown);
}
