/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The plugin instance: configuration plus every module's state. One exists
 * per loaded plugin; the broker passes it back as callback userdata.
 */
#ifndef IH_PLUGIN_IOTHUB_H
#define IH_PLUGIN_IOTHUB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "core/config.h"

struct conn_table;
struct ih_conn;
struct ih_device;
struct auth;
struct acl_templates;
struct autosub_index;
struct events;
struct ih_control_wait;
struct ih_session_check;
struct ih_kick;
struct cluster;
struct autosub_filter;
struct api_glue;

struct ih_counters {
	uint64_t acl_checks;
	uint64_t acl_cache_hits;
	uint64_t acl_denied;
	uint64_t acl_deferred;
	uint64_t autosub_delivered;
	uint64_t autosub_suppressed;   /* matched, but the device's ACL said no */
	uint64_t events_dropped;
	uint64_t control_commands;
	uint64_t kicks;
	uint64_t refreshes;
	uint64_t api_requests;        /* HTTP API requests the broker thread performed */
	uint64_t api_published;       /* messages published through the HTTP API */
};

struct iothub {
	mosquitto_plugin_id_t *pid;
	struct ih_config cfg;
	struct conn_table *conns;
	struct auth *auth;
	struct acl_templates *acl_tpl;
	struct acl_templates *jwt_acl_tpl;       /* jwt_acl_*: token clients without an acl claim */
	struct acl_intern *acl_shared;  /* template-form rule blocks shared by connections */
	struct autosub_index *autosub;
	struct events *events;          /* NULL when forwarding is off */
	struct cluster *cluster;        /* NULL unless `cluster true` */
	struct ih_kick *kicks;          /* plugin/kick.h */
	struct ih_control_wait *control_waits;   /* answers held for re-reads */
	struct ih_session_check *session_checks; /* resumed sessions to confirm */
	int64_t token_next_expiry;      /* wall-clock s of the first token to lapse; 0: none */
	struct api_glue *api;           /* NULL when the HTTP API is off */
	bool wake_on;                   /* core/wake.h installed (API or cluster on) */
	time_t next_revalidate;
	time_t next_stats;
	char *preload_path;             /* owned; NULL: auth_preload off */
	time_t next_preload_save;
	bool preload_save_failing;      /* log a failing save once */
	struct ih_counters n;
};

int iothub_init(struct iothub **out, mosquitto_plugin_id_t *pid, const struct mosquitto_opt *opts, int count);
void iothub_cleanup(struct iothub *ih);

/* plugin/session.c: the life of an accepted connection. */
int session_accept(struct iothub *ih, struct mosquitto *client, const char *username, const char *password);
void session_close(struct iothub *ih, struct mosquitto *client);
void session_device_changed(void *ih, const char *username, struct ih_device *dev);
void session_free_conn(struct ih_conn *c, void *ih);
/* Rebind c's auto-subscriptions (templates + c->api_subs) after the HTTP API
 * changed c->api_subs. */
int session_rebind(struct iothub *ih, struct ih_conn *c);
/* At shutdown: client.disconnected (reason "shutdown") for every connection
 * still online. */
void session_shutdown(struct iothub *ih);
/* Did the broker keep the session c asked to resume? Settle what the
 * auto-subscription index assumes about its subscriptions (see
 * autosub_index_hold_subscriptions); c must be ONLINE. */
void session_check_resolve(struct iothub *ih, struct ih_conn *c);
void session_checks_run(struct iothub *ih);     /* TICK */
/* TICK: queue kicks (reason token_expired) for the token clients whose
 * token lapsed by now_s (wall clock), when jwt_disconnect_on_expiry. */
void session_expire_tokens(struct iothub *ih, int64_t now_s);
void session_checks_free(struct iothub *ih);

/* plugin/authorize.c: MOSQ_EVT_ACL_CHECK, and the cached decision it makes
 * (an enum acl_decision) for code that delivers on the broker's behalf. */
int authorize_check(struct iothub *ih, struct mosquitto *client, int access, const char *topic);
int authorize_decide(struct iothub *ih, struct ih_conn *c, int access, const char *topic);

