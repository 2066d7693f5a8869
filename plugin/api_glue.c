/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The HTTP management API's broker-thread side. api/api_server.c decodes
 * requests on its own threads and queues them; this file performs them on
 * the broker thread, from MOSQ_EVT_TICK, where calling the broker is
 * allowed, and answers them.
 *
 * Waking the broker: the HTTP thread that queued a request wakes the
 * broker thread through core/wake.h (installed by iothub_init), and repeats
 * it until answered; the tick performs the request, and what it publishes
 * is queued by queue_plugin_msgs at the top of the very next iteration,
 * before the broker sleeps again (docs/MOSQUITTO.md §12).
 */
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "acl/rules.h"
#include "api/api_server.h"
#include "auth/auth.h"
#include "autosub/autosub_template.h"
#include "cluster/cluster.h"
#include "core/clock.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"

#define API_SUBS_MAX 64   /* server-side subscriptions per connection */
/* How long GET/DELETE clients/{id} waits for another node's answer. */
#define API_FLEET_LOOKUP_MS 500

/* A clients/{id} request waiting for the fleet (cluster_whois). */
struct lookup {
	struct lookup *next;
	struct api_job *j;           /* taken from the server, not yet answered */
	int64_t deadline_ms;
};

struct api_glue {
	struct api_server *server;
	struct lookup *lookups;
};

/* ------------------------------------------------------------------ */
/* answers                                                              */

/* {"code":0} or {"code":0,"data":<doc or array>}. The bare one, every
 * publish's answer, is a constant: no JSON writer on the broker thread. */
static void answer_ok(struct api_job *j, const bson_t *data, bool array)
{
	static const char ok[] = "{ \"code\" : 0 }";
	bson_t doc = BSON_INITIALIZER;

	if(data == NULL){
		api_job_set_json(j, 200, ok, sizeof(ok) - 1);
		return;
	}

	BSON_APPEND_INT32(&doc, "code", API_CODE_OK);
	if(data && array) BSON_APPEND_ARRAY(&doc, "data", data);
	else if(data) BSON_APPEND_DOCUMENT(&doc, "data", data);
	api_job_set_doc(j, 200, &doc);
	bson_destroy(&doc);
}

/* The live connection with this client id, or NULL. */
static struct ih_conn *online(struct iothub *ih, const char *client_id)
{
	struct ih_conn *c = conn_table_find_client_id(ih->conns, client_id);

	return c && c->state == IH_CONN_ONLINE ? c : NULL;
}

/* ------------------------------------------------------------------ */
/* the requests                                                         */

/* Exactly what a superuser's PUBLISH causes: the auto-subscribed devices,
 * the broker's subscribers (mosquitto_broker_publish queues for online and
 * offline sessions alike, applying their READ ACL), and the
 * message.publish event. Plugin messages raise no MOSQ_EVT_MESSAGE, so the
 * first and the last are done here, as cb_message does for a client's
 * publish. The devices come first: the broker sends its plugin messages in
 * the order they were queued, and a command is the API's common case. The
 * topic was validated on the HTTP thread, so the broker's copy can only
 * fail for want of memory. */
static void do_publish(struct iothub *ih, struct api_job *j)
{
	for(size_t i = 0; i < j->msgs.count; i++){
		const struct api_msg *m = &j->msgs.items[i];
		int rc;

		fleet_publish(ih, m->topic, m->payload, m->payloadlen, m->qos); /* here, and routed in a cluster */
		rc = mosquitto_broker_publish_copy(NULL, m->topic, (int)m->payloadlen, m->payload, m->qos, m->retain, NULL);
		if(rc != MOSQ_ERR_SUCCESS){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: http api: publish to %s failed (error %d)", m->topic, rc);
			api_job_set_error(j, 500, API_CODE_INTERNAL, "the broker refused the message");
			return;
		}
		emit_publish_api(ih, m->client_id, m->topic, m->payload, m->payloadlen, m->qos, m->retain);
		ih->n.api_published++;
	}
	answer_ok(j, NULL, false);
}

