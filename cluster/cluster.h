/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Several nodes acting as one broker, routed by RabbitMQ (README "Cluster").
 * The broker-thread side of cluster_link.h; every function here runs on the
 * broker thread. With `cluster false` none of it exists (ih->cluster NULL).
 *
 * Routing. Each node binds its queue, on the topic exchange, with the keys
 * of what it holds (cluster_key.h): the literal prefix of every
 * auto-subscription filter of every client it holds, online or an offline
 * persistent session, and `c.<client id>`. Keys are reference-counted
 * (devices share tag keys) and bound/unbound as the first holder comes and
 * the last one goes. A publish whose topic has the shape of an
 * auto-subscription template (cluster_route) costs one AMQP publish with
 * key `t.<topic>` unless it is addressed to one device held here; RabbitMQ
 * copies it to the queues of the nodes that need it and each delivers it
 * through its own auto-subscription path (same QoS, same ACL). A node
 * drops its own copies (a tag command it also delivered locally).
 *
 * Takeover. A client id accepted here that this node did not hold is
 * announced with a mandatory publish to `c.<client id>` before this node
 * binds that key (on the same channel, so RabbitMQ routes the publish
 * first: cluster_link_priv.h): nobody holds it -> RabbitMQ returns it and
 * client.connected goes out at once; the holder disconnects its connection
 * (reason "takeover"), waits until its events are confirmed and answers
 * "released"; client.connected waits for that, at most
 * cluster_takeover_wait.
 *
 * Restart. A node that was down finds in its durable queue what was routed
 * to the sessions it held; Mosquitto restores those sessions from its
 * persistence file, but the plugin learns about each only when its client
 * reconnects. So for cluster_startup_hold after start a routed message that
 * matches nobody here is kept, unacked (at most CLUSTER_HOLD_MAX), and
 * offered again at every TICK; whatever still matches nobody then is acked
 * and dropped.
 *
 * Administration: cluster_broadcast sends a command to every other node
 * (fanout exchange); each applies it through handlers->admin. Every
 * cluster_stats_interval each node sends its counters the same way, so
 * getStats answers for the fleet at once (cluster_foreach_node).
 */
#ifndef IH_CLUSTER_CLUSTER_H
#define IH_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ih_config;
struct cluster;

/* What the plugin glue does for the cluster; all called from cluster_tick. */
struct cluster_handlers {
	/* A downlink from another node (or the platform): deliver it locally;
	 * returns how many local auto-subscribers it matched. */
	size_t (*deliver)(void *ud, const char *topic, const void *payload, size_t len, int qos);
	/* A fleet-wide command from another node: kickDevice, kickClient, invalidateDevice. */
	void (*admin)(void *ud, const char *command, const char *arg);
	/* Another node accepted client_id: let it go (disconnect it with reason
	 * "takeover", or drop its offline session). */
	void (*takeover)(void *ud, const char *client_id);
	/* Are this node's events so far confirmed by RabbitMQ? */
	bool (*events_settled)(void *ud);
	/* A client.connected held for a takeover may go out now. */
	void (*connected_ready)(void *ud, const char *client_id, const char *conn_id);
	/* This node's counters as JSON (mosquitto_malloc'd, the caller frees),
	 * sent to the other nodes every cluster_stats_interval. */
	char *(*stats_json)(void *ud);
	/* Another node asks about client_id (cluster_whois): its record as JSON
	 * (mosquitto_malloc'd, the caller frees), or NULL when not held here. */
	char *(*client_json)(void *ud, const char *client_id);
	/* The answer to our cluster_whois: the holder's record, or json NULL
	 * when no node holds client_id (RabbitMQ returned the question). */
	void (*client_answer)(void *ud, const char *client_id, const char *json);
};

#define CLUSTER_HOLD_MAX 256

struct cluster_stats {
	uint64_t routed_out;        /* AMQP publishes of downlinks */
	uint64_t routed_local;      /* downlinks kept local (target held here) */
	uint64_t routed_in;         /* downlinks received from other nodes */
	uint64_t own_dropped;       /* our own copies, dropped */
	uint64_t held, held_delivered, unmatched; /* routed messages matching nobody here */
	uint64_t admin_out, admin_in, takeovers_out, takeovers_in, takeover_timeouts;
	uint64_t amqp_published, amqp_confirmed, amqp_received, amqp_reconnects;
	uint64_t keys;              /* distinct routing keys bound */
	uint64_t binds_pending;     /* bind/unbind operations not yet applied */
	bool connected;
};

/* Starts the link and waits for it; refuses (MOSQ_ERR_INVAL) when another
 * live node holds node_name. h and ud must outlive the cluster. */
int cluster_init(struct cluster **out, const struct ih_config *cfg, const struct cluster_handlers *h, void *ud);
void cluster_cleanup(struct cluster *cl);   /* NULL is fine */

/* The routes a client holds: its auto-subscription filters (n may be 0).
 * `owner` is the connection, as in autosub_index_bind/release. */
void cluster_routes_set(struct cluster *cl, const char *client_id, const void *owner,
		const char *const *filters, size_t n);
void cluster_routes_release(struct cluster *cl, const char *client_id, const void *owner);

/* A publish accepted here; local_matches = auto-subscribers found here. */
void cluster_route(struct cluster *cl, const char *topic, const void *payload, size_t len, int qos,
		size_t local_matches);

/* Tell every other node. */
void cluster_broadcast(struct cluster *cl, const char *command, const char *arg);

/* A client id this node did not hold was accepted: true when its
 * client.connected must wait for connected_ready. Call before
 * cluster_routes_set for it. */
bool cluster_takeover_begin(struct cluster *cl, const char *client_id, const char *conn_id);

/* Ask the node holding client_id (a mandatory publish to c.<client id>,
 * answered to our n.<node>): the answer comes through client_answer, at
 * most once per holder; the caller bounds its wait. 0, or -1 when it
 * could not be asked. */
int cluster_whois(struct cluster *cl, const char *client_id);

void cluster_tick(struct cluster *cl);

/* The other live nodes' latest counters (JSON as they sent it), with their
 * age; a node silent for 3 intervals is forgotten. */
void cluster_foreach_node(const struct cluster *cl, void (*fn)(const char *node, const char *json, int64_t age_ms,
		void *ud), void *ud);
void cluster_get_stats(struct cluster *cl, struct cluster_stats *out);
const char *cluster_node(const struct cluster *cl);

#endif
