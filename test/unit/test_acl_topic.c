/*
 * acl/topic: matching, coverage, overlap, validity and $share tables.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "acl/topic.h"

struct pair { const char *a; const char *b; bool want; };

static const struct pair match_table[] = {
	{"a/b/c", "a/b/c", true},
	{"a/b/c", "a/b", false},
	{"a/b", "a/b/c", false},
	{"a/+/c", "a/x/c", true},
	{"a/+/c", "a//c", true},          /* empty levels are real levels */
	{"a/+", "a/", true},
	{"a/+", "a", false},
	{"+", "a", true},
	{"+", "a/b", false},
	{"+/+", "/a", true},
	{"+", "/a", false},
	{"/+", "/a", true},
	{"a//b", "a//b", true},
	{"a//b", "a/b", false},
	{"a/#", "a", true},               /* # also matches the parent */
	{"a/#", "a/b/c", true},
	{"a/#", "ab", false},
	{"a/#", "a/", true},
	{"a/+/#", "a", false},
	{"a/+/#", "a/b", true},
	{"#", "a/b/c", true},
	{"#", "/", true},
	{"#", "$SYS/broker", false},      /* the $ rule */
	{"+/broker", "$SYS/broker", false},
	{"+/#", "$SYS", false},
	{"$SYS/#", "$SYS/broker/load", true},
	{"$SYS/+/load", "$SYS/broker/load", true},
	{"$CONTROL/#", "$CONTROL/dynamic-security/v1", true},
	{"a/$SYS", "a/$SYS", true},
	{"+/$x", "a/$x", true},
	{"upload_data/p1/d1/+/+", "upload_data/p1/d1/temp/1", true},
	{"upload_data/p1/d1/+/+", "upload_data/p1/d2/temp/1", false},
	{"upload_data/p1/d1/+/+", "upload_data/p1/d1/temp", false},
	{"upload_data/p1/d1/+/+", "upload_data/p1/d1/temp/1/2", false},
	{"m2m/p1/+/d1/+", "m2m/p1/d2/d1/x", true},
	{"m2m/p1/+/d1/+", "m2m/p1/d2/d3/x", false},
	{"cmd/p1/d1/+/+/+/#", "cmd/p1/d1/reboot/json/r1", true},
	{"cmd/p1/d1/+/+/+/#", "cmd/p1/d1/reboot/json/r1/1700000000", true},
	{"cmd/p1/d1/+/+/+/#", "cmd/p1/d1/reboot/json", false},
	{"abc", "abd", false},
	{"abc", "ab", false},
	{"ab", "abc", false},
};

START_TEST(test_matches_table)
{
	for(size_t i = 0; i < sizeof(match_table) / sizeof(match_table[0]); i++){
		const struct pair *p = &match_table[i];
		ck_assert_msg(acl_topic_matches(p->a, p->b) == p->want,
				"matches(\"%s\", \"%s\") should be %d", p->a, p->b, p->want);
	}
}
END_TEST

START_TEST(test_matches_null)
{
	ck_assert(!acl_topic_matches(NULL, "a"));
	ck_assert(!acl_topic_matches("a", NULL));
}
END_TEST

START_TEST(test_matches_tail)
{
	ck_assert(acl_topic_matches_tail("/d1/+", "/d1/x"));
	ck_assert(acl_topic_matches_tail("", ""));
	ck_assert(acl_topic_matches_tail("/#", ""));
	ck_assert(!acl_topic_matches_tail("/+", ""));
	ck_assert(!acl_topic_matches_tail("", "/x"));
}
END_TEST

/* rule, filter, covered? */
static const struct pair cover_table[] = {
	{"tags/p1/+/cmd/#", "tags/p1/t1/cmd/#", true},
	{"tags/p1/+/cmd/#", "tags/p1/+/cmd/x", true},
	{"tags/p1/+/cmd/#", "tags/p1/t1/cmd", true},
	{"tags/p1/+/cmd/#", "tags/p1/+/cmd/#", true},
	{"tags/p1/+/cmd/#", "tags/#", false},
	{"tags/p1/+/cmd/#", "+/p1/+/cmd/#", false},
	{"tags/p1/+/cmd/#", "tags/p1/#", false},
	{"tags/p1/+/cmd/#", "tags/p2/t1/cmd/#", false},
	{"tags/p1/+/cmd/#", "tags/p1/t1/+/#", false},
	{"tags/p1/+/cmd/#", "#", false},
	{"tags/p1/+/cmd/+/+/+/#", "tags/p1/t1/cmd/+/+/+/#", true},
	{"tags/p1/+/cmd/+/+/+/#", "tags/p1/t1/cmd/#", false},
	{"tags/p1/+/cmd/+/+/+/#", "tags/p1/t1/cmd/a/b/c", true},
	{"tags/p1/+/cmd/+/+/+/#", "tags/p1/t1/cmd/a/b", false},
	{"#", "#", true},
	{"#", "a/+/#", true},
	{"#", "$SYS/#", false},           /* the $ rule */
	{"#", "$SYS/broker", false},
	{"+/#", "$SYS/#", false},
	{"+/#", "#", false},              /* conservative: see topic.h */
	{"+/#", "a/#", true},
	{"$SYS/#", "$SYS/#", true},
	{"$SYS/#", "$SYS/broker/+", true},
	{"$SYS/#", "#", false},
	{"a/+", "a/+", true},
	{"a/+", "a/#", false},
	{"a/+", "a/b", true},
	{"a/+", "a", false},
	{"a/#", "a", true},
	{"a/#", "a/+/c", true},
	{"a/b", "a/+", false},
	{"a/b", "a/b", true},
	{"a", "a/#", false},
	{"a//b", "a/+/b", false},
	{"a/+/b", "a//b", true},
};

