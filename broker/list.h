/*
 * Intrusive circular doubly linked list (generic; no queue semantics).
 * A node that is not on a list points to itself, so "is it linked?" is a
 * constant-time question: waiters use it to decide who claims them.
 */
#ifndef IPCQD_LIST_H
#define IPCQD_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ipcqd_node {
	struct ipcqd_node *next;
	struct ipcqd_node *prev;
} ipcqd_node;

/* A list is a sentinel node. */
typedef ipcqd_node ipcqd_list;

#define IPCQD_CONTAINER(ptr, type, member) \
	((type *) (void *) ((char *) (ptr) - offsetof(type, member)))

static inline void
ipcqd_list_init(ipcqd_list *l)
{
	l->next = l;
	l->prev = l;
}

static inline void
ipcqd_node_init(ipcqd_node *n)
{
	n->next = n;
	n->prev = n;
}

static inline bool
ipcqd_list_empty(const ipcqd_list *l)
{
	return l->next == l;
}

static inline bool
ipcqd_node_linked(const ipcqd_node *n)
{
	return n->next != n;
}

static inline void
ipcqd_list_insert_after(ipcqd_node *at, ipcqd_node *n)
{
	n->prev       = at;
	n->next       = at->next;
	at->next->prev = n;
	at->next       = n;
}

static inline void
ipcqd_list_push_back(ipcqd_list *l, ipcqd_node *n)
{
	ipcqd_list_insert_after(l->prev, n);
}

static inline void
ipcqd_list_push_front(ipcqd_list *l, ipcqd_node *n)
{
	ipcqd_list_insert_after(l, n);
}

static inline void
ipcqd_node_remove(ipcqd_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	ipcqd_node_init(n);
}

/* First node or NULL. */
static inline ipcqd_node *
ipcqd_list_first(const ipcqd_list *l)
{
	return ipcqd_list_empty(l) ? NULL : l->next;
}

static inline ipcqd_node *
ipcqd_list_pop_front(ipcqd_list *l)
{
	ipcqd_node *n = ipcqd_list_first(l);
	if (n != NULL) {
		ipcqd_node_remove(n);
	}
	return n;
}

/* Move every node of src to the back of dst; src becomes empty. */
static inline void
ipcqd_list_splice_back(ipcqd_list *dst, ipcqd_list *src)
{
	if (ipcqd_list_empty(src)) {
		return;
	}
	src->next->prev  = dst->prev;
	dst->prev->next  = src->next;
	src->prev->next  = dst;
	dst->prev        = src->prev;
	ipcqd_list_init(src);
}

/* Iterate allowing removal of the current node. */
#define IPCQD_LIST_FOREACH_SAFE(l, n, tmp) \
	for ((n) = (l)->next, (tmp) = (n)->next; (n) != (l); \
	     (n) = (tmp), (tmp) = (n)->next)

#endif
