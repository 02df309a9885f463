/*
 * hello_consumer — print every message of a queue until end of stream.
 * Usage: hello_consumer [QUEUE]   (default: hello)
 * Broker: $IPCQ_URL, else the per-user default socket.
 */
#include <stdio.h>

#include "ipcq.h"

int
main(int argc, char **argv)
{
	const char  *name  = argc > 1 ? argv[1] : "hello";
	int          count = 0;
	ipcq_client *c;
	ipcq_queue  *q;
	ipcq_msg    *m;
	int          err;

	setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it comes */
	if ((err = ipcq_client_open(&c, NULL)) != 0) {
		fprintf(stderr, "hello_consumer: %s\n", ipcq_strerror(err));
		return 1;
	}
	if ((err = ipcq_queue_open(&q, c, name, NULL)) == 0) {
		/* Block (-1) for each message; IPCQ_EOF ends the loop. */
		while ((err = ipcq_queue_recv(q, &m, -1)) == 0) {
			printf("hello_consumer: got '%.*s'\n",
			    (int) ipcq_msg_size(m), (const char *) ipcq_msg_data(m));
			ipcq_msg_free(m);
			count++;
		}
		ipcq_queue_close(q);
	}
	ipcq_client_close(c);
	if (err != IPCQ_EOF) {
		fprintf(stderr, "hello_consumer: %s\n", ipcq_strerror(err));
		return 1;
	}
	printf("hello_consumer: end of stream after %d messages\n", count);
	return 0;
}
