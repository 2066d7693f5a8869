/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Option parsing. One table describes every option; parsing, defaults and
 * cleanup all walk that table, so adding an option is one line here plus its
 * README entry.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "core/config.h"

enum opt_type {
	OPT_STR,        /* char *, owned */
	OPT_STR_OPT,    /* char *, NULL unless given */
	OPT_BOOL,
	OPT_U32,        /* plain unsigned integer within [min,max] */
	OPT_SECONDS,    /* duration stored in seconds; accepts ms/s/m/h/d suffix */
	OPT_MILLIS,     /* duration stored in milliseconds */
	OPT_SIZE,       /* uint64_t bytes; accepts k/M/G suffix */
	OPT_QOS,        /* int 0..2 */
	OPT_LIST,       /* struct ih_strlist, repeatable; given values replace the defaults */
	OPT_ENUM,       /* int, one of `choices` */
	OPT_AUTOSUB,    /* "FILTER QOS", repeatable; replaces the default set */
};

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t offset;
	const char *def;            /* default as text, parsed like a user value */
	const char *const *deflist; /* defaults of list options, NULL-terminated */
	uint64_t min;
	uint64_t max;
	const char *const *choices; /* enum names, index = value */
};

#define OFF(f) offsetof(struct ih_config, f)

static const char *const nomatch_choices[] = {"deny", "allow", NULL};
static const char *const deny_action_choices[] = {"ignore", "disconnect", NULL};
static const char *const format_choices[] = {"bson", "json", NULL};
static const char *const queue_type_choices[] = {"classic", "quorum", NULL};
static const char *const preload_choices[] = {"connected", "all", "off", NULL};
static const char *const worker_choices[] = {"process", "thread", NULL};
static const char *const jwt_from_choices[] = {"password", "username", NULL};

/* Default templates of each ACL list (acl_NAME options); the lists not
 * named here start empty. The IotHub server's device ACL
 * (docs/PROTOCOL.md §4). The inner bound fits the longest list and its NULL. */
static const char *const acl_list_defaults[IH_ACL_LIST_COUNT][8] = {
	[IH_ACL_PUBLISH] = {
		"upload_data/%p/%d/+/+",
		"update_status/%p/%d/+",
		"update_ota_status/%p/%d/+",
		"cmd_resp/%p/%d/+/+/+",
		"rpc_resp/%p/%d/+/+/+",
		"get/%p/%d/+/+",
		"m2m/%p/+/%d/+",
		NULL
	},
	[IH_ACL_SUBSCRIBE] = {
		"tags/%p/+/cmd/+/+/+/#",
		NULL
	},
};

/* An empty list: the default of the repeatable options that start empty. */
static const char *const empty_list[] = {NULL};

/* Device uplink topics: what the IotHub server consumes as message.publish. */
static const char *const default_event_topics[] = {
	"upload_data/+/+/+/+",
	"update_status/+/+/+",
	"update_ota_status/+/+/+",
	"cmd_resp/+/+/+/+/+",
	"rpc_resp/+/+/+/+/+",
	"get/+/+/+/+",
	NULL
};

/* EMQX module.subscription set used by the IotHub server. */
static const char *const default_autosub[] = {
	"cmd/%u/+/+/+/# 1",
	"rpc/%u/+/+/+/# 1",
	"m2m/%u/+/+ 1",
	NULL
};

#define U32MAX UINT32_MAX
#define DAY_S (86400ULL)

