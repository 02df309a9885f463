/*
 * integration.stopped_client — a client stopped (SIGSTOP) inside a
 * queue's segment lock must not stall the broker: other queues are served
 * as usual, requests on that queue get IPCQ_EBUSY instead of hanging, and
 * once the holder lets go (SIGCONT) or dies (SIGKILL: EOWNERDEAD) the
 * queue works again — including the leases of a client that died while
 * the lock was held, which come back then (docs/shm.md).
 *
 * The lock holder is a child of the test that maps the queue's segment
 * and takes its lock the way libipcq does, then stops itself.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "th_seg.h"

/* Fork a child that takes queue's segment lock and stops inside it; on
 * SIGCONT it unlocks and exits 0. Returns once the child is stopped. */
static pid_t
stop_in_lock(const char *queue)
{
	ipcqi_seg seg;
	pid_t     pid;
	int       st;

	th_seg_map(queue, &seg, NULL, 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		if (ipcqi_seg_lock(&seg) != 0) {
			_exit(3);
		}
		raise(SIGSTOP);
		ipcqi_seg_unlock(&seg);
		_exit(0);
	}
	ipcqi_seg_unmap(&seg);
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert_msg(WIFSTOPPED(st), "lock holder did not stop: %d", st);
	return pid;
}

static ipcq_queue *
socket_queue(ipcq_client *c, const char *name, int ack_mode)
{
	ipcq_queue_opts o;

	ipcq_queue_opts_init(&o);
	o.transport = IPCQ_TRANSPORT_SOCKET; /* this process never blocks
	                                        on the stopped lock itself */
	o.ack_mode  = ack_mode;
	return th_queue(c, name, &o);
}

START_TEST(stopped_lock_holder_does_not_stall_other_queues)
{
	ipcq_client *c = th_client();
	ipcq_queue  *a = socket_queue(c, "stp.a", IPCQ_ACK_AUTO);
	ipcq_queue  *b = th_queue(c, "stp.b", NULL); /* shared memory */
	ipcq_msg    *m = NULL;
	ipcq_stats   st;
	pid_t        holder;
	int          rv;

	th_send_str(a, "first");
	holder = stop_in_lock("stp.a");

	/* Another queue: served as usual, on both paths. */
	th_send_str(b, "b1");
	th_expect_recv(b, "b1", TH_WAIT_MS);
	th_assert_serving();
	/* The stuck queue: a clear EBUSY, not a hang; stats still answer. */
	rv = ipcq_queue_send(a, "second", 6, 5000);
	ck_assert_msg(rv == IPCQ_EBUSY, "send to stuck queue: %s",
	    ipcq_err_name(rv));
	rv = ipcq_queue_recv(a, &m, 5000);
	ck_assert_msg(rv == IPCQ_EBUSY, "recv from stuck queue: %s",
	    ipcq_err_name(rv));
	th_stats(c, "stp.a", &st);
	ck_assert_uint_eq(st.sent, 1);

	/* The holder dies inside the lock: the very next request recovers
	 * it (EOWNERDEAD) and goes through. */
	ck_assert_int_eq(kill(holder, SIGKILL), 0);
	ck_assert_int_eq(waitpid(holder, NULL, 0), holder);
	th_send_str(a, "second");
	th_expect_recv(a, "first", TH_WAIT_MS);
	th_expect_recv(a, "second", TH_WAIT_MS);
	th_stats(c, "stp.a", &st);
	ck_assert_uint_eq(st.sent, 2);
	ck_assert_uint_eq(st.received, 2);
	ck_assert_uint_eq(st.depth, 0);
	ipcq_queue_close(a);
	ipcq_queue_close(b);
	ipcq_client_close(c);
}
END_TEST

static int
lease_returned(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->in_flight == 0 && st->redelivered == 1 && st->depth == 1;
}

START_TEST(leases_of_a_client_that_died_meanwhile_come_back)
{
	ipcq_client *c = th_client();
	ipcq_queue  *a = socket_queue(c, "stp.l", IPCQ_ACK_EXPLICIT);
	ipcq_msg    *m = NULL;
	th_proc     *cons;
	pid_t        holder;
	int          st;

	th_send_str(a, "task");
	setenv("IPCQ_TRANSPORT", "socket", 1);
	cons = th_peer("consume", "stp.l", "--ack", "explicit", "--hold", "1",
	    (char *) NULL);
	unsetenv("IPCQ_TRANSPORT");
	ck_assert_int_eq(th_proc_event(cons, "HOLD", TH_WAIT_MS), 0);

	/* The consumer dies while another client holds the lock: the
	 * broker cannot return its lease yet, and must not forget it. */
	holder = stop_in_lock("stp.l");
	th_proc_kill(cons, SIGKILL);
	th_proc_wait(cons, TH_WAIT_MS);
	ck_assert_int_eq(kill(holder, SIGCONT), 0);
	ck_assert_int_eq(waitpid(holder, &st, 0), holder);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "lock holder: %d", st);

	/* Nothing rings when the holder lets go: the broker's retry does. */
	ck_assert_int_eq(th_poll_stats(c, "stp.l", lease_returned, NULL,
	                     TH_WAIT_MS),
	    0);
	char *got = th_recv_str(a, TH_WAIT_MS, &m);
	ck_assert_str_eq(got, "task");
	ck_assert_int_eq(ipcq_msg_redelivered(m), 1);
	ck_assert_int_eq(ipcq_queue_ack(a, m), 0);
	free(got);
	ipcq_msg_free(m);
	th_proc_free(cons);
	ipcq_queue_close(a);
	ipcq_client_close(c);
}
END_TEST

static Suite *
stopped_suite(void)
{
	Suite *s  = suite_create("integration.stopped_client");
	TCase *tc = th_tcase("stopped_client");

	tcase_add_test(tc, stopped_lock_holder_does_not_stall_other_queues);
	tcase_add_test(tc, leases_of_a_client_that_died_meanwhile_come_back);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(stopped_suite());
}
