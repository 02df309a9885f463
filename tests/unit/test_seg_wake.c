/*
 * unit.seg: futex wake-ups and the doorbell (see test_seg.c).
 */
#include "seg_fixture.h"

/* --------------------------------------------------------------- wake */

START_TEST(futex_wait_with_a_past_deadline_times_out)
{
	uint32_t word = 5;

	ck_assert_int_eq(ipcqi_futex_wait(&word, 5, now_ms() - 1),
	    IPCQ_ETIMEDOUT);
	ck_assert_int_eq(ipcqi_futex_wait(&word, 5, 0), IPCQ_ETIMEDOUT);
	ck_assert_int_eq(ipcqi_futex_wait(&word, 5, now_ms()), IPCQ_ETIMEDOUT);
	/* A word that no longer holds what was seen: back at once. */
	ck_assert_int_eq(ipcqi_futex_wait(&word, 4, INT64_MAX), 0);
	ck_assert_int_eq(ipcqi_futex_wait(&word, 4, now_ms() - 1), 0);
}
END_TEST

START_TEST(wake_bumps_the_word_and_wakes_only_when_someone_sleeps)
{
	fx       f;
	uint32_t d0, s0;

	fx_open(&f, IPCQ_FULL_BLOCK);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	d0 = f.c.hdr->data_seq;
	s0 = f.c.hdr->space_seq;
	ipcqi_seg_wake_data(&f.c, 1);
	ck_assert_uint_eq(f.c.hdr->data_seq, d0 + 1);
	ck_assert_uint_eq(f.c.hdr->space_seq, s0);
	f.c.hdr->space_sleepers = 1;
	ipcqi_seg_wake_space(&f.c, 1);
	ck_assert_uint_eq(f.c.hdr->space_seq, s0 + 1);
	ck_assert_uint_eq(f.c.hdr->space_sleepers, 0);
	ck_assert_uint_eq(f.c.hdr->data_seq, d0 + 1);
	/* The word wraps like any counter. */
	f.c.hdr->data_seq = UINT32_MAX;
	ipcqi_seg_wake_data(&f.c, 1);
	ck_assert_uint_eq(f.c.hdr->data_seq, 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(ring_broker_rings_only_for_watched_bits)
{
	fx         f;
	ipcqi_bell bell = { IPCQI_BELL_MAGIC, 1, 0, 0 };

	fx_open(&f, IPCQ_FULL_BLOCK);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ipcqi_seg_ring_broker(&f.c, &bell, IPCQI_WATCH_DATA);
	ck_assert_uint_eq(bell.seq, 0);
	ck_assert_uint_eq(f.c.hdr->broker_pending, 0);
	f.b.hdr->broker_watch = IPCQI_WATCH_SPACE;
	ipcqi_seg_ring_broker(&f.c, &bell, IPCQI_WATCH_DATA);
	ck_assert_uint_eq(bell.seq, 0);
	ipcqi_seg_ring_broker(&f.c, NULL, IPCQI_WATCH_SPACE);
	ck_assert_uint_eq(f.c.hdr->broker_pending, 0);
	ipcqi_seg_ring_broker(&f.c, &bell,
	    IPCQI_WATCH_SPACE | IPCQI_WATCH_DATA);
	ck_assert_uint_eq(bell.seq, 1);
	ck_assert_uint_eq(f.c.hdr->broker_pending, 1);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

START_TEST(sleeper_slots_count_threads_per_holder_and_kind)
{
	fx f;

	fx_open(&f, IPCQ_FULL_BLOCK);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	ipcqi_seg_sleeper(&f.c, 1, IPCQI_SLEEP_RECV, +1);
	ipcqi_seg_sleeper(&f.c, 1, IPCQI_SLEEP_RECV, +1);
	ipcqi_seg_sleeper(&f.c, 1, IPCQI_SLEEP_SEND, +1);
	ipcqi_seg_sleeper(&f.c, 2, IPCQI_SLEEP_RECV, +1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_RECV), 3);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND), 1);
	ipcqi_seg_sleeper(&f.c, 1, IPCQI_SLEEP_RECV, -1);
	ipcqi_seg_sleeper(&f.c, 3, IPCQI_SLEEP_RECV, -1); /* never counted */
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_RECV), 2);

	/* A holder cleaned up is asleep no more, in either kind. */
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 1), 0);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_RECV), 1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND), 0);
	ipcqi_seg_sleeper(&f.c, 2, IPCQI_SLEEP_RECV, -1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_RECV), 0);

	/* Every slot taken: one more sleeps uncounted, and its wake-up
	 * uncounts nobody else. */
	for (uint64_t h = 1; h <= IPCQI_SEG_SLEEPER_SLOTS; h++) {
		ipcqi_seg_sleeper(&f.c, h, IPCQI_SLEEP_SEND, +1);
	}
	ipcqi_seg_sleeper(&f.c, 999, IPCQI_SLEEP_SEND, +1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND),
	    IPCQI_SEG_SLEEPER_SLOTS);
	ipcqi_seg_sleeper(&f.c, 999, IPCQI_SLEEP_SEND, -1);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND),
	    IPCQI_SEG_SLEEPER_SLOTS);
	ck_assert_uint_eq(ipcqi_seg_return_holder(&f.c, 0), 0);
	ck_assert_uint_eq(ipcqi_seg_sleeping(&f.c, IPCQI_SLEEP_SEND), 0);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

