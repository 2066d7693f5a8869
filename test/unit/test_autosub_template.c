/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * autosub/autosub_template: startup validation tables and per-connection
 * instantiation (placeholders, tags, merging, unsafe values).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "autosub/autosub_template.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static long blocks_at_start;

static void setup(void)
{
	blocks_at_start = stub_mem_live_blocks();
	stub_log_clear();
}

static void teardown(void)
{
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}

START_TEST(test_accept)
{
	static const char *const ok[] = {
		"cmd/%u/+/+/+/#", "rpc/%u/+/+/+/#", "m2m/%u/+/+", "m2m/%p/%d/+/+", "inbox/%c/#",
		"%u/#", "%c", "cmd/%u", "a/%d/x/%p/#", "cmd/%u/+/%c/#", "notice/%p/all", "broadcast",
		"x/%c/+/%%/#",
	};
	char err[256];

	for(size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++){
		ck_assert_msg(autosub_template_check(ok[i], err, sizeof(err)) == MOSQ_ERR_SUCCESS,
				"\"%s\" refused: %s", ok[i], err);
	}
}
END_TEST

START_TEST(test_reject)
{
	static const struct { const char *tpl; const char *why; } bad[] = {
		{"+/%u/#", "level 1"},
		{"cmd/+/%u/#", "level 2"},
		{"cmd/%p/+/#", "level 3"},
		{"cmd/%d/+", "level 3"},
		{"m2m/%p/+/%d", "level 3"},
		{"cmd/#", "level 2"},
		{"#", "level 1"},
		{"+", "level 1"},
		{"tags/%p/+/cmd/#", "level 3"},
		{"up/%x/#", "unknown placeholder %x"},
		{"a%u/#", "whole topic level"},
		{"cmd/%u/#/x", "not a valid topic filter"},
	};
	char err[256];

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		ck_assert_msg(autosub_template_check(bad[i].tpl, err, sizeof(err)) == MOSQ_ERR_INVAL,
				"\"%s\" accepted", bad[i].tpl);
		ck_assert_msg(strstr(err, bad[i].why), "\"%s\": \"%s\"", bad[i].tpl, err);
	}
}
END_TEST

START_TEST(test_validate_config)
{
	struct mosquitto_opt opts[] = {
		{"autosub", "cmd/%u/+/+/+/# 1"},
		{"autosub", "cmd/# 1"},
		{"autosub", "+/%u/# 0"},
	};
	struct ih_config cfg;

	ck_assert_int_eq(ih_config_parse(&cfg, NULL, 0), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(autosub_templates_validate(&cfg), MOSQ_ERR_SUCCESS);
	ih_config_cleanup(&cfg);

	ck_assert_int_eq(ih_config_parse(&cfg, opts, 3), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(autosub_templates_validate(&cfg), MOSQ_ERR_INVAL);
	ck_assert(stub_log_contains("iothub: option plugin_opt_autosub \"cmd/#\": wildcard at level 2"));
	ck_assert(stub_log_contains("iothub: option plugin_opt_autosub \"+/%u/#\": wildcard at level 1"));
	ck_assert(!stub_log_contains("\"cmd/%u/+/+/+/#\""));
	ih_config_cleanup(&cfg);
}
END_TEST

START_TEST(test_instantiate_defaults)
{
	struct ih_config cfg;
	struct acl_subject who = {"p1/d1", 2, "c1", false};
	struct autosub_list l;
	long before;

	ck_assert_int_eq(ih_config_parse(&cfg, NULL, 0), MOSQ_ERR_SUCCESS);
	before = stub_mem_live_blocks();
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &who, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(stub_mem_live_blocks() - before, 1);   /* one allocation */
	ck_assert_uint_eq(l.count, 3);
	ck_assert_str_eq(l.items[0].filter, "cmd/p1/d1/+/+/+/#");
	ck_assert_str_eq(l.items[1].filter, "rpc/p1/d1/+/+/+/#");
	ck_assert_str_eq(l.items[2].filter, "m2m/p1/d1/+/+");
	for(size_t i = 0; i < l.count; i++){
		ck_assert_int_eq(l.items[i].qos, 1);
		ck_assert_ptr_eq(l.names[i], l.items[i].filter);
	}
	ck_assert_uint_gt(l.bytes, 0);
	autosub_list_free(&l);
	ck_assert_uint_eq(l.count, 0);
	ck_assert_ptr_null(l.items);
	autosub_list_free(&l);
	autosub_list_free(NULL);
	ih_config_cleanup(&cfg);
}
END_TEST

START_TEST(test_tags)
{
	struct mosquitto_opt opts[] = {
		{"autosub_tags", "true"},
		{"autosub_tags_qos", "2"},
	};
	char *tags[] = {"floor1", "", "a/b", "x+", "#", "bad\x01", "\xff\xfe", "floor1", "\xe6\xa5\xbc", "100%"};
	struct ih_strlist tl = {tags, sizeof(tags) / sizeof(tags[0])};
	struct ih_config cfg;
	struct acl_subject who = {"p1/d1", 2, "c1", false};
	struct autosub_list l;

	ck_assert_int_eq(ih_config_parse(&cfg, opts, 2), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &who, &tl), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 3 + 3);
	ck_assert_str_eq(l.items[3].filter, "tags/p1/floor1/cmd/#");
	ck_assert_str_eq(l.items[4].filter, "tags/p1/\xe6\xa5\xbc/cmd/#");
	ck_assert_str_eq(l.items[5].filter, "tags/p1/100%/cmd/#");   /* tags are values, not templates */
	ck_assert_int_eq(l.items[3].qos, 2);
	ck_assert_int_eq(stub_log_count("skipped for auto-subscription"), 6);
	ck_assert(stub_log_contains("tag \"a/b\""));
	autosub_list_free(&l);

	/* autosub_tags off: tags ignored. */
	cfg.autosub_tags = false;
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &who, &tl), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 3);
	autosub_list_free(&l);
	ih_config_cleanup(&cfg);
}
END_TEST

