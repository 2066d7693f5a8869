/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Callgrind micro-benchmark of the ACL hot path and the auto-subscription
 * index. Run by bench/acl_micro.sh under
 *   valgrind --tool=callgrind --collect-atstart=no
 * Each operation runs ITER times between two CALLGRIND_TOGGLE_COLLECT
 * requests and is dumped under its own name; the script divides the dump's
 * instruction total by ITER. Inputs (topics) are prepared outside the
 * measured loops; the loop itself adds ~4 instructions per iteration.
 *
 * Without valgrind the client requests are no-ops, so the binary also runs
 * natively (useful under a debugger).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/callgrind.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/acl_cache.h"
#include "core/keyhash.h"
#include "acl/rules.h"
#include "autosub/autosub_index.h"
#include "autosub/autosub_template.h"

#define ITER 10000
#define TOPIC_LEN 64

static char topics[ITER][TOPIC_LEN];
static volatile int sink;

#define MEASURE(name, body) do { \
	CALLGRIND_TOGGLE_COLLECT; \
	for(int i = 0; i < ITER; i++){ body; } \
	CALLGRIND_TOGGLE_COLLECT; \
	CALLGRIND_DUMP_STATS_AT(name); \
	printf("op %s %d\n", name, ITER); \
} while(0)

static const struct acl_subject who_p1d1 = {"p1/d1", 2, "device-p1-d1", false};

static void fill_topics(const char *fmt)
{
	for(int i = 0; i < ITER; i++) snprintf(topics[i], TOPIC_LEN, fmt, i);
}

/* What the glue does on a miss: cache lookup, rules, nomatch -> deny, store. */
static int checked(struct acl_cache *cache, const struct acl_rules *rules, int access, const char *topic)
{
	struct acl_cache_key key;
	enum acl_decision d;

	if(acl_cache_lookup(cache, access, topic, 100, &key, &d)) return d == ACL_ALLOW;
	d = acl_rules_check(rules, &who_p1d1, access, topic);
	if(d == ACL_NOMATCH) d = ACL_DENY;
	acl_cache_store(cache, &key, access, topic, d, 100);
	return d == ACL_ALLOW;
}

static void bind_clients(struct autosub_index *idx, const struct ih_config *cfg, int n)
{
	char cid[32], user[32];

	for(int i = 0; i < n; i++){
		struct autosub_list l;
		struct acl_subject who = {user, 0, cid, false};

		snprintf(cid, sizeof(cid), "client-%d", i);
		who.product_len = (size_t)snprintf(user, sizeof(user), "p%d", i / 100);
		snprintf(user + who.product_len, sizeof(user) - who.product_len, "/d%d", i);
		if(autosub_instantiate(&l, cfg, &who, NULL) || autosub_index_bind(idx, cid, l.items, l.count, NULL)){
			fprintf(stderr, "bind failed\n");
			exit(1);
		}
		autosub_list_free(&l);
	}
}

static void bench_index(const struct ih_config *cfg, int clients, const char *name)
{
	struct autosub_index *idx;
	const struct autosub_match *m;
	struct autosub_index_stats st;

	if(autosub_index_new(&idx, false)) exit(1);
	bind_clients(idx, cfg, clients);
	fill_topics("cmd/p0/d7/reboot/json/%d");
	autosub_index_match(idx, topics[0], &m);
	MEASURE(name, sink += (int)autosub_index_match(idx, topics[i], &m));
	autosub_index_stats(idx, &st);
	printf("mem %s_bytes_per_client %zu\n", name, (st.bytes) / (size_t)clients);
	printf("mem %s_candidates_per_match %zu\n", name, st.last_candidates);
	autosub_index_free(idx);
}