/* The sleeper's half of the protocol: claim the flag and read the word
 * under the lock, sleep outside it. Returns what ipcqi_futex_wait did;
 * *seen is the word as read. The deadline only turns a lost wake-up into
 * a failure instead of a hang. */
static int
sleep_on_data(ipcqi_seg *s, uint32_t *seen)
{
	if (ipcqi_seg_lock(s) != 0) {
		return -100;
	}
	s->hdr->data_sleepers = 1;
	*seen                 = s->hdr->data_seq;
	ipcqi_seg_unlock(s);
	return ipcqi_futex_wait(&s->hdr->data_seq, *seen, now_ms() + 30000);
}

/* Task state letter of /proc/<pid>/task/<tid>/stat. */
static char
task_state(pid_t pid, pid_t tid)
{
	char  path[64], buf[512], *p;
	FILE *fp;
	char  state = '?';

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int) pid,
	    (int) tid);
	if ((fp = fopen(path, "r")) == NULL) {
		return '?';
	}
	if (fgets(buf, sizeof(buf), fp) != NULL &&
	    (p = strrchr(buf, ')')) != NULL && p[1] == ' ') {
		state = p[2];
	}
	fclose(fp);
	return state;
}

/* The waker's half: once the sleeper has claimed the flag (seen under
 * the lock) and is asleep in the kernel, announce data. */
static void
wake_sleeper(fx *f, pid_t pid, pid_t tid)
{
	for (;;) {
		ck_assert_int_eq(ipcqi_seg_lock(&f->b), 0);
		uint32_t claimed = f->b.hdr->data_sleepers;
		ipcqi_seg_unlock(&f->b);
		if (claimed) {
			break;
		}
		sched_yield();
	}
	/* After the claim the sleeper takes no lock: 'S' is the futex. */
	while (task_state(pid, tid) != 'S') {
		sched_yield();
	}
	ck_assert_int_eq(ipcqi_seg_lock(&f->b), 0);
	ipcqi_seg_wake_data(&f->b, 1);
	ck_assert_uint_eq(f->b.hdr->data_sleepers, 0);
	ipcqi_seg_unlock(&f->b);
}

typedef struct sleeper {
	ipcqi_seg *s;
	pid_t      tid; /* atomic: set by the sleeper once it runs */
	int        rv;
	uint32_t   seen;
} sleeper;

static void *
sleeper_main(void *arg)
{
	sleeper *z = arg;

	__atomic_store_n(&z->tid, (pid_t) syscall(SYS_gettid),
	    __ATOMIC_RELEASE);
	z->rv = sleep_on_data(z->s, &z->seen);
	return NULL;
}

START_TEST(sleeping_thread_is_woken_by_wake_data)
{
	fx        f;
	sleeper   z = { 0 };
	pthread_t t;

	fx_open(&f, IPCQ_FULL_BLOCK);
	z.s = &f.c;
	ck_assert_int_eq(pthread_create(&t, NULL, sleeper_main, &z), 0);
	while (__atomic_load_n(&z.tid, __ATOMIC_ACQUIRE) == 0) {
		sched_yield();
	}
	wake_sleeper(&f, getpid(), z.tid);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(z.rv, 0);
	ck_assert_uint_eq(f.c.hdr->data_seq, z.seen + 1);
	fx_close(&f);
}
END_TEST

