/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * acl/placeholder: syntax, every placeholder, %%, and values that would
 * widen a rule.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "acl/placeholder.h"
#include "test/unit/unit_run.h"

static const struct acl_subject p1d1 = {"p1/d1", 2, "client-1", false};

static enum acl_ph_result expand(const char *tpl, const struct acl_subject *who, char *out, size_t outsize)
{
	size_t len = 0;
	enum acl_ph_result rc = acl_placeholder_expand(tpl, who, out, outsize, &len);
	if(rc == ACL_PH_OK) ck_assert_uint_eq(strlen(out), len);
	return rc;
}

static void expect(const char *tpl, const struct acl_subject *who, const char *want)
{
	char out[256];

	memset(out, 'X', sizeof(out));
	ck_assert_msg(expand(tpl, who, out, sizeof(out)) == ACL_PH_OK, "expand(\"%s\") failed", tpl);
	ck_assert_str_eq(out, want);
}

static void expect_rc(const char *tpl, const struct acl_subject *who, enum acl_ph_result want)
{
	char out[256];
	size_t len = 12345;

	ck_assert_msg(acl_placeholder_expand(tpl, who, out, sizeof(out), &len) == want,
			"expand(\"%s\") should give %d", tpl, want);
	ck_assert_uint_eq(len, 12345);   /* nothing reported on failure */
}

START_TEST(test_each_placeholder)
{
	expect("cmd/%u/+/+/+/#", &p1d1, "cmd/p1/d1/+/+/+/#");
	expect("upload_data/%p/%d/+/+", &p1d1, "upload_data/p1/d1/+/+");
	expect("m2m/%p/+/%d/+", &p1d1, "m2m/p1/+/d1/+");
	expect("inbox/%c/#", &p1d1, "inbox/client-1/#");
	expect("%u", &p1d1, "p1/d1");
	expect("%p/%d/%c", &p1d1, "p1/d1/client-1");
	expect("a/b", &p1d1, "a/b");
	expect("#", &p1d1, "#");
	expect("a//%c/", &p1d1, "a//client-1/");
}
END_TEST

START_TEST(test_percent_literal)
{
	expect("a/%%/b", &p1d1, "a/%/b");
	expect("100%%/x", &p1d1, "100%/x");
	expect("%%u/%u", &p1d1, "%u/p1/d1");   /* %% then a literal u */
	expect("%%%%", &p1d1, "%%");
}
END_TEST

START_TEST(test_measure_then_write)
{
	size_t len = 0;
	char small[4];

	ck_assert_int_eq(acl_placeholder_expand("cmd/%u/#", &p1d1, NULL, 0, &len), ACL_PH_OK);
	ck_assert_uint_eq(len, strlen("cmd/p1/d1/#"));
	/* Too small a buffer: measured, nothing written. */
	memset(small, 'X', sizeof(small));
	ck_assert_int_eq(acl_placeholder_expand("cmd/%u/#", &p1d1, small, sizeof(small), &len), ACL_PH_OK);
	ck_assert_int_eq(small[0], 'X');
}
END_TEST

/* The single-walk variant for validated templates gives the same text,
 * and never writes past outsize. */
START_TEST(test_expand_checked)
{
	static const char *const tpls[] = {"cmd/%u/+/+/+/#", "m2m/%p/+/%d/+", "inbox/%c/#", "a/%%/%u", "#", "a//%c/", "a/%%%%", "%%"};
	char want[128], got[128];
	size_t wlen, glen;

	for(size_t i = 0; i < sizeof(tpls) / sizeof(tpls[0]); i++){
		ck_assert_int_eq(acl_placeholder_expand(tpls[i], &p1d1, want, sizeof(want), &wlen), ACL_PH_OK);
		ck_assert_int_eq(acl_placeholder_expand_checked(tpls[i], &p1d1, NULL, 0, &glen), ACL_PH_OK);
		ck_assert_uint_eq(glen, wlen);
		memset(got, 'X', sizeof(got));
		ck_assert_int_eq(acl_placeholder_expand_checked(tpls[i], &p1d1, got, wlen + 1, &glen), ACL_PH_OK);
		ck_assert_str_eq(got, want);
		/* One byte short: refused, and the byte after the buffer untouched. */
		memset(got, 'X', sizeof(got));
		ck_assert_int_eq(acl_placeholder_expand_checked(tpls[i], &p1d1, got, wlen, &glen), ACL_PH_TOO_LONG);
		ck_assert_int_eq(got[wlen], 'X');
	}
	/* Values are still checked: an unsafe one drops the rule. */
	{
		const struct acl_subject bad = {"p1/d1", 2, "a+b", false};
		ck_assert_int_eq(acl_placeholder_expand_checked("inbox/%c/#", &bad, got, sizeof(got), &glen),
				ACL_PH_UNSAFE_VALUE);
	}
}
END_TEST

