/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* Device document decoding (registry/device.c, device_lists.c, device_fingerprint.c). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "registry/device.h"
#include "core/config.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static struct ih_config cfg;
static long blocks_at_start;

static void setup(void)
{
	ck_assert_int_eq(ih_config_parse(&cfg, NULL, 0), 0);
	stub_log_clear();
	blocks_at_start = stub_mem_live_blocks();
}

static void teardown(void)
{
	ih_config_cleanup(&cfg);
}

static bson_t *J(const char *json)
{
	bson_error_t err;
	bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &err);
	ck_assert_msg(b != NULL, "bad test JSON: %s (%s)", json, err.message);
	return b;
}

/* Decode JSON; returns the device or NULL with err filled. */
static struct ih_device *dec2(const char *json, const char *acl_json, char *err, size_t errlen)
{
	bson_t *doc = J(json);
	bson_t *acl = acl_json ? J(acl_json) : NULL;
	struct ih_device *dev = NULL;
	int rc = registry_device_decode(doc, acl, &cfg, &dev, err, errlen);

	bson_destroy(doc);
	if(acl) bson_destroy(acl);
	ck_assert(rc == 0 ? dev != NULL : dev == NULL);
	return dev;
}

static struct ih_device *dec(const char *json)
{
	char err[256];
	struct ih_device *dev = dec2(json, NULL, err, sizeof(err));
	ck_assert_msg(dev != NULL, "refused %s: %s", json, err);
	return dev;
}

static void refused(const char *json, const char *why_part)
{
	char err[256];
	struct ih_device *dev = dec2(json, NULL, err, sizeof(err));
	ck_assert_msg(dev == NULL, "accepted %s", json);
	ck_assert_msg(strstr(err, why_part) != NULL, "reason \"%s\" lacks \"%s\"", err, why_part);
}

static bool has(const struct ih_strlist *l, const char *s)
{
	for(size_t i = 0; i < l->count; i++){
		if(!strcmp(l->items[i], s)) return true;
	}
	return false;
}

#define BASE "\"broker_username\": \"p1/d1\", \"secret\": \"s3cret\""

START_TEST(iothub_document)
{
	struct ih_device *dev = dec("{\"product_name\": \"p1\", \"device_name\": \"d1\", " BASE ", \"status\": \"active\","
			" \"tags\": [\"floor1\", \"east\"], \"tags_version\": 3, \"device_status\": \"{}\", \"last_status_update\": 1700000000}");

	ck_assert_str_eq(dev->username, "p1/d1");
	ck_assert_uint_eq(dev->product_len, 2);
	ck_assert_str_eq(dev->secret, "s3cret");
	ck_assert_ptr_null(dev->password_hash);
	ck_assert(dev->active);
	ck_assert_str_eq(dev->status, "active");
	ck_assert(!dev->superuser);
	ck_assert_uint_eq(dev->tags.count, 2);
	ck_assert_str_eq(dev->tags.items[0], "floor1");
	ck_assert_str_eq(dev->tags.items[1], "east");
	ck_assert_int_eq(dev->tags_version, 3);
	ck_assert_int_eq(dev->refcount, 1);
	registry_device_unref(dev);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(status_rules)
{
	struct ih_device *dev;

	/* Missing: active (IotHub servers without suspend never wrote it). */
	dev = dec("{" BASE "}");
	ck_assert(dev->active);
	ck_assert_ptr_null(dev->status);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"status\": null}");
	ck_assert(dev->active);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"status\": \"suspended\"}");
	ck_assert(!dev->active);
	ck_assert_str_eq(dev->status, "suspended");
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"status\": \"Active\"}");
	ck_assert(!dev->active);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"status\": 1}");
	ck_assert(!dev->active);
	ck_assert_str_eq(dev->status, "int32");
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"status\": true}");
	ck_assert(!dev->active);
	registry_device_unref(dev);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(custom_status_active)
{
	struct ih_device *dev;

	mosquitto_free(cfg.status_active);
	cfg.status_active = mosquitto_strdup("enabled");
	dev = dec("{" BASE ", \"status\": \"enabled\"}");
	ck_assert(dev->active);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"status\": \"active\"}");
	ck_assert(!dev->active);
	registry_device_unref(dev);
}
END_TEST

