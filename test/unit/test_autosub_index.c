/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * autosub/autosub_index: bind/rebind/unbind, match, one row per client at the
 * highest QoS, exclusion by the client's own subscriptions, and a match
 * cost that does not grow with the number of clients.
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
	ck_assert_int_eq(autosub_index_new(&idx, true), MOSQ_ERR_SUCCESS);
	empty_bytes = autosub_index_memory(idx);
}

static void teardown(void)
{
	autosub_index_free(idx);
	idx = NULL;
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}

/* Bind the IotHub default set of P/D under client id `cid`. */
static void bind_device(const char *cid, const char *pd, void *owner)
{
	char f[3][128];
	struct autosub_filter fl[3] = {{f[0], 1}, {f[1], 1}, {f[2], 1}};

	snprintf(f[0], sizeof(f[0]), "cmd/%s/+/+/+/#", pd);
	snprintf(f[1], sizeof(f[1]), "rpc/%s/+/+/+/#", pd);
	snprintf(f[2], sizeof(f[2]), "m2m/%s/+/+", pd);
	ck_assert_int_eq(autosub_index_bind(idx, cid, fl, 3, owner), MOSQ_ERR_SUCCESS);
}

static size_t match(const char *topic, const struct autosub_match **m)
{
	return autosub_index_match(idx, topic, m);
}

/* The row of `cid` in the last result, or NULL. */
static const struct autosub_match *row(const struct autosub_match *m, size_t n, const char *cid)
{
	for(size_t i = 0; i < n; i++){
		if(!strcmp(m[i].client_id, cid)) return &m[i];
	}
	return NULL;
}

START_TEST(test_bind_match)
{
	const struct autosub_match *m;
	int owner;
	size_t n;

	bind_device("c1", "p1/d1", &owner);
	bind_device("c2", "p1/d2", NULL);
	n = match("cmd/p1/d1/reboot/json/r1", &m);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(m[0].client_id, "c1");
	ck_assert_ptr_eq(m[0].owner, &owner);
	ck_assert_int_eq(m[0].qos, 1);
	ck_assert_uint_eq(match("cmd/p1/d1/reboot/json/r1/1700000000", &m), 1);
	ck_assert_uint_eq(match("rpc/p1/d2/ping/json/r2", &m), 1);
	ck_assert_str_eq(m[0].client_id, "c2");
	ck_assert_uint_eq(match("m2m/p1/d2/d1/x", &m), 1);
	ck_assert_uint_eq(match("cmd/p1/d1/reboot/json", &m), 0);
	ck_assert_uint_eq(match("cmd/p1/d3/reboot/json/r1", &m), 0);
	ck_assert_uint_eq(match("cmd", &m), 0);
	ck_assert_uint_eq(match("upload_data/p1/d1/t/1", &m), 0);
	ck_assert_uint_eq(autosub_index_clients(idx), 2);
}
END_TEST

START_TEST(test_rebind_unbind)
{
	const struct autosub_match *m;
	struct autosub_filter other[] = {{"inbox/c1/#", 2}};
	struct autosub_index_stats st;

	bind_device("c1", "p1/d1", NULL);
	ck_assert_int_eq(autosub_index_bind(idx, "c1", other, 1, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(match("cmd/p1/d1/reboot/json/r1", &m), 0);
	ck_assert_uint_eq(match("inbox/c1/a", &m), 1);
	ck_assert_int_eq(m[0].qos, 2);
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.clients, 1);
	ck_assert_uint_eq(st.filters, 1);
	ck_assert_uint_eq(st.prefixes, 1);

	autosub_index_unbind(idx, "c1");
	autosub_index_unbind(idx, "c1");
	autosub_index_unbind(idx, "never");
	ck_assert_uint_eq(match("inbox/c1/a", &m), 0);
	ck_assert_uint_eq(autosub_index_clients(idx), 0);
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.filters, 0);
	ck_assert_uint_eq(st.prefixes, 0);
	ck_assert_uint_eq(st.depths, 0);
}
END_TEST

