/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster's glue (cluster/cluster.h): what a node does for the others,
 * and the fleet-wide form of the administrative actions. With `cluster
 * false` every fleet_* function is the local action alone.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "autosub/autosub_index.h"
#include "cluster/cluster.h"
#include "core/clock.h"
#include "events/events.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"
#include "plugin/kick.h"
#include "registry/username.h"

int fleet_routes_bind(struct iothub *ih, struct ih_conn *c, const struct autosub_filter *items,
		const char *const *names, size_t n)
{
	int rc = autosub_index_bind(ih->autosub, c->client_id, items, n, c);

	if(rc == MOSQ_ERR_SUCCESS && ih->cluster) cluster_routes_set(ih->cluster, c->client_id, c, names, n);
	return rc;
}

void fleet_routes_release(struct iothub *ih, struct ih_conn *c)
{
	autosub_index_release(ih->autosub, c->client_id, c);
	if(ih->cluster) cluster_routes_release(ih->cluster, c->client_id, c);
}

void fleet_kick_device(struct iothub *ih, const char *username)
{
	kick_queue(ih, username, true, "kicked");
	if(ih->cluster) cluster_broadcast(ih->cluster, "kickDevice", username);
}

void fleet_kick_client(struct iothub *ih, const char *client_id)
{
	kick_queue(ih, client_id, false, "kicked");
	if(ih->cluster) cluster_broadcast(ih->cluster, "kickClient", client_id);
}

void fleet_invalidate_device(struct iothub *ih, const char *username)
{
	auth_invalidate(ih->auth, username);
	if(ih->cluster) cluster_broadcast(ih->cluster, "invalidateDevice", username);
}

void fleet_publish(struct iothub *ih, const char *topic, const void *payload, uint32_t payloadlen, int qos)
{
	size_t n = autosub_deliver(ih, topic, payload, payloadlen, qos);

	if(ih->cluster) cluster_route(ih->cluster, topic, payload, payloadlen, qos, n);
}

/* ------------------------------------------------------------------ */
/* handlers: what other nodes ask of this one (from cluster_tick)      */

static size_t on_deliver(void *ud, const char *topic, const void *payload, size_t len, int qos)
{
	struct iothub *ih = ud;

	if(len > UINT32_MAX) return 0;
	return autosub_deliver(ih, topic, payload, (uint32_t)len, qos);
}

static void on_admin(void *ud, const char *command, const char *arg)
{
	struct iothub *ih = ud;
	size_t plen;
	bool is_user = registry_username_check(arg, ih->cfg.username_max_len, &plen) == NULL;

	if(!strcmp(command, "kickDevice") && is_user){
		kick_queue(ih, arg, true, "kicked");
	}else if(!strcmp(command, "kickClient") && arg[0]){
		kick_queue(ih, arg, false, "kicked");
	}else if(!strcmp(command, "invalidateDevice") && is_user){
		auth_invalidate(ih->auth, arg);
	}else{
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: cluster: ignored fleet command %s (\"%s\")", command, arg);
	}
}

static void on_takeover(void *ud, const char *client_id)
{
	struct iothub *ih = ud;
	struct ih_conn *c = conn_table_find_client_id(ih->conns, client_id);

	if(c == NULL) return;
	if(c->state == IH_CONN_ONLINE){
		/* Its client.disconnected goes out now, so it precedes the other
		 * node's client.connected (which waits for our "released"). */
		emit_gone(ih, c, "takeover");
		c->kick_reason = "takeover";
		c->moved = true;
		kick_queue(ih, client_id, false, "takeover");
		return;
	}
	/* An offline session: the client carries on elsewhere, so nothing may
	 * be queued or routed here for it any more. */
	fleet_routes_release(ih, c);
	conn_table_remove(ih->conns, c);
	session_free_conn(c, ih);
}

static bool on_events_settled(void *ud)
{
	struct iothub *ih = ud;
	struct events_stats s;

	if(ih->events == NULL) return true;
	events_get_stats(ih->events, &s);
	return s.backlog == 0 && s.memory_queued == 0;
}

static void on_connected_ready(void *ud, const char *client_id, const char *conn_id)
{
	struct iothub *ih = ud;
	struct ih_conn *c = conn_table_find_client_id(ih->conns, client_id);
	char id[IH_CONN_ID_LEN];

	if(c == NULL || !c->connected_pending) return;
	ih_conn_id_format(c->conn_seq, id);
	if(strcmp(id, conn_id)) return;
	c->connected_pending = false;
	if(c->state == IH_CONN_ONLINE && !c->disconnect_emitted) emit_connected(ih, c);
}

static char *on_stats_json(void *ud)
{
	return stats_json(ud);
}

static char *on_client_json(void *ud, const char *client_id)
{
	return api_glue_client_json(ud, client_id);
}

static void on_client_answer(void *ud, const char *client_id, const char *json)
{
	api_glue_client_answer(ud, client_id, json);
}

static const struct cluster_handlers handlers = {
	.deliver = on_deliver,
	.admin = on_admin,
	.takeover = on_takeover,
	.events_settled = on_events_settled,
	.connected_ready = on_connected_ready,
	.stats_json = on_stats_json,
	.client_json = on_client_json,
	.client_answer = on_client_answer,
};

int fleet_init(struct iothub *ih)
{
	return cluster_init(&ih->cluster, &ih->cfg, &handlers, ih);
}
