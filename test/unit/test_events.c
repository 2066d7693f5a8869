/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The events boundary without RabbitMQ: configuration failures, the
 * degraded-mode fallback (spool cap -> memory queue -> drop) and counters.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/topic.h"
#include "events/events.h"
#include "core/config.h"
#include "core/clock.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ih-events-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	stub_log_clear();
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* opts: "key=value" strings, NULL-terminated */
static int parse(struct ih_config *cfg, const char *const *kv)
{
	struct mosquitto_opt opts[32] = {{0}};
	char *copies[32];
	int n = 0, rc;

	for(; kv[n]; n++){
		copies[n] = strdup(kv[n]);
		char *eq = strchr(copies[n], '=');
		*eq = '\0';
		opts[n].key = copies[n];
		opts[n].value = eq + 1;
	}
	rc = ih_config_parse(cfg, opts, n);
	for(int i = 0; i < n; i++) free(copies[i]);
	return rc;
}

static const struct events_client dev = {
	.client_id = "c1", .username = "p1/d1", .product_len = 2, .conn_id = "k1",
	.address = "127.0.0.1", .keepalive = 30, .proto_ver = 4, .clean_session = true,
};

START_TEST(no_uri_means_off)
{
	struct ih_config cfg;
	struct events *ev = (struct events *)1;
	struct events_stats s;

	ck_assert_int_eq(parse(&cfg, (const char *const[]){NULL}), 0);
	ck_assert_int_eq(events_init(&ev, &cfg), 0);
	ck_assert_ptr_null(ev);
	ck_assert_int_eq(events_connected(ev, &dev, 1, 1), 0);
	ck_assert(!events_publish_wanted(ev, "upload_data/p1/d1/t/1"));
	events_tick(ev, 0);
	events_get_stats(ev, &s);
	ck_assert_uint_eq(s.queued, 0);
	events_cleanup(ev);
	ih_config_cleanup(&cfg);
}
END_TEST