int main(void)
{
	struct ih_config cfg;
	struct acl_templates *tpl;
	struct acl_rules *rules, *shared;
	struct acl_cache *cache;
	struct autosub_list grants;
	struct acl_subject who = {"p1/d1", 2, "device-p1-d1", false};
	struct acl_cache_key key;
	enum acl_decision d;

	if(ih_config_parse(&cfg, NULL, 0) || acl_templates_init(&tpl, &cfg)) return 1;
	if(autosub_instantiate(&grants, &cfg, &who, NULL)) return 1;
	if(acl_rules_build(&rules, tpl, NULL, grants.names, grants.count, &who)) return 1;
	if(acl_rules_build_shared(&shared, tpl, NULL, cfg.autosub, cfg.autosub_count)) return 1;
	if(acl_cache_new(&cache, cfg.acl_cache_max_size, cfg.acl_cache_ttl_s) || cache == NULL) return 1;

	/* Cached check: the same topic again and again. */
	strcpy(topics[0], "upload_data/p1/d1/temp/1234");
	checked(cache, rules, MOSQ_ACL_WRITE, topics[0]);
	MEASURE("cache_hit", sink += acl_cache_lookup(cache, MOSQ_ACL_WRITE, topics[0], 100, &key, &d));

	/* Misses: every publish/delivery has a fresh MessageId/RequestId. */
	fill_topics("upload_data/p1/d1/temp/%d");
	MEASURE("rules_write", sink += acl_rules_check(rules, &who, MOSQ_ACL_WRITE, topics[i]));
	MEASURE("miss_write", sink += checked(cache, rules, MOSQ_ACL_WRITE, topics[i]));
	fill_topics("cmd/p1/d1/reboot/json/%d");
	MEASURE("rules_read", sink += acl_rules_check(rules, &who, MOSQ_ACL_READ, topics[i]));
	MEASURE("miss_read", sink += checked(cache, rules, MOSQ_ACL_READ, topics[i]));
	fill_topics("m2m/p1/d2/d1/%d");
	MEASURE("rules_write_m2m", sink += acl_rules_check(rules, &who, MOSQ_ACL_WRITE, topics[i]));
	fill_topics("upload_data/p1/d2/temp/%d");
	MEASURE("rules_write_denied", sink += acl_rules_check(rules, &who, MOSQ_ACL_WRITE, topics[i]));

	/* SUBSCRIBE with wildcards: allowed, and refused. */
	MEASURE("rules_sub_allow", sink += acl_rules_check(rules, &who, MOSQ_ACL_SUBSCRIBE, "tags/p1/+/cmd/+/+/+/#"));
	MEASURE("rules_sub_deny", sink += acl_rules_check(rules, &who, MOSQ_ACL_SUBSCRIBE, "+/p1/#"));

	/* The same checks on the shared template-form block (what the plugin
	 * uses for a plain subject), the values compared in place. */
	fill_topics("upload_data/p1/d1/temp/%d");
	MEASURE("shared_write", sink += acl_rules_check(shared, &who, MOSQ_ACL_WRITE, topics[i]));
	fill_topics("cmd/p1/d1/reboot/json/%d");
	MEASURE("shared_read", sink += acl_rules_check(shared, &who, MOSQ_ACL_READ, topics[i]));
	fill_topics("m2m/p1/d2/d1/%d");
	MEASURE("shared_write_m2m", sink += acl_rules_check(shared, &who, MOSQ_ACL_WRITE, topics[i]));
	fill_topics("upload_data/p1/d2/temp/%d");
	MEASURE("shared_write_denied", sink += acl_rules_check(shared, &who, MOSQ_ACL_WRITE, topics[i]));
	MEASURE("shared_sub_allow", sink += acl_rules_check(shared, &who, MOSQ_ACL_SUBSCRIBE, "tags/p1/+/cmd/+/+/+/#"));
	MEASURE("shared_sub_deny", sink += acl_rules_check(shared, &who, MOSQ_ACL_SUBSCRIBE, "+/p1/#"));

	printf("mem rules_bytes %zu\n", acl_rules_memory(rules));
	printf("mem rules_filters %zu\n", acl_rules_count(rules));
	printf("mem shared_rules_bytes_once %zu\n", acl_rules_memory(shared));
	printf("mem cache_bytes_full %zu\n", acl_cache_memory(cache));
	printf("mem autosub_list_bytes %zu\n", grants.bytes);

	bench_index(&cfg, 10, "index_match_10");
	bench_index(&cfg, 10000, "index_match_10000");

	/* The keyed hash alone (core/keyhash.h records these figures): a
	 * 27-byte topic as in cache_hit, and a 9-byte autosub prefix. */
	strcpy(topics[0], "upload_data/p1/d1/temp/1234");
	MEASURE("siphash13_27B", sink += (int)ih_siphash13(ih_keyhash_process_key(), topics[0], 27));
	MEASURE("siphash24_27B", sink += (int)ih_siphash24(ih_keyhash_process_key(), topics[0], 27));
	MEASURE("siphash13_9B", sink += (int)ih_siphash13(ih_keyhash_process_key(), topics[0], 9));

	acl_cache_free(cache);
	acl_rules_free(rules);
	acl_rules_free(shared);
	autosub_list_free(&grants);
	acl_templates_cleanup(tpl);
	ih_config_cleanup(&cfg);
	return sink == 42 ? 2 : 0;
}
