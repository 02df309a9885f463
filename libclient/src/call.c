/*
 * The one round trip every API call is made of: encode a Request, send
 * it on a pooled REQ context, wait for the Reply, decode it, and turn
 * whatever went wrong into an ipcq_err.
 *
 * Timing: the caller computed one absolute deadline at API entry. The
 * request carries what is left of it (the broker parks the request at
 * most that long and then answers ETIMEDOUT itself); the client waits
 * reply_grace_ms beyond the deadline for that answer and then gives up
 * with IPCQ_ECONNLOST, because a broker that does not answer in time is
 * as good as gone.
 *
 * Connection loss: with resend disabled, nng 1.5.2 fails a REQ context's
 * pending receive with NNG_ECONNRESET as soon as the pipe its request
 * went out on closes (verified against a REP peer that was SIGKILLed:
 * the error arrives at once, the request is not re-sent to the broker
 * that comes back). So a request is sent at most once, and a call cut
 * by a disconnect reports IPCQ_ECONNLOST with its outcome unknown.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipcqi_arena.h"
#include "ipcqi_wire.h"
#include "ipcqi_client.h"

int64_t
ipcqi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
ipcqi_deadline(int timeout_ms)
{
	if (timeout_ms < 0) {
		return (IPCQI_FOREVER);
	}
	return (ipcqi_now_ms() + timeout_ms);
}

int32_t
ipcqi_remaining(int64_t deadline)
{
	int64_t left;

	if (deadline == IPCQI_FOREVER) {
		return (-1);
	}
	left = deadline - ipcqi_now_ms();
	if (left < 0) {
		return (0);
	}
	return (left > INT32_MAX ? INT32_MAX : (int32_t) left);
}

/* nng_duration for "until deadline + grace", or infinite. */
static nng_duration
call_wait(const ipcq_client *c, int64_t deadline)
{
	int64_t left;

	if (deadline == IPCQI_FOREVER || c->opts.reply_grace_ms < 0) {
		return (NNG_DURATION_INFINITE);
	}
	left = deadline + c->opts.reply_grace_ms - ipcqi_now_ms();
	if (left < 1) {
		left = 1; /* 0 would be NNG_DURATION_ZERO: no wait at all */
	}
	return (left > INT32_MAX ? INT32_MAX : (nng_duration) left);
}

static int
slot_get(ipcq_client *c, ipcqi_slot *s)
{
	int rv;

	pthread_mutex_lock(&c->mtx);
	if (c->npool > 0) {
		*s = c->pool[--c->npool];
		pthread_mutex_unlock(&c->mtx);
		return (IPCQ_OK);
	}
	pthread_mutex_unlock(&c->mtx);
	if ((rv = nng_aio_alloc(&s->aio, NULL, NULL)) != 0) {
		return (ipcqi_nng_err(rv));
	}
	if ((rv = nng_ctx_open(&s->ctx, c->sock)) != 0) {
		nng_aio_free(s->aio);
		return (rv == NNG_ENOMEM ? IPCQ_ENOMEM : IPCQ_ECONNLOST);
	}
	return (IPCQ_OK);
}

/* A context whose last exchange failed is closed rather than pooled:
 * nng would discard a late reply for it, but a fresh context costs
 * little and leaves no doubt. */
static void
slot_put(ipcq_client *c, ipcqi_slot *s, int healthy)
{
	if (healthy) {
		pthread_mutex_lock(&c->mtx);
		if (c->npool < IPCQI_POOL_MAX) {
			c->pool[c->npool++] = *s;
			pthread_mutex_unlock(&c->mtx);
			return;
		}
		pthread_mutex_unlock(&c->mtx);
	}
	nng_ctx_close(s->ctx);
	nng_aio_free(s->aio);
}

static int
call_encode(Ipcq__V1__Request *req, nng_msg **mp)
{
	size_t   len = ipcq__v1__request__get_packed_size(req);
	nng_msg *m;

	if (nng_msg_alloc(&m, len) != 0) {
		return (IPCQ_ENOMEM);
	}
	ipcq__v1__request__pack(req, nng_msg_body(m));
	*mp = m;
	return (IPCQ_OK);
}

