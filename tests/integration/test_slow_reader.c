/*
 * integration.slow_reader — a connection that sends requests and never
 * reads the replies slows only itself: everyone else is served while it
 * stays connected, the broker drops it when its replies do not drain
 * (--drain-ms) or pile up (--max-unread-bytes), and its leases are
 * redelivered, exactly.
 *
 * The stuck reader is a raw AF_UNIX socket speaking SP by hand: any nng
 * REQ socket would read the replies in its own threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "ipcq.pb-c.h"

#define SR_PAYLOAD  (64 * 1024) /* each reply: far past a socket buffer */
#define SR_MESSAGES 400
#define SR_RECVS    300 /* requests the stuck reader sends */

static ipcq_queue *sr_open(ipcq_client *c, const char *name, int ack_mode,
    int transport);

/* ------------------------------------------------ SP over a raw socket */

static void
sr_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ck_assert_msg(poll(&pfd, 1, TH_WAIT_MS) == 1,
		    "raw client: cannot write its requests");
		ssize_t n = write(fd, p, len);
		ck_assert_msg(n > 0 || errno == EAGAIN, "raw write: %s",
		    strerror(errno));
		if (n > 0) {
			p += n;
			len -= (size_t) n;
		}
	}
}

/* Read exactly len bytes: 0, or -1 at end of stream or error. */
static int
sr_read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	unsigned char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ck_assert_msg(poll(&pfd, 1, timeout_ms) == 1,
		    "raw client: nothing to read within %d ms", timeout_ms);
		ssize_t n = read(fd, p, len);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			return -1;
		}
		if (n > 0) {
			p += n;
			len -= (size_t) n;
		}
	}
	return 0;
}

/* Connect to the broker and exchange SP headers as a REQ peer. */
static int
sr_connect(void)
{
	static const unsigned char req_hdr[8] = { 0, 'S', 'P', 0, 0, 0x30, 0,
		0 };
	struct sockaddr_un sa;
	unsigned char      rep_hdr[8];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", th_sock());
	ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	sr_write_all(fd, req_hdr, sizeof(req_hdr));
	ck_assert_int_eq(sr_read_all(fd, rep_hdr, 8, TH_WAIT_MS), 0);
	ck_assert_int_eq(rep_hdr[5], 0x31); /* REP v0 */
	return fd;
}

/* Append one ipc frame to *buf: type 1, 64-bit big-endian length,
 * request id (high bit set), the packed Request. */
static void
sr_frame(unsigned char **buf, size_t *len, uint32_t id,
    const Ipcq__V1__Request *req)
{
	size_t         plen = ipcq__v1__request__get_packed_size(req);
	uint64_t       flen = 4 + plen;
	unsigned char *f;

	*buf = realloc(*buf, *len + 13 + plen);
	ck_assert_ptr_nonnull(*buf);
	f    = *buf + *len;
	f[0] = 1;
	for (int i = 0; i < 8; i++) {
		f[1 + i] = (unsigned char) (flen >> (56 - 8 * i));
	}
	id |= 0x80000000u;
	for (int i = 0; i < 4; i++) {
		f[9 + i] = (unsigned char) (id >> (24 - 8 * i));
	}
	ipcq__v1__request__pack(req, f + 13);
	*len += 13 + plen;
}

/* Send frames in one write: many small writes would each cost a socket
 * buffer's worth of overhead, and block on the broker's reading. */
static void
sr_send(int fd, uint32_t id, const Ipcq__V1__Request *req, int copies)
{
	unsigned char *buf = NULL;
	size_t         len = 0;

	for (int i = 0; i < copies; i++) {
		sr_frame(&buf, &len, id + (uint32_t) i, req);
	}
	sr_write_all(fd, buf, len);
	free(buf);
}

/* Read one reply frame and decode it (caller frees). */
static Ipcq__V1__Reply *
sr_recv(int fd)
{
	unsigned char    head[9];
	uint64_t         len = 0;
	unsigned char   *body;
	Ipcq__V1__Reply *rep;

	ck_assert_int_eq(sr_read_all(fd, head, 9, TH_WAIT_MS), 0);
	for (int i = 1; i < 9; i++) {
		len = len << 8 | head[i];
	}
	ck_assert_uint_ge(len, 4);
	ck_assert_uint_lt(len, 1u << 30);
	body = malloc(len);
	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq(sr_read_all(fd, body, len, TH_WAIT_MS), 0);
	rep = ipcq__v1__reply__unpack(NULL, len - 4, body + 4);
	free(body);
	ck_assert_ptr_nonnull(rep);
	return rep;
}

