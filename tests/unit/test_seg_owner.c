/*
 * unit.seg_owner: who holds a segment's lock, as the broker sees it
 * (ipcqi_seg_owner_stopped): a holder stopped with SIGSTOP is stopped; a
 * holder that is merely asleep (blocked on a pipe, as a preempted or
 * busy one would be running) is not; a free lock has no holder; a holder
 * that died is not "stopped" (its lock comes back with EOWNERDEAD).
 * And the broker's way of taking the lock (ipcqi_seg_lock_try) never
 * sleeps, whoever holds it: asleep, stopped, or a forged word naming no
 * thread; a free or dead holder's lock it takes.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipcq.h"
#include "ipcqi_seg.h"
#include "th_run.h"

static void
seg_new(ipcqi_seg *s)
{
	ipcqi_seg_params p = { .name = "own", .max_messages = 8,
		.max_bytes = 1024, .max_message_bytes = 64 };
	int fd = memfd_create("ipcq-owner", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ipcqi_seg_create(s, fd, &p), 0);
	close(fd);
}

/* A child that takes the lock, says so on ready[1], then either stops
 * itself or waits for a byte on go[0]. */
static pid_t
holder(ipcqi_seg *s, int stop, int ready[2], int go[2])
{
	pid_t pid;
	char  b = 'x';

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		if (ipcqi_seg_lock(s) != 0 || write(ready[1], &b, 1) != 1) {
			_exit(3);
		}
		if (stop) {
			raise(SIGSTOP);
		} else if (read(go[0], &b, 1) != 1) {
			_exit(4);
		}
		ipcqi_seg_unlock(s);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	return pid;
}

START_TEST(free_lock_has_no_stopped_owner)
{
	ipcqi_seg s;

	seg_new(&s);
	ck_assert(!ipcqi_seg_owner_stopped(&s));
	ipcqi_seg_unmap(&s);
}
END_TEST

START_TEST(sigstopped_owner_is_stopped_and_resumed_one_is_not)
{
	ipcqi_seg s;
	int       ready[2], go[2], st;
	pid_t     pid;

	seg_new(&s);
	pid = holder(&s, 1, ready, go);
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(st));
	ck_assert(ipcqi_seg_owner_stopped(&s));
	ck_assert_int_eq(ipcqi_seg_lock_timed(&s, 0), IPCQ_EBUSY);
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(!ipcqi_seg_owner_stopped(&s));
	ck_assert_int_eq(ipcqi_seg_lock_timed(&s, 0), 0);
	ipcqi_seg_unlock(&s);
	ipcqi_seg_unmap(&s);
}
END_TEST

START_TEST(sleeping_owner_is_not_stopped)
{
	ipcqi_seg s;
	int       ready[2], go[2], st;
	pid_t     pid;
	char      b = 'g';

	seg_new(&s);
	pid = holder(&s, 0, ready, go);
	ck_assert(!ipcqi_seg_owner_stopped(&s));
	ck_assert_int_eq(ipcqi_seg_lock_timed(&s, 0), IPCQ_EBUSY);
	ck_assert_int_eq(write(go[1], &b, 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ipcqi_seg_unmap(&s);
}
END_TEST

START_TEST(dead_owner_is_not_stopped_and_its_lock_comes_back)
{
	ipcqi_seg s;
	int       ready[2], go[2], st;
	pid_t     pid;

	seg_new(&s);
	pid = holder(&s, 0, ready, go);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(!ipcqi_seg_owner_stopped(&s));
	ck_assert_int_eq(ipcqi_seg_lock_timed(&s, 1000), 0); /* EOWNERDEAD */
	ipcqi_seg_unlock(&s);
	ipcqi_seg_unmap(&s);
}
END_TEST

/* A lock left unrecoverable (its owner died and nobody made it
 * consistent) answers ECORRUPT at once to every way of taking it: glibc's
 * own lock could sleep forever on it. */
START_TEST(unrecoverable_lock_is_corrupt_for_every_taker)
{
	ipcqi_seg s;
	int       ready[2], go[2], st;
	pid_t     pid;

	seg_new(&s);
	pid = holder(&s, 0, ready, go);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(pthread_mutex_lock(&s.hdr->lock), EOWNERDEAD);
	ck_assert_int_eq(pthread_mutex_unlock(&s.hdr->lock), 0);
	ck_assert_int_eq(ipcqi_seg_lock_timed(&s, 0), IPCQ_ECORRUPT);
	ck_assert_int_eq(ipcqi_seg_lock_timed(&s, 2), IPCQ_ECORRUPT);
	ck_assert_int_eq(ipcqi_seg_lock(&s), IPCQ_ECORRUPT);
	ipcqi_seg_unmap(&s);
}
END_TEST

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* 100 tries with the broker's spin count take well under a second
 * even on a loaded machine; one timed wait of the old kind took 2 ms
 * and the old loop up to 1 s per try. */
static void
assert_try_never_waits(ipcqi_seg *s)
{
	long long t0 = now_us();

	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(ipcqi_seg_lock_try(s, 1000), IPCQ_EBUSY);
	}
	ck_assert_msg(now_us() - t0 < 1000000, "100 tries took %lld us",
	    now_us() - t0);
}

START_TEST(lock_try_never_waits_for_any_holder)
{
	ipcqi_seg s;
	int       ready[2], go[2], st;
	pid_t     pid;
	char      b = 'g';

	seg_new(&s);
	ck_assert_int_eq(ipcqi_seg_lock_try(&s, 0), 0); /* free */
	ipcqi_seg_unlock(&s);

	pid = holder(&s, 0, ready, go); /* asleep in read() */
	assert_try_never_waits(&s);
	ck_assert_int_eq(write(go[1], &b, 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	pid = holder(&s, 1, ready, go); /* stopped */
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	assert_try_never_waits(&s);
	ck_assert_int_eq(kill(pid, SIGKILL), 0); /* dies inside */
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(ipcqi_seg_lock_try(&s, 0), 0); /* EOWNERDEAD */
	ipcqi_seg_unlock(&s);

	/* A word naming no thread (above any pid_max). */
	__atomic_store_n((uint32_t *) (void *) &s.hdr->lock, 0x3ffffff0u,
	    __ATOMIC_RELEASE);
	ck_assert(!ipcqi_seg_owner_stopped(&s));
	assert_try_never_waits(&s);
	__atomic_store_n((uint32_t *) (void *) &s.hdr->lock, 0,
	    __ATOMIC_RELEASE);
	ck_assert_int_eq(ipcqi_seg_lock_try(&s, 0), 0);
	ipcqi_seg_unlock(&s);
	ipcqi_seg_unmap(&s);
}
END_TEST

static Suite *
owner_suite(void)
{
	Suite *s = suite_create("unit.seg_owner");
	TCase *t = tcase_create("owner");

	tcase_add_test(t, free_lock_has_no_stopped_owner);
	tcase_add_test(t, sigstopped_owner_is_stopped_and_resumed_one_is_not);
	tcase_add_test(t, sleeping_owner_is_not_stopped);
	tcase_add_test(t, dead_owner_is_not_stopped_and_its_lock_comes_back);
	tcase_add_test(t, unrecoverable_lock_is_corrupt_for_every_taker);
	tcase_add_test(t, lock_try_never_waits_for_any_holder);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	return th_run(owner_suite());
}
