/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Atomic file replacement (see atomic_file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/errstr.h"

int ih_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	char tmp[4096], dir[4096];
	const char *p = data;
	int fd, dfd, saved;

	if(snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)){
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0){
		snprintf(err, errlen, "cannot create %s: %s", tmp, ih_strerror(errno));
		return -1;
	}
	while(len){
		ssize_t w = write(fd, p, len);
		if(w < 0 && errno == EINTR) continue;
		if(w <= 0) goto fail;
		p += w;
		len -= (size_t)w;
	}
	if(fsync(fd)) goto fail;
	if(close(fd)){
		fd = -1;
		goto fail;
	}
	fd = -1;
	if(rename(tmp, path)) goto fail;
	/* The rename itself must survive a crash. */
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(dfd >= 0){
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	saved = errno ? errno : EIO;
	if(fd >= 0) close(fd);
	unlink(tmp);
	snprintf(err, errlen, "cannot write %s: %s", path, ih_strerror(saved));
	return -1;
}
