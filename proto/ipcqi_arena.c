#include "ipcqi_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct arena_block {
	struct arena_block *next;
	alignas(max_align_t) unsigned char data[];
} arena_block;

struct ipcqi_arena {
	ProtobufCAllocator pa;
	arena_block       *extra; /* blocks beyond the first */
	unsigned char     *cur;   /* next free byte of the first block */
	unsigned char     *end;
	alignas(max_align_t) unsigned char first[];
};

#define ARENA_ALIGN alignof(max_align_t)

static size_t
arena_round(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

static void *
arena_alloc(void *data, size_t size)
{
	ipcqi_arena *a = data;
	size_t       n = arena_round(size > 0 ? size : 1);

	if ((size_t) (a->end - a->cur) >= n) {
		void *p = a->cur;
		a->cur += n;
		return p;
	}
	/* Too big for what is left: a block of its own (rare when the
	 * hint was right). */
	arena_block *b = malloc(sizeof(*b) + n);
	if (b == NULL) {
		return NULL;
	}
	b->next  = a->extra;
	a->extra = b;
	return b->data;
}

static void
arena_nofree(void *data, void *ptr)
{
	(void) data;
	(void) ptr; /* everything goes at once in ipcqi_arena_free */
}

ipcqi_arena *
ipcqi_arena_new(size_t hint)
{
	size_t       cap = arena_round(hint);
	ipcqi_arena *a   = malloc(sizeof(*a) + cap);

	if (a == NULL) {
		return NULL;
	}
	a->pa.alloc          = arena_alloc;
	a->pa.free           = arena_nofree;
	a->pa.allocator_data = a;
	a->extra             = NULL;
	a->cur               = a->first;
	a->end               = a->first + cap;
	return a;
}

ProtobufCAllocator *
ipcqi_arena_allocator(ipcqi_arena *a)
{
	return &a->pa;
}

void
ipcqi_arena_free(ipcqi_arena *a)
{
	if (a == NULL) {
		return;
	}
	while (a->extra != NULL) {
		arena_block *b = a->extra;
		a->extra       = b->next;
		free(b);
	}
	free(a);
}

ProtobufCMessage *
ipcqi_arena_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
    const void *data)
{
	/* Unpacked size: the payload bytes once more, plus a struct per
	 * field; twice the frame plus a little covers a batch. The first
	 * block must hold at least the top-level message. */
	ipcqi_arena      *a = ipcqi_arena_new(2 * len + desc->sizeof_message + 512);
	ProtobufCMessage *m;

	if (a == NULL) {
		return NULL;
	}
	m = protobuf_c_message_unpack(desc, &a->pa, len, data);
	if (m == NULL || (void *) m != (void *) a->first) {
		/* Malformed; or a protobuf-c that allocates differently,
		 * which we cannot free by the message: refuse it loudly
		 * rather than leak. */
		ipcqi_arena_free(a);
		return NULL;
	}
	return m;
}

void
ipcqi_arena_free_msg(void *msg)
{
	if (msg != NULL) {
		ipcqi_arena_free((ipcqi_arena *) (void *) ((unsigned char *) msg -
		    offsetof(ipcqi_arena, first)));
	}
}
