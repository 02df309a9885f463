/*
 * The listener watchdog. nng 1.5.2 stops accepting on a listener for
 * good when a peer hangs up during the SP handshake (nanomsg/nng#1518,
 * fixed in nng 1.6): one `nc -U` or crashed client would lock every new
 * client out. The watchdog probes each listener like a client would, and
 * replaces one that stopped answering, keeping existing connections.
 */
#ifndef IPCQD_WATCHDOG_H
#define IPCQD_WATCHDOG_H

struct ipcqd_broker;
typedef struct ipcqd_watchdog ipcqd_watchdog;

/* Probe every period_ms. 0 or an errno. */
int ipcqd_watchdog_start(ipcqd_watchdog **wp, struct ipcqd_broker *b,
    int period_ms);
/* Stop and join the thread, then close the listeners it retired (only
 * at shutdown: that drops their connections). Accepts NULL. */
void ipcqd_watchdog_stop(ipcqd_watchdog *w);

#endif
