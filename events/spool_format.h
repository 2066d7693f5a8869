/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * On-disk layout of the event spool. Host byte order (the spool is never
 * moved between machines); all offsets are 8-byte aligned.
 *
 *   DIR/NNNNNNNNNNNNNNNN.seg   segment, NNNN = 16 hex digits, increasing
 *   DIR/spare-N.tmp            pre-created segment not yet in use
 *   DIR/checkpoint             confirmed position (atomic replace)
 *   DIR/lock                   flock(2)ed while a broker uses the spool
 *
 * A segment is a 64-byte header followed by records:
 *
 *   +0  commit  u32  EVENTS_SPOOL_REC_COMMIT once the record is complete,
 *                    EVENTS_SPOOL_SEAL when the writer moved on to the next
 *                    segment, 0 in space never written (fallocate zeroes it)
 *   +4  crc     u32  CRC32C of bytes [8, 40) of this header and of the body
 *   +8  len     u32  body length
 *   +12 type    u16  enum events_type
 *   +14 flags   u16  EVENTS_SPOOL_F_JSON when the body is JSON (else BSON)
 *   +16 at_ms   i64  when the event happened (AMQP timestamp)
 *   +24 id_hi   u64  event id, high half (random per boot)
 *   +32 id_lo   u64  event id, low half (counter)
 *   +40 body, padded with zeroes to the next multiple of 8
 *
 * The commit word is stored last, with release ordering: a reader that sees
 * it (acquire) sees the whole record, and after a process crash the page
 * cache holds either the complete record or a zero commit word.
 */
#ifndef IH_EVENTS_SPOOL_FORMAT_H
#define IH_EVENTS_SPOOL_FORMAT_H

#include <stdint.h>

#define EVENTS_SPOOL_SEG_MAGIC "IHSPSEG1"
#define EVENTS_SPOOL_SEG_VERSION 1u
#define EVENTS_SPOOL_SEG_HDR 64u
#define EVENTS_SPOOL_REC_HDR 40u
#define EVENTS_SPOOL_REC_COMMIT 0x31435249u /* "IRC1" */
#define EVENTS_SPOOL_SEAL 0x4c414553u       /* "SEAL" */
#define EVENTS_SPOOL_F_JSON 0x0001u

#define EVENTS_SPOOL_CKPT_MAGIC "IHCKPT01"

struct events_spool_seg_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint64_t seq;          /* informative: the file name is authoritative */
	uint64_t size;
	uint64_t boot_id;      /* writer instance that created the segment */
	uint64_t created_ms;
	uint8_t reserved[16];
};

struct events_spool_rec_hdr {
	uint32_t commit;
	uint32_t crc;
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	int64_t at_ms;
	uint64_t id_hi;
	uint64_t id_lo;
};

/* checkpoint file: the first unconfirmed byte */
struct events_spool_ckpt {
	char magic[8];
	uint64_t seq;
	uint64_t off;
	uint32_t crc;          /* CRC32C of the 24 bytes above */
	uint32_t reserved;
};

_Static_assert(sizeof(struct events_spool_seg_hdr) == EVENTS_SPOOL_SEG_HDR, "segment header size");
_Static_assert(sizeof(struct events_spool_rec_hdr) == EVENTS_SPOOL_REC_HDR, "record header size");
_Static_assert(sizeof(struct events_spool_ckpt) == 32, "checkpoint size");

static inline uint64_t events_spool_align8(uint64_t n)
{
	return (n + 7u) & ~(uint64_t)7u;
}

#endif