START_TEST(test_bind_nothing_is_unbind)
{
	const struct autosub_match *m;
	struct autosub_filter bad[] = {{"a/#/b", 1}, {"x+", 1}};

	bind_device("c1", "p1/d1", NULL);
	ck_assert_int_eq(autosub_index_bind(idx, "c1", NULL, 0, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(autosub_index_clients(idx), 0);
	bind_device("c1", "p1/d1", NULL);
	ck_assert_int_eq(autosub_index_bind(idx, "c1", bad, 2, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(autosub_index_clients(idx), 0);
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 0);
}
END_TEST

START_TEST(test_dedupe_max_qos)
{
	const struct autosub_match *m;
	struct autosub_filter fl[] = {
		{"cmd/p1/d1/#", 0},
		{"cmd/p1/d1/+/+/+/#", 2},
		{"cmd/+/+/reboot/#", 1},        /* another prefix depth */
		{"cmd/p1/d1/#", 1},             /* duplicate: merged at QoS 1 */
		{"#", 0},                       /* prefix depth 0 */
	};
	size_t n;

	ck_assert_int_eq(autosub_index_bind(idx, "c1", fl, 5, NULL), MOSQ_ERR_SUCCESS);
	n = match("cmd/p1/d1/reboot/json/r1", &m);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(m[0].qos, 2);
	n = match("cmd/p1/d1/x", &m);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(m[0].qos, 1);
	n = match("other/topic", &m);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(m[0].qos, 0);
	ck_assert_uint_eq(match("$SYS/broker/load", &m), 0);   /* the $ rule */
}
END_TEST

START_TEST(test_shared_prefix_many_clients)
{
	const struct autosub_match *m;
	struct autosub_filter tag[] = {{"tags/p1/floor1/cmd/#", 2}};
	char cid[32];

	for(int i = 0; i < 5; i++){
		snprintf(cid, sizeof(cid), "c%d", i);
		ck_assert_int_eq(autosub_index_bind(idx, cid, tag, 1, NULL), MOSQ_ERR_SUCCESS);
	}
	ck_assert_uint_eq(match("tags/p1/floor1/cmd/reboot/json/r1", &m), 5);
	ck_assert_ptr_nonnull(row(m, 5, "c0"));
	ck_assert_ptr_nonnull(row(m, 5, "c4"));
	ck_assert_uint_eq(match("tags/p1/floor2/cmd/reboot/json/r1", &m), 0);
	autosub_index_unbind(idx, "c2");
	ck_assert_uint_eq(match("tags/p1/floor1/cmd/x", &m), 4);
	ck_assert_ptr_null(row(m, 4, "c2"));
	/* The prefix borrows its bytes from one of its filters: unbinding the
	 * filters in either order must leave the others findable. */
	for(int i = 0, left = 4; i < 5; i++){
		if(i == 2) continue;
		snprintf(cid, sizeof(cid), "c%d", i);
		autosub_index_unbind(idx, cid);
		ck_assert_uint_eq(match("tags/p1/floor1/cmd/x", &m), (size_t)--left);
	}
	ck_assert_uint_eq(match("tags/p1/floor1/cmd/x", &m), 0);
}
END_TEST

START_TEST(test_owner)
{
	const struct autosub_match *m;
	int a, b;

	bind_device("c1", "p1/d1", &a);
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 1);
	ck_assert_ptr_eq(m[0].owner, &a);
	/* A successor rebinds the same client id: the old owner's release
	 * must leave the new set alone. */
	bind_device("c1", "p1/d1", &b);
	autosub_index_release(idx, "c1", &a);
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 1);
	ck_assert_ptr_eq(m[0].owner, &b);
	autosub_index_release(idx, "c1", &b);
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 0);
	autosub_index_release(idx, "nobody", &a);
}
END_TEST

