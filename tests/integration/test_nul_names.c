/*
 * integration.nul_names — a queue name with an embedded NUL byte is
 * refused with EBADNAME on its full wire length, never cut short: open,
 * stats, purge, delete and shutdown of "nul.q\0x" leave the queue
 * "nul.q" alone, on the shared-memory and the socket path.
 *
 * libipcq cannot even say such a name (its names are C strings), so the
 * requests are packed by hand and sent on a raw REQ socket.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "th_raw.h"

#define NN_QUEUE  "nul.q"
#define NN_MARKED "nul.q~x" /* packed, then '~' becomes NUL */
#define NN_LEAD   "~nul.q"  /* a name that starts with NUL */

/* Pack req (whose name is `marked`), turn the '~' of the name into a
 * NUL byte on the wire, send it and expect EBADNAME. */
static void
nn_expect_ebadname(nng_socket s, Ipcq__V1__Request *req, const char *marked,
    const char *what)
{
	size_t           len = ipcq__v1__request__get_packed_size(req);
	uint8_t         *buf = malloc(len);
	uint8_t         *at;
	Ipcq__V1__Reply *reply = NULL;
	int              rv;

	ck_assert_ptr_nonnull(buf);
	ipcq__v1__request__pack(req, buf);
	at = memmem(buf, len, marked, strlen(marked));
	ck_assert_ptr_nonnull(at);
	*(uint8_t *) memchr(at, '~', strlen(marked)) = 0;
	rv = th_raw_call(s, buf, len, &reply);
	free(buf);
	ck_assert_msg(rv == 0, "%s: no valid reply (%s)", what,
	    rv < 0 ? "undecodable Reply" : nng_strerror(rv));
	ck_assert_msg((int) reply->status == IPCQ_EBADNAME && strstr(reply->message,
	                  "NUL") != NULL,
	    "%s: status %s \"%s\", expected EBADNAME for the NUL byte", what,
	    ipcq_err_name((int) reply->status), reply->message);
	ipcq__v1__reply__free_unpacked(reply, NULL);
}

static void
nn_open(nng_socket s, const char *marked, int want_shm, const char *what)
{
	Ipcq__V1__Request     req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest open = IPCQ__V1__OPEN_REQUEST__INIT;

	open.queue    = (char *) marked;
	open.roles    = IPCQ__V1__ROLE__ROLE_CONSUMER;
	open.want_shm = want_shm;
	req.version   = IPCQ_PROTOCOL_VERSION;
	req.body_case = IPCQ__V1__REQUEST__BODY_OPEN;
	req.open      = &open;
	nn_expect_ebadname(s, &req, marked, what);
}

/* Stats, purge, delete, shutdown: each body is { string queue = 1 }. */
static void
nn_by_name(nng_socket s, Ipcq__V1__Request__BodyCase body,
    const char *marked, const char *what)
{
	Ipcq__V1__Request         req = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__StatsRequest    st  = IPCQ__V1__STATS_REQUEST__INIT;
	Ipcq__V1__PurgeRequest    pu  = IPCQ__V1__PURGE_REQUEST__INIT;
	Ipcq__V1__DeleteRequest   de  = IPCQ__V1__DELETE_REQUEST__INIT;
	Ipcq__V1__ShutdownRequest sh  = IPCQ__V1__SHUTDOWN_REQUEST__INIT;

	req.version   = IPCQ_PROTOCOL_VERSION;
	req.body_case = body;
	st.queue = pu.queue = de.queue = sh.queue = (char *) marked;
	switch (body) {
	case IPCQ__V1__REQUEST__BODY_STATS:
		req.stats = &st;
		break;
	case IPCQ__V1__REQUEST__BODY_PURGE:
		req.purge = &pu;
		break;
	case IPCQ__V1__REQUEST__BODY_DELETE:
		req.delete_ = &de;
		break;
	default:
		req.shutdown = &sh;
		break;
	}
	nn_expect_ebadname(s, &req, marked, what);
}

