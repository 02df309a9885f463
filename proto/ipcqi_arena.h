/*
 * A bump allocator for protobuf-c unpacking (shared internal).
 *
 * Unpacking a batch with the default allocator costs a malloc and a free
 * for every message struct and every payload; with an arena it costs one
 * of each per frame. The arena's header sits just before the first
 * allocation, which protobuf-c always makes for the top-level message,
 * so the unpacked message alone is enough to free everything.
 */
#ifndef IPCQI_ARENA_H
#define IPCQI_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct ipcqi_arena ipcqi_arena;

/* An arena whose first block holds about hint bytes (it grows by
 * separate blocks beyond). NULL when out of memory. */
ipcqi_arena *ipcqi_arena_new(size_t hint);

/* The allocator to pass to protobuf-c; its free is a no-op. */
ProtobufCAllocator *ipcqi_arena_allocator(ipcqi_arena *a);

/* Unpack data with a fresh arena: the message, or NULL (malformed or
 * out of memory). Free it with ipcqi_arena_free_msg. */
ProtobufCMessage *ipcqi_arena_unpack(const ProtobufCMessageDescriptor *desc,
    size_t len, const void *data);

/* Free a message unpacked by ipcqi_arena_unpack, and everything in its
 * arena. Accepts NULL. */
void ipcqi_arena_free_msg(void *msg);

void ipcqi_arena_free(ipcqi_arena *a);

#endif
