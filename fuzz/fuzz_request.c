/*
 * Fuzz target: request frames decoded and dispatched into an in-process
 * broker core (ipcqd_core), the way the server's receive callback does,
 * without nng sockets: what a hostile client could make the broker do
 * with well-formed framing and any bytes inside (docs/testing.md,
 * "Fuzzing").
 *
 * Input: a sequence of frames, each { flags: 1 byte, len: 2 bytes
 * little-endian, len bytes of request (fewer if the input ends) }, at
 * most FZ_MAX_FRAMES. Flags: bit 0 the connection (pipe 1 or 2), bit 1
 * expire every armed deadline timer before the frame, bit 2 the
 * connection hangs up after the frame (its session is removed, as on
 * NNG_PIPE_EV_REM_POST, and a new one added).
 *
 * Nothing survives an iteration: every session is removed, every queue
 * deleted and every context freed, and the broker's own accounting must
 * say so (no parked request, no parked byte, no handle, no queue).
 *
 * Deadline timers: the broker arms them with nng_sleep_aio and cancels
 * them with nng_aio_cancel, both under its lock, and expects the timer
 * callback later on another thread. Here both are wrapped at link time
 * (-Wl,--wrap): an armed timer fires when a frame says so, a cancelled
 * one right after the current dispatch, on this thread. So a run is
 * deterministic, and a crash reproduces from its input alone.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "handlers.h"
#include "ipcq.h"
#include "ipcq.pb-c.h"
#include "log.h"
#include "server.h"
#include "session.h"

#define FZ_MAX_FRAMES 64
#define FZ_PIPES      2
#define FZ_MAGIC      0x667a6378u

/* A context plus what the fake timer needs. cx.timer points here. */
typedef struct fz_ctx {
	ipcqd_ctx      cx;
	uint32_t       magic;
	bool           armed; /* nng_sleep_aio was called: may expire */
	bool           owed;  /* nng_aio_cancel was called: call back */
	struct fz_ctx *next;
} fz_ctx;

static ipcqd_broker *fz_b;
static ipcqd_server  fz_srv;
static fz_ctx       *fz_all; /* this iteration's contexts */
static bool          fz_verbose; /* FUZZ_VERBOSE=1: print each reply */

void __real_nng_sleep_aio(nng_duration ms, nng_aio *aio);
void __real_nng_aio_cancel(nng_aio *aio);

static fz_ctx *
fz_of(nng_aio *aio)
{
	fz_ctx *f = (fz_ctx *) (void *) aio;

	for (fz_ctx *i = fz_all; i != NULL; i = i->next) {
		if (i == f && f->magic == FZ_MAGIC) {
			return f;
		}
	}
	return NULL;
}

void
__wrap_nng_sleep_aio(nng_duration ms, nng_aio *aio)
{
	fz_ctx *f = fz_of(aio);

	if (f == NULL) {
		__real_nng_sleep_aio(ms, aio);
		return;
	}
	f->armed = true;
	f->owed  = false;
}

void
__wrap_nng_aio_cancel(nng_aio *aio)
{
	fz_ctx *f = fz_of(aio);

	if (f == NULL) {
		__real_nng_aio_cancel(aio);
		return;
	}
	if (f->armed) {
		f->owed = true;
	}
}

/* What the server does with a reply: here, check that it is a Reply
 * with a status from the table, and drop it. */
static void
fz_check_reply(ipcqd_ctx *cx)
{
	Ipcq__V1__Reply *rep;

	if (cx->reply == NULL) {
		return; /* out of memory: the server sends nothing either */
	}
	rep = ipcq__v1__reply__unpack(NULL, nng_msg_len(cx->reply),
	    nng_msg_body(cx->reply));
	if (rep == NULL || (int) rep->status < 0 ||
	    (int) rep->status >= IPCQ_ERR_COUNT) {
		fprintf(stderr, "fuzz_request: the broker produced a bad "
		                "reply (%zu bytes)\n",
		    nng_msg_len(cx->reply));
		abort();
	}
	if (fz_verbose) {
		fprintf(stderr, "pipe %u: %s %s\n", cx->pipe_id,
		    ipcq_err_name((int) rep->status), rep->message);
	}
	ipcq__v1__reply__free_unpacked(rep, NULL);
	nng_msg_free(cx->reply);
	cx->reply = NULL;
	ipcqd_request_free(cx);
}

/* The timer callback of the server (sv_timer_cb): claim the waiter with
 * ETIMEDOUT if it is still parked, else send what its claimer left. */
static void
fz_timer_fire(fz_ctx *f)
{
	ipcqd_ctx *cx = &f->cx;
	bool       send_now;

	f->armed = false;
	f->owed  = false;
	ipcqd_broker_lock(fz_b);
	cx->in_timer    = true;
	send_now        = !ipcqd_queue_cancel(&cx->w, IPCQ_ETIMEDOUT);
	cx->in_timer    = false;
	cx->timer_armed = false;
	ipcqd_broker_unlock(fz_b);
	if (send_now) {
		fz_check_reply(cx);
	}
}

