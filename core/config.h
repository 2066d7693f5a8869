/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Plugin configuration: every `plugin_opt_NAME VALUE` line of mosquitto.conf.
 *
 * The option table in config.c is the single source of truth for names,
 * types, ranges and defaults. README.md's option tables are its user-facing
 * copy: every option listed with this table's default, so add an option to
 * both, each in its feature's block.
 */
#ifndef IH_CORE_CONFIG_H
#define IH_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/acl_lists.h"
#include "core/strlist.h"

struct mosquitto_opt;

struct ih_autosub_tpl {
	char *filter;   /* template with placeholders, e.g. "cmd/%u/+/+/+/#" */
	int qos;
};

enum ih_acl_nomatch { IH_NOMATCH_DENY = 0, IH_NOMATCH_ALLOW = 1 };
enum ih_deny_action { IH_DENY_IGNORE = 0, IH_DENY_DISCONNECT = 1 };
enum ih_event_format { IH_FORMAT_BSON = 0, IH_FORMAT_JSON = 1 };
enum ih_queue_type { IH_QUEUE_CLASSIC = 0, IH_QUEUE_QUORUM = 1 };
enum ih_auth_preload { IH_PRELOAD_CONNECTED = 0, IH_PRELOAD_ALL = 1, IH_PRELOAD_OFF = 2 };
enum ih_registry_worker { IH_WORKER_PROCESS = 0, IH_WORKER_THREAD = 1 };
enum ih_jwt_from { IH_JWT_FROM_PASSWORD = 0, IH_JWT_FROM_USERNAME = 1 };

struct ih_config {
	/* ---- registry (MongoDB) ---- */
	char *mongo_uri;
	char *mongo_db;
	char *devices_collection;
	char *acl_collection;          /* "" disables the separate ACL collection */
	uint32_t mongo_timeout_ms;     /* bound on every query made on the broker thread */
	uint32_t mongo_probe_ms;       /* how often the worker probes a registry marked down */
	struct {
		char *username;        /* broker_username */
		char *product;         /* product_name */
		char *device;          /* device_name */
		char *secret;          /* secret (clear, IotHub) */
		char *password_hash;   /* password_hash ($7$ / $6$) */
		char *status;          /* status */
		char *superuser;       /* superuser */
		char *tags;            /* tags */
		char *acl;             /* acl (inline sub-document) */
	} field;
	char *acl_field[IH_ACL_LIST_COUNT]; /* list names in ACL documents (field_acl_NAME) */
	char *status_active;           /* the status value that lets a device in */

	/* ---- authentication ---- */
	bool allow_anonymous;
	uint32_t username_max_len;
	uint32_t auth_cache_ttl_s;
	uint32_t auth_cache_negative_ttl_s;
	uint32_t auth_cache_max;
	uint32_t auth_outage_grace_s;
	uint32_t auth_fail_max;        /* failures per window before throttling; 0 = off */
	uint32_t auth_fail_window_s;
	uint32_t auth_fail_block_s;
	/* -- auth: throttle memory, refetch queue -- */
	uint32_t auth_fail_track_max;  /* usernames + addresses the throttle remembers */
	uint32_t auth_refetch_queue_max; /* usernames waiting for a background refetch */
	/* -- end auth: throttle memory, refetch queue -- */

	/* ---- ACL ---- */
	struct ih_acl_lists acl_lists;  /* global templates (acl_NAME) */
	bool acl_registry;             /* merge per-device rules from the registry */
	enum ih_acl_nomatch acl_nomatch;
	enum ih_deny_action acl_deny_action;
	uint32_t acl_cache_max_size;
	uint32_t acl_cache_ttl_s;

	/* ---- auto-subscription ---- */
	struct ih_autosub_tpl *autosub;
	size_t autosub_count;
	bool autosub_none;             /* "plugin_opt_autosub none": the set is empty on purpose */
	bool autosub_tags;
	int autosub_tags_qos;

	/* ---- event forwarding ---- */
	char *amqp_uri;                /* NULL: forwarding off */
	char *amqp_exchange;
	char *amqp_queue_connected;
	char *amqp_queue_disconnected;
	char *amqp_queue_publish;
	bool amqp_declare;
	enum ih_queue_type amqp_queue_type;
	char *amqp_cacert;
	char *amqp_cert;
	char *amqp_key;
	bool amqp_verify_peer;
	uint32_t amqp_heartbeat_s;
	uint32_t amqp_window;
	uint32_t amqp_linger_ms;
	uint32_t amqp_timeout_ms;
	uint32_t amqp_reconnect_min_ms;
	uint32_t amqp_reconnect_max_ms;
	enum ih_event_format event_format;
	bool event_connected;
	bool event_disconnected;
	bool event_publish;
	struct ih_strlist event_publish_topics;
	char *node_name;
	char *spool_dir;
	uint64_t spool_max_bytes;
	uint64_t spool_segment_bytes;
	uint32_t spool_sync_ms;
	uint32_t queue_max_events;