/* The record GET clients/{id} answers, also sent to a node that asks. */
static void client_doc(struct iothub *ih, const struct ih_conn *c, bson_t *data)
{
	BSON_APPEND_UTF8(data, "clientid", c->client_id);
	BSON_APPEND_BOOL(data, "connected", c->state == IH_CONN_ONLINE);
	if(c->username) BSON_APPEND_UTF8(data, "username", c->username);
	else BSON_APPEND_NULL(data, "username");
	if(ih_conn_address(c)) BSON_APPEND_UTF8(data, "ip_address", ih_conn_address(c));
	else BSON_APPEND_NULL(data, "ip_address");
	BSON_APPEND_INT32(data, "keepalive", c->keepalive);
	BSON_APPEND_INT32(data, "proto_ver", c->proto_ver);
	BSON_APPEND_BOOL(data, "clean_start", c->clean_session);
	BSON_APPEND_INT64(data, "connected_at", c->connected_ms);
	BSON_APPEND_UTF8(data, "node", ih->cfg.node_name);
}

/* EMQX 4 answers a list (one entry per node that knows the client). */
static void answer_client(struct api_job *j, const bson_t *data)
{
	bson_t list = BSON_INITIALIZER;

	BSON_APPEND_DOCUMENT(&list, "0", data);
	answer_ok(j, &list, true);
	bson_destroy(&list);
}

/* The kick itself. The server suspends or deletes a device in the
 * registry, then kicks it, and tells us nothing else: so the kick also
 * drops the device's cached record (on every node), and its next CONNECT
 * reads the registry. */
static void kick_answer(struct iothub *ih, struct api_job *j, const char *username)
{
	if(username) fleet_invalidate_device(ih, username);
	fleet_kick_client(ih, j->client_id); /* here by this same tick, and on every node */
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: http api: kicking client %s", j->client_id);
	answer_ok(j, NULL, false);
}

/* Not held here, in a cluster: ask the fleet; answered from
 * api_glue_client_answer or at the deadline. true when j now waits. */
static bool ask_fleet(struct iothub *ih, struct api_job *j)
{
	struct lookup *l;

	if(ih->cluster == NULL || ih->api == NULL) return false;
	l = mosquitto_calloc(1, sizeof(*l));
	if(l == NULL) return false;
	if(cluster_whois(ih->cluster, j->client_id)){
		mosquitto_free(l);
		return false;
	}
	l->j = j; /* the lookup holds j until it is answered */
	l->deadline_ms = ih_mono_ms() + API_FLEET_LOOKUP_MS;
	l->next = ih->api->lookups;
	ih->api->lookups = l;
	return true;
}

/* Returns true when j was answered, false when it waits for the fleet. */
static bool do_kick(struct iothub *ih, struct api_job *j)
{
	struct ih_conn *c = online(ih, j->client_id);

	if(c) kick_answer(ih, j, c->username);
	else if(ask_fleet(ih, j)) return false;
	else api_job_set_error(j, 404, API_CODE_NOT_FOUND, "client not found");
	return true;
}

static bool do_client(struct iothub *ih, struct api_job *j)
{
	struct ih_conn *c = conn_table_find_client_id(ih->conns, j->client_id);
	bson_t data = BSON_INITIALIZER;

	if(c == NULL){
		if(ask_fleet(ih, j)) return false;
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "client not found");
		return true;
	}
	client_doc(ih, c, &data);
	answer_client(j, &data);
	bson_destroy(&data);
	return true;
}

static bool may_subscribe(struct iothub *ih, struct ih_conn *c, const char *filter)
{
	if(c->suspended) return false;
	if(c->superuser) return true;
	return authorize_decide(ih, c, MOSQ_ACL_SUBSCRIBE, filter) == ACL_ALLOW;
}

static ssize_t api_sub_find(const struct ih_conn *c, const char *filter)
{
	for(size_t i = 0; i < c->api_subs_count; i++){
		if(!strcmp(c->api_subs[i].filter, filter)) return (ssize_t)i;
	}
	return -1;
}

/* A server-side subscription: an auto-subscription of this connection,
 * ACL-checked like the client's own SUBSCRIBE (EMQX skips the check; we
 * do not), kept until the connection goes away. */
