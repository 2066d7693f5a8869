/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* Username and name validation (registry/username.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "registry/username.h"
#include "test/unit/unit_run.h"

static const char *check_user(const char *u, size_t *plen)
{
	return registry_username_check(u, 256, plen);
}

START_TEST(valid_usernames)
{
	size_t plen = 0;

	ck_assert_ptr_null(check_user("p1/d1", &plen));
	ck_assert_uint_eq(plen, 2);
	ck_assert_ptr_null(check_user("产品/设备-01", &plen));
	ck_assert_uint_eq(plen, strlen("产品"));
	ck_assert_ptr_null(check_user("a/b", &plen));
	ck_assert_uint_eq(plen, 1);
	ck_assert_ptr_null(check_user("prod%/dev$x", &plen));
}
END_TEST

START_TEST(malformed_usernames)
{
	size_t plen = 99;
	static const char *bad[] = {
		"", "nouser", "a/b/c", "a/", "/b", "/", "a/+", "+/b", "a/#", "a/b#", "p+q/d",
		"a/\x01", "a/\x7f", "a/\xc0\xaf", "a/\xed\xa0\x80", "a/\xff", "a/\xe4\xb8", "a/\xc2\x85",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_msg(check_user(bad[i], &plen) != NULL, "accepted \"%s\"", bad[i]);
	}
	ck_assert_ptr_nonnull(registry_username_check(NULL, 256, &plen));
	ck_assert_uint_eq(plen, 99);
}
END_TEST

START_TEST(oversize_username)
{
	size_t plen;
	char *big = malloc(10 * 1024 + 1);

	memset(big, 'a', 10 * 1024);
	big[5] = '/';
	big[10 * 1024] = '\0';
	ck_assert_str_eq(check_user(big, &plen), "username too long");
	free(big);
}
END_TEST

START_TEST(names)
{
	ck_assert_ptr_null(registry_name_check("d1", 2, IH_NAME_MAX));
	ck_assert_ptr_nonnull(registry_name_check("", 0, IH_NAME_MAX));
	ck_assert_ptr_nonnull(registry_name_check("a/b", 3, IH_NAME_MAX));
	ck_assert_ptr_nonnull(registry_name_check("a\0b", 3, IH_NAME_MAX));
	ck_assert_ptr_nonnull(registry_name_check("abc", 3, 2));
}
END_TEST

/* Regression (fuzz/fuzz_names.c): noncharacters passed our check but the
 * broker's UTF-8 validation refuses them, so iothubctl could register a
 * device that can never connect. */
START_TEST(noncharacters)
{
	static const char *const bad[] = {
		"\xf0\xbf\xbf\xbf",   /* U+3FFFF */
		"\xef\xbf\xbe",        /* U+FFFE */
		"\xef\xbf\xbf",        /* U+FFFF */
		"\xef\xb7\x90",        /* U+FDD0 */
		"\xef\xb7\xaf",        /* U+FDEF */
		"\xf4\x8f\xbf\xbf",   /* U+10FFFF */
	};
	size_t plen = 0;

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_ptr_nonnull(registry_name_check(bad[i], strlen(bad[i]), IH_NAME_MAX));
		ck_assert_int_ne(mosquitto_validate_utf8(bad[i], (int)strlen(bad[i])), MOSQ_ERR_SUCCESS);
	}
	ck_assert_ptr_nonnull(check_user("p1/\xef\xbf\xbf", &plen));
	/* Neighbours stay valid. */
	ck_assert_ptr_null(registry_name_check("\xef\xb7\x8f", 3, IH_NAME_MAX));       /* U+FDCF */
	ck_assert_ptr_null(registry_name_check("\xef\xbf\xbd", 3, IH_NAME_MAX));       /* U+FFFD */
	ck_assert_ptr_null(registry_name_check("\xf0\x9f\x98\x80", 4, IH_NAME_MAX));  /* U+1F600 */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth_names");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, valid_usernames);
	tcase_add_test(tc, malformed_usernames);
	tcase_add_test(tc, oversize_username);
	tcase_add_test(tc, names);
	tcase_add_test(tc, noncharacters);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
