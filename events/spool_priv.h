/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Spool internals shared by spool.c (append/read), spool_seg.c (segment
 * files), spool_open.c (recovery) and spool_ckpt.c (checkpoint).
 */
#ifndef IH_EVENTS_SPOOL_PRIV_H
#define IH_EVENTS_SPOOL_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "events/spool.h"

struct events_spool_seg {
	struct events_spool_seg *next;  /* guarded by events_spool.lock */
	uint8_t *map;
	uint64_t size;
	uint64_t seq;
	_Atomic uint64_t end;          /* bytes readable: committed records */
	_Atomic int sealed;            /* writer moved on; `end` is final */
	uint64_t synced;               /* forwarder: msync'ed up to here */
	bool recovered;                /* written by an earlier process */
	char *path;                    /* libc-allocated */
};

struct events_spool {
	char *dir;
	int dirfd;
	int lockfd;                    /* flock held while open */
	uint64_t max_bytes;
	uint64_t seg_bytes;
	uint64_t boot_id;
	struct ih_logq *log;

	pthread_mutex_t lock;          /* seg->next, head, spare: pointer swaps only */
	struct events_spool_seg *head;  /* oldest live segment */
	struct events_spool_seg *spare; /* pre-created by the forwarder, not yet named */
	_Atomic uint64_t bytes;        /* sum of segment file sizes, spare included */
	_Atomic uint64_t recovered_records;
	_Atomic uint64_t corrupt_skipped;

	/* writer: broker thread only */
	struct events_spool_seg *wseg;
	uint64_t woff;
	uint64_t res_need;
	uint32_t res_len;
	uint64_t last_seq;
	int last_error;
	int64_t retry_after_ms;

	/* The writer's fields change with every event, the reader's with every
	 * confirm: a line apart, so the two threads do not trade it. */
	char pad_[64];

	/* reader: forwarder thread only (broker thread once it has stopped) */
	struct events_spool_pos start;
	struct events_spool_pos confirmed;
	uint64_t ckpt_seq, ckpt_off;   /* what the checkpoint file says */
	bool ckpt_valid;
	int ckpt_error;                /* last logged checkpoint failure */
	uint64_t spare_counter;
	int64_t prepare_retry_ms;
	int prepare_error;             /* last logged spare failure */
};

char *events_spool_seg_name(uint64_t seq);  /* "NNNN.seg", libc */

/* spool_seg.c */
struct events_spool_seg *events_spool_seg_create(struct events_spool *sp, const char *name, uint64_t size, int *err);
struct events_spool_seg *events_spool_seg_map(struct events_spool *sp, const char *name, uint64_t seq, int *err);
void events_spool_seg_destroy(struct events_spool *sp, struct events_spool_seg *seg, bool remove);
uint64_t events_spool_resync(const uint8_t *map, uint64_t off, uint64_t limit);

/* spool_ckpt.c */
int events_spool_ckpt_read(struct events_spool *sp, uint64_t *seq, uint64_t *off);
int events_spool_ckpt_write(struct events_spool *sp, uint64_t seq, uint64_t off);

/* spool.c */
int events_spool_roll(struct events_spool *sp, uint64_t need);

#endif
