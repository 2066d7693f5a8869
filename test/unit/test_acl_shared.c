/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * acl/rules template form and acl/rules_intern: a shared block decides
 * exactly as the block compiled for one plain subject (differential, over
 * many rule sets, subjects, accesses and topics), subjects that are not
 * plain are refused, identical inputs share one block, and the table
 * forgets a block with its last reference.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/rules.h"
#include "acl/rules_intern.h"
#include "autosub/autosub_template.h"
#include "core/config.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static struct ih_config cfg;
static struct acl_templates *tpl;
static long blocks_at_start;

static void setup(void)
{
	blocks_at_start = stub_mem_live_blocks();
	ck_assert_int_eq(ih_config_parse(&cfg, NULL, 0), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_templates_init(&tpl, &cfg), MOSQ_ERR_SUCCESS);
}

static void teardown(void)
{
	acl_templates_cleanup(tpl);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}

static struct acl_subject subject(const char *user, const char *cid)
{
	return (struct acl_subject){user, (size_t)(strchr(user, '/') - user), cid, false};
}

/* Registry rule sets: placeholders everywhere, %%, denies, the '$' rule. */
static char *set_pub[][4] = {
	{NULL},
	{"a/%u/#", "%c/x", "b/%p/+/%d", NULL},
	{"+/%u/+", "%u", "%p/%d/#", "lit/%%/%c"},
	{"$SYS/%u/#", "%d/%p", "q/%c/%c", NULL},
};
static char *set_deny[][3] = {
	{NULL},
	{"upload_data/%p/%d/secret/+", NULL},
	{"+/%u/#", "%c", NULL},
	{"cmd/%p/%d/#", "m2m/%p/+/%d/#", NULL},
};

static const char *const topics[] = {
	"upload_data/p1/d1/temp/1", "upload_data/p1/d1/secret/1", "upload_data/p1/d2/temp/1",
	"upload_data/p1/d1/temp", "upload_data/p1/d1//", "upload_data/p1/d1", "upload_data/p1",
	"update_status/p1/d1/1", "cmd/p1/d1/reboot/json/1", "cmd/p1/d1/a/b/c/d/e", "cmd/p1/d1/a/b",
	"cmd/p1/d1", "rpc/p1/d1/x/y/z", "m2m/p1/d1/x", "m2m/p1/d2/d1/x", "m2m/p1/d1/d1/x",
	"tags/p1/t/cmd/a/b/c", "tags/p1/t/cmd/a/b/c/#", "tags/p1/+/cmd/+/+/+/#", "tags/p2/+/cmd/+/+/+/#",
	"a/p1/d1", "a/p1/d1/x/y", "a/p1", "a/p1/d1x", "c1/x", "c2/x", "c1", "b/p1/z/d1", "b/p1/d1",
	"z/p1/d1/z", "p1/d1", "p1/d1/x", "p1/d1x", "lit/%/c1", "lit/%%/c1", "$SYS/p1/d1/x", "$SYS/p1/d1",
	"d1/p1", "q/c1/c1", "q/c1/c2", "x/p1/d1/y", "$x/p1/d1/y",
	"cmd/p1/d1/+/+/+/#", "cmd/p1/+/+/+/+/#", "cmd/#", "#", "+/p1/#", "a/p1/d1/#", "a/+/d1/#",
	"upload_data/p1/d1/+/+", "upload_data/p1/+/temp/1", "m2m/p1/+/d1/+", "p1/d1/#", "c1/+",
	"$share/g/cmd/p1/d1/+/+/+/#", "$share/g/a/p1/d1/#", "prod/dev-9/x", "a/prod/dev-9", "client-x/x",
};