/* The stuck reader: opens name as an explicit-ack consumer (reading that
 * one reply), then sends n recv requests and reads nothing more. */
static int
sr_stuck_reader(const char *name, int n)
{
	Ipcq__V1__Request     req  = IPCQ__V1__REQUEST__INIT;
	Ipcq__V1__OpenRequest open = IPCQ__V1__OPEN_REQUEST__INIT;
	Ipcq__V1__RecvRequest recv = IPCQ__V1__RECV_REQUEST__INIT;
	Ipcq__V1__Reply      *rep;
	uint64_t              handle;
	int                   fd = sr_connect();

	open.queue    = (char *) name;
	open.roles    = IPCQ__V1__ROLE__ROLE_CONSUMER;
	open.ack_mode = IPCQ__V1__ACK_MODE__ACK_EXPLICIT;
	req.version   = IPCQ_PROTOCOL_VERSION;
	req.body_case = IPCQ__V1__REQUEST__BODY_OPEN;
	req.open      = &open;
	sr_send(fd, 1, &req, 1);
	rep = sr_recv(fd);
	ck_assert_int_eq(rep->status, IPCQ__V1__STATUS__STATUS_OK);
	ck_assert_int_eq(rep->body_case, IPCQ__V1__REPLY__BODY_OPEN);
	handle = rep->open->handle;
	ipcq__v1__reply__free_unpacked(rep, NULL);

	recv.handle       = handle;
	recv.max_messages = 1;
	recv.timeout_ms   = 0;
	req.body_case     = IPCQ__V1__REQUEST__BODY_RECV;
	req.recv          = &recv;
	sr_send(fd, 2, &req, n);
	return fd;
}

/* Disconnects are still noticed: a consumer that hangs up holding a
 * lease gets it redelivered. (Closing a pipe whose peer is still sending
 * can wedge nng 1.5.2's reaper, after which no disconnect is reported:
 * the broker must not have done that when it dropped the reader.) */
static int
sr_probe_returned(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->consumers == 0 && st->in_flight == 0 && st->redelivered == 1;
}

static void
sr_expect_disconnects_seen(ipcq_client *c)
{
	ipcq_queue *p = sr_open(c, "slow.probe", IPCQ_ACK_AUTO,
	    IPCQ_TRANSPORT_SOCKET);
	th_proc    *holder;

	th_send_str(p, "probe");
	holder = th_peer("consume", "slow.probe", "--ack", "explicit", "--hold",
	    "1", (char *) NULL);
	th_expect_event(holder, "HOLD");
	th_proc_kill(holder, SIGKILL); /* hangs up holding the lease */
	(void) th_proc_wait(holder, TH_WAIT_MS);
	th_proc_free(holder);
	ck_assert_msg(th_poll_stats(c, "slow.probe", sr_probe_returned, NULL,
	                  TH_WAIT_MS) == 0,
	    "a disconnect after the drop was never noticed");
	ipcq_queue_close(p);
	ck_assert_int_eq(ipcq_client_delete(c, "slow.probe"), 0);
}

/* --------------------------------------------------------- the queue */

static ipcq_queue *
sr_open(ipcq_client *c, const char *name, int ack_mode, int transport)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.ack_mode          = ack_mode;
	o.transport         = transport;
	o.max_message_bytes = SR_PAYLOAD;
	return th_queue(c, name, &o);
}

/* SR_MESSAGES payloads of SR_PAYLOAD bytes, "m-<index>" then filler,
 * and the end of the stream. */
static void
sr_fill(ipcq_client *c, const char *name)
{
	ipcq_queue *p   = sr_open(c, name, IPCQ_ACK_AUTO, IPCQ_TRANSPORT_AUTO);
	char       *buf = malloc(SR_PAYLOAD);

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'x', SR_PAYLOAD);
	for (int i = 0; i < SR_MESSAGES; i++) {
		int n = snprintf(buf, 16, "m-%d", i);
		buf[n] = '.';
		ck_assert_int_eq(ipcq_queue_send(p, buf, SR_PAYLOAD, 5000), 0);
	}
	free(buf);
	ck_assert_int_eq(ipcq_queue_end(p), 0);
	ipcq_queue_close(p);
}

