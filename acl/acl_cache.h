/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Per-connection ACL decision cache, like EMQX's acl_cache_max_size /
 * acl_cache_ttl: (access, topic) -> decision.
 *
 * Layout and policy: 4-way set-associative. A key hashes (the cheap
 * seeded spreading mix of core/keyhash.h, allowed here because of the
 * bound below) to one set of four slots. The layout itself
 * bounds the work of a lookup to four comparisons whatever the hash does,
 * which is why it is not a chained core/strmap. A lookup compares the hash, then the
 * access, length and FULL topic bytes, so a forged hash collision can cost
 * an eviction but never a wrong decision. A store replaces, in that set, an
 * empty slot, else an expired one, else the least recently used one (a
 * per-cache counter stamped on every hit and store). Capacity is rounded
 * down to a multiple of four (below four: one set of that many slots).
 *
 * Memory is bounded: the slot array (32 bytes a slot) is allocated once,
 * and each slot keeps one topic buffer, rounded up to 32 bytes, that later
 * stores reuse; topics longer than ACL_CACHE_TOPIC_MAX are never cached.
 * So a cache holds at most 32 + capacity x (32 + 288) bytes (10 KiB at 32
 * slots), typically 32 + capacity x (32 + 32..64): about 2-3 KiB once
 * full of IotHub-sized topics, plus the allocator's per-buffer overhead.
 *
 * A lookup that hits never allocates; a store allocates only when a slot's
 * buffer is too small for the new topic.
 *
 * TTL: an entry stored at `now` answers while now < stored + ttl; ttl 0
 * disables caching, as does capacity 0 (acl_cache_new then yields NULL, and
 * every function accepts a NULL cache: lookups miss, stores do nothing).
 * `now` is monotonic seconds supplied by the caller.
 *
 * Stepping aside: a cache only pays when topics repeat. IotHub topics end
 * in a fresh MessageId/RequestId, so a device's publishes and deliveries
 * all miss, and a miss (hash, probe, store: ~300 instructions) costs about
 * as much as the rule check it would save (bench/acl_micro.sh). So the
 * cache judges itself every 64 lookups: with fewer than 16 hits it answers
 * the next 1024 lookups "miss, do not store" at once (a few instructions),
 * then probes again. Decisions never depend on it: a bypassed lookup only
 * sends the caller to the rules, which are the source of truth anyway.
 *
 * Not thread-safe: one cache belongs to one connection, on the broker thread.
 */
#ifndef IH_ACL_CACHE_H
#define IH_ACL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl/rules.h"

/* Longest topic that is cached (bytes). */
#define ACL_CACHE_TOPIC_MAX 256

struct acl_cache;

/* What a missed lookup learnt, so the following store neither rehashes
 * nor rescans the set. */
struct acl_cache_key {
	uint64_t hash;
	size_t len;        /* SIZE_MAX: not cacheable (too long, or no cache) */
	uint32_t slot;     /* where the store goes */
};

/* MOSQ_ERR_SUCCESS (with *out NULL when max_size or ttl_s is 0) or MOSQ_ERR_NOMEM. */
int acl_cache_new(struct acl_cache **out, uint32_t max_size, uint32_t ttl_s);
void acl_cache_free(struct acl_cache *c);   /* NULL is fine */

/*
 * On a hit store the cached decision in *decision and return true. Always
 * fills *key for a following acl_cache_store of the same access and topic.
 */
bool acl_cache_lookup(struct acl_cache *c, int access, const char *topic, uint32_t now,
		struct acl_cache_key *key, enum acl_decision *decision);

/*
 * Remember `decision` for (access, topic). `key` must come from the lookup
 * that just missed for the same access and topic, with no other call on
 * this cache in between.
 */
void acl_cache_store(struct acl_cache *c, const struct acl_cache_key *key, int access, const char *topic,
		enum acl_decision decision, uint32_t now);

/* Forget every entry (the connection's rules changed). Buffers are kept. */
void acl_cache_clear(struct acl_cache *c);

/* Bytes held by c: the cache block plus every topic buffer. */
size_t acl_cache_memory(const struct acl_cache *c);

/* True while the cache steps aside (see above). */
bool acl_cache_bypassed(const struct acl_cache *c);
/* Stepping aside is on for a new cache; off, it caches whatever happens
 * (the eviction and LRU tests use that). */
void acl_cache_set_adaptive(struct acl_cache *c, bool on);

/* Slots in use and slots in total (for tests and stats). */
size_t acl_cache_used(const struct acl_cache *c);
size_t acl_cache_capacity(const struct acl_cache *c);

#endif