static void differential(const struct acl_subject *who, struct ih_acl_lists *lists)
{
	static const int access[] = {MOSQ_ACL_WRITE, MOSQ_ACL_READ, MOSQ_ACL_SUBSCRIBE, MOSQ_ACL_UNSUBSCRIBE};
	struct autosub_list grants;
	struct acl_rules *lit = NULL, *sh = NULL;

	ck_assert(acl_subject_plain(who));
	ck_assert_int_eq(autosub_instantiate(&grants, &cfg, who, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_rules_build(&lit, tpl, lists, grants.names, grants.count, who), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_rules_build_shared(&sh, tpl, lists, cfg.autosub, cfg.autosub_count), MOSQ_ERR_SUCCESS);
	ck_assert(acl_rules_templated(sh));
	ck_assert(acl_rules_fits(sh, who));
	for(size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++){
		for(size_t a = 0; a < sizeof(access) / sizeof(access[0]); a++){
			enum acl_decision want = acl_rules_check(lit, who, access[a], topics[t]);
			enum acl_decision got = acl_rules_check(sh, who, access[a], topics[t]);
			ck_assert_msg(got == want, "%s (client %s) access %d \"%s\": shared %d, compiled %d",
					who->username, who->client_id, access[a], topics[t], got, want);
		}
	}
	/* Without a subject a template-form block matches nothing. */
	ck_assert_int_eq(acl_rules_check(sh, NULL, MOSQ_ACL_WRITE, "upload_data/p1/d1/temp/1"), ACL_NOMATCH);
	acl_rules_free(sh);
	acl_rules_free(lit);
	autosub_list_free(&grants);
}

START_TEST(test_shared_decides_as_compiled)
{
	const struct acl_subject who[] = {
		subject("p1/d1", "c1"), subject("p1/d2", "c1"), subject("prod/dev-9", "client-x"),
		subject("p1/d1", "d1"), subject("p/d", "p"),
	};

	for(size_t p = 0; p < sizeof(set_pub) / sizeof(set_pub[0]); p++){
		for(size_t d = 0; d < sizeof(set_deny) / sizeof(set_deny[0]); d++){
			struct ih_acl_lists lists;
			size_t np = 0, nd = 0;

			memset(&lists, 0, sizeof(lists));
			while(np < 4 && set_pub[p][np]) np++;
			while(nd < 3 && set_deny[d][nd]) nd++;
			lists.list[IH_ACL_PUBSUB] = (struct ih_strlist){set_pub[p], np};
			lists.list[IH_ACL_DENY] = (struct ih_strlist){set_deny[d], nd};
			for(size_t w = 0; w < sizeof(who) / sizeof(who[0]); w++) differential(&who[w], &lists);
		}
	}
}
END_TEST

START_TEST(test_plain_subjects)
{
	struct acl_subject s = subject("p1/d1", "c1");

	ck_assert(acl_subject_plain(&s));
	ck_assert(!acl_subject_plain(NULL));
	s = subject("p1/d1", "a/b");
	ck_assert(!acl_subject_plain(&s));     /* '/' in the client id: denies widen per connection */
	s = subject("p1/d1", "#");
	ck_assert(!acl_subject_plain(&s));
	s = subject("p1/d1", "$c");
	ck_assert(!acl_subject_plain(&s));
	s = subject("$p/d1", "c1");
	ck_assert(!acl_subject_plain(&s));
	s = subject("p1/+", "c1");
	ck_assert(!acl_subject_plain(&s));
	s = (struct acl_subject){"p1/d1", 2, NULL, false};
	ck_assert(!acl_subject_plain(&s));
	s = (struct acl_subject){NULL, 0, "c1", false};
	ck_assert(!acl_subject_plain(&s));
	s = (struct acl_subject){"p1/d1", 2, "c1", true};
	ck_assert(!acl_subject_plain(&s));     /* token clients: %u is one level */
	s = (struct acl_subject){"p1/d1/x", 2, "c1", false};
	ck_assert(!acl_subject_plain(&s));
}
END_TEST

START_TEST(test_fits_refuses_too_long)
{
	static char big[30000];
	struct acl_rules *sh = NULL;
	struct acl_subject s;

	memset(big, 'x', sizeof(big) - 1);
	big[2] = '/';
	s = (struct acl_subject){big, 2, "c1", false};
	ck_assert(acl_subject_plain(&s));
	/* The defaults use at most two values per rule ("m2m/%p/+/%d/+"): fits ... */
	ck_assert_int_eq(acl_rules_build_shared(&sh, tpl, NULL, cfg.autosub, cfg.autosub_count), MOSQ_ERR_SUCCESS);
	ck_assert(acl_rules_fits(sh, &s));
	acl_rules_free(sh);
	/* ... but not a rule holding it three times (it would be dropped). */
	{
		char *pub[] = {"%u/%u/%u"};
		struct ih_acl_lists lists;

		memset(&lists, 0, sizeof(lists));
		lists.list[IH_ACL_PUBLISH] = (struct ih_strlist){pub, 1};
		ck_assert_int_eq(acl_rules_build_shared(&sh, tpl, &lists, NULL, 0), MOSQ_ERR_SUCCESS);
		ck_assert(!acl_rules_fits(sh, &s));
		acl_rules_free(sh);
	}
}
END_TEST

START_TEST(test_marker_bytes_not_shared)
{
	char *pub[] = {"a/\x01/b"};
	struct ih_acl_lists lists;
	struct acl_rules *sh = NULL;
	struct acl_intern *t;

	memset(&lists, 0, sizeof(lists));
	lists.list[IH_ACL_PUBLISH] = (struct ih_strlist){pub, 1};
	ck_assert_int_eq(acl_rules_build_shared(&sh, tpl, &lists, NULL, 0), MOSQ_ERR_NOT_SUPPORTED);
	ck_assert_ptr_null(sh);
	ck_assert_int_eq(acl_intern_new(&t), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_intern_get(t, tpl, &lists, NULL, 0, &sh), MOSQ_ERR_NOT_SUPPORTED);
	ck_assert_int_eq(acl_intern_count(t), 0);
	acl_intern_free(t);
}
END_TEST

START_TEST(test_intern_shares_identical_sets)
{
	char *pub1[] = {"a/%u/#"}, *pub2[] = {"a/%u/#"}, *pub3[] = {"b/%u/#"};
	struct ih_acl_lists l1, l2, l3, l4;
	struct acl_rules *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
	struct acl_intern *t;

	memset(&l1, 0, sizeof(l1));
	memset(&l2, 0, sizeof(l2));
	memset(&l3, 0, sizeof(l3));
	memset(&l4, 0, sizeof(l4));
	l1.list[IH_ACL_PUBLISH] = (struct ih_strlist){pub1, 1};
	l2.list[IH_ACL_PUBLISH] = (struct ih_strlist){pub2, 1};   /* same text, other strings */
	l3.list[IH_ACL_PUBLISH] = (struct ih_strlist){pub3, 1};
	l4.list[IH_ACL_SUBSCRIBE] = (struct ih_strlist){pub1, 1}; /* same text, other list */
	ck_assert_int_eq(acl_intern_new(&t), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_intern_get(t, tpl, &l1, cfg.autosub, cfg.autosub_count, &a), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_intern_get(t, tpl, &l2, cfg.autosub, cfg.autosub_count, &b), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_intern_get(t, tpl, &l3, cfg.autosub, cfg.autosub_count, &c), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_intern_get(t, tpl, &l4, cfg.autosub, cfg.autosub_count, &d), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_intern_get(t, tpl, NULL, cfg.autosub, cfg.autosub_count, &e), MOSQ_ERR_SUCCESS);
	ck_assert_ptr_eq(a, b);
	ck_assert_ptr_ne(a, c);
	ck_assert_ptr_ne(a, d);
	ck_assert_ptr_ne(a, e);
	ck_assert_int_eq(acl_intern_count(t), 4);
	ck_assert_uint_gt(acl_intern_memory(t), 4 * acl_rules_memory(e));
	acl_rules_free(a);
	ck_assert_int_eq(acl_intern_count(t), 4);   /* b still holds it */
	acl_rules_free(b);
	ck_assert_int_eq(acl_intern_count(t), 3);
	acl_rules_free(c);
	acl_rules_free(d);
	/* A block outliving its table is still freed by its last reference. */
	acl_intern_free(t);
	{
		struct acl_subject s = subject("p1/d1", "c1");
		ck_assert_int_eq(acl_rules_check(e, &s, MOSQ_ACL_WRITE, "upload_data/p1/d1/t/1"), ACL_ALLOW);
	}
	acl_rules_free(e);
}
END_TEST

START_TEST(test_one_block_for_a_fleet)
{
	struct acl_intern *t;
	struct acl_rules *r[50];
	long before;

	ck_assert_int_eq(acl_intern_new(&t), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_intern_get(t, tpl, NULL, cfg.autosub, cfg.autosub_count, &r[0]), MOSQ_ERR_SUCCESS);
	before = stub_mem_live_blocks();
	for(int i = 1; i < 50; i++){
		ck_assert_int_eq(acl_intern_get(t, tpl, NULL, cfg.autosub, cfg.autosub_count, &r[i]), MOSQ_ERR_SUCCESS);
		ck_assert_ptr_eq(r[i], r[0]);
	}
	/* Every further connection costs no allocation at all. */
	ck_assert_int_eq(stub_mem_live_blocks(), before);
	for(int i = 0; i < 50; i++) acl_rules_free(r[i]);
	ck_assert_int_eq(acl_intern_count(t), 0);
	acl_intern_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_shared");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_shared_decides_as_compiled);
	tcase_add_test(tc, test_plain_subjects);
	tcase_add_test(tc, test_fits_refuses_too_long);
	tcase_add_test(tc, test_marker_bytes_not_shared);
	tcase_add_test(tc, test_intern_shares_identical_sets);
	tcase_add_test(tc, test_one_block_for_a_fleet);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