/* Drain name through transport: every message exactly once, and exactly
 * `redelivered` of them flagged as redelivered. */
static void
sr_drain(ipcq_client *c, const char *name, int transport,
    uint64_t redelivered)
{
	ipcq_queue *q    = sr_open(c, name, IPCQ_ACK_AUTO, transport);
	char        seen[SR_MESSAGES] = { 0 };
	uint64_t    redl = 0;
	ipcq_msg   *m;
	int         rv;

	ck_assert_int_eq(ipcq_queue_is_shm(q),
	    transport == IPCQ_TRANSPORT_AUTO);
	for (int got = 0; got < SR_MESSAGES; got++) {
		ck_assert_int_eq(ipcq_queue_recv(q, &m, 5000), 0);
		ck_assert_uint_eq(ipcq_msg_size(m), SR_PAYLOAD);
		int i = atoi((const char *) ipcq_msg_data(m) + 2);
		ck_assert_int_ge(i, 0);
		ck_assert_int_lt(i, SR_MESSAGES);
		ck_assert_msg(!seen[i], "message %d delivered twice", i);
		seen[i] = 1;
		redl += ipcq_msg_redelivered(m) != 0;
		ipcq_msg_free(m);
	}
	ck_assert_uint_eq(redl, redelivered);
	rv = ipcq_queue_recv(q, &m, 0);
	ck_assert_msg(rv == IPCQ_EOF, "after the last: %s",
	    ipcq_err_name(rv));
	ipcq_queue_close(q);
}

static int
sr_in_flight_is(const ipcq_stats *st, void *arg)
{
	return st->in_flight == *(uint64_t *) arg;
}

/* The stuck reader's session is gone: every lease it took is back. */
static int
sr_all_returned(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->consumers == 0 && st->in_flight == 0 &&
	    st->redelivered == st->received;
}

/* Another client is served, through both paths, while the stuck reader
 * is connected: open, send, receive, stats. */
static void
sr_bystander(ipcq_client *c, const char *name, int transport)
{
	ipcq_queue *q = sr_open(c, name, IPCQ_ACK_AUTO, transport);
	ipcq_stats  st;

	th_send_str(q, "still-served");
	th_expect_recv(q, "still-served", 5000);
	ck_assert_int_eq(ipcq_queue_stats(q, &st), 0);
	ck_assert_uint_eq(st.sent, 1);
	ipcq_queue_close(q);
	ck_assert_int_eq(ipcq_client_delete(c, name), 0);
}

/* Drain the queue and check the totals once the stuck reader has held
 * `leased` messages and got them redelivered. */
static void
sr_check_all_back(ipcq_client *c, uint64_t leased, int transport)
{
	ipcq_stats st;

	th_stats(c, "slow.big", &st);
	ck_assert_uint_eq(st.depth, SR_MESSAGES);
	ck_assert_uint_eq(st.received, leased);
	ck_assert_uint_eq(st.redelivered, leased);
	sr_drain(c, "slow.big", transport, leased);
	th_stats(c, "slow.big", &st);
	ck_assert_uint_eq(st.received, leased + SR_MESSAGES);
	ck_assert_uint_eq(st.acked, SR_MESSAGES);
	ck_assert_uint_eq(st.depth, 0);
	/* The listener watchdog probes like a client: had the stuck
	 * reader stalled the server, it would have "repaired" a healthy
	 * listener. */
	ck_assert_msg(!th_broker_log_has(th_main_broker(), "stopped accepting"),
	    "the watchdog fired");
}

/* A stuck reader the broker drops by itself (why: the option named in
 * the broker's warning): while its socket is still open here, the
 * broker ends its session and returns every lease it took. */
static void
sr_dropped_by_broker(const char *why, int transport)
{
	ipcq_client *c = th_client();
	ipcq_stats   st;
	int          fd;

	sr_fill(c, "slow.big");
	fd = sr_stuck_reader("slow.big", SR_RECVS);
	ck_assert_msg(th_poll_stats(c, "slow.big", sr_all_returned, NULL,
	                  TH_WAIT_MS) == 0,
	    "the stuck reader was not dropped (%s)", why);
	ck_assert_msg(th_broker_log_has(th_main_broker(), why),
	    "no warning naming %s", why);
	th_stats(c, "slow.big", &st);
	ck_assert_uint_gt(st.received, 0);
	ck_assert_uint_le(st.received, SR_RECVS);
	if (strcmp(why, "--drain-ms") != 0) {
		/* Cut short: not every request was served. */
		ck_assert_uint_lt(st.received, SR_RECVS);
	}
	sr_check_all_back(c, st.received, transport);
	sr_bystander(c, "slow.other.sock", IPCQ_TRANSPORT_SOCKET);
	sr_expect_disconnects_seen(c);
	close(fd);
	ipcq_client_close(c);
}

