/*
 * ipcq-bench internals (prefix bench_). One program, two halves:
 *
 *  - the driver (main.c, cases*.c, group.c, rundir.c, report.c; see
 *    driver.h) never touches nng or libipcq:
 *    it starts the broker, then for each case fork+execs itself as worker
 *    processes, lines them up on a start pipe, collects one result line
 *    from each, verifies counts and prints the case's figures;
 *  - a worker ("ipcq-bench __worker kind=... key=value ...") is one
 *    producer, consumer or latency client (worker.c dispatches to
 *    w_nng*.c, w_ipcq*.c and the comparison peers' w_ring.c, w_mq.c,
 *    w_zmq.c, w_redis.c).
 *
 * Workers talk to the driver over pipes: fd_out (worker -> driver:
 * "READY\n", then one result line of key=value tokens), fd_go (driver ->
 * workers: one byte each to start) and fd_rel (one byte each to exit:
 * nng senders wait for it, since nng_close does not linger). Exec, not
 * bare fork, so that every process initialises nng itself and no nng
 * thread state is ever forked.
 */
#ifndef IPCQ_BENCH_H
#define IPCQ_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Producers or consumers per case, at most. */
#define BENCH_MAX_PROCS 4
/* Payload header: magic, producer id, sequence number. The smallest
 * message size (64 B) leaves room for it. */
#define BENCH_MAGIC    0x71637069u /* "ipcq" */
#define BENCH_HDR_SIZE 16
/* How long one blocking call may take before a worker calls the run
 * broken, and how long the driver waits for a worker beyond the case's
 * own length before it kills the group. */
#define BENCH_CALL_TIMEOUT_MS 30000
#define BENCH_GRACE_MS        60000
/* Longest result line a worker writes. */
#define BENCH_LINE_MAX 1024

/* ------------------------------------------------------------ worker */

/* What one worker process is told, from its key=value arguments. */
typedef struct bench_wcfg {
	char     kind[32];   /* "nng.push", "ipcq.cons", ... */
	char     url[480];   /* broker URL, or nng address (prefix) */
	char     queue[64];  /* ipcq queue name */
	char     queue2[64]; /* reply queue of the ping-pong */
	char     ctr[480];   /* nng.pull: shared counters file */
	char     mode[16];   /* ring: "spin" or "futex" */
	size_t   size;       /* payload bytes */
	uint32_t batch;      /* messages per call; 1 = unbatched */
	uint32_t id;         /* producer / consumer index */
	uint32_t nprod, ncons;
	uint64_t count;      /* messages / round trips; 0: run for dur_ms */
	uint64_t dur_ms;
	uint64_t warmup;     /* untimed round trips before the timed ones */
	uint32_t ack;        /* ipcq consumers: IPCQ_ACK_EXPLICIT, ack batches */
	uint32_t spin_us;    /* ipcq: ipcq_queue_opts.spin_us */
	uint32_t zerocopy;   /* ipcq: loan + send_loan, recv_view (batch 1) */
	int      fd_go, fd_out, fd_rel;
} bench_wcfg;

/* Entry of "ipcq-bench __worker ...": argv holds key=value tokens. */
int bench_worker_main(int argc, char **argv);