static void do_subscribe(struct iothub *ih, struct api_job *j)
{
	struct ih_conn *c = online(ih, j->sub.client_id);
	ssize_t at;

	if(c == NULL){
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "client not connected");
		return;
	}
	if(!may_subscribe(ih, c, j->sub.topic)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: http api: refused subscribing client %s to %s: ACL",
				c->client_id, j->sub.topic);
		api_job_set_error(j, 403, API_CODE_BAD_PARAM, "the client's ACL does not allow this subscription");
		return;
	}
	at = api_sub_find(c, j->sub.topic);
	if(at >= 0){
		c->api_subs[at].qos = j->sub.qos;
	}else{
		struct autosub_filter *subs;
		char *f;

		if(c->api_subs_count >= API_SUBS_MAX){
			api_job_set_error(j, 400, API_CODE_BAD_PARAM, "too many server-side subscriptions for this client");
			return;
		}
		subs = mosquitto_realloc(c->api_subs, (c->api_subs_count + 1) * sizeof(*subs));
		f = mosquitto_strdup(j->sub.topic);
		if(subs) c->api_subs = subs;
		if(subs == NULL || f == NULL){
			mosquitto_free(f);
			api_job_set_error(j, 500, API_CODE_INTERNAL, "out of memory");
			return;
		}
		c->api_subs[c->api_subs_count].filter = f; /* the connection owns it */
		c->api_subs[c->api_subs_count].qos = j->sub.qos;
		c->api_subs_count++;
	}
	if(session_rebind(ih, c)){
		api_job_set_error(j, 500, API_CODE_INTERNAL, "out of memory");
		return;
	}
	answer_ok(j, NULL, false);
}

static void do_unsubscribe(struct iothub *ih, struct api_job *j)
{
	struct ih_conn *c = online(ih, j->sub.client_id);
	ssize_t at;

	if(c == NULL){
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "client not connected");
		return;
	}
	at = api_sub_find(c, j->sub.topic);
	if(at < 0){
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "no such server-side subscription");
		return;
	}
	mosquitto_free(c->api_subs[at].filter);
	c->api_subs[at] = c->api_subs[--c->api_subs_count];
	if(session_rebind(ih, c)){
		api_job_set_error(j, 500, API_CODE_INTERNAL, "out of memory");
		return;
	}
	answer_ok(j, NULL, false);
}

/* stats: {"code":0,"data":<getStats>}; metrics: the bare document, which
 * the HTTP thread renders (api/api_metrics.c). */
static void do_stats(struct iothub *ih, struct api_job *j)
{
	char *json = stats_json(ih);
	bson_error_t e;
	bson_t *doc;

	if(json == NULL){
		api_job_set_error(j, 500, API_CODE_INTERNAL, "out of memory");
		return;
	}
	if(j->route == API_ROUTE_METRICS){
		free(j->body);
		j->body = strdup(json);
		j->body_len = j->body ? strlen(j->body) : 0;
		j->status = j->body ? 200 : 500;
	}else{
		doc = bson_new_from_json((const uint8_t *)json, -1, &e);
		if(doc){
			answer_ok(j, doc, false);
			bson_destroy(doc);
		}else{
			api_job_set_error(j, 500, API_CODE_INTERNAL, "internal error");
		}
	}
	mosquitto_free(json);
}

