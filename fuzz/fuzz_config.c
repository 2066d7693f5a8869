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
			/* A one-byte key picks a real option (table order). */
			struct ih_option_info info;
			ih_config_option_info((unsigned char)key[0] % ih_config_option_count(), &info);
			opts[n].key = (char *)info.name;
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
		FZ_CHECK(cfg.amqp_linger_ms <= 100, "amqp_linger");
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