/* plugin/emit.c: events for a connection. */
void emit_connected(struct iothub *ih, struct ih_conn *c);
/* A live connection ends: its client.disconnected, once, and never before
 * its client.connected (a pending one goes out first). */
void emit_gone(struct iothub *ih, struct ih_conn *c, const char *reason);
int emit_publish(struct iothub *ih, struct mosquitto *client, const char *topic,
		const void *payload, uint32_t payloadlen, int qos, bool retain);
/* message.publish for a message the HTTP API published; sender may be NULL. */
void emit_publish_api(struct iothub *ih, const char *sender, const char *topic,
		const void *payload, uint32_t payloadlen, int qos, bool retain);

/* plugin/autosub_deliver.c: MOSQ_EVT_MESSAGE delivery to auto-subscribers;
 * returns how many auto-subscribers matched here (delivered or not). */
size_t autosub_deliver(struct iothub *ih, const char *topic, const void *payload, uint32_t payloadlen, int qos);

/* plugin/fleet.c: the cluster's glue. Every function acts on this node and,
 * in cluster mode, on every other node too; the HTTP API calls the same
 * ones (through the function table it is given) so a command sent to any
 * node applies fleet-wide. */
int fleet_init(struct iothub *ih);
void fleet_kick_device(struct iothub *ih, const char *username);
void fleet_kick_client(struct iothub *ih, const char *client_id);
void fleet_invalidate_device(struct iothub *ih, const char *username);
/* A downlink published on this node by other means than an MQTT client
 * (the HTTP API): delivered here and routed to the nodes that need it. */
void fleet_publish(struct iothub *ih, const char *topic, const void *payload, uint32_t payloadlen, int qos);
/* The connection's auto-subscriptions changed (or it went away): keep the
 * index and, in cluster mode, the node's RabbitMQ bindings in step. */
int fleet_routes_bind(struct iothub *ih, struct ih_conn *c, const struct autosub_filter *items,
		const char *const *names, size_t n);
void fleet_routes_release(struct iothub *ih, struct ih_conn *c);

/* plugin/preload.c: the usernames saved for the next start's auth preload. */
int preload_start(struct iothub *ih);     /* after auth_init */
void preload_tick(struct iothub *ih, time_t now);
void preload_stop(struct iothub *ih);     /* final save; before the conn table goes */

/* plugin/api_glue.c: the HTTP management API's broker-thread side. */
int api_glue_init(struct iothub *ih);
void api_glue_tick(struct iothub *ih);
void api_glue_cleanup(struct iothub *ih);
/* The fleet-wide GET/DELETE clients/{id} (plugin/fleet.c's handlers): this
 * node's record of client_id as JSON (mosquitto_malloc'd), or NULL; and the
 * answer to a lookup this node asked for (json NULL: nobody holds it). */
char *api_glue_client_json(struct iothub *ih, const char *client_id);
void api_glue_client_answer(struct iothub *ih, const char *client_id, const char *json);

/* plugin/control.c: $CONTROL/iothub/v1 */
#define IH_CONTROL_TOPIC "$CONTROL/iothub/v1"
#define IH_CONTROL_RESPONSE_TOPIC "$CONTROL/iothub/v1/response"
int control_handle(struct iothub *ih, struct mosquitto *client, const void *payload, uint32_t payloadlen);
/* A device's registry re-read was applied (from the auth tick callback). */
void control_device_applied(struct iothub *ih, const char *username);
/* TICK: answer the held requests whose wait ran out. */
void control_tick(struct iothub *ih);
void control_cleanup(struct iothub *ih);

/* plugin/stats.c: a JSON document of every counter; caller frees with mosquitto_free. */
char *stats_json(struct iothub *ih);
/* Cluster mode: a `fleet` section in a getStats answer: every live node's
 * latest counters (`own` is this node's), their count and online total. */
struct _bson_t;
void stats_append_fleet(struct iothub *ih, struct _bson_t *data, const struct _bson_t *own);
void stats_write_file(struct iothub *ih);

#endif
