/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The HTTP management API's broker-thread side. api/api_server.c decodes
 * requests on its own threads and queues them; this file performs them on
 * the broker thread, from MOSQ_EVT_TICK, where calling the broker is
 * allowed, and answers them.
 *
 * Waking the broker (docs/MOSQUITTO.md, "Waking the broker thread"): the
 * broker sleeps in epoll_wait for up to 100 ms between loop iterations, and
 * the TICK callback runs once per iteration. After queueing a request the
 * HTTP thread sends SIGURG to the broker thread with pthread_kill. Our
 * handler is installed without SA_RESTART, and SIGURG is not in the set
 * Mosquitto blocks around epoll_wait, so epoll_wait returns EINTR (which
 * mux_epoll.c ignores), the loop runs to plugin__handle_tick at once, and
 * what we publish from the tick is queued by queue_plugin_msgs at the top
 * of the very next iteration, before the broker sleeps again. SIGURG's
 * default action is to ignore it, so restoring the previous disposition at
 * cleanup leaves no trap behind; Mosquitto has no use for it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "acl/rules.h"
#include "api/api_server.h"
#include "auth/auth.h"
#include "autosub/autosub_template.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"

#define API_WAKE_SIGNAL SIGURG
#define API_SUBS_MAX 64   /* server-side subscriptions per connection */

struct api_glue {
	struct api_server *server;
	pthread_t broker_thread;     /* set before the server starts; read-only after */
	struct sigaction old_action;
};

static void on_wake(int sig)
{
	(void)sig; /* interrupting epoll_wait is the whole point */
}

/* HTTP thread: no broker call, only a signal. */
static void wake_broker(void *ud)
{
	struct api_glue *g = ud;

	pthread_kill(g->broker_thread, API_WAKE_SIGNAL);
}

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

/* The server suspends or deletes a device in the registry, then kicks it,
 * and tells us nothing else: so the kick also drops the device's cached
 * record, and its next CONNECT reads the registry. In a cluster the client
 * may live on another node, which this one cannot see: the kick (and, when
 * the username is known here, the invalidation) goes to every node, and
 * only a single node can answer "not found". */
static void do_kick(struct iothub *ih, struct api_job *j)
{
	struct ih_conn *c = online(ih, j->client_id);

	if(c == NULL && ih->cluster == NULL){
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "client not found");
		return;
	}
	if(c && c->username) fleet_invalidate_device(ih, c->username);
	fleet_kick_client(ih, j->client_id); /* the local kick runs by this same tick */
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: http api: kicking client %s", j->client_id);
	answer_ok(j, NULL, false);
}

static void do_client(struct iothub *ih, struct api_job *j)
{
	struct ih_conn *c = conn_table_find_client_id(ih->conns, j->client_id);
	bson_t data = BSON_INITIALIZER, list = BSON_INITIALIZER;

	if(c == NULL){
		api_job_set_error(j, 404, API_CODE_NOT_FOUND, "client not found");
		return;
	}
	BSON_APPEND_UTF8(&data, "clientid", c->client_id);
	BSON_APPEND_BOOL(&data, "connected", c->state == IH_CONN_ONLINE);
	if(c->username) BSON_APPEND_UTF8(&data, "username", c->username);
	else BSON_APPEND_NULL(&data, "username");
	if(c->address) BSON_APPEND_UTF8(&data, "ip_address", c->address);
	else BSON_APPEND_NULL(&data, "ip_address");
	BSON_APPEND_INT32(&data, "keepalive", c->keepalive);
	BSON_APPEND_INT32(&data, "proto_ver", c->proto_ver);
	BSON_APPEND_BOOL(&data, "clean_start", c->clean_session);
	BSON_APPEND_INT64(&data, "connected_at", c->connected_ms);
	BSON_APPEND_UTF8(&data, "node", ih->cfg.node_name);
	/* EMQX 4 answers a list (one entry per node that knows the client). */
	BSON_APPEND_DOCUMENT(&list, "0", &data);
	answer_ok(j, &list, true);
	bson_destroy(&data);
	bson_destroy(&list);
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

static void perform(struct iothub *ih, struct api_job *j)
{
	ih->n.api_requests++;
	switch(j->route){
	case API_ROUTE_PUBLISH:
	case API_ROUTE_PUBLISH_BATCH:
		do_publish(ih, j);
		break;
	case API_ROUTE_CLIENT_KICK:
		do_kick(ih, j);
		break;
	case API_ROUTE_CLIENT_GET:
		do_client(ih, j);
		break;
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

		perform(ih, j);
		api_server_answer(ih->api->server, j); /* j may be freed here */
		j = next;
	}
}

int api_glue_init(struct iothub *ih)
{
	struct api_glue *g;
	struct sigaction sa;
	int rc;

	if(ih->cfg.http_api_listen == NULL) return MOSQ_ERR_SUCCESS;
	g = mosquitto_calloc(1, sizeof(*g));
	if(g == NULL) return MOSQ_ERR_NOMEM;
	/* plugin_init runs on the broker thread: the one to wake. */
	g->broker_thread = pthread_self();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: epoll_wait must return EINTR */
	if(sigaction(API_WAKE_SIGNAL, &sa, &g->old_action)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: http api: cannot install the wake-up signal handler: %s",
				strerror(errno));
		mosquitto_free(g);
		return MOSQ_ERR_UNKNOWN;
	}
	ih->api = g; /* from here api_glue_cleanup undoes it */
	rc = api_server_start(&g->server, &ih->cfg, wake_broker, g);
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
	/* Stops the HTTP threads first: nothing calls wake_broker afterwards. */
	api_server_stop(g->server);
	sigaction(API_WAKE_SIGNAL, &g->old_action, NULL);
	mosquitto_free(g);
	ih->api = NULL;
}
