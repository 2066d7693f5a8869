/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* Auth cache (auth/auth_cache.c), its hash map (core/strmap.c) and the password digest (auth/pwdigest.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "auth/auth_cache.h"
#include "registry/device.h"
#include "auth/pwdigest.h"
#include "core/slab.h"
#include "core/strmap.h"
#include "core/config.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static struct ih_config cfg;
static long blocks_at_start;

static void setup(void)
{
	ck_assert_int_eq(ih_config_parse(&cfg, NULL, 0), 0);
	blocks_at_start = stub_mem_live_blocks();
}

static void teardown(void)
{
	ih_config_cleanup(&cfg);
}

static struct ih_device *mkdev(const char *user, const char *secret, const char *status)
{
	bson_t *doc = bson_new();
	struct ih_device *dev = NULL;
	char err[128];

	BSON_APPEND_UTF8(doc, "broker_username", user);
	BSON_APPEND_UTF8(doc, "secret", secret);
	if(status) BSON_APPEND_UTF8(doc, "status", status);
	ck_assert_int_eq(registry_device_decode(doc, NULL, &cfg, &dev, err, sizeof(err)), 0);
	bson_destroy(doc);
	return dev;
}

/* SipHash-2-4 reference vectors (Aumasson & Bernstein): key 00..0f, message 00..len-1. */
START_TEST(siphash_vectors)
{
	uint8_t key[16], msg[64];

	for(int i = 0; i < 16; i++) key[i] = (uint8_t)i;
	for(int i = 0; i < 64; i++) msg[i] = (uint8_t)i;
	ck_assert_uint_eq(ih_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
	ck_assert_uint_eq(ih_siphash24(key, msg, 1), 0x74f839c593dc67fdULL);
	ck_assert_uint_eq(ih_siphash24(key, msg, 8), 0x93f5f5799a932462ULL);
	ck_assert_uint_eq(ih_siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
	ck_assert_uint_eq(ih_siphash24(key, msg, 63), 0x958a324ceb064572ULL);
	/* SipHash-1-3 on the same inputs, from a reference model of the
	 * algorithm that reproduces the 2-4 vectors above. */
	ck_assert_uint_eq(ih_siphash13(key, msg, 0), 0xabac0158050fc4dcULL);
	ck_assert_uint_eq(ih_siphash13(key, msg, 1), 0xc9f49bf37d57ca93ULL);
	ck_assert_uint_eq(ih_siphash13(key, msg, 8), 0x369095118d299a8eULL);
	ck_assert_uint_eq(ih_siphash13(key, msg, 15), 0xd320d86d2a519956ULL);
	ck_assert_uint_eq(ih_siphash13(key, msg, 63), 0x9d199062b7bbb3a8ULL);
}
END_TEST

struct item {
	struct ih_strmap_node node;
	char key[16];
};

START_TEST(strmap_grows_and_finds)
{
	struct ih_strmap m;
	enum { N = 5000 };
	struct item *items = calloc(N, sizeof(*items));

	ck_assert_int_eq(ih_strmap_init(&m, calloc, free), 0);
	for(int i = 0; i < N; i++){
		snprintf(items[i].key, sizeof(items[i].key), "k%d", i);
		ih_strmap_insert(&m, &items[i].node, items[i].key, strlen(items[i].key));
	}
	ck_assert_uint_eq(m.count, N);
	ck_assert_uint_ge(m.mask + 1, N);
	for(int i = 0; i < N; i++){
		ck_assert_ptr_eq(ih_strmap_find(&m, items[i].key, strlen(items[i].key)), &items[i].node);
	}
	ck_assert_ptr_null(ih_strmap_find(&m, "nope", 4));
	ck_assert_ptr_null(ih_strmap_find(&m, "k1", 1));
	for(int i = 0; i < N; i += 2) ih_strmap_remove(&m, &items[i].node);
	ck_assert_uint_eq(m.count, N / 2);
	ck_assert_ptr_null(ih_strmap_find(&m, "k0", 2));
	ck_assert_ptr_nonnull(ih_strmap_find(&m, "k1", 2));
	ih_strmap_cleanup(&m);
	free(items);
}
END_TEST

START_TEST(positive_and_negative)
{
	struct auth_cache *c;
	struct auth_cache_entry *e;
	struct ih_device *dev = mkdev("p/d", "s", NULL);

	ck_assert_int_eq(auth_cache_init(&c, 10), 0);
	ck_assert_ptr_null(auth_cache_get(c, "p/d"));
	e = auth_cache_put(c, "p/d", dev, 1000, 61000);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(dev->refcount, 2);
	ck_assert_ptr_eq(auth_cache_get(c, "p/d"), e);
	ck_assert_int_eq(e->fetched_ms, 1000);
	ck_assert_int_eq(e->expires_ms, 61000);
	ck_assert_ptr_eq(e->dev, dev);

	e = auth_cache_put(c, "p/x", NULL, 2000, 7000);
	ck_assert_ptr_null(e->dev);
	ck_assert_uint_eq(auth_cache_count(c), 2);

	/* Record deleted: the positive entry turns negative and drops its reference. */
	e = auth_cache_put(c, "p/d", NULL, 3000, 8000);
	ck_assert_ptr_null(e->dev);
	ck_assert_int_eq(dev->refcount, 1);
	ck_assert_uint_eq(auth_cache_count(c), 2);
	auth_cache_remove(c, "p/x");
	auth_cache_remove(c, "p/x");
	ck_assert_uint_eq(auth_cache_count(c), 1);
	auth_cache_cleanup(c);
	registry_device_unref(dev);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(lru_eviction)
{
	struct auth_cache *c;
	struct ih_device *dev = mkdev("p/d", "s", NULL);
	char name[32];

	ck_assert_int_eq(auth_cache_init(&c, 3), 0);
	auth_cache_put(c, "p/a", dev, 0, 1);
	auth_cache_put(c, "p/b", dev, 0, 1);
	auth_cache_put(c, "p/c", dev, 0, 1);
	ck_assert_ptr_nonnull(auth_cache_get(c, "p/a"));   /* a is now most recent */
	auth_cache_put(c, "p/d", dev, 0, 1);               /* evicts b */
	ck_assert_uint_eq(auth_cache_count(c), 3);
	ck_assert_ptr_null(auth_cache_get(c, "p/b"));
	ck_assert_ptr_nonnull(auth_cache_get(c, "p/a"));
	ck_assert_ptr_nonnull(auth_cache_get(c, "p/c"));
	ck_assert_ptr_nonnull(auth_cache_get(c, "p/d"));
	/* Updating an entry refreshes it too. */
	auth_cache_put(c, "p/a", dev, 5, 6);
	auth_cache_put(c, "p/e", dev, 0, 1);               /* evicts c */
	ck_assert_ptr_null(auth_cache_get(c, "p/c"));
	ck_assert_ptr_nonnull(auth_cache_get(c, "p/a"));
	for(int i = 0; i < 1000; i++){
		snprintf(name, sizeof(name), "p/n%d", i);
		auth_cache_put(c, name, i % 2 ? dev : NULL, 0, 1);
	}
	ck_assert_uint_eq(auth_cache_count(c), 3);
	ck_assert_int_eq(dev->refcount, 3);   /* p/n997 and p/n999 hold one each */
	auth_cache_cleanup(c);
	ck_assert_int_eq(dev->refcount, 1);
	registry_device_unref(dev);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(disabled_cache)
{
	struct auth_cache *c;
	struct ih_device *dev = mkdev("p/d", "s", NULL);

	ck_assert_int_eq(auth_cache_init(&c, 0), 0);
	ck_assert_ptr_null(auth_cache_put(c, "p/d", dev, 0, 1));
	ck_assert_uint_eq(auth_cache_count(c), 0);
	ck_assert_int_eq(dev->refcount, 1);
	auth_cache_cleanup(c);
	registry_device_unref(dev);
}
END_TEST

START_TEST(digest_semantics)
{
	struct auth_cache *c;
	struct auth_cache_entry *e;
	struct ih_device *v1 = mkdev("p/d", "s1", NULL);
	struct ih_device *v1_again = mkdev("p/d", "s1", NULL);
	struct ih_device *v2 = mkdev("p/d", "s2", NULL);
	struct ih_device *suspended = mkdev("p/d", "s1", "suspended");

	ck_assert_int_eq(auth_cache_init(&c, 10), 0);
	e = auth_cache_put(c, "p/d", v1, 0, 1000);
	ck_assert(!auth_cache_digest_matches(e, "s1"));
	auth_cache_digest_set(e, "s1");
	ck_assert(e->has_digest);
	ck_assert(auth_cache_digest_matches(e, "s1"));
	ck_assert(!auth_cache_digest_matches(e, "s2"));
	ck_assert(!auth_cache_digest_matches(e, "s1 "));
	ck_assert(!auth_cache_digest_matches(e, ""));

	/* The password itself is nowhere in the entry. */
	ck_assert_ptr_null(memmem(e, sizeof(*e), "s1", 2));

	/* Same record refetched (new object, same fingerprint): digest kept. */
	e = auth_cache_put(c, "p/d", v1_again, 10, 2000);
	ck_assert(auth_cache_digest_matches(e, "s1"));
	/* New secret: digest gone, even for the old password. */
	e = auth_cache_put(c, "p/d", v2, 20, 3000);
	ck_assert(!e->has_digest);
	ck_assert(!auth_cache_digest_matches(e, "s1"));
	auth_cache_digest_set(e, "s2");
	/* Status change: digest gone. */
	e = auth_cache_put(c, "p/d", suspended, 30, 4000);
	ck_assert(!auth_cache_digest_matches(e, "s2"));
	/* Deleted, then back with the same record: no digest survives the gap. */
	e = auth_cache_put(c, "p/d", v1, 40, 5000);
	auth_cache_digest_set(e, "s1");
	e = auth_cache_put(c, "p/d", NULL, 50, 6000);
	ck_assert(!auth_cache_digest_matches(e, "s1"));
	auth_cache_digest_set(e, "s1");   /* nothing to verify against: refused */
	ck_assert(!e->has_digest);
	e = auth_cache_put(c, "p/d", v1, 60, 7000);
	ck_assert(!auth_cache_digest_matches(e, "s1"));

	auth_cache_cleanup(c);
	registry_device_unref(v1);
	registry_device_unref(v1_again);
	registry_device_unref(v2);
	registry_device_unref(suspended);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

/* The key is the record's copy of the username when it has one, else the
 * entry's own: every change between the two keeps the entry findable, and
 * no key outlives the record it points into (ASan: make asan). */
START_TEST(key_follows_the_record)
{
	struct auth_cache *c;
	struct auth_cache_entry *e;
	struct ih_device *d1 = mkdev("p/k", "s1", NULL), *d2 = mkdev("p/k", "s2", NULL);
	char name[8];

	ck_assert_int_eq(auth_cache_init(&c, 10), 0);
	strcpy(name, "p/k");
	e = auth_cache_put(c, name, d1, 1, 2);
	ck_assert(!e->own_key);
	ck_assert_ptr_eq(auth_cache_entry_username(e), d1->username);
	memset(name, 'x', 3); /* the caller's string is not kept */
	ck_assert_ptr_eq(auth_cache_get(c, "p/k"), e);

	/* A new record: the key moves to its copy before the old one goes. */
	registry_device_unref(d1);
	e = auth_cache_put(c, "p/k", d2, 3, 4);
	ck_assert_ptr_eq(auth_cache_entry_username(e), d2->username);
	ck_assert_int_eq(d2->refcount, 2);

	/* Deleted: nothing to borrow, so the entry is rebuilt with its own. */
	e = auth_cache_put(c, d2->username, NULL, 5, 6);
	ck_assert(e->own_key);
	ck_assert_int_eq(d2->refcount, 1);
	ck_assert_str_eq(auth_cache_entry_username(e), "p/k");
	ck_assert_ptr_eq(auth_cache_get(c, "p/k"), e);
	ck_assert_uint_eq(auth_cache_count(c), 1);

	/* Back again: it keeps its own copy. */
	e = auth_cache_put(c, "p/k", d2, 7, 8);
	ck_assert(e->own_key);
	ck_assert_ptr_eq(e->dev, d2);
	ck_assert_ptr_eq(auth_cache_get(c, "p/k"), e);
	auth_cache_cleanup(c);
	registry_device_unref(d2);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

/* A decoded record is one block (registry/device.c device_pack). */
START_TEST(record_is_one_block)
{
	bson_t *doc = bson_new(), tags;
	struct ih_device *dev = NULL;
	char err[128];
	long before = stub_mem_live_blocks();
	size_t pooled = ih_slab_live();

	BSON_APPEND_UTF8(doc, "broker_username", "p/one");
	BSON_APPEND_UTF8(doc, "secret", "sec");
	BSON_APPEND_UTF8(doc, "status", "active");
	BSON_APPEND_ARRAY_BEGIN(doc, "tags", &tags);
	BSON_APPEND_UTF8(&tags, "0", "t1");
	BSON_APPEND_UTF8(&tags, "1", "t22");
	bson_append_array_end(doc, &tags);
	ck_assert_int_eq(registry_device_decode(doc, NULL, &cfg, &dev, err, sizeof(err)), 0);
	bson_destroy(doc);
	ck_assert(dev->packed);
	ck_assert_uint_eq(ih_slab_live(), pooled + 1);
	ck_assert_str_eq(dev->username, "p/one");
	ck_assert_uint_eq(dev->product_len, 1);
	ck_assert_str_eq(dev->secret, "sec");
	ck_assert_ptr_null(dev->password_hash);
	ck_assert_str_eq(dev->status, "active");
	ck_assert(dev->active);
	ck_assert_uint_eq(dev->tags.count, 2);
	ck_assert_str_eq(dev->tags.items[0], "t1");
	ck_assert_str_eq(dev->tags.items[1], "t22");
	registry_device_unref(dev);
	ck_assert_uint_eq(ih_slab_live(), pooled);
	ck_assert_int_eq(stub_mem_live_blocks(), before); /* the pool's chunk went with the last block */
}
END_TEST

START_TEST(digest_binds_username)
{
	uint8_t a[AUTH_PWDIGEST_LEN], b[AUTH_PWDIGEST_LEN], c[AUTH_PWDIGEST_LEN];

	ck_assert_int_eq(auth_pwdigest("p/d1", "pw", a), 0);
	ck_assert_int_eq(auth_pwdigest("p/d2", "pw", b), 0);
	ck_assert_int_eq(auth_pwdigest("p/d1", "pw", c), 0);
	ck_assert(!auth_pwdigest_equal(a, b));
	ck_assert(auth_pwdigest_equal(a, c));
	/* A new key (after cleanup) makes old digests useless. */
	auth_pwdigest_cleanup();
	ck_assert_int_eq(auth_pwdigest("p/d1", "pw", c), 0);
	ck_assert(!auth_pwdigest_equal(a, c));
	auth_pwdigest_cleanup();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth_cache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, siphash_vectors);
	tcase_add_test(tc, strmap_grows_and_finds);
	tcase_add_test(tc, positive_and_negative);
	tcase_add_test(tc, lru_eviction);
	tcase_add_test(tc, disabled_cache);
	tcase_add_test(tc, digest_semantics);
	tcase_add_test(tc, key_follows_the_record);
	tcase_add_test(tc, record_is_one_block);
	tcase_add_test(tc, digest_binds_username);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
