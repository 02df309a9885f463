/*
 * CRC-32C (ipcqi_crc.h). Why CRC-32C: it detects every burst of up to
 * 32 flipped bits and every odd number of flips, which is what a disk
 * or a bad page gives; and x86 computes it in hardware (SSE4.2), so a
 * durable record's checksum costs about as much as copying it once.
 */
#include "ipcqi_crc.h"

#include <string.h>

static uint32_t crc_table[256];

static void
crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
		}
		crc_table[i] = c;
	}
}

static uint32_t
crc_soft(uint32_t crc, const unsigned char *p, size_t n)
{
	/* Built once; two threads racing here write the same values. */
	if (crc_table[1] == 0) {
		crc_table_init();
	}
	while (n-- > 0) {
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	}
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const unsigned char *p, size_t n)
{
	uint64_t c = crc;

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t) c;
	for (; n > 0; n--) {
		crc = __builtin_ia32_crc32qi(crc, *p++);
	}
	return crc;
}
#endif

uint32_t
ipcqi_crc32c(uint32_t crc, const void *p, size_t n)
{
	crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (__builtin_cpu_supports("sse4.2")) {
		return ~crc_hw(crc, p, n);
	}
#endif
	return ~crc_soft(crc, p, n);
}
