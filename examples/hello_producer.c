/*
 * hello_producer — send N greetings to a queue, then end the stream.
 * Usage: hello_producer [QUEUE [N]]   (defaults: hello 5)
 * Broker: $IPCQ_URL, else the per-user default socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ipcq.h"

static int
fail(const char *what, int err)
{
	fprintf(stderr, "hello_producer: %s: %s\n", what, ipcq_strerror(err));
	return 1;
}

int
main(int argc, char **argv)
{
	const char  *name = argc > 1 ? argv[1] : "hello";
	int          n    = argc > 2 ? atoi(argv[2]) : 5;
	ipcq_client *c;
	ipcq_queue  *q;
	char         text[64];
	int          err;

	if ((err = ipcq_client_open(&c, NULL)) != 0) {
		return fail("connect", err);
	}
	if ((err = ipcq_queue_open(&q, c, name, NULL)) != 0) {
		ipcq_client_close(c);
		return fail("open", err);
	}
	for (int i = 1; i <= n && err == 0; i++) {
		int len = snprintf(text, sizeof(text), "hello #%d from pid %d",
		    i, (int) getpid());
		err = ipcq_queue_send(q, text, (size_t) len, -1);
	}
	/* The sentinel: consumers get IPCQ_EOF once they have drained. */
	if (err == 0) {
		err = ipcq_queue_end(q);
	}
	if (err == 0) {
		printf("hello_producer: sent %d messages to '%s' and ended\n",
		    n, name);
	}
	ipcq_queue_close(q);
	ipcq_client_close(c);
	return err == 0 ? 0 : fail("send", err);
}
