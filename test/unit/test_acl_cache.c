/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * acl/acl_cache: hit, miss, TTL, eviction, clear, bounds, and no
 * allocation on a hit.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/acl_cache.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

#define W MOSQ_ACL_WRITE
#define R MOSQ_ACL_READ

static long blocks_at_start;

static void setup(void)
{
	blocks_at_start = stub_mem_live_blocks();
}

static void teardown(void)
{
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}

static bool lookup(struct acl_cache *c, int access, const char *topic, uint32_t now, enum acl_decision *d)
{
	struct acl_cache_key key;
	return acl_cache_lookup(c, access, topic, now, &key, d);
}

static void store(struct acl_cache *c, int access, const char *topic, enum acl_decision d, uint32_t now)
{
	struct acl_cache_key key;
	enum acl_decision ignored;

	ck_assert(!acl_cache_lookup(c, access, topic, now, &key, &ignored));
	acl_cache_store(c, &key, access, topic, d, now);
}

START_TEST(test_hit_miss)
{
	struct acl_cache *c;
	enum acl_decision d = ACL_NOMATCH;

	ck_assert_int_eq(acl_cache_new(&c, 32, 60), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(acl_cache_capacity(c), 32);
	ck_assert(!lookup(c, W, "a/b", 100, &d));
	store(c, W, "a/b", ACL_ALLOW, 100);
	store(c, R, "a/b", ACL_DENY, 100);
	ck_assert(lookup(c, W, "a/b", 101, &d));
	ck_assert_int_eq(d, ACL_ALLOW);
	ck_assert(lookup(c, R, "a/b", 101, &d));
	ck_assert_int_eq(d, ACL_DENY);
	/* Same hash input, different bytes: never confused. */
	ck_assert(!lookup(c, W, "a/c", 101, &d));
	ck_assert(!lookup(c, W, "a/b/", 101, &d));
	ck_assert(!lookup(c, W, "a", 101, &d));
	ck_assert(!lookup(c, MOSQ_ACL_SUBSCRIBE, "a/b", 101, &d));
	ck_assert_uint_eq(acl_cache_used(c), 2);
	acl_cache_free(c);
}
END_TEST

START_TEST(test_no_allocation_on_hit)
{
	struct acl_cache *c;
	enum acl_decision d;
	long blocks;

	ck_assert_int_eq(acl_cache_new(&c, 32, 60), MOSQ_ERR_SUCCESS);
	store(c, W, "upload_data/p1/d1/temp/1", ACL_ALLOW, 10);
	blocks = stub_mem_live_blocks();
	for(int i = 0; i < 1000; i++){
		ck_assert(lookup(c, W, "upload_data/p1/d1/temp/1", 10, &d));
	}
	ck_assert_int_eq(stub_mem_live_blocks(), blocks);
	/* A store into a slot whose buffer fits does not allocate either. */
	store(c, R, "upload_data/p1/d1/temp/2", ACL_ALLOW, 10);
	blocks = stub_mem_live_blocks();
	acl_cache_clear(c);
	store(c, W, "upload_data/p1/d1/temp/1", ACL_DENY, 10);
	store(c, R, "upload_data/p1/d1/temp/2", ACL_DENY, 10);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks);
	acl_cache_free(c);
}
END_TEST

START_TEST(test_ttl)
{
	struct acl_cache *c;
	enum acl_decision d;

	ck_assert_int_eq(acl_cache_new(&c, 8, 60), MOSQ_ERR_SUCCESS);
	store(c, W, "t", ACL_ALLOW, 1000);
	ck_assert(lookup(c, W, "t", 1000, &d));
	ck_assert(lookup(c, W, "t", 1059, &d));
	ck_assert(!lookup(c, W, "t", 1060, &d));
	/* Stored again after expiry: refreshed in place, not duplicated. */
	store(c, W, "t", ACL_DENY, 1060);
	ck_assert(lookup(c, W, "t", 1061, &d));
	ck_assert_int_eq(d, ACL_DENY);
	ck_assert_uint_eq(acl_cache_used(c), 1);
	acl_cache_free(c);
}
END_TEST

START_TEST(test_disabled)
{
	struct acl_cache *c = (void *)1;
	struct acl_cache_key key;
	enum acl_decision d;

	ck_assert_int_eq(acl_cache_new(&c, 0, 60), MOSQ_ERR_SUCCESS);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(acl_cache_new(&c, 32, 0), MOSQ_ERR_SUCCESS);
	ck_assert_ptr_null(c);
	ck_assert(!acl_cache_lookup(NULL, W, "a", 1, &key, &d));
	acl_cache_store(NULL, &key, W, "a", ACL_ALLOW, 1);
	acl_cache_clear(NULL);
	acl_cache_free(NULL);
	ck_assert_uint_eq(acl_cache_memory(NULL), 0);
}
END_TEST

