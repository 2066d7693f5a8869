/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * autosub/autosub_index's keyed path (autosub_shape.h): clients that share
 * a key, a client whose filters are partly keyed and partly generic, the
 * tail forms matched by counting levels, heads longer than one word, and
 * shape sets shared and given back.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "autosub/autosub_index.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static struct autosub_index *idx;
static long blocks_at_start;
static size_t empty_bytes;

static void setup(void)
{
	blocks_at_start = stub_mem_live_blocks();
	ck_assert_int_eq(autosub_index_new(&idx, false), MOSQ_ERR_SUCCESS);
	empty_bytes = autosub_index_memory(idx);
}

static void teardown(void)
{
	autosub_index_free(idx);
	idx = NULL;
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}

static void bind1(const char *cid, const char *filter, int qos)
{
	struct autosub_filter f = {(char *)filter, qos};

	ck_assert_int_eq(autosub_index_bind(idx, cid, &f, 1, NULL), MOSQ_ERR_SUCCESS);
}

/* QoS delivered to cid for topic, or -1. */
static int qos_of(const char *topic, const char *cid)
{
	const struct autosub_match *m;
	size_t n = autosub_index_match(idx, topic, &m);

	for(size_t i = 0; i < n; i++){
		if(!strcmp(m[i].client_id, cid)) return m[i].qos;
	}
	return -1;
}

static size_t count(const char *topic)
{
	const struct autosub_match *m;

	return autosub_index_match(idx, topic, &m);
}

START_TEST(test_same_key_many_clients)
{
	struct autosub_index_stats st;

	/* One username, three client ids: one key, three clients on it. */
	bind1("a", "cmd/p1/d1/#", 0);
	bind1("b", "cmd/p1/d1/+", 1);
	bind1("c", "rpc/p1/d1/#", 2);
	bind1("d", "cmd/p1/d2/#", 2);
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.prefixes, 2);   /* distinct keys: p1/d1, p1/d2 */
	ck_assert_uint_eq(count("cmd/p1/d1/x"), 2);
	ck_assert_int_eq(qos_of("cmd/p1/d1/x", "a"), 0);
	ck_assert_int_eq(qos_of("cmd/p1/d1/x", "b"), 1);
	ck_assert_uint_eq(count("cmd/p1/d1/x/y"), 1);
	ck_assert_int_eq(qos_of("rpc/p1/d1/x", "c"), 2);
	/* Whichever is first in the map, the others stay reachable. */
	autosub_index_unbind(idx, "a");
	ck_assert_uint_eq(count("cmd/p1/d1/x"), 1);
	ck_assert_int_eq(qos_of("rpc/p1/d1", "c"), 2);
	autosub_index_unbind(idx, "c");
	ck_assert_int_eq(qos_of("cmd/p1/d1/x", "b"), 1);
	autosub_index_unbind(idx, "b");
	ck_assert_uint_eq(count("cmd/p1/d1/x"), 0);
	ck_assert_int_eq(qos_of("cmd/p1/d2/x", "d"), 2);
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.prefixes, 1);
}
END_TEST

