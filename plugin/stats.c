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
	BSON_APPEND_INT64(&sub, "registry_errors", (int64_t)s.registry_errors);
	BSON_APPEND_INT64(&sub, "throttled", (int64_t)s.throttled);
	BSON_APPEND_INT64(&sub, "outage_admits", (int64_t)s.outage_admits);
	BSON_APPEND_BOOL(&sub, "registry_up", s.registry_up);
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

/* Write-then-rename: a reader never sees a half-written file. */
void stats_write_file(struct iothub *ih)
{
	char tmp[4096];
	char *json;
	FILE *f;
	int ok;

	if(ih->cfg.stats_file == NULL) return;
	if(snprintf(tmp, sizeof(tmp), "%s.tmp", ih->cfg.stats_file) >= (int)sizeof(tmp)) return;
	json = stats_json(ih);
	if(json == NULL) return;
	f = fopen(tmp, "w");
	if(f == NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: cannot write stats_file %s: %s", tmp, strerror(errno));
		mosquitto_free(json);
		return;
	}
	ok = fputs(json, f) >= 0 && fputc('\n', f) != EOF;
	ok = (fclose(f) == 0) && ok;
	if(!ok || rename(tmp, ih->cfg.stats_file) != 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: cannot write stats_file %s: %s", ih->cfg.stats_file, strerror(errno));
		unlink(tmp);
	}
	mosquitto_free(json);
}