START_TEST(bad_uri_fails_init)
{
	struct ih_config cfg;
	struct events *ev = NULL;
	char sd[300];

	snprintf(sd, sizeof(sd), "spool_dir=%s/s", dir);
	ck_assert_int_eq(parse(&cfg, (const char *const[]){"amqp_uri=http://nope", sd, NULL}), 0);
	ck_assert_int_ne(events_init(&ev, &cfg), 0);
	ck_assert_ptr_null(ev);
	ck_assert(stub_log_contains("amqp_uri"));
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

START_TEST(unwritable_spool_dir_fails_init)
{
	struct ih_config cfg;
	struct events *ev = NULL;
	char file[300], sd[400];
	int fd;

	snprintf(file, sizeof(file), "%s/file", dir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	close(fd);
	snprintf(sd, sizeof(sd), "spool_dir=%s/spool", file);
	ck_assert_int_eq(parse(&cfg, (const char *const[]){"amqp_uri=amqp://guest:guest@127.0.0.1:1/", sd, NULL}), 0);
	ck_assert_int_ne(events_init(&ev, &cfg), 0);
	ck_assert(stub_log_contains("spool_dir"));
	ih_config_cleanup(&cfg);
}
END_TEST

START_TEST(publish_wanted_follows_topics)
{
	struct ih_config cfg;
	struct events *ev = NULL;
	char sd[300];

	snprintf(sd, sizeof(sd), "spool_dir=%s/s", dir);
	ck_assert_int_eq(parse(&cfg, (const char *const[]){"amqp_uri=amqp://guest:guest@127.0.0.1:1/", sd, NULL}), 0);
	ck_assert_int_eq(events_init(&ev, &cfg), 0);
	ck_assert(events_publish_wanted(ev, "upload_data/p1/d1/temp/m1"));
	ck_assert(events_publish_wanted(ev, "cmd_resp/p1/d1/reboot/r1/m1"));
	ck_assert(!events_publish_wanted(ev, "cmd/p1/d1/reboot/json/r1"));
	ck_assert(!events_publish_wanted(ev, "m2m/p1/d2/d1/m1"));
	ck_assert(!events_publish_wanted(ev, "upload_data/p1/d1/temp"));        /* a level short */
	ck_assert(!events_publish_wanted(ev, "upload_data/p1/d1/temp/m1/x"));   /* one too many */
	ck_assert(!events_publish_wanted(ev, "upload_dat/p1/d1/temp/m1"));
	ck_assert(!events_publish_wanted(ev, "upload_data"));
	ck_assert(events_publish_wanted(ev, "get/p1/d1/ntp/m1"));
	ck_assert(events_publish_wanted(ev, "update_ota_status/p1/d1/m1"));
	ck_assert(!events_publish_wanted(ev, "update_status/p1/d1"));
	/* '+' matches the empty level too (the "+"-only fast path) */
	ck_assert(events_publish_wanted(ev, "upload_data////"));
	ck_assert(events_publish_wanted(ev, "upload_data/p1//temp/"));
	ck_assert(!events_publish_wanted(ev, "upload_data///"));
	ck_assert(!events_publish_wanted(ev, "upload_data/////"));
	ck_assert(!events_publish_wanted(ev, "upload_data/"));
	/* the fast path agrees with the general matcher */
	{
		static const char *const topics[] = {"upload_data/a/b/c/d", "upload_data/a/b/c", "upload_data/a/b/c/d/",
			"upload_data/a/b/c/d/e", "update_status/a/b/c", "update_status//b/", "update_status/a/b",
			"get/a/b/c/d", "get/a/b/c/", "get/a/b/c", "cmd_resp/1/2/3/4/5", "cmd_resp/1/2/3/4", "rpc_resp/////",
			"update_ota_status/a/b/c", "update_ota_status/a/b/c/d", "get", "get/", NULL};
		for(size_t t = 0; topics[t]; t++){
			bool want = false;
			for(size_t i = 0; i < cfg.event_publish_topics.count; i++){
				want = want || acl_topic_matches(cfg.event_publish_topics.items[i], topics[t]);
			}
			ck_assert_msg(events_publish_wanted(ev, topics[t]) == want, "%s", topics[t]);
		}
	}
	events_cleanup(ev);
	ih_config_cleanup(&cfg);

	/* own filters: literal, '#', '+' first, and the $ rule */
	ck_assert_int_eq(parse(&cfg, (const char *const[]){"amqp_uri=amqp://guest:guest@127.0.0.1:1/", sd,
			"event_publish_topic=a/b", "event_publish_topic=x/#", "event_publish_topic=+/t/+", NULL}), 0);
	ck_assert_int_eq(events_init(&ev, &cfg), 0);
	ck_assert(events_publish_wanted(ev, "a/b"));
	ck_assert(!events_publish_wanted(ev, "a/bc"));
	ck_assert(!events_publish_wanted(ev, "a/b/c"));
	ck_assert(events_publish_wanted(ev, "x"));
	ck_assert(events_publish_wanted(ev, "x/y/z"));
	ck_assert(!events_publish_wanted(ev, "xy/z"));
	ck_assert(events_publish_wanted(ev, "q/t/r"));
	ck_assert(events_publish_wanted(ev, "/t/"));
	ck_assert(!events_publish_wanted(ev, "$SYS/t/r"));
	ck_assert(!events_publish_wanted(ev, "upload_data/p1/d1/temp/m1"));
	events_cleanup(ev);
	ih_config_cleanup(&cfg);

	/* an invalid filter is a configuration error, not a silent no-match */
	stub_log_clear();
	ck_assert_int_eq(parse(&cfg, (const char *const[]){"amqp_uri=amqp://guest:guest@127.0.0.1:1/", sd,
			"event_publish_topic=a/b#", NULL}), 0);
	ck_assert_int_ne(events_init(&ev, &cfg), 0);
	ck_assert_ptr_null(ev);
	ck_assert(stub_log_contains("invalid topic filter"));
	ih_config_cleanup(&cfg);
}
END_TEST

/* With RabbitMQ unreachable: the spool fills to its cap, then the memory
 * queue takes queue_max_events, then events are dropped and counted. */
START_TEST(cap_memory_fallback_then_drop)
{
	struct ih_config cfg;
	struct events *ev = NULL;
	struct events_stats s;
	static char payload[8000];
	char sd[300];
	int ok = 0, dropped = 0;

	snprintf(sd, sizeof(sd), "spool_dir=%s/s", dir);
	ck_assert_int_eq(parse(&cfg, (const char *const[]){"amqp_uri=amqp://guest:guest@127.0.0.1:1/", sd,
			"spool_max_bytes=1M", "spool_segment_bytes=64k", "queue_max_events=16",
			"amqp_reconnect_min=50ms", "amqp_reconnect_max=100ms", NULL}), 0);
	ck_assert_int_eq(events_init(&ev, &cfg), 0);
	ck_assert_int_eq(events_connected(ev, &dev, 1, 1000), 0);
	for(int i = 0; i < 400; i++){
		if(events_publish(ev, &dev, i + 2, 1000 + i, "upload_data/p1/d1/t/m", payload, sizeof(payload), 1, false)) dropped++;
		else ok++;
	}
	events_get_stats(ev, &s);
	ck_assert_uint_eq(s.queued, (uint64_t)ok + 1);
	ck_assert_uint_eq(s.memory_queued, 16);
	ck_assert_uint_eq(s.spooled + s.memory_queued, s.queued);
	ck_assert_uint_eq(s.dropped, (uint64_t)dropped);
	ck_assert_uint_gt(s.dropped, 0);
	ck_assert_uint_le(s.spool_bytes, 1024 * 1024);
	ck_assert_uint_eq(s.backlog, s.queued);
	ck_assert(!s.amqp_connected);
	ck_assert(stub_log_contains("degraded mode"));
	ck_assert(stub_log_contains("dropped"));
	ck_assert_int_ne(events_publish(ev, &dev, 999, 2000, "upload_data/p1/d1/t/m", payload, sizeof(payload), 1, false), 0);
	events_tick(ev, ih_mono_s() + 3600);
	ck_assert(stub_log_contains("queued="));
	events_cleanup(ev);
	/* memory-held events were never delivered: the loss is logged */
	ck_assert(stub_log_contains("are lost"));
	ih_config_cleanup(&cfg);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

/* The counters line comes out once per stats_interval of the clock the
 * glue ticks with (monotonic seconds, see events.h). */
START_TEST(stats_line_once_per_interval)
{
	struct ih_config cfg;
	struct events *ev = NULL;
	char sd[300];

	snprintf(sd, sizeof(sd), "spool_dir=%s/s", dir);
	ck_assert_int_eq(parse(&cfg, (const char *const[]){"amqp_uri=amqp://guest:guest@127.0.0.1:1/", sd,
			"stats_interval=2s", NULL}), 0);
	ck_assert_int_eq(events_init(&ev, &cfg), 0);
	events_tick(ev, ih_mono_s());
	ck_assert(!stub_log_contains("queued="));
	events_tick(ev, ih_mono_s() + 3);
	ck_assert_int_eq(stub_log_count("queued="), 1);
	events_tick(ev, ih_mono_s() + 3);
	ck_assert_int_eq(stub_log_count("queued="), 1);
	events_tick(ev, ih_mono_s() + 6);
	ck_assert_int_eq(stub_log_count("queued="), 2);
	events_cleanup(ev);
	ih_config_cleanup(&cfg);
}
END_TEST

/* The prefix-reject matcher agrees with the broker's own matcher on random
 * filters and topics (including empty levels, '$' topics and '#'). */
static void random_levels(char *out, size_t cap, bool filter, unsigned *seed)
{
	static const char *const lv[] = {"a", "b", "ab", "", "+", "#"};
	int n = 1 + rand_r(seed) % 4;
	size_t len = 0;

	out[0] = '\0';
	for(int i = 0; i < n; i++){
		const char *l = lv[rand_r(seed) % (filter ? 6 : 4)];
		if(!filter && i == 0 && rand_r(seed) % 8 == 0) l = "$s";
		if(filter && l[0] == '#' && i != n - 1) l = "+";
		if(n == 1 && l[0] == '\0') l = "a";   /* a topic or filter is never empty */
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "/" : "", l);
	}
}

START_TEST(publish_wanted_agrees_with_the_broker_matcher)
{
	struct ih_config cfg;
	struct events *ev = NULL;
	char sd[300], opt[8][128], filt[8][48], topic[48];
	const char *kv[12];
	unsigned seed = 12345;
	int hits = 0, total = 0;

	snprintf(sd, sizeof(sd), "spool_dir=%s/s", dir);
	for(int round = 0; round < 60; round++){
		int k = 0, nf = 1 + round % 4;

		kv[k++] = "amqp_uri=amqp://guest:guest@127.0.0.1:1/";
		kv[k++] = sd;
		kv[k++] = "spool_segment_bytes=64k";
		for(int i = 0; i < nf; i++){
			random_levels(filt[i], sizeof(filt[i]), true, &seed);
			snprintf(opt[i], sizeof(opt[i]), "event_publish_topic=%.47s", filt[i]);
			kv[k++] = opt[i];
		}
		kv[k] = NULL;
		ck_assert_int_eq(parse(&cfg, kv), 0);
		ck_assert_int_eq(events_init(&ev, &cfg), 0);
		for(int t = 0; t < 200; t++){
			bool want = false;
			random_levels(topic, sizeof(topic), false, &seed);
			for(int i = 0; i < nf; i++){
				bool m = false;
				ck_assert_int_eq(mosquitto_topic_matches_sub(filt[i], topic, &m), 0);
				want = want || m;
			}
			ck_assert_msg(events_publish_wanted(ev, topic) == want, "topic \"%s\", first filter \"%s\"",
					topic, filt[0]);
			hits += want;
			total++;
		}
		events_cleanup(ev);
		ih_config_cleanup(&cfg);
	}
	ck_assert_int_gt(hits, total / 10);       /* both answers well represented */
	ck_assert_int_lt(hits, total - total / 10);
}
END_TEST

/* Spooled events survive the plugin being stopped and started again. */
START_TEST(spooled_events_survive_restart)
{
	struct ih_config cfg;
	struct events *ev = NULL;
	struct events_stats s;
	char sd[300];

	snprintf(sd, sizeof(sd), "spool_dir=%s/s", dir);
	ck_assert_int_eq(parse(&cfg, (const char *const[]){"amqp_uri=amqp://guest:guest@127.0.0.1:1/", sd, NULL}), 0);
	ck_assert_int_eq(events_init(&ev, &cfg), 0);
	for(int i = 0; i < 100; i++) ck_assert_int_eq(events_connected(ev, &dev, i, 1000 + i), 0);
	events_cleanup(ev);
	stub_log_clear();
	ck_assert_int_eq(events_init(&ev, &cfg), 0);
	ck_assert(stub_log_contains("recovered 100 undelivered events"));
	events_get_stats(ev, &s);
	ck_assert_uint_eq(s.backlog, 100);
	events_cleanup(ev);
	ih_config_cleanup(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("events");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, no_uri_means_off);
	tcase_add_test(tc, bad_uri_fails_init);
	tcase_add_test(tc, unwritable_spool_dir_fails_init);
	tcase_add_test(tc, publish_wanted_follows_topics);
	tcase_add_test(tc, cap_memory_fallback_then_drop);
	tcase_add_test(tc, spooled_events_survive_restart);
	tcase_add_test(tc, stats_line_once_per_interval);
	tcase_add_test(tc, publish_wanted_agrees_with_the_broker_matcher);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
