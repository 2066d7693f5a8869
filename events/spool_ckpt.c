/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The checkpoint: the first byte not yet confirmed by RabbitMQ. Replaced
 * atomically (write a temporary file, fsync, rename, fsync the directory),
 * so a crash leaves either the old or the new position, never a torn one.
 * A stale checkpoint only means redelivery, never loss.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "events/spool_crc.h"
#include "events/spool_priv.h"

#define CKPT_NAME "checkpoint"
#define CKPT_TMP "checkpoint.tmp"

int events_spool_ckpt_read(struct events_spool *sp, uint64_t *seq, uint64_t *off)
{
	struct events_spool_ckpt c;
	ssize_t n;
	int fd;

	fd = openat(sp->dirfd, CKPT_NAME, O_RDONLY | O_CLOEXEC);
	if(fd < 0) return errno == ENOENT ? -ENOENT : -errno;
	n = read(fd, &c, sizeof(c));
	close(fd);
	/* Records start on 8-byte boundaries: an offset between two is damage
	 * (recovery would read misaligned headers and skip every record after
	 * it, found by fuzz/fuzz_spool.c), so replay everything instead. */
	if(n != (ssize_t)sizeof(c) || memcmp(c.magic, EVENTS_SPOOL_CKPT_MAGIC, 8)
			|| c.crc != events_spool_ckpt_crc(&c)
			|| c.off % 8 != 0){
		return -EINVAL;
	}
	*seq = c.seq;
	*off = c.off;
	return 0;
}

int events_spool_ckpt_write(struct events_spool *sp, uint64_t seq, uint64_t off)
{
	struct events_spool_ckpt c;
	int fd = -1;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	memcpy(c.magic, EVENTS_SPOOL_CKPT_MAGIC, 8);
	c.seq = seq;
	c.off = off;
	c.crc = events_spool_ckpt_crc(&c);

	fd = openat(sp->dirfd, CKPT_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0){
		rc = -errno;
		goto out;
	}
	if(write(fd, &c, sizeof(c)) != (ssize_t)sizeof(c)){
		rc = errno ? -errno : -EIO;
		goto out;
	}
	if(fsync(fd)){
		rc = -errno;
		goto out;
	}
	if(renameat(sp->dirfd, CKPT_TMP, sp->dirfd, CKPT_NAME)){
		rc = -errno;
		goto out;
	}
	/* Make the rename itself durable. */
	fsync(sp->dirfd);
out:
	if(fd >= 0) close(fd);
	return rc;
}
