/*
 * The driver side of ipcq-bench: process groups, the broker, the run's
 * temporary directory. Nothing here links nng or libipcq, so the driver
 * can fork at any time.
 */
#ifndef IPCQ_BENCH_DRIVER_H
#define IPCQ_BENCH_DRIVER_H

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench.h"

#define BENCH_URL_MAX (PATH_MAX + 32)

/* Set by SIGINT/SIGTERM in the driver: stop waiting, clean up, exit. */
extern volatile sig_atomic_t bench_interrupted;

/* What every case needs to know about the run. */
typedef struct bench_env {
	char  self[PATH_MAX];  /* this program, re-executed as workers */
	char  ipcqd[PATH_MAX]; /* the broker binary */
	char  dir[PATH_MAX];   /* mkdtemp directory: sockets, counters */
	char  url[BENCH_URL_MAX]; /* the broker's ipc:// URL */
	pid_t broker;          /* 0 when not started */
	int   broker_log;      /* log level argument given to ipcqd */
} bench_env;

/* One worker process and what it has said so far. */
typedef struct bench_proc {
	pid_t  pid;
	int    fd;                    /* read end of its fd_out */
	size_t len;                   /* bytes buffered in buf */
	char   buf[BENCH_LINE_MAX];
	char   line[BENCH_LINE_MAX]; /* its result line */
} bench_proc;

#define BENCH_GROUP_MAX (2 * BENCH_MAX_PROCS)

/* Workers that start together: one start pipe, one release pipe. */
typedef struct bench_group {
	bench_proc procs[BENCH_GROUP_MAX];
	int        n;
	int        go[2], rel[2];
	char       err[BENCH_LINE_MAX]; /* first failure, for the FAIL line */
} bench_group;

/* A worker's argument list: "key=value" strings. */
typedef struct bench_args {
	int  n;
	char v[24][512];
} bench_args;

