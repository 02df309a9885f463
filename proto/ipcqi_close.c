#include "ipcqi_close.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct cl_closer {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	nng_socket      sock;
	int             done;
} cl_closer;

static void *
cl_thread(void *arg)
{
	cl_closer *c = arg;

	nng_close(c->sock);
	pthread_mutex_lock(&c->mtx);
	c->done = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mtx);
	return NULL;
}

int
ipcqi_close_socket(nng_socket sock, int timeout_ms)
{
	cl_closer      *c = calloc(1, sizeof(*c));
	pthread_t       th;
	struct timespec ts;
	int             done;

	if (c == NULL) {
		nng_close(sock);
		return 1;
	}
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->sock = sock;
	if (pthread_create(&th, NULL, cl_thread, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mtx);
		free(c);
		nng_close(sock); /* no thread to spare: close and hope */
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->mtx);
	while (!c->done) {
		if (pthread_cond_timedwait(&c->cv, &c->mtx, &ts) != 0) {
			break;
		}
	}
	done = c->done;
	pthread_mutex_unlock(&c->mtx);
	if (!done) {
		/* The thread keeps c; both stay behind, blocked in nng. */
		pthread_detach(th);
		return 0;
	}
	pthread_join(th, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mtx);
	free(c);
	return 1;
}

