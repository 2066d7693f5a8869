/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Opening the spool: recover what an earlier process left behind, then
 * start a fresh segment for new writes. Recovered segments are never
 * written again; they are read, confirmed and unlinked like any other.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>

#include "events/spool_crc.h"
#include "events/spool_priv.h"
#include "core/errstr.h"
#include "core/logq.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct seg_list {
	uint64_t *seqs;
	size_t count, cap;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool parse_seg_name(const char *name, uint64_t *seq)
{
	char *end;

	if(strlen(name) != 20 || strcmp(name + 16, ".seg")) return false;
	errno = 0;
	*seq = strtoull(name, &end, 16);
	return errno == 0 && end == name + 16;
}

static int list_dir(struct events_spool *sp, struct seg_list *out)
{
	struct dirent *de;
	DIR *d;
	int fd = dup(sp->dirfd);
	int rc = 0;

	if(fd < 0) return -errno;
	d = fdopendir(fd);
	if(d == NULL){
		close(fd);
		return -errno;
	}
	while((de = readdir(d)) != NULL){
		uint64_t seq;
		size_t len = strlen(de->d_name);

		/* Leftovers of an interrupted spare creation or checkpoint write. */
		if(len > 4 && !strcmp(de->d_name + len - 4, ".tmp")){
			unlinkat(sp->dirfd, de->d_name, 0);
			continue;
		}
		if(!parse_seg_name(de->d_name, &seq)) continue;
		if(out->count == out->cap){
			size_t ncap = out->cap ? out->cap * 2 : 16;
			uint64_t *n = realloc(out->seqs, ncap * sizeof(*n));
			if(n == NULL){
				rc = -ENOMEM;
				break;
			}
			out->seqs = n;
			out->cap = ncap;
		}
		out->seqs[out->count++] = seq;
	}
	closedir(d);
	if(out->count) qsort(out->seqs, out->count, sizeof(uint64_t), cmp_u64);
	return rc;
}

/* Bytes at `off` that are not a whole record and not unused space: a record
 * cut short by a crash or by a truncated file. Logged and counted. */
static void note_torn_tail(struct events_spool *sp, struct events_spool_seg *seg, uint64_t off)
{
	for(uint64_t p = off; p < off + EVENTS_SPOOL_REC_HDR && p < seg->size; p++){
		if(seg->map[p]){
			ih_logq_push(sp->log, MOSQ_LOG_WARNING,
					"iothub: spool: segment %s: incomplete record at offset %" PRIu64 " dropped (torn tail)",
					seg->path, off);
			atomic_fetch_add(&sp->corrupt_skipped, 1);
			return;
		}
	}
}

/*
 * Walk the records of a recovered segment from `off`. Sets seg->end after
 * the last valid record; damage in between is logged and left for the
 * reader, which skips it the same way.
 */
static void scan_segment(struct events_spool *sp, struct events_spool_seg *seg, uint64_t off)
{
	uint64_t records = 0, last_end = off, n;
	uint32_t commit;

	while(off + EVENTS_SPOOL_REC_HDR <= seg->size){
		n = events_spool_rec_check(seg->map, off, seg->size);
		if(n){
			records++;
			off += n;
			last_end = off;
			continue;
		}
		commit = *(const uint32_t *)(seg->map + off);
		if(commit == EVENTS_SPOOL_SEAL) break;
		n = events_spool_resync(seg->map, off, seg->size);
		if(n < seg->size){
			ih_logq_push(sp->log, MOSQ_LOG_WARNING,
					"iothub: spool: segment %s: %s record at offset %" PRIu64 ", resynchronised at %" PRIu64
					" (%" PRIu64 " bytes skipped)", seg->path, commit ? "corrupt" : "torn",
					off, n, n - off);
			atomic_fetch_add(&sp->corrupt_skipped, 1);
			off = n;
			continue;
		}
		/* Nothing valid follows: a clean end, or a record cut short by a crash. */
		note_torn_tail(sp, seg, off);
		break;
	}
	/* Less than a record header left: a file cut short mid-record. */
	if(off + EVENTS_SPOOL_REC_HDR > seg->size) note_torn_tail(sp, seg, off);
	atomic_store(&seg->end, last_end);
	seg->synced = last_end;
	atomic_fetch_add(&sp->recovered_records, records);
}

static void append_seg(struct events_spool *sp, struct events_spool_seg *seg)
{
	struct events_spool_seg **pp = &sp->head;

	while(*pp) pp = &(*pp)->next;
	*pp = seg;
}

