/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* The small-object pool (core/slab.c). */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "core/slab.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

START_TEST(reuse_zero_and_release)
{
	long blocks = stub_mem_live_blocks();
	char *a = ih_slab_alloc(200), *b = ih_slab_alloc(193), *c;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* 193..208 bytes share a class: 16-byte aligned, 208 bytes apart. */
	ck_assert_uint_eq((uintptr_t)a % 16, 0);
	ck_assert_uint_eq((uintptr_t)b % 16, 0);
	ck_assert_uint_eq(ih_slab_live(), 2);
	memset(a, 0xab, 200);
	ih_slab_free(a, 200);
	c = ih_slab_alloc(208);
#if !defined(__SANITIZE_ADDRESS__) /* there every block is malloc's own (slab.h) */
	ck_assert_ptr_eq(c, a);                 /* the freed block comes back... */
	ck_assert_uint_gt(ih_slab_reserved(), 0);
#endif
	for(int i = 0; i < 208; i++) ck_assert_int_eq(c[i], 0);   /* ...zeroed */
	ih_slab_free(b, 193);
	ih_slab_free(c, 208);
	/* The last block gives the chunks back. */
	ck_assert_uint_eq(ih_slab_live(), 0);
	ck_assert_uint_eq(ih_slab_reserved(), 0);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks);
}
END_TEST

START_TEST(many_classes_and_chunks)
{
	enum { N = 3000 };
	static char *p[N];
	long blocks = stub_mem_live_blocks();

	for(int i = 0; i < N; i++){
		size_t n = 16 + (size_t)(i % 31) * 16 + (size_t)(i % 7);
		p[i] = ih_slab_alloc(n);
		ck_assert_ptr_nonnull(p[i]);
		memset(p[i], i & 0xff, n);
	}
	for(int i = 0; i < N; i++){
		size_t n = 16 + (size_t)(i % 31) * 16 + (size_t)(i % 7);
		for(size_t k = 0; k < n; k++) ck_assert_int_eq((unsigned char)p[i][k], i & 0xff); /* no overlap */
	}
	for(int i = 0; i < N; i++) ih_slab_free(p[i], 16 + (size_t)(i % 31) * 16 + (size_t)(i % 7));
	ck_assert_uint_eq(ih_slab_live(), 0);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks);
}
END_TEST

START_TEST(large_blocks_use_malloc)
{
	long blocks = stub_mem_live_blocks();
	char *p = ih_slab_alloc(IH_SLAB_MAX + 1);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(ih_slab_live(), 0);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks + 1);
	ih_slab_free(p, IH_SLAB_MAX + 1);
	ih_slab_free(NULL, 100);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("slab");
	TCase *tc = tcase_create("slab");

	tcase_add_test(tc, reuse_zero_and_release);
	tcase_add_test(tc, many_classes_and_chunks);
	tcase_add_test(tc, large_blocks_use_malloc);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
