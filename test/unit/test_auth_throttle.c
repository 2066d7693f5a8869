/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* Failed-login throttling (auth/throttle.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "auth/throttle.h"
#include "core/config.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static struct ih_config cfg;
static long blocks_at_start;

static void setup(void)
{
	ck_assert_int_eq(ih_config_parse(&cfg, NULL, 0), 0);
	cfg.auth_fail_max = 3;
	cfg.auth_fail_window_s = 10;
	cfg.auth_fail_block_s = 30;
	stub_log_clear();
	blocks_at_start = stub_mem_live_blocks();
}

static void teardown(void)
{
	ih_config_cleanup(&cfg);
}

#define S(x) ((int64_t)(x) * 1000)

START_TEST(blocks_username_after_max)
{
	struct auth_throttle *t;

	ck_assert_int_eq(auth_throttle_init(&t, &cfg), 0);
	ck_assert_ptr_null(auth_throttle_check(t, "p/d", "10.0.0.1", S(0)));
	auth_throttle_failure(t, "p/d", "10.0.0.1", S(0));
	auth_throttle_failure(t, "p/d", "10.0.0.2", S(1));
	ck_assert_ptr_null(auth_throttle_check(t, "p/d", "10.0.0.3", S(2)));
	ck_assert_int_eq(stub_log_count("failed logins"), 0);
	auth_throttle_failure(t, "p/d", "10.0.0.3", S(2));
	ck_assert_str_eq(auth_throttle_check(t, "p/d", "10.9.9.9", S(3)), "too many failed logins for this username");
	ck_assert_int_eq(stub_log_count("3 failed logins for username \"p/d\" within 10s: refusing it for 30s"), 1);
	/* Other usernames from those addresses are fine (each address failed once). */
	ck_assert_ptr_null(auth_throttle_check(t, "p/e", "10.0.0.1", S(3)));
	/* Refusals while blocked do not extend it, nor log again. */
	for(int i = 0; i < 10; i++) auth_throttle_failure(t, "p/d", NULL, S(10));
	ck_assert_int_eq(stub_log_count("failed logins"), 1);
	ck_assert_ptr_nonnull(auth_throttle_check(t, "p/d", NULL, S(31)));
	ck_assert_ptr_null(auth_throttle_check(t, "p/d", NULL, S(32)));
	/* After the block the count starts again. */
	auth_throttle_failure(t, "p/d", NULL, S(33));
	ck_assert_ptr_null(auth_throttle_check(t, "p/d", NULL, S(33)));
	auth_throttle_cleanup(t);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(blocks_address_after_max)
{
	struct auth_throttle *t;

	ck_assert_int_eq(auth_throttle_init(&t, &cfg), 0);
	auth_throttle_failure(t, "p/a", "192.0.2.7", S(0));
	auth_throttle_failure(t, "p/b", "192.0.2.7", S(0));
	ck_assert(!auth_throttle_address_blocked(t, "192.0.2.7", S(0)));
	auth_throttle_failure(t, "p/c", "192.0.2.7", S(0));
	ck_assert(auth_throttle_address_blocked(t, "192.0.2.7", S(1)));
	ck_assert(!auth_throttle_address_blocked(t, "192.0.2.8", S(1)));
	ck_assert(stub_log_contains("for address \"192.0.2.7\""));
	/* An address block alone refuses nobody (the NAT case)... */
	ck_assert_ptr_null(auth_throttle_check(t, "p/z", "192.0.2.7", S(1)));
	/* ...but one failure from it blocks the username at once. */
	auth_throttle_failure(t, "p/z", "192.0.2.7", S(1));
	ck_assert_str_eq(auth_throttle_check(t, "p/z", "192.0.2.8", S(2)), "too many failed logins for this username");
	ck_assert(stub_log_contains("failed login for username \"p/z\" from a blocked address: refusing it for 30s"));
	/* Elsewhere a name still gets auth_fail_max tries. */
	auth_throttle_failure(t, "p/y", "192.0.2.8", S(2));
	ck_assert_ptr_null(auth_throttle_check(t, "p/y", "192.0.2.8", S(2)));
	/* A success for a username does not clear the address. */
	auth_throttle_success(t, "p/a");
	ck_assert(auth_throttle_address_blocked(t, "192.0.2.7", S(2)));
	ck_assert(!auth_throttle_address_blocked(t, "192.0.2.7", S(31)));
	auth_throttle_cleanup(t);
}
END_TEST

START_TEST(window_expires)
{
	struct auth_throttle *t;

	ck_assert_int_eq(auth_throttle_init(&t, &cfg), 0);
	auth_throttle_failure(t, "p/d", NULL, S(0));
	auth_throttle_failure(t, "p/d", NULL, S(5));
	auth_throttle_failure(t, "p/d", NULL, S(10));   /* new window: count 1 */
	ck_assert_ptr_null(auth_throttle_check(t, "p/d", NULL, S(10)));
	auth_throttle_failure(t, "p/d", NULL, S(11));
	auth_throttle_failure(t, "p/d", NULL, S(12));
	ck_assert_ptr_nonnull(auth_throttle_check(t, "p/d", NULL, S(12)));
	auth_throttle_cleanup(t);
}
END_TEST

START_TEST(success_resets_username)
{
	struct auth_throttle *t;

	ck_assert_int_eq(auth_throttle_init(&t, &cfg), 0);
	auth_throttle_failure(t, "p/d", NULL, S(0));
	auth_throttle_failure(t, "p/d", NULL, S(0));
	auth_throttle_success(t, "p/d");
	auth_throttle_failure(t, "p/d", NULL, S(1));
	auth_throttle_failure(t, "p/d", NULL, S(1));
	ck_assert_ptr_null(auth_throttle_check(t, "p/d", NULL, S(1)));
	ck_assert_uint_eq(auth_throttle_tracked(t), 1);
	auth_throttle_cleanup(t);
}
END_TEST

START_TEST(disabled)
{
	struct auth_throttle *t;

	cfg.auth_fail_max = 0;
	ck_assert_int_eq(auth_throttle_init(&t, &cfg), 0);
	for(int i = 0; i < 100; i++) auth_throttle_failure(t, "p/d", "1.2.3.4", S(0));
	ck_assert_ptr_null(auth_throttle_check(t, "p/d", "1.2.3.4", S(0)));
	ck_assert_uint_eq(auth_throttle_tracked(t), 0);
	auth_throttle_cleanup(t);
}
END_TEST

START_TEST(bounded_memory)
{
	struct auth_throttle *t;
	char name[32];

	cfg.auth_fail_track_max = 100;
	ck_assert_int_eq(auth_throttle_init(&t, &cfg), 0);
	auth_throttle_failure(t, "p/victim", NULL, S(0));
	auth_throttle_failure(t, "p/victim", NULL, S(0));
	auth_throttle_failure(t, "p/victim", NULL, S(0));
	for(int i = 0; i < 10000; i++){
		snprintf(name, sizeof(name), "p/x%d", i);
		auth_throttle_failure(t, name, "203.0.113.1", S(1));
		ck_assert_uint_le(auth_throttle_tracked(t), 100);
	}
	/* The flood pushed the oldest name out: its block is forgotten, not extended. */
	ck_assert_ptr_null(auth_throttle_check(t, "p/victim", NULL, S(2)));
	/* The flooding address, touched every time, is still tracked and blocked. */
	ck_assert(auth_throttle_address_blocked(t, "203.0.113.1", S(2)));
	auth_throttle_cleanup(t);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth_throttle");
	TCase *tc = tcase_create("throttle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, blocks_username_after_max);
	tcase_add_test(tc, blocks_address_after_max);
	tcase_add_test(tc, window_expires);
	tcase_add_test(tc, success_resets_username);
	tcase_add_test(tc, disabled);
	tcase_add_test(tc, bounded_memory);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
