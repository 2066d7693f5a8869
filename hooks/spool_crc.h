/*
 * CRC32C (Castagnoli) for spool records. Uses the SSE4.2 instruction when
 * the CPU has it, a table otherwise; both give the same result.
 */
#ifndef HOOKS_SPOOL_CRC_H
#define HOOKS_SPOOL_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Probe the CPU and build the table; call before any thread uses the CRC. */
void hooks_spool_crc_init(void);

/* Continue a CRC: pass 0 to start. */
uint32_t hooks_spool_crc32c(uint32_t crc, const void *data, size_t len);

#endif
