/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Connection events for the forwarder. The glue knows connections; the
 * forwarder knows only the flat description built here.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "events/events.h"
#include "core/clock.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"

/* conn_id: the caller's buffer for the connection id, which out points into. */
static void describe(const struct ih_conn *c, struct events_client *out, char conn_id[IH_CONN_ID_LEN])
{
	ih_conn_id_format(c->conn_seq, conn_id);
	out->client_id = c->client_id;
	out->username = c->username;
	out->product_len = c->product_len;
	out->conn_id = conn_id;
	out->address = ih_conn_address(c);
	out->keepalive = c->keepalive;
	out->proto_ver = c->proto_ver;
	out->clean_session = c->clean_session;
}

void emit_connected(struct iothub *ih, struct ih_conn *c)
{
	struct events_client ec;
	char conn_id[IH_CONN_ID_LEN];

	if(ih->events == NULL || !ih->cfg.event_connected) return;
	describe(c, &ec, conn_id);
	if(events_connected(ih->events, &ec, ih_seq_next(), c->connected_ms)) ih->n.events_dropped++;
}

static void emit_disconnected(struct iothub *ih, struct ih_conn *c, const char *reason)
{
	struct events_client ec;
	char conn_id[IH_CONN_ID_LEN];

	if(ih->events == NULL || !ih->cfg.event_disconnected) return;
	describe(c, &ec, conn_id);
	if(events_disconnected(ih->events, &ec, ih_seq_next(), ih_wall_ms(), reason)) ih->n.events_dropped++;
}

void emit_gone(struct iothub *ih, struct ih_conn *c, const char *reason)
{
	/* A connect still waiting for another node's release has not been
	 * published yet: it goes first, or a consumer applying events in
	 * arrival order would see this connection come online after it left. */
	if(c->connected_pending){
		c->connected_pending = false;
		emit_connected(ih, c);
	}
	if(c->disconnect_emitted) return;
	emit_disconnected(ih, c, reason);
	c->disconnect_emitted = true;
}

int emit_publish(struct iothub *ih, struct mosquitto *client, const char *topic,
		const void *payload, uint32_t payloadlen, int qos, bool retain)
{
	struct events_client ec;
	struct ih_conn *c;
	char conn_id[IH_CONN_ID_LEN];

	if(ih->events == NULL || !events_publish_wanted(ih->events, topic)) return 0;
	c = conn_table_find(ih->conns, client);
	if(c){
		describe(c, &ec, conn_id);
	}else{
		/* A client another mechanism authenticated: describe what the
		 * broker tells us. */
		memset(&ec, 0, sizeof(ec));
		ec.client_id = mosquitto_client_id(client);
		ec.username = mosquitto_client_username(client);
		ec.address = mosquitto_client_address(client);
		ec.conn_id = "";
		ec.keepalive = mosquitto_client_keepalive(client);
		ec.proto_ver = mosquitto_client_protocol_version(client);
		ec.clean_session = mosquitto_client_clean_session(client);
	}
	if(events_publish(ih->events, &ec, ih_seq_next(), ih_wall_ms(), topic, payload, payloadlen, qos, retain)){
		ih->n.events_dropped++;
		return -1;
	}
	return 0;
}

void emit_publish_api(struct iothub *ih, const char *sender, const char *topic,
		const void *payload, uint32_t payloadlen, int qos, bool retain)
{
	struct events_client ec;

	if(ih->events == NULL || !events_publish_wanted(ih->events, topic)) return;
	/* No connection: the event names the sender the request gave, as EMQX
	 * names the API's client_id. */
	memset(&ec, 0, sizeof(ec));
	ec.client_id = sender ? sender : "http_api";
	ec.conn_id = "";
	ec.proto_ver = 4;
	ec.clean_session = true;
	if(events_publish(ih->events, &ec, ih_seq_next(), ih_wall_ms(), topic, payload, payloadlen, qos, retain)){
		ih->n.events_dropped++;
	}
}
