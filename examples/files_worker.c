/*
 * files_worker — one worker of the files_driver example: take a path from
 * the todo queue, write the upper-cased file to <path>.upper, report
 * "<path> <bytes>" on the done queue, then ack the path (at least once:
 * a worker that dies before its ack has the path redelivered).
 * At end of stream on todo, end this worker's stream on done.
 *
 * Usage: files_worker [W [PATHS_QUEUE [DONE_QUEUE]]]
 *        (defaults: 3 files.todo files.done)
 * W is the total number of workers, the same for all of them and for
 * files_driver, so the done queue ends after W workers ended whoever
 * creates it. Exit 0 after a clean end of stream, 1 on error.
 *
 * The worker trusts the queue: it reads and writes whatever path it is
 * given, with its own permissions. Fine for an example, not for a queue
 * that untrusted processes can send to.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcq.h"

#define WORKER_MAX_FILE (1024 * 1024)

/* Upper-case path into path.upper; *bytes gets the size. 0 or errno. */
static int
worker_upcase(const char *path, long *bytes)
{
	static char buf[WORKER_MAX_FILE];
	char        out[4200];
	FILE       *in, *fp;
	size_t      n;

	if ((in = fopen(path, "rb")) == NULL) {
		return errno;
	}
	n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	for (size_t i = 0; i < n; i++) {
		buf[i] = (char) toupper((unsigned char) buf[i]);
	}
	snprintf(out, sizeof(out), "%s.upper", path);
	if ((fp = fopen(out, "wb")) == NULL) {
		return errno;
	}
	if (fwrite(buf, 1, n, fp) != n || fclose(fp) != 0) {
		return EIO;
	}
	*bytes = (long) n;
	return 0;
}

/* Process one path message and report it on dq. */
static int
worker_one(ipcq_queue *dq, const ipcq_msg *m)
{
	char   path[4096], report[4200];
	size_t len = ipcq_msg_size(m);
	long   bytes = 0;
	int    rc;

	if (len >= sizeof(path)) {
		return IPCQ_EINVAL;
	}
	memcpy(path, ipcq_msg_data(m), len);
	path[len] = '\0';
	if ((rc = worker_upcase(path, &bytes)) != 0) {
		fprintf(stderr, "files_worker: %s: %s\n", path, strerror(rc));
		return IPCQ_EINVAL;
	}
	rc = snprintf(report, sizeof(report), "%s %ld", path, bytes);
	return ipcq_queue_send(dq, report, (size_t) rc, -1);
}

static int
worker_loop(ipcq_queue *tq, ipcq_queue *dq, int *done)
{
	ipcq_msg *m;
	int       err;

	while ((err = ipcq_queue_recv(tq, &m, -1)) == 0) {
		err = worker_one(dq, m);
		if (err == 0) {
			err = ipcq_queue_ack(tq, m); /* reported: done */
		}
		ipcq_msg_free(m);
		if (err != 0) {
			return err;
		}
		(*done)++;
	}
	return err == IPCQ_EOF ? ipcq_queue_end(dq) : err;
}

int
main(int argc, char **argv)
{
	long            w    = argc > 1 ? atol(argv[1]) : 3;
	const char     *todo = argc > 2 ? argv[2] : "files.todo";
	const char     *dname = argc > 3 ? argv[3] : "files.done";
	ipcq_queue_opts topts, dopts;
	ipcq_client    *c;
	ipcq_queue     *tq = NULL, *dq = NULL;
	int             err, done = 0;

	if (w < 1) {
		fprintf(stderr, "usage: files_worker [W [PATHS [DONE]]]\n");
		return 2;
	}
	ipcq_queue_opts_init(&topts);
	topts.roles    = IPCQ_ROLE_CONSUMER;
	topts.ack_mode = IPCQ_ACK_EXPLICIT;
	ipcq_queue_opts_init(&dopts);
	dopts.roles              = IPCQ_ROLE_PRODUCER;
	dopts.expected_producers = (uint32_t) w;
	if ((err = ipcq_client_open(&c, NULL)) != 0) {
		fprintf(stderr, "files_worker: %s\n", ipcq_strerror(err));
		return 1;
	}
	if ((err = ipcq_queue_open(&tq, c, todo, &topts)) == 0 &&
	    (err = ipcq_queue_open(&dq, c, dname, &dopts)) == 0) {
		err = worker_loop(tq, dq, &done);
	}
	ipcq_queue_close(dq);
	ipcq_queue_close(tq);
	ipcq_client_close(c);
	if (err != 0) {
		fprintf(stderr, "files_worker[%d]: %s\n", (int) getpid(),
		    ipcq_strerror(err));
		return 1;
	}
	printf("files_worker[%d]: upper-cased %d files\n", (int) getpid(),
	    done);
	return 0;
}
