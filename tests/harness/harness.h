/*
 * harness.h — integration-test harness: a private broker per test, real
 * peer processes, and helpers to count what they did.
 *
 * Lifecycle of one test (Check runs each test in its own forked child):
 *
 *   th_begin()   checked-fixture setup: mkdtemp a directory, start the
 *                real ipcqd on ipc://<dir>/ipcqd.sock with --ready-fd,
 *                wait for "READY\n" (poll with a deadline, never a sleep),
 *                export IPCQ_URL so peers and in-process clients find it.
 *   ...test...   spawn peers with th_peer(), talk to the broker in-process
 *                with libipcq if needed (one client), assert.
 *   th_end()     checked-fixture teardown: a fresh peer process does an
 *                open+send+recv round trip (the broker still serves), the
 *                broker gets SIGTERM and must exit 0 and remove its socket,
 *                what the broker left in /dev/shm must be exactly the
 *                segments of queues holding messages or leases (a clean
 *                stop keeps those for the next start; docs/broker.md),
 *                which are then removed, as is the directory.
 *
 * Processes are started with fork+exec only (nothing but dup2/exec in the
 * child), so a test that has initialised nng in-process may still spawn.
 * Every process the harness starts dies with the test (PR_SET_PDEATHSIG)
 * and is killed and reaped by an atexit handler when an assertion ends the
 * test early, so a failure never leaves brokers or peers behind.
 */
#ifndef TH_HARNESS_H
#define TH_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include <check.h>

#include "ipcq.h"
#include "th_run.h"

/* Default deadline for waits on peers and events (ms). Generous for
 * sanitizer builds; a healthy test never comes near it. */
#define TH_WAIT_MS 30000

/* ------------------------------------------------------------ test env */

/* A test case whose every test runs with th_begin/th_end around it
 * (th_tcase_with: another setup, which must call th_begin_args), under
 * a per-case root directory that th_suite_end cleans after failures. */
TCase *th_tcase(const char *name);
TCase *th_tcase_with(const char *name, void (*setup)(void));

/* The fixtures th_tcase installs. */
void th_suite_begin(void); /* unchecked: runs in the runner */
void th_suite_end(void);
void th_begin(void);       /* checked: runs in each test's child */
void th_end(void);

/* Same as th_begin, with extra broker arguments (NULL-terminated). */
void th_begin_args(const char *const *broker_args);

const char *th_dir(void);  /* the test's temporary directory */
const char *th_url(void);  /* ipc://<dir>/ipcqd.sock */
const char *th_sock(void); /* <dir>/ipcqd.sock */

/* Path of a file in the test directory (static buffer per call slot). */
const char *th_path(const char *name);

/* Assert that the broker serves a fresh client: a new peer process
 * opens a private queue, sends, receives the same bytes, deletes it. */
void th_assert_serving(void);
/* Same, retrying until a fresh client is served or timeout_ms passes: for
 * a broker that must recover (e.g. its listener watchdog) rather than
 * never falter. */
void th_assert_serving_within(int timeout_ms);

/* Milliseconds on the monotonic clock. */
long long th_now_ms(void);

/* -------------------------------------------------------------- brokers */

typedef struct th_broker {
	pid_t pid;
	int   pidfd;
	int   status; /* wait status once reaped */
	int   reaped;
	char  log[512];
} th_broker;

/* The broker started by th_begin. */
th_broker *th_main_broker(void);

/* Start ipcqd listening on url (extra args NULL-terminated or NULL).
 * Returns 0 once it wrote READY; -1 if it exited first (b->status holds
 * its wait status) — the caller decides whether that was expected. Fails
 * the test if it neither becomes ready nor exits within timeout_ms. */
int th_broker_start(th_broker *b, const char *url, const char *const *args,
    int timeout_ms);

/* th_broker_start in two steps, to start several brokers at once: launch
 * returns the read end of its ready pipe, await (which closes it) returns
 * as th_broker_start does. url NULL (both): no --listen, the broker's
 * default address ($IPCQ_URL, else the runtime directory's socket). */
int th_broker_launch(th_broker *b, const char *url, const char *const *args);
int th_broker_await(th_broker *b, int ready_fd, int timeout_ms);

/* Send sig and reap; returns the wait status. Fails the test if the
 * broker does not exit within timeout_ms. */
int th_broker_signal_wait(th_broker *b, int sig, int timeout_ms);

/* SIGTERM, then assert exit status 0 and that sock_path and its lock
 * file (sock_path.lock) are gone. */
void th_broker_stop_ok(th_broker *b, const char *sock_path);

/* Print the tail of a broker's log to stderr (for failure diagnosis). */
void th_broker_dump_log(const th_broker *b);

/* Whether b's log (its latest run) contains text. */
int th_broker_log_has(const th_broker *b, const char *text);

/* ------------------------------------------------------------ processes */

typedef struct th_proc th_proc;

/* Spawn the test peer (tests/peer/ipcq-peer.c) with the given arguments,
 * NULL-terminated. Its stdout goes to a file in the test directory, its
 * stdin is a pipe kept open until th_proc_release, and fd 3 is an event
 * pipe the peer writes lines like "READY" to. */
