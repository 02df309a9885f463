/*
 * files_driver — a file-processing pool. The driver writes K small text
 * files into a directory, puts their paths on a "todo" queue and ends it.
 * files_worker processes (started separately, any number W) upper-case
 * each file into <file>.upper and report "<path> <bytes>" on a "done"
 * queue. The driver collects the reports until end of stream, checks
 * that every file was reported once with the right size and that each
 * .upper file holds the upper-cased text, then removes what it wrote.
 *
 * Usage: files_driver [K [W [DIR [PATHS_QUEUE [DONE_QUEUE]]]]]
 *        (defaults: 12 3 <new temp dir> files.todo files.done)
 * W is the number of workers: the done queue ends after W of them ended.
 * Start the W workers with the same W and queue names (before or after
 * the driver: the order does not matter). Exit 0 if every check passes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcq.h"

#define FILES_MAX     1000
#define FILES_BATCH   64
#define FILES_WAIT_MS 30000 /* longest silence before giving up */

typedef struct files {
	int         k, w;
	char        dir[4096];
	int         own_dir; /* we made dir: remove it */
	const char *todo, *done;
	uint8_t     seen[FILES_MAX];
	int         bad;
} files;

static void
files_path(const files *f, int i, const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "%s/file-%03d.txt%s", f->dir, i, suffix);
}

/* The text of file i; the check regenerates it rather than keeping it. */
static int
files_content(int i, char *buf, size_t len)
{
	return snprintf(buf, len,
	    "File %d: the quick brown fox jumps over the lazy dog.\n"
	    "Line two of file %d, written by files_driver.\n", i, i);
}

static int
files_write(files *f)
{
	char  path[4200], text[256];
	FILE *fp;

	for (int i = 0; i < f->k; i++) {
		files_path(f, i, "", path, sizeof(path));
		if ((fp = fopen(path, "w")) == NULL) {
			fprintf(stderr, "files_driver: %s: %s\n", path,
			    strerror(errno));
			return -1;
		}
		files_content(i, text, sizeof(text));
		fputs(text, fp);
		if (fclose(fp) != 0) {
			return -1;
		}
	}
	return 0;
}

/* Every path on todo, in one batch, then the end of stream. */
static int
files_send(files *f, ipcq_queue *tq)
{
	static char paths[FILES_MAX][4200];
	static ipcq_iov iov[FILES_MAX];
	int err;

	for (int i = 0; i < f->k; i++) {
		files_path(f, i, "", paths[i], sizeof(paths[i]));
		iov[i].data = paths[i];
		iov[i].len  = strlen(paths[i]);
	}
	if ((err = ipcq_queue_send_batch(tq, iov, (size_t) f->k, NULL, -1)) ==
	        0) {
		err = ipcq_queue_end(tq);
	}
	return err;
}

/* Compare the .upper file of file i with the upper-cased original. */
static int
files_verify(const files *f, int i, long bytes)
{
	char  path[4200], want[256], got[512];
	int   len = files_content(i, want, sizeof(want));
	FILE *fp;
	size_t n;

	for (int j = 0; j < len; j++) {
		want[j] = (char) toupper((unsigned char) want[j]);
	}
	files_path(f, i, ".upper", path, sizeof(path));
	if ((fp = fopen(path, "r")) == NULL) {
		return -1;
	}
	n = fread(got, 1, sizeof(got), fp);
	fclose(fp);
	return bytes == len && n == (size_t) len && memcmp(got, want, n) == 0
	    ? 0
	    : -1;
}

/* Which of our files a reported path names: -1 if none. */
static int
files_index(const files *f, const char *path)
{
	size_t dlen = strlen(f->dir);
	int    i, end = 0;

	if (strncmp(path, f->dir, dlen) != 0 ||
	    sscanf(path + dlen, "/file-%d.txt%n", &i, &end) != 1 ||
	    path[dlen + (size_t) end] != '\0' || i < 0 || i >= f->k) {
		return -1;
	}
	return i;
}

/* One "<path> <bytes>" report. A file reported twice (a redelivery after
 * a worker died before its ack) is fine: the work is idempotent. */
