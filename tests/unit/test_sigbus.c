/*
 * unit.sigbus: the broker's SIGBUS handler (proto/ipcqi_sigbus.c) and its
 * hooks in the segment code, without a broker. A file truncated under a
 * registered mapping reads as zeros and is reported lost; a segment
 * truncated while its lock is held is quarantined, and its robust mutex
 * does not break the thread's next robust lock; any other SIGBUS ends
 * the process exactly as it would without the handler (or goes to the
 * handler installed before).
 *
 * Check forks every test, so each installs the handler in its own
 * process. Files are memfds; cases that must die fork once more.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcq.h"
#include "ipcqi_seg.h"
#include "ipcqi_sigbus.h"
#include "th_run.h"

#define PAGE 4096u

static int
new_file(size_t len)
{
	int fd = memfd_create("ipcq-sigbus", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t) len), 0);
	return fd;
}

static unsigned char *
map_file(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* Read a byte the compiler cannot skip. */
static unsigned
touch(const unsigned char *p)
{
	return *(const volatile unsigned char *) p;
}

/* Wait status of a child that runs fn. */
static int
in_child(void (*fn)(void))
{
	pid_t pid = fork();
	int   st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/* ---------------------------------------------------------------- */

START_TEST(truncated_range_reads_zeros_and_is_lost)
{
	int            fd = new_file(3 * PAGE);
	unsigned char *p  = map_file(fd, 3 * PAGE);
	unsigned char *q  = map_file(fd, PAGE); /* not registered */

	ck_assert_int_eq(ipcqi_sigbus_install(), 0);
	ck_assert_int_eq(ipcqi_sigbus_install(), 0); /* idempotent */
	memset(p, 0xab, 3 * PAGE);
	ck_assert_int_eq(ipcqi_sigbus_add(p, 3 * PAGE), 0);
	ck_assert(!ipcqi_sigbus_lost(p));

	ck_assert_int_eq(ftruncate(fd, PAGE), 0);
	ck_assert_uint_eq(touch(p + 2 * PAGE), 0); /* faults, then zeros */
	ck_assert(ipcqi_sigbus_lost(p));
	ck_assert(!ipcqi_sigbus_lost(q));
	/* The whole range was replaced, the pages still in the file too,
	 * and it is private memory now: writable, not shared. */
	ck_assert_uint_eq(touch(p), 0);
	p[0] = 1;
	ck_assert_uint_eq(touch(q), 0xab);

	ipcqi_sigbus_remove(p);
	ck_assert(!ipcqi_sigbus_lost(p));
	munmap(p, 3 * PAGE);
	munmap(q, PAGE);
	close(fd);
}
END_TEST

/* ---------------------------------------------------------------- */

static void
fault_unregistered(void)
{
	int            fd = new_file(2 * PAGE);
	unsigned char *p  = map_file(fd, 2 * PAGE);

	if (ftruncate(fd, 0) != 0) {
		_exit(90);
	}
	(void) touch(p + PAGE);
	_exit(91); /* not reached */
}

static void
fault_unregistered_with_handler(void)
{
	if (ipcqi_sigbus_install() != 0) {
		_exit(92);
	}
	fault_unregistered();
}

static void
fault_after_remove(void)
{
	int            fd = new_file(2 * PAGE);
	unsigned char *p  = map_file(fd, 2 * PAGE);

	if (ipcqi_sigbus_install() != 0 ||
	    ipcqi_sigbus_add(p, 2 * PAGE) != 0) {
		_exit(92);
	}
	ipcqi_sigbus_remove(p);
	if (ftruncate(fd, 0) != 0) {
		_exit(90);
	}
	(void) touch(p + PAGE);
	_exit(91);
}

static void
kill_self(void)
{
	if (ipcqi_sigbus_install() != 0) {
		_exit(92);
	}
	kill(getpid(), SIGBUS);
	_exit(91);
}

/* Under a sanitizer "as without" is the sanitizer's report and exit
 * status; without one, death by SIGBUS. Either way: the same status. */
START_TEST(other_sigbus_ends_the_process_as_without_the_handler)
{
	int without = in_child(fault_unregistered);

	ck_assert_msg(!WIFEXITED(without) || WEXITSTATUS(without) < 90,
	    "fault did not end the process: %d", without);
	ck_assert_int_eq(in_child(fault_unregistered_with_handler), without);
	ck_assert_int_eq(in_child(fault_after_remove), without);
	/* Sent, not a fault: never ours either. */
	ck_assert_int_ne(in_child(kill_self), 91 << 8);
}
END_TEST

/* ---------------------------------------------------------------- */

static void
prev_handler(int sig, siginfo_t *si, void *uctx)
{
	(void) sig;
	(void) si;
	(void) uctx;
	_exit(42);
}

static void
fault_with_previous_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = prev_handler;
	sa.sa_flags     = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	fault_unregistered_with_handler();
}