static int
call_transport_err(int rv)
{
	switch (rv) {
	case NNG_ENOMEM:
		return (IPCQ_ENOMEM);
	case NNG_EMSGSIZE:
		return (IPCQ_EMSGSIZE);
	default:
		/* NNG_ECONNRESET (pipe closed under the request),
		 * NNG_ECLOSED, NNG_ETIMEDOUT (no reply within the grace, or
		 * no connection to send on), NNG_ECANCELED. */
		return (IPCQ_ECONNLOST);
	}
}

/* Send m on connection `live` and wait for the reply on slot s.
 * Consumes m. */
static int
call_exchange(ipcq_client *c, ipcqi_slot *s, nng_msg *m, int64_t deadline,
    uint32_t live, nng_msg **reply)
{
	int rv;

	nng_aio_set_msg(s->aio, m);
	nng_aio_set_timeout(s->aio, call_wait(c, deadline));
	nng_ctx_send(s->ctx, s->aio);
	nng_aio_wait(s->aio);
	if ((rv = nng_aio_result(s->aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(s->aio));
		return (call_transport_err(rv));
	}
	nng_aio_set_timeout(s->aio, call_wait(c, deadline));
	nng_ctx_recv(s->ctx, s->aio);
	nng_aio_wait(s->aio);
	if ((rv = nng_aio_result(s->aio)) != 0) {
		if (rv == NNG_ETIMEDOUT) {
			/* The broker answers every request by its own
			 * deadline; silence past the grace means this
			 * connection is dead weight (a stalled broker, or one
			 * whose nng never attached it: nanomsg/nng#1518).
			 * Drop it, so that the next call redials. */
			nng_pipe p = NNG_PIPE_INITIALIZER;
			p.id       = live;
			(void) nng_pipe_close(p);
		}
		return (call_transport_err(rv));
	}
	*reply = nng_aio_get_msg(s->aio);
	return (IPCQ_OK);
}

/* Status numbers are the ipcq_err numbers; a status this library does
 * not know (a newer broker) is reported as a protocol error. */
static int
call_status(const Ipcq__V1__Reply *rep, Ipcq__V1__Reply__BodyCase want)
{
	int st = (int) rep->status;

	if (st < 0 || st >= IPCQ_ERR_COUNT) {
		return (IPCQ_EPROTO);
	}
	if (st == IPCQ_OK && want != IPCQ__V1__REPLY__BODY__NOT_SET &&
	    rep->body_case != want) {
		return (IPCQ_EPROTO);
	}
	return (st);
}

int
ipcqi_call(ipcq_client *c, Ipcq__V1__Request *req, int64_t deadline,
    Ipcq__V1__Reply__BodyCase want, Ipcq__V1__Reply **repp, uint32_t *pipe)
{
	ipcqi_slot       s;
	nng_msg         *m;
	nng_msg         *reply = NULL;
	Ipcq__V1__Reply *rep;
	uint32_t         live;
	int              rv;

	*repp        = NULL;
	req->version = IPCQ_PROTOCOL_VERSION;
	if ((rv = ipcqi_client_pipe(c, deadline, &live)) != 0) {
		return (rv);
	}
	if ((rv = call_encode(req, &m)) != 0) {
		return (rv);
	}
	if ((rv = slot_get(c, &s)) != 0) {
		nng_msg_free(m);
		return (rv);
	}
	rv = call_exchange(c, &s, m, deadline, live, &reply);
	slot_put(c, &s, rv == 0);
	if (rv != 0) {
		return (rv);
	}
	if (pipe != NULL) {
		*pipe = (uint32_t) nng_pipe_id(nng_msg_get_pipe(reply));
	}
	/* One arena per reply: a batch of deliveries costs one allocation. */
	rep = (Ipcq__V1__Reply *) ipcqi_arena_unpack(
	    &ipcq__v1__reply__descriptor, nng_msg_len(reply), nng_msg_body(reply));
	/* Strings reach us cut at their first NUL (a segment name, a queue
	 * name): a reply with one is not trusted. */
	if (rep != NULL &&
	    ipcqi_wire_check_strings(&ipcq__v1__reply__descriptor,
	        nng_msg_body(reply), nng_msg_len(reply)) != IPCQI_WIRE_CLEAN) {
		ipcqi_arena_free_msg(rep);
		rep = NULL;
	}
	nng_msg_free(reply);
	if (rep == NULL) {
		return (IPCQ_EPROTO);
	}
	*repp = rep;
	return (call_status(rep, want));
}

void
ipcqi_reply_free(Ipcq__V1__Reply *rep)
{
	ipcqi_arena_free_msg(rep);
}
