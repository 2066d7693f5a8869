/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * acl/topic: matching, coverage, overlap, validity and $share tables.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "acl/topic.h"
#include "test/unit/unit_run.h"

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

START_TEST(test_from_offset)
{
	/* Callers vouch for an identical literal prefix; the rest is matched. */
	ck_assert(acl_topic_matches_from("cmd/p1/d1/+", "cmd/p1/d1/x", 9));
	ck_assert(acl_topic_matches_from("cmd/p1/d1/+", "cmd/p1/d1/x", 4));
	ck_assert(!acl_topic_matches_from("cmd/p1/d1/+", "cmd/p1/d1", 9));
	ck_assert(acl_topic_matches_from("a/#", "a", 1));
	ck_assert(!acl_topic_matches_from("a/#", "ab", 1));
	ck_assert(!acl_topic_matches_from("a/+", "a", 1));
	ck_assert(acl_topic_matches_from("a", "a", 1));
	ck_assert(!acl_topic_matches_from("a", "a/x", 1));
	ck_assert(acl_topic_matches_from("upload_data/p1/d1/+/+", "upload_data/p1/d1/t/1", 18));
	/* Offset 0 is the plain predicate, $ rule included. */
	ck_assert(!acl_topic_matches_from("#", "$SYS/x", 0));
	ck_assert(acl_topic_matches_from("#", "x", 0));
	ck_assert(acl_filter_covers_from("tags/p1/+/cmd/#", "tags/p1/t1/cmd/#", 8));
	ck_assert(!acl_filter_covers_from("tags/p1/+/cmd/#", "tags/p1/+/x/#", 8));
	ck_assert(acl_filter_covers_from("a/#", "a", 1));
	ck_assert(!acl_filter_covers_from("#", "$SYS/#", 0));
	ck_assert(!acl_topic_matches_from(NULL, "a", 1));
	ck_assert(!acl_filter_covers_from("a", NULL, 1));
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


/* ---- randomized cross-checks against a level-by-level reference ---- */

/* Split s into levels; returns the count. */
static int split(const char *s, char lv[][8], int max)
{
	int n = 0;
	const char *p = s;

	for(;;){
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if(n >= max || len >= 8) abort();   /* not ck_assert: too hot for Check's bookkeeping */
		memcpy(lv[n], p, len);
		lv[n][len] = '\0';
		n++;
		if(e == NULL) break;
		p = e + 1;
	}
	return n;
}

static bool ref_match(const char *filter, const char *topic)
{
	char f[16][8], t[16][8];
	int nf = split(filter, f, 16), nt = split(topic, t, 16);

	if(topic[0] == '$' && (!strcmp(f[0], "+") || !strcmp(f[0], "#"))) return false;
	for(int i = 0; i < nf; i++){
		if(!strcmp(f[i], "#")) return true;
		if(i >= nt) return false;
		if(strcmp(f[i], "+") && strcmp(f[i], t[i])) return false;
	}
	return nf == nt;
}

static unsigned rnd_state = 12345;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 16) % n;
}

static void random_filter(char *out, bool wildcards)
{
	static const char *const lit[] = {"a", "b", "", "$s"};
	int levels = 1 + (int)rnd(4);

	out[0] = '\0';
	for(int i = 0; i < levels; i++){
		const char *l = lit[rnd(i == 0 ? 4 : 3)];
		if(wildcards){
			unsigned k = rnd(5);
			if(k == 0) l = "+";
			else if(k == 1 && i == levels - 1) l = "#";
		}
		if(i) strcat(out, "/");
		strcat(out, l);
	}
}

/* Every topic of up to 5 levels over {a, b, "", c, $s}: enough to tell
 * apart any two filters that random_filter makes. */
static int all_topics(char out[][24], int max)
{
	static const char *const lit[] = {"a", "b", "", "c", "$s"};
	int n = 0;

	for(int levels = 1; levels <= 5; levels++){
		int total = 1;
		for(int i = 0; i < levels; i++) total *= 5;
		for(int code = 0; code < total; code++){
			int c = code;
			if(n >= max) abort();
			out[n][0] = '\0';
			for(int i = 0; i < levels; i++){
				const char *l = lit[c % 5];
				c /= 5;
				if(i > 0 && l[0] == '$') l = "c";
				if(i) strcat(out[n], "/");
				strcat(out[n], l);
			}
			n++;
		}
	}
	return n;
}

