/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Every counter in one JSON document: answered on the control channel and
 * written to stats_file, so operators and tests read the same numbers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bson/bson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "autosub/autosub_index.h"
#include "events/events.h"
#include "plugin/conn.h"
#include "core/atomic_file.h"
#include "cluster/cluster.h"
#include "plugin/iothub.h"

static void append_events(bson_t *doc, const struct events *ev)
{
	struct events_stats s;
	bson_t sub;

	if(ev == NULL){
		BSON_APPEND_NULL(doc, "events");
		return;
	}
	events_get_stats(ev, &s);
	BSON_APPEND_DOCUMENT_BEGIN(doc, "events", &sub);
	BSON_APPEND_INT64(&sub, "queued", (int64_t)s.queued);
	BSON_APPEND_INT64(&sub, "spooled", (int64_t)s.spooled);
	BSON_APPEND_INT64(&sub, "spool_bytes", (int64_t)s.spool_bytes);
	BSON_APPEND_INT64(&sub, "memory_queued", (int64_t)s.memory_queued);
	BSON_APPEND_INT64(&sub, "published", (int64_t)s.published);
	BSON_APPEND_INT64(&sub, "confirmed", (int64_t)s.confirmed);
	BSON_APPEND_INT64(&sub, "returned", (int64_t)s.returned);
	BSON_APPEND_INT64(&sub, "nacked", (int64_t)s.nacked);
	BSON_APPEND_INT64(&sub, "dropped", (int64_t)s.dropped);
	BSON_APPEND_INT64(&sub, "reconnects", (int64_t)s.reconnects);
	BSON_APPEND_INT64(&sub, "redelivered", (int64_t)s.redelivered);
	BSON_APPEND_INT64(&sub, "backlog", (int64_t)s.backlog);
	BSON_APPEND_BOOL(&sub, "amqp_connected", s.amqp_connected);
	BSON_APPEND_BOOL(&sub, "blocked", s.blocked);
	bson_append_document_end(doc, &sub);
}

static void append_auth(bson_t *doc, const struct auth *a)
{
	struct auth_stats s;
	bson_t sub;

	auth_get_stats(a, &s);
	BSON_APPEND_DOCUMENT_BEGIN(doc, "auth", &sub);
	BSON_APPEND_INT64(&sub, "accepted", (int64_t)s.accepted);
	BSON_APPEND_INT64(&sub, "refused", (int64_t)s.refused);
	BSON_APPEND_INT64(&sub, "cache_hits", (int64_t)s.cache_hits);
	BSON_APPEND_INT64(&sub, "cache_misses", (int64_t)s.cache_misses);
	BSON_APPEND_INT64(&sub, "cache_entries", (int64_t)s.cache_entries);
	BSON_APPEND_INT64(&sub, "registry_queries", (int64_t)s.registry_queries);
	BSON_APPEND_INT64(&sub, "preloaded", (int64_t)s.preloaded);
	BSON_APPEND_INT64(&sub, "preload_folded", (int64_t)s.preload_folded);
	BSON_APPEND_INT64(&sub, "registry_errors", (int64_t)s.registry_errors);
	BSON_APPEND_INT64(&sub, "throttled", (int64_t)s.throttled);
	BSON_APPEND_INT64(&sub, "outage_admits", (int64_t)s.outage_admits);
	BSON_APPEND_INT64(&sub, "jwt_accepted", (int64_t)s.jwt_accepted);
	BSON_APPEND_INT64(&sub, "jwt_refused", (int64_t)s.jwt_refused);
	BSON_APPEND_BOOL(&sub, "registry_up", s.registry_up);
	bson_append_document_end(doc, &sub);
}

/* Only with `cluster true`: single-node documents stay as they were. */
static void append_cluster(bson_t *doc, struct cluster *cl)
{
	struct cluster_stats s;
	bson_t sub;

	if(cl == NULL) return;
	cluster_get_stats(cl, &s);
	BSON_APPEND_DOCUMENT_BEGIN(doc, "cluster", &sub);
	BSON_APPEND_BOOL(&sub, "connected", s.connected);
	BSON_APPEND_INT64(&sub, "routed_out", (int64_t)s.routed_out);
	BSON_APPEND_INT64(&sub, "routed_local", (int64_t)s.routed_local);
	BSON_APPEND_INT64(&sub, "routed_in", (int64_t)s.routed_in);
	BSON_APPEND_INT64(&sub, "own_dropped", (int64_t)s.own_dropped);
	BSON_APPEND_INT64(&sub, "held", (int64_t)s.held);
	BSON_APPEND_INT64(&sub, "held_delivered", (int64_t)s.held_delivered);
	BSON_APPEND_INT64(&sub, "unmatched", (int64_t)s.unmatched);
	BSON_APPEND_INT64(&sub, "admin_out", (int64_t)s.admin_out);
	BSON_APPEND_INT64(&sub, "admin_in", (int64_t)s.admin_in);
	BSON_APPEND_INT64(&sub, "takeovers_out", (int64_t)s.takeovers_out);
	BSON_APPEND_INT64(&sub, "takeovers_in", (int64_t)s.takeovers_in);
	BSON_APPEND_INT64(&sub, "takeover_timeouts", (int64_t)s.takeover_timeouts);
	BSON_APPEND_INT64(&sub, "amqp_published", (int64_t)s.amqp_published);
	BSON_APPEND_INT64(&sub, "amqp_confirmed", (int64_t)s.amqp_confirmed);
	BSON_APPEND_INT64(&sub, "amqp_received", (int64_t)s.amqp_received);
	BSON_APPEND_INT64(&sub, "amqp_reconnects", (int64_t)s.amqp_reconnects);
	BSON_APPEND_INT64(&sub, "keys", (int64_t)s.keys);
	BSON_APPEND_INT64(&sub, "binds_pending", (int64_t)s.binds_pending);
	bson_append_document_end(doc, &sub);
}

