/*
 * integration.poll — event-loop integration (ipcq_queue_pollfd): the fd
 * becomes readable when a peer process sends and not before, draining to
 * IPCQ_ETIMEDOUT re-arms it, end of stream keeps it readable, one epoll
 * set serves two queues fed by two producer processes, detach closes the
 * fd, and a broker restart makes it readable and the handle recovers;
 * examples/epoll_consumer runs against two producer processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "harness.h"

/* poll(2) one fd for reading: 1 readable, 0 not within timeout_ms. */
static int
readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int           rv;

	do {
		rv = poll(&p, 1, timeout_ms);
	} while (rv < 0 && errno == EINTR);
	ck_assert_int_ge(rv, 0);
	return rv > 0 && (p.revents & POLLIN) != 0;
}

static int
pollfd_of(ipcq_queue *q)
{
	int fd = -1;

	ck_assert_int_eq(ipcq_queue_pollfd(q, &fd), 0);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Run a gated producer peer: it opens the queue, then sends only once
 * released, so the test can look at the fd in between. */
static th_proc *
gated_producer(const char *queue, const char *id, const char *count,
    int end)
{
	th_proc *p = th_peer("produce", queue, "--id", id, "--count", count,
	    "--gate", end ? "--end" : (char *) NULL, (char *) NULL);

	th_expect_event(p, "READY");
	return p;
}

/* A consumer handle that is also an attached producer: peers that exit
 * without ending then leave the stream open (not abandoned). */
static ipcq_queue *
open_both(ipcq_client *c, const char *name)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.roles = IPCQ_ROLE_PRODUCER | IPCQ_ROLE_CONSUMER;
	return th_queue(c, name, &o);
}

START_TEST(fd_becomes_readable_when_a_peer_sends)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = open_both(c, "poll.send");
	ipcq_msg    *m = NULL;
	th_proc     *p;
	int          fd = pollfd_of(q), fd2;

	ck_assert_int_eq(ipcq_queue_pollfd(q, &fd2), 0);
	ck_assert_int_eq(fd2, fd); /* one fd per handle */
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	p = gated_producer("poll.send", "1", "1", 0);
	ck_assert(!readable(fd, 0)); /* opened, nothing sent yet */
	th_proc_release(p);
	ck_assert(readable(fd, TH_WAIT_MS));
	th_proc_expect_exit(p, 0);
	th_proc_free(p);

	/* Readable is level: it stays so until a recv finds nothing. */
	ck_assert(readable(fd, 0));
	th_expect_recv(q, "p1-0", 0);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_ETIMEDOUT);
	ck_assert(!readable(fd, 0)); /* drained and re-armed */

	/* The re-armed wait fires again for the next send. */
	p = gated_producer("poll.send", "2", "2", 0);
	ck_assert(!readable(fd, 0));
	th_proc_release(p);
	ck_assert(readable(fd, TH_WAIT_MS));
	th_proc_expect_exit(p, 0);
	th_proc_free(p);
	th_expect_recv(q, "p2-0", 0);
	th_expect_recv(q, "p2-1", 0);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_ETIMEDOUT);
	ck_assert(!readable(fd, 0));

	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(pollfd_is_readable_at_once_when_messages_wait)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "poll.early", NULL);
	ipcq_queue  *in;
	ipcq_msg    *m = NULL;
	int          fd;

	th_send_str(q, "first");
	in = th_queue(c, "poll.early", NULL);
	fd = pollfd_of(in);
	ck_assert(readable(fd, TH_WAIT_MS));
	th_expect_recv(in, "first", 0);
	ck_assert_int_eq(ipcq_queue_recv(in, &m, 0), IPCQ_ETIMEDOUT);
	ck_assert(!readable(fd, 0));
	/* A send by a handle of this very client wakes it too. */
	th_send_str(q, "second");
	ck_assert(readable(fd, TH_WAIT_MS));
	th_expect_recv(in, "second", 0);
	ipcq_queue_close(in);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(end_of_stream_keeps_the_fd_readable)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "poll.eof", NULL);
	ipcq_msg    *m = NULL;
	int          fd = pollfd_of(q), rv = 0, got = 0;
	th_proc     *p;

	p = gated_producer("poll.eof", "1", "3", 1);
	ck_assert(!readable(fd, 0));
	th_proc_release(p);
	while (rv != IPCQ_EOF) {
		ck_assert_msg(readable(fd, TH_WAIT_MS), "no wake-up after %d", got);
		while ((rv = ipcq_queue_recv(q, &m, 0)) == 0) {
			ipcq_msg_free(m);
			got++;
		}
		ck_assert_msg(rv == IPCQ_ETIMEDOUT || rv == IPCQ_EOF, "recv: %s",
		    ipcq_err_name(rv));
	}
	ck_assert_int_eq(got, 3);
	th_proc_expect_exit(p, 0);
	th_proc_free(p);
	ck_assert(readable(fd, 0)); /* EOF is sticky, and so is readable */
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_EOF);
	ck_assert(readable(fd, 0));
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(abandoned_stream_sleeps_until_a_new_producer)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "poll.aband", NULL);
	ipcq_msg    *m = NULL;
	int          fd = pollfd_of(q), rv = 0, got = 0;
	th_proc     *p;

	/* A producer that exits without ending: once drained, abandoned. */
	p = th_peer("produce", "poll.aband", "--id", "1", "--count", "1",
	    (char *) NULL);
	th_proc_expect_exit(p, 0);
	th_proc_free(p);
	while (rv != IPCQ_EABANDONED) {
		ck_assert_msg(readable(fd, TH_WAIT_MS), "no wake-up (%d)", got);
		while ((rv = ipcq_queue_recv(q, &m, 0)) == 0) {
			ipcq_msg_free(m);
			got++;
		}
		ck_assert_msg(rv == IPCQ_ETIMEDOUT || rv == IPCQ_EABANDONED,
		    "recv: %s", ipcq_err_name(rv));
	}
	ck_assert_int_eq(got, 1);
	/* Not final, so not readable: the loop sleeps instead of spinning. */
	ck_assert(!readable(fd, 0));
	p = gated_producer("poll.aband", "2", "1", 1);
	ck_assert(!readable(fd, 0));
	th_proc_release(p);
	ck_assert(readable(fd, TH_WAIT_MS));
	th_expect_recv(q, "p2-0", 0);
	th_proc_expect_exit(p, 0);
	th_proc_free(p);
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_EOF);
	ck_assert(readable(fd, 0));
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

