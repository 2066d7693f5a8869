/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The one string-keyed hash map: the auth caches and queues, the registry
 * worker's queues, the connection table's client-id and username views,
 * and the auto-subscription index's client, key, shape and prefix tables.
 *
 * Keys are attacker-chosen (client ids, usernames, addresses, topics), so
 * buckets are picked with SipHash (core/keyhash.h) under a random per-map
 * key: nobody can aim a flood of names at one bucket. SipHash-2-4 by
 * default; SipHash-1-3 for a map looked up once per message
 * (ih_strmap_init_fast).
 *
 * The map is intrusive and never owns its nodes; it only allocates its
 * bucket array, with the allocator given at init, which lets the worker
 * thread use one with libc malloc and the broker thread one with
 * mosquitto_malloc, and lets a user account for every byte (ih_strmap_bytes
 * is exactly what the allocator was asked for and not given back).
 */
#ifndef IH_CORE_STRMAP_H
#define IH_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/keyhash.h"

#define ih_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* 24 bytes: the low half of the hash picks the bucket and screens the
 * chain (a full compare follows), and no key of the plugin comes near 4 GiB
 * (MQTT strings stop at 64 KiB). Every connection embeds two of these and
 * every auth cache entry one, so the two halved fields save 8 bytes each. */
struct ih_strmap_node {
	struct ih_strmap_node *next;
	const char *key;   /* owned by the object that embeds the node */
	uint32_t hash;
	uint32_t keylen;
};

struct ih_strmap {
	struct ih_strmap_node **buckets;
	size_t mask;       /* bucket count - 1; the count is a power of two */
	size_t count;
	uint64_t (*hash_fn)(const uint8_t key[IH_SIPKEY_LEN], const void *data, size_t len);
	uint8_t seed[IH_SIPKEY_LEN];
	unsigned max_load;  /* nodes per bucket before the array doubles (1) */
	void *(*calloc_fn)(size_t nmemb, size_t size);
	void (*free_fn)(void *p);
};

/* 0, or -1 when the bucket array or the random seed is unavailable. */
int ih_strmap_init(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *));
/* The same with SipHash-1-3: for maps on the per-message path. */
int ih_strmap_init_fast(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *));
/* The same (SipHash-2-4) for a big map off the hot paths: up to 4 nodes
 * per bucket on average instead of 1, so its bucket array costs about 2-4
 * bytes per node instead of 8-16, for a few more compares per lookup. */
int ih_strmap_init_dense(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *));
/* The same with the cheap mix ih_keyhash_spread, which is not collision
 * resistant: ONLY for a map on the per-message path whose inserted keys no
 * client can choose (lookups with client-chosen keys are fine: they cannot
 * lengthen a chain). */
int ih_strmap_init_trusted(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *));
/* Let the map hold up to max_load nodes per bucket on average (default 1)
 * before it doubles: for a map with one entry per device that is looked up
 * per connect, not per message, 2 halves the bucket array (8 bytes a
 * bucket) for a slightly longer chain. Call right after init. */
static inline void ih_strmap_set_max_load(struct ih_strmap *m, unsigned max_load)
{
	m->max_load = max_load ? max_load : 1;
}
/* Frees the bucket array only: empty the map of nodes first, or free them
 * with ih_strmap_foreach. Safe on a map whose init failed. */
void ih_strmap_cleanup(struct ih_strmap *m);

struct ih_strmap_node *ih_strmap_find(const struct ih_strmap *m, const char *key, size_t keylen);
/* `key` must stay valid while the node is in the map and must not be in it
 * already; keylen < 2^32. Never fails: when the table cannot grow, chains get longer. */
void ih_strmap_insert(struct ih_strmap *m, struct ih_strmap_node *node, const char *key, size_t keylen);
/*
 * A multimap's insert: the key may be in the map already, and then the
 * node goes right after the equal one, so that equal keys stay next to
 * each other (resizing keeps them so) and ih_strmap_next_equal walks them
 * in one step each. Returns 1 when the key was new, 0 when not.
 */
int ih_strmap_insert_multi(struct ih_strmap *m, struct ih_strmap_node *node, const char *key, size_t keylen);
/* The node after n with n's key (inserted by ih_strmap_insert_multi), or NULL. */
static inline struct ih_strmap_node *ih_strmap_next_equal(const struct ih_strmap_node *n)
{
	struct ih_strmap_node *x = n->next;

	return x && x->hash == n->hash && x->keylen == n->keylen && memcmp(x->key, n->key, n->keylen) == 0 ? x : NULL;
}
/* Point an indexed node at another copy of the same key (equal bytes, so
 * its hash and bucket stay), e.g. before the old copy is freed. */
static inline void ih_strmap_node_move_key(struct ih_strmap_node *node, const char *same_key)
{
	node->key = same_key;
}
/* Unlinks the node; the bucket array halves when it is mostly empty. */
void ih_strmap_remove(struct ih_strmap *m, struct ih_strmap_node *node);

/* Visit every node. `fn` may free the node it is given (its successor was
 * read before), but must not insert or remove anything else. The map is
 * unusable afterwards if nodes were freed: cleanup only. */
void ih_strmap_foreach(const struct ih_strmap *m, void (*fn)(struct ih_strmap_node *n, void *ud), void *ud);

static inline size_t ih_strmap_count(const struct ih_strmap *m)
{
	return m->count;
}

/* Bytes of the bucket array (the map's only allocation). */
static inline size_t ih_strmap_bytes(const struct ih_strmap *m)
{
	return m->buckets ? (m->mask + 1) * sizeof(*m->buckets) : 0;
}

#endif
