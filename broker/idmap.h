/*
 * A map from non-zero 64-bit ids to pointers (generic; chained hashing,
 * grows by doubling). Used for handles by id and sessions by pipe id.
 * Not thread-safe: the owner's lock guards it.
 */
#ifndef IPCQD_IDMAP_H
#define IPCQD_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ipcqd_idmap_ent ipcqd_idmap_ent;

typedef struct ipcqd_idmap {
	ipcqd_idmap_ent **buckets;
	size_t            nbuckets; /* power of two */
	size_t            count;
} ipcqd_idmap;

int   ipcqd_idmap_init(ipcqd_idmap *m);
void  ipcqd_idmap_fini(ipcqd_idmap *m);
/* 0, or -1 when out of memory. Replaces an existing entry. */
int   ipcqd_idmap_put(ipcqd_idmap *m, uint64_t id, void *val);
void *ipcqd_idmap_get(const ipcqd_idmap *m, uint64_t id);
/* Removes and returns the value, or NULL. */
void *ipcqd_idmap_del(ipcqd_idmap *m, uint64_t id);

#endif
