/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The spool on its own: append, read, confirm, checkpoint, segment roll and
 * unlink, oversize records, recovery after SIGKILL, torn and corrupt
 * records.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/logq.h"
#include "events/spool.h"
#include "events/spool_crc.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

#define SEG (64 * 1024)

static char dir[256];
static struct ih_logq lq;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ih-spool-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ih_logq_init(&lq, "the spool");
	stub_log_clear();
}

static void teardown(void)
{
	char cmd[300];

	ih_logq_drain(&lq);
	ih_logq_cleanup(&lq);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct events_spool *open_spool(uint64_t max)
{
	struct events_spool_opts o = {dir, max, SEG, 0x1234, &lq};
	struct events_spool *sp = NULL;

	ck_assert_int_eq(events_spool_open(&sp, &o), 0);
	ih_logq_drain(&lq);
	return sp;
}

/* Body = "rec-<n>" padded with n%97 bytes of 'x'. */
static int append(struct events_spool *sp, uint64_t n, uint32_t extra)
{
	char body[80000];
	int len = snprintf(body, sizeof(body), "rec-%llu:", (unsigned long long)n);
	struct events_spool_meta m = {3, 0, 1000 + (int64_t)n, 0x1234, n};
	void *dst;

	memset(body + len, 'x', extra);
	len += (int)extra;
	dst = events_spool_reserve(sp, (uint32_t)len);
	if(dst == NULL) return -1;
	memcpy(dst, body, (size_t)len);
	events_spool_commit(sp, &m);
	return 0;
}

static int count_files(const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while((de = readdir(d)) != NULL){
		size_t l = strlen(de->d_name), s = strlen(suffix);
		if(l > s && !strcmp(de->d_name + l - s, suffix)) n++;
	}
	closedir(d);
	return n;
}

/* Read everything available; returns the count, ids into ids[]. */
static size_t read_all(struct events_spool *sp, struct events_spool_pos *rd, uint64_t *ids, size_t max,
		struct events_spool_pos *last_end)
{
	struct events_spool_rec rec;
	size_t n = 0;

	while(events_spool_next(sp, rd, &rec)){
		char expect[32];
		int l = snprintf(expect, sizeof(expect), "rec-%llu:", (unsigned long long)rec.hdr->id_lo);
		ck_assert_uint_ge(rec.hdr->len, (unsigned)l);
		ck_assert_mem_eq(rec.body, expect, (size_t)l);
		if(n < max) ids[n] = rec.hdr->id_lo;
		n++;
		if(last_end) *last_end = rec.end;
	}
	return n;
}

START_TEST(append_read_roll_confirm_unlink)
{
	struct events_spool *sp = open_spool(16 * SEG);
	struct events_spool_pos rd, end;
	uint64_t ids[2000];
	size_t n;

	for(uint64_t i = 1; i <= 1000; i++) ck_assert_int_eq(append(sp, i, (uint32_t)(i % 97) + 100), 0);
	ck_assert_int_ge(count_files(".seg"), 3); /* rolled over several segments */

	events_spool_read_start(sp, &rd);
	n = read_all(sp, &rd, ids, 2000, &end);
	ck_assert_uint_eq(n, 1000);
	for(size_t i = 0; i < n; i++) ck_assert_uint_eq(ids[i], i + 1);
	ck_assert(!events_spool_has_data(sp, &rd));

	/* New records become visible to the same cursor. */
	ck_assert_int_eq(append(sp, 1001, 5), 0);
	ck_assert(events_spool_has_data(sp, &rd));
	ck_assert_uint_eq(read_all(sp, &rd, ids, 1, &end), 1);
	ck_assert_uint_eq(ids[0], 1001);

	/* Confirm all: old segments are unlinked after a checkpoint. */
	events_spool_confirm(sp, &end);
	events_spool_release(sp);
	ck_assert_int_eq(events_spool_checkpoint(sp), 0);
	ck_assert_int_eq(count_files(".seg"), 1);
	{
		char ck[400];
		snprintf(ck, sizeof(ck), "%s/checkpoint", dir);
		ck_assert_int_eq(access(ck, F_OK), 0);
	}
	events_spool_close(sp);

	/* Reopen: nothing to replay. */
	sp = open_spool(16 * SEG);
	events_spool_read_start(sp, &rd);
	ck_assert_uint_eq(read_all(sp, &rd, ids, 1, NULL), 0);
	events_spool_close(sp);
}
END_TEST

START_TEST(checkpoint_replays_only_unconfirmed)
{
	struct events_spool *sp = open_spool(16 * SEG);
	struct events_spool_pos rd, end;
	struct events_spool_rec rec;
	uint64_t ids[1000];
	size_t n;

	for(uint64_t i = 1; i <= 600; i++) ck_assert_int_eq(append(sp, i, 150), 0);
	events_spool_read_start(sp, &rd);
	for(int i = 0; i < 400; i++) ck_assert(events_spool_next(sp, &rd, &rec));
	end = rec.end;
	events_spool_confirm(sp, &end);
	events_spool_release(sp);
	ck_assert_int_eq(events_spool_checkpoint(sp), 0);
	events_spool_close(sp);

	sp = open_spool(16 * SEG);
	events_spool_read_start(sp, &rd);
	n = read_all(sp, &rd, ids, 1000, NULL);
	ck_assert_uint_eq(n, 200);
	for(size_t i = 0; i < n; i++) ck_assert_uint_eq(ids[i], 401 + i);
	events_spool_close(sp);
}
END_TEST

START_TEST(oversize_record_gets_its_own_segment)
{
	struct events_spool *sp = open_spool(16 * SEG);
	struct events_spool_pos rd;
	uint64_t ids[8];

	ck_assert_int_eq(append(sp, 1, 10), 0);
	ck_assert_int_eq(append(sp, 2, 70000), 0); /* larger than a 64 KiB segment */
	ck_assert_int_eq(append(sp, 3, 10), 0);
	events_spool_read_start(sp, &rd);
	ck_assert_uint_eq(read_all(sp, &rd, ids, 8, NULL), 3);
	ck_assert_uint_eq(ids[1], 2);
	ck_assert_uint_eq(ids[2], 3);
	events_spool_close(sp);
	/* and it survives a restart */
	sp = open_spool(16 * SEG);
	events_spool_read_start(sp, &rd);
	ck_assert_uint_eq(read_all(sp, &rd, ids, 8, NULL), 3);
	events_spool_close(sp);
}
END_TEST

START_TEST(cap_reached_fails_reserve)
{
	struct events_spool *sp = open_spool(4 * SEG);
	int ok = 0;

	for(uint64_t i = 1; i <= 10000; i++){
		if(append(sp, i, 1000)) break;
		ok++;
	}
	ck_assert_int_gt(ok, 100);
	ck_assert_int_lt(ok, 10000);
	ck_assert_int_eq(events_spool_last_error(sp), EFBIG);
	ck_assert_uint_le(events_spool_bytes(sp), 4 * SEG);
	events_spool_close(sp);
}
END_TEST

/* A child appends and reports each committed record through a pipe, then
 * SIGKILLs itself mid-stream. Every reported record must be recovered. */
START_TEST(recovery_after_sigkill)
{
	int p[2];
	pid_t pid;
	uint64_t reported = 0, v, ids[20000];
	struct events_spool *sp;
	struct events_spool_pos rd;
	size_t n;
	int st;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0){
		struct events_spool_opts o = {dir, 64 * SEG, SEG, 0x99, &lq};
		struct events_spool *csp = NULL;
		close(p[0]);
		if(events_spool_open(&csp, &o)) _exit(2);
		for(uint64_t i = 1; i < 20000; i++){
			if(append(csp, i, (uint32_t)(i % 300))) _exit(3);
			if(write(p[1], &i, sizeof(i)) != sizeof(i)) _exit(4);
			if(i == 7777) kill(getpid(), SIGKILL);
		}
		_exit(5);
	}
	close(p[1]);
	while(read(p[0], &v, sizeof(v)) == sizeof(v)) reported = v;
	close(p[0]);
	waitpid(pid, &st, 0);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_uint_eq(reported, 7777);

	sp = open_spool(64 * SEG);
	events_spool_read_start(sp, &rd);
	n = read_all(sp, &rd, ids, 20000, NULL);
	ck_assert_uint_ge(n, reported);
	for(size_t i = 0; i < reported; i++) ck_assert_uint_eq(ids[i], i + 1);
	events_spool_close(sp);
}
END_TEST

