/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * acl/rules: decisions of the IotHub default rule set for p1/d1, p1/d2 and
 * p2/d1, deny precedence, read grants, registry rules, placeholders that
 * must not widen, and the '$' topics.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/rules.h"
#include "autosub/autosub_template.h"
#include "core/config.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

#define W MOSQ_ACL_WRITE
#define R MOSQ_ACL_READ
#define S MOSQ_ACL_SUBSCRIBE
#define U MOSQ_ACL_UNSUBSCRIBE

static struct ih_config cfg;
static struct acl_templates *tpl;
static long blocks_at_start;

static void setup_opts(const struct mosquitto_opt *opts, int n)
{
	blocks_at_start = stub_mem_live_blocks();
	stub_log_clear();
	ck_assert_int_eq(ih_config_parse(&cfg, opts, n), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_templates_init(&tpl, &cfg), MOSQ_ERR_SUCCESS);
}

static void setup(void)
{
	setup_opts(NULL, 0);
}

static void teardown(void)
{
	acl_templates_cleanup(tpl);
	tpl = NULL;
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}

/* The default auto-subscriptions of a device, as read grants. */
static struct acl_rules *build_for(const char *username, const char *client_id, const struct ih_acl_lists *dev)
{
	char g[3][128];
	const char *grants[3] = {g[0], g[1], g[2]};
	struct acl_subject who = {username, 0, client_id, false};
	struct acl_rules *r = NULL;
	size_t ng = 0;

	if(username){
		who.product_len = (size_t)(strchr(username, '/') - username);
		snprintf(g[0], sizeof(g[0]), "cmd/%s/+/+/+/#", username);
		snprintf(g[1], sizeof(g[1]), "rpc/%s/+/+/+/#", username);
		snprintf(g[2], sizeof(g[2]), "m2m/%s/+/+", username);
		ng = 3;
	}
	ck_assert_int_eq(acl_rules_build(&r, tpl, dev, grants, ng, &who), MOSQ_ERR_SUCCESS);
	ck_assert_ptr_nonnull(r);
	return r;
}