static const struct opt_def opt_table[] = {
	/* registry */
	{"mongo_uri", OPT_STR, OFF(mongo_uri), "mongodb://127.0.0.1:27017", NULL, 0, 0, NULL},
	{"mongo_db", OPT_STR, OFF(mongo_db), "iothub", NULL, 0, 0, NULL},
	{"devices_collection", OPT_STR, OFF(devices_collection), "devices", NULL, 0, 0, NULL},
	{"acl_collection", OPT_STR, OFF(acl_collection), "device_acl", NULL, 0, 0, NULL},
	{"mongo_timeout", OPT_MILLIS, OFF(mongo_timeout_ms), "1000ms", NULL, 50, 60000, NULL},
	{"mongo_probe_interval", OPT_MILLIS, OFF(mongo_probe_ms), "1000ms", NULL, 100, 600000, NULL},
	{"field_username", OPT_STR, OFF(field.username), "broker_username", NULL, 0, 0, NULL},
	{"field_product", OPT_STR, OFF(field.product), "product_name", NULL, 0, 0, NULL},
	{"field_device", OPT_STR, OFF(field.device), "device_name", NULL, 0, 0, NULL},
	{"field_secret", OPT_STR, OFF(field.secret), "secret", NULL, 0, 0, NULL},
	{"field_password_hash", OPT_STR, OFF(field.password_hash), "password_hash", NULL, 0, 0, NULL},
	{"field_status", OPT_STR, OFF(field.status), "status", NULL, 0, 0, NULL},
	{"field_superuser", OPT_STR, OFF(field.superuser), "superuser", NULL, 0, 0, NULL},
	{"field_tags", OPT_STR, OFF(field.tags), "tags", NULL, 0, 0, NULL},
	{"field_acl", OPT_STR, OFF(field.acl), "acl", NULL, 0, 0, NULL},
	/* field_acl_publish ... field_acl_deny_subscribe, default: the list's name */
#define ACL_FIELD_OPT(e, name) \
	{"field_acl_" #name, OPT_STR, OFF(acl_field[IH_ACL_##e]), #name, NULL, 0, 0, NULL},
	IH_ACL_LIST_TABLE(ACL_FIELD_OPT)
#undef ACL_FIELD_OPT
	{"status_active", OPT_STR, OFF(status_active), "active", NULL, 0, 0, NULL},

	/* authentication */
	{"allow_anonymous", OPT_BOOL, OFF(allow_anonymous), "false", NULL, 0, 0, NULL},
	{"username_max_len", OPT_U32, OFF(username_max_len), "256", NULL, 3, 65535, NULL},
	{"auth_cache_ttl", OPT_SECONDS, OFF(auth_cache_ttl_s), "60s", NULL, 0, DAY_S, NULL},
	{"auth_cache_negative_ttl", OPT_SECONDS, OFF(auth_cache_negative_ttl_s), "5s", NULL, 0, DAY_S, NULL},
	{"auth_cache_max", OPT_U32, OFF(auth_cache_max), "100000", NULL, 0, 100000000, NULL},
	{"auth_outage_grace", OPT_SECONDS, OFF(auth_outage_grace_s), "3600s", NULL, 0, 30 * DAY_S, NULL},
	{"auth_fail_max", OPT_U32, OFF(auth_fail_max), "10", NULL, 0, 1000000, NULL},
	{"auth_fail_window", OPT_SECONDS, OFF(auth_fail_window_s), "60s", NULL, 1, DAY_S, NULL},
	{"auth_fail_block", OPT_SECONDS, OFF(auth_fail_block_s), "60s", NULL, 1, DAY_S, NULL},
	/* -- auth: throttle memory (auth/throttle.c), refetch queue (registry/worker.c) -- */
	{"auth_fail_track_max", OPT_U32, OFF(auth_fail_track_max), "100000", NULL, 1, 100000000, NULL},
	{"auth_refetch_queue_max", OPT_U32, OFF(auth_refetch_queue_max), "100000", NULL, 1, 100000000, NULL},
	/* -- end auth: throttle memory, refetch queue -- */

	/* ACL */
	/* acl_publish ... acl_deny_subscribe: repeatable templates */
#define ACL_LIST_OPT(e, name) \
	{"acl_" #name, OPT_LIST, OFF(acl_lists.list[IH_ACL_##e]), NULL, acl_list_defaults[IH_ACL_##e], 0, 0, NULL},
	IH_ACL_LIST_TABLE(ACL_LIST_OPT)
#undef ACL_LIST_OPT
	{"acl_registry", OPT_BOOL, OFF(acl_registry), "true", NULL, 0, 0, NULL},
	{"acl_nomatch", OPT_ENUM, OFF(acl_nomatch), "deny", NULL, 0, 0, nomatch_choices},
	{"acl_deny_action", OPT_ENUM, OFF(acl_deny_action), "ignore", NULL, 0, 0, deny_action_choices},
	{"acl_cache_max_size", OPT_U32, OFF(acl_cache_max_size), "32", NULL, 0, 4096, NULL},
	{"acl_cache_ttl", OPT_SECONDS, OFF(acl_cache_ttl_s), "60s", NULL, 0, DAY_S, NULL},

	/* auto-subscription */
	{"autosub", OPT_AUTOSUB, OFF(autosub), NULL, default_autosub, 0, 0, NULL},
	{"autosub_tags", OPT_BOOL, OFF(autosub_tags), "false", NULL, 0, 0, NULL},
	{"autosub_tags_qos", OPT_QOS, OFF(autosub_tags_qos), "1", NULL, 0, 2, NULL},

	/* event forwarding */
	{"amqp_uri", OPT_STR_OPT, OFF(amqp_uri), NULL, NULL, 0, 0, NULL},
	{"amqp_exchange", OPT_STR, OFF(amqp_exchange), "mqtt.events", NULL, 0, 0, NULL},
	{"amqp_queue_connected", OPT_STR, OFF(amqp_queue_connected), "iothub_client_connected", NULL, 0, 0, NULL},
	{"amqp_queue_disconnected", OPT_STR, OFF(amqp_queue_disconnected), "iothub_client_disconnected", NULL, 0, 0, NULL},
	{"amqp_queue_publish", OPT_STR, OFF(amqp_queue_publish), "iothub_message_publish", NULL, 0, 0, NULL},
	{"amqp_declare", OPT_BOOL, OFF(amqp_declare), "true", NULL, 0, 0, NULL},
	{"amqp_queue_type", OPT_ENUM, OFF(amqp_queue_type), "classic", NULL, 0, 0, queue_type_choices},
	{"amqp_cacert", OPT_STR_OPT, OFF(amqp_cacert), NULL, NULL, 0, 0, NULL},
	{"amqp_cert", OPT_STR_OPT, OFF(amqp_cert), NULL, NULL, 0, 0, NULL},
	{"amqp_key", OPT_STR_OPT, OFF(amqp_key), NULL, NULL, 0, 0, NULL},
	{"amqp_verify_peer", OPT_BOOL, OFF(amqp_verify_peer), "true", NULL, 0, 0, NULL},
	{"amqp_heartbeat", OPT_SECONDS, OFF(amqp_heartbeat_s), "30s", NULL, 0, 3600, NULL},
	{"amqp_window", OPT_U32, OFF(amqp_window), "1024", NULL, 1, 65536, NULL},
	{"amqp_timeout", OPT_MILLIS, OFF(amqp_timeout_ms), "5000ms", NULL, 100, 600000, NULL},
	{"amqp_reconnect_min", OPT_MILLIS, OFF(amqp_reconnect_min_ms), "200ms", NULL, 10, 600000, NULL},
	{"amqp_reconnect_max", OPT_MILLIS, OFF(amqp_reconnect_max_ms), "30000ms", NULL, 10, 3600000, NULL},
	{"amqp_linger", OPT_MILLIS, OFF(amqp_linger_ms), "1ms", NULL, 0, 100, NULL},
	{"event_format", OPT_ENUM, OFF(event_format), "bson", NULL, 0, 0, format_choices},
	{"event_connected", OPT_BOOL, OFF(event_connected), "true", NULL, 0, 0, NULL},
	{"event_disconnected", OPT_BOOL, OFF(event_disconnected), "true", NULL, 0, 0, NULL},
	{"event_publish", OPT_BOOL, OFF(event_publish), "true", NULL, 0, 0, NULL},
	{"event_publish_topic", OPT_LIST, OFF(event_publish_topics), NULL, default_event_topics, 0, 0, NULL},
	{"node_name", OPT_STR, OFF(node_name), "", NULL, 0, 0, NULL},
	{"spool_dir", OPT_STR, OFF(spool_dir), "iothub-spool", NULL, 0, 0, NULL},
	{"spool_max_bytes", OPT_SIZE, OFF(spool_max_bytes), "1G", NULL, 1024 * 1024, UINT64_MAX, NULL},
	{"spool_segment_bytes", OPT_SIZE, OFF(spool_segment_bytes), "16M", NULL, 64 * 1024, 1024ULL * 1024 * 1024, NULL},
	{"spool_sync_interval", OPT_MILLIS, OFF(spool_sync_ms), "0ms", NULL, 0, 3600000, NULL},
	{"queue_max_events", OPT_U32, OFF(queue_max_events), "100000", NULL, 16, 100000000, NULL},

	/* administration and observability */
	{"control", OPT_BOOL, OFF(control), "true", NULL, 0, 0, NULL},
	{"revalidate_interval", OPT_SECONDS, OFF(revalidate_interval_s), "60s", NULL, 0, DAY_S, NULL},
	{"revalidate_batch", OPT_U32, OFF(revalidate_batch), "500", NULL, 1, 100000, NULL},
	{"stats_interval", OPT_SECONDS, OFF(stats_interval_s), "60s", NULL, 0, DAY_S, NULL},
	{"stats_file", OPT_STR_OPT, OFF(stats_file), NULL, NULL, 0, 0, NULL},

	/* restart preload: the auth cache is filled in bulk at start-up */
	{"registry_worker", OPT_ENUM, OFF(registry_worker), "process", NULL, 0, 0, worker_choices},
	{"auth_preload", OPT_ENUM, OFF(auth_preload), "connected", NULL, 0, 0, preload_choices},
	{"auth_preload_max", OPT_U32, OFF(auth_preload_max), "100000", NULL, 0, 100000000, NULL},
	{"auth_preload_save_interval", OPT_SECONDS, OFF(auth_preload_save_interval_s), "60s", NULL, 1, DAY_S, NULL},
	{"state_dir", OPT_STR, OFF(state_dir), "", NULL, 0, 0, NULL},
	/* end restart preload */
	/* -- JWT authentication (auth/jwt.c); README "JWT authentication" -- */
	{"jwt_secret", OPT_STR_OPT, OFF(jwt_secret), NULL, NULL, 0, 0, NULL},
	{"jwt_public_key", OPT_STR_OPT, OFF(jwt_public_key), NULL, NULL, 0, 0, NULL},
	{"jwt_from", OPT_ENUM, OFF(jwt_from), "password", NULL, 0, 0, jwt_from_choices},
	{"jwt_verify_claims", OPT_LIST, OFF(jwt_verify_claims), NULL, empty_list, 0, 0, NULL},
	{"jwt_leeway", OPT_SECONDS, OFF(jwt_leeway_s), "0s", NULL, 0, DAY_S, NULL},
	{"jwt_require_exp", OPT_BOOL, OFF(jwt_require_exp), "true", NULL, 0, 0, NULL},
	{"jwt_superuser_claim", OPT_STR_OPT, OFF(jwt_superuser_claim), NULL, NULL, 0, 0, NULL},
	{"jwt_acl_publish", OPT_LIST, OFF(jwt_acl_publish), NULL, empty_list, 0, 0, NULL},
	{"jwt_acl_subscribe", OPT_LIST, OFF(jwt_acl_subscribe), NULL, empty_list, 0, 0, NULL},
	{"jwt_acl_pubsub", OPT_LIST, OFF(jwt_acl_pubsub), NULL, empty_list, 0, 0, NULL},
	{"jwt_disconnect_on_expiry", OPT_BOOL, OFF(jwt_disconnect_on_expiry), "true", NULL, 0, 0, NULL},
	/* -- end JWT authentication -- */
	/* cluster (cluster/): several nodes routed by RabbitMQ */
	{"cluster", OPT_BOOL, OFF(cluster), "false", NULL, 0, 0, NULL},
	{"cluster_exchange", OPT_STR, OFF(cluster_exchange), "iothub.route", NULL, 0, 0, NULL},
	{"cluster_admin_exchange", OPT_STR, OFF(cluster_admin_exchange), "iothub.admin", NULL, 0, 0, NULL},
	{"cluster_queue_prefix", OPT_STR, OFF(cluster_queue_prefix), "iothub.node.", NULL, 0, 0, NULL},
	{"cluster_takeover_wait", OPT_MILLIS, OFF(cluster_takeover_wait_ms), "1000ms", NULL, 0, 60000, NULL},
	{"cluster_stats_interval", OPT_SECONDS, OFF(cluster_stats_interval_s), "5s", NULL, 1, 3600, NULL},
	{"cluster_startup_hold", OPT_SECONDS, OFF(cluster_startup_hold_s), "60s", NULL, 0, 3600, NULL},
	/* end cluster */
	/* HTTP management API (api/, plugin/api_glue.c) */
	{"http_api_listen", OPT_STR_OPT, OFF(http_api_listen), NULL, NULL, 0, 0, NULL},
	{"http_api_key", OPT_LIST, OFF(http_api_keys), NULL, empty_list, 0, 0, NULL},
	{"http_api_certfile", OPT_STR_OPT, OFF(http_api_certfile), NULL, NULL, 0, 0, NULL},
	{"http_api_keyfile", OPT_STR_OPT, OFF(http_api_keyfile), NULL, NULL, 0, 0, NULL},
	{"http_api_max_body", OPT_SIZE, OFF(http_api_max_body), "1M", NULL, 1024, 256ULL * 1024 * 1024, NULL},
	{"http_api_metrics_public", OPT_BOOL, OFF(http_api_metrics_public), "false", NULL, 0, 0, NULL},
	/* end HTTP management API */
};

#define OPT_COUNT (sizeof(opt_table) / sizeof(opt_table[0]))

/* ------------------------------------------------------------------ */
/* value parsers                                                        */

int ih_parse_bool(const char *s, bool *out)
{
	if(!strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcasecmp(s, "yes") || !strcmp(s, "1")){
		*out = true;
		return 0;
	}
	if(!strcasecmp(s, "false") || !strcasecmp(s, "off") || !strcasecmp(s, "no") || !strcmp(s, "0")){
		*out = false;
		return 0;
	}
	return -1;
}

/* Parse leading digits; returns the end pointer or NULL on overflow/no digits. */
static const char *parse_digits(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if(!isdigit((unsigned char)*p)) return NULL;
	while(isdigit((unsigned char)*p)){
		unsigned d = (unsigned)(*p - '0');
		if(v > (UINT64_MAX - d) / 10) return NULL;
		v = v * 10 + d;
		p++;
	}
	*out = v;
	return p;
}

int ih_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;
	const char *end = parse_digits(s, &v);

	if(end == NULL || *end != '\0' || v > max) return -1;
	*out = v;
	return 0;
}

static int mul_checked(uint64_t v, uint64_t m, uint64_t *out)
{
	if(m != 0 && v > UINT64_MAX / m) return -1;
	*out = v * m;
	return 0;
}

int ih_parse_duration_ms(const char *s, uint64_t *out_ms)
{
	uint64_t v, mult;
	const char *end = parse_digits(s, &v);

	if(end == NULL) return -1;
	if(*end == '\0' || !strcmp(end, "s")) mult = 1000;
	else if(!strcmp(end, "ms")) mult = 1;
	else if(!strcmp(end, "m")) mult = 60ULL * 1000;
	else if(!strcmp(end, "h")) mult = 3600ULL * 1000;
	else if(!strcmp(end, "d")) mult = 86400ULL * 1000;
	else return -1;
	return mul_checked(v, mult, out_ms);
}

int ih_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mult;
	const char *end = parse_digits(s, &v);

	if(end == NULL) return -1;
	if(*end == '\0' || !strcmp(end, "B")) mult = 1;
	else if(!strcasecmp(end, "k") || !strcasecmp(end, "kb")) mult = 1024ULL;
	else if(!strcasecmp(end, "m") || !strcasecmp(end, "mb")) mult = 1024ULL * 1024;
	else if(!strcasecmp(end, "g") || !strcasecmp(end, "gb")) mult = 1024ULL * 1024 * 1024;
	else return -1;
	return mul_checked(v, mult, out);
}