START_TEST(sleeping_process_is_woken_by_wake_data)
{
	fx       f;
	pid_t    pid;
	uint32_t seen0;

	fx_open(&f, IPCQ_FULL_BLOCK);
	seen0 = f.c.hdr->data_seq;
	pid   = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint32_t seen;
		int      rv = sleep_on_data(&f.c, &seen);
		_exit(rv == 0 && f.c.hdr->data_seq != seen ? 0 : 1);
	}
	wake_sleeper(&f, pid, pid);
	ck_assert_int_eq(wait_child(pid), 0);
	ck_assert_uint_eq(f.c.hdr->data_seq, seen0 + 1);
	fx_close(&f);
}
END_TEST

/* A waker that dies half-way through announcing: it bumped the word and
 * cleared the flag, but never woke the sleeper. */
static void
announce_then_die_before_waking(ipcqi_seg *s)
{
	if (put_seq(s, 1, 1) != 0) {
		_exit(3);
	}
	__atomic_fetch_add(&s->hdr->data_seq, 1, __ATOMIC_RELEASE);
	s->hdr->data_sleepers = 0;
}

/* A producer that dies after its put, before announcing it. */
static void
put_then_die_before_announcing(ipcqi_seg *s)
{
	if (put_seq(s, 1, 1) != 0) {
		_exit(3);
	}
}

static void
check_recovery_wakes(void (*die)(ipcqi_seg *))
{
	fx        f;
	sleeper   z = { 0 };
	pthread_t t;

	fx_open(&f, IPCQ_FULL_BLOCK);
	z.s = &f.c;
	ck_assert_int_eq(pthread_create(&t, NULL, sleeper_main, &z), 0);
	while (__atomic_load_n(&z.tid, __ATOMIC_ACQUIRE) == 0) {
		sched_yield();
	}
	for (;;) {
		ck_assert_int_eq(ipcqi_seg_lock(&f.b), 0);
		uint32_t claimed = f.b.hdr->data_sleepers;
		ipcqi_seg_unlock(&f.b);
		if (claimed) {
			break;
		}
		sched_yield();
	}
	while (task_state(getpid(), z.tid) != 'S') {
		sched_yield();
	}
	die_holding_the_lock(&f, die);
	/* Whoever recovers the lock wakes the sleepers. */
	ck_assert_int_eq(ipcqi_seg_lock(&f.b), 0);
	ck_assert_uint_eq(f.b.hdr->ready, 1);
	ipcqi_seg_unlock(&f.b);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(z.rv, 0); /* not its 30 s deadline */
	ck_assert_uint_ne(f.c.hdr->data_seq, z.seen);
	fx_close(&f);
}

START_TEST(lock_recovery_wakes_sleepers_a_dead_waker_left_asleep)
{
	check_recovery_wakes(announce_then_die_before_waking);
	check_recovery_wakes(put_then_die_before_announcing);
}
END_TEST

/* The lost-wake-up stress: a producer and a consumer process hand a
 * million messages through a four-message queue, each sleeping on the
 * other's word whenever it cannot go on. */
#define ST_N     1000000u
#define ST_BATCH 16u

enum { ST_LOCK = 10, ST_ADMIT, ST_TAKE, ST_ORDER, ST_LOST, ST_FINISH };

static void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The sleeper's protocol (lock held on entry, released). Between the
 * unlock and the futex call it watches the word for a varying number of
 * rounds (none on every 8th wait): the other side's wake-up then lands
 * at every point of the window the protocol must close, not only while
 * this side is asleep, and the run takes about a second instead of a
 * quarter of a million context switches each way. */
static int
stress_wait(ipcqi_seg *s, uint32_t *word, uint32_t *sleepers, unsigned *n)
{
	unsigned spin = *n % 8 == 0 ? 0 : (*n * 7919u) % 2048u;
	uint32_t seen;

	(*n)++;
	*sleepers = 1;
	seen      = *word;
	ipcqi_seg_unlock(s);
	for (unsigned k = 0;
	     k < spin && __atomic_load_n(word, __ATOMIC_ACQUIRE) == seen; k++) {
		cpu_relax();
	}
	/* 20 s without a wake-up is a lost one (the test takes ~1 s). */
	return ipcqi_futex_wait(word, seen, now_ms() + 20000) == 0 ? 0
	                                                           : ST_LOST;
}

