/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Authentication cache (see auth_cache.h).
 */
#include <string.h>

#include <openssl/crypto.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth_cache.h"
#include "core/slab.h"

struct auth_cache {
	struct ih_strmap map;
	struct ih_lru lru;
	size_t max;
};

bool registry_device_same(const struct ih_device *a, const struct ih_device *b)
{
	if(a == NULL || b == NULL) return a == b;
	return memcmp(a->fingerprint, b->fingerprint, sizeof(a->fingerprint)) == 0;
}

/* The size entry_new asked the pool for. */
static size_t entry_size(const struct auth_cache_entry *e)
{
	return sizeof(*e) + (e->own_key ? e->node.keylen + 1 : 0);
}

static void entry_free(struct auth_cache_entry *e)
{
	struct ih_device *dev = e->dev;

	OPENSSL_cleanse(e->digest, sizeof(e->digest));
	ih_slab_free(e, entry_size(e)); /* before the record: the key may be its */
	registry_device_unref(dev);
}

static void entry_drop(struct auth_cache *c, struct auth_cache_entry *e)
{
	ih_strmap_remove(&c->map, &e->node);
	ih_lru_unlink(&c->lru, &e->lru);
	entry_free(e);
}

int auth_cache_init(struct auth_cache **out, size_t max)
{
	struct auth_cache *c = mosquitto_calloc(1, sizeof(*c));

	if(c == NULL) return -1;
	if(ih_strmap_init(&c->map, mosquitto_calloc, mosquitto_free)){
		mosquitto_free(c);
		return -1;
	}
	/* One entry per device, looked up per connect: half the buckets. */
	ih_strmap_set_max_load(&c->map, 2);
	c->max = max;
	*out = c;
	return 0;
}

void auth_cache_cleanup(struct auth_cache *c)
{
	if(c == NULL) return;
	while(c->lru.tail){
		entry_drop(c, ih_container_of(c->lru.tail, struct auth_cache_entry, lru));
	}
	ih_strmap_cleanup(&c->map);
	mosquitto_free(c);
}

static struct auth_cache_entry *find(const struct auth_cache *c, const char *username)
{
	struct ih_strmap_node *n = ih_strmap_find(&c->map, username, strlen(username));

	return n ? ih_container_of(n, struct auth_cache_entry, node) : NULL;
}

struct auth_cache_entry *auth_cache_get(struct auth_cache *c, const char *username)
{
	struct auth_cache_entry *e = find(c, username);

	if(e) ih_lru_touch(&c->lru, &e->lru);
	return e;
}

/* dev's copy of username, which an entry can borrow as its key, or NULL. */
static const char *lendable_name(const struct ih_device *dev, const char *username)
{
	return dev && dev->username && strcmp(dev->username, username) == 0 ? dev->username : NULL;
}

/* A new entry for username (not in the map), or NULL. */
static struct auth_cache_entry *entry_new(struct auth_cache *c, const char *username, struct ih_device *dev,
		const char *lend, int64_t fetched_ms, int64_t expires_ms)
{
	struct auth_cache_entry *e;
	size_t keylen;

	if(c->max == 0) return NULL;
	while(c->map.count >= c->max && c->lru.tail){
		entry_drop(c, ih_container_of(c->lru.tail, struct auth_cache_entry, lru));
	}
	/* Without a record's copy to borrow, the username lives right after
	 * the entry: one block per device either way. */
	keylen = strlen(username);
	e = ih_slab_alloc(sizeof(*e) + (lend ? 0 : keylen + 1)); /* zeroed; see core/slab.h */
	if(e == NULL) return NULL;
	if(lend == NULL){
		lend = memcpy((char *)(e + 1), username, keylen + 1);
		e->own_key = true;
	}
	registry_device_ref(dev);
	e->dev = dev; /* the entry holds the reference taken above */
	e->fetched_ms = fetched_ms;
	e->expires_ms = expires_ms;
	ih_strmap_insert(&c->map, &e->node, lend, keylen);
	ih_lru_push_head(&c->lru, &e->lru);
	return e;
}

struct auth_cache_entry *auth_cache_put(struct auth_cache *c, const char *username, struct ih_device *dev,
		int64_t fetched_ms, int64_t expires_ms)
{
	struct auth_cache_entry *e = find(c, username);
	const char *lend = lendable_name(dev, username);
	struct ih_device *held = NULL;

	if(e && !e->own_key && lend == NULL){
		/* Its key is the old record's copy and the new answer has none to
		 * lend: start over with an entry that carries its own (the digest
		 * would not survive this change anyway). The old record stays
		 * until the end, in case `username` is its copy. */
		held = e->dev;
		registry_device_ref(held);
		entry_drop(c, e);
		e = NULL;
	}
	if(e){
		/* The old record may go below: move the key to the new one first. */
		if(!e->own_key) ih_strmap_node_move_key(&e->node, lend);
		if(!(e->dev && dev && registry_device_same(e->dev, dev))){
			e->has_digest = false;
			OPENSSL_cleanse(e->digest, sizeof(e->digest));
		}
		registry_device_ref(dev);
		registry_device_unref(e->dev);
		e->dev = dev; /* the entry holds the reference taken above */
		e->fetched_ms = fetched_ms;
		e->expires_ms = expires_ms;
		ih_lru_touch(&c->lru, &e->lru);
		return e;
	}
	e = entry_new(c, username, dev, lend, fetched_ms, expires_ms);
	registry_device_unref(held);
	return e;
}

void auth_cache_remove(struct auth_cache *c, const char *username)
{
	struct auth_cache_entry *e = find(c, username);

	if(e) entry_drop(c, e);
}

size_t auth_cache_count(const struct auth_cache *c)
{
	return c->map.count;
}

bool auth_cache_digest_matches(const struct auth_cache_entry *e, const char *password)
{
	uint8_t d[AUTH_PWDIGEST_LEN];
	bool match;

	if(!e->has_digest || e->dev == NULL) return false;
	if(auth_pwdigest(auth_cache_entry_username(e), password, d)) return false;
	match = auth_pwdigest_equal(d, e->digest);
	OPENSSL_cleanse(d, sizeof(d));
	return match;
}

void auth_cache_digest_set(struct auth_cache_entry *e, const char *password)
{
	e->has_digest = e->dev && auth_pwdigest(auth_cache_entry_username(e), password, e->digest) == 0;
}