START_TEST(secrets)
{
	struct ih_device *dev;

	dev = dec("{" BASE ", \"password_hash\": \"$7$101$abc$def\"}");
	ck_assert_str_eq(dev->password_hash, "$7$101$abc$def");
	ck_assert_ptr_null(dev->secret);
	registry_device_unref(dev);
	dev = dec("{\"broker_username\": \"p1/d1\", \"password_hash\": \"$6$x$y\"}");
	ck_assert_str_eq(dev->password_hash, "$6$x$y");
	registry_device_unref(dev);
	/* An empty hash is absent: the clear secret is used. */
	dev = dec("{" BASE ", \"password_hash\": \"\"}");
	ck_assert_ptr_null(dev->password_hash);
	ck_assert_str_eq(dev->secret, "s3cret");
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"password_hash\": null}");
	ck_assert_str_eq(dev->secret, "s3cret");
	registry_device_unref(dev);

	refused("{\"broker_username\": \"p1/d1\"}", "no usable secret");
	refused("{\"broker_username\": \"p1/d1\", \"secret\": \"\"}", "no usable secret");
	refused("{\"broker_username\": \"p1/d1\", \"secret\": null}", "no usable secret");
	refused("{\"broker_username\": \"p1/d1\", \"secret\": 12345}", "secret is not a valid string (int32)");
	refused("{\"broker_username\": \"p1/d1\", \"secret\": \"x\", \"password_hash\": 5}", "password_hash is not a valid string");
	refused("{\"broker_username\": \"p1/d1\", \"secret\": {\"a\": 1}}", "secret is not a valid string (document)");
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(secret_with_nul_refused)
{
	bson_t *doc = bson_new();
	struct ih_device *dev = NULL;
	char err[256];

	BSON_APPEND_UTF8(doc, "broker_username", "p1/d1");
	bson_append_utf8(doc, "secret", -1, "ab\0cd", 5);
	ck_assert_int_eq(registry_device_decode(doc, NULL, &cfg, &dev, err, sizeof(err)), -1);
	ck_assert_ptr_null(dev);
	ck_assert_ptr_nonnull(strstr(err, "secret"));
	bson_destroy(doc);
}
END_TEST

START_TEST(identity)
{
	refused("{\"secret\": \"x\"}", "no broker_username field");
	refused("{\"broker_username\": 5, \"secret\": \"x\"}", "broker_username is not a valid string (int32)");
	refused("{\"broker_username\": \"p1\", \"secret\": \"x\"}", "not a valid username");
	refused("{\"broker_username\": \"p1/d1/x\", \"secret\": \"x\"}", "not a valid username");
	refused("{\"broker_username\": \"p+/d1\", \"secret\": \"x\"}", "not a valid username");
	refused("{\"broker_username\": \"\", \"secret\": \"x\"}", "not a valid username");
	refused("{" BASE ", \"product_name\": \"p2\"}", "product_name does not match");
	refused("{" BASE ", \"product_name\": \"p\"}", "product_name does not match");
	refused("{" BASE ", \"device_name\": \"d12\"}", "device_name does not match");
	refused("{" BASE ", \"device_name\": 7}", "device_name is not a valid string");
	refused("{" BASE ", \"product_name\": [\"p1\"]}", "product_name is not a valid string");

	struct ih_device *dev = dec("{" BASE ", \"product_name\": \"p1\"}");
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"device_name\": \"d1\", \"product_name\": null}");
	registry_device_unref(dev);
	dev = dec("{\"broker_username\": \"产品/设备\", \"product_name\": \"产品\", \"device_name\": \"设备\", \"secret\": \"x\"}");
	ck_assert_uint_eq(dev->product_len, strlen("产品"));
	registry_device_unref(dev);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(username_too_long)
{
	char json[1200], name[600];

	memset(name, 'a', sizeof(name));
	name[0] = 'p';
	name[1] = '/';
	name[sizeof(name) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"broker_username\": \"%s\", \"secret\": \"x\"}", name);
	refused(json, "too long");
}
END_TEST

START_TEST(superuser_flag)
{
	struct ih_device *dev;

	dev = dec("{" BASE ", \"superuser\": true}");
	ck_assert(dev->superuser);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"superuser\": false}");
	ck_assert(!dev->superuser);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"superuser\": null}");
	ck_assert(!dev->superuser);
	ck_assert_int_eq(stub_log_count("superuser"), 0);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"superuser\": 1}");
	ck_assert(!dev->superuser);
	ck_assert(stub_log_contains("device p1/d1: superuser is a int32, not a boolean; treated as false"));
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"superuser\": \"true\"}");
	ck_assert(!dev->superuser);
	registry_device_unref(dev);
}
END_TEST