static int
stress_producer(ipcqi_seg *s)
{
	unsigned char     buf[ST_BATCH][16];
	ipcqi_seg_payload p[ST_BATCH];
	uint64_t          i = 0;
	unsigned          waits = 0;

	while (i < ST_N) {
		size_t n = ST_N - i < ST_BATCH ? ST_N - i : ST_BATCH;
		size_t acc = 0;
		int    rv;

		for (size_t k = 0; k < n; k++) {
			uint64_t seq = i + k;
			uint32_t len = 8 + (uint32_t) (seq % 9);
			memcpy(buf[k], &seq, 8);
			memset(buf[k] + 8, (int) (seq & 0xff), len - 8);
			p[k] = pl(buf[k], len);
		}
		if (ipcqi_seg_lock(s) != 0) {
			return ST_LOCK;
		}
		rv = ipcqi_seg_admit(s, p, n, &acc);
		i += acc;
		if (acc > 0) {
			ipcqi_seg_wake_data(s, 1);
		}
		if (rv == IPCQI_WOULD_BLOCK) {
			if ((rv = stress_wait(s, &s->hdr->space_seq,
			         &s->hdr->space_sleepers, &waits)) != 0) {
				return rv;
			}
			continue;
		}
		ipcqi_seg_unlock(s);
		if (rv != 0) {
			return ST_ADMIT;
		}
	}
	return 0;
}

static int
stress_consumer(ipcqi_seg *s)
{
	uint64_t got   = 0;
	unsigned waits = 0;

	while (got < ST_N) {
		ipcqi_seg_ref r;
		int           took = 0, rv;

		if (ipcqi_seg_lock(s) != 0) {
			return ST_LOCK;
		}
		while ((rv = ipcqi_seg_take(s, 2, &r)) == 0) {
			uint64_t seq;
			memcpy(&seq, r.data, 8);
			if (seq != got || r.len != 8 + seq % 9) {
				ipcqi_seg_unlock(s);
				return ST_ORDER;
			}
			for (uint32_t k = 8; k < r.len; k++) {
				if (r.data[k] != (unsigned char) (seq & 0xff)) {
					ipcqi_seg_unlock(s);
					return ST_ORDER;
				}
			}
			if (ack(s, &r, 2) != 0) {
				ipcqi_seg_unlock(s);
				return ST_FINISH;
			}
			got++;
			took++;
		}
		if (rv != IPCQ_ETIMEDOUT) {
			ipcqi_seg_unlock(s);
			return ST_TAKE;
		}
		if (took > 0) {
			ipcqi_seg_wake_space(s, 1);
			ipcqi_seg_unlock(s);
			continue;
		}
		if ((rv = stress_wait(s, &s->hdr->data_seq,
		         &s->hdr->data_sleepers, &waits)) != 0) {
			return rv;
		}
	}
	return 0;
}

START_TEST(a_million_messages_cross_a_four_message_ring_between_processes)
{
	ipcqi_seg_params p = params(4, 64, 16, IPCQ_FULL_BLOCK);
	fx               f;
	pid_t            prod, cons;

	fx_open_with(&f, &p);
	prod = fork();
	ck_assert_int_ge(prod, 0);
	if (prod == 0) {
		_exit(stress_producer(&f.c));
	}
	cons = fork();
	ck_assert_int_ge(cons, 0);
	if (cons == 0) {
		_exit(stress_consumer(&f.c));
	}
	ck_assert_int_eq(wait_child(prod), 0);
	ck_assert_int_eq(wait_child(cons), 0);
	ck_assert_int_eq(ipcqi_seg_lock(&f.c), 0);
	CK_COUNTS(f.c.hdr, 0, 0, 0, 0);
	CK_TOTALS(f.c.hdr, ST_N, ST_N, ST_N);
	ck_assert_uint_eq(f.c.hdr->redelivered + f.c.hdr->dropped, 0);
	ck_assert_uint_eq(f.c.hdr->head, f.c.hdr->tail);
	ipcqi_seg_unlock(&f.c);
	fx_close(&f);
}
END_TEST

void seg_add_wake_tests(Suite *s);

void
seg_add_wake_tests(Suite *s)
{
	TCase *t;

	t = tcase_create("wake");
	tcase_set_timeout(t, TH_CASE_TIMEOUT);
	tcase_add_test(t, futex_wait_with_a_past_deadline_times_out);
	tcase_add_test(t,
	    wake_bumps_the_word_and_wakes_only_when_someone_sleeps);
	tcase_add_test(t, ring_broker_rings_only_for_watched_bits);
	tcase_add_test(t, sleeper_slots_count_threads_per_holder_and_kind);
	tcase_add_test(t, sleeping_thread_is_woken_by_wake_data);
	tcase_add_test(t, sleeping_process_is_woken_by_wake_data);
	tcase_add_test(t,
	    lock_recovery_wakes_sleepers_a_dead_waker_left_asleep);
	tcase_add_test(t,
	    a_million_messages_cross_a_four_message_ring_between_processes);
	suite_add_tcase(s, t);
}
