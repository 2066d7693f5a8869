/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * cluster/cluster_key.c (routing keys) and the comma-separated amqp_uri
 * list of events/amqp_conn.c that the cluster link fails over with.
 */
#include <check.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "cluster/cluster_key.h"
#include "core/config.h"
#include "events/amqp_conn.h"
#include "test/unit/unit_run.h"

static const char *topic_key(const char *t)
{
	static char buf[CLUSTER_KEY_MAX + 1];

	return cluster_key_topic(t, buf) < 0 ? NULL : buf;
}

static const char *filter_key(const char *f)
{
	static char buf[CLUSTER_KEY_MAX + 1];

	return cluster_key_filter(f, buf) < 0 ? NULL : buf;
}

START_TEST(test_topics)
{
	ck_assert_str_eq(topic_key("cmd/p1/d1/reboot/1/0"), "t.cmd.p1.d1.reboot.1.0");
	ck_assert_str_eq(topic_key("a//b"), "t.a.%.b");
	ck_assert_str_eq(topic_key("/x/"), "t.%.x.%");
	ck_assert_str_eq(topic_key("v1.2/a*b/c#d/50%"), "t.v1%2E2.a%2Ab.c%23d.50%25");
	ck_assert_str_eq(topic_key("sp ace"), "t.sp%20ace");
}
END_TEST

START_TEST(test_filters)
{
	ck_assert_str_eq(filter_key("cmd/p1/d1/+/+/+/#"), "t.cmd.p1.d1.#");
	ck_assert_str_eq(filter_key("tags/p1/t1/cmd/#"), "t.tags.p1.t1.cmd.#");
	ck_assert_str_eq(filter_key("notice/p1/all"), "t.notice.p1.all");
	ck_assert_str_eq(filter_key("m2m/p1/d.1/+/+"), "t.m2m.p1.d%2E1.#");
	/* A filter starting with a wildcard has no prefix to route on. */
	ck_assert_ptr_null(filter_key("+/x"));
	ck_assert_ptr_null(filter_key("#"));
}
END_TEST

START_TEST(test_names_and_limits)
{
	char buf[CLUSTER_KEY_MAX + 1], big[400];

	ck_assert_int_eq(cluster_key_client("p1-d1.7", buf), 11);
	ck_assert_str_eq(buf, "c.p1-d1%2E7");
	ck_assert_int_ge(cluster_key_node("n1", buf), 0);
	ck_assert_str_eq(buf, "n.n1");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(cluster_key_topic(big, buf), -1);
	big[CLUSTER_KEY_MAX - 2] = '\0';   /* "t." + 253 = 255: fits exactly */
	ck_assert_int_eq(cluster_key_topic(big, buf), CLUSTER_KEY_MAX);
}
END_TEST

static int parse(struct ih_config *cfg, const char *uri)
{
	struct mosquitto_opt opts[2] = {{(char *)"amqp_uri", (char *)uri}, {(char *)"spool_dir", (char *)"/tmp"}};

	return ih_config_parse(cfg, opts, 2);
}

START_TEST(test_uri_list)
{
	struct ih_config cfg;
	struct events_amqp_target t;
	char err[512];

	ck_assert_int_eq(parse(&cfg, "amqp://u:p@h1:5672/, amqp://u:p@h2:5673/v"), 0);
	ck_assert_int_eq(events_amqp_target_init(&t, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(t.n_uris, 2);
	ck_assert_str_eq(t.cis[0].host, "h1");
	ck_assert_int_eq(t.cis[1].port, 5673);
	ck_assert_str_eq(t.cis[1].vhost, "v");
	ck_assert_str_eq(t.cis[0].vhost, "/");
	ck_assert_str_eq(t.ci.host, "h1");
	events_amqp_target_cleanup(&t);
	ih_config_cleanup(&cfg);

	ck_assert_int_eq(parse(&cfg, "amqp://u:p@h1/,amqps://u:p@h2/"), 0);
	ck_assert_int_eq(events_amqp_target_init(&t, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "mixes"));
	events_amqp_target_cleanup(&t);
	ih_config_cleanup(&cfg);

	/* amqp_parse_url takes port 0; a connection to it can never work. */
	ck_assert_int_eq(parse(&cfg, "amqp://u:p@h1:5672/,amqps://u:p@h:0/"), 0);
	ck_assert_int_eq(events_amqp_target_init(&t, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "port 0 out of range"));
	events_amqp_target_cleanup(&t);
	ih_config_cleanup(&cfg);

	ck_assert_int_eq(parse(&cfg, "amqp://u:p@h1/,http://x"), 0);
	ck_assert_int_eq(events_amqp_target_init(&t, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "http://x"));
	events_amqp_target_cleanup(&t);
	ih_config_cleanup(&cfg);
}
END_TEST

START_TEST(test_cluster_needs_amqp)
{
	struct ih_config cfg;
	struct mosquitto_opt opts[1] = {{(char *)"cluster", (char *)"true"}};

	ck_assert_int_ne(ih_config_parse(&cfg, opts, 1), 0);
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(parse(&cfg, "amqp://u:p@h1/"), 0);
	ck_assert(!cfg.cluster);
	ck_assert_str_eq(cfg.cluster_exchange, "iothub.route");
	ih_config_cleanup(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster_key");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_topics);
	tcase_add_test(tc, test_filters);
	tcase_add_test(tc, test_names_and_limits);
	tcase_add_test(tc, test_uri_list);
	tcase_add_test(tc, test_cluster_needs_amqp);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
