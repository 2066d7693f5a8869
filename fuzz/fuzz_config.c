/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Option parsing (core/config.c, ih_config_parse) with arbitrary
 * key/value sets, followed by what the plugin does next with a parsed
 * configuration: ACL template compilation, auto-subscription template
 * validation and the amqp_uri parse.
 *
 * Input: NUL-separated fields, in pairs  key | value. A key whose first
 * byte is 0x01..0x7f followed by nothing else picks a real option name by
 * index (so most pairs reach the value parsers); any other key is used as
 * written.
 * Properties: no crash, no leak (parse failures included), every parsed
 * value inside its documented range.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/rules.h"
#include "fuzz/fuzz_common.h"
#include "events/amqp_conn.h"
#include "autosub/autosub_template.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"mongo_uri", "mongo_db", "devices_collection", "acl_collection", "mongo_timeout", "mongo_probe_interval",
	"field_username", "field_product", "field_device", "field_secret", "field_password_hash", "field_status",
	"field_superuser", "field_tags", "field_acl", "field_acl_publish", "field_acl_subscribe", "field_acl_pubsub",
	"field_acl_deny", "field_acl_deny_publish", "field_acl_deny_subscribe", "status_active", "allow_anonymous",
	"username_max_len", "auth_cache_ttl", "auth_cache_negative_ttl", "auth_cache_max", "auth_outage_grace",
	"auth_fail_max", "auth_fail_window", "auth_fail_block", "auth_fail_track_max", "auth_refetch_queue_max",
	"acl_publish", "acl_subscribe", "acl_pubsub", "acl_deny", "acl_deny_publish", "acl_deny_subscribe",
	"acl_registry", "acl_nomatch", "acl_deny_action", "acl_cache_max_size", "acl_cache_ttl", "autosub",
	"autosub_tags", "autosub_tags_qos", "amqp_uri", "amqp_exchange", "amqp_queue_connected",
	"amqp_queue_disconnected", "amqp_queue_publish", "amqp_declare", "amqp_queue_type", "amqp_cacert",
	"amqp_cert", "amqp_key", "amqp_verify_peer", "amqp_heartbeat", "amqp_window", "amqp_timeout",
	"amqp_reconnect_min", "amqp_reconnect_max", "event_format", "event_connected", "event_disconnected",
	"event_publish", "event_publish_topic", "node_name", "spool_dir", "spool_max_bytes", "spool_segment_bytes",
	"spool_sync_interval", "queue_max_events", "control", "revalidate_interval", "revalidate_batch",
	"stats_interval", "stats_file",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))
#define MAXOPTS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct mosquitto_opt opts[MAXOPTS];
	char *owned[2 * MAXOPTS];
	int n = 0, nowned = 0;
	struct ih_config cfg;

	while(n < MAXOPTS && !fz_empty(&f)){
		char *key = fz_str(&f);
		char *value = fz_str(&f);

		owned[nowned++] = key;
		owned[nowned++] = value;
		if((unsigned char)key[0] > 0 && (unsigned char)key[0] < 0x80 && key[1] == '\0'){
			opts[n].key = (char *)names[(unsigned char)key[0] % NNAMES];
		}else{
			opts[n].key = key;
		}
		/* mosquitto never passes an empty value; the fuzzer may. */
		opts[n].value = value;
		n++;
	}

	if(ih_config_parse(&cfg, opts, n) == MOSQ_ERR_SUCCESS){
		struct acl_templates *tpl = NULL;
		struct events_amqp_target target;
		char err[512];

		FZ_CHECK(cfg.username_max_len >= 3 && cfg.username_max_len <= 65535, "username_max_len");
		FZ_CHECK(cfg.mongo_timeout_ms >= 50 && cfg.mongo_timeout_ms <= 60000, "mongo_timeout");
		FZ_CHECK(cfg.amqp_window >= 1 && cfg.amqp_window <= 65536, "amqp_window");
		FZ_CHECK(cfg.autosub_tags_qos >= 0 && cfg.autosub_tags_qos <= 2, "autosub_tags_qos");
		FZ_CHECK(cfg.spool_segment_bytes <= cfg.spool_max_bytes, "spool sizes");
		FZ_CHECK(cfg.amqp_reconnect_min_ms <= cfg.amqp_reconnect_max_ms, "reconnect range");
		for(size_t i = 0; i < cfg.autosub_count; i++){
			FZ_CHECK(cfg.autosub[i].qos >= 0 && cfg.autosub[i].qos <= 2 && cfg.autosub[i].filter[0], "autosub entry");
		}
		if(acl_templates_init(&tpl, &cfg) == MOSQ_ERR_SUCCESS) acl_templates_cleanup(tpl);
		autosub_templates_validate(&cfg);
		if(cfg.amqp_uri){
			/* Cleanup after success and failure alike, as events_fwd_init does. */
			err[0] = '\0';
			if(events_amqp_target_init(&target, &cfg, err, sizeof(err)) == 0){
				FZ_CHECK(target.ci.host != NULL && target.ci.port > 0, "parsed amqp target");
			}else{
				FZ_CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0], "amqp_uri refusal without a reason");
			}
			events_amqp_target_cleanup(&target);
		}
	}
	ih_config_cleanup(&cfg);
	for(int i = 0; i < nowned; i++) free(owned[i]);
	return 0;
}