START_TEST(test_eviction_bounded)
{
	struct acl_cache *c;
	enum acl_decision d;
	char topic[64];
	size_t mem_full;
	int hits = 0;

	ck_assert_int_eq(acl_cache_new(&c, 32, 60), MOSQ_ERR_SUCCESS);
	acl_cache_set_adaptive(c, false);   /* churn on purpose: no stepping aside */
	for(int i = 0; i < 1000; i++){
		snprintf(topic, sizeof(topic), "upload_data/p1/d1/temp/%d", i);
		store(c, W, topic, ACL_ALLOW, 5);
	}
	ck_assert_uint_le(acl_cache_used(c), 32);
	ck_assert_uint_ge(acl_cache_used(c), 24);
	mem_full = acl_cache_memory(c);
	for(int i = 1000; i < 3000; i++){
		snprintf(topic, sizeof(topic), "upload_data/p1/d1/temp/%d", i);
		store(c, W, topic, ACL_ALLOW, 5);
	}
	ck_assert_uint_eq(acl_cache_memory(c), mem_full);   /* buffers reused */
	/* The most recent ones survive. */
	for(int i = 2990; i < 3000; i++){
		snprintf(topic, sizeof(topic), "upload_data/p1/d1/temp/%d", i);
		hits += lookup(c, W, topic, 5, &d);
	}
	ck_assert_int_ge(hits, 8);
	acl_cache_free(c);
}
END_TEST

/* A cache that misses steps aside, answers at once, then probes again;
 * one that hits never does. */
START_TEST(test_steps_aside_when_useless)
{
	struct acl_cache *c;
	enum acl_decision d;
	char topic[64];
	int hits = 0, stored_while_bypassed = 0;

	ck_assert_int_eq(acl_cache_new(&c, 32, 60), MOSQ_ERR_SUCCESS);
	/* Repeating topics: three quarters hit, the cache stays. */
	for(int i = 0; i < 1000; i++){
		snprintf(topic, sizeof(topic), "sensors/p1/d1/%d", i % 4 == 0 ? i : 1);
		if(!lookup(c, W, topic, 5, &d)) store(c, W, topic, ACL_ALLOW, 5);
		ck_assert(!acl_cache_bypassed(c));
	}
	/* IotHub-style unique topics: after one probe window it steps aside. */
	for(int i = 0; i < 128 && !acl_cache_bypassed(c); i++){
		snprintf(topic, sizeof(topic), "upload_data/p1/d1/temp/%d", i);
		store(c, W, topic, ACL_ALLOW, 5);
	}
	ck_assert(acl_cache_bypassed(c));
	/* Bypassed: a store is dropped, so even a repeat misses; nothing is
	 * allocated either. */
	{
		long blocks = stub_mem_live_blocks();
		store(c, W, "a/very/long/topic/that/needs/a/bigger/buffer/than/before/0123456789", ACL_DENY, 5);
		stored_while_bypassed += lookup(c, W, "a/very/long/topic/that/needs/a/bigger/buffer/than/before/0123456789", 5, &d);
		ck_assert_int_eq(stub_mem_live_blocks(), blocks);
	}
	ck_assert_int_eq(stored_while_bypassed, 0);
	/* After the pause it probes again and, with hits, comes back. */
	{
		int n = 0;
		while(acl_cache_bypassed(c) && n < 2000){
			ck_assert(!lookup(c, W, "x", 5, &d));
			n++;
		}
		ck_assert_int_le(n, 1024);
	}
	ck_assert(!acl_cache_bypassed(c));
	store(c, W, "sensors/p1/d1/1", ACL_ALLOW, 5);
	for(int i = 0; i < 64; i++) hits += lookup(c, W, "sensors/p1/d1/1", 5, &d);
	ck_assert_int_eq(hits, 64);
	ck_assert(!acl_cache_bypassed(c));
	acl_cache_free(c);
}
END_TEST

