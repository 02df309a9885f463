#include "idmap.h"

#include <stdlib.h>

struct ipcqd_idmap_ent {
	ipcqd_idmap_ent *next;
	uint64_t         id;
	void            *val;
};

static size_t
idm_slot(const ipcqd_idmap *m, uint64_t id)
{
	/* Fibonacci hashing: ids are often sequential, spread them. */
	return (size_t) ((id * 0x9E3779B97F4A7C15ull) >> 32) & (m->nbuckets - 1);
}

int
ipcqd_idmap_init(ipcqd_idmap *m)
{
	m->nbuckets = 64;
	m->count    = 0;
	m->buckets  = calloc(m->nbuckets, sizeof(*m->buckets));
	return m->buckets == NULL ? -1 : 0;
}

void
ipcqd_idmap_fini(ipcqd_idmap *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		ipcqd_idmap_ent *e = m->buckets[i];
		while (e != NULL) {
			ipcqd_idmap_ent *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = NULL;
}

static void
idm_grow(ipcqd_idmap *m)
{
	size_t            nb  = m->nbuckets * 2;
	ipcqd_idmap_ent **nbk = calloc(nb, sizeof(*nbk));
	ipcqd_idmap       tmp = { .buckets = nbk, .nbuckets = nb };

	if (nbk == NULL) {
		return; /* keep the old table: slower, still correct */
	}
	for (size_t i = 0; i < m->nbuckets; i++) {
		ipcqd_idmap_ent *e = m->buckets[i];
		while (e != NULL) {
			ipcqd_idmap_ent *next = e->next;
			size_t           s    = idm_slot(&tmp, e->id);
			e->next               = nbk[s];
			nbk[s]                = e;
			e                     = next;
		}
	}
	free(m->buckets);
	m->buckets  = nbk;
	m->nbuckets = nb;
}

int
ipcqd_idmap_put(ipcqd_idmap *m, uint64_t id, void *val)
{
	ipcqd_idmap_ent *e;

	for (e = m->buckets[idm_slot(m, id)]; e != NULL; e = e->next) {
		if (e->id == id) {
			e->val = val;
			return 0;
		}
	}
	if ((e = malloc(sizeof(*e))) == NULL) {
		return -1;
	}
	if (m->count >= m->nbuckets) {
		idm_grow(m);
	}
	size_t s       = idm_slot(m, id);
	e->id          = id;
	e->val         = val;
	e->next        = m->buckets[s];
	m->buckets[s]  = e;
	m->count++;
	return 0;
}

void *
ipcqd_idmap_get(const ipcqd_idmap *m, uint64_t id)
{
	for (ipcqd_idmap_ent *e = m->buckets[idm_slot(m, id)]; e != NULL;
	     e                  = e->next) {
		if (e->id == id) {
			return e->val;
		}
	}
	return NULL;
}

void *
ipcqd_idmap_del(ipcqd_idmap *m, uint64_t id)
{
	ipcqd_idmap_ent **pp = &m->buckets[idm_slot(m, id)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		ipcqd_idmap_ent *e = *pp;
		if (e->id == id) {
			void *val = e->val;
			*pp       = e->next;
			free(e);
			m->count--;
			return val;
		}
	}
	return NULL;
}