/* Write "READY\n", then block until the driver's start byte. */
int bench_ready(const bench_wcfg *cfg);
/* Block until the driver releases this worker (fd_rel). */
void bench_wait_release(const bench_wcfg *cfg);
/* Write the worker's one result line (printf format, no newline). */
void bench_report(const bench_wcfg *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report a failure: "err=WHAT:WHY" (spaces in why become '_'). Returns -1. */
int bench_fail(const bench_wcfg *cfg, const char *what, const char *why);

/* Whether producer loop should send message seq (count or duration). */
int bench_more(const bench_wcfg *cfg, uint64_t seq, uint64_t t0_ns);

int bench_nng_push(const bench_wcfg *cfg);
int bench_nng_pull(const bench_wcfg *cfg);
int bench_nng_rep(const bench_wcfg *cfg);
int bench_nng_req(const bench_wcfg *cfg);
int bench_nng_repaio(const bench_wcfg *cfg);
int bench_ipcq_prod(const bench_wcfg *cfg);
int bench_ipcq_cons(const bench_wcfg *cfg);
int bench_ipcq_sendrtt(const bench_wcfg *cfg);
int bench_ipcq_ping(const bench_wcfg *cfg);
int bench_ipcq_pong(const bench_wcfg *cfg);
int bench_ipcq_segbytes(const bench_wcfg *cfg);
/* Comparison peers (docs/bench.md, "Comparison peers"). */
int bench_ring_prod(const bench_wcfg *cfg);
int bench_ring_cons(const bench_wcfg *cfg);
int bench_ring_ping(const bench_wcfg *cfg);
int bench_ring_pong(const bench_wcfg *cfg);
int bench_mq_prod(const bench_wcfg *cfg);
int bench_mq_cons(const bench_wcfg *cfg);
int bench_mq_ping(const bench_wcfg *cfg);
int bench_mq_pong(const bench_wcfg *cfg);
int bench_zmq_push(const bench_wcfg *cfg);  /* IPCQ_BENCH_ZMQ only */
int bench_zmq_pull(const bench_wcfg *cfg);
int bench_redis_prod(const bench_wcfg *cfg); /* IPCQ_BENCH_REDIS only */
int bench_redis_cons(const bench_wcfg *cfg);

/* ----------------------------------------------- payload, verification */

uint64_t bench_now_ns(void); /* CLOCK_MONOTONIC: one clock for all processes */
uint64_t bench_mix(uint32_t prod, uint64_t seq);

/* Fill a payload buffer once (pattern), then stamp each message. */
void bench_fill(void *buf, size_t size);
void bench_stamp(void *buf, uint32_t prod, uint64_t seq);
uint64_t bench_seq_of(const void *buf);

/* What one consumer saw: per producer, count and hash sum of sequence
 * numbers (the driver compares them with what producers sent: a loss or
 * a duplicate changes the count or the sum), and sequence order (FIFO
 * means each consumer sees each producer's numbers strictly rising). */
typedef struct bench_tally {
	uint32_t nprod;
	size_t   size;
	uint64_t total;
	uint64_t t_last; /* ns, when the last message arrived */
	uint64_t calls;  /* receive calls that returned messages */
	uint64_t count[BENCH_MAX_PROCS];
	uint64_t hsum[BENCH_MAX_PROCS];
	uint64_t next[BENCH_MAX_PROCS]; /* lowest acceptable next seq */
	char     err[160];
} bench_tally;

void bench_tally_init(bench_tally *t, uint32_t nprod, size_t size);
/* 0 if the message is well-formed and in order; else records why. */
int bench_tally_add(bench_tally *t, const void *data, size_t len);
/* "recv=N calls=N tl=NS v0=C:H ..." plus "err=..." if one was recorded. */
void bench_tally_format(const bench_tally *t, char *buf, size_t len);

/* Round-trip samples, in ns. */
typedef struct bench_lat {
	uint64_t *ns;
	size_t    n, cap;
} bench_lat;

int  bench_lat_init(bench_lat *l, size_t cap);
void bench_lat_add(bench_lat *l, uint64_t ns);
/* Sorts, then "n=N p50=NS p99=NS p999=NS mean=NS max=NS". */
void bench_lat_format(bench_lat *l, char *buf, size_t len);
void bench_lat_fini(bench_lat *l);

/* nng.pull termination: without a broker there is no end of stream, so
 * consumers share these counters (a file mapped by each of them) and stop
 * once every producer is done and everything they sent has arrived. */
typedef struct bench_ctr {
	_Atomic uint64_t received;
	_Atomic uint64_t expected;  /* producers add what they sent ... */
	_Atomic uint32_t done;      /* ... before counting themselves done */
} bench_ctr;

int  bench_ctr_map(const char *path, bench_ctr **ctr);
void bench_ctr_unmap(bench_ctr *ctr);

/* ------------------------------------------------------------ driver */

/* Key lookup in a result line: 0 and *v on success, -1 if absent. */
int bench_kv_u64(const char *line, const char *key, uint64_t *v);
/* Value of key (up to the next space) copied into buf; -1 if absent. */
int bench_kv_str(const char *line, const char *key, char *buf, size_t len);

#endif
