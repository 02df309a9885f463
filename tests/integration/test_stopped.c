/*
 * integration.stopped_client — a client that holds a queue's segment lock
 * and does not let go must not stall the broker (docs/shm.md), whatever
 * state it is in: stopped (SIGSTOP), asleep in a system call (S), in
 * uninterruptible sleep (D), frozen by the cgroup freezer (`docker
 * pause`), or not a thread at all (a lock word forged to name a thread
 * id that does not exist). Other queues are served as usual on both
 * paths, requests on that queue get IPCQ_EBUSY (or, while it may still
 * be a preempted client, wait for the lock parked), the listener watchdog
 * does not take the stall for a wedged listener, and once the holder lets
 * go (SIGCONT, a release) or dies (SIGKILL: EOWNERDEAD) the queue works
 * again, including the leases of a client that died while the lock was
 * held, which come back then.
 *
 * The lock holder is a child of the test that maps the queue's segment
 * and takes its lock the way libipcq does, then stops, sleeps or is
 * frozen inside it; the forged word is written by the test itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* ------------------------------------------- holders in any state */

enum hold_kind { HOLD_SLEEPING, HOLD_DISK_WAIT, HOLD_FROZEN, HOLD_FORGED };

static const char *const hold_names[] = { "asleep (S)",
	"in uninterruptible sleep (D)", "frozen (cgroup freezer)",
	"a forged word naming a live thread" };

/* Above any pid_max (at most 2^22): no thread has this id. */
#define FORGED_TID 0x3ffffff0u

typedef struct holder {
	enum hold_kind kind;
	pid_t          pid;       /* the holder; -1 for a forged word */
	int            go;        /* write a byte: let go; -1 if none */
	char           cg[128];   /* the freezer cgroup; "" if none */
	pid_t          guard;     /* thaws cg if the test dies first */
	int            guard_fd;  /* write a byte: all is done */
	ipcqi_seg      seg;       /* the test's mapping (forged word) */
} holder;

static char
proc_state(pid_t pid)
{
	char  path[64], buf[256], *p;
	int   fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return '?';
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return '?';
	}
	buf[n] = '\0';
	p      = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* Wait (bounded; no event announces a scheduler state) until pid is in
 * state want. */
static void
expect_state(pid_t pid, char want)
{
	long long end = th_now_ms() + TH_WAIT_MS;
	char      st;

	while ((st = proc_state(pid)) != want && th_now_ms() < end) {
		usleep(1000);
	}
	ck_assert_msg(st == want, "holder %d is in state %c, not %c",
	    (int) pid, st, want);
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int ok;

	if (fd < 0) {
		return -1;
	}
	ok = write(fd, text, strlen(text)) == (ssize_t) strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

/* A frozen process ignores even SIGKILL until thawed, and a failed
 * assertion ends the test without teardown: a guard process thaws and
 * kills the holder and removes the cgroup when the test goes away (its
 * pipe reads EOF) without having said that all is done. */
static void
freeze_guard(holder *h, const char *state_path)
{
	int  gp[2];
	char b;

	ck_assert_int_eq(pipe2(gp, O_CLOEXEC), 0);
	ck_assert_int_ge(h->guard = fork(), 0);
	if (h->guard == 0) {
		close(gp[1]);
		close(h->go);
		if (read(gp[0], &b, 1) == 1) {
			_exit(0); /* released by the test */
		}
		/* The holder is not our child: its pidfd says when it has
		 * gone, and with it from the cgroup, which can then go. */
		int pfd = (int) syscall(SYS_pidfd_open, h->pid, 0);
		(void) write_file(state_path, "THAWED");
		(void) kill(h->pid, SIGKILL);
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };
			(void) poll(&p, 1, TH_WAIT_MS);
		}
		(void) rmdir(h->cg);
		_exit(0);
	}
	close(gp[0]);
	h->guard_fd = gp[1];
}

/* Freeze pid in a cgroup of its own, as `docker pause` does; false if
 * this machine offers no freezer to us (not root, no v1 freezer). */
static int
freeze(holder *h)
{
	char      path[192], state[32] = "";
	long long end = th_now_ms() + TH_WAIT_MS;

	snprintf(h->cg, sizeof(h->cg), "/sys/fs/cgroup/freezer/ipcq-test-%d",
	    (int) getpid());
	if (mkdir(h->cg, 0700) != 0) {
		h->cg[0] = '\0';
		return 0;
	}
	snprintf(path, sizeof(path), "%s/freezer.state", h->cg);
	freeze_guard(h, path);
	snprintf(path, sizeof(path), "%s/cgroup.procs", h->cg);
	snprintf(state, sizeof(state), "%d", (int) h->pid);
	ck_assert_int_eq(write_file(path, state), 0);
	snprintf(path, sizeof(path), "%s/freezer.state", h->cg);
	ck_assert_int_eq(write_file(path, "FROZEN"), 0);
	while (th_now_ms() < end) {
		int     fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n  = fd >= 0 ? read(fd, state, sizeof(state) - 1) : -1;
		if (fd >= 0) {
			close(fd);
		}
		state[n > 0 ? n : 0] = '\0';
		if (strncmp(state, "FROZEN", 6) == 0) {
			return 1;
		}
		usleep(1000);
	}
	ck_abort_msg("holder not frozen: freezer.state %s", state);
	return 0;
}