START_TEST(test_covers_table)
{
	for(size_t i = 0; i < sizeof(cover_table) / sizeof(cover_table[0]); i++){
		const struct pair *p = &cover_table[i];
		ck_assert_msg(acl_filter_covers(p->a, p->b) == p->want,
				"covers(\"%s\", \"%s\") should be %d", p->a, p->b, p->want);
	}
}
END_TEST

START_TEST(test_covers_equals_matches_for_topics)
{
	/* Without wildcards in the filter, covering is matching. */
	for(size_t i = 0; i < sizeof(match_table) / sizeof(match_table[0]); i++){
		const struct pair *p = &match_table[i];
		if(strpbrk(p->b, "+#")) continue;
		ck_assert_msg(acl_filter_covers(p->a, p->b) == acl_topic_matches(p->a, p->b),
				"covers/matches disagree on (\"%s\", \"%s\")", p->a, p->b);
	}
}
END_TEST

static const struct pair overlap_table[] = {
	{"a/b", "a/b", true},
	{"a/b", "a/c", false},
	{"a/+", "+/b", true},
	{"a/#", "a", true},
	{"a", "a/#", true},
	{"a/#", "b/#", false},
	{"#", "a/b/c", true},
	{"#", "$SYS/x", false},
	{"$SYS/#", "+/x", false},
	{"$SYS/#", "$SYS/+", true},
	{"+/+", "a", false},
	{"+/+", "a/b/c", false},
	{"+/+/#", "a/b/c", true},
	{"cmd/p1/d1/+/+/+/#", "cmd/#", true},
	{"cmd/p1/d1/+/+/+/#", "cmd/p1/d2/#", false},
	{"cmd/p1/d1/+/+/+/#", "cmd/+/+/x/y/z", true},
	{"cmd/p1/d1/+/+/+/#", "cmd/p1/d1/x", false},
	{"m2m/p1/d1/+/+", "m2m/p1/+/d2/#", true},
	{"a//b", "a/+/b", true},
};

START_TEST(test_overlap_table)
{
	for(size_t i = 0; i < sizeof(overlap_table) / sizeof(overlap_table[0]); i++){
		const struct pair *p = &overlap_table[i];
		ck_assert_msg(acl_filters_overlap(p->a, p->b) == p->want,
				"overlap(\"%s\", \"%s\") should be %d", p->a, p->b, p->want);
		ck_assert_msg(acl_filters_overlap(p->b, p->a) == p->want,
				"overlap(\"%s\", \"%s\") should be %d", p->b, p->a, p->want);
	}
}
END_TEST

START_TEST(test_valid)
{
	char *big;

	ck_assert(acl_topic_valid("a/b"));
	ck_assert(acl_topic_valid("/"));
	ck_assert(acl_topic_valid("$SYS/x"));
	ck_assert(!acl_topic_valid(""));
	ck_assert(!acl_topic_valid(NULL));
	ck_assert(!acl_topic_valid("a/+"));
	ck_assert(!acl_topic_valid("a/#"));
	ck_assert(!acl_topic_valid("a+b"));

	ck_assert(acl_filter_valid("#"));
	ck_assert(acl_filter_valid("+"));
	ck_assert(acl_filter_valid("a/+/b/#"));
	ck_assert(acl_filter_valid("+/+"));
	ck_assert(acl_filter_valid("a//b"));
	ck_assert(!acl_filter_valid(""));
	ck_assert(!acl_filter_valid(NULL));
	ck_assert(!acl_filter_valid("a/#/b"));
	ck_assert(!acl_filter_valid("a#"));
	ck_assert(!acl_filter_valid("a/b#"));
	ck_assert(!acl_filter_valid("a+/b"));
	ck_assert(!acl_filter_valid("a/+b"));
	ck_assert(!acl_filter_valid("##"));

	big = malloc(ACL_TOPIC_MAX + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', ACL_TOPIC_MAX);
	big[ACL_TOPIC_MAX] = '\0';
	ck_assert(acl_topic_valid(big));
	ck_assert(acl_filter_valid(big));
	big[ACL_TOPIC_MAX] = 'a';
	big[ACL_TOPIC_MAX + 1] = '\0';
	ck_assert(!acl_topic_valid(big));
	ck_assert(!acl_filter_valid(big));
	free(big);
}
END_TEST

START_TEST(test_share_strip)
{
	const char *f = "a/b";

	ck_assert_ptr_eq(acl_share_strip(f), f);
	ck_assert_str_eq(acl_share_strip("$share/g/a/+/c"), "a/+/c");
	ck_assert_str_eq(acl_share_strip("$share/g/#"), "#");
	ck_assert_str_eq(acl_share_strip("$share/g/$SYS/#"), "$SYS/#");
	ck_assert_str_eq(acl_share_strip("$shared/x"), "$shared/x");
	ck_assert_str_eq(acl_share_strip("$SYS/#"), "$SYS/#");
	ck_assert_ptr_null(acl_share_strip("$share"));
	ck_assert_ptr_null(acl_share_strip("$share/"));
	ck_assert_ptr_null(acl_share_strip("$share/g"));
	ck_assert_ptr_null(acl_share_strip("$share/g/"));
	ck_assert_ptr_null(acl_share_strip("$share//a"));
	ck_assert_ptr_null(acl_share_strip("$share/+/a"));
	ck_assert_ptr_null(acl_share_strip("$share/g#/a"));
	ck_assert_ptr_null(acl_share_strip(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_topic");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_matches_table);
	tcase_add_test(tc, test_matches_null);
	tcase_add_test(tc, test_matches_tail);
	tcase_add_test(tc, test_covers_table);
	tcase_add_test(tc, test_covers_equals_matches_for_topics);
	tcase_add_test(tc, test_overlap_table);
	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_share_strip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