/* Find the first segment file and map it writable. */
static uint8_t *map_first_segment(size_t *size, char *name, size_t namelen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[600] = "";
	struct stat st;
	uint8_t *m;
	int fd;

	while((de = readdir(d)) != NULL){
		if(strstr(de->d_name, ".seg") && (path[0] == '\0' || strcmp(de->d_name, name) < 0)){
			snprintf(name, namelen, "%s", de->d_name);
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	fstat(fd, &st);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	*size = (size_t)st.st_size;
	return m;
}

/* A closed spool holding records 1..50 (20 bytes of padding each, all in
 * the first segment), that segment mapped writable for the test to damage. */
static uint8_t *fifty_records_mapped(size_t *size, char *name, size_t namelen)
{
	struct events_spool *sp = open_spool(16 * SEG);

	for(uint64_t i = 1; i <= 50; i++) ck_assert_int_eq(append(sp, i, 20), 0);
	events_spool_close(sp);
	return map_first_segment(size, name, namelen);
}

/* Byte offset of the record with id `want` in a mapped segment. */
static uint64_t find_rec(const uint8_t *m, size_t size, uint64_t want)
{
	uint64_t off = EVENTS_SPOOL_SEG_HDR, n;

	while((n = events_spool_rec_check(m, off, size)) != 0){
		if(((const struct events_spool_rec_hdr *)(m + off))->id_lo == want) return off;
		off += n;
	}
	return off; /* end of valid data */
}

START_TEST(torn_tail_is_recovered_up_to_the_damage)
{
	struct events_spool *sp;
	struct events_spool_pos rd;
	uint64_t ids[100];
	char name[300] = "";
	size_t size;
	uint8_t *m;
	uint64_t end;

	/* A record whose header and body were written but not its commit word. */
	m = fifty_records_mapped(&size, name, sizeof(name));
	end = find_rec(m, size, 0);
	memset(m + end + 4, 0x5a, 60);
	munmap(m, size);

	stub_log_clear();
	sp = open_spool(16 * SEG);
	ck_assert(stub_log_contains("torn tail"));
	events_spool_read_start(sp, &rd);
	ck_assert_uint_eq(read_all(sp, &rd, ids, 100, NULL), 50);
	ck_assert_uint_eq(ids[49], 50);
	/* New writes go to a fresh segment and are read after the old ones. */
	ck_assert_int_eq(append(sp, 51, 1), 0);
	ck_assert_uint_eq(read_all(sp, &rd, ids, 100, NULL), 1);
	ck_assert_uint_eq(ids[0], 51);
	events_spool_close(sp);
}
END_TEST

/* A segment file cut short in the middle of a record (segments are
 * preallocated, so something outside the spool did it): the records before
 * the cut are recovered, and the damage is logged, not passed over. */
START_TEST(truncated_segment_is_recovered_and_logged)
{
	struct events_spool *sp;
	struct events_spool_pos rd;
	uint64_t ids[100];
	char name[300] = "", path[600];
	size_t size;
	uint8_t *m;
	uint64_t cut;

	m = fifty_records_mapped(&size, name, sizeof(name));
	cut = find_rec(m, size, 31) + 20; /* inside record 31's header */
	munmap(m, size);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(truncate(path, (off_t)cut), 0);

	stub_log_clear();
	sp = open_spool(16 * SEG);
	ck_assert(stub_log_contains("is truncated"));
	ck_assert(stub_log_contains("torn tail"));
	events_spool_read_start(sp, &rd);
	ck_assert_uint_eq(read_all(sp, &rd, ids, 100, NULL), 30);
	ck_assert_uint_eq(ids[29], 30);
	events_spool_close(sp);
}
END_TEST

START_TEST(corrupt_middle_record_is_skipped)
{
	struct events_spool *sp;
	struct events_spool_pos rd;
	uint64_t ids[100];
	char name[300] = "";
	size_t size, n;
	uint8_t *m;
	uint64_t off;

	m = fifty_records_mapped(&size, name, sizeof(name));
	off = find_rec(m, size, 20);
	m[off + EVENTS_SPOOL_REC_HDR + 3] ^= 0xff; /* flip a body byte: CRC mismatch */
	munmap(m, size);

	stub_log_clear();
	sp = open_spool(16 * SEG);
	ck_assert(stub_log_contains("corrupt record"));
	events_spool_read_start(sp, &rd);
	n = read_all(sp, &rd, ids, 100, NULL);
	ck_assert_uint_eq(n, 49);
	for(size_t i = 0; i < n; i++) ck_assert_uint_eq(ids[i], i < 19 ? i + 1 : i + 2);
	events_spool_close(sp);
}
END_TEST

START_TEST(unwritable_dir_fails_open)
{
	struct events_spool_opts o = {NULL, 16 * SEG, SEG, 1, &lq};
	struct events_spool *sp = NULL;
	char file[300], sub[400];
	int fd;

	/* A regular file where a directory should be: fails even for root. */
	snprintf(file, sizeof(file), "%s/file", dir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	close(fd);
	snprintf(sub, sizeof(sub), "%s/spool", file);
	o.dir = sub;
	stub_log_clear();
	ck_assert_int_ne(events_spool_open(&sp, &o), 0);
	ih_logq_drain(&lq);
	ck_assert(stub_log_contains("spool_dir"));
}
END_TEST

START_TEST(stale_spare_and_tmp_files_are_removed)
{
	struct events_spool *sp;
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/spare-9.tmp", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	sp = open_spool(16 * SEG);
	ck_assert_int_eq(count_files(".tmp"), 0);
	events_spool_prepare(sp);
	ck_assert_int_eq(count_files(".tmp"), 1);
	events_spool_close(sp);
	ck_assert_int_eq(count_files(".tmp"), 0);
}
END_TEST

START_TEST(sync_writes_back_committed_records)
{
	struct events_spool *sp = open_spool(16 * SEG);

	for(uint64_t i = 1; i <= 300; i++) ck_assert_int_eq(append(sp, i, 300), 0);
	ck_assert_int_eq(events_spool_sync(sp), 0);
	ck_assert_int_eq(events_spool_sync(sp), 0); /* nothing new: no-op */
	events_spool_close(sp);
}
END_TEST

START_TEST(second_opener_is_refused)
{
	struct events_spool_opts o = {dir, 16 * SEG, SEG, 2, &lq};
	struct events_spool *sp = open_spool(16 * SEG), *sp2 = NULL;

	stub_log_clear();
	ck_assert_int_ne(events_spool_open(&sp2, &o), 0);
	ih_logq_drain(&lq);
	ck_assert(stub_log_contains("another broker"));
	events_spool_close(sp);
	ck_assert_int_eq(events_spool_open(&sp2, &o), 0);
	events_spool_close(sp2);
}
END_TEST

/* Regression (fuzz/fuzz_spool.c): a checkpoint whose offset is not on a
 * record boundary made recovery read misaligned headers (undefined
 * behaviour) and skip every record after it; now the checkpoint is treated
 * as unreadable and everything is replayed (at least once, never lost). */
START_TEST(misaligned_checkpoint_replays_everything)
{
	struct events_spool *sp = open_spool(16 * SEG);
	struct events_spool_pos rd;
	struct events_spool_ckpt c;
	uint64_t ids[16];
	char path[400];
	FILE *f;

	for(uint64_t i = 1; i <= 10; i++) ck_assert_int_eq(append(sp, i, 3), 0);
	events_spool_close(sp);
	memset(&c, 0, sizeof(c));
	memcpy(c.magic, EVENTS_SPOOL_CKPT_MAGIC, 8);
	c.seq = 1;
	c.off = EVENTS_SPOOL_SEG_HDR + 1;
	c.crc = events_spool_ckpt_crc(&c);
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(&c, sizeof(c), 1, f), 1);
	fclose(f);

	stub_log_clear();
	sp = open_spool(16 * SEG);
	ck_assert(stub_log_contains("checkpoint unreadable"));
	events_spool_read_start(sp, &rd);
	ck_assert_uint_eq(read_all(sp, &rd, ids, 16, NULL), 10);
	for(size_t i = 0; i < 10; i++) ck_assert_uint_eq(ids[i], i + 1);
	events_spool_close(sp);
}
END_TEST

/* Regression: release() used to move a confirmed position at the end of a
 * sealed segment on to the next segment and unmap the sealed one, while the
 * reader's cursor still pointed into it (use-after-free, a broker SIGSEGV
 * after a RabbitMQ outage in test_faults.py). */
START_TEST(release_keeps_the_segment_the_reader_is_in)
{
	struct events_spool *sp = open_spool(16 * SEG);
	struct events_spool_pos rd;
	struct events_spool_rec rec;
	uint64_t n = 0;

	/* Fill the first segment exactly up to where the next record rolls. */
	events_spool_read_start(sp, &rd);
	while(count_files(".seg") == 1){
		ck_assert_int_eq(append(sp, ++n, 6000), 0);
		if(count_files(".seg") > 1) break;
		ck_assert(events_spool_next(sp, &rd, &rec));
		ck_assert_uint_eq(rec.hdr->id_lo, n);
	}
	/* Record n went to segment 2; the reader sits at the end of segment 1,
	 * everything it read is confirmed. */
	events_spool_confirm(sp, &rd);
	events_spool_release(sp);
	ck_assert_int_eq(count_files(".seg"), 2);
	ck_assert(events_spool_next(sp, &rd, &rec));
	ck_assert_uint_eq(rec.hdr->id_lo, n);
	events_spool_confirm(sp, &rec.end);
	events_spool_release(sp);
	ck_assert_int_eq(count_files(".seg"), 1);
	events_spool_close(sp);
}
END_TEST

/* The same bug after a restart: every recovered record already confirmed,
 * the forwarder's first housekeeping release() ran before its first read
 * and unmapped the segment its cursor started in; it never read again, so
 * every later event stayed in the spool (found by test_faults.py's SIGKILL
 * test). */
START_TEST(release_before_first_read_after_recovery)
{
	struct events_spool *sp = open_spool(16 * SEG);
	struct events_spool_pos rd, end;
	struct events_spool_rec rec;

	for(uint64_t i = 1; i <= 3; i++) ck_assert_int_eq(append(sp, i, 10), 0);
	events_spool_read_start(sp, &rd);
	while(events_spool_next(sp, &rd, &rec)) end = rec.end;
	events_spool_confirm(sp, &end);
	ck_assert_int_eq(events_spool_checkpoint(sp), 0);
	events_spool_close(sp);

	sp = open_spool(16 * SEG);
	events_spool_read_start(sp, &rd);
	events_spool_release(sp);        /* housekeeping first, as the forwarder does */
	ck_assert_int_eq(append(sp, 4, 10), 0);
	ck_assert(events_spool_next(sp, &rd, &rec));
	ck_assert_uint_eq(rec.hdr->id_lo, 4);
	events_spool_close(sp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, append_read_roll_confirm_unlink);
	tcase_add_test(tc, checkpoint_replays_only_unconfirmed);
	tcase_add_test(tc, oversize_record_gets_its_own_segment);
	tcase_add_test(tc, cap_reached_fails_reserve);
	tcase_add_test(tc, recovery_after_sigkill);
	tcase_add_test(tc, torn_tail_is_recovered_up_to_the_damage);
	tcase_add_test(tc, corrupt_middle_record_is_skipped);
	tcase_add_test(tc, unwritable_dir_fails_open);
	tcase_add_test(tc, stale_spare_and_tmp_files_are_removed);
	tcase_add_test(tc, sync_writes_back_committed_records);
	tcase_add_test(tc, second_opener_is_refused);
	tcase_add_test(tc, truncated_segment_is_recovered_and_logged);
	tcase_add_test(tc, misaligned_checkpoint_replays_everything);
	tcase_add_test(tc, release_keeps_the_segment_the_reader_is_in);
	tcase_add_test(tc, release_before_first_read_after_recovery);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