/* The companion of a widened deny: only a client id holding '/' is
 * spelled out; every other unsafe or missing value fails the template. */
START_TEST(test_expand_spelled)
{
	const struct acl_subject slash = {"p1/d1", 2, "a/b", false};
	const struct acl_subject anon = {NULL, 0, "a/b", false};
	const struct acl_subject dollar = {"p1/d1", 2, "$a/b", false};
	const struct acl_subject hash = {"p1/d1", 2, "a/#", false};
	char out[64];
	size_t len;

	ck_assert_int_eq(acl_placeholder_expand_spelled("box/%c/private", &slash, out, sizeof(out), &len), ACL_PH_OK);
	ck_assert_str_eq(out, "box/a/b/private");
	ck_assert_uint_eq(len, strlen("box/a/b/private"));
	ck_assert_int_eq(acl_placeholder_expand_spelled("box/%u/%c", &anon, out, sizeof(out), &len),
			ACL_PH_NO_IDENTITY);
	ck_assert_int_eq(acl_placeholder_expand_spelled("%c/x", &dollar, out, sizeof(out), &len),
			ACL_PH_UNSAFE_VALUE);
	ck_assert_int_eq(acl_placeholder_expand_spelled("box/%c", &hash, out, sizeof(out), &len),
			ACL_PH_UNSAFE_VALUE);
}
END_TEST

struct bad { const char *tpl; const char *why; };

START_TEST(test_syntax_errors)
{
	static const struct bad bad[] = {
		{"up/%x", "unknown placeholder %x"},
		{"a%c", "whole topic level: %c"},
		{"%u%c", "whole topic level: %u"},
		{"x/%c_1", "whole topic level: %c"},
		{"x/%pd", "whole topic level: %p"},
		{"x/%", "lone %"},
		{"x/%/y", "lone %"},
		{"%U", "unknown placeholder %U"},
		{"a/#/b", "not a valid topic filter"},
		{"a/b+", "not a valid topic filter"},
		{"", "not a valid topic filter"},
	};
	char err[160];
	unsigned uses;

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_msg(acl_placeholder_check(bad[i].tpl, &uses, err, sizeof(err)) == ACL_PH_BAD_TEMPLATE,
				"\"%s\" accepted", bad[i].tpl);
		ck_assert_msg(strstr(err, bad[i].why), "\"%s\": got \"%s\"", bad[i].tpl, err);
		expect_rc(bad[i].tpl, &p1d1, ACL_PH_BAD_TEMPLATE);
	}
	ck_assert_int_eq(acl_placeholder_check("a/%x", NULL, NULL, 0), ACL_PH_BAD_TEMPLATE);
}
END_TEST

START_TEST(test_uses)
{
	unsigned uses = 99;

	ck_assert_int_eq(acl_placeholder_check("a/b/#", &uses, NULL, 0), ACL_PH_OK);
	ck_assert_uint_eq(uses, 0);
	ck_assert_int_eq(acl_placeholder_check("cmd/%u/#", &uses, NULL, 0), ACL_PH_OK);
	ck_assert_uint_eq(uses, ACL_PH_USES_U);
	ck_assert_int_eq(acl_placeholder_check("%p/%d/%c/%%", &uses, NULL, 0), ACL_PH_OK);
	ck_assert_uint_eq(uses, ACL_PH_USES_P | ACL_PH_USES_D | ACL_PH_USES_C);
}
END_TEST

START_TEST(test_level_kind)
{
	ck_assert_int_eq(acl_placeholder_level("%u", 2), ACL_PH_LEVEL_U);
	ck_assert_int_eq(acl_placeholder_level("%p", 2), ACL_PH_LEVEL_P);
	ck_assert_int_eq(acl_placeholder_level("%d", 2), ACL_PH_LEVEL_D);
	ck_assert_int_eq(acl_placeholder_level("%c", 2), ACL_PH_LEVEL_C);
	ck_assert_int_eq(acl_placeholder_level("+", 1), ACL_PH_LEVEL_PLUS);
	ck_assert_int_eq(acl_placeholder_level("#", 1), ACL_PH_LEVEL_HASH);
	ck_assert_int_eq(acl_placeholder_level("%%", 2), ACL_PH_LEVEL_TEXT);
	ck_assert_int_eq(acl_placeholder_level("%u/x", 2), ACL_PH_LEVEL_U);
	ck_assert_int_eq(acl_placeholder_level("", 0), ACL_PH_LEVEL_TEXT);
}
END_TEST