/* ---------------------------------------------------------------- tests */

START_TEST(a_reader_that_never_reads_stalls_only_itself)
{
	ipcq_client *c = th_client();
	uint64_t     n = SR_RECVS;
	ipcq_stats   st;
	int          fd;

	sr_fill(c, "slow.big");
	fd = sr_stuck_reader("slow.big", SR_RECVS);
	/* Every request is served although no reply is read... */
	ck_assert_msg(th_poll_stats(c, "slow.big", sr_in_flight_is, &n,
	                  TH_WAIT_MS) == 0,
	    "the broker did not serve the stuck reader's %d requests",
	    SR_RECVS);
	/* ...and everyone else too, on both paths, while it is connected:
	 * its leases are still its own after the bystanders. */
	sr_bystander(c, "slow.other.shm", IPCQ_TRANSPORT_AUTO);
	sr_bystander(c, "slow.other.sock", IPCQ_TRANSPORT_SOCKET);
	th_assert_serving();
	th_stats(c, "slow.big", &st);
	ck_assert_uint_eq(st.in_flight, SR_RECVS);
	ck_assert_uint_eq(st.consumers, 1);
	ck_assert_uint_eq(st.redelivered, 0);
	ck_assert_uint_eq(st.received, SR_RECVS);
	/* It hangs up without reading: its 300 leases come back. */
	close(fd);
	ck_assert_int_eq(th_poll_stats(c, "slow.big", sr_all_returned, NULL,
	                     TH_WAIT_MS),
	    0);
	sr_check_all_back(c, SR_RECVS, IPCQ_TRANSPORT_SOCKET);
	ipcq_client_close(c);
}
END_TEST

START_TEST(a_reader_that_does_not_drain_is_dropped)
{
	sr_dropped_by_broker("--drain-ms", IPCQ_TRANSPORT_AUTO);
}
END_TEST

START_TEST(a_reader_over_max_unread_bytes_is_dropped)
{
	sr_dropped_by_broker("--max-unread-bytes", IPCQ_TRANSPORT_SOCKET);
}
END_TEST

START_TEST(a_reader_over_max_unread_replies_is_dropped)
{
	sr_dropped_by_broker("--max-unread-replies", IPCQ_TRANSPORT_AUTO);
}
END_TEST

/* Deadlines far past the test's own waits: only a bound can drop. */
static void
begin_patient(void)
{
	static const char *const args[] = { "--drain-ms", "600000", NULL };

	th_begin_args(args);
}

static void
begin_drain_1s(void)
{
	static const char *const args[] = { "--drain-ms", "1000", NULL };

	th_begin_args(args);
}

/* 2 MiB: about 30 of the 64 KiB replies. */
static void
begin_small_unread_bytes(void)
{
	static const char *const args[] = { "--drain-ms", "600000",
		"--max-unread-bytes", "2097152", NULL };

	th_begin_args(args);
}

static void
begin_few_unread_replies(void)
{
	static const char *const args[] = { "--drain-ms", "600000",
		"--max-unread-replies", "20", NULL };

	th_begin_args(args);
}

static Suite *
slow_reader_suite(void)
{
	Suite *s = suite_create("slow_reader");
	TCase *tp = th_tcase_with("patient", begin_patient);
	TCase *td = th_tcase_with("drain", begin_drain_1s);
	TCase *tb = th_tcase_with("unread_bytes", begin_small_unread_bytes);
	TCase *tr = th_tcase_with("unread_replies", begin_few_unread_replies);

	tcase_add_test(tp, a_reader_that_never_reads_stalls_only_itself);
	tcase_add_test(td, a_reader_that_does_not_drain_is_dropped);
	tcase_add_test(tb, a_reader_over_max_unread_bytes_is_dropped);
	tcase_add_test(tr, a_reader_over_max_unread_replies_is_dropped);
	suite_add_tcase(s, tp);
	suite_add_tcase(s, td);
	suite_add_tcase(s, tb);
	suite_add_tcase(s, tr);
	return s;
}

int
main(void)
{
	return th_run(slow_reader_suite());
}
