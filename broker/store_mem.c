/*
 * Heap store: each record is one malloc holding header and payload; the
 * ready records form an intrusive FIFO list.
 */
#include <stdlib.h>
#include <string.h>

#include "ipcq.h"
#include "store.h"

typedef struct mem_store {
	ipcqd_store base;
	ipcqd_list  ready;
} mem_store;

static int
mem_put(ipcqd_store *s, const void *data, size_t len)
{
	mem_store *ms = (mem_store *) s;
	ipcqd_rec *r  = malloc(sizeof(*r) + len);

	if (r == NULL) {
		return IPCQ_ENOMEM;
	}
	ipcqd_node_init(&r->node);
	r->lease_id   = 0;
	r->holder     = NULL;
	r->deliveries = 0;
	r->len        = (uint32_t) len;
	if (len > 0) {
		memcpy(r->data, data, len);
	}
	ipcqd_list_push_back(&ms->ready, &r->node);
	s->count++;
	s->bytes += len;
	return 0;
}

static ipcqd_rec *
mem_take(ipcqd_store *s)
{
	mem_store  *ms = (mem_store *) s;
	ipcqd_node *n  = ipcqd_list_pop_front(&ms->ready);

	if (n == NULL) {
		return NULL;
	}
	ipcqd_rec *r = IPCQD_CONTAINER(n, ipcqd_rec, node);
	s->count--;
	s->bytes -= r->len;
	return r;
}

static void
mem_put_back(ipcqd_store *s, ipcqd_rec *r)
{
	mem_store *ms = (mem_store *) s;

	r->holder   = NULL;
	r->lease_id = 0;
	ipcqd_list_push_front(&ms->ready, &r->node);
	s->count++;
	s->bytes += r->len;
}

static void
mem_release(ipcqd_store *s, ipcqd_rec *r)
{
	(void) s;
	free(r);
}

static uint64_t
mem_purge(ipcqd_store *s)
{
	uint64_t   n = 0;
	ipcqd_rec *r;

	while ((r = mem_take(s)) != NULL) {
		free(r);
		n++;
	}
	return n;
}

static void
mem_destroy(ipcqd_store *s)
{
	if (s != NULL) {
		mem_purge(s);
		free(s);
	}
}

static const ipcqd_store_ops mem_ops = {
	.put      = mem_put,
	.take     = mem_take,
	.put_back = mem_put_back,
	.release  = mem_release,
	.purge    = mem_purge,
	.destroy  = mem_destroy,
};

ipcqd_store *
ipcqd_store_mem_new(void)
{
	mem_store *ms = calloc(1, sizeof(*ms));

	if (ms == NULL) {
		return NULL;
	}
	ms->base.ops = &mem_ops;
	ipcqd_list_init(&ms->ready);
	return &ms->base;
}
