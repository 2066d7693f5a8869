/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * CRC32C (Castagnoli) for spool records. Uses the SSE4.2 instruction when
 * the CPU has it, a table otherwise; both give the same result.
 */
#ifndef IH_EVENTS_SPOOL_CRC_H
#define IH_EVENTS_SPOOL_CRC_H

#include <stddef.h>
#include <stdint.h>

#include "events/spool_format.h"

/* Probe the CPU and build the table; call before any thread uses the CRC. */
void events_spool_crc_init(void);

/* Continue a CRC: pass 0 to start. */
uint32_t events_spool_crc32c(uint32_t crc, const void *data, size_t len);

/* A record's crc field: the header after commit and crc, then the h->len
 * body bytes that follow the header. The writer, the reader and the
 * spool fuzzer must agree on this, so it is defined once. */
static inline uint32_t events_spool_rec_crc(const struct events_spool_rec_hdr *h)
{
	const uint8_t *p = (const uint8_t *)h;

	return events_spool_crc32c(events_spool_crc32c(0, p + 8, EVENTS_SPOOL_REC_HDR - 8), p + EVENTS_SPOOL_REC_HDR, h->len);
}

/* A checkpoint's crc field: every byte before it. */
static inline uint32_t events_spool_ckpt_crc(const struct events_spool_ckpt *c)
{
	return events_spool_crc32c(0, c, offsetof(struct events_spool_ckpt, crc));
}

#endif