START_TEST(test_prefix_edge_cases)
{
	const struct autosub_match *m;
	struct autosub_filter fl[] = {
		{"/+", 1},             /* empty first level */
		{"a/#", 1},            /* matches the parent "a" */
		{"notice/p1/all", 0},  /* no wildcard: the whole filter is the prefix */
		{"+/x", 1},
	};

	ck_assert_int_eq(autosub_index_bind(idx, "c1", fl, 4, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(match("/q", &m), 1);
	ck_assert_uint_eq(match("/q/r", &m), 0);
	ck_assert_uint_eq(match("a", &m), 1);
	ck_assert_uint_eq(match("a/b/c", &m), 1);
	ck_assert_uint_eq(match("ab", &m), 0);
	ck_assert_uint_eq(match("notice/p1/all", &m), 1);
	ck_assert_uint_eq(match("notice/p1/all/x", &m), 0);
	ck_assert_uint_eq(match("notice/p1", &m), 0);
	ck_assert_uint_eq(match("q/x", &m), 1);
	ck_assert_uint_eq(match("$q/x", &m), 0);
	ck_assert_uint_eq(match("", &m), 0);
}
END_TEST

START_TEST(test_excluded_by_own_subscription)
{
	const struct autosub_match *m;
	struct autosub_index_stats st;

	bind_device("c1", "p1/d1", NULL);
	bind_device("c2", "p1/d1", NULL);   /* a second connection of the same device */

	ck_assert(autosub_index_note_subscribe(idx, "c1", "cmd/p1/d1/#"));
	ck_assert(autosub_index_note_subscribe(idx, "c1", "cmd/p1/d1/#"));   /* idempotent */
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.tracked, 1);
	ck_assert_uint_eq(match("cmd/p1/d1/reboot/json/r1", &m), 1);
	ck_assert_str_eq(m[0].client_id, "c2");
	/* Other auto-subscriptions of c1 still deliver. */
	ck_assert_uint_eq(match("rpc/p1/d1/ping/json/r1", &m), 2);

	/* Not tracked: shared, unknown client. */
	ck_assert(!autosub_index_note_subscribe(idx, "c1", "$share/g/rpc/p1/d1/#"));
	ck_assert(!autosub_index_note_subscribe(idx, "nobody", "cmd/#"));
	ck_assert(autosub_index_note_subscribe(idx, "c1", "+/p1/d1/+/+"));   /* overlaps m2m */

	/* Tracked subscriptions survive a rebind (persistent session). */
	bind_device("c1", "p1/d1", NULL);
	ck_assert_uint_eq(match("cmd/p1/d1/reboot/json/r1", &m), 1);

	autosub_index_note_unsubscribe(idx, "c1", "cmd/p1/d1/#");
	ck_assert_uint_eq(match("cmd/p1/d1/reboot/json/r1", &m), 2);
	ck_assert_uint_eq(match("m2m/p1/d1/d2/x", &m), 1);     /* still +/p1/d1/+/+ */
	autosub_index_clear_subscriptions(idx, "c1");
	ck_assert_uint_eq(match("m2m/p1/d1/d2/x", &m), 2);
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.tracked, 0);
}
END_TEST

/* A subscription that overlaps nothing yet is remembered: a later bind (a
 * tag added to the device) may add a filter it overlaps. */
START_TEST(test_subscription_before_overlapping_bind)
{
	const struct autosub_match *m;
	struct autosub_filter before[] = {{"cmd/p1/d1/+/+/+/#", 1}};
	struct autosub_filter after[] = {{"cmd/p1/d1/+/+/+/#", 1}, {"tags/p1/t1/cmd/#", 1}};

	ck_assert_int_eq(autosub_index_bind(idx, "c1", before, 1, NULL), MOSQ_ERR_SUCCESS);
	ck_assert(autosub_index_note_subscribe(idx, "c1", "tags/p1/+/cmd/+/+/+/#"));
	ck_assert_uint_eq(match("tags/p1/t1/cmd/x/plain/1", &m), 0);
	ck_assert_int_eq(autosub_index_bind(idx, "c1", after, 2, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(match("tags/p1/t1/cmd/x/plain/1", &m), 0);   /* the broker delivers */
	ck_assert_uint_eq(match("tags/p1/t1/cmd/x", &m), 1);           /* its filter does not match */
	autosub_index_note_unsubscribe(idx, "c1", "tags/p1/+/cmd/+/+/+/#");
	ck_assert_uint_eq(match("tags/p1/t1/cmd/x/plain/1", &m), 1);
}
END_TEST

/* A resumed session the broker may have dropped: tracked subscriptions
 * do not exclude the client until confirmed; unconfirmed they go. */
START_TEST(test_hold_and_confirm)
{
	const struct autosub_match *m;
	struct autosub_index_stats st;

	bind_device("c1", "p1/d1", NULL);
	ck_assert(!autosub_index_hold_subscriptions(idx, "c1"));     /* nothing tracked */
	ck_assert(autosub_index_note_subscribe(idx, "c1", "cmd/p1/d1/#"));
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 0);
	ck_assert(autosub_index_hold_subscriptions(idx, "c1"));
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 1);            /* duplicate, not loss */
	autosub_index_confirm_subscriptions(idx, "c1", true);
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 0);
	autosub_index_confirm_subscriptions(idx, "c1", false);        /* not held: no-op */
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 0);
	ck_assert(autosub_index_hold_subscriptions(idx, "c1"));
	autosub_index_confirm_subscriptions(idx, "c1", false);
	ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 1);
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.tracked, 0);
	ck_assert(!autosub_index_hold_subscriptions(idx, "nobody"));
	autosub_index_confirm_subscriptions(idx, "nobody", false);
}
END_TEST

