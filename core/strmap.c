/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Keyed, chained hash map (see strmap.h). The table doubles when it holds
 * more nodes than buckets (max_load times that: 4 for a dense map, or as
 * set), so lookups stay
 * O(1) on average, and halves when it falls below an eighth of that, so a
 * fleet that went away gives its memory back.
 */
#include <stdbool.h>
#include <string.h>

#include "core/strmap.h"

#define STRMAP_INITIAL_BUCKETS 64

static int strmap_init(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *),
		uint64_t (*hash_fn)(const uint8_t *, const void *, size_t))
{
	memset(m, 0, sizeof(*m));
	m->calloc_fn = calloc_fn;
	m->free_fn = free_fn;
	m->hash_fn = hash_fn;
	m->max_load = 1;
	if(ih_keyhash_random_key(m->seed)) return -1;
	m->buckets = calloc_fn(STRMAP_INITIAL_BUCKETS, sizeof(*m->buckets));
	if(m->buckets == NULL) return -1;
	m->mask = STRMAP_INITIAL_BUCKETS - 1;
	return 0;
}

int ih_strmap_init(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *))
{
	return strmap_init(m, calloc_fn, free_fn, ih_siphash24);
}

int ih_strmap_init_dense(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *))
{
	int rc = strmap_init(m, calloc_fn, free_fn, ih_siphash24);

	m->max_load = 4;
	return rc;
}

int ih_strmap_init_fast(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *))
{
	return strmap_init(m, calloc_fn, free_fn, ih_siphash13);
}

/* ih_keyhash_spread under the first eight bytes of the map's seed. */
static uint64_t spread_fn(const uint8_t key[IH_SIPKEY_LEN], const void *data, size_t len)
{
	uint64_t seed;

	memcpy(&seed, key, sizeof(seed));
	return ih_keyhash_spread(data, len, seed);
}

int ih_strmap_init_trusted(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *))
{
	return strmap_init(m, calloc_fn, free_fn, spread_fn);
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
	uint32_t h = (uint32_t)m->hash_fn(m->seed, key, keylen);

	for(struct ih_strmap_node *n = m->buckets[h & m->mask]; n; n = n->next){
		if(n->hash == h && n->keylen == keylen && memcmp(n->key, key, keylen) == 0) return n;
	}
	return NULL;
}

static void strmap_resize(struct ih_strmap *m, size_t nb)
{
	struct ih_strmap_node **nbk;

	/* The nodes keep 32 bits of hash: more buckets than that would not
	 * spread them any further. */
	if(nb > ((size_t)-1) / sizeof(*nbk) / 2 || nb > ((size_t)1 << 32)) return;
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

	if(m->count >= (m->mask + 1) * m->max_load) strmap_resize(m, (m->mask + 1) * 2);
	node->key = key;
	node->keylen = (uint32_t)keylen;
	node->hash = (uint32_t)m->hash_fn(m->seed, key, keylen);
	b = node->hash & m->mask;
	node->next = m->buckets[b];
	m->buckets[b] = node;
	m->count++;
}

int ih_strmap_insert_multi(struct ih_strmap *m, struct ih_strmap_node *node, const char *key, size_t keylen)
{
	struct ih_strmap_node *eq;

	if(m->count >= (m->mask + 1) * m->max_load) strmap_resize(m, (m->mask + 1) * 2);
	eq = ih_strmap_find(m, key, keylen);
	if(eq == NULL){
		ih_strmap_insert(m, node, key, keylen);
		return 1;
	}
	/* The equal node's bucket is the node's. */
	node->key = key;
	node->keylen = (uint32_t)keylen;
	node->hash = eq->hash;
	node->next = eq->next;
	eq->next = node;
	m->count++;
	return 0;
}

void ih_strmap_remove(struct ih_strmap *m, struct ih_strmap_node *node)
{
	struct ih_strmap_node **pp = &m->buckets[node->hash & m->mask];

	for(; *pp; pp = &(*pp)->next){
		if(*pp == node){
			*pp = node->next;
			node->next = NULL;
			m->count--;
			if(m->mask + 1 > STRMAP_INITIAL_BUCKETS && m->count < (m->mask + 1) * m->max_load / 8){
				strmap_resize(m, (m->mask + 1) / 2);
			}
			return;
		}
	}
}

void ih_strmap_foreach(const struct ih_strmap *m, void (*fn)(struct ih_strmap_node *n, void *ud), void *ud)
{
	for(size_t i = 0; m->buckets && i <= m->mask; i++){
		struct ih_strmap_node *n = m->buckets[i], *next;
		for(; n; n = next){
			next = n->next;
			fn(n, ud);
		}
	}
}