#define CHECK(r, access, topic, want) \
	ck_assert_msg(acl_rules_check((r), NULL, (access), (topic)) == (want), \
			"%s %s: got %d, want %d", #access, (topic), acl_rules_check((r), NULL, (access), (topic)), (want))

START_TEST(test_default_own_uplinks)
{
	static const char *const up[] = {
		"upload_data/p1/d1/temp/1", "update_status/p1/d1/1", "update_ota_status/p1/d1/1",
		"cmd_resp/p1/d1/reboot/r1/m1", "rpc_resp/p1/d1/reboot/r1/m1", "get/p1/d1/time/1",
	};
	struct acl_rules *r = build_for("p1/d1", "c1", NULL);

	for(size_t i = 0; i < sizeof(up) / sizeof(up[0]); i++){
		CHECK(r, W, up[i], ACL_ALLOW);
		/* Uplinks are not delivered to the device and it may not subscribe to them. */
		CHECK(r, R, up[i], ACL_NOMATCH);
		CHECK(r, S, up[i], ACL_NOMATCH);
	}
	CHECK(r, W, "upload_data/p1/d1/temp", ACL_NOMATCH);        /* missing MessageId */
	CHECK(r, W, "upload_data/p1/d1/temp/1/x", ACL_NOMATCH);
	/* '+' matches an empty level too, as in the broker's own matcher */
	CHECK(r, W, "upload_data/p1/d1//", ACL_ALLOW);
	CHECK(r, W, "upload_data/p1/d1/temp/", ACL_ALLOW);
	CHECK(r, W, "upload_data/p1/d1/", ACL_NOMATCH);
	CHECK(r, W, "upload_data/p1/d1///", ACL_NOMATCH);
	acl_rules_free(r);
}
END_TEST

START_TEST(test_default_other_devices)
{
	struct acl_rules *d1 = build_for("p1/d1", "c1", NULL);
	struct acl_rules *d2 = build_for("p1/d2", "c2", NULL);
	struct acl_rules *p2 = build_for("p2/d1", "c3", NULL);

	/* NOMATCH: denied by the default acl_nomatch deny. */
	CHECK(d1, W, "upload_data/p1/d2/temp/1", ACL_NOMATCH);
	CHECK(d1, W, "update_status/p2/d1/1", ACL_NOMATCH);
	CHECK(d2, W, "upload_data/p1/d2/temp/1", ACL_ALLOW);
	CHECK(d2, W, "upload_data/p1/d1/temp/1", ACL_NOMATCH);
	CHECK(p2, W, "upload_data/p2/d1/temp/1", ACL_ALLOW);
	CHECK(p2, W, "upload_data/p1/d1/temp/1", ACL_NOMATCH);

	/* Commands: each device receives its own only. */
	CHECK(d1, R, "cmd/p1/d1/reboot/json/r1", ACL_ALLOW);
	CHECK(d1, R, "cmd/p1/d1/reboot/json/r1/1700000000", ACL_ALLOW);
	CHECK(d1, R, "rpc/p1/d1/ping/json/r2", ACL_ALLOW);
	CHECK(d1, R, "cmd/p1/d2/reboot/json/r1", ACL_NOMATCH);
	CHECK(d2, R, "cmd/p1/d2/reboot/json/r1", ACL_ALLOW);
	CHECK(p2, R, "cmd/p1/d1/reboot/json/r1", ACL_NOMATCH);
	CHECK(p2, R, "cmd/p2/d1/reboot/json/r1", ACL_ALLOW);
	acl_rules_free(d1);
	acl_rules_free(d2);
	acl_rules_free(p2);
}
END_TEST

START_TEST(test_default_m2m)
{
	struct acl_rules *d1 = build_for("p1/d1", "c1", NULL);
	struct acl_rules *d2 = build_for("p1/d2", "c2", NULL);

	/* m2m/{P}/{ToD}/{FromD}/{MessageId}: to a peer, as itself. */
	CHECK(d1, W, "m2m/p1/d2/d1/x", ACL_ALLOW);
	CHECK(d1, W, "m2m/p1/d2/d3/x", ACL_NOMATCH);     /* impersonating d3 */
	CHECK(d1, W, "m2m/p2/d2/d1/x", ACL_NOMATCH);     /* another product */
	CHECK(d1, W, "m2m/p1/d2/d1", ACL_NOMATCH);
	/* The peer receives it through its m2m auto-subscription. */
	CHECK(d2, R, "m2m/p1/d2/d1/x", ACL_ALLOW);
	CHECK(d1, R, "m2m/p1/d2/d1/x", ACL_NOMATCH);
	acl_rules_free(d1);
	acl_rules_free(d2);
}
END_TEST

START_TEST(test_default_subscribe)
{
	struct acl_rules *r = build_for("p1/d1", "c1", NULL);

	CHECK(r, S, "#", ACL_NOMATCH);
	CHECK(r, S, "+/p1/#", ACL_NOMATCH);
	CHECK(r, S, "$SYS/#", ACL_NOMATCH);
	CHECK(r, S, "cmd/p1/d2/#", ACL_NOMATCH);
	CHECK(r, S, "cmd/p1/d2/reboot/json/r1", ACL_NOMATCH);
	CHECK(r, S, "tags/#", ACL_NOMATCH);
	CHECK(r, S, "+/p1/+/cmd/#", ACL_NOMATCH);
	CHECK(r, S, "tags/p1/+/cmd/+/+/+/#", ACL_ALLOW);
	CHECK(r, S, "tags/p1/t1/cmd/+/+/+/#", ACL_ALLOW);
	CHECK(r, S, "tags/p1/t1/cmd/reboot/json/r1", ACL_ALLOW);
	CHECK(r, S, "tags/p1/t1/cmd/#", ACL_NOMATCH);   /* would include tags/p1/t1/cmd/x */
	CHECK(r, S, "tags/p2/t1/cmd/+/+/+/#", ACL_NOMATCH);
	CHECK(r, S, "$share/g/tags/p1/t1/cmd/+/+/+/#", ACL_ALLOW);
	CHECK(r, S, "$share/g/#", ACL_NOMATCH);
	CHECK(r, S, "$share//tags/p1/t1/cmd/#", ACL_DENY);
	CHECK(r, S, "$share/g", ACL_DENY);
	CHECK(r, R, "tags/p1/t1/cmd/reboot/json/r1", ACL_ALLOW);
	CHECK(r, U, "#", ACL_ALLOW);
	CHECK(r, U, "$share/x/anything", ACL_ALLOW);
	acl_rules_free(r);
}
END_TEST

START_TEST(test_read_grants_allow_read_and_subscribe_not_write)
{
	struct acl_rules *r = build_for("p1/d1", "c1", NULL);

	CHECK(r, R, "cmd/p1/d1/reboot/json/r1", ACL_ALLOW);
	CHECK(r, S, "cmd/p1/d1/+/+/+/#", ACL_ALLOW);
	CHECK(r, S, "cmd/p1/d1/reboot/json/r1", ACL_ALLOW);
	CHECK(r, S, "cmd/p1/#", ACL_NOMATCH);
	CHECK(r, S, "cmd/p1/d2/+/+/+/#", ACL_NOMATCH);
	CHECK(r, W, "cmd/p1/d1/reboot/json/r1", ACL_NOMATCH);
	acl_rules_free(r);
}
END_TEST

START_TEST(test_deny_wins)
{
	struct ih_acl_lists dev;
	char *deny[] = {"upload_data/%p/%d/secret/+", "tags/%p/blocked/#"};
	char *deny_pub[] = {"get/%p/%d/#"};
	char *deny_sub[] = {"cmd/%u/reboot/#"};
	char *pubsub[] = {"shared/%p/#"};
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_DENY] = (struct ih_strlist){deny, 2};
	dev.list[IH_ACL_DENY_PUBLISH] = (struct ih_strlist){deny_pub, 1};
	dev.list[IH_ACL_DENY_SUBSCRIBE] = (struct ih_strlist){deny_sub, 1};
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){pubsub, 1};
	r = build_for("p1/d1", "c1", &dev);

	CHECK(r, W, "upload_data/p1/d1/secret/1", ACL_DENY);
	CHECK(r, W, "upload_data/p1/d1/temp/1", ACL_ALLOW);
	CHECK(r, W, "get/p1/d1/time/1", ACL_DENY);
	CHECK(r, R, "get/p1/d1/time/1", ACL_NOMATCH);     /* deny_publish is WRITE only */
	CHECK(r, R, "cmd/p1/d1/reboot/json/r1", ACL_DENY);  /* beats the read grant */
	CHECK(r, R, "cmd/p1/d1/other/json/r1", ACL_ALLOW);
	CHECK(r, W, "cmd/p1/d1/reboot/json/r1", ACL_NOMATCH); /* deny_subscribe is READ/SUBSCRIBE only */

	/* Covered by a deny rule: denied. Partial overlap: allowed, and the
	 * READ check filters the denied topics at delivery. */
	CHECK(r, S, "tags/p1/blocked/cmd/+/+/+/#", ACL_DENY);
	CHECK(r, S, "tags/p1/+/cmd/+/+/+/#", ACL_ALLOW);
	CHECK(r, R, "tags/p1/blocked/cmd/a/b/c", ACL_DENY);
	CHECK(r, R, "tags/p1/open/cmd/a/b/c", ACL_ALLOW);

	/* pubsub grants all three; a same-filter deny beats it. */
	CHECK(r, W, "shared/p1/x", ACL_ALLOW);
	CHECK(r, R, "shared/p1/x", ACL_ALLOW);
	CHECK(r, S, "shared/p1/#", ACL_ALLOW);
	CHECK(r, S, "shared/#", ACL_NOMATCH);
	acl_rules_free(r);
}
END_TEST

