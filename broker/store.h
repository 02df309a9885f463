/*
 * The queue store: where a queue's messages live. The queue layer
 * (queue.c) owns every semantic (bounds, leases, end of stream, waiters);
 * a store only keeps records in FIFO order. store_mem.c keeps them on the
 * heap; the shared-memory segment store implements the same operations.
 *
 * Records that are taken out of a store (delivered, leased) belong to the
 * queue layer until it gives them back (put_back) or releases them.
 * Every call is made with the broker lock held.
 */
#ifndef IPCQD_STORE_H
#define IPCQD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "list.h"

struct ipcqd_handle;

typedef struct ipcqd_rec {
	ipcqd_node           node;       /* store's ready list, or the
	                                    holder's lease list */
	uint64_t             lease_id;   /* queue layer: id while leased */
	struct ipcqd_handle *holder;     /* queue layer: lessee or NULL */
	uint32_t             deliveries; /* times delivered so far */
	uint32_t             len;        /* payload bytes */
	unsigned char        data[];
} ipcqd_rec;

typedef struct ipcqd_store ipcqd_store;

typedef struct ipcqd_store_ops {
	/* Append a copy of data as the newest ready record. 0 or
	 * IPCQ_ENOMEM. */
	int (*put)(ipcqd_store *s, const void *data, size_t len);
	/* Remove and return the oldest ready record, or NULL. */
	ipcqd_rec *(*take)(ipcqd_store *s);
	/* Return a taken record to the head (it is delivered next). */
	void (*put_back)(ipcqd_store *s, ipcqd_rec *r);
	/* A taken record is finished with (acked, dropped, purged). */
	void (*release)(ipcqd_store *s, ipcqd_rec *r);
	/* Release every ready record; returns how many. */
	uint64_t (*purge)(ipcqd_store *s);
	/* Free the store and its ready records (taken ones must have been
	 * put back or released). */
	void (*destroy)(ipcqd_store *s);
} ipcqd_store_ops;

struct ipcqd_store {
	const ipcqd_store_ops *ops;
	uint64_t               count; /* ready records */
	uint64_t               bytes; /* ready payload bytes */
};

/* A heap-backed store. NULL when out of memory. */
ipcqd_store *ipcqd_store_mem_new(void);

#endif