/* ------------------------------------------------------------------ */
/* list helpers                                                         */

static void strlist_clear(struct ih_strlist *l)
{
	for(size_t i = 0; i < l->count; i++){
		mosquitto_free(l->items[i]);
	}
	mosquitto_free(l->items);
	l->items = NULL;
	l->count = 0;
}

static int strlist_append(struct ih_strlist *l, const char *value)
{
	char **items;
	char *copy = mosquitto_strdup(value);

	if(copy == NULL) return MOSQ_ERR_NOMEM;
	items = mosquitto_realloc(l->items, (l->count + 1) * sizeof(char *));
	if(items == NULL){
		mosquitto_free(copy);
		return MOSQ_ERR_NOMEM;
	}
	l->items = items;
	l->items[l->count++] = copy; /* ownership of copy passes to the list */
	return MOSQ_ERR_SUCCESS;
}

static void autosub_clear(struct ih_config *cfg)
{
	for(size_t i = 0; i < cfg->autosub_count; i++){
		mosquitto_free(cfg->autosub[i].filter);
	}
	mosquitto_free(cfg->autosub);
	cfg->autosub = NULL;
	cfg->autosub_count = 0;
	cfg->autosub_none = false;
}

/* "FILTER QOS": the filter is everything before the last run of blanks.
 * "none" alone empties the set (no auto-subscription; the defaults are
 * already cleared when the first user value arrives). */