START_TEST(tags)
{
	struct ih_device *dev;

	dev = dec("{" BASE ", \"tags\": [\"ok\", 5, \"\", \"a/b\", \"x+\", \"#\", \"fine-2\", null, [\"n\"]]}");
	ck_assert_uint_eq(dev->tags.count, 2);
	ck_assert_str_eq(dev->tags.items[0], "ok");
	ck_assert_str_eq(dev->tags.items[1], "fine-2");
	ck_assert(stub_log_contains("tags entry is a int32, not a string; skipped"));
	ck_assert(stub_log_contains("tags entry skipped: name contains '/'"));
	registry_device_unref(dev);

	dev = dec("{" BASE ", \"tags\": \"solo\"}");
	ck_assert_uint_eq(dev->tags.count, 1);
	registry_device_unref(dev);
	stub_log_clear();
	dev = dec("{" BASE ", \"tags\": 5}");
	ck_assert_uint_eq(dev->tags.count, 0);
	ck_assert(stub_log_contains("tags is a int32, not an array; the device has no tags"));
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"tags\": {\"0\": \"a\"}}");
	ck_assert_uint_eq(dev->tags.count, 0);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"tags\": []}");
	ck_assert_uint_eq(dev->tags.count, 0);
	registry_device_unref(dev);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(tags_version_types)
{
	struct ih_device *dev;

	dev = dec("{" BASE ", \"tags_version\": {\"$numberLong\": \"9000000000\"}}");
	ck_assert_int_eq(dev->tags_version, 9000000000LL);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"tags_version\": 4.0}");
	ck_assert_int_eq(dev->tags_version, 4);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"tags_version\": {\"$numberDouble\": \"NaN\"}}");
	ck_assert_int_eq(dev->tags_version, 0);
	ck_assert(stub_log_contains("tags_version is not a finite integer"));
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"tags_version\": 1e300}");
	ck_assert_int_eq(dev->tags_version, 0);
	registry_device_unref(dev);
	dev = dec("{" BASE ", \"tags_version\": \"7\"}");
	ck_assert_int_eq(dev->tags_version, 0);
	ck_assert(stub_log_contains("tags_version is a string, not a number"));
	registry_device_unref(dev);
	dev = dec("{" BASE "}");
	ck_assert_int_eq(dev->tags_version, 0);
	registry_device_unref(dev);
}
END_TEST

START_TEST(acl_from_acl_document)
{
	char err[256];
	struct ih_device *dev = dec2("{" BASE ", \"acl\": {\"publish\": [\"inline/p\"], \"deny\": [\"inline/deny\"]},"
			" \"_acl\": [{\"publish\": [\"ignored/when/explicit\"]}]}",
			"{\"broker_username\": \"p1/d1\", \"publish\": [\"a/%u\", \"b/#\"], \"subscribe\": [\"s/+\"],"
			" \"pubsub\": [\"ps\"], \"deny\": [\"d\"], \"deny_publish\": [\"dp\"], \"deny_subscribe\": [\"ds\"]}",
			err, sizeof(err));

	ck_assert_msg(dev != NULL, "%s", err);
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].count, 3);
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[0], "a/%u");
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[1], "b/#");
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[2], "inline/p");
	ck_assert(!has(&registry_device_acl(dev)->list[IH_ACL_PUBLISH], "ignored/when/explicit"));
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_SUBSCRIBE].count, 1);
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBSUB].count, 1);
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_DENY].count, 2);
	ck_assert(has(&registry_device_acl(dev)->list[IH_ACL_DENY], "inline/deny"));
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_DENY_PUBLISH].items[0], "dp");
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_DENY_SUBSCRIBE].items[0], "ds");
	registry_device_unref(dev);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(acl_from_lookup_array)
{
	struct ih_device *dev = dec("{" BASE ", \"_acl\": ["
			"{\"broker_username\": \"p1/d1\", \"publish\": [\"one\"], \"subscribe\": \"single\"},"
			"{\"broker_username\": \"p1/d1\", \"publish\": [\"two\"], \"deny_subscribe\": [\"nope/#\"]}],"
			" \"acl\": {\"pubsub\": [\"inline\"]}}");

	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].count, 2);
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[0], "one");
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[1], "two");
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_SUBSCRIBE].count, 1);
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_SUBSCRIBE].items[0], "single");
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBSUB].count, 1);
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_DENY_SUBSCRIBE].count, 1);
	registry_device_unref(dev);

	dev = dec("{" BASE ", \"_acl\": []}");
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].count, 0);
	registry_device_unref(dev);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(acl_bad_allow_entries_skipped)
{
	struct ih_device *dev = dec("{" BASE ", \"_acl\": [{\"publish\": [5, \"ok\", \"\", null, {\"x\": 1}],"
			" \"subscribe\": 5, \"pubsub\": {\"a\": \"b\"}}]}");

	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].count, 1);
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[0], "ok");
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_SUBSCRIBE].count, 0);
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBSUB].count, 0);
	ck_assert(stub_log_contains("device_acl.publish entry skipped (int32)"));
	ck_assert(stub_log_contains("device_acl.publish entry skipped (empty string)"));
	ck_assert(stub_log_contains("device_acl.subscribe is a int32, not an array; ignored"));
	registry_device_unref(dev);
}
END_TEST