static void
thaw(holder *h)
{
	char path[192];

	if (h->cg[0] == '\0') {
		return;
	}
	snprintf(path, sizeof(path), "%s/freezer.state", h->cg);
	ck_assert_int_eq(write_file(path, "THAWED"), 0);
}

/* The child of a vfork-style clone: its parent waits for it in D state
 * while it sleeps in read(). Raw system calls on its own stack only:
 * it shares the parent's memory, and sanitizers know nothing of it (a
 * vfork() of theirs may be a fork, which would not wait). */
__attribute__((no_sanitize_address, no_sanitize_thread)) static int
disk_wait_child(void *arg)
{
	char b;

	syscall(SYS_read, *(int *) arg, &b, 1);
	syscall(SYS_exit, 0);
	return 0;
}

/* A child that takes queue's segment lock and keeps it, asleep in read()
 * on h->go (HOLD_DISK_WAIT: in a vfork-style clone, whose parent waits
 * in D state until the clone child, asleep in that read, exits). A byte
 * on h->go lets go: the holder unlocks and exits 0. */
static void
hold(holder *h, enum hold_kind kind, const char *queue)
{
	int  ready[2], go[2];
	char b = 'L';

	memset(h, 0, sizeof(*h));
	h->kind     = kind;
	h->pid      = -1;
	h->go       = -1;
	h->guard    = -1;
	h->guard_fd = -1;
	th_seg_map(queue, &h->seg, NULL, 0);
	if (kind == HOLD_FORGED) {
		/* Not a lock anyone took: a word naming a live thread (this
		 * test's own) that never locked it. Nobody will ever unlock
		 * it, and no death will release it. (A word naming a thread
		 * that does not exist is recovered: see below.) */
		__atomic_store_n((uint32_t *) (void *) &h->seg.hdr->lock,
		    (uint32_t) getpid(), __ATOMIC_RELEASE);
		return;
	}
	/* CLOEXEC: the broker and peers started later must not keep go
	 * open, so that the holder sees EOF (and exits) if the test dies. */
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	ck_assert_int_ge(h->pid = fork(), 0);
	if (h->pid == 0) {
		close(ready[0]);
		close(go[1]);
		if (ipcqi_seg_lock(&h->seg) != 0 || write(ready[1], &b, 1) != 1) {
			_exit(3);
		}
		if (kind == HOLD_DISK_WAIT) {
			static char stack[64 * 1024];
			if (clone(disk_wait_child, stack + sizeof(stack),
			        CLONE_VM | CLONE_VFORK | SIGCHLD, &go[0]) < 0) {
				_exit(5);
			}
		} else if (read(go[0], &b, 1) != 1) {
			_exit(4);
		}
		ipcqi_seg_unlock(&h->seg);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	h->go = go[1];
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	close(ready[0]);
	if (kind == HOLD_DISK_WAIT) {
		expect_state(h->pid, 'D');
	} else {
		expect_state(h->pid, 'S');
	}
	if (kind == HOLD_FROZEN && !freeze(h)) {
		/* No freezer here: an asleep holder is what a frozen one
		 * looks like to the broker (not T, not running). */
		fprintf(stderr, "no cgroup freezer: the frozen holder is "
		                "only asleep\n");
	}
}

/* Let go: asleep and in-D holders unlock and exit 0; a frozen one is
 * killed inside the lock and thawed, so the lock comes back with
 * EOWNERDEAD; a forged word is cleared. */
static void
release(holder *h)
{
	char b = 'g';
	int  st;

	if (h->kind == HOLD_FORGED) {
		__atomic_store_n((uint32_t *) (void *) &h->seg.hdr->lock, 0,
		    __ATOMIC_RELEASE);
		ipcqi_seg_unmap(&h->seg);
		return;
	}
	if (h->kind == HOLD_FROZEN) {
		ck_assert_int_eq(kill(h->pid, SIGKILL), 0);
		thaw(h);
	} else {
		ck_assert_int_eq(write(h->go, &b, 1), 1);
	}
	ck_assert_int_eq(waitpid(h->pid, &st, 0), h->pid);
	close(h->go);
	if (h->cg[0] != '\0') {
		ck_assert_int_eq(rmdir(h->cg), 0);
		ck_assert_int_eq(write(h->guard_fd, &b, 1), 1);
		ck_assert_int_eq(waitpid(h->guard, NULL, 0), h->guard);
		close(h->guard_fd);
	}
	if (h->kind == HOLD_FROZEN) {
		ck_assert_msg(WIFSIGNALED(st), "frozen holder: %d", st);
	} else {
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "lock holder: %d", st);
	}
	ipcqi_seg_unmap(&h->seg);
}

