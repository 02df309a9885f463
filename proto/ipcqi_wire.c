#include "ipcqi_wire.h"

#include <stdint.h>
#include <string.h>

/* Deeper than any message of ipcq.proto (none is recursive): a frame
 * that nests further is not ours. */
#define WIRE_MAX_DEPTH 16

static int
wire_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t       x = 0;

	for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
		uint8_t b = *p++;
		x |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*pp = p;
			*v  = x;
			return 0;
		}
	}
	return -1;
}

static ipcqi_wire_verdict
wire_walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
    const uint8_t *end, int depth)
{
	if (depth > WIRE_MAX_DEPTH) {
		return IPCQI_WIRE_MALFORMED;
	}
	while (p < end) {
		const ProtobufCFieldDescriptor *f = NULL;
		uint64_t                        key, n;
		ipcqi_wire_verdict              v;

		if (wire_varint(&p, end, &key) != 0) {
			return IPCQI_WIRE_MALFORMED;
		}
		if ((key >> 3) <= UINT32_MAX) {
			f = protobuf_c_message_descriptor_get_field(desc,
			    (unsigned) (key >> 3));
		}
		switch (key & 7) {
		case 0: /* varint */
			if (wire_varint(&p, end, &n) != 0) {
				return IPCQI_WIRE_MALFORMED;
			}
			break;
		case 1: /* 64-bit */
			if (end - p < 8) {
				return IPCQI_WIRE_MALFORMED;
			}
			p += 8;
			break;
		case 5: /* 32-bit */
			if (end - p < 4) {
				return IPCQI_WIRE_MALFORMED;
			}
			p += 4;
			break;
		case 2: /* length-delimited: where strings and messages are */
			if (wire_varint(&p, end, &n) != 0 ||
			    n > (uint64_t) (end - p)) {
				return IPCQI_WIRE_MALFORMED;
			}
			if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
			    memchr(p, 0, (size_t) n) != NULL) {
				return IPCQI_WIRE_NUL;
			}
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    (v = wire_walk(f->descriptor, p, p + n,
			         depth + 1)) != IPCQI_WIRE_CLEAN) {
				return v;
			}
			p += n;
			break;
		default: /* groups: never in ipcq.proto */
			return IPCQI_WIRE_MALFORMED;
		}
	}
	return IPCQI_WIRE_CLEAN;
}

ipcqi_wire_verdict
ipcqi_wire_check_strings(const ProtobufCMessageDescriptor *desc,
    const void *data, size_t len)
{
	const uint8_t *p = data;

	return wire_walk(desc, p, p + len, 0);
}
