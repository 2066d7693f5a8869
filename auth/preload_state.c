/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The preload state file (see preload_state.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/preload_state.h"
#include "core/atomic_file.h"
#include "core/errstr.h"
#include "registry/username.h"

#define HEADER "iothub-preload 1\n"
#define END "end "
/* Larger files are not ours: 100 M usernames of 256 bytes is far past it. */
#define STATE_MAX_BYTES (1024L * 1024 * 1024)

static void ignore_name(void *ud, const char *name, size_t len)
{
	(void)ud; (void)name; (void)len;
}

/* One pass over the lines; fn NULL only validates. */
static long walk(const char *buf, size_t len, size_t max_len, auth_preload_name_fn fn, void *ud,
		char *err, size_t errlen)
{
	size_t hlen = sizeof(HEADER) - 1, pos, plen;
	char name[65536 + 1];
	long count = 0;

	if(len < hlen || memcmp(buf, HEADER, hlen) != 0){
		snprintf(err, errlen, "not a preload state file (bad first line)");
		return -1;
	}
	for(pos = hlen; pos < len; ){
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen;

		if(nl == NULL){
			snprintf(err, errlen, "truncated (no end line)");
			return -1;
		}
		llen = (size_t)(nl - line);
		pos += llen + 1;
		if(llen > sizeof(END) - 1 && memcmp(line, END, sizeof(END) - 1) == 0){
			char num[24], *tail;
			unsigned long long want;
			size_t nlen = llen - (sizeof(END) - 1);

			if(nlen >= sizeof(num) || pos != len){
				snprintf(err, errlen, "malformed end line or data after it");
				return -1;
			}
			memcpy(num, line + sizeof(END) - 1, nlen);
			num[nlen] = '\0';
			errno = 0;
			want = strtoull(num, &tail, 10);
			if(errno || *tail || num[0] < '0' || num[0] > '9' || want != (unsigned long long)count){
				snprintf(err, errlen, "end line says %s usernames, the file holds %ld", num, count);
				return -1;
			}
			return count;
		}
		if(llen == 0 || llen >= sizeof(name) || memchr(line, '\0', llen)){
			snprintf(err, errlen, "line %ld: not a username", count + 2);
			return -1;
		}
		memcpy(name, line, llen);
		name[llen] = '\0';
		if(registry_username_check(name, max_len, &plen)){
			snprintf(err, errlen, "line %ld: not a valid username", count + 2);
			return -1;
		}
		fn(ud, name, llen);
		count++;
	}
	snprintf(err, errlen, "truncated (no end line)");
	return -1;
}

long auth_preload_state_parse(const char *buf, size_t len, size_t max_len, auth_preload_name_fn fn, void *ud,
		char *err, size_t errlen)
{
	/* Validate first, so that a file rejected late reported nothing. */
	if(walk(buf, len, max_len, ignore_name, NULL, err, errlen) < 0) return -1;
	return walk(buf, len, max_len, fn, ud, err, errlen);
}

long auth_preload_state_read(const char *path, size_t max_len, auth_preload_name_fn fn, void *ud,
		char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	long rc = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if(fd < 0){
		if(errno == ENOENT) return -2;
		snprintf(err, errlen, "cannot open: %s", ih_strerror(errno));
		return -1;
	}
	if(fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > STATE_MAX_BYTES){
		snprintf(err, errlen, "not a regular file of at most %ld bytes", STATE_MAX_BYTES);
		goto done;
	}
	buf = mosquitto_malloc((size_t)st.st_size + 1);
	if(buf == NULL){
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	while(got < (size_t)st.st_size){
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if(r < 0 && errno == EINTR) continue;
		if(r <= 0){
			snprintf(err, errlen, "read failed: %s", r < 0 ? ih_strerror(errno) : "file shrank");
			goto done;
		}
		got += (size_t)r;
	}
	rc = auth_preload_state_parse(buf, got, max_len, fn, ud, err, errlen);
done:
	mosquitto_free(buf);
	close(fd);
	return rc;
}

int auth_preload_state_write(const char *path, const char *const *names, size_t n, char *err, size_t errlen)
{
	size_t len = sizeof(HEADER) - 1 + 32, used;
	char *buf;
	int rc;

	for(size_t i = 0; i < n; i++) len += strlen(names[i]) + 1;
	buf = mosquitto_malloc(len);
	if(buf == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(buf, HEADER, sizeof(HEADER) - 1);
	used = sizeof(HEADER) - 1;
	for(size_t i = 0; i < n; i++){
		size_t l = strlen(names[i]);
		memcpy(buf + used, names[i], l);
		buf[used + l] = '\n';
		used += l + 1;
	}
	used += (size_t)snprintf(buf + used, len - used, END "%zu\n", n);
	rc = ih_write_file_atomic(path, buf, used, err, errlen);
	mosquitto_free(buf);
	return rc;
}