/* Round trips on other queues while the lock is held. Before the fix a
 * held lock cost the broker up to 1 s under its global lock per request
 * to its queue, and its waker as much every 100 ms: 20 rounds took
 * minutes. A round is a few milliseconds, even loaded and sanitized. */
#define HL_ROUNDS   20
#define HL_BOUND_MS 10000

START_TEST(held_lock_in_any_state_never_stalls_other_queues)
{
	enum hold_kind kind = (enum hold_kind) _i;
	ipcq_client   *c    = th_client();
	ipcq_queue    *a    = socket_queue(c, "hl.stuck", IPCQ_ACK_AUTO);
	ipcq_queue    *o    = socket_queue(c, "hl.sock", IPCQ_ACK_AUTO);
	ipcq_msg      *m    = NULL;
	ipcq_stats     st;
	holder         h;
	long long      t0;
	char           msg[32];
	int            rv;
	/* The forged word stays for three watchdog periods (1 s each): a
	 * stall would have been taken for a wedged listener by then. */
	long long      min_ms = kind == HOLD_FORGED ? 3000 : 0;

	th_send_str(a, "before");
	hold(&h, kind, "hl.stuck");
	fprintf(stderr, "holder %s\n", hold_names[kind]);

	/* Timeout 0 on a held lock: ETIMEDOUT after a short wait for it,
	 * EBUSY at once when stuck (docs/shm.md); nothing goes in. */
	t0 = th_now_ms();
	rv = ipcq_queue_send(a, "x", 1, 0);
	ck_assert_msg(rv == IPCQ_ETIMEDOUT || rv == IPCQ_EBUSY,
	    "send to held queue: %s", ipcq_err_name(rv));
	for (int i = 0; i < HL_ROUNDS || th_now_ms() - t0 < min_ms; i++) {
		ipcq_queue *s;
		/* The held queue answers, and costs nobody else. */
		rv = ipcq_queue_recv(a, &m, 0);
		ck_assert_msg(rv == IPCQ_ETIMEDOUT || rv == IPCQ_EBUSY,
		    "recv from held queue: %s", ipcq_err_name(rv));
		snprintf(msg, sizeof(msg), "r%d", i);
		th_send_str(o, msg);
		th_expect_recv(o, msg, TH_WAIT_MS);
		/* Shared memory: open and close go through the broker. */
		s = th_queue(c, "hl.shm", NULL);
		ck_assert(ipcq_queue_is_shm(s));
		th_send_str(s, msg);
		th_expect_recv(s, msg, TH_WAIT_MS);
		ipcq_queue_close(s);
		ck_assert_msg(th_now_ms() - t0 < HL_BOUND_MS + min_ms,
		    "holder %s: %d rounds on other queues took %lld ms",
		    hold_names[kind], i + 1, th_now_ms() - t0);
	}
	th_stats(c, "hl.sock", &st);
	ck_assert_uint_eq(st.sent, st.received);
	ck_assert_uint_ge(st.received, HL_ROUNDS);
	th_stats(c, "hl.shm", &st);
	ck_assert_uint_eq(st.sent, st.received);
	ck_assert_uint_ge(st.received, HL_ROUNDS);
	if (min_ms > 0) {
		/* Held for over 1 s: stuck; a request that could wait is
		 * told at once. */
		long long t1 = th_now_ms();
		rv           = ipcq_queue_send(a, "x", 1, 5000);
		ck_assert_msg(rv == IPCQ_EBUSY, "send to stuck queue: %s",
		    ipcq_err_name(rv));
		ck_assert_int_lt(th_now_ms() - t1, 2500);
	}
	th_stats(c, "hl.stuck", &st); /* stats answer, without the lock */
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_uint_eq(st.depth, 1);
	ck_assert_msg(!th_broker_log_has(th_main_broker(), "stopped accepting"),
	    "the watchdog took the held lock for a wedged listener");

	/* Let go (or die inside): the very next request gets the lock. */
	release(&h);
	th_send_str(a, "after");
	th_expect_recv(a, "before", TH_WAIT_MS);
	th_expect_recv(a, "after", TH_WAIT_MS);
	th_stats(c, "hl.stuck", &st);
	ck_assert_uint_eq(st.sent, 2);
	ck_assert_uint_eq(st.received, 2);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.in_flight, 0);
	ipcq_queue_close(a);
	ipcq_queue_close(o);
	ipcq_client_close(c);
}
END_TEST