START_TEST(test_same_filter_allow_and_deny)
{
	struct ih_acl_lists dev;
	char *allow[] = {"x/%c"};
	char *deny[] = {"x/%c"};
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){allow, 1};
	dev.list[IH_ACL_DENY] = (struct ih_strlist){deny, 1};
	r = build_for("p1/d1", "c1", &dev);
	CHECK(r, W, "x/c1", ACL_DENY);
	CHECK(r, R, "x/c1", ACL_DENY);
	CHECK(r, S, "x/c1", ACL_DENY);
	acl_rules_free(r);
}
END_TEST

START_TEST(test_client_id_never_widens)
{
	static const char *const ids[] = {"#", "+", "a/b", "x/#", "", "p1/d2"};
	struct ih_acl_lists dev;
	char *pubsub[] = {"inbox/%c/#"};

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){pubsub, 1};
	for(size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++){
		struct acl_rules *r;

		stub_log_clear();
		r = build_for("p1/d1", ids[i], &dev);
		CHECK(r, R, "inbox/a/b", ACL_NOMATCH);
		CHECK(r, R, "inbox/x/y/z", ACL_NOMATCH);
		CHECK(r, W, "inbox/a/b/c", ACL_NOMATCH);
		CHECK(r, S, "inbox/#", ACL_NOMATCH);
		CHECK(r, S, "inbox/+/#", ACL_NOMATCH);
		/* The rest of the device's rules still apply. */
		CHECK(r, W, "upload_data/p1/d1/temp/1", ACL_ALLOW);
		ck_assert_int_eq(stub_log_count("ACL rule(s) dropped"), 1);
		ck_assert(stub_log_contains("inbox/%c/#"));
		acl_rules_free(r);
	}
	/* A sane client id gets the rule. */
	{
		struct acl_rules *r = build_for("p1/d1", "dev-42", &dev);
		CHECK(r, R, "inbox/dev-42/x", ACL_ALLOW);
		CHECK(r, R, "inbox/dev-43/x", ACL_NOMATCH);
		acl_rules_free(r);
	}
}
END_TEST