/* Fire the timers that were cancelled (all: also those armed). */
static void
fz_timers(bool expire)
{
	bool again = true;

	/* A callback can complete other requests, whose timers are then
	 * owed in turn: run until none is. */
	while (again) {
		again = false;
		for (fz_ctx *f = fz_all; f != NULL; f = f->next) {
			if (f->owed || (expire && f->armed)) {
				fz_timer_fire(f);
				again = true;
			}
		}
		expire = false;
	}
}

static ipcqd_ctx *
fz_ctx_new(uint32_t pipe_id)
{
	fz_ctx *f = calloc(1, sizeof(*f));

	if (f == NULL) {
		abort();
	}
	f->magic      = FZ_MAGIC;
	f->cx.srv     = &fz_srv;
	f->cx.timer   = (nng_aio *) (void *) f;
	f->cx.pipe_id = pipe_id;
	ipcqd_node_init(&f->cx.all);
	ipcqd_node_init(&f->cx.idle);
	ipcqd_node_init(&f->cx.done);
	ipcqd_node_init(&f->cx.w.node);
	f->next = fz_all;
	fz_all  = f;
	return &f->cx;
}

static void
fz_setup(void)
{
	ipcqd_config cfg;

	fz_verbose = getenv("FUZZ_VERBOSE") != NULL;
	ipcqd_log_set_level(IPCQD_LOG_ERROR);
	ipcqd_config_init(&cfg);
	/* Small parking bounds, so that EBUSY is reachable too. */
	cfg.max_parked       = 8;
	cfg.max_parked_bytes = 64 * 1024;
	if (ipcqd_broker_new(&fz_b, &cfg) != 0) {
		abort();
	}
	/* A fixed epoch, so that handle ids are the same in every run and
	 * a corpus can name them: 0x1000000000000001, ...02, ... */
	fz_b->epoch = 1ull << 60;
	/* Never started: no socket, no listener, anonymous segments. The
	 * server is only the parking bounds and the "stopping" flag, which
	 * makes the broker drop the replies of completed parked requests
	 * (sv_send) instead of sending them. */
	fz_srv.b = fz_b;
	pthread_mutex_init(&fz_srv.mtx, NULL);
	ipcqd_list_init(&fz_srv.all);
	ipcqd_list_init(&fz_srv.idle);
	fz_srv.stopping = true;
	fz_b->srv       = &fz_srv;
}

static void
fz_session(uint32_t pipe_id, bool add)
{
	ipcqd_broker_lock(fz_b);
	if (add) {
		if (ipcqd_session_add(fz_b, pipe_id, 1, 1) != 0) {
			abort();
		}
	} else {
		ipcqd_session_remove(fz_b, pipe_id);
	}
	ipcqd_broker_unlock(fz_b);
}

static void
fz_frame(uint8_t flags, const uint8_t *buf, size_t len)
{
	uint32_t   pipe_id = 1 + (flags & 1);
	ipcqd_ctx *cx      = fz_ctx_new(pipe_id);

	if (flags & 2) {
		fz_timers(true);
	}
	if (ipcqd_dispatch(fz_b, cx, buf, len) == IPCQD_REPLIED) {
		fz_check_reply(cx);
	}
	fz_timers(false);
	if (flags & 4) {
		fz_session(pipe_id, false);
		fz_timers(false);
		fz_session(pipe_id, true);
	}
}

/* Everything goes, and the broker's counts must agree that it did. */
static void
fz_teardown(void)
{
	ipcqd_node *n;

	for (uint32_t p = 1; p <= FZ_PIPES; p++) {
		fz_session(p, false);
	}
	fz_timers(false);
	ipcqd_broker_lock(fz_b);
	if (fz_srv.parked != 0 || fz_srv.parked_bytes != 0 ||
	    fz_b->handles.count != 0 || fz_b->sessions.count != 0) {
		fprintf(stderr, "fuzz_request: after every connection left: "
		                "%d parked, %zu parked bytes, %zu handles\n",
		    fz_srv.parked, fz_srv.parked_bytes,
		    (size_t) fz_b->handles.count);
		abort();
	}
	while ((n = ipcqd_list_first(&fz_b->queues)) != NULL) {
		ipcqd_broker_delete_queue(fz_b,
		    IPCQD_CONTAINER(n, ipcqd_queue, node));
	}
	ipcqd_broker_unlock(fz_b);
	while (fz_all != NULL) {
		fz_ctx *f = fz_all;
		fz_all    = f->next;
		if (f->cx.reply != NULL || f->cx.req != NULL ||
		    ipcqd_node_linked(&f->cx.w.node)) {
			fprintf(stderr, "fuzz_request: a request was never "
			                "answered\n");
			abort();
		}
		free(f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	size_t      off = 0;

	if (!ready) {
		fz_setup();
		ready = true;
	}
	fz_b->next_handle = 0;
	for (uint32_t p = 1; p <= FZ_PIPES; p++) {
		fz_session(p, true);
	}
	for (int i = 0; i < FZ_MAX_FRAMES && off + 3 <= size; i++) {
		uint8_t flags = data[off];
		size_t  len   = (size_t) data[off + 1] | (size_t) data[off + 2] << 8;

		off += 3;
		if (len > size - off) {
			len = size - off;
		}
		fz_frame(flags, data + off, len);
		off += len;
	}
	fz_teardown();
	return 0;
}