static int
one_receiver_parked(const ipcq_stats *st, void *arg)
{
	(void) arg;
	return st->receivers_waiting == 1;
}

/* A request that finds the lock held by a client that may only be slow
 * waits for it without holding anyone up (parked, not EBUSY, not a
 * broker thread asleep on the lock), and is served as soon as the
 * holder lets go: nothing rings then, the broker's retry finds it. */
START_TEST(request_waiting_for_a_held_lock_goes_on_when_it_frees)
{
	ipcq_client *c = th_client();
	ipcq_queue  *a = socket_queue(c, "hl.park", IPCQ_ACK_AUTO);
	ipcq_queue  *o = socket_queue(c, "hl.other", IPCQ_ACK_AUTO);
	ipcq_stats   st;
	th_proc     *cons;
	holder       h;

	th_send_str(a, "p1-0");
	hold(&h, HOLD_SLEEPING, "hl.park");
	/* Its first try at the lock is its recv's: it parks. */
	setenv("IPCQ_TRANSPORT", "socket", 1);
	cons = th_peer("consume", "hl.park", "--role", "consumer", "--count",
	    "1", (char *) NULL);
	unsetenv("IPCQ_TRANSPORT");
	ck_assert_int_eq(th_poll_stats(c, "hl.park", one_receiver_parked,
	                     NULL, TH_WAIT_MS),
	    0);
	th_send_str(o, "meanwhile"); /* everyone else goes on */
	th_expect_recv(o, "meanwhile", TH_WAIT_MS);
	th_stats(c, "hl.park", &st);
	ck_assert_uint_eq(st.received, 0);

	release(&h);
	th_proc_expect_exit(cons, 0);
	ck_assert_ptr_nonnull(strstr(th_proc_output(cons), "M p1-0 1 0\n"));
	th_stats(c, "hl.park", &st);
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_uint_eq(st.received, 1);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.receivers_waiting, 0);
	th_proc_free(cons);
	ipcq_queue_close(a);
	ipcq_queue_close(o);
	ipcq_client_close(c);
}
END_TEST

/* A lock word naming a thread that does not exist is what a broker
 * leaves that died holding the lock after its mapping was replaced by
 * zero pages (the kernel could not mark it), or a forgery. Once the
 * queue is stuck the broker marks the word as the kernel would have, the
 * next taker repairs the segment, and the queue goes on by itself:
 * a waiting recv is served, nothing is lost. */
START_TEST(lock_word_naming_a_gone_thread_is_recovered)
{
	ipcq_client *c = th_client();
	ipcq_queue  *a = socket_queue(c, "hl.gone", IPCQ_ACK_AUTO);
	ipcq_queue  *o = socket_queue(c, "hl.near", IPCQ_ACK_AUTO);
	ipcq_stats   st;
	ipcqi_seg    seg;

	th_send_str(a, "before");
	th_seg_map("hl.gone", &seg, NULL, 0);
	__atomic_store_n((uint32_t *) (void *) &seg.hdr->lock, FORGED_TID,
	    __ATOMIC_RELEASE);
	/* Parks (the lock is held), is served once the word is recovered;
	 * other queues go on meanwhile. */
	th_send_str(o, "meanwhile");
	th_expect_recv(o, "meanwhile", TH_WAIT_MS);
	th_expect_recv(a, "before", TH_WAIT_MS);
	ck_assert(th_broker_log_has(th_main_broker(), "thread that is gone"));
	th_send_str(a, "after");
	th_expect_recv(a, "after", TH_WAIT_MS);
	th_stats(c, "hl.gone", &st);
	ck_assert_uint_eq(st.sent, 2);
	ck_assert_uint_eq(st.received, 2);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_int_eq(st.corrupt, 0);
	ipcqi_seg_unmap(&seg);
	ipcq_queue_close(a);
	ipcq_queue_close(o);
	ipcq_client_close(c);
}
END_TEST

static Suite *
stopped_suite(void)
{
	Suite *s  = suite_create("integration.stopped_client");
	TCase *tc = th_tcase("stopped_client");
	TCase *hl = th_tcase("held_lock");

	tcase_add_test(tc, stopped_lock_holder_does_not_stall_other_queues);
	tcase_add_test(tc, leases_of_a_client_that_died_meanwhile_come_back);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(hl, held_lock_in_any_state_never_stalls_other_queues,
	    HOLD_SLEEPING, HOLD_FORGED + 1);
	tcase_add_test(hl, request_waiting_for_a_held_lock_goes_on_when_it_frees);
	tcase_add_test(hl, lock_word_naming_a_gone_thread_is_recovered);
	suite_add_tcase(s, hl);
	return s;
}

int
main(void)
{
	return th_run(stopped_suite());
}
