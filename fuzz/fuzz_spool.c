/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Spool recovery (events/spool_open.c, spool_seg.c, spool_ckpt.c, spool.c):
 * arbitrary bytes on disk where segments and a checkpoint are expected.
 * Recovery must never crash, hand the reader a record that is not wholly
 * inside its segment, or lose what this process wrote afterwards.
 *
 * Input: flags byte, then chunks  kind u8 | len u16 (LE) | bytes:
 *   kind % 4 == 0  a segment file: name byte (its sequence number), then the
 *                  records area; a valid 64-byte header is put in front
 *                  unless flags & 2 (then the bytes are the whole file);
 *                  with flags & 1 every record the bytes describe gets its
 *                  CRC fixed, so the mutator reaches the code past the CRC
 *   kind % 4 == 1  the checkpoint file (flags & 4: its CRC fixed)
 *   kind % 4 == 2  a stray file, e.g. a leftover .tmp
 *   kind % 4 == 3  a record body to append after recovery
 * Then: open, read everything (checking bounds and alignment), confirm and
 * release as the forwarder does, append the kind-3 bodies, close, open
 * again and check those bodies are recovered, in order.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz_common.h"
#include "core/logq.h"
#include "events/spool.h"
#include "events/spool_crc.h"
#include "events/spool_priv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_APPEND 8
#define SEG_BYTES (64 * 1024)

static char dir[256];
static struct ih_logq elog;

static void wipe(void);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)argc; (void)argv;
	snprintf(dir, sizeof(dir), "%s/iothub-fuzz-spool-%d", base, (int)getpid());
	events_spool_crc_init();
	if(ih_logq_init(&elog, "the spool")) abort();
	atexit(wipe);
	return 0;
}

