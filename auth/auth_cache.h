/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The authentication cache: username -> what the registry last said about
 * it (a device record, or "not found"), when it said so, until when that
 * answer may be used without asking again, and a keyed digest of the last
 * password that verified against the record.
 *
 * Bounded by auth_cache_max entries with LRU eviction; lookups are O(1).
 * Presented passwords are never stored, only their keyed digest
 * (pwdigest.h), and a new record with a different fingerprint discards the
 * digest, so a changed secret takes effect on the very next full check.
 * Broker thread only.
 */
#ifndef IH_AUTH_CACHE_H
#define IH_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/device.h"
#include "core/lru.h"
#include "auth/pwdigest.h"
#include "core/strmap.h"

/*
 * One per device known (every connected one at least). The username is the
 * map's key (node.key): the record's own copy when the record carries the
 * same name, which is the rule (no second copy per device), else a copy
 * after the entry, in its block (a "not found" answer, and an entry that
 * once was one, keep theirs: own_key).
 */
struct auth_cache_entry {
	struct ih_strmap_node node;
	struct ih_lru_link lru;
	struct ih_device *dev;     /* one reference; NULL: the registry has no such device */
	int64_t fetched_ms;        /* when the registry's answer was current (monotonic ms) */
	int64_t expires_ms;        /* use without asking the registry until then */
	bool has_digest;
	bool own_key;              /* node.key is the copy after the entry */
	uint8_t digest[AUTH_PWDIGEST_LEN];
};

/* The entry's username. */
static inline const char *auth_cache_entry_username(const struct auth_cache_entry *e)
{
	return e->node.key;
}

struct auth_cache;

/* max == 0 disables caching: puts are dropped. */
int auth_cache_init(struct auth_cache **out, size_t max);
void auth_cache_cleanup(struct auth_cache *c);

/* The entry for username, or NULL; marks it most recently used. The entry
 * stays valid until the next put/remove/cleanup. */
struct auth_cache_entry *auth_cache_get(struct auth_cache *c, const char *username);

/*
 * Record the registry's answer for username: dev (borrowed; the cache takes
 * its own reference) or NULL for "not found", current at fetched_ms and
 * usable until expires_ms. An existing entry is updated in place; its
 * password digest survives only if both old and new records exist and have
 * the same fingerprint. May evict the least recently used entry. Returns
 * the entry, or NULL when caching is off or memory is short.
 */
struct auth_cache_entry *auth_cache_put(struct auth_cache *c, const char *username, struct ih_device *dev,
		int64_t fetched_ms, int64_t expires_ms);

void auth_cache_remove(struct auth_cache *c, const char *username);
size_t auth_cache_count(const struct auth_cache *c);

/* True when password is the one that last verified against e->dev. */
bool auth_cache_digest_matches(const struct auth_cache_entry *e, const char *password);
/* Remember password (as a digest) as verified against e->dev. */
void auth_cache_digest_set(struct auth_cache_entry *e, const char *password);

/* True when the two records are the same as far as auth, ACL and
 * auto-subscription are concerned (both NULL counts as the same). */
bool registry_device_same(const struct ih_device *a, const struct ih_device *b);

#endif
