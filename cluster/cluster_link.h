/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster's RabbitMQ link: one thread of its own with one connection
 * (failing over between the amqp_uri nodes, events/amqp_conn.c), never
 * touching the broker. The broker thread hands it operations (bind,
 * unbind, publish, ack) and takes back what arrived (cluster_link_take).
 *
 * Topology, declared on every connect:
 *   exchange cluster_exchange        topic, durable: routed downlinks, takeovers, replies
 *   exchange cluster_admin_exchange  fanout, durable: fleet-wide commands
 *   queue <prefix><node>             durable (quorum with amqp_queue_type quorum),
 *                                    bound to both exchanges (n.<node> on the topic one)
 *   queue iothub.lock.<node>         exclusive: a second live node with the same
 *                                    node_name gets RESOURCE_LOCKED and is refused
 *
 * Delivery: publishes wait in an outbox until RabbitMQ confirms them and
 * are published again after a reconnect (at least once); a delivery is
 * acked only once the broker thread took it (cluster_link_ack), so a
 * message the node had not handed to the broker comes back.
 *
 * Channel 1 carries publishes (confirm mode) and the consumer; channel 2
 * the topology RPCs. The desired bindings live in the thread and are
 * applied again after each reconnect.
 *
 * Allocation: libc (shared between threads), ownership noted per call.
 */
#ifndef IH_CLUSTER_LINK_H
#define IH_CLUSTER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ih_config;
struct cluster_link;

/* What arrived for the broker thread. */
enum cluster_msg_kind {
	CLUSTER_MSG_ROUTE = 0,      /* a downlink: deliver `topic` locally */
	CLUSTER_MSG_ADMIN = 1,      /* fleet-wide command `arg` on `body` */
	CLUSTER_MSG_TAKEOVER = 2,   /* node `origin` accepted client id `arg` */
	CLUSTER_MSG_RELEASED = 3,   /* node `origin` let client id `arg` go */
	CLUSTER_MSG_RETURNED = 4,   /* a takeover of ours reached nobody: `arg` is its client id */
	CLUSTER_MSG_STATS = 5,      /* node `origin`'s counters, a JSON body */
	CLUSTER_MSG_WHOIS = 6,      /* node `origin` asks the holder of client id `arg` */
	CLUSTER_MSG_CLIENT = 7,     /* the answer: client id `arg`, its JSON record as body */
	CLUSTER_MSG_WHOIS_RETURNED = 8, /* a whois of ours reached nobody: `arg` is its client id */
};

struct cluster_msg {
	struct cluster_msg *next;
	enum cluster_msg_kind kind;
	char *topic;                /* ROUTE */
	int qos;
	char *origin;               /* publishing node, "" when not from a node (the platform) */
	char *arg;
	void *body;
	size_t len;
	uint64_t tag;               /* delivery tag, 0: nothing to ack */
	uint64_t gen;               /* connection generation the tag belongs to */
};

struct cluster_link_stats {
	uint64_t published, confirmed, received, acked, returned, reconnects, bindings, binds, unbinds, dropped;
	uint64_t key_ops_done;       /* bind/unbind operations the thread has taken */
	bool connected;
};

/* Broker thread. Parses nothing the events module did not (amqp_uri, TLS). */
int cluster_link_start(struct cluster_link **out, const struct ih_config *cfg, char *err, size_t errlen);
/*
 * Wait (bounded by the amqp timeout per URI) for the first connect: 1 when
 * the node holds its name, 0 when no RabbitMQ node answered (the thread keeps
 * trying), -1 when another live node holds node_name (err says so).
 */
int cluster_link_wait_ready(struct cluster_link *l, char *err, size_t errlen);
void cluster_link_stop(struct cluster_link *l);

/* Broker thread: queue work for the link (copies everything it is given). */
void cluster_link_bind(struct cluster_link *l, const char *key);
void cluster_link_unbind(struct cluster_link *l, const char *key);
/* kind "route", "admin", "stats", "takeover", "released", "whois" or
 * "client"; admin and
 * stats go to the fanout exchange, the others to routing key `key`. */
int cluster_link_publish(struct cluster_link *l, const char *kind, const char *key, const char *topic, int qos,
		const char *arg, const void *body, size_t len, bool mandatory);
void cluster_link_ack(struct cluster_link *l, uint64_t tag, uint64_t gen);

/* Broker thread: everything that arrived, oldest first; the caller owns the
 * list (free each with cluster_msg_free). */
struct cluster_msg *cluster_link_take(struct cluster_link *l);
void cluster_msg_free(struct cluster_msg *m);

void cluster_link_drain_log(struct cluster_link *l);
void cluster_link_get_stats(struct cluster_link *l, struct cluster_link_stats *out);

#endif