START_TEST(test_one_notice_per_connection)
{
	struct ih_acl_lists dev;
	char *pubsub[] = {"a/%c", "b/%c/#", "c/%c/+"};
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){pubsub, 3};
	stub_log_clear();
	r = build_for("p1/d1", "bad/id", &dev);
	ck_assert_int_eq(stub_log_count("ACL rule(s) dropped"), 1);
	ck_assert(stub_log_contains("3 ACL rule(s) dropped"));
	acl_rules_free(r);
}
END_TEST

START_TEST(test_anonymous)
{
	struct ih_acl_lists dev;
	char *pubsub[] = {"public/#", "inbox/%c/#"};
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){pubsub, 2};
	stub_log_clear();
	r = build_for(NULL, "anon-1", &dev);
	ck_assert_uint_eq(acl_rules_count(r), 2);
	CHECK(r, W, "upload_data/p1/d1/temp/1", ACL_NOMATCH);
	CHECK(r, S, "tags/p1/t1/cmd/+/+/+/#", ACL_NOMATCH);
	CHECK(r, W, "public/x", ACL_ALLOW);
	CHECK(r, R, "inbox/anon-1/x", ACL_ALLOW);
	ck_assert_int_eq(stub_log_count("ACL rule(s) dropped"), 0);   /* expected, not a NOTICE */
	acl_rules_free(r);
}
END_TEST

START_TEST(test_dollar_topics)
{
	struct ih_acl_lists dev;
	char *pubsub[] = {"#", "+/#", "+/broker/+"};
	char *sub[] = {"$SYS/broker/#"};
	char *pub[] = {"$CONTROL/dynamic-security/v1"};
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){pubsub, 3};
	dev.list[IH_ACL_SUBSCRIBE] = (struct ih_strlist){sub, 1};
	dev.list[IH_ACL_PUBLISH] = (struct ih_strlist){pub, 1};
	r = build_for("p1/d1", "c1", &dev);
	CHECK(r, R, "a/b", ACL_ALLOW);
	CHECK(r, S, "#", ACL_ALLOW);
	CHECK(r, R, "$SYS/broker/load", ACL_ALLOW);     /* only through the literal rule */
	CHECK(r, R, "$SYS/other", ACL_NOMATCH);
	CHECK(r, S, "$SYS/#", ACL_NOMATCH);
	CHECK(r, S, "$SYS/broker/+", ACL_ALLOW);
	CHECK(r, S, "$share/g/$SYS/#", ACL_NOMATCH);
	CHECK(r, W, "$SYS/broker/load", ACL_NOMATCH);
	CHECK(r, W, "$CONTROL/dynamic-security/v1", ACL_ALLOW);
	CHECK(r, W, "$CONTROL/other", ACL_NOMATCH);
	CHECK(r, R, "$CONTROL/dynamic-security/v1", ACL_NOMATCH);
	acl_rules_free(r);
}
END_TEST