/* Full of subscriptions unrelated to its filters, a client still tracks
 * one that overlaps a bound filter. */
START_TEST(test_tracking_full_prefers_overlapping)
{
	const struct autosub_match *m;
	struct autosub_index_stats st;
	struct autosub_filter all[] = {{"cmd/p1/d1/#", 1}};
	char f[64];

	ck_assert_int_eq(autosub_index_bind(idx, "c1", all, 1, NULL), MOSQ_ERR_SUCCESS);
	for(int i = 0; i < AUTOSUB_TRACK_MAX; i++){
		snprintf(f, sizeof(f), "other/%d/#", i);
		ck_assert(autosub_index_note_subscribe(idx, "c1", f));
	}
	ck_assert(!autosub_index_note_subscribe(idx, "c1", "more/unrelated"));
	ck_assert(autosub_index_note_subscribe(idx, "c1", "cmd/p1/d1/x/#"));
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.tracked, AUTOSUB_TRACK_MAX);
	ck_assert_uint_eq(match("cmd/p1/d1/x/y", &m), 0);
	ck_assert_uint_eq(match("cmd/p1/d1/z", &m), 1);
	autosub_index_unbind(idx, "c1");
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.tracked, 0);
}
END_TEST

START_TEST(test_tracking_bounded)
{
	char f[64];
	struct autosub_index_stats st;
	struct autosub_filter all[] = {{"cmd/p1/d1/#", 1}};

	ck_assert_int_eq(autosub_index_bind(idx, "c1", all, 1, NULL), MOSQ_ERR_SUCCESS);
	for(int i = 0; i < AUTOSUB_TRACK_MAX + 10; i++){
		snprintf(f, sizeof(f), "cmd/p1/d1/n%d/#", i);
		ck_assert(autosub_index_note_subscribe(idx, "c1", f) == (i < AUTOSUB_TRACK_MAX));
	}
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.tracked, AUTOSUB_TRACK_MAX);
	autosub_index_unbind(idx, "c1");
	autosub_index_stats(idx, &st);
	ck_assert_uint_eq(st.tracked, 0);
	ck_assert_uint_eq(autosub_index_memory(idx), empty_bytes);
}
END_TEST

START_TEST(test_no_allocation_steady_state)
{
	const struct autosub_match *m;
	long blocks;

	bind_device("c1", "p1/d1", NULL);
	match("cmd/p1/d1/a/b/c", &m);   /* sizes the result buffer */
	blocks = stub_mem_live_blocks();
	for(int i = 0; i < 100; i++){
		ck_assert_uint_eq(match("cmd/p1/d1/a/b/c", &m), 1);
		ck_assert_uint_eq(match("cmd/p9/d9/a/b/c", &m), 0);
	}
	ck_assert_int_eq(stub_mem_live_blocks(), blocks);
}
END_TEST

/* Bind `clients` devices p<i/100>/d<i> (+ a tag for every 1000th) and
 * return the candidates compared for a command to device 7 and for a
 * tag topic. */
