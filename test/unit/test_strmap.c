/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * core/strmap: the multimap (equal keys side by side through growth and
 * shrinking, ih_strmap_next_equal) and the dense map's load.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "test/unit/unit_run.h"

struct item {
	struct ih_strmap_node node;
	char key[16];
};

/* Nodes with `key` reachable from the first found, through next_equal. */
static int run_length(const struct ih_strmap *m, const char *key)
{
	int n = 0;

	for(struct ih_strmap_node *x = ih_strmap_find(m, key, strlen(key)); x; x = ih_strmap_next_equal(x)) n++;
	return n;
}

START_TEST(multimap_runs_survive_resizes)
{
	struct ih_strmap m;
	enum { N = 3000, KEYS = 300 };
	struct item *items = calloc(N, sizeof(*items));
	int news = 0;

	ck_assert_int_eq(ih_strmap_init_trusted(&m, calloc, free), 0);
	for(int i = 0; i < N; i++){
		snprintf(items[i].key, sizeof(items[i].key), "k%d", i % KEYS);
		news += ih_strmap_insert_multi(&m, &items[i].node, items[i].key, strlen(items[i].key));
	}
	ck_assert_int_eq(news, KEYS);
	ck_assert_uint_eq(m.count, N);
	for(int k = 0; k < KEYS; k++){
		char key[16];
		snprintf(key, sizeof(key), "k%d", k);
		ck_assert_int_eq(run_length(&m, key), N / KEYS);
	}
	/* Shrink back (remove most), runs still whole. */
	for(int i = 0; i < N; i++){
		if(i % KEYS >= 10) ih_strmap_remove(&m, &items[i].node);
	}
	ck_assert_uint_eq(m.count, 10 * (N / KEYS));
	ck_assert_uint_le(m.mask + 1, 1024);   /* halved from 4096 on the way */
	ck_assert_int_eq(run_length(&m, "k3"), N / KEYS);
	ck_assert_int_eq(run_length(&m, "k30"), 0);
	/* Remove one from the middle of a run. */
	ih_strmap_remove(&m, &items[KEYS * 5 + 3].node);
	ck_assert_int_eq(run_length(&m, "k3"), N / KEYS - 1);
	ih_strmap_cleanup(&m);
	free(items);
}
END_TEST

START_TEST(dense_map_loads_four_per_bucket)
{
	struct ih_strmap m;
	enum { N = 4096 };
	struct item *items = calloc(N, sizeof(*items));

	ck_assert_int_eq(ih_strmap_init_dense(&m, calloc, free), 0);
	for(int i = 0; i < N; i++){
		snprintf(items[i].key, sizeof(items[i].key), "c%d", i);
		ih_strmap_insert(&m, &items[i].node, items[i].key, strlen(items[i].key));
	}
	ck_assert_uint_eq(m.mask + 1, N / 4);
	for(int i = 0; i < N; i++){
		ck_assert_ptr_eq(ih_strmap_find(&m, items[i].key, strlen(items[i].key)), &items[i].node);
	}
	for(int i = 0; i < N; i++) ih_strmap_remove(&m, &items[i].node);
	ck_assert_uint_eq(m.mask + 1, 64);
	ih_strmap_cleanup(&m);
	free(items);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("strmap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, multimap_runs_survive_resizes);
	tcase_add_test(tc, dense_map_loads_four_per_bucket);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
