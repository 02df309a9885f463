/*
 * epoll_consumer — one thread consumes two queues through epoll until
 * both reach end of stream, then prints how many messages each gave.
 * Usage: epoll_consumer [QUEUE_A [QUEUE_B]]   (default: ep.a ep.b)
 * Broker: $IPCQ_URL, else the per-user default socket.
 *
 * The pattern: ipcq_queue_pollfd gives each handle an fd that is readable
 * when a recv would not block; on readable, recv with timeout 0 until
 * IPCQ_ETIMEDOUT or IPCQ_EABANDONED (which re-arm the fd) or IPCQ_EOF
 * (end of stream, the fd stays readable).
 */
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ipcq.h"

#define NQ 2

/* Take everything ready on q; 1 at end of stream, 0 if drained, -1 on
 * error. Any other fd (a socket, a timer) could share the epoll set. */
static int
drain(ipcq_queue *q, long *count)
{
	ipcq_msg *m;
	int       err;

	while ((err = ipcq_queue_recv(q, &m, 0)) == 0) {
		ipcq_msg_free(m); /* a real service would handle it here */
		(*count)++;
	}
	/* EABANDONED: a producer left without ending; another may come,
	 * and the fd wakes us when it sends or ends. */
	if (err == IPCQ_EOF || err == IPCQ_ETIMEDOUT || err == IPCQ_EABANDONED) {
		return err == IPCQ_EOF;
	}
	fprintf(stderr, "epoll_consumer: %s: %s\n", ipcq_queue_name(q),
	    ipcq_strerror(err));
	return -1;
}

int
main(int argc, char **argv)
{
	const char        *names[NQ] = { argc > 1 ? argv[1] : "ep.a",
		        argc > 2 ? argv[2] : "ep.b" };
	ipcq_queue        *q[NQ]     = { NULL, NULL };
	long               count[NQ] = { 0, 0 };
	int                open = 0, ended = 0, rv = 1, ep, fd, err = 0;
	ipcq_client       *c;
	struct epoll_event ev;

	if ((err = ipcq_client_open(&c, NULL)) != 0 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		fprintf(stderr, "epoll_consumer: %s\n",
		    err ? ipcq_strerror(err) : "epoll_create1 failed");
		return 1;
	}
	for (; open < NQ; open++) {
		if ((err = ipcq_queue_open(&q[open], c, names[open], NULL)) ||
		    (err = ipcq_queue_pollfd(q[open], &fd))) {
			goto out;
		}
		ev.events   = EPOLLIN | EPOLLET; /* drained to ETIMEDOUT */
		ev.data.u32 = (uint32_t) open;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	while (ended < NQ) {
		struct epoll_event evs[NQ];
		int                n = epoll_wait(ep, evs, NQ, -1);
		for (int k = 0; k < n; k++) {
			int i = (int) evs[k].data.u32, st = drain(q[i], &count[i]);
			if (st < 0) {
				goto out;
			}
			if (st > 0) { /* EOF stays readable: stop watching */
				ipcq_queue_pollfd(q[i], &fd);
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				ended++;
			}
		}
	}
	for (int i = 0; i < NQ; i++) {
		printf("epoll_consumer: %s: %ld messages\n", names[i], count[i]);
	}
	printf("epoll_consumer: both streams ended\n");
	rv = 0;
out:
	if (err != 0) {
		fprintf(stderr, "epoll_consumer: %s\n", ipcq_strerror(err));
	}
	for (int i = 0; i < NQ; i++) {
		ipcq_queue_close(q[i]); /* closes its fd; NULL is fine */
	}
	close(ep);
	ipcq_client_close(c);
	return rv;
}