START_TEST(test_lru_within_set)
{
	/* Capacity 4: one set, so eviction order is observable. */
	struct acl_cache *c;
	enum acl_decision d;

	ck_assert_int_eq(acl_cache_new(&c, 4, 60), MOSQ_ERR_SUCCESS);
	store(c, W, "a", ACL_ALLOW, 1);
	store(c, W, "b", ACL_ALLOW, 1);
	store(c, W, "c", ACL_ALLOW, 1);
	store(c, W, "d", ACL_ALLOW, 1);
	ck_assert(lookup(c, W, "a", 2, &d));   /* a is now the most recent */
	store(c, W, "e", ACL_ALLOW, 2);        /* evicts b */
	ck_assert(lookup(c, W, "a", 2, &d));
	ck_assert(!lookup(c, W, "b", 2, &d));
	ck_assert(lookup(c, W, "c", 2, &d));
	ck_assert(lookup(c, W, "e", 2, &d));
	acl_cache_free(c);
}
END_TEST

START_TEST(test_expired_evicted_first)
{
	struct acl_cache *c;
	enum acl_decision d;

	ck_assert_int_eq(acl_cache_new(&c, 2, 10), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(acl_cache_capacity(c), 2);
	store(c, W, "old", ACL_ALLOW, 1);
	store(c, W, "new", ACL_ALLOW, 8);
	ck_assert(lookup(c, W, "old", 9, &d));   /* old is most recently used */
	store(c, W, "third", ACL_ALLOW, 12);     /* old expired at 11: evicted first */
	ck_assert(lookup(c, W, "new", 12, &d));
	ck_assert(lookup(c, W, "third", 12, &d));
	acl_cache_free(c);
}
END_TEST

START_TEST(test_clear)
{
	struct acl_cache *c;
	enum acl_decision d;
	size_t mem;

	ck_assert_int_eq(acl_cache_new(&c, 16, 60), MOSQ_ERR_SUCCESS);
	store(c, W, "a/b", ACL_ALLOW, 1);
	store(c, R, "c/d", ACL_DENY, 1);
	mem = acl_cache_memory(c);
	acl_cache_clear(c);
	ck_assert_uint_eq(acl_cache_used(c), 0);
	ck_assert(!lookup(c, W, "a/b", 1, &d));
	ck_assert(!lookup(c, R, "c/d", 1, &d));
	ck_assert_uint_eq(acl_cache_memory(c), mem);
	acl_cache_free(c);
}
END_TEST

START_TEST(test_long_topics_not_cached)
{
	struct acl_cache *c;
	struct acl_cache_key key;
	enum acl_decision d;
	char topic[ACL_CACHE_TOPIC_MAX + 2];
	size_t mem;

	ck_assert_int_eq(acl_cache_new(&c, 8, 60), MOSQ_ERR_SUCCESS);
	store(c, W, "a", ACL_ALLOW, 1);   /* the slots exist from the first store */
	mem = acl_cache_memory(c);
	memset(topic, 'x', sizeof(topic));
	topic[ACL_CACHE_TOPIC_MAX + 1] = '\0';
	ck_assert(!acl_cache_lookup(c, W, topic, 1, &key, &d));
	ck_assert_uint_eq(key.len, SIZE_MAX);
	acl_cache_store(c, &key, W, topic, ACL_ALLOW, 1);
	ck_assert(!lookup(c, W, topic, 1, &d));
	ck_assert_uint_eq(acl_cache_memory(c), mem);
	topic[ACL_CACHE_TOPIC_MAX] = '\0';       /* exactly the cap: cached */
	store(c, W, topic, ACL_ALLOW, 1);
	ck_assert(lookup(c, W, topic, 1, &d));
	ck_assert_uint_le(acl_cache_memory(c), mem + ACL_CACHE_TOPIC_MAX + 32);
	acl_cache_free(c);
}
END_TEST

START_TEST(test_memory_figure)
{
	struct acl_cache *c;
	char topic[64];
	size_t empty;

	ck_assert_int_eq(acl_cache_new(&c, 32, 60), MOSQ_ERR_SUCCESS);
	empty = acl_cache_memory(c);
	ck_assert_uint_le(empty, 128);            /* an idle connection: no slots yet */
	for(int i = 0; i < 100; i++){
		snprintf(topic, sizeof(topic), "cmd/p1/d1/reboot/json/%d", i);
		store(c, R, topic, ACL_ALLOW, 1);
	}
	/* 32 slots of at most 48 bytes, each with a 32-byte topic buffer. */
	ck_assert_uint_le(acl_cache_memory(c), empty + 32 * (48 + 32));
	acl_cache_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_cache");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hit_miss);
	tcase_add_test(tc, test_no_allocation_on_hit);
	tcase_add_test(tc, test_ttl);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_eviction_bounded);
	tcase_add_test(tc, test_steps_aside_when_useless);
	tcase_add_test(tc, test_lru_within_set);
	tcase_add_test(tc, test_expired_evicted_first);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_long_topics_not_cached);
	tcase_add_test(tc, test_memory_figure);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
