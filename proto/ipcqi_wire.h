/*
 * A second look at a frame protobuf-c has already unpacked: the checks
 * its C representation cannot express (shared internal).
 *
 * protobuf-c hands `string` fields over as NUL-terminated char * and
 * drops their wire length, so "name\0x" arrives as "name": a request for
 * one queue would act on another. Walking the wire with the message's
 * descriptor finds every string field, at any depth, by its full length.
 */
#ifndef IPCQI_WIRE_H
#define IPCQI_WIRE_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef enum ipcqi_wire_verdict {
	IPCQI_WIRE_CLEAN     = 0, /* no string field holds a NUL byte */
	IPCQI_WIRE_NUL       = 1, /* a string field holds a NUL byte */
	IPCQI_WIRE_MALFORMED = 2, /* not a well-formed encoding of desc */
} ipcqi_wire_verdict;

/* Check every string field of the len bytes at data, an encoding of a
 * desc message, nested messages included. Reads only within data. */
ipcqi_wire_verdict ipcqi_wire_check_strings(
    const ProtobufCMessageDescriptor *desc, const void *data, size_t len);

#endif