/* Drain one queue (edge-triggered): count messages, check their order;
 * true once it reached end of stream. */
static int
drain_one(ipcq_queue *q, int prod, long *count)
{
	ipcq_msg *m = NULL;
	char      want[32];
	int       rv;

	while ((rv = ipcq_queue_recv(q, &m, 0)) == 0) {
		snprintf(want, sizeof(want), "p%d-%ld", prod, *count);
		ck_assert_int_eq(ipcq_msg_size(m), strlen(want));
		ck_assert(memcmp(ipcq_msg_data(m), want, strlen(want)) == 0);
		ipcq_msg_free(m);
		(*count)++;
	}
	ck_assert_msg(rv == IPCQ_ETIMEDOUT || rv == IPCQ_EOF, "recv: %s",
	    ipcq_err_name(rv));
	return rv == IPCQ_EOF;
}

START_TEST(one_epoll_set_consumes_two_queues)
{
	ipcq_client       *c     = th_client();
	ipcq_queue        *qs[2] = { th_queue(c, "poll.x", NULL),
		       th_queue(c, "poll.y", NULL) };
	const long         want[2] = { 200, 300 };
	long               got[2]  = { 0, 0 };
	int                done[2] = { 0, 0 };
	int                ep      = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev;
	th_proc           *p[2];

	ck_assert_int_ge(ep, 0);
	for (int i = 0; i < 2; i++) {
		ev.events   = EPOLLIN | EPOLLET;
		ev.data.u32 = (uint32_t) i;
		ck_assert_int_eq(
		    epoll_ctl(ep, EPOLL_CTL_ADD, pollfd_of(qs[i]), &ev), 0);
	}
	p[0] = th_peer("produce", "poll.x", "--id", "1", "--count", "200",
	    "--end", (char *) NULL);
	p[1] = th_peer("produce", "poll.y", "--id", "2", "--count", "300",
	    "--batch", "7", "--end", (char *) NULL);
	while (!done[0] || !done[1]) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, TH_WAIT_MS);
		ck_assert_msg(n > 0, "epoll_wait: %d (got %ld, %ld)", n, got[0],
		    got[1]);
		for (int k = 0; k < n; k++) {
			uint32_t i = evs[k].data.u32;
			if (!done[i]) {
				done[i] = drain_one(qs[i], (int) i + 1, &got[i]);
			}
		}
	}
	ck_assert_int_eq(got[0], want[0]);
	ck_assert_int_eq(got[1], want[1]);
	th_proc_expect_exit(p[0], 0);
	th_proc_expect_exit(p[1], 0);
	th_proc_free(p[0]);
	th_proc_free(p[1]);
	close(ep);
	ipcq_queue_close(qs[0]);
	ipcq_queue_close(qs[1]);
	ipcq_client_close(c);
}
END_TEST

