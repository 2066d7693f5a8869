/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Helpers shared by the libFuzzer targets in this directory.
 *
 * Inputs are split into fields at NUL bytes: every string the plugin sees
 * (topics, usernames, client ids, option values) is a C string, so a NUL
 * can never be part of one, and a separator the mutator can insert or
 * delete keeps the fields easy to reach. Whatever follows the last
 * separator the target asked for is "the rest" (binary payloads).
 */
#ifndef IH_FUZZ_COMMON_H
#define IH_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fz {
	const uint8_t *p;
	size_t n;
};

/* The next NUL-terminated field as a fresh malloc'd string ("" when the
 * input is used up). The caller frees it. */
static inline char *fz_str(struct fz *f)
{
	const uint8_t *end = memchr(f->p, 0, f->n);
	size_t len = end ? (size_t)(end - f->p) : f->n;
	char *s = malloc(len + 1);

	if(s == NULL) abort();
	if(len) memcpy(s, f->p, len);
	s[len] = '\0';
	f->p += len;
	f->n -= len;
	if(f->n){ /* the separator */
		f->p++;
		f->n--;
	}
	return s;
}

static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v = 0;

	if(f->n){
		v = f->p[0];
		f->p++;
		f->n--;
	}
	return v;
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t v = 0;

	for(int i = 0; i < 4; i++) v = (v << 8) | fz_u8(f);
	return v;
}

static inline bool fz_empty(const struct fz *f)
{
	return f->n == 0;
}

/* A failed property: print it and abort, so libFuzzer records a crash. */
#define FZ_CHECK(cond, ...) do{ \
	if(!(cond)){ \
		fprintf(stderr, "fuzz property failed: %s (%s:%d)\n  ", #cond, __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
}while(0)

#endif
