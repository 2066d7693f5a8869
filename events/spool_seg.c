/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Segment files: create (preallocated, mapped), map an existing one for
 * recovery, destroy. Runs on either thread, so only libc is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "events/spool_crc.h"
#include "events/spool_priv.h"
#include "core/clock.h"
#include "core/logq.h"

char *events_spool_seg_name(uint64_t seq)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%016" PRIx64 ".seg", seq);
	return strdup(buf);
}

/*
 * posix_fallocate reserves every block now, so a full disk is an error
 * here and never a SIGBUS on a later store into the mapping.
 */
struct events_spool_seg *events_spool_seg_create(struct events_spool *sp, const char *name, uint64_t size, int *err)
{
	struct events_spool_seg *seg = NULL;
	struct events_spool_seg_hdr *h;
	void *map = MAP_FAILED;
	int fd = -1;
	int rc;

	fd = openat(sp->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if(fd < 0){
		*err = errno;
		goto fail;
	}
	rc = posix_fallocate(fd, 0, (off_t)size);
	if(rc){
		*err = rc;
		goto fail;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if(map == MAP_FAILED){
		*err = errno;
		goto fail;
	}
	seg = calloc(1, sizeof(*seg));
	if(seg == NULL || (seg->path = strdup(name)) == NULL){
		*err = ENOMEM;
		goto fail;
	}
	close(fd);
	seg->map = map;
	seg->size = size;
	atomic_init(&seg->end, EVENTS_SPOOL_SEG_HDR);
	atomic_init(&seg->sealed, 0);
	seg->synced = 0;
	h = (struct events_spool_seg_hdr *)seg->map;
	memcpy(h->magic, EVENTS_SPOOL_SEG_MAGIC, 8);
	h->version = EVENTS_SPOOL_SEG_VERSION;
	h->hdr_size = EVENTS_SPOOL_SEG_HDR;
	h->size = size;
	h->boot_id = sp->boot_id;
	h->created_ms = (uint64_t)ih_wall_ms();
	atomic_fetch_add(&sp->bytes, size);
	return seg;

fail:
	if(seg) free(seg->path);
	free(seg);
	if(map != MAP_FAILED) munmap(map, size);
	if(fd >= 0){
		close(fd);
		unlinkat(sp->dirfd, name, 0);
	}
	return NULL;
}

/* Recovered segments are only read, so they are mapped read-only. */
struct events_spool_seg *events_spool_seg_map(struct events_spool *sp, const char *name, uint64_t seq, int *err)
{
	struct events_spool_seg *seg = NULL;
	const struct events_spool_seg_hdr *h;
	struct stat st = {0};
	void *map = MAP_FAILED;
	int fd;

	fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		*err = errno;
		goto fail;
	}
	if(fstat(fd, &st) || st.st_size < (off_t)EVENTS_SPOOL_SEG_HDR){
		*err = EINVAL;
		goto fail;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if(map == MAP_FAILED){
		*err = errno;
		goto fail;
	}
	h = map;
	if(memcmp(h->magic, EVENTS_SPOOL_SEG_MAGIC, 8) || h->version != EVENTS_SPOOL_SEG_VERSION
			|| h->hdr_size != EVENTS_SPOOL_SEG_HDR){
		*err = EINVAL;
		goto fail;
	}
	if(h->size > (uint64_t)st.st_size){
		/* Segments are preallocated to their full size: someone or something
		 * cut this file. What it still holds is recovered. */
		ih_logq_push(sp->log, MOSQ_LOG_WARNING,
				"iothub: spool: segment %s is truncated (%" PRIu64 " of %" PRIu64 " bytes): recovering the records it still holds",
				name, (uint64_t)st.st_size, h->size);
	}
	seg = calloc(1, sizeof(*seg));
	if(seg == NULL || (seg->path = strdup(name)) == NULL){
		*err = ENOMEM;
		goto fail;
	}
	close(fd);
	seg->map = map;
	seg->size = (uint64_t)st.st_size;
	seg->seq = seq;
	seg->recovered = true;
	atomic_init(&seg->end, EVENTS_SPOOL_SEG_HDR);
	atomic_init(&seg->sealed, 1);
	atomic_fetch_add(&sp->bytes, seg->size);
	return seg;

fail:
	if(seg) free(seg->path);
	free(seg);
	if(map != MAP_FAILED) munmap(map, (size_t)st.st_size);
	if(fd >= 0) close(fd);
	return NULL;
}

void events_spool_seg_destroy(struct events_spool *sp, struct events_spool_seg *seg, bool remove)
{
	if(seg == NULL) return;
	munmap(seg->map, seg->size);
	if(remove) unlinkat(sp->dirfd, seg->path, 0);
	atomic_fetch_sub(&sp->bytes, seg->size);
	free(seg->path);
	free(seg);
}

uint64_t events_spool_rec_check(const uint8_t *map, uint64_t off, uint64_t limit)
{
	const struct events_spool_rec_hdr *h;
	uint64_t need;

	if(off + EVENTS_SPOOL_REC_HDR > limit) return 0;
	h = (const struct events_spool_rec_hdr *)(map + off);
	if(__atomic_load_n(&h->commit, __ATOMIC_ACQUIRE) != EVENTS_SPOOL_REC_COMMIT) return 0;
	if(h->len > limit - off - EVENTS_SPOOL_REC_HDR) return 0;
	need = events_spool_align8(EVENTS_SPOOL_REC_HDR + (uint64_t)h->len);
	if(need > limit - off || h->type == 0) return 0;
	if(events_spool_rec_crc(h) != h->crc) return 0;
	return need;
}

/* First valid record after a damaged one, or `limit` when none is left. */
uint64_t events_spool_resync(const uint8_t *map, uint64_t off, uint64_t limit)
{
	for(uint64_t p = off + 8; p + EVENTS_SPOOL_REC_HDR <= limit; p += 8){
		if(events_spool_rec_check(map, p, limit)) return p;
	}
	return limit;
}