static void
files_take(files *f, const ipcq_msg *m)
{
	char   text[4300], *sp = NULL;
	size_t len = ipcq_msg_size(m);
	int    i   = -1;

	if (len < sizeof(text)) {
		memcpy(text, ipcq_msg_data(m), len);
		text[len] = '\0';
		sp        = strrchr(text, ' ');
	}
	if (sp != NULL) {
		*sp = '\0'; /* text: the path; sp + 1: the byte count */
		i   = files_index(f, text);
	}
	if (i < 0 || files_verify(f, i, atol(sp + 1)) != 0) {
		fprintf(stderr, "files_driver: bad report '%.*s'\n", (int) len,
		    (const char *) ipcq_msg_data(m));
		f->bad = 1;
		return;
	}
	if (!f->seen[i]) {
		printf("files_driver: done %s (%s bytes)\n", text, sp + 1);
	}
	f->seen[i] = 1;
}

static int
files_collect(files *f, ipcq_queue *dq)
{
	ipcq_msg *msgs[FILES_BATCH];
	size_t    n;
	int       err;

	while ((err = ipcq_queue_recv_batch(dq, msgs, FILES_BATCH, &n,
	            FILES_WAIT_MS)) == 0) {
		for (size_t i = 0; i < n; i++) {
			files_take(f, msgs[i]);
			ipcq_msg_free(msgs[i]);
		}
	}
	return err == IPCQ_EOF ? 0 : err;
}

/* Open done (declaring W producers) and todo, send, collect. */
static int
files_run(files *f, ipcq_client *c)
{
	ipcq_queue_opts dopts, topts;
	ipcq_queue     *dq = NULL, *tq = NULL;
	int             err;

	ipcq_queue_opts_init(&dopts);
	dopts.roles              = IPCQ_ROLE_CONSUMER;
	dopts.expected_producers = (uint32_t) f->w;
	ipcq_queue_opts_init(&topts);
	topts.roles = IPCQ_ROLE_PRODUCER;
	if ((err = ipcq_queue_open(&dq, c, f->done, &dopts)) == 0 &&
	    (err = ipcq_queue_open(&tq, c, f->todo, &topts)) == 0 &&
	    (err = files_send(f, tq)) == 0) {
		err = files_collect(f, dq);
	}
	ipcq_queue_close(tq);
	ipcq_queue_close(dq);
	return err;
}

static void
files_cleanup(const files *f)
{
	char path[4200];

	for (int i = 0; i < f->k; i++) {
		files_path(f, i, "", path, sizeof(path));
		unlink(path);
		files_path(f, i, ".upper", path, sizeof(path));
		unlink(path);
	}
	if (f->own_dir) {
		rmdir(f->dir);
	}
}

static int
files_setup(files *f, int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	f->k    = argc > 1 ? atoi(argv[1]) : 12;
	f->w    = argc > 2 ? atoi(argv[2]) : 3;
	f->todo = argc > 4 ? argv[4] : "files.todo";
	f->done = argc > 5 ? argv[5] : "files.done";
	if (f->k < 1 || f->k > FILES_MAX || f->w < 1) {
		fprintf(stderr, "usage: files_driver [K [W [DIR [PATHS_QUEUE "
		                "[DONE_QUEUE]]]]] (1 <= K <= %d)\n", FILES_MAX);
		return 2;
	}
	if (argc > 3 && argv[3][0] != '\0') {
		snprintf(f->dir, sizeof(f->dir), "%s", argv[3]);
		return 0;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/ipcq-files.XXXXXX", tmp);
	if (mkdtemp(f->dir) == NULL) {
		perror("files_driver: mkdtemp");
		return 1;
	}
	f->own_dir = 1;
	return 0;
}

int
main(int argc, char **argv)
{
	static files f;
	ipcq_client *c;
	int          rc, err, missing = 0;

	/* Line by line, also into a pipe: the output interleaves in
	 * order with the other processes' (scripts/demo.sh). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = files_setup(&f, argc, argv)) != 0) {
		return rc;
	}
	printf("files_driver: %d files in %s, %d workers expected\n", f.k,
	    f.dir, f.w);
	if (files_write(&f) != 0) {
		files_cleanup(&f);
		return 1;
	}
	if ((err = ipcq_client_open(&c, NULL)) == 0) {
		err = files_run(&f, c);
		ipcq_client_close(c);
	}
	if (err != 0) {
		fprintf(stderr, "files_driver: %s\n", ipcq_strerror(err));
	}
	for (int i = 0; i < f.k; i++) {
		missing += !f.seen[i];
	}
	files_cleanup(&f);
	rc = err == 0 && !f.bad && missing == 0 ? 0 : 1;
	printf("files_driver: %d/%d files upper-cased and verified%s: %s\n",
	    f.k - missing, f.k, f.bad ? ", bad reports seen" : "",
	    rc == 0 ? "OK" : "FAILED");
	return rc;
}
