/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Spool runtime: the writer's append path (broker thread) and the reader's
 * cursor, confirmation, checkpoint and housekeeping (forwarder thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mosquitto.h>

#include "events/spool_crc.h"
#include "events/spool_priv.h"
#include "core/clock.h"
#include "core/errstr.h"
#include "core/logq.h"

/* How long the writer waits before trying a synchronous segment creation
 * again after one failed: keeps a full disk from costing syscalls per event. */
#define RETRY_MS 1000
#define SPARE_PREFIX "spare-"
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* ------------------------------------------------------------------ */
/* writer (broker thread)                                              */

/* Take the forwarder's spare, or create a segment here (rare). */
static struct events_spool_seg *next_segment(struct events_spool *sp, uint64_t size, bool oversize, uint64_t seq)
{
	struct events_spool_seg *s = NULL;
	char *name = events_spool_seg_name(seq);
	int err = 0;

	if(name == NULL){
		sp->last_error = ENOMEM;
		return NULL;
	}
	if(!oversize){
		pthread_mutex_lock(&sp->lock);
		s = sp->spare;
		sp->spare = NULL;
		pthread_mutex_unlock(&sp->lock);
	}
	if(s){
		if(renameat(sp->dirfd, s->path, sp->dirfd, name)){
			err = errno;
			events_spool_seg_destroy(sp, s, true);
			s = NULL;
			goto fail;
		}
		free(s->path);
		s->path = name; /* ownership passes to the segment */
		return s;
	}
	if(ih_mono_ms() < sp->retry_after_ms){
		err = sp->last_error;
		goto fail;
	}
	if(atomic_load(&sp->bytes) + size > sp->max_bytes){
		err = EFBIG;
		goto fail;
	}
	s = events_spool_seg_create(sp, name, size, &err);
	if(s == NULL) goto fail;
	free(name);
	name = NULL;
	/* keep the name the segment made for itself */
	return s;
fail:
	free(name);
	sp->last_error = err ? err : EIO;
	sp->retry_after_ms = ih_mono_ms() + RETRY_MS;
	return NULL;
}

int events_spool_roll(struct events_spool *sp, uint64_t need)
{
	struct events_spool_seg *s;
	struct events_spool_seg *old = sp->wseg;
	bool oversize = need > sp->seg_bytes - EVENTS_SPOOL_SEG_HDR;
	uint64_t size = oversize ? ((EVENTS_SPOOL_SEG_HDR + need + 4095) & ~(uint64_t)4095) : sp->seg_bytes;
	uint64_t seq = sp->last_seq + 1;

	s = next_segment(sp, size, oversize, seq);
	if(s == NULL) return -1;
	s->seq = seq;
	((struct events_spool_seg_hdr *)s->map)->seq = seq;
	sp->last_seq = seq;

	pthread_mutex_lock(&sp->lock);
	if(old){
		old->next = s;
	}else if(sp->head == NULL){
		sp->head = s;
	}else{
		struct events_spool_seg *t = sp->head;
		while(t->next) t = t->next;
		t->next = s;
	}
	pthread_mutex_unlock(&sp->lock);
	if(old){
		/* The seal tells recovery the rest of the file is unused; the
		 * flag tells the reader to follow `next`. */
		if(sp->woff < old->size){
			__atomic_store_n((uint32_t *)(old->map + sp->woff), EVENTS_SPOOL_SEAL, __ATOMIC_RELEASE);
		}
		atomic_store_explicit(&old->sealed, 1, memory_order_release);
	}
	sp->wseg = s;
	sp->woff = EVENTS_SPOOL_SEG_HDR;
	return 0;
}

void *events_spool_reserve(struct events_spool *sp, uint32_t len)
{
	uint64_t need = events_spool_align8(EVENTS_SPOOL_REC_HDR + (uint64_t)len);

	if(sp->wseg == NULL || sp->woff + need > sp->wseg->size){
		if(events_spool_roll(sp, need)) return NULL;
	}
	sp->res_need = need;
	sp->res_len = len;
	return sp->wseg->map + sp->woff + EVENTS_SPOOL_REC_HDR;
}

void *events_spool_room(struct events_spool *sp, uint32_t *room)
{
	uint64_t left;

	if(sp->wseg == NULL || sp->woff + EVENTS_SPOOL_REC_HDR >= sp->wseg->size) return NULL;
	/* Segment sizes and offsets are multiples of 8, as is the header, so
	 * any body up to `left` bytes pads to a record that still fits. */
	left = sp->wseg->size - sp->woff - EVENTS_SPOOL_REC_HDR;
	*room = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
	return sp->wseg->map + sp->woff + EVENTS_SPOOL_REC_HDR;
}

void events_spool_commit(struct events_spool *sp, const struct events_spool_meta *meta)
{
	struct events_spool_rec_hdr *h = (struct events_spool_rec_hdr *)(sp->wseg->map + sp->woff);

	/* Padding after the body is still zero: segments are never reused. */
	h->len = sp->res_len;
	h->type = meta->type;
	h->flags = meta->flags;
	h->at_ms = meta->at_ms;
	h->id_hi = meta->id_hi;
	h->id_lo = meta->id_lo;
	h->crc = events_spool_rec_crc(h);
	__atomic_store_n(&h->commit, EVENTS_SPOOL_REC_COMMIT, __ATOMIC_RELEASE);
	sp->woff += sp->res_need;
	atomic_store_explicit(&sp->wseg->end, sp->woff, memory_order_release);
}

int events_spool_last_error(const struct events_spool *sp)
{
	return sp->last_error;
}

/* ------------------------------------------------------------------ */
/* reader (forwarder thread)                                           */

void events_spool_read_start(struct events_spool *sp, struct events_spool_pos *rd)
{
	*rd = sp->start;
}

static struct events_spool_seg *seg_next(struct events_spool *sp, struct events_spool_seg *seg)
{
	struct events_spool_seg *n;

	pthread_mutex_lock(&sp->lock);
	n = seg->next;
	pthread_mutex_unlock(&sp->lock);
	return n;
}

bool events_spool_next(struct events_spool *sp, struct events_spool_pos *rd, struct events_spool_rec *out)
{
	for(;;){
		struct events_spool_seg *seg = rd->seg;
		struct events_spool_seg *nx;
		uint64_t end, n;

		if(seg == NULL) return false;
		end = atomic_load_explicit(&seg->end, memory_order_acquire);
		if(rd->off < end){
			n = events_spool_rec_check(seg->map, rd->off, end);
			if(n){
				out->hdr = (const struct events_spool_rec_hdr *)(seg->map + rd->off);
				out->body = seg->map + rd->off + EVENTS_SPOOL_REC_HDR;
				out->recovered = seg->recovered;
				rd->off += n;
				out->end = *rd;
				return true;
			}
			n = events_spool_resync(seg->map, rd->off, end);
			ih_logq_push(sp->log, MOSQ_LOG_WARNING,
					"iothub: spool: segment %s: damaged record at offset %" PRIu64 ", skipped %" PRIu64 " bytes",
					seg->path, rd->off, n - rd->off);
			atomic_fetch_add(&sp->corrupt_skipped, 1);
			rd->off = n;
			continue;
		}
		if(!atomic_load_explicit(&seg->sealed, memory_order_acquire)) return false;
		if(rd->off < atomic_load_explicit(&seg->end, memory_order_acquire)) continue;
		nx = seg_next(sp, seg);
		if(nx == NULL) return false;
		rd->seg = nx;
		rd->off = EVENTS_SPOOL_SEG_HDR;
	}
}

bool events_spool_has_data(struct events_spool *sp, const struct events_spool_pos *rd)
{
	struct events_spool_seg *seg = rd->seg;

	(void)sp;
	if(seg == NULL) return false;
	if(rd->off < atomic_load_explicit(&seg->end, memory_order_acquire)) return true;
	/* A sealed segment means a successor exists: let next() find out. */
	return atomic_load_explicit(&seg->sealed, memory_order_acquire) != 0;
}

void events_spool_confirm(struct events_spool *sp, const struct events_spool_pos *upto)
{
	sp->confirmed = *upto;
}

int events_spool_checkpoint(struct events_spool *sp)
{
	struct events_spool_pos c = sp->confirmed;
	int rc;

	if(c.seg == NULL) return 0;
	if(sp->ckpt_valid && sp->ckpt_seq == c.seg->seq && sp->ckpt_off == c.off) return 0;
	rc = events_spool_ckpt_write(sp, c.seg->seq, c.off);
	if(rc){
		if(rc != sp->ckpt_error){
			ih_logq_push(sp->log, MOSQ_LOG_ERR, "iothub: spool: cannot write %s/checkpoint: %s",
					sp->dir, ih_strerror(-rc));
		}
		sp->ckpt_error = rc;
		return rc;
	}
	if(sp->ckpt_error){
		ih_logq_push(sp->log, MOSQ_LOG_NOTICE, "iothub: spool: checkpoint written again");
	}
	sp->ckpt_error = 0;
	sp->ckpt_valid = true;
	sp->ckpt_seq = c.seg->seq;
	sp->ckpt_off = c.off;
	return 0;
}

void events_spool_release(struct events_spool *sp)
{
	struct events_spool_seg *victims, *s, *nx;

	/* Only segments wholly before the confirmed one go. A confirmed
	 * position at the end of a sealed segment is NOT moved on to the next
	 * segment: the reader's cursor may still sit at that end (it moves on
	 * at its next events_spool_next), and unmapping the segment under it was
	 * a use-after-free that crashed the broker after a RabbitMQ outage
	 * (test/integration/test_faults.py). Such a segment goes once a record
	 * of a later one is confirmed. */
	if(sp->confirmed.seg == NULL || sp->confirmed.seg == sp->head) return;
	/* Never unlink what the checkpoint on disk still points into. */
	if(events_spool_checkpoint(sp)) return;

	pthread_mutex_lock(&sp->lock);
	victims = sp->head;
	for(s = victims; s->next != sp->confirmed.seg; s = s->next){
	}
	s->next = NULL;
	sp->head = sp->confirmed.seg;
	pthread_mutex_unlock(&sp->lock);

	for(s = victims; s; s = nx){
		nx = s->next;
		events_spool_seg_destroy(sp, s, true);
	}
}

void events_spool_prepare(struct events_spool *sp)
{
	struct events_spool_seg *s;
	char name[48];
	int err = 0;
	bool have;

	pthread_mutex_lock(&sp->lock);
	have = sp->spare != NULL;
	pthread_mutex_unlock(&sp->lock);
	if(have || ih_mono_ms() < sp->prepare_retry_ms) return;
	if(atomic_load(&sp->bytes) + sp->seg_bytes > sp->max_bytes) return;

	snprintf(name, sizeof(name), SPARE_PREFIX "%" PRIu64 ".tmp", ++sp->spare_counter);
	s = events_spool_seg_create(sp, name, sp->seg_bytes, &err);
	if(s == NULL){
		if(err != sp->prepare_error){
			ih_logq_push(sp->log, MOSQ_LOG_ERR, "iothub: spool: cannot create a segment in %s: %s",
					sp->dir, ih_strerror(err));
		}
		sp->prepare_error = err;
		sp->prepare_retry_ms = ih_mono_ms() + RETRY_MS;
		return;
	}
	/* Take the page faults here rather than on the broker thread's first
	 * store into each page. Best effort: older kernels lack it. */
	madvise(s->map, s->size, MADV_POPULATE_WRITE);
	if(sp->prepare_error){
		ih_logq_push(sp->log, MOSQ_LOG_NOTICE, "iothub: spool: segments can be created again in %s", sp->dir);
	}
	sp->prepare_error = 0;
	pthread_mutex_lock(&sp->lock);
	if(sp->spare == NULL){
		sp->spare = s;
		s = NULL;
	}
	pthread_mutex_unlock(&sp->lock);
	events_spool_seg_destroy(sp, s, true);
}

int events_spool_sync(struct events_spool *sp)
{
	struct events_spool_seg *s;
	long page = sysconf(_SC_PAGESIZE);
	int rc = 0;

	pthread_mutex_lock(&sp->lock);
	s = sp->head;
	pthread_mutex_unlock(&sp->lock);
	for(; s; s = seg_next(sp, s)){
		uint64_t end = atomic_load_explicit(&s->end, memory_order_acquire);
		uint64_t from = s->synced & ~(uint64_t)(page - 1);

		if(s->recovered || end <= s->synced) continue;
		if(msync(s->map + from, end - from, MS_SYNC)){
			rc = -errno;
			continue;
		}
		s->synced = end;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* any thread                                                          */

uint64_t events_spool_bytes(const struct events_spool *sp)
{
	return atomic_load(&((struct events_spool *)sp)->bytes);
}

void events_spool_get_stats(const struct events_spool *sp, struct events_spool_stats *out)
{
	struct events_spool *s = (struct events_spool *)sp;

	out->recovered_records = atomic_load(&s->recovered_records);
	out->corrupt_skipped = atomic_load(&s->corrupt_skipped);
}