char *stats_json(struct iothub *ih)
{
	bson_t doc = BSON_INITIALIZER, sub;
	char *json, *out = NULL;
	size_t len;

	BSON_APPEND_UTF8(&doc, "node", ih->cfg.node_name);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "connections", &sub);
	BSON_APPEND_INT64(&sub, "online", (int64_t)conn_table_online(ih->conns));
	BSON_APPEND_INT64(&sub, "tracked", (int64_t)conn_table_count(ih->conns));
	BSON_APPEND_INT64(&sub, "devices", (int64_t)conn_table_usernames(ih->conns));
	bson_append_document_end(&doc, &sub);
	append_auth(&doc, ih->auth);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "acl", &sub);
	BSON_APPEND_INT64(&sub, "checks", (int64_t)ih->n.acl_checks);
	BSON_APPEND_INT64(&sub, "cache_hits", (int64_t)ih->n.acl_cache_hits);
	BSON_APPEND_INT64(&sub, "denied", (int64_t)ih->n.acl_denied);
	BSON_APPEND_INT64(&sub, "deferred", (int64_t)ih->n.acl_deferred);
	bson_append_document_end(&doc, &sub);
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "autosub", &sub);
	BSON_APPEND_INT64(&sub, "clients", (int64_t)autosub_index_clients(ih->autosub));
	BSON_APPEND_INT64(&sub, "memory_bytes", (int64_t)autosub_index_memory(ih->autosub));
	BSON_APPEND_INT64(&sub, "delivered", (int64_t)ih->n.autosub_delivered);
	BSON_APPEND_INT64(&sub, "suppressed", (int64_t)ih->n.autosub_suppressed);
	bson_append_document_end(&doc, &sub);
	append_events(&doc, ih->events);
	append_cluster(&doc, ih->cluster);
	BSON_APPEND_INT64(&doc, "events_dropped", (int64_t)ih->n.events_dropped);
	BSON_APPEND_INT64(&doc, "kicks", (int64_t)ih->n.kicks);
	BSON_APPEND_INT64(&doc, "refreshes", (int64_t)ih->n.refreshes);
	BSON_APPEND_INT64(&doc, "control_commands", (int64_t)ih->n.control_commands);
	BSON_APPEND_INT64(&doc, "api_requests", (int64_t)ih->n.api_requests);
	BSON_APPEND_INT64(&doc, "api_published", (int64_t)ih->n.api_published);

	json = bson_as_relaxed_extended_json(&doc, &len);
	if(json){
		out = mosquitto_malloc(len + 1);
		if(out) memcpy(out, json, len + 1); /* ownership passes to the caller */
		bson_free(json);
	}
	bson_destroy(&doc);
	return out;
}

struct fleet_doc {
	bson_t *per_node;
	uint32_t index;
	int64_t online;
};

static void fleet_add(struct fleet_doc *f, const char *node, const bson_t *stats, int64_t age_ms)
{
	char key[16];
	const char *k;
	bson_t item;
	bson_iter_t it;

	if(bson_iter_init(&it, stats) && bson_iter_find_descendant(&it, "connections.online", &it)
			&& BSON_ITER_HOLDS_INT(&it)){
		f->online += bson_iter_as_int64(&it);
	}
	bson_uint32_to_string(f->index++, &k, key, sizeof(key));
	bson_append_document_begin(f->per_node, k, -1, &item);
	BSON_APPEND_UTF8(&item, "node", node);
	BSON_APPEND_INT64(&item, "age_ms", age_ms);
	BSON_APPEND_DOCUMENT(&item, "stats", stats);
	bson_append_document_end(f->per_node, &item);
}

static void fleet_peer(const char *node, const char *json, int64_t age_ms, void *ud)
{
	bson_error_t error;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &error);

	if(doc == NULL) return; /* a node that sent something else: left out */
	fleet_add(ud, node, doc, age_ms);
	bson_destroy(doc);
}

void stats_append_fleet(struct iothub *ih, bson_t *data, const bson_t *own)
{
	bson_t fleet, per_node;
	struct fleet_doc f = {&per_node, 0, 0};

	if(ih->cluster == NULL) return;
	BSON_APPEND_DOCUMENT_BEGIN(data, "fleet", &fleet);
	BSON_APPEND_ARRAY_BEGIN(&fleet, "per_node", &per_node);
	fleet_add(&f, ih->cfg.node_name, own, 0);
	cluster_foreach_node(ih->cluster, fleet_peer, &f);
	bson_append_array_end(&fleet, &per_node);
	BSON_APPEND_INT64(&fleet, "nodes", (int64_t)f.index);
	BSON_APPEND_INT64(&fleet, "online", f.online);
	bson_append_document_end(data, &fleet);
}

/* Atomic (core/atomic_file.h): a reader never sees a half-written file. */
void stats_write_file(struct iothub *ih)
{
	char err[512];
	char *json;
	size_t len;

	if(ih->cfg.stats_file == NULL) return;
	json = stats_json(ih);
	if(json == NULL) return;
	len = strlen(json);
	json[len] = '\n'; /* replaces the NUL: the length is passed */
	if(ih_write_file_atomic(ih->cfg.stats_file, json, len + 1, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: stats_file: %s", err);
	}
	mosquitto_free(json);
}