th_proc *th_peer(const char *arg, ...);
th_proc *th_peerv(const char *const *args);

/* Spawn any program (CLI, examples): argv[0] is the path. stdin_text
 * (may be NULL: empty) is written to a file and used as stdin. stdout
 * and stderr go to files (th_proc_output, th_proc_stderr). No event
 * pipe. */
th_proc *th_spawn(const char *const *argv, const char *stdin_text);

/* Wait until the process reports an event line starting with ev.
 * Returns 0, or -1 on timeout or if the process exited first. */
int th_proc_event(th_proc *p, const char *ev, int timeout_ms);

/* Assert form of th_proc_event. */
#define th_expect_event(p, ev)                                           \
	ck_assert_msg(th_proc_event((p), (ev), TH_WAIT_MS) == 0,         \
	    "peer %s: no event %s", th_proc_name(p), (ev))

/* Close the peer's stdin (a --hold or --pause-at peer then goes on). */
void th_proc_release(th_proc *p);

/* Send a signal. */
void th_proc_kill(th_proc *p, int sig);

/* Wait for exit and return the wait status; fails the test (after
 * SIGKILL) if the process is still running after timeout_ms. */
int th_proc_wait(th_proc *p, int timeout_ms);

/* Wait (TH_WAIT_MS) and assert a normal exit with this exit code. */
void th_proc_expect_exit(th_proc *p, int code);

/* The process's stdout so far (whole file, NUL-terminated; valid until
 * the next call on p or th_proc_free). */
const char *th_proc_output(th_proc *p);

/* The stderr of a th_spawn'ed process so far (same rules). */
const char *th_proc_stderr(th_proc *p);

const char *th_proc_name(const th_proc *p);
pid_t       th_proc_pid(const th_proc *p);

/* Kill (if running), reap and free. Accepts NULL. */
void th_proc_free(th_proc *p);

/* Exit code of a wait status, or 128+signal if killed. */
int th_exit_code(int status);

/* ------------------------------------------------ consumer output checks */

/* One message line of a consumer peer: "M p<prod>-<seq> <count> <redl>". */
typedef struct th_rec {
	int      prod;
	long     seq;
	unsigned dc;          /* delivery count */
	int      redelivered; /* flag as reported by libipcq */
} th_rec;

typedef struct th_consumed {
	th_rec *recs;
	size_t  n;
	char    final[32]; /* word of the final line: EOF, DONE, HOLD, ERR... */
	char    err[32];   /* for ERR lines: the error name */
	long    final_count;
	int     n_eof;     /* number of "EOF" lines (must be 1 per handle) */
} th_consumed;

/* Parse a consumer peer's output; asserts that every line is well formed
 * and that the final count equals the number of message lines. */
void th_parse_consumer(const char *text, th_consumed *c);
void th_consumed_free(th_consumed *c);

/* Assert that across the consumers every message p<k>-<s> for k in
 * 1..nprod and s in 0..per_prod-1 arrived exactly once, nothing else
 * arrived, and each consumer saw each producer's messages in order. */
void th_assert_exactly_once(const th_consumed *cs, size_t ncons, int nprod,
    long per_prod);

/* The same without the order check (redelivered messages may come back
 * after later ones: FIFO holds "except for redeliveries"). */
void th_assert_exactly_once_any_order(const th_consumed *cs, size_t ncons,
    int nprod, long per_prod);

/* Collect n consumer peers: wait for exit code 0, parse the output. */
void th_collect_consumers(th_proc **ps, size_t n, th_consumed *cs);

/* ------------------------------------------------ in-process libipcq */

/* The test's own client (one client; peers are other processes). */
ipcq_client *th_client(void);

/* Open a queue, asserting success. opts may be NULL. */
ipcq_queue *th_queue(ipcq_client *c, const char *name,
    const ipcq_queue_opts *opts);

/* Under IPCQ_TRANSPORT=socket (a .socket run), assert that q, opened
 * with opts (may be NULL) and no explicit transport, is on the socket
 * path. th_queue does it for every queue it opens. */
void th_assert_forced_transport(ipcq_queue *q, const ipcq_queue_opts *opts);

/* Send a NUL-terminated string; assert success. */
void th_send_str(ipcq_queue *q, const char *s);

/* Receive one message, assert success, return its payload as a
 * malloc'ed NUL-terminated string; the message itself goes to *m when m
 * is not NULL (caller frees), else it is freed. */
char *th_recv_str(ipcq_queue *q, int timeout_ms, ipcq_msg **m);

/* Receive one message and assert its payload equals want. */
void th_expect_recv(ipcq_queue *q, const char *want, int timeout_ms);

/* Stats of a queue by name with client c; asserts success. */
void th_stats(ipcq_client *c, const char *name, ipcq_stats *st);

/* Poll the queue's stats (every 10 ms) until pred holds or timeout_ms
 * passes; returns 0 or -1. Only for states no event announces, such as
 * the broker having noticed that a killed peer's connection dropped. */
int th_poll_stats(ipcq_client *c, const char *name,
    int (*pred)(const ipcq_stats *st, void *arg), void *arg, int timeout_ms);

#endif