START_TEST(test_unsafe_client_id)
{
	static const char *const ids[] = {"#", "+", "a/b", "/", "a#", "x+y", ""};

	for(size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++){
		struct acl_subject who = {"p1/d1", 2, ids[i], false};
		expect_rc("inbox/%c/#", &who, ACL_PH_UNSAFE_VALUE);
		/* Rules not using %c are unaffected. */
		expect("cmd/%u/#", &who, "cmd/p1/d1/#");
	}
}
END_TEST

START_TEST(test_unsafe_username)
{
	static const struct acl_subject bad[] = {
		{"p1/d1/x", 2, "c", false},     /* three levels */
		{"p1", 2, "c", false},          /* no device */
		{"p1/", 2, "c", false},         /* empty device */
		{"/d1", 0, "c", false},         /* empty product */
		{"p+/d1", 2, "c", false},
		{"p1/#", 2, "c", false},
		{"p1/d1", 1, "c", false},       /* product_len does not point at the '/' */
		{"p1/d1", 5, "c", false},
	};

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		expect_rc("cmd/%u/#", &bad[i], ACL_PH_UNSAFE_VALUE);
		expect_rc("up/%p/x", &bad[i], ACL_PH_UNSAFE_VALUE);
		expect_rc("up/%d/x", &bad[i], ACL_PH_UNSAFE_VALUE);
		expect("inbox/%c", &bad[i], "inbox/c");
	}
}
END_TEST

START_TEST(test_dollar_first_level)
{
	struct acl_subject who = {"$SYS/d1", 4, "$SYS", false};

	expect_rc("%c/#", &who, ACL_PH_UNSAFE_VALUE);
	expect_rc("%u/#", &who, ACL_PH_UNSAFE_VALUE);
	expect_rc("%p/#", &who, ACL_PH_UNSAFE_VALUE);
	expect("inbox/%c/#", &who, "inbox/$SYS/#");
	expect("x/%u", &who, "x/$SYS/d1");
}
END_TEST

START_TEST(test_anonymous)
{
	struct acl_subject anon = {NULL, 0, "c1", false};
	struct acl_subject no_id = {"p1/d1", 2, NULL, false};

	expect_rc("cmd/%u/#", &anon, ACL_PH_NO_IDENTITY);
	expect_rc("up/%p/+", &anon, ACL_PH_NO_IDENTITY);
	expect_rc("up/%d/+", &anon, ACL_PH_NO_IDENTITY);
	expect("inbox/%c", &anon, "inbox/c1");
	expect("public/#", &anon, "public/#");
	expect_rc("inbox/%c", &no_id, ACL_PH_NO_IDENTITY);
	expect_rc("cmd/%u/#", NULL, ACL_PH_NO_IDENTITY);
	expect("public/#", NULL, "public/#");
}
END_TEST

START_TEST(test_too_long)
{
	size_t n = 40000, len;
	char *id = malloc(n + 1);
	struct acl_subject who = {"p1/d1", 2, NULL, false};

	ck_assert_ptr_nonnull(id);
	memset(id, 'c', n);
	id[n] = '\0';
	who.client_id = id;
	ck_assert_int_eq(acl_placeholder_expand("%c/%c", &who, NULL, 0, &len), ACL_PH_TOO_LONG);
	ck_assert_int_eq(acl_placeholder_expand("%c", &who, NULL, 0, &len), ACL_PH_OK);
	ck_assert_uint_eq(len, n);
	free(id);
}
END_TEST

START_TEST(test_strerror)
{
	ck_assert_ptr_nonnull(strstr(acl_placeholder_strerror(ACL_PH_UNSAFE_VALUE), "'/'"));
	ck_assert_str_eq(acl_placeholder_strerror(ACL_PH_OK), "ok");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_placeholder");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_each_placeholder);
	tcase_add_test(tc, test_percent_literal);
	tcase_add_test(tc, test_measure_then_write);
	tcase_add_test(tc, test_expand_checked);
	tcase_add_test(tc, test_expand_spelled);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_uses);
	tcase_add_test(tc, test_level_kind);
	tcase_add_test(tc, test_unsafe_client_id);
	tcase_add_test(tc, test_unsafe_username);
	tcase_add_test(tc, test_dollar_first_level);
	tcase_add_test(tc, test_anonymous);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_strerror);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