static int autosub_append(struct ih_config *cfg, const char *value, const char **why)
{
	const char *end = value + strlen(value);
	const char *q;
	size_t flen;
	uint64_t qos;
	struct ih_autosub_tpl *arr;
	char *filter;

	while(end > value && isspace((unsigned char)end[-1])) end--;
	while(value < end && isspace((unsigned char)*value)) value++;
	if(end - value == 4 && !strncasecmp(value, "none", 4)){
		if(cfg->autosub_count > 0 || cfg->autosub_none){
			*why = "\"none\" must be the only plugin_opt_autosub line";
			return MOSQ_ERR_INVAL;
		}
		cfg->autosub_none = true;
		return MOSQ_ERR_SUCCESS;
	}
	if(cfg->autosub_none){
		*why = "\"none\" must be the only plugin_opt_autosub line";
		return MOSQ_ERR_INVAL;
	}
	q = end;
	while(q > value && !isspace((unsigned char)q[-1])) q--;
	if(q == value){
		*why = "expected \"FILTER QOS\", e.g. \"cmd/%u/+/+/+/# 1\"";
		return MOSQ_ERR_INVAL;
	}
	if(end - q != 1 || *q < '0' || *q > '2'){
		*why = "QoS must be 0, 1 or 2";
		return MOSQ_ERR_INVAL;
	}
	qos = (uint64_t)(*q - '0');
	flen = (size_t)(q - value);
	while(flen > 0 && isspace((unsigned char)value[flen - 1])) flen--;
	while(flen > 0 && isspace((unsigned char)*value)){
		value++;
		flen--;
	}
	if(flen == 0){
		*why = "empty topic filter";
		return MOSQ_ERR_INVAL;
	}
	filter = mosquitto_malloc(flen + 1);
	if(filter == NULL) return MOSQ_ERR_NOMEM;
	memcpy(filter, value, flen);
	filter[flen] = '\0';
	arr = mosquitto_realloc(cfg->autosub, (cfg->autosub_count + 1) * sizeof(*arr));
	if(arr == NULL){
		mosquitto_free(filter);
		return MOSQ_ERR_NOMEM;
	}
	cfg->autosub = arr;
	arr[cfg->autosub_count].filter = filter; /* ownership passes to cfg */
	arr[cfg->autosub_count].qos = (int)qos;
	cfg->autosub_count++;
	return MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* table-driven apply                                                   */

static int apply_value(struct ih_config *cfg, const struct opt_def *d, const char *value, const char **why)
{
	void *field = (char *)cfg + d->offset;
	uint64_t v;
	bool b;

	switch(d->type){
		case OPT_STR:
		case OPT_STR_OPT: {
			char *copy = mosquitto_strdup(value);
			if(copy == NULL) return MOSQ_ERR_NOMEM;
			mosquitto_free(*(char **)field);
			*(char **)field = copy; /* ownership passes to cfg */
			return MOSQ_ERR_SUCCESS;
		}
		case OPT_BOOL:
			if(ih_parse_bool(value, &b)){
				*why = "expected true or false";
				return MOSQ_ERR_INVAL;
			}
			*(bool *)field = b;
			return MOSQ_ERR_SUCCESS;
		case OPT_U32:
		case OPT_QOS:
			if(ih_parse_uint(value, UINT64_MAX, &v) || v < d->min || v > d->max){
				*why = "expected an integer in the allowed range";
				return MOSQ_ERR_INVAL;
			}
			if(d->type == OPT_QOS) *(int *)field = (int)v;
			else *(uint32_t *)field = (uint32_t)v;
			return MOSQ_ERR_SUCCESS;
		case OPT_SECONDS:
			if(ih_parse_duration_ms(value, &v) || v % 1000 != 0 || v / 1000 < d->min || v / 1000 > d->max){
				*why = "expected a whole number of seconds in the allowed range (suffix s, m, h or d)";
				return MOSQ_ERR_INVAL;
			}
			*(uint32_t *)field = (uint32_t)(v / 1000);
			return MOSQ_ERR_SUCCESS;
		case OPT_MILLIS:
			if(ih_parse_duration_ms(value, &v) || v < d->min || v > d->max){
				*why = "expected a duration in the allowed range (plain number = seconds; suffix ms, s, m, h)";
				return MOSQ_ERR_INVAL;
			}
			*(uint32_t *)field = (uint32_t)v;
			return MOSQ_ERR_SUCCESS;
		case OPT_SIZE:
			if(ih_parse_size(value, &v) || v < d->min || v > d->max){
				*why = "expected a size in the allowed range (suffix k, M or G)";
				return MOSQ_ERR_INVAL;
			}
			*(uint64_t *)field = v;
			return MOSQ_ERR_SUCCESS;
		case OPT_ENUM:
			for(int i = 0; d->choices[i]; i++){
				if(!strcasecmp(value, d->choices[i])){
					*(int *)field = i;
					return MOSQ_ERR_SUCCESS;
				}
			}
			*why = "not one of the allowed values";
			return MOSQ_ERR_INVAL;
		case OPT_LIST:
			if(value[0] == '\0'){
				*why = "empty topic filter";
				return MOSQ_ERR_INVAL;
			}
			return strlist_append(field, value);
		case OPT_AUTOSUB:
			return autosub_append(cfg, value, why);
	}
	return MOSQ_ERR_INVAL;
}

static void describe_range(const struct opt_def *d, char *buf, size_t len)
{
	buf[0] = '\0';
	if(d->type == OPT_ENUM){
		size_t used = 0;
		for(int i = 0; d->choices[i] && used < len; i++){
			int n = snprintf(buf + used, len - used, "%s%s", i ? "|" : "", d->choices[i]);
			if(n < 0) break;
			used += (size_t)n;
		}
	}else if(d->type == OPT_U32 || d->type == OPT_QOS){
		snprintf(buf, len, "%llu..%llu", (unsigned long long)d->min, (unsigned long long)d->max);
	}else if(d->type == OPT_SECONDS){
		snprintf(buf, len, "%llus..%llus", (unsigned long long)d->min, (unsigned long long)d->max);
	}else if(d->type == OPT_MILLIS){
		snprintf(buf, len, "%llums..%llums", (unsigned long long)d->min, (unsigned long long)d->max);
	}else if(d->type == OPT_SIZE){
		snprintf(buf, len, ">= %llu bytes", (unsigned long long)d->min);
	}
}

size_t ih_config_option_count(void)
{
	return OPT_COUNT;
}

void ih_config_option_info(size_t i, struct ih_option_info *out)
{
	const struct opt_def *d = &opt_table[i < OPT_COUNT ? i : 0];

	out->name = d->name;
	out->def = d->def;
	out->deflist = d->deflist;
}

static const struct opt_def *find_opt(const char *name)
{
	for(size_t i = 0; i < OPT_COUNT; i++){
		if(!strcmp(opt_table[i].name, name)) return &opt_table[i];
	}
	return NULL;
}

static int apply_defaults(struct ih_config *cfg)
{
	const char *why = NULL;
	int rc;

	for(size_t i = 0; i < OPT_COUNT; i++){
		const struct opt_def *d = &opt_table[i];
		if(d->type == OPT_LIST || d->type == OPT_AUTOSUB){
			for(size_t j = 0; d->deflist && d->deflist[j]; j++){
				rc = apply_value(cfg, d, d->deflist[j], &why);
				if(rc) return rc;
			}
		}else if(d->def){
			rc = apply_value(cfg, d, d->def, &why);
			if(rc) return rc;
		}
	}
	return MOSQ_ERR_SUCCESS;
}

static void clear_field(struct ih_config *cfg, const struct opt_def *d)
{
	void *field = (char *)cfg + d->offset;

	if(d->type == OPT_LIST){
		strlist_clear(field);
	}else if(d->type == OPT_AUTOSUB){
		autosub_clear(cfg);
	}
}

static int fill_node_name(struct ih_config *cfg)
{
	char host[256];

	if(cfg->node_name && cfg->node_name[0]) return MOSQ_ERR_SUCCESS;
	if(gethostname(host, sizeof(host)) != 0 || host[0] == '\0'){
		snprintf(host, sizeof(host), "mosquitto");
	}
	host[sizeof(host) - 1] = '\0';
	mosquitto_free(cfg->node_name);
	cfg->node_name = mosquitto_strdup(host);
	return cfg->node_name ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
}

/* Cross-option checks that a single value cannot express. */
static int check_consistency(const struct ih_config *cfg)
{
	int rc = MOSQ_ERR_SUCCESS;

	if(cfg->mongo_uri[0] == '\0'){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option mongo_uri: must not be empty");
		rc = MOSQ_ERR_INVAL;
	}
	if(cfg->mongo_db[0] == '\0' || cfg->devices_collection[0] == '\0'){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: options mongo_db and devices_collection must not be empty");
		rc = MOSQ_ERR_INVAL;
	}
	if(cfg->amqp_reconnect_min_ms > cfg->amqp_reconnect_max_ms){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option amqp_reconnect_min: larger than amqp_reconnect_max");
		rc = MOSQ_ERR_INVAL;
	}
	if(cfg->spool_segment_bytes > cfg->spool_max_bytes){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option spool_segment_bytes: larger than spool_max_bytes");
		rc = MOSQ_ERR_INVAL;
	}
	if(cfg->amqp_uri && cfg->spool_dir[0] == '\0'){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option spool_dir: must not be empty when amqp_uri is set");
		rc = MOSQ_ERR_INVAL;
	}
	if(cfg->cluster && cfg->amqp_uri == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option cluster: needs amqp_uri (the nodes route through RabbitMQ)");
		rc = MOSQ_ERR_INVAL;
	}
	if(cfg->http_api_listen && cfg->http_api_keys.count == 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option http_api_listen: needs at least one http_api_key APPID:SECRET");
		rc = MOSQ_ERR_INVAL;
	}
	for(size_t i = 0; i < cfg->http_api_keys.count; i++){
		const char *k = cfg->http_api_keys.items[i], *colon = strchr(k, ':');

		if(colon == NULL || colon == k || colon[1] == '\0'){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option http_api_key: expected APPID:SECRET (key %zu)", i + 1);
			rc = MOSQ_ERR_INVAL;
		}
	}
	if((cfg->http_api_certfile == NULL) != (cfg->http_api_keyfile == NULL)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: options http_api_certfile and http_api_keyfile: give both or neither");
		rc = MOSQ_ERR_INVAL;
	}
	return rc;
}

int ih_config_parse(struct ih_config *cfg, const struct mosquitto_opt *opts, int count)
{
	bool replaced[OPT_COUNT];
	int rc = MOSQ_ERR_SUCCESS;
	char range[128];

	memset(cfg, 0, sizeof(*cfg));
	memset(replaced, 0, sizeof(replaced));
	if(apply_defaults(cfg)) return MOSQ_ERR_NOMEM;

	for(int i = 0; i < count; i++){
		const char *key = opts[i].key;
		const char *value = opts[i].value ? opts[i].value : "";
		const struct opt_def *d = key ? find_opt(key) : NULL;
		const char *why = NULL;
		int arc;

		if(d == NULL){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: unknown option plugin_opt_%s (see README.md for the list)",
					key ? key : "(null)");
			rc = MOSQ_ERR_INVAL;
			continue;
		}
		/* The first user value of a list option replaces the built-in defaults. */
		if((d->type == OPT_LIST || d->type == OPT_AUTOSUB) && !replaced[d - opt_table]){
			clear_field(cfg, d);
			replaced[d - opt_table] = true;
		}
		arc = apply_value(cfg, d, value, &why);
		if(arc == MOSQ_ERR_NOMEM) return arc;
		if(arc){
			describe_range(d, range, sizeof(range));
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option plugin_opt_%s: invalid value \"%s\": %s%s%s%s",
					key, value, why ? why : "invalid",
					range[0] ? " (allowed: " : "", range, range[0] ? ")" : "");
			rc = MOSQ_ERR_INVAL;
		}
	}
	if(rc) return rc;
	/* mosquitto drops options with empty values, so "none" is how a config
	 * says "no separate ACL collection". */
	if(!strcmp(cfg->acl_collection, "none")) cfg->acl_collection[0] = '\0';
	rc = fill_node_name(cfg);
	if(rc) return rc;
	return check_consistency(cfg);
}

void ih_config_cleanup(struct ih_config *cfg)
{
	for(size_t i = 0; i < OPT_COUNT; i++){
		const struct opt_def *d = &opt_table[i];
		void *field = (char *)cfg + d->offset;

		if(d->type == OPT_STR || d->type == OPT_STR_OPT){
			mosquitto_free(*(char **)field);
			*(char **)field = NULL;
		}else{
			clear_field(cfg, d);
		}
	}
}