static char topics[4000][24];

START_TEST(test_random_matches)
{
	char f[64], t[64];

	for(int i = 0; i < 20000; i++){
		random_filter(f, true);
		random_filter(t, false);
		if(acl_topic_matches(f, t) != ref_match(f, t)) ck_abort_msg("matches(\"%s\", \"%s\")", f, t);
	}
}
END_TEST

START_TEST(test_random_covers_sound_overlap_exact)
{
	int nt = all_topics(topics, 4000);
	char a[64], b[64];

	for(int i = 0; i < 1000; i++){
		bool cover = true, overlap = false;

		random_filter(a, true);
		random_filter(b, true);
		for(int j = 0; j < nt; j++){
			bool mb = ref_match(b, topics[j]), ma = ref_match(a, topics[j]);
			if(mb && !ma) cover = false;
			if(mb && ma) overlap = true;
		}
		/* Covering may be conservative, never generous. */
		/* Per-iteration ck_assert would dominate the run time under CK_FORK. */
		if(acl_filter_covers(a, b) && !cover){
			ck_abort_msg("covers(\"%s\", \"%s\") but a topic of the filter escapes the rule", a, b);
		}
		/* The only known conservative case: `+/#` (or `+` before `/#`) versus `#`. */
		if(!acl_filter_covers(a, b) && cover && !strstr(a, "+/#")){
			ck_abort_msg("covers(\"%s\", \"%s\") missed", a, b);
		}
		if(acl_filters_overlap(a, b) != overlap) ck_abort_msg("overlap(\"%s\", \"%s\")", a, b);
	}
}
END_TEST

START_TEST(test_plus_levels)
{
	static const struct {
		const char *filter;
		size_t offset;
		unsigned n;
	} shapes[] = {
		{"upload_data/+/+/+/+", 12, 4}, {"a/+", 2, 1}, {"a/b/+/+", 4, 2}, {"a/+", 0, 0}, {"a/+/#", 2, 0},
		{"a/+/b", 2, 0}, {"a/+x", 2, 0}, {"$s/+", 3, 0}, {"a/b", 3, 0}, {"ab+/+", 2, 0},
	};
	static const char *const filters[] = {"upload_data/+/+/+/+", "a/+", "a/b/+/+", "x/+/+", NULL};
	static const char *const rest_topics[] = {"upload_data/p/d/t/1", "upload_data/p/d/t", "upload_data/p/d/t/1/",
		"upload_data////", "upload_data///", "upload_data/", "a/", "a/b", "a/b/", "a//", "a/b/c/d", "a/b//",
		"a/b/c", "a/b/c/d/e", "x/y/z", "x//", "x/y", "x/y/z/", NULL};

	for(size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++){
		ck_assert_msg(acl_topic_plus_levels(shapes[i].filter, shapes[i].offset) == shapes[i].n, "%s",
				shapes[i].filter);
	}
	/* where it applies, it agrees with the general matcher */
	for(size_t f = 0; filters[f]; f++){
		size_t off = strcspn(filters[f], "+"); /* the literal prefix */
		unsigned n;

		n = acl_topic_plus_levels(filters[f], off);
		ck_assert_uint_gt(n, 0);
		for(size_t t = 0; rest_topics[t]; t++){
			if(strncmp(rest_topics[t], filters[f], off) != 0) continue;
			ck_assert_msg(acl_topic_plus_rest_matches(rest_topics[t] + off, n) == acl_topic_matches(filters[f], rest_topics[t]),
					"%s %s", filters[f], rest_topics[t]);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_topic");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, test_matches_table);
	tcase_add_test(tc, test_matches_null);
	tcase_add_test(tc, test_from_offset);
	tcase_add_test(tc, test_covers_table);
	tcase_add_test(tc, test_covers_equals_matches_for_topics);
	tcase_add_test(tc, test_overlap_table);
	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_share_strip);
	tcase_add_test(tc, test_random_matches);
	tcase_add_test(tc, test_random_covers_sound_overlap_exact);
	tcase_add_test(tc, test_plus_levels);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