static void wipe(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if(d){
		while((de = readdir(d)) != NULL){
			if(strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	rmdir(dir);
}

static void put_file(const char *name, const void *p, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if(fd < 0) return;
	if(n && write(fd, p, n) != (ssize_t)n) abort();
	close(fd);
}

/* Give every record the bytes describe its correct CRC. */
static void fix_crcs(uint8_t *map, size_t size)
{
	uint64_t off = EVENTS_SPOOL_SEG_HDR;

	while(off + EVENTS_SPOOL_REC_HDR <= size){
		struct events_spool_rec_hdr *h = (struct events_spool_rec_hdr *)(map + off);
		uint64_t need;

		if(h->commit != EVENTS_SPOOL_REC_COMMIT || h->len > size - off - EVENTS_SPOOL_REC_HDR) break;
		need = events_spool_align8(EVENTS_SPOOL_REC_HDR + (uint64_t)h->len);
		if(need > size - off) break;
		h->crc = events_spool_rec_crc(h);
		off += need;
	}
}

static void put_segment(uint8_t seq, const uint8_t *p, size_t n, uint8_t flags)
{
	size_t size = (flags & 2) ? n : events_spool_align8(EVENTS_SPOOL_SEG_HDR + n);
	uint8_t *buf = calloc(1, size ? size : 1);
	char name[32];

	if(buf == NULL) abort();
	if(flags & 2){
		memcpy(buf, p, n);
	}else{
		struct events_spool_seg_hdr *h = (struct events_spool_seg_hdr *)buf;
		memcpy(h->magic, EVENTS_SPOOL_SEG_MAGIC, 8);
		h->version = EVENTS_SPOOL_SEG_VERSION;
		h->hdr_size = EVENTS_SPOOL_SEG_HDR;
		h->seq = seq;
		h->size = size;
		memcpy(buf + EVENTS_SPOOL_SEG_HDR, p, n);
		if(flags & 1) fix_crcs(buf, size);
	}
	snprintf(name, sizeof(name), "%016x.seg", (unsigned)seq);
	put_file(name, buf, size);
	free(buf);
}

static void put_checkpoint(const uint8_t *p, size_t n, uint8_t flags)
{
	struct events_spool_ckpt c;

	if(!(flags & 4) || n < 16){
		put_file("checkpoint", p, n);
		return;
	}
	memset(&c, 0, sizeof(c));
	memcpy(c.magic, EVENTS_SPOOL_CKPT_MAGIC, 8);
	memcpy(&c.seq, p, 8);
	memcpy(&c.off, p + 8, 8);
	c.crc = events_spool_ckpt_crc(&c);
	put_file("checkpoint", &c, sizeof(c));
}

static bool inside(const struct events_spool_rec *r, const struct events_spool_pos *before)
{
	const struct events_spool_seg *seg = r->end.seg;
	const uint8_t *start = (const uint8_t *)r->hdr;

	return seg && start >= seg->map + EVENTS_SPOOL_SEG_HDR && ((uintptr_t)start & 7) == 0
		&& r->body + r->hdr->len <= seg->map + seg->size && r->end.off <= seg->size
		&& (before->seg != seg || r->end.off > before->off);
}

/* Read everything; returns the number of records. `tail`: bodies expected last. */
static size_t read_all(struct events_spool *sp, uint8_t *const *tail, const size_t *tail_len, size_t ntail)
{
	struct events_spool_pos rd, before;
	struct events_spool_rec r;
	size_t n = 0, cap = 0;
	const uint8_t **bodies = NULL;
	size_t *lens = NULL;

	events_spool_read_start(sp, &rd);
	before = rd;
	while(n < 100000 && events_spool_next(sp, &rd, &r)){
		FZ_CHECK(inside(&r, &before), "record outside its segment (off %llu)", (unsigned long long)r.end.off);
		FZ_CHECK(r.hdr->type != 0, "type 0 record");
		if(n == cap){
			cap = cap ? cap * 2 : 16;
			bodies = realloc(bodies, cap * sizeof(*bodies));
			lens = realloc(lens, cap * sizeof(*lens));
			if(bodies == NULL || lens == NULL) abort();
		}
		bodies[n] = r.body;
		lens[n] = r.hdr->len;
		n++;
		before = rd;
		events_spool_confirm(sp, &rd);
		/* Releasing unmaps what is confirmed: only while no body is kept. */
		if(ntail == 0 && n % 8 == 0) events_spool_release(sp);
	}
	FZ_CHECK(n >= ntail, "%zu records read, %zu written after recovery", n, ntail);
	for(size_t i = 0; i < ntail; i++){
		size_t k = n - ntail + i;
		FZ_CHECK(lens[k] == tail_len[i] && !memcmp(bodies[k], tail[i], tail_len[i]), "appended record %zu differs", i);
	}
	free(bodies);
	free(lens);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t flags = fz_u8(&f);
	uint8_t *app[MAX_APPEND];
	size_t app_len[MAX_APPEND], napp = 0, written = 0;
	struct events_spool_opts o;
	struct events_spool *sp = NULL;
	int stray = 0;

	wipe();
	if(mkdir(dir, 0700)) abort();
	while(!fz_empty(&f)){
		uint8_t kind = fz_u8(&f);
		size_t len = (size_t)fz_u8(&f) | ((size_t)fz_u8(&f) << 8);
		const uint8_t *p = f.p;

		if(len > f.n) len = f.n;
		f.p += len;
		f.n -= len;
		switch(kind % 4){
			case 0:
				if(len) put_segment(p[0], p + 1, len - 1, flags);
				break;
			case 1:
				put_checkpoint(p, len, flags);
				break;
			case 2: {
				char name[32];
				snprintf(name, sizeof(name), (kind & 4) ? "spare-%d.tmp" : "%d.seg.bad", stray++);
				put_file(name, p, len);
				break;
			}
			case 3:
				if(napp < MAX_APPEND){
					app[napp] = malloc(len ? len : 1);
					if(app[napp] == NULL) abort();
					memcpy(app[napp], p, len);
					app_len[napp++] = len;
				}
				break;
		}
	}

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.max_bytes = (flags & 8) ? 192 * 1024 : 4 * 1024 * 1024;
	o.segment_bytes = SEG_BYTES;
	o.boot_id = 42;
	o.log = &elog;
	if(events_spool_open(&sp, &o) == 0){
		read_all(sp, NULL, NULL, 0);
		for(size_t i = 0; i < napp; i++){
			struct events_spool_meta meta = {3, 0, 1000, 42, i + 1};
			void *dst = events_spool_reserve(sp, (uint32_t)app_len[i]);
			if(dst == NULL) break; /* the cap: fine, but then nothing after it either */
			memcpy(dst, app[i], app_len[i]);
			events_spool_commit(sp, &meta);
			written++;
		}
		events_spool_checkpoint(sp);
		events_spool_close(sp);
		sp = NULL;
		/* What this process wrote after recovery must all come back. */
		FZ_CHECK(events_spool_open(&sp, &o) == 0, "reopening our own spool failed");
		read_all(sp, app, app_len, written);
		events_spool_release(sp);
		events_spool_close(sp);
	}
	ih_logq_drain(&elog);
	for(size_t i = 0; i < napp; i++) free(app[i]);
	wipe();
	return 0;
}