START_TEST(other_sigbus_goes_to_the_previous_handler)
{
	int st = in_child(fault_with_previous_handler);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42,
	    "previous handler not called: status %d", st);
}
END_TEST

/* ---------------------------------------------------------------- */

/* The broker's worst case: it holds the segment's robust mutex when the
 * ring's pages go. glibc keeps that mutex on the thread's robust list,
 * linked through the mutex itself, so the zero page must stay mapped
 * after unmap: the next robust lock of the thread writes into it. */
START_TEST(segment_truncated_inside_its_lock_is_quarantined)
{
	ipcqi_seg_params p;
	ipcqi_seg        s, other;
	int              fd = new_file(0), fd2 = new_file(0);
	uint32_t         len;

	memset(&p, 0, sizeof(p));
	p.name              = "jobs";
	p.max_messages      = 8;
	p.max_bytes         = 64 * 1024;
	p.max_message_bytes = 1024;
	ck_assert_int_eq(ipcqi_sigbus_install(), 0);
	ck_assert_int_eq(ipcqi_seg_create(&s, fd, &p), 0);
	ck_assert_int_eq(ipcqi_seg_create(&other, fd2, &p), 0);

	ck_assert_int_eq(ipcqi_seg_lock(&s), 0);
	ck_assert_int_eq(ipcqi_seg_put(&s, "hello", 5), 0);
	ck_assert_int_eq(ftruncate(fd, IPCQI_SEG_HDR_BYTES), 0);
	/* Reads the record header in the ring: faults, sees zeros. */
	ck_assert(!ipcqi_seg_next_len(&s, &len));
	ck_assert(ipcqi_seg_corrupt(&s));
	ipcqi_seg_unlock(&s);
	ck_assert_int_eq(ipcqi_seg_lock(&s), IPCQ_ECORRUPT);
	ck_assert_int_eq(ipcqi_seg_lock_timed(&s, 0), IPCQ_ECORRUPT);
	ipcqi_seg_unmap(&s);

	/* This thread's robust list still names the lost mutex. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ipcqi_seg_lock(&other), 0);
		ck_assert(!ipcqi_seg_corrupt(&other));
		ipcqi_seg_unlock(&other);
	}
	ipcqi_seg_unmap(&other);
	close(fd);
	close(fd2);
}
END_TEST

/* A lost mapping found by whoever touches it first: here, map's own
 * header check. */
START_TEST(segment_truncated_to_nothing_fails_lock_with_ecorrupt)
{
	ipcqi_seg_params p;
	ipcqi_seg        b, c;
	int              fd = new_file(0);

	memset(&p, 0, sizeof(p));
	p.name              = "jobs";
	p.max_messages      = 8;
	p.max_bytes         = 4096;
	p.max_message_bytes = 256;
	ck_assert_int_eq(ipcqi_sigbus_install(), 0);
	ck_assert_int_eq(ipcqi_seg_create(&b, fd, &p), 0);
	ck_assert_int_eq(ipcqi_seg_map(&c, fd, "jobs"), 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);

	ck_assert_int_eq(ipcqi_seg_lock(&c), IPCQ_ECORRUPT);
	ck_assert(ipcqi_seg_corrupt(&c));
	ck_assert_int_eq(ipcqi_seg_lock(&b), IPCQ_ECORRUPT);
	ipcqi_seg_unmap(&c);
	ipcqi_seg_unmap(&b);
	close(fd);
}
END_TEST

static Suite *
sigbus_suite(void)
{
	Suite *s  = suite_create("sigbus");
	TCase *tc = tcase_create("sigbus");

	tcase_add_test(tc, truncated_range_reads_zeros_and_is_lost);
	tcase_add_test(tc, other_sigbus_ends_the_process_as_without_the_handler);
	tcase_add_test(tc, other_sigbus_goes_to_the_previous_handler);
	tcase_add_test(tc, segment_truncated_inside_its_lock_is_quarantined);
	tcase_add_test(tc, segment_truncated_to_nothing_fails_lock_with_ecorrupt);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return th_run(sigbus_suite());
}