static int recover(struct events_spool *sp)
{
	struct seg_list l = {0};
	uint64_t cseq = 0, coff = EVENTS_SPOOL_SEG_HDR;
	bool have_ckpt;
	int rc;

	rc = events_spool_ckpt_read(sp, &cseq, &coff);
	have_ckpt = rc == 0;
	if(rc && rc != -ENOENT){
		ih_logq_push(sp->log, MOSQ_LOG_WARNING,
				"iothub: spool: %s/checkpoint unreadable (%s): replaying every segment", sp->dir, ih_strerror(-rc));
	}
	rc = list_dir(sp, &l);
	if(rc) goto out;

	for(size_t i = 0; i < l.count; i++){
		uint64_t seq = l.seqs[i];
		char *name = events_spool_seg_name(seq);
		struct events_spool_seg *seg;
		int err = 0;

		if(name == NULL){
			rc = -ENOMEM;
			goto out;
		}
		if(seq > sp->last_seq) sp->last_seq = seq;
		if(have_ckpt && seq < cseq){
			/* Confirmed before the crash; only the unlink was missed. */
			unlinkat(sp->dirfd, name, 0);
			free(name);
			continue;
		}
		seg = events_spool_seg_map(sp, name, seq, &err);
		if(seg == NULL){
			ih_logq_push(sp->log, MOSQ_LOG_ERR,
					"iothub: spool: segment %s/%s unusable (%s): moved aside as %s.bad",
					sp->dir, name, ih_strerror(err), name);
			char bad[64];
			snprintf(bad, sizeof(bad), "%s.bad", name);
			renameat(sp->dirfd, name, sp->dirfd, bad);
			free(name);
			continue;
		}
		free(name);
		{
			uint64_t from = EVENTS_SPOOL_SEG_HDR;
			if(have_ckpt && seq == cseq){
				from = coff < EVENTS_SPOOL_SEG_HDR ? EVENTS_SPOOL_SEG_HDR : coff;
				if(from > seg->size) from = seg->size;
			}
			scan_segment(sp, seg, from);
			if(sp->head == NULL){
				sp->start.seg = seg;
				sp->start.off = from;
			}
		}
		append_seg(sp, seg);
	}
	if(have_ckpt && cseq > sp->last_seq) sp->last_seq = cseq;
	if(sp->head){
		ih_logq_push(sp->log, MOSQ_LOG_NOTICE,
				"iothub: spool: recovered %" PRIu64 " undelivered events from %s",
				atomic_load(&sp->recovered_records), sp->dir);
	}
out:
	free(l.seqs);
	return rc;
}

static int make_dir(const char *dir)
{
	if(mkdir(dir, 0700) == 0 || errno == EEXIST) return 0;
	return -errno;
}

int events_spool_open(struct events_spool **out, const struct events_spool_opts *o)
{
	struct events_spool *sp;
	int rc;

	events_spool_crc_init();
	sp = calloc(1, sizeof(*sp));
	if(sp == NULL) return -ENOMEM;
	sp->dirfd = -1;
	sp->lockfd = -1;
	sp->log = o->log;
	sp->max_bytes = o->max_bytes;
	sp->seg_bytes = o->segment_bytes & ~(uint64_t)4095;
	sp->boot_id = o->boot_id;
	pthread_mutex_init(&sp->lock, NULL);
	sp->dir = strdup(o->dir);
	if(sp->dir == NULL){
		rc = -ENOMEM;
		goto fail;
	}
	rc = make_dir(sp->dir);
	if(rc){
		ih_logq_push(sp->log, MOSQ_LOG_ERR, "iothub: spool: cannot create spool_dir %s: %s",
				sp->dir, ih_strerror(-rc));
		goto fail;
	}
	sp->dirfd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(sp->dirfd < 0){
		rc = -errno;
		ih_logq_push(sp->log, MOSQ_LOG_ERR, "iothub: spool: cannot open spool_dir %s: %s",
				sp->dir, ih_strerror(-rc));
		goto fail;
	}
	/* Two brokers appending to one spool would interleave garbage. */
	sp->lockfd = openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if(sp->lockfd < 0 || flock(sp->lockfd, LOCK_EX | LOCK_NB)){
		rc = -errno;
		ih_logq_push(sp->log, MOSQ_LOG_ERR, "iothub: spool: cannot lock spool_dir %s: %s%s", sp->dir,
				ih_strerror(-rc), rc == -EWOULDBLOCK ? " (another broker is using it)" : "");
		goto fail;
	}
	rc = recover(sp);
	if(rc){
		ih_logq_push(sp->log, MOSQ_LOG_ERR, "iothub: spool: cannot read spool_dir %s: %s",
				sp->dir, ih_strerror(-rc));
		goto fail;
	}
	/* New writes always go to a fresh segment; creating it also proves
	 * the directory is writable and the disk has room. */
	if(events_spool_roll(sp, EVENTS_SPOOL_REC_HDR) && sp->last_error == EFBIG && sp->head){
		/* Recovered events fill the cap: start degraded rather than not at all. */
		ih_logq_push(sp->log, MOSQ_LOG_WARNING,
				"iothub: spool: recovered segments fill spool_max_bytes (%" PRIu64 " bytes); new events wait in memory until they drain",
				sp->max_bytes);
	}else if(sp->wseg == NULL){
		rc = -sp->last_error;
		ih_logq_push(sp->log, MOSQ_LOG_ERR,
				"iothub: spool: cannot create a %" PRIu64 "-byte segment in spool_dir %s: %s",
				sp->seg_bytes, sp->dir, ih_strerror(sp->last_error));
		goto fail;
	}
	if(sp->wseg){
		/* Fault the first segment in now, at startup, not on the broker's first events. */
		madvise(sp->wseg->map, sp->wseg->size, MADV_POPULATE_WRITE);
	}
	sp->retry_after_ms = 0;
	if(sp->start.seg == NULL){ /* nothing recovered: the fresh segment exists */
		sp->start.seg = sp->wseg;
		sp->start.off = EVENTS_SPOOL_SEG_HDR;
	}
	sp->confirmed = sp->start;
	*out = sp;
	return 0;
fail:
	events_spool_close(sp);
	return rc;
}

void events_spool_close(struct events_spool *sp)
{
	struct events_spool_seg *s, *nx;

	if(sp == NULL) return;
	for(s = sp->head; s; s = nx){
		nx = s->next;
		events_spool_seg_destroy(sp, s, false);
	}
	/* An unused spare holds no events: remove its file. */
	events_spool_seg_destroy(sp, sp->spare, true);
	if(sp->lockfd >= 0) close(sp->lockfd); /* releases the flock */
	if(sp->dirfd >= 0) close(sp->dirfd);
	pthread_mutex_destroy(&sp->lock);
	free(sp->dir);
	free(sp);
}
