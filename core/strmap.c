/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Keyed, chained hash map (see strmap.h). The table doubles when it holds
 * more nodes than buckets, so lookups stay O(1) on average.
 */
#include <stdbool.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/strmap.h"

#define STRMAP_INITIAL_BUCKETS 64

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while(0)

static uint64_t load64_le(const uint8_t *p)
{
	uint64_t v = 0;
	for(int i = 7; i >= 0; i--) v = (v << 8) | p[i];
	return v;
}

uint64_t auth_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	const uint8_t *end = in + len - (len % 8);
	uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = ((uint64_t)len) << 56;
	uint64_t m;

	for(; in != end; in += 8){
		m = load64_le(in);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for(size_t i = 0; i < len % 8; i++){
		b |= ((uint64_t)in[i]) << (8 * i);
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

int ih_strmap_init(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *))
{
	memset(m, 0, sizeof(*m));
	m->calloc_fn = calloc_fn;
	m->free_fn = free_fn;
	if(RAND_bytes(m->seed, sizeof(m->seed)) != 1) return -1;
	m->buckets = calloc_fn(STRMAP_INITIAL_BUCKETS, sizeof(*m->buckets));
	if(m->buckets == NULL) return -1;
	m->mask = STRMAP_INITIAL_BUCKETS - 1;
	return 0;
}

void ih_strmap_cleanup(struct ih_strmap *m)
{
	if(m->buckets) m->free_fn(m->buckets);
	m->buckets = NULL;
	m->mask = 0;
	m->count = 0;
}

struct ih_strmap_node *ih_strmap_find(const struct ih_strmap *m, const char *key, size_t keylen)
{
	uint64_t h = auth_siphash24(m->seed, key, keylen);

	for(struct ih_strmap_node *n = m->buckets[h & m->mask]; n; n = n->next){
		if(n->hash == h && n->keylen == keylen && memcmp(n->key, key, keylen) == 0) return n;
	}
	return NULL;
}

static void strmap_grow(struct ih_strmap *m)
{
	size_t nb = (m->mask + 1) * 2;
	struct ih_strmap_node **nbk;

	if(nb > ((size_t)-1) / sizeof(*nbk) / 2) return;
	nbk = m->calloc_fn(nb, sizeof(*nbk));
	if(nbk == NULL) return; /* keep working with longer chains */
	for(size_t i = 0; i <= m->mask; i++){
		struct ih_strmap_node *n = m->buckets[i], *next;
		for(; n; n = next){
			next = n->next;
			n->next = nbk[n->hash & (nb - 1)];
			nbk[n->hash & (nb - 1)] = n;
		}
	}
	m->free_fn(m->buckets);
	m->buckets = nbk;
	m->mask = nb - 1;
}

void ih_strmap_insert(struct ih_strmap *m, struct ih_strmap_node *node, const char *key, size_t keylen)
{
	size_t b;

	if(m->count >= m->mask + 1) strmap_grow(m);
	node->key = key;
	node->keylen = keylen;
	node->hash = auth_siphash24(m->seed, key, keylen);
	b = node->hash & m->mask;
	node->next = m->buckets[b];
	m->buckets[b] = node;
	m->count++;
}

void ih_strmap_remove(struct ih_strmap *m, struct ih_strmap_node *node)
{
	struct ih_strmap_node **pp = &m->buckets[node->hash & m->mask];

	for(; *pp; pp = &(*pp)->next){
		if(*pp == node){
			*pp = node->next;
			node->next = NULL;
			m->count--;
			return;
		}
	}
}