	/* ---- administration and observability ---- */
	bool control;
	uint32_t revalidate_interval_s;
	uint32_t revalidate_batch;
	uint32_t stats_interval_s;
	char *stats_file;

	/* where the registry worker runs (registry/helper.h) */
	enum ih_registry_worker registry_worker;

	/* ---- restart preload (auth/preload_state.c, plugin/preload.c) ---- */
	enum ih_auth_preload auth_preload;
	uint32_t auth_preload_max;     /* records loaded at most (and registry size limit for "all") */
	uint32_t auth_preload_save_interval_s;
	char *state_dir;               /* "": spool_dir */
	/* ---- end restart preload ---- */
	/* ---- JWT authentication (auth/jwt.c) ---- */
	char *jwt_secret;              /* HS256/384/512 key; NULL: no HS tokens */
	char *jwt_public_key;          /* PEM file (RSA: RS*, EC: ES*); NULL: none */
	enum ih_jwt_from jwt_from;
	struct ih_strlist jwt_verify_claims;   /* "CLAIM=VALUE", %u/%c expanded */
	uint32_t jwt_leeway_s;
	bool jwt_require_exp;
	char *jwt_superuser_claim;     /* NULL: no JWT client is a superuser */
	struct ih_strlist jwt_acl_publish;
	struct ih_strlist jwt_acl_subscribe;
	struct ih_strlist jwt_acl_pubsub;
	bool jwt_disconnect_on_expiry;
	/* ---- end JWT authentication ---- */
	/* ---- cluster (several nodes routed by RabbitMQ, cluster/) ---- */
	bool cluster;                  /* off: nothing of cluster/ runs */
	char *cluster_exchange;        /* topic exchange of routed downlinks */
	char *cluster_admin_exchange;  /* fanout exchange of fleet-wide commands */
	char *cluster_queue_prefix;    /* node queue = prefix + node_name */
	uint32_t cluster_takeover_wait_ms; /* bound on waiting for another node's disconnect */
	uint32_t cluster_stats_interval_s; /* how often a node tells the others its counters */
	uint32_t cluster_startup_hold_s;   /* how long after start unmatched routed messages wait */
	/* ---- end cluster ---- */
	/* ---- HTTP management API ---- */
	char *http_api_listen;         /* HOST:PORT; NULL: the API is off */
	struct ih_strlist http_api_keys; /* APPID:SECRET, HTTP Basic */
	char *http_api_certfile;       /* both set: HTTPS */
	char *http_api_keyfile;
	uint64_t http_api_max_body;
	bool http_api_metrics_public;  /* GET /metrics without a key */
	/* ---- end HTTP management API ---- */
};

/*
 * Fill `cfg` with defaults, then apply `opts`. Every problem is logged with
 * the option name; the return value is MOSQ_ERR_SUCCESS or MOSQ_ERR_INVAL.
 * On failure `cfg` still owns whatever was allocated: call ih_config_cleanup.
 */
int ih_config_parse(struct ih_config *cfg, const struct mosquitto_opt *opts, int count);
void ih_config_cleanup(struct ih_config *cfg);

/*
 * The option table, read-only: what the README test and the config fuzz
 * target walk. `def` is the default as text (NULL: none); list options
 * (repeatable) have `deflist` instead, NULL-terminated, and `def` NULL.
 */
struct ih_option_info {
	const char *name;
	const char *def;
	const char *const *deflist;
};
size_t ih_config_option_count(void);
/* Option i (< ih_config_option_count()), in table order. */
void ih_config_option_info(size_t i, struct ih_option_info *out);

/*
 * Parsers shared with tools and tests. They return 0 and set *out, or -1
 * and leave *out alone.
 */
int ih_parse_bool(const char *s, bool *out);
int ih_parse_uint(const char *s, uint64_t max, uint64_t *out);
int ih_parse_duration_ms(const char *s, uint64_t *out_ms);
int ih_parse_size(const char *s, uint64_t *out);

#endif
