/*
 * Probing a listening address the way a client would: connect, exchange
 * SP headers, hang up. Used to refuse a second broker on a live address
 * and by the listener watchdog (watchdog.c).
 */
#ifndef IPCQD_PROBE_H
#define IPCQD_PROBE_H

enum {
	IPCQD_PROBE_ERROR    = -1, /* could not probe (errno set) */
	IPCQD_PROBE_REFUSED  = 0,  /* nobody listens */
	IPCQD_PROBE_SILENT   = 1,  /* connected, no reply in time */
	IPCQD_PROBE_ANSWERED = 2,  /* an SP REP peer answered a request */
};

/* Probe an ipc:// or tcp:// URL, waiting at most timeout_ms for each
 * step. The handshake is always completed or abandoned cleanly: nng
 * 1.5.2 stops accepting for good when a peer hangs up during it
 * (nanomsg/nng#1518). */
int ipcqd_probe(const char *url, int timeout_ms);

#endif