/* "autosub none": no filters; autosub_tags is a switch of its own. */
START_TEST(test_none)
{
	struct mosquitto_opt opts[] = {
		{"autosub", "none"},
		{"autosub_tags", "true"},
	};
	char *tags[] = {"floor1"};
	struct ih_strlist tl = {tags, 1};
	struct ih_config cfg;
	struct acl_subject who = {"p1/d1", 2, "c1", false};
	struct autosub_list l;

	ck_assert_int_eq(ih_config_parse(&cfg, opts, 2), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(autosub_templates_validate(&cfg), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &who, &tl), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 1);
	ck_assert_str_eq(l.items[0].filter, "tags/p1/floor1/cmd/#");
	autosub_list_free(&l);

	cfg.autosub_tags = false;
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &who, &tl), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 0);
	autosub_list_free(&l);
	ih_config_cleanup(&cfg);
}
END_TEST

START_TEST(test_merge_max_qos)
{
	struct mosquitto_opt opts[] = {
		{"autosub", "cmd/%u/# 0"},
		{"autosub", "cmd/%p/%d/# 2"},
		{"autosub", "cmd/%u/# 1"},
	};
	struct ih_config cfg;
	struct acl_subject who = {"p1/d1", 2, "c1", false};
	struct autosub_list l;

	ck_assert_int_eq(ih_config_parse(&cfg, opts, 3), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &who, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 1);
	ck_assert_str_eq(l.names[0], "cmd/p1/d1/#");
	ck_assert_int_eq(l.items[0].qos, 2);
	autosub_list_free(&l);
	ih_config_cleanup(&cfg);
}
END_TEST

START_TEST(test_unsafe_and_anonymous)
{
	struct mosquitto_opt opts[] = {
		{"autosub", "inbox/%c/# 1"},
		{"autosub", "cmd/%u/+/+/+/# 1"},
		{"autosub", "notice/all 0"},
		{"autosub_tags", "true"},
	};
	char *tags[] = {"floor1"};
	struct ih_strlist tl = {tags, 1};
	struct ih_config cfg;
	struct acl_subject evil = {"p1/d1", 2, "#", false};
	struct acl_subject anon = {NULL, 0, "anon", false};
	struct autosub_list l;

	ck_assert_int_eq(ih_config_parse(&cfg, opts, 4), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &evil, &tl), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 3);
	ck_assert_str_eq(l.names[0], "cmd/p1/d1/+/+/+/#");
	ck_assert_str_eq(l.names[1], "notice/all");
	ck_assert_str_eq(l.names[2], "tags/p1/floor1/cmd/#");
	ck_assert_int_eq(stub_log_count("auto-subscription(s) skipped"), 1);
	ck_assert(stub_log_contains("\"inbox/%c/#\""));
	autosub_list_free(&l);

	stub_log_clear();
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &anon, &tl), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 2);
	ck_assert_str_eq(l.names[0], "inbox/anon/#");
	ck_assert_str_eq(l.names[1], "notice/all");
	ck_assert_int_eq(stub_log_count("skipped"), 0);
	autosub_list_free(&l);

	ck_assert_int_eq(autosub_instantiate(&l, &cfg, NULL, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 1);
	autosub_list_free(&l);
	ih_config_cleanup(&cfg);
}
END_TEST

START_TEST(test_nothing_to_subscribe)
{
	struct mosquitto_opt opts[] = {{"autosub", "cmd/%u/# 1"}};
	struct ih_config cfg;
	struct autosub_list l;
	long before;

	ck_assert_int_eq(ih_config_parse(&cfg, opts, 1), MOSQ_ERR_SUCCESS);
	before = stub_mem_live_blocks();
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, NULL, NULL), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(l.count, 0);
	ck_assert_ptr_null(l.items);
	ck_assert_int_eq(stub_mem_live_blocks(), before);
	autosub_list_free(&l);
	ih_config_cleanup(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("autosub_template");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_accept);
	tcase_add_test(tc, test_reject);
	tcase_add_test(tc, test_validate_config);
	tcase_add_test(tc, test_instantiate_defaults);
	tcase_add_test(tc, test_tags);
	tcase_add_test(tc, test_none);
	tcase_add_test(tc, test_merge_max_qos);
	tcase_add_test(tc, test_unsafe_and_anonymous);
	tcase_add_test(tc, test_nothing_to_subscribe);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
