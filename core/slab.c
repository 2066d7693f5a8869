/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Small-object pool (see slab.h): per 16-byte size class a free list and
 * the unused end of the class's current chunk.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "core/slab.h"

/* Under AddressSanitizer (make asan, the fuzzers) every block is its own
 * allocation, so that a use after free or an overrun of a pooled block is
 * caught like any other. */
#if defined(__SANITIZE_ADDRESS__)          /* gcc */
#define SLAB_PASS_THROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)       /* clang (the fuzzers: clang-14 defines no macro) */
#define SLAB_PASS_THROUGH 1
#endif
#endif
#ifndef SLAB_PASS_THROUGH
#define SLAB_PASS_THROUGH 0
#endif

#define SLAB_STEP 16
#define SLAB_CLASSES (IH_SLAB_MAX / SLAB_STEP)
#define SLAB_CHUNK 16384

struct slab_free {
	struct slab_free *next;
};

struct slab_class {
	struct slab_free *free;   /* blocks given back */
	char *bump;               /* the current chunk's unused part */
	char *end;
};

static struct {
	struct slab_class cls[SLAB_CLASSES];
	void **chunks;            /* every chunk, for the release at the end */
	size_t nchunks, cap;
	size_t live;
} pool;

static void pool_release(void)
{
	for(size_t i = 0; i < pool.nchunks; i++) mosquitto_free(pool.chunks[i]);
	mosquitto_free(pool.chunks);
	memset(&pool, 0, sizeof(pool));
}

/* A new chunk for class k; -1 when out of memory. */
static int class_refill(struct slab_class *k)
{
	char *chunk;

	if(pool.nchunks == pool.cap){
		size_t ncap = pool.cap ? pool.cap * 2 : 64;
		void **n = mosquitto_realloc(pool.chunks, ncap * sizeof(*n));
		if(n == NULL) return -1;
		pool.chunks = n;
		pool.cap = ncap;
	}
	chunk = mosquitto_malloc(SLAB_CHUNK);
	if(chunk == NULL) return -1;
	pool.chunks[pool.nchunks++] = chunk; /* the pool owns it */
	k->bump = chunk;
	k->end = chunk + SLAB_CHUNK;
	return 0;
}

void *ih_slab_alloc(size_t n)
{
	struct slab_class *k;
	size_t size;
	void *p;

	if(SLAB_PASS_THROUGH){
		p = mosquitto_calloc(1, n ? n : 1);
		if(p && n && n <= IH_SLAB_MAX) pool.live++;
		return p;
	}
	if(n == 0 || n > IH_SLAB_MAX) return mosquitto_calloc(1, n ? n : 1);
	k = &pool.cls[(n - 1) / SLAB_STEP];
	size = ((n - 1) / SLAB_STEP + 1) * SLAB_STEP;
	if(k->free){
		p = k->free;
		k->free = k->free->next;
	}else{
		if((size_t)(k->end - k->bump) < size && class_refill(k)) return NULL;
		p = k->bump;
		k->bump += size;
	}
	pool.live++;
	return memset(p, 0, size);
}

void ih_slab_free(void *p, size_t n)
{
	struct slab_free *f = p;
	struct slab_class *k;

	if(p == NULL) return;
	if(n == 0 || n > IH_SLAB_MAX || SLAB_PASS_THROUGH){
		if(SLAB_PASS_THROUGH && n && n <= IH_SLAB_MAX) pool.live--;
		mosquitto_free(p);
		return;
	}
	k = &pool.cls[(n - 1) / SLAB_STEP];
	f->next = k->free;
	k->free = f;
	if(--pool.live == 0) pool_release();
}

size_t ih_slab_live(void)
{
	return pool.live;
}

size_t ih_slab_reserved(void)
{
	return pool.nchunks * SLAB_CHUNK + pool.cap * sizeof(*pool.chunks);
}