START_TEST(test_keyed_and_generic_one_row)
{
	/* The key is the first filter's (p1/d1); the others are generic. */
	struct autosub_filter fl[] = {
		{"cmd/p1/d1/+/+/+/#", 0}, {"cmd/p1/+/#", 2}, {"tags/p1/t1/cmd/#", 1}, {"#", 1}, {"cmd/#", 1},
	};

	ck_assert_int_eq(autosub_index_bind(idx, "c1", fl, 5, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(count("cmd/p1/d1/a/b/c"), 1);
	ck_assert_int_eq(qos_of("cmd/p1/d1/a/b/c", "c1"), 2);
	ck_assert_int_eq(qos_of("tags/p1/t1/cmd/x", "c1"), 1);
	ck_assert_int_eq(qos_of("zzz", "c1"), 1);
	/* Tracked subscription: excludes the client whatever path matched. */
	ck_assert(autosub_index_note_subscribe(idx, "c1", "cmd/p1/d1/#"));
	ck_assert_uint_eq(count("cmd/p1/d1/a/b/c"), 0);
	ck_assert_int_eq(qos_of("rpc/x", "c1"), 1);
	/* Rebind to keyed only: the tracked subscription survives. */
	bind1("c1", "cmd/p1/d1/+", 1);
	ck_assert_uint_eq(count("cmd/p1/d1/a"), 0);
	autosub_index_note_unsubscribe(idx, "c1", "cmd/p1/d1/#");
	ck_assert_int_eq(qos_of("cmd/p1/d1/a", "c1"), 1);
	ck_assert_uint_eq(count("zzz"), 0);
	autosub_index_unbind(idx, "c1");
	/* Everything but the result buffer (kept for reuse) is given back. */
	ck_assert_uint_eq(autosub_index_memory(idx), empty_bytes + 16 * sizeof(struct autosub_match));
}
END_TEST

START_TEST(test_hold_outlives_empty_list)
{
	/* The tracked list lives in the client's extra, made on demand: a hold
	 * must survive its list emptying, or a subscription made during the
	 * hold would exclude the client before the session is confirmed
	 * (found by fuzz_autosub). */
	bind1("c1", "cmd/p1/d1/#", 1);
	ck_assert(autosub_index_note_subscribe(idx, "c1", "x/#"));
	ck_assert(autosub_index_hold_subscriptions(idx, "c1"));
	autosub_index_note_unsubscribe(idx, "c1", "x/#");
	ck_assert(autosub_index_note_subscribe(idx, "c1", "cmd/p1/d1/#"));
	ck_assert_int_eq(qos_of("cmd/p1/d1/a", "c1"), 1);   /* held: a duplicate rather than a loss */
	autosub_index_confirm_subscriptions(idx, "c1", true);
	ck_assert_int_eq(qos_of("cmd/p1/d1/a", "c1"), -1);
	autosub_index_note_unsubscribe(idx, "c1", "cmd/p1/d1/#");
	ck_assert_int_eq(qos_of("cmd/p1/d1/a", "c1"), 1);
}
END_TEST

START_TEST(test_tail_forms)
{
	bind1("exact", "a/k/k2", 0);             /* tail "" */
	bind1("plus", "b/k/+/+", 1);             /* exactly 2 more levels */
	bind1("hash", "c/k/+/#", 2);             /* at least 1 more level */
	bind1("other", "d/k/+/reply/#", 1);      /* a literal after a wildcard */
	bind1("empty", "/k/+", 1);               /* empty head */
	ck_assert_int_eq(qos_of("a/k/k2", "exact"), 0);
	ck_assert_int_eq(qos_of("a/k/k2/x", "exact"), -1);
	ck_assert_int_eq(qos_of("b/k/x/y", "plus"), 1);
	ck_assert_int_eq(qos_of("b/k//", "plus"), 1);
	ck_assert_int_eq(qos_of("b/k/x", "plus"), -1);
	ck_assert_int_eq(qos_of("b/k/x/y/z", "plus"), -1);
	ck_assert_int_eq(qos_of("c/k/x", "hash"), 2);
	ck_assert_int_eq(qos_of("c/k/x/y/z", "hash"), 2);
	ck_assert_int_eq(qos_of("c/k", "hash"), -1);
	ck_assert_int_eq(qos_of("d/k/x/reply", "other"), 1);
	ck_assert_int_eq(qos_of("d/k/x/reply/y", "other"), 1);
	ck_assert_int_eq(qos_of("d/k/x/other", "other"), -1);
	ck_assert_int_eq(qos_of("/k/x", "empty"), 1);
	ck_assert_int_eq(qos_of("/k", "empty"), -1);
	ck_assert_int_eq(qos_of("k/x", "empty"), -1);
}
END_TEST

START_TEST(test_long_heads)
{
	/* Equal first 7 bytes and length: the word agrees, the bytes decide. */
	bind1("one", "abcdefgh1/k/#", 1);
	bind1("two", "abcdefgh2/k/#", 2);
	bind1("short", "abcdefg/k/#", 0);
	ck_assert_int_eq(qos_of("abcdefgh1/k/x", "one"), 1);
	ck_assert_int_eq(qos_of("abcdefgh1/k/x", "two"), -1);
	ck_assert_int_eq(qos_of("abcdefgh2/k/x", "two"), 2);
	ck_assert_uint_eq(count("abcdefgh3/k/x"), 0);
	ck_assert_int_eq(qos_of("abcdefg/k", "short"), 0);
	ck_assert_uint_eq(count("abcdefg/k"), 1);
}
END_TEST

START_TEST(test_shapes_shared)
{
	char cid[16], f[3][64];
	struct autosub_filter fl[3] = {{f[0], 1}, {f[1], 1}, {f[2], 1}};
	size_t one, hundred;

	for(int i = 0; i < 100; i++){
		snprintf(cid, sizeof(cid), "c%02d", i);
		snprintf(f[0], sizeof(f[0]), "cmd/p1/d%02d/+/+/+/#", i);
		snprintf(f[1], sizeof(f[1]), "rpc/p1/d%02d/+/+/+/#", i);
		snprintf(f[2], sizeof(f[2]), "m2m/p1/d%02d/+/+", i);
		ck_assert_int_eq(autosub_index_bind(idx, cid, fl, 3, NULL), MOSQ_ERR_SUCCESS);
		if(i == 0) one = autosub_index_memory(idx) - empty_bytes;
	}
	hundred = autosub_index_memory(idx) - empty_bytes;
	/* The first client paid for the set; each further one for its record. */
	ck_assert_uint_lt((hundred - one) / 99, 96);
	for(int i = 0; i < 100; i++){
		snprintf(cid, sizeof(cid), "c%02d", i);
		autosub_index_unbind(idx, cid);
	}
	ck_assert_uint_eq(autosub_index_memory(idx), empty_bytes);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("autosub_keyed");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_same_key_many_clients);
	tcase_add_test(tc, test_keyed_and_generic_one_row);
	tcase_add_test(tc, test_hold_outlives_empty_list);
	tcase_add_test(tc, test_tail_forms);
	tcase_add_test(tc, test_long_heads);
	tcase_add_test(tc, test_shapes_shared);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
