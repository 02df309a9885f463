/*
 * Driver-side helpers of the comparison peers (cases_peers.c): the
 * redis-server the redis cases share, and the Python peer's runner.
 */
#ifndef IPCQ_BENCH_PEERS_H
#define IPCQ_BENCH_PEERS_H

#include <stddef.h>

#include "driver.h"

/* Print the case's "skipped reason=..." line; returns 1. */
int bench_peer_skip(const bench_case *bc, const char *reason);
/* Print the case's FAIL line; returns -1. */
int bench_peer_fail(const bench_case *bc, const char *why);

/* Start redis-server on a unix socket in the run directory (once per
 * run; later calls return the same socket) and check it has BLMPOP.
 * 0 and the socket path, or -1 and why (a skip reason, no spaces). */
int bench_redis_start(const bench_env *env, char *path, size_t len,
    char *why, size_t wlen);

/* Run py_mpqueue.py for the case: 0 verified, 1 skipped, -1 failed. */
int bench_py_run(const bench_env *env, const bench_opts *o, bench_case *bc);

#endif
