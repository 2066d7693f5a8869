/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* Option parsing (core/config.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "core/config.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static int parse(struct ih_config *cfg, const char *const *kv, int pairs)
{
	struct mosquitto_opt opts[32] = {{0}};

	for(int i = 0; i < pairs; i++){
		opts[i].key = (char *)kv[2 * i];
		opts[i].value = (char *)kv[2 * i + 1];
	}
	return ih_config_parse(cfg, opts, pairs);
}

START_TEST(defaults)
{
	struct ih_config cfg;

	ck_assert_int_eq(parse(&cfg, NULL, 0), MOSQ_ERR_SUCCESS);
	ck_assert_str_eq(cfg.mongo_uri, "mongodb://127.0.0.1:27017");
	ck_assert_str_eq(cfg.mongo_db, "iothub");
	ck_assert_str_eq(cfg.devices_collection, "devices");
	ck_assert_str_eq(cfg.field.username, "broker_username");
	ck_assert_ptr_null(cfg.amqp_uri);
	ck_assert_int_eq(cfg.event_format, IH_FORMAT_BSON);
	ck_assert_int_eq(cfg.acl_nomatch, IH_NOMATCH_DENY);
	ck_assert_uint_eq(cfg.autosub_count, 3);
	ck_assert_str_eq(cfg.autosub[0].filter, "cmd/%u/+/+/+/#");
	ck_assert_int_eq(cfg.autosub[0].qos, 1);
	ck_assert_uint_eq(cfg.acl_lists.list[IH_ACL_PUBLISH].count, 7);
	ck_assert_uint_eq(cfg.mongo_timeout_ms, 1000);
	ck_assert_uint_eq(cfg.amqp_linger_ms, 1);
	ck_assert_int_eq(cfg.registry_worker, IH_WORKER_PROCESS);
	ck_assert_uint_eq(cfg.auth_cache_ttl_s, 60);
	ck_assert(cfg.node_name[0] != '\0');
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

START_TEST(values_and_lists)
{
	struct ih_config cfg;
	static const char *const kv[] = {
		"mongo_uri", "mongodb://10.0.0.1:27018/?replicaSet=rs0",
		"event_format", "JSON",
		"autosub", "inbox/%c/# 2",
		"autosub", "  cmd/%u/#   0 ",
		"acl_publish", "a/%u/b",
		"mongo_timeout", "250ms",
		"auth_cache_ttl", "2m",
		"spool_max_bytes", "2G",
		"allow_anonymous", "on",
		"acl_nomatch", "allow",
	};

	ck_assert_int_eq(parse(&cfg, kv, 10), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(cfg.event_format, IH_FORMAT_JSON);
	ck_assert_uint_eq(cfg.autosub_count, 2);
	ck_assert_str_eq(cfg.autosub[0].filter, "inbox/%c/#");
	ck_assert_int_eq(cfg.autosub[0].qos, 2);
	ck_assert_str_eq(cfg.autosub[1].filter, "cmd/%u/#");
	ck_assert_int_eq(cfg.autosub[1].qos, 0);
	ck_assert_uint_eq(cfg.acl_lists.list[IH_ACL_PUBLISH].count, 1);
	ck_assert_uint_eq(cfg.acl_lists.list[IH_ACL_SUBSCRIBE].count, 1); /* untouched list keeps its default */
	ck_assert_uint_eq(cfg.mongo_timeout_ms, 250);
	ck_assert_uint_eq(cfg.auth_cache_ttl_s, 120);
	ck_assert_uint_eq(cfg.spool_max_bytes, 2ULL << 30);
	ck_assert(cfg.allow_anonymous);
	ck_assert_int_eq(cfg.acl_nomatch, IH_NOMATCH_ALLOW);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

START_TEST(errors_name_the_option)
{
	struct ih_config cfg;
	static const char *const unknown[] = {"mongo_urii", "x"};
	static const char *const badbool[] = {"allow_anonymous", "maybe"};
	static const char *const badqos[] = {"autosub", "cmd/%u/# 3"};
	static const char *const noqos[] = {"autosub", "cmd/%u/#"};
	static const char *const range[] = {"mongo_timeout", "10ms"};
	static const char *const badenum[] = {"event_format", "xml"};
	static const char *const overflow[] = {"spool_max_bytes", "99999999999999999999G"};

	stub_log_clear();
	ck_assert_int_eq(parse(&cfg, unknown, 1), MOSQ_ERR_INVAL);
	ck_assert(stub_log_contains("unknown option plugin_opt_mongo_urii"));
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, badbool, 1), MOSQ_ERR_INVAL);
	ck_assert(stub_log_contains("plugin_opt_allow_anonymous: invalid value \"maybe\""));
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, badqos, 1), MOSQ_ERR_INVAL);
	ck_assert(stub_log_contains("plugin_opt_autosub"));
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, noqos, 1), MOSQ_ERR_INVAL);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, range, 1), MOSQ_ERR_INVAL);
	ck_assert(stub_log_contains("50ms..60000ms"));
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, badenum, 1), MOSQ_ERR_INVAL);
	ck_assert(stub_log_contains("bson|json"));
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, overflow, 1), MOSQ_ERR_INVAL);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

START_TEST(autosub_none)
{
	struct ih_config cfg;
	static const char *const none[] = {"autosub", " None "};
	static const char *const none_then_filter[] = {"autosub", "none", "autosub", "cmd/%u/# 1"};
	static const char *const filter_then_none[] = {"autosub", "cmd/%u/# 1", "autosub", "none"};
	static const char *const twice[] = {"autosub", "none", "autosub", "none"};

	ck_assert_int_eq(parse(&cfg, none, 1), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(cfg.autosub_count, 0);
	ck_assert(cfg.autosub_none);
	ck_assert_uint_eq(cfg.acl_lists.list[IH_ACL_SUBSCRIBE].count, 1); /* other lists keep their defaults */
	ih_config_cleanup(&cfg);

	stub_log_clear();
	ck_assert_int_eq(parse(&cfg, none_then_filter, 2), MOSQ_ERR_INVAL);
	ck_assert(stub_log_contains("plugin_opt_autosub"));
	ck_assert(stub_log_contains("only plugin_opt_autosub line"));
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, filter_then_none, 2), MOSQ_ERR_INVAL);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, twice, 2), MOSQ_ERR_INVAL);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

START_TEST(value_parsers)
{
	uint64_t v;
	bool b;

	ck_assert_int_eq(ih_parse_duration_ms("5", &v), 0);
	ck_assert_uint_eq(v, 5000);
	ck_assert_int_eq(ih_parse_duration_ms("1h", &v), 0);
	ck_assert_uint_eq(v, 3600000);
	ck_assert_int_eq(ih_parse_duration_ms("-1", &v), -1);
	ck_assert_int_eq(ih_parse_duration_ms("1x", &v), -1);
	ck_assert_int_eq(ih_parse_duration_ms("", &v), -1);
	ck_assert_int_eq(ih_parse_size("16k", &v), 0);
	ck_assert_uint_eq(v, 16384);
	ck_assert_int_eq(ih_parse_uint("18446744073709551616", UINT64_MAX, &v), -1);
	ck_assert_int_eq(ih_parse_bool("TRUE", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(ih_parse_bool("2", &b), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, values_and_lists);
	tcase_add_test(tc, errors_name_the_option);
	tcase_add_test(tc, value_parsers);
	tcase_add_test(tc, autosub_none);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
