/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The preload state file parser (auth/preload_state.c).
 *
 * Input: max_len byte (username_max_len - 1, at least 2), then the file.
 * Properties:
 *  - a rejected file reports no username;
 *  - an accepted file reports exactly the count it returns, each name
 *    passing registry_username_check;
 *  - writing the accepted names and parsing that again gives the same
 *    names (the writer and the reader agree).
 */
#include <stdio.h>
#include <unistd.h>

#include "auth/preload_state.h"
#include "registry/username.h"
#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct names {
	char **v;
	size_t n;
	size_t max_len;
};

static void collect(void *ud, const char *name, size_t len)
{
	struct names *l = ud;
	size_t plen;

	FZ_CHECK(strlen(name) == len, "length %zu vs %zu", strlen(name), len);
	FZ_CHECK(registry_username_check(name, l->max_len, &plen) == NULL, "reported invalid username");
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if(l->v == NULL) abort();
	l->v[l->n++] = strdup(name);
}

static void names_free(struct names *l)
{
	for(size_t i = 0; i < l->n; i++) free(l->v[i]);
	free(l->v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct names a = {NULL, 0, 0}, b = {NULL, 0, 0};
	char err[256], path[] = "/tmp/fuzz_preload_XXXXXX";
	long n, m;
	int fd;

	if(size < 1) return 0;
	a.max_len = b.max_len = (size_t)data[0] + 3;
	n = auth_preload_state_parse((const char *)data + 1, size - 1, a.max_len, collect, &a, err, sizeof(err));
	if(n < 0){
		FZ_CHECK(a.n == 0, "rejected file reported %zu names", a.n);
		FZ_CHECK(err[0] != '\0', "rejected without a reason");
		return 0;
	}
	FZ_CHECK((size_t)n == a.n, "count %ld, reported %zu", n, a.n);
	fd = mkstemp(path);
	if(fd < 0) abort();
	close(fd);
	FZ_CHECK(auth_preload_state_write(path, (const char *const *)a.v, a.n, err, sizeof(err)) == 0, "write: %s", err);
	m = auth_preload_state_read(path, b.max_len, collect, &b, err, sizeof(err));
	unlink(path);
	FZ_CHECK(m == n, "reread %ld of %ld: %s", m, n, err);
	for(size_t i = 0; i < a.n; i++) FZ_CHECK(strcmp(a.v[i], b.v[i]) == 0, "name %zu differs", i);
	names_free(&a);
	names_free(&b);
	return 0;
}