START_TEST(detach_closes_the_fd)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = th_queue(c, "poll.detach", NULL);
	ipcq_queue  *r = th_queue(c, "poll.detach", NULL);
	int          fd = pollfd_of(q), fr = pollfd_of(r);

	/* One send wakes both. q then drains, so at detach q's wait is
	 * parked in the broker while r's has answered. */
	th_send_str(r, "x");
	ck_assert(readable(fr, TH_WAIT_MS));
	ck_assert(readable(fd, TH_WAIT_MS));
	th_expect_recv(q, "x", 0);
	ipcq_msg *m = NULL;
	ck_assert_int_eq(ipcq_queue_recv(q, &m, 0), IPCQ_ETIMEDOUT);
	ipcq_queue_close(q);
	errno = 0;
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ipcq_queue_close(r);
	errno = 0;
	ck_assert_int_eq(fcntl(fr, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	/* The client goes on; a new handle polls again. (Not on
	 * poll.detach: r left it without ending, so it is abandoned, and
	 * that is readable.) */
	q  = th_queue(c, "poll.detach2", NULL);
	fd = pollfd_of(q);
	ck_assert(!readable(fd, 0));
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

START_TEST(broker_restart_wakes_the_fd_and_the_handle_recovers)
{
	ipcq_client *c = th_client();
	ipcq_queue  *q = open_both(c, "poll.restart");
	ipcq_msg    *m = NULL;
	th_broker   *b = th_main_broker();
	int          fd = pollfd_of(q), rv;
	long long    t0;
	th_proc     *p;

	ck_assert(!readable(fd, 0));
	th_broker_stop_ok(b, th_sock());
	/* The parked wait fails with the connection: recv must look. */
	ck_assert(readable(fd, TH_WAIT_MS));
	ck_assert_int_eq(th_broker_start(b, th_url(), NULL, 10000), 0);
	/* recv re-opens the handle on the new connection (it may first
	 * report the lost connection while the client redials). */
	t0 = th_now_ms();
	while ((rv = ipcq_queue_recv(q, &m, 0)) == IPCQ_ECONNLOST) {
		ck_assert(readable(fd, 0));
		ck_assert_int_lt(th_now_ms() - t0, TH_WAIT_MS);
	}
	ck_assert_msg(rv == IPCQ_ETIMEDOUT, "recv: %s", ipcq_err_name(rv));
	ck_assert(!readable(fd, 0)); /* re-armed on the new handle */

	p = gated_producer("poll.restart", "1", "1", 0);
	ck_assert(!readable(fd, 0));
	th_proc_release(p);
	ck_assert(readable(fd, TH_WAIT_MS));
	th_expect_recv(q, "p1-0", 0);
	th_proc_expect_exit(p, 0);
	th_proc_free(p);
	ipcq_queue_close(q);
	ipcq_client_close(c);
}
END_TEST

#ifdef IPCQ_TEST_EPOLL_CONSUMER
START_TEST(epoll_consumer_example_counts_both_streams)
{
	const char *argv[] = { IPCQ_TEST_EPOLL_CONSUMER, "ex.a", "ex.b", NULL };
	th_proc    *cons   = th_spawn(argv, NULL);
	th_proc    *pa, *pb;

	pa = th_peer("produce", "ex.a", "--id", "1", "--count", "30", "--end",
	    (char *) NULL);
	pb = th_peer("produce", "ex.b", "--id", "2", "--count", "50", "--end",
	    (char *) NULL);
	th_proc_expect_exit(pa, 0);
	th_proc_expect_exit(pb, 0);
	th_proc_expect_exit(cons, 0);
	ck_assert_msg(strstr(th_proc_output(cons), "ex.a: 30 messages\n") &&
	        strstr(th_proc_output(cons), "ex.b: 50 messages\n") &&
	        strstr(th_proc_output(cons), "both streams ended\n"),
	    "epoll_consumer said:\n%s%s", th_proc_output(cons),
	    th_proc_stderr(cons));
	th_proc_free(pa);
	th_proc_free(pb);
	th_proc_free(cons);
}
END_TEST
#endif

static Suite *
poll_suite(void)
{
	Suite *s  = suite_create("poll");
	TCase *tc = th_tcase("poll");

	tcase_add_test(tc, fd_becomes_readable_when_a_peer_sends);
	tcase_add_test(tc, pollfd_is_readable_at_once_when_messages_wait);
	tcase_add_test(tc, end_of_stream_keeps_the_fd_readable);
	tcase_add_test(tc, abandoned_stream_sleeps_until_a_new_producer);
	tcase_add_test(tc, one_epoll_set_consumes_two_queues);
	tcase_add_test(tc, detach_closes_the_fd);
	tcase_add_test(tc, broker_restart_wakes_the_fd_and_the_handle_recovers);
#ifdef IPCQ_TEST_EPOLL_CONSUMER
	tcase_add_test(tc, epoll_consumer_example_counts_both_streams);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(poll_suite());
}