static void scale(int clients, size_t *cand_cmd, size_t *cand_tag, size_t *bytes_per_client)
{
	const struct autosub_match *m;
	struct autosub_index_stats st;
	char cid[32], pd[32], f[4][96];

	for(int i = 0; i < clients; i++){
		struct autosub_filter fl[4] = {{f[0], 1}, {f[1], 1}, {f[2], 1}, {f[3], 1}};
		size_t n = 3;

		snprintf(cid, sizeof(cid), "client-%d", i);
		snprintf(pd, sizeof(pd), "p%d/d%d", i / 100, i);
		snprintf(f[0], sizeof(f[0]), "cmd/%s/+/+/+/#", pd);
		snprintf(f[1], sizeof(f[1]), "rpc/%s/+/+/+/#", pd);
		snprintf(f[2], sizeof(f[2]), "m2m/%s/+/+", pd);
		if(i % 1000 == 7){
			snprintf(f[3], sizeof(f[3]), "tags/p%d/floor1/cmd/#", i / 100);
			n = 4;
		}
		ck_assert_int_eq(autosub_index_bind(idx, cid, fl, n, NULL), MOSQ_ERR_SUCCESS);
	}
	ck_assert_uint_eq(autosub_index_clients(idx), (size_t)clients);
	ck_assert_uint_eq(match("cmd/p0/d7/reboot/json/r1", &m), 1);
	ck_assert_str_eq(m[0].client_id, "client-7");
	autosub_index_stats(idx, &st);
	*cand_cmd = st.last_candidates;
	ck_assert_uint_eq(match("tags/p0/floor1/cmd/reboot/json/r1", &m), 1);
	autosub_index_stats(idx, &st);
	*cand_tag = st.last_candidates;
	*bytes_per_client = (st.bytes - empty_bytes) / (size_t)clients;
}

START_TEST(test_match_cost_independent_of_clients)
{
	size_t small_cmd, small_tag, big_cmd, big_tag, small_b, big_b;

	scale(10, &small_cmd, &small_tag, &small_b);
	autosub_index_free(idx);
	ck_assert_int_eq(autosub_index_new(&idx, true), MOSQ_ERR_SUCCESS);
	scale(10000, &big_cmd, &big_tag, &big_b);
	ck_assert_uint_eq(small_cmd, 1);
	ck_assert_uint_eq(big_cmd, small_cmd);
	ck_assert_uint_eq(big_tag, small_tag);
	ck_assert_uint_le(big_b, 1024);
	fprintf(stderr, "autosub_index: %zu bytes per client at 10,000 clients (%zu at 10)\n", big_b, small_b);
}
END_TEST

START_TEST(test_memory_returns_to_empty)
{
	char cid[32], pd[32];

	for(int i = 0; i < 500; i++){
		snprintf(cid, sizeof(cid), "c%d", i);
		snprintf(pd, sizeof(pd), "p1/d%d", i);
		bind_device(cid, pd, NULL);
	}
	ck_assert_uint_gt(autosub_index_memory(idx), empty_bytes);
	for(int i = 0; i < 500; i++){
		snprintf(cid, sizeof(cid), "c%d", i);
		autosub_index_unbind(idx, cid);
	}
	/* The bucket arrays shrink back to their initial size. */
	ck_assert_uint_eq(autosub_index_memory(idx), empty_bytes);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("autosub_index");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bind_match);
	tcase_add_test(tc, test_rebind_unbind);
	tcase_add_test(tc, test_bind_nothing_is_unbind);
	tcase_add_test(tc, test_dedupe_max_qos);
	tcase_add_test(tc, test_shared_prefix_many_clients);
	tcase_add_test(tc, test_owner);
	tcase_add_test(tc, test_prefix_edge_cases);
	tcase_add_test(tc, test_excluded_by_own_subscription);
	tcase_add_test(tc, test_tracking_bounded);
	tcase_add_test(tc, test_subscription_before_overlapping_bind);
	tcase_add_test(tc, test_tracking_full_prefers_overlapping);
	tcase_add_test(tc, test_hold_and_confirm);
	tcase_add_test(tc, test_no_allocation_steady_state);
	tcase_add_test(tc, test_match_cost_independent_of_clients);
	tcase_add_test(tc, test_memory_returns_to_empty);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
