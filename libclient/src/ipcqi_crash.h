/*
 * Crash points for the crash tests (tests/integration/test_crash.c): in
 * the test peer's build of the library (IPCQ_TEST_HOOKS), the process
 * SIGKILLs itself the Nth time it reaches the point named by the
 * environment variable IPCQ_TEST_CRASH_AT="point:N". Elsewhere the
 * macro is nothing. Points name where they are: "send.locked" (a send
 * admitted, segment lock held), "recv.locked" (a record taken, lock held),
 * "ack.locked" (an ack done, lock held), "loan.reserved" (a loan reserved,
 * not yet filled or sent).
 */
#ifndef IPCQI_CRASH_H
#define IPCQI_CRASH_H

#ifdef IPCQ_TEST_HOOKS
void ipcqi_crash_point(const char *point);
#define IPCQI_CRASH_POINT(p) ipcqi_crash_point(p)
#else
#define IPCQI_CRASH_POINT(p) ((void) 0)
#endif

#endif