void bench_args_init(bench_args *a);
void bench_args_add(bench_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int  bench_group_init(bench_group *g);
/* Start one worker with args; it becomes procs[g->n - 1]. */
int  bench_group_spawn(bench_group *g, const bench_env *env,
     const bench_args *args);
/* Wait for "READY" from procs[from..n). */
int  bench_group_ready(bench_group *g, int from, uint64_t timeout_ms);
/* Start every worker of the group at once. */
void bench_group_go(bench_group *g);
/* Read each worker's result line into procs[i].line. */
int  bench_group_collect(bench_group *g, uint64_t timeout_ms);
/* Let workers that wait for it (bench_wait_release) exit. */
void bench_group_release(bench_group *g);
/* Reap every worker (killing any still running if failed is set);
 * -1 if any exited non-zero. Closes the group's pipes. */
int  bench_group_finish(bench_group *g, int failed);

/* mkdtemp the run directory; remove it and everything in it. */
int  bench_dir_create(bench_env *env);
void bench_dir_remove(bench_env *env);

/* Start ipcqd on env->url and wait for its ready line; stop it with
 * SIGTERM. Stop returns the broker's exit status (or -1). */
int bench_broker_start(bench_env *env);
int bench_broker_stop(bench_env *env);

/* ------------------------------------------------------------- cases */

enum bench_ckind {
	BENCH_NNG_TPUT,  /* plain nng PUSH/PULL P -> C */
	BENCH_IPCQ_TPUT, /* ipcq through the broker P -> C */
	BENCH_NNG_RTT,   /* plain nng REQ/REP round trip, blocking REP */
	BENCH_NNG_RTT_AIO, /* the same, REP context driven by its aio */
	BENCH_IPCQ_SEND, /* one ipcq_queue_send call */
	BENCH_IPCQ_PING, /* ipcq ping-pong over two queues */
	BENCH_IPCQ_SEGBYTES, /* segment bytes per queued message */
	/* Comparison peers (cases_peers.c, docs/bench.md): */
	BENCH_PEER_TPUT, /* P -> C through a peer (name says which) */
	BENCH_PEER_RTT,  /* 64 B ping-pong through a peer */
};

/* Rounds: the whole case list runs this many times, so that the two
 * sides of each ratio are measured close together, several times over. */
#define BENCH_MAX_ROUNDS 16

typedef struct bench_opts {
	uint64_t    dur_ms; /* per throughput case, when count is 0 */
	uint64_t    count;  /* messages per throughput case; 0: dur_ms */
	uint64_t    rtt;    /* timed round trips per latency case */
	int         rounds; /* 1 .. BENCH_MAX_ROUNDS */
	const char *only;   /* comma-separated id patterns, or NULL */
	int         quick;
	int         peers;  /* run the comparison peers' cases */
} bench_opts;

/* One measurement: msg/s (throughput), p50/p99/p99.9 (latency) or a
 * case's own value (BENCH_IPCQ_SEGBYTES: segment bytes per message). */
typedef struct bench_fig {
	int    ok;
	double msg_per_s;
	double p50_us, p99_us, p999_us;
	double value;
} bench_fig;

typedef struct bench_case {
	enum bench_ckind kind;
	const char      *name; /* printed as case=NAME */
	size_t           size;
	uint32_t         p, c, batch;
	char             id[64]; /* NAME/SIZE[/PxC]: what --only matches */
	int              round;  /* the round being run (0-based) */
	int              peer;   /* a comparison peer's case */
	int              full;   /* not in --quick unless --only names it */
	/* Per-case ipcq settings, passed to its workers as key=value: */
	uint32_t         ack;     /* consumers ack explicitly (ack=1) */
	uint32_t         spin_us; /* ipcq_queue_opts.spin_us (spin_us=N) */
	uint32_t         zerocopy; /* loan/send_loan, recv_view (zerocopy=1) */
	uint64_t         count;   /* messages, whatever --count/--duration
	                             say (the fresh-queue cases) */
	bench_fig        fig[BENCH_MAX_ROUNDS];
} bench_case;

/* The case table, in run order. Returns the number of cases. */
int bench_cases_build(bench_case *cases, int max);
/* Append one case (ids: NAME/SIZE/PxC for throughput, else NAME/SIZE). */
bench_case *bench_case_add(bench_case *cases, int *n, int max,
    enum bench_ckind kind, const char *name, size_t size, uint32_t pc,
    uint32_t batch);
/* Append the comparison peers' cases (cases_peers.c). */
void bench_peer_cases_build(bench_case *cases, int *n, int max);
/* Run one case (round bc->round), print its line, fill its figure; 0 if
 * it ran and verified, 1 if it was skipped (a "skipped reason=" line),
 * -1 if it failed. uid names its queues and sockets: unique per run. */
int bench_case_run(const bench_env *env, const bench_opts *o,
    bench_case *bc, int uid);
/* After the rounds: per-case medians, then the targets' ratios. */
void bench_report_medians(const bench_opts *o, const bench_case *cases,
    int n);
void bench_report_ratios(const bench_opts *o, const bench_case *cases,
    int n);

/* Helpers shared by the case runners. */
uint64_t bench_case_timeout_ms(const bench_opts *o);
uint64_t bench_expected_hsum(uint32_t prod, uint64_t n);
/* Count and hash sum that a consumer's result line gives producer prod. */
int bench_tally_get(const char *line, uint32_t prod, uint64_t *cnt,
    uint64_t *hsum);
int bench_run_lat(const bench_env *env, const bench_opts *o,
    bench_case *bc, int idx);
int bench_ctr_file(const bench_env *env, int idx, char *path, size_t len);
/* Append the case's own ipcq settings (ack=, spin_us=, zerocopy=) to a
 * worker's arguments, when they differ from the defaults. */
void bench_case_args(bench_args *a, const bench_case *bc);

/* A throughput case's workers: kinds, address, counters file, mode. */
typedef struct bench_tput_spec {
	const char *cons, *prod;   /* worker kinds */
	char        url[BENCH_URL_MAX];
	char        ctr[BENCH_URL_MAX]; /* "-" when unused */
	const char *mode;          /* passed as mode=...; NULL: none */
} bench_tput_spec;

int bench_run_tput(const bench_env *env, const bench_opts *o,
    bench_case *bc, int idx, const bench_tput_spec *sp);
/* n timed round trips: pong (tallies, echoes) then ping (times). */
int bench_run_pingpong(const bench_env *env, const bench_opts *o,
    bench_case *bc, int idx, const bench_tput_spec *sp, uint64_t n,
    char *why, size_t len);

/* Peers: run one case; stop what the peers started (redis-server). */
int  bench_peer_run(const bench_env *env, const bench_opts *o,
     bench_case *bc, int idx);
void bench_peers_stop(void);
/* Wait for pid at most timeout_ms, then SIGKILL it; the wait status. */
int  bench_reap(pid_t pid, int timeout_ms);


#endif