static ipcq_queue *
nn_queue(ipcq_client *c, int transport)
{
	ipcq_queue_opts o;
	ipcq_queue     *q;

	ipcq_queue_opts_init(&o);
	o.transport = transport;
	q           = th_queue(c, NN_QUEUE, &o);
	ck_assert_int_eq(ipcq_queue_is_shm(q), transport == IPCQ_TRANSPORT_AUTO);
	return q;
}

START_TEST(names_with_a_nul_are_refused_and_touch_nothing)
{
	ipcq_client *c    = th_client();
	ipcq_queue  *shmp = nn_queue(c, IPCQ_TRANSPORT_AUTO);
	ipcq_queue  *sockp = nn_queue(c, IPCQ_TRANSPORT_SOCKET);
	ipcq_stats   st;
	nng_socket   s;

	/* "nul.q" holds 2 messages from each path. */
	th_send_str(shmp, "shm-1");
	th_send_str(sockp, "sock-1");
	th_send_str(shmp, "shm-2");
	th_send_str(sockp, "sock-2");

	th_raw_open(&s, th_url(), 5000);
	nn_open(s, NN_MARKED, 0, "open nul.q\\0x (socket)");
	nn_open(s, NN_MARKED, 1, "open nul.q\\0x (shared memory)");
	nn_by_name(s, IPCQ__V1__REQUEST__BODY_STATS, NN_MARKED, "stats");
	/* Not "every queue", as an empty name would be. */
	nn_by_name(s, IPCQ__V1__REQUEST__BODY_STATS, NN_LEAD, "stats \\0nul.q");
	nn_by_name(s, IPCQ__V1__REQUEST__BODY_PURGE, NN_MARKED, "purge");
	nn_by_name(s, IPCQ__V1__REQUEST__BODY_DELETE, NN_MARKED, "delete");
	nn_by_name(s, IPCQ__V1__REQUEST__BODY_SHUTDOWN, NN_MARKED, "shutdown");
	/* The raw connection is still served. */
	th_raw_expect(th_raw_open_queue(s, "nul.raw", 0), IPCQ_OK,
	    "open nul.raw after the refusals");
	th_raw_close(s);

	/* "nul.q" is untouched: not created twice, purged, deleted, ended. */
	th_stats(c, NN_QUEUE, &st);
	ck_assert_uint_eq(st.depth, 4);
	ck_assert_uint_eq(st.sent, 4);
	ck_assert_uint_eq(st.purged, 0);
	ck_assert_uint_eq(st.consumers, 0);
	ck_assert_int_eq(st.ended, 0);
	/* Both paths still move its messages, in order. */
	th_send_str(shmp, "shm-3");
	th_send_str(sockp, "sock-3");
	ipcq_queue *shmc  = nn_queue(c, IPCQ_TRANSPORT_AUTO);
	ipcq_queue *sockc = nn_queue(c, IPCQ_TRANSPORT_SOCKET);
	th_expect_recv(sockc, "shm-1", 1000);
	th_expect_recv(shmc, "sock-1", 1000);
	th_expect_recv(sockc, "shm-2", 1000);
	th_expect_recv(shmc, "sock-2", 1000);
	th_expect_recv(shmc, "shm-3", 1000);
	th_expect_recv(sockc, "sock-3", 1000);
	th_stats(c, NN_QUEUE, &st);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.sent, 6);
	ck_assert_uint_eq(st.received, 6);
	ipcq_queue_close(shmc);
	ipcq_queue_close(sockc);
	ipcq_queue_close(shmp);
	ipcq_queue_close(sockp);
	ck_assert_int_eq(ipcq_client_delete(c, NN_QUEUE), 0);
	ck_assert_int_eq(ipcq_client_delete(c, "nul.raw"), 0);
	ipcq_client_close(c);
}
END_TEST

static Suite *
nul_names_suite(void)
{
	Suite *s  = suite_create("nul_names");
	TCase *tc = th_tcase("nul_names");

	tcase_add_test(tc, names_with_a_nul_are_refused_and_touch_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(nul_names_suite());
}
