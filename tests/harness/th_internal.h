/*
 * th_internal.h — what the harness's files share and tests do not see.
 */
#ifndef TH_INTERNAL_H
#define TH_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#ifndef IPCQ_TEST_BROKER
#error "IPCQ_TEST_BROKER (path of ipcqd) must be defined by CMake"
#endif
#ifndef IPCQ_TEST_PEER
#error "IPCQ_TEST_PEER (path of ipcq-peer) must be defined by CMake"
#endif

/* What a child gets: argv[0] is the path; fds are dup2'ed onto 0, 1, 2
 * and 3 when >= 0 (all harness fds are close-on-exec otherwise). */
struct thi_spawn {
	const char *const *argv;
	int                fd_in, fd_out, fd_err, fd3;
	pid_t              parent;
};

pid_t thi_spawn(const struct thi_spawn *sp);
int   thi_pidfd_open(pid_t pid);
/* 0 once reaped (status written), -1 on timeout. */
int   thi_wait_pid(pid_t pid, int pidfd, int timeout_ms, int *status);

/* Whole file, NUL-terminated, malloc'ed; NULL on error. */
char *thi_read_file(const char *path, size_t *len);

/* Fails the test unless th_begin has set up the environment. */
void thi_env_need(void);

/* Remember a broker pid: killed at exit if still running, and its pid
 * marks the /dev/shm names it may have created. */
/* A broker this test started on url (its first address): its pid, and
 * the prefix of its segment names in /dev/shm (docs/shm.md). */
void thi_broker_register(pid_t pid, const char *url);

/* Does name contain the decimal number pid, not inside a longer number? */
int thi_shm_name_has_pid(const char *name, pid_t pid);

/* rm -rf dir (no symlinks followed). */
void thi_rm_rf(const char *dir);

/* Name of the file in a test directory that lists its broker pids. */
#define TH_PIDS_FILE "broker.pids"
/* The segment-name prefixes of its brokers (th_seg_prefix), one a line. */
#define TH_SEGS_FILE "broker.segs"

void thi_proc_kill_all(void);
int  thi_proc_count_live(void);

#endif