START_TEST(test_edge_inputs)
{
	struct acl_rules *r = build_for("p1/d1", "c1", NULL);

	CHECK(r, W, "", ACL_DENY);
	ck_assert_int_eq(acl_rules_check(r, NULL, W, NULL), ACL_DENY);
	ck_assert_int_eq(acl_rules_check(r, NULL, MOSQ_ACL_NONE, "a"), ACL_DENY);
	ck_assert_int_eq(acl_rules_check(r, NULL, 0x40, "a"), ACL_DENY);
	ck_assert_int_eq(acl_rules_check(NULL, NULL, W, "a"), ACL_NOMATCH);
	acl_rules_free(r);
	acl_rules_free(NULL);
}
END_TEST

START_TEST(test_registry_bad_rules_dropped)
{
	struct ih_acl_lists dev;
	char *pub[] = {"up/%x", "ok/%p/%d", "a%c", "bad/#/x"};
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_PUBLISH] = (struct ih_strlist){pub, 4};
	stub_log_clear();
	r = build_for("p1/d1", "c1", &dev);
	CHECK(r, W, "ok/p1/d1", ACL_ALLOW);
	ck_assert(stub_log_contains("\"up/%x\""));
	ck_assert(stub_log_contains("\"a%c\""));
	ck_assert(stub_log_contains("\"bad/#/x\""));
	acl_rules_free(r);
}
END_TEST

START_TEST(test_bad_read_grant_skipped)
{
	const char *grants[] = {"cmd/p1/d1/#", "bad/#/x", "x+"};
	struct acl_subject who = {"p1/d1", 2, "c1", false};
	struct acl_rules *r = NULL;

	stub_log_clear();
	ck_assert_int_eq(acl_rules_build(&r, NULL, NULL, grants, 3, &who), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(acl_rules_count(r), 1);
	CHECK(r, R, "cmd/p1/d1/x", ACL_ALLOW);
	ck_assert(stub_log_contains("bad/#/x"));
	acl_rules_free(r);
}
END_TEST

START_TEST(test_duplicates_merged)
{
	/* IotHub's device_acl documents repeat the defaults: they must not
	 * double the work of a miss. */
	struct ih_acl_lists dev;
	char *pub[] = {"upload_data/%p/%d/+/+", "upload_data/p1/d1/+/+", "m2m/%p/+/%d/+"};
	struct acl_rules *plain = build_for("p1/d1", "c1", NULL);
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_PUBLISH] = (struct ih_strlist){pub, 3};
	r = build_for("p1/d1", "c1", &dev);
	ck_assert_uint_eq(acl_rules_count(r), acl_rules_count(plain));
	ck_assert_uint_eq(acl_rules_memory(r), acl_rules_memory(plain));
	ck_assert_uint_eq(acl_rules_count(plain), 7 + 1 + 3);
	acl_rules_free(plain);
	acl_rules_free(r);
}
END_TEST

START_TEST(test_one_allocation_no_alloc_on_check)
{
	long before = stub_mem_live_blocks();
	struct acl_rules *r = build_for("p1/d1", "c1", NULL);
	long built = stub_mem_live_blocks();

	ck_assert_int_eq(built - before, 1);
	ck_assert_uint_gt(acl_rules_memory(r), 0);
	for(int i = 0; i < 100; i++){
		acl_rules_check(r, NULL, W, "upload_data/p1/d1/temp/1");
		acl_rules_check(r, NULL, R, "cmd/p1/d1/reboot/json/r1");
		acl_rules_check(r, NULL, S, "$share/g/tags/p1/+/cmd/+/+/+/#");
	}
	ck_assert_int_eq(stub_mem_live_blocks(), built);
	acl_rules_free(r);
	ck_assert_int_eq(stub_mem_live_blocks(), before);
}
END_TEST

