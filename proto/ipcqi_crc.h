/*
 * CRC-32C (Castagnoli), the checksum of durable records (ipcqi_seg.h).
 * Uses the SSE4.2 crc32 instruction where the CPU has it, else a table.
 */
#ifndef IPCQI_CRC_H
#define IPCQI_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (0 to start) over n bytes at p. */
uint32_t ipcqi_crc32c(uint32_t crc, const void *p, size_t n);

#endif
