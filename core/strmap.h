/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * A string-keyed intrusive hash map for the auth caches and queues.
 *
 * Keys are attacker-chosen (usernames, client addresses), so buckets are
 * picked with SipHash-2-4 under a random per-map key: nobody can aim a
 * flood of names at one bucket. The map never owns its nodes; it only
 * allocates its bucket array, with the allocator given at init, which lets
 * the worker thread use one with libc malloc and the broker thread one with
 * mosquitto_malloc.
 */
#ifndef IH_CORE_STRMAP_H
#define IH_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#define auth_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct ih_strmap_node {
	struct ih_strmap_node *next;
	uint64_t hash;
	const char *key;   /* owned by the object that embeds the node */
	size_t keylen;
};

struct ih_strmap {
	struct ih_strmap_node **buckets;
	size_t mask;       /* bucket count - 1; the count is a power of two */
	size_t count;
	uint8_t seed[16];
	void *(*calloc_fn)(size_t nmemb, size_t size);
	void (*free_fn)(void *p);
};

/* 0, or -1 when the bucket array or the random seed is unavailable. */
int ih_strmap_init(struct ih_strmap *m, void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *));
/* Frees the bucket array only: empty the map of nodes first. */
void ih_strmap_cleanup(struct ih_strmap *m);

struct ih_strmap_node *ih_strmap_find(const struct ih_strmap *m, const char *key, size_t keylen);
/* `key` must stay valid while the node is in the map and must not be in it
 * already. Never fails: when the table cannot grow, chains get longer. */
void ih_strmap_insert(struct ih_strmap *m, struct ih_strmap_node *node, const char *key, size_t keylen);
void ih_strmap_remove(struct ih_strmap *m, struct ih_strmap_node *node);

/* SipHash-2-4 (exposed for its test vectors). */
uint64_t auth_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