START_TEST(acl_bad_deny_refuses)
{
	refused("{" BASE ", \"_acl\": [{\"deny\": [5]}]}", "device_acl.deny has an unusable entry (int32)");
	refused("{" BASE ", \"_acl\": [{\"deny_publish\": [\"\"]}]}", "deny_publish has an unusable entry (empty string)");
	refused("{" BASE ", \"_acl\": [{\"deny_subscribe\": {\"a\": 1}}]}", "deny_subscribe is a document, not an array");
	refused("{" BASE ", \"acl\": {\"deny\": 7}}", "acl.deny is a int32");
	refused("{" BASE ", \"acl\": \"publish everything\"}", "acl is a string, not a document");
	refused("{" BASE ", \"acl\": [\"x\"]}", "acl is a array, not a document");
	refused("{" BASE ", \"_acl\": \"x\"}", "_acl is a string, not an array");
	refused("{" BASE ", \"_acl\": [5]}", "device_acl is a int32, not a document");
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

START_TEST(acl_null_means_absent)
{
	struct ih_device *dev = dec("{" BASE ", \"acl\": null, \"_acl\": [{\"deny\": null, \"publish\": null}]}");
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_DENY].count, 0);
	registry_device_unref(dev);
}
END_TEST

START_TEST(renamed_fields)
{
	struct mosquitto_opt opts[] = {
		{(char *)"field_username", (char *)"user"},
		{(char *)"field_secret", (char *)"pw"},
		{(char *)"field_status", (char *)"state"},
		{(char *)"field_acl", (char *)"rules"},
		{(char *)"field_acl_publish", (char *)"pub"},
		{(char *)"field_tags", (char *)"labels"},
		{(char *)"field_superuser", (char *)"admin"},
	};
	struct ih_device *dev;

	ih_config_cleanup(&cfg);
	ck_assert_int_eq(ih_config_parse(&cfg, opts, (int)(sizeof(opts) / sizeof(opts[0]))), 0);
	dev = dec("{\"user\": \"p/d\", \"pw\": \"x\", \"state\": \"off\", \"rules\": {\"pub\": [\"t\"]}, \"labels\": [\"l\"], \"admin\": true}");
	ck_assert_str_eq(dev->username, "p/d");
	ck_assert_str_eq(dev->secret, "x");
	ck_assert(!dev->active);
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].count, 1);
	ck_assert_uint_eq(dev->tags.count, 1);
	ck_assert(dev->superuser);
	registry_device_unref(dev);
	refused("{\"broker_username\": \"p/d\", \"secret\": \"x\"}", "no user field");
}
END_TEST

START_TEST(corrupt_bson)
{
	uint8_t bad[] = {0x10, 0, 0, 0, 0x02, 'a', 0, 0xff, 0xff, 0, 0, 'x', 0, 0, 0, 0};
	bson_t doc;
	struct ih_device *dev = NULL;
	char err[256];

	ck_assert(bson_init_static(&doc, bad, sizeof(bad)));
	ck_assert_int_eq(registry_device_decode(&doc, NULL, &cfg, &dev, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "corrupt BSON"));
	ck_assert_int_eq(registry_device_decode(NULL, NULL, &cfg, &dev, err, sizeof(err)), -1);
}
END_TEST

static void fp_of(const char *json, uint8_t out[32])
{
	struct ih_device *dev = dec(json);
	memcpy(out, dev->fingerprint, 32);
	registry_device_unref(dev);
}