/* Returns false when j waits for another node's answer (ask_fleet). */
static bool perform(struct iothub *ih, struct api_job *j)
{
	ih->n.api_requests++;
	switch(j->route){
	case API_ROUTE_PUBLISH:
	case API_ROUTE_PUBLISH_BATCH:
		do_publish(ih, j);
		break;
	case API_ROUTE_CLIENT_KICK:
		return do_kick(ih, j);
	case API_ROUTE_CLIENT_GET:
		return do_client(ih, j);
	case API_ROUTE_SUBSCRIBE:
		do_subscribe(ih, j);
		break;
	case API_ROUTE_UNSUBSCRIBE:
		do_unsubscribe(ih, j);
		break;
	case API_ROUTE_STATS:
	case API_ROUTE_METRICS:
		do_stats(ih, j);
		break;
	default:
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "not found");
		break;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* fleet-wide clients/{id}                                              */

char *api_glue_client_json(struct iothub *ih, const char *client_id)
{
	struct ih_conn *c = conn_table_find_client_id(ih->conns, client_id);
	bson_t data = BSON_INITIALIZER;
	char *json, *out = NULL;

	if(c == NULL) return NULL;
	client_doc(ih, c, &data);
	json = bson_as_relaxed_extended_json(&data, NULL);
	if(json) out = mosquitto_strdup(json); /* the caller frees it with mosquitto_free */
	bson_free(json);
	bson_destroy(&data);
	return out;
}

/* Answer one waiting job from the holder's record (NULL: nobody holds it). */
static void lookup_answer(struct iothub *ih, struct api_job *j, const char *json)
{
	bson_t *doc = json ? bson_new_from_json((const uint8_t *)json, -1, NULL) : NULL;
	bson_iter_t it;

	if(json && doc == NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: http api: another node's record of client %s is not JSON",
				j->client_id);
	}
	if(doc == NULL){
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "client not found");
	}else if(j->route == API_ROUTE_CLIENT_GET){
		answer_client(j, doc);
	}else if(bson_iter_init_find(&it, doc, "connected") && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it)){
		/* Online on another node: the broadcast kick (and invalidation)
		 * reaches it. The username is the holder's. */
		const char *user = bson_iter_init_find(&it, doc, "username") && BSON_ITER_HOLDS_UTF8(&it)
			? bson_iter_utf8(&it, NULL) : NULL;
		kick_answer(ih, j, user);
	}else{
		/* An offline session only: as on one node, nothing to kick. */
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "client not found");
	}
	if(doc) bson_destroy(doc);
	api_server_answer(ih->api->server, j); /* j may be freed here */
}

void api_glue_client_answer(struct iothub *ih, const char *client_id, const char *json)
{
	struct lookup **pp;

	if(ih->api == NULL) return;
	pp = &ih->api->lookups;
	while(*pp){
		struct lookup *l = *pp;

		if(strcmp(l->j->client_id, client_id)){
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		lookup_answer(ih, l->j, json);
		mosquitto_free(l);
	}
}

/* Nobody answered in time: nobody holds it. */
static void expire_lookups(struct iothub *ih, int64_t now)
{
	struct lookup **pp = &ih->api->lookups;

	while(*pp){
		struct lookup *l = *pp;

		if(now < l->deadline_ms){
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		lookup_answer(ih, l->j, NULL);
		mosquitto_free(l);
	}
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                            */

void api_glue_tick(struct iothub *ih)
{
	struct api_job *j;

	if(ih->api == NULL) return;
	ih_logq_drain(api_server_log(ih->api->server));
	j = api_server_take(ih->api->server);
	while(j){
		struct api_job *next = j->next;

		/* j may be freed by api_server_answer; a waiting one is answered later. */
		if(perform(ih, j)) api_server_answer(ih->api->server, j);
		j = next;
	}
	if(ih->api->lookups) expire_lookups(ih, ih_mono_ms());
}

int api_glue_init(struct iothub *ih)
{
	struct api_glue *g;
	int rc;

	if(ih->cfg.http_api_listen == NULL) return MOSQ_ERR_SUCCESS;
	g = mosquitto_calloc(1, sizeof(*g));
	if(g == NULL) return MOSQ_ERR_NOMEM;
	ih->api = g; /* from here api_glue_cleanup undoes it */
	rc = api_server_start(&g->server, &ih->cfg);
	if(rc){
		api_glue_cleanup(ih);
		return rc;
	}
	return MOSQ_ERR_SUCCESS;
}

void api_glue_cleanup(struct iothub *ih)
{
	struct api_glue *g = ih->api;

	if(g == NULL) return;
	/* Jobs waiting for the fleet are ours: answer them before the server goes. */
	while(g->lookups){
		struct lookup *l = g->lookups;

		g->lookups = l->next;
		api_job_set_error(l->j, 503, API_CODE_INTERNAL, "the broker is stopping");
		api_server_answer(g->server, l->j);
		mosquitto_free(l);
	}
	/* Stops the HTTP threads: none wakes the broker afterwards. */
	api_server_stop(g->server);
	mosquitto_free(g);
	ih->api = NULL;
}