START_TEST(test_global_only_no_device)
{
	struct acl_subject who = {"p1/d1", 2, "c1", false};
	struct acl_rules *r = NULL;

	ck_assert_int_eq(acl_rules_build(&r, NULL, NULL, NULL, 0, &who), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(acl_rules_count(r), 0);
	CHECK(r, W, "a", ACL_NOMATCH);
	acl_rules_free(r);
}
END_TEST


START_TEST(test_deny_never_dropped)
{
	static const char *const ids[] = {"#", "+", "a/b", ""};
	struct ih_acl_lists dev;
	char *deny[] = {"secret/%c/#"};
	char *deny_pub[] = {"private/%u/+"};
	char *pubsub[] = {"#"};

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_DENY] = (struct ih_strlist){deny, 1};
	dev.list[IH_ACL_DENY_PUBLISH] = (struct ih_strlist){deny_pub, 1};
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){pubsub, 1};
	for(size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++){
		struct acl_rules *r;

		stub_log_clear();
		r = build_for("p1/d1", ids[i], &dev);
		/* The deny grew to secret/+/# instead of disappearing. */
		CHECK(r, W, "secret/anyone/x", ACL_DENY);
		CHECK(r, R, "secret/x", ACL_DENY);
		CHECK(r, S, "secret/+/#", ACL_DENY);
		CHECK(r, W, "private/p1/d1/x", ACL_DENY);
		CHECK(r, W, "public/x", ACL_ALLOW);
		ck_assert_int_eq(stub_log_count("deny rule(s) widened"), 1);
		acl_rules_free(r);
	}
	{
		/* Anonymous: %u has no value, the deny covers every P/D. */
		struct acl_rules *r = build_for(NULL, "anon", &dev);
		CHECK(r, W, "private/p9/d9/x", ACL_DENY);
		CHECK(r, W, "secret/anon/x", ACL_DENY);
		CHECK(r, W, "secret/other/x", ACL_ALLOW);  /* %c had a value: not widened */
		acl_rules_free(r);
	}
}
END_TEST

START_TEST(test_deny_covers_levels_a_client_id_spells)
{
	struct ih_acl_lists dev;
	char *deny[] = {"box/%c/private"};
	char *pubsub[] = {"#"};
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_DENY] = (struct ih_strlist){deny, 1};
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){pubsub, 1};
	r = build_for("p1/d1", "a/b", &dev);
	CHECK(r, W, "box/a/b/private", ACL_DENY);   /* the levels the id spells */
	CHECK(r, W, "box/x/private", ACL_DENY);     /* the widened form */
	CHECK(r, W, "box/a/b/public", ACL_ALLOW);
	acl_rules_free(r);
}
END_TEST

START_TEST(test_invalid_registry_deny_fails_closed)
{
	struct ih_acl_lists dev;
	char *deny_sub[] = {"secret/%x"};
	char *pubsub[] = {"a/#"};
	struct acl_rules *r;

	memset(&dev, 0, sizeof(dev));
	dev.list[IH_ACL_DENY_SUBSCRIBE] = (struct ih_strlist){deny_sub, 1};
	dev.list[IH_ACL_PUBSUB] = (struct ih_strlist){pubsub, 1};
	stub_log_clear();
	r = build_for("p1/d1", "c1", &dev);
	CHECK(r, R, "a/b", ACL_DENY);
	CHECK(r, S, "a/#", ACL_DENY);
	CHECK(r, W, "a/b", ACL_ALLOW);        /* deny_subscribe does not touch WRITE */
	ck_assert(stub_log_contains("invalid deny filter \"secret/%x\""));
	acl_rules_free(r);
}
END_TEST


