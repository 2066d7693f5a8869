/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The event spool: an append-only log of encoded events in memory-mapped,
 * preallocated segment files (format in spool_format.h).
 *
 * Why mmap: an append is a memcpy plus a release store into a MAP_SHARED
 * page. The page cache outlives the process, so a record committed before
 * the broker sends PUBACK survives SIGKILL without a syscall per event.
 * Power-loss durability needs msync; see events_spool_sync().
 *
 * Threads: one writer (the broker thread: reserve/commit) and one reader
 * (the forwarder thread: next/confirm/checkpoint/release/prepare/sync).
 * They share only atomics and a mutex held for pointer swaps, never across
 * I/O. The spool allocates with libc malloc, because segments are created
 * and freed on both threads (the forwarder may not use the broker's
 * allocator).
 */
#ifndef IH_EVENTS_SPOOL_H
#define IH_EVENTS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/spool_format.h"

struct ih_logq;
struct events_spool;
struct events_spool_seg;

struct events_spool_opts {
	const char *dir;
	uint64_t max_bytes;        /* cap on the sum of segment file sizes */
	uint64_t segment_bytes;    /* size of a normal segment */
	uint64_t boot_id;
	struct ih_logq *log;
};

/* A position in the spool: a segment and a byte offset in it. */
struct events_spool_pos {
	struct events_spool_seg *seg;
	uint64_t off;
};

/* What the writer stores beside the body. */
struct events_spool_meta {
	uint16_t type;
	uint16_t flags;
	int64_t at_ms;
	uint64_t id_hi;
	uint64_t id_lo;
};

/* A record handed to the reader. Pointers stay valid until the record is
 * confirmed and released. */
struct events_spool_rec {
	const struct events_spool_rec_hdr *hdr;
	const uint8_t *body;
	struct events_spool_pos end;  /* position just after the record */
	bool recovered;              /* written by an earlier process */
};

struct events_spool_stats {
	uint64_t recovered_records;  /* found after the checkpoint at open */
	uint64_t corrupt_skipped;    /* damaged regions skipped (open and read) */
};

/*
 * Open DIR (created if missing), recover what an earlier process left, and
 * start a fresh segment for new writes. Fails, after logging why, when the
 * directory cannot be created or written.
 */
int events_spool_open(struct events_spool **out, const struct events_spool_opts *opts);
/* Forwarder stopped: unmap everything. Files stay for the next start. */
void events_spool_close(struct events_spool *sp);

/* ---- writer (broker thread) ---- */

/*
 * Reserve room for a body of `len` bytes and return where to write it, or
 * NULL when the spool cannot take it now (cap reached, ENOSPC, EACCES...):
 * the reason is in events_spool_last_error(). Exactly one commit must follow
 * a successful reserve before the next reserve.
 */
void *events_spool_reserve(struct events_spool *sp, uint32_t len);
void events_spool_commit(struct events_spool *sp, const struct events_spool_meta *meta);
/*
 * Where the next body would go in the segment being written, and how many
 * bytes fit there (*room), or NULL when no segment is open. Lets the writer
 * encode in place before it knows the length: when it fits, the
 * events_spool_reserve of that length that must follow returns the same
 * place without a syscall. Nothing is visible to the reader or to recovery
 * until the commit (a crash in between leaves an uncommitted region, which
 * recovery skips as it skips a record torn mid-write).
 */
void *events_spool_room(struct events_spool *sp, uint32_t *room);
/* errno-style reason of the last failed reserve (EFBIG = cap reached). */
int events_spool_last_error(const struct events_spool *sp);

/* ---- reader (forwarder thread) ---- */

/* Where reading starts: the checkpointed position found at open. */
void events_spool_read_start(struct events_spool *sp, struct events_spool_pos *rd);
/* Next committed record at *rd: returns true and advances *rd, or false. */
bool events_spool_next(struct events_spool *sp, struct events_spool_pos *rd, struct events_spool_rec *out);
/* Cheap check whether events_spool_next would find something. */
bool events_spool_has_data(struct events_spool *sp, const struct events_spool_pos *rd);
/* Everything before `upto` is delivered. */
void events_spool_confirm(struct events_spool *sp, const struct events_spool_pos *upto);
/* Persist the confirmed position if it moved (atomic replace). 0 or -errno. */
int events_spool_checkpoint(struct events_spool *sp);
/* Checkpoint, then unlink segments that lie wholly before the confirmed position. */
void events_spool_release(struct events_spool *sp);
/* Pre-create the next segment so the writer rarely makes syscalls. */
void events_spool_prepare(struct events_spool *sp);
/* msync the segment being written (power-loss durability). */
int events_spool_sync(struct events_spool *sp);

/* ---- any thread ---- */
uint64_t events_spool_bytes(const struct events_spool *sp);
void events_spool_get_stats(const struct events_spool *sp, struct events_spool_stats *out);

/* ---- helpers shared with tests and recovery ---- */

/* Validate the record at `off` in a mapped segment of which bytes
 * [0, limit) may be read. Returns its padded size, or 0 when invalid. */
uint64_t events_spool_rec_check(const uint8_t *map, uint64_t off, uint64_t limit);

#endif
