/*
 * Closing an nng socket without risking a hang (shared internal).
 *
 * nng 1.5.2's nng_close can block for good in its reaper when a
 * connection is torn down with I/O in flight (nanomsg/nng#1543, still
 * open in 1.7). The broker and libipcq both close through this helper: it
 * runs nng_close on its own thread and waits at most timeout_ms.
 */
#ifndef IPCQI_CLOSE_H
#define IPCQI_CLOSE_H

#include <nng/nng.h>

/* 1 if the socket closed within timeout_ms. 0 if the close was left
 * running: nng may still call the socket's callbacks, so nothing they
 * use may be freed (leak it), and a thread stays blocked in nng. */
int ipcqi_close_socket(nng_socket sock, int timeout_ms);

#endif