START_TEST(test_grants_from_autosub)
{
	/* What the glue does at authentication: instantiate, then compile. */
	struct mosquitto_opt opts[] = {{"autosub_tags", "true"}};
	char *tags[] = {"floor1"};
	struct ih_strlist tl = {tags, 1};
	struct acl_subject who = {"p1/d1", 2, "c1", false};
	struct autosub_list l;
	struct acl_rules *r = NULL;

	acl_templates_cleanup(tpl);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(ih_config_parse(&cfg, opts, 1), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_templates_init(&tpl, &cfg), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(autosub_instantiate(&l, &cfg, &who, &tl), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_rules_build(&r, tpl, NULL, l.names, l.count, &who), MOSQ_ERR_SUCCESS);
	autosub_list_free(&l);   /* the rules keep their own copy */
	CHECK(r, R, "cmd/p1/d1/reboot/json/r1", ACL_ALLOW);
	CHECK(r, R, "rpc/p1/d1/ping/json/r1/1700000000", ACL_ALLOW);
	CHECK(r, R, "m2m/p1/d1/d2/m1", ACL_ALLOW);
	CHECK(r, R, "tags/p1/floor1/cmd/reboot/json/r1", ACL_ALLOW);
	CHECK(r, R, "tags/p1/floor1/cmd/x", ACL_ALLOW);         /* the tag grant is tags/p1/floor1/cmd/# */
	CHECK(r, R, "tags/p2/floor1/cmd/reboot/json/r1", ACL_NOMATCH);
	CHECK(r, R, "cmd/p1/d2/reboot/json/r1", ACL_NOMATCH);
	CHECK(r, S, "cmd/p1/d1/#", ACL_NOMATCH);
	acl_rules_free(r);
}
END_TEST

/* ---- config templates ---- */

START_TEST(test_templates_init_errors)
{
	struct mosquitto_opt opts[] = {
		{"acl_publish", "up/%x"},
		{"acl_publish", "ok/%u/#"},
		{"acl_deny_subscribe", "x/%c_1"},
		{"acl_pubsub", "a/#/b"},
	};
	struct ih_config c;
	struct acl_templates *t = NULL;
	long before = stub_mem_live_blocks();

	stub_log_clear();
	ck_assert_int_eq(ih_config_parse(&c, opts, 4), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_templates_init(&t, &c), MOSQ_ERR_INVAL);
	ck_assert_ptr_null(t);
	ck_assert(stub_log_contains("iothub: option plugin_opt_acl_publish \"up/%x\": unknown placeholder %x"));
	ck_assert(stub_log_contains("plugin_opt_acl_deny_subscribe \"x/%c_1\""));
	ck_assert(stub_log_contains("plugin_opt_acl_pubsub \"a/#/b\""));
	ck_assert(!stub_log_contains("ok/%u/#"));
	ih_config_cleanup(&c);
	ck_assert_int_eq(stub_mem_live_blocks(), before);
}
END_TEST

START_TEST(test_templates_from_options)
{
	struct mosquitto_opt opts[] = {
		{"acl_pubsub", "inbox/%c/#"},
		{"acl_deny", "upload_data/%p/%d/forbidden/+"},
	};
	struct acl_rules *r;

	acl_templates_cleanup(tpl);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(ih_config_parse(&cfg, opts, 2), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(acl_templates_init(&tpl, &cfg), MOSQ_ERR_SUCCESS);
	r = build_for("p1/d1", "c1", NULL);
	CHECK(r, W, "inbox/c1/x", ACL_ALLOW);
	CHECK(r, W, "upload_data/p1/d1/forbidden/1", ACL_DENY);
	CHECK(r, W, "upload_data/p1/d1/temp/1", ACL_ALLOW);
	acl_rules_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acl_rules");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_default_own_uplinks);
	tcase_add_test(tc, test_default_other_devices);
	tcase_add_test(tc, test_default_m2m);
	tcase_add_test(tc, test_default_subscribe);
	tcase_add_test(tc, test_read_grants_allow_read_and_subscribe_not_write);
	tcase_add_test(tc, test_deny_wins);
	tcase_add_test(tc, test_same_filter_allow_and_deny);
	tcase_add_test(tc, test_client_id_never_widens);
	tcase_add_test(tc, test_deny_covers_levels_a_client_id_spells);
	tcase_add_test(tc, test_one_notice_per_connection);
	tcase_add_test(tc, test_anonymous);
	tcase_add_test(tc, test_dollar_topics);
	tcase_add_test(tc, test_edge_inputs);
	tcase_add_test(tc, test_registry_bad_rules_dropped);
	tcase_add_test(tc, test_bad_read_grant_skipped);
	tcase_add_test(tc, test_duplicates_merged);
	tcase_add_test(tc, test_one_allocation_no_alloc_on_check);
	tcase_add_test(tc, test_global_only_no_device);
	tcase_add_test(tc, test_deny_never_dropped);
	tcase_add_test(tc, test_invalid_registry_deny_fails_closed);
	tcase_add_test(tc, test_grants_from_autosub);
	tcase_add_test(tc, test_templates_init_errors);
	tcase_add_test(tc, test_templates_from_options);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