START_TEST(fingerprints)
{
	uint8_t a[32], b[32];
	static const char *variants[] = {
		"{\"broker_username\": \"p1/d1\", \"secret\": \"s3creT\"}",
		"{" BASE ", \"status\": \"suspended\"}",
		"{" BASE ", \"superuser\": true}",
		"{" BASE ", \"tags\": [\"t\"]}",
		"{" BASE ", \"tags_version\": 1}",
		"{" BASE ", \"acl\": {\"publish\": [\"x\"]}}",
		"{" BASE ", \"acl\": {\"subscribe\": [\"x\"]}}",
		"{" BASE ", \"acl\": {\"deny\": [\"x\"]}}",
		"{" BASE ", \"password_hash\": \"s3cret\"}",
		"{\"broker_username\": \"p1/d2\", \"secret\": \"s3cret\"}",
	};

	fp_of("{" BASE "}", a);
	fp_of("{" BASE ", \"device_status\": \"online\", \"last_status_update\": 5, \"status\": \"active\"}", b);
	ck_assert_mem_eq(a, b, 32);
	for(size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++){
		fp_of(variants[i], b);
		ck_assert_msg(memcmp(a, b, 32) != 0, "same fingerprint for %s", variants[i]);
	}
	/* List boundaries matter: ["ab"] vs ["a","b"]. */
	fp_of("{" BASE ", \"tags\": [\"ab\"]}", a);
	fp_of("{" BASE ", \"tags\": [\"a\", \"b\"]}", b);
	ck_assert(memcmp(a, b, 32) != 0);
}
END_TEST

START_TEST(refcounting)
{
	struct ih_device *dev = dec("{" BASE "}");

	registry_device_ref(dev);
	ck_assert_int_eq(dev->refcount, 2);
	registry_device_unref(dev);
	ck_assert_int_eq(dev->refcount, 1);
	registry_device_unref(dev);
	registry_device_unref(NULL);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

/* Mutated documents must decode or be refused, never crash or leak. */
START_TEST(mutation_fuzz)
{
	bson_t *seed = J("{\"broker_username\": \"p1/d1\", \"product_name\": \"p1\", \"secret\": \"s\","
			" \"status\": \"active\", \"superuser\": false, \"tags\": [\"a\", \"b\"], \"tags_version\": 2,"
			" \"acl\": {\"publish\": [\"x/%u\"], \"deny\": [\"y\"]},"
			" \"_acl\": [{\"broker_username\": \"p1/d1\", \"publish\": [\"p/#\"], \"subscribe\": [\"s/+\"]}]}");
	uint32_t len = seed->len;
	uint8_t *buf = malloc(len);
	unsigned seedv = 12345;
	int ok = 0, bad = 0;

	for(int iter = 0; iter < 20000; iter++){
		bson_t doc;
		struct ih_device *dev = NULL;
		char err[256];

		memcpy(buf, bson_get_data(seed), len);
		for(int k = 0; k < 1 + iter % 4; k++){
			seedv = seedv * 1103515245u + 12345u;
			buf[(seedv >> 8) % len] = (uint8_t)(seedv >> 20);
		}
		if(!bson_init_static(&doc, buf, len)){
			bad++;
			continue;
		}
		if(registry_device_decode(&doc, NULL, &cfg, &dev, err, sizeof(err)) == 0){
			ok++;
			registry_device_unref(dev);
		}else{
			bad++;
		}
	}
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(bad, 0);
	free(buf);
	bson_destroy(seed);
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry_device");
	TCase *tc = tcase_create("decode");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, iothub_document);
	tcase_add_test(tc, status_rules);
	tcase_add_test(tc, custom_status_active);
	tcase_add_test(tc, secrets);
	tcase_add_test(tc, secret_with_nul_refused);
	tcase_add_test(tc, identity);
	tcase_add_test(tc, username_too_long);
	tcase_add_test(tc, superuser_flag);
	tcase_add_test(tc, tags);
	tcase_add_test(tc, tags_version_types);
	tcase_add_test(tc, acl_from_acl_document);
	tcase_add_test(tc, acl_from_lookup_array);
	tcase_add_test(tc, acl_bad_allow_entries_skipped);
	tcase_add_test(tc, acl_bad_deny_refuses);
	tcase_add_test(tc, acl_null_means_absent);
	tcase_add_test(tc, renamed_fields);
	tcase_add_test(tc, corrupt_bson);
	tcase_add_test(tc, fingerprints);
	tcase_add_test(tc, refcounting);
	tcase_add_test(tc, mutation_fuzz);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
