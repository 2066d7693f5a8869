/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster's broker-thread state, shared by cluster.c (messages, tick,
 * lifecycle), cluster_routes.c, cluster_takeover.c and cluster_admin.c.
 * Private to cluster/: nothing outside includes it.
 */
#ifndef IH_CLUSTER_PRIV_H
#define IH_CLUSTER_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "cluster/cluster_link.h"
#include "core/strmap.h"

/* Most routing keys one client holds (its filters, plus its client id). */
#define CLIENT_KEYS_MAX 64

/* The shape of an auto-subscription template: placeholders as wildcards. */
struct shape {
	char *filter;        /* e.g. cmd/+/+/+/+/+/# for cmd/%u/+/+/+/# */
	bool unicast;        /* names one client (%u, %c, or %p and %d) */
};

/* A routing key this node holds, with how many clients hold it. */
struct keyref {
	struct ih_strmap_node node;
	size_t refs;
	char key[];
};

struct client_routes {
	struct ih_strmap_node node;
	const void *owner;
	size_t n;
	struct keyref **keys;  /* references into cl->keys */
	char client_id[];
};

struct takeover {
	struct takeover *next;
	char *client_id;
	char conn_id[40];
	int64_t deadline_ms;
};

/* A release waiting until our events are confirmed. */
struct release {
	struct release *next;
	char *client_id;
	char *to_node;
	int64_t deadline_ms;
};

/* Another node's latest counters. */
struct peer {
	struct ih_strmap_node node;
	char *json;
	int64_t at_ms;
	char name[];
};

struct cluster {
	struct cluster_link *link;
	const struct cluster_handlers *h;
	void *ud;
	const struct ih_config *cfg;
	struct shape *shapes;
	size_t n_shapes;
	struct ih_strmap keys;
	struct ih_strmap clients;
	struct takeover *takeovers;
	struct release *releases;
	uint64_t key_ops;      /* bind/unbind operations handed to the link */
	struct ih_strmap peers;
	int64_t next_stats_ms;
	int64_t hold_until_ms;     /* end of the startup hold */
	struct cluster_msg *held;  /* routed messages waiting for their session (unacked) */
	size_t n_held;
	struct cluster_stats n;
};

/* cluster_routes.c */
int cluster_shapes_build(struct cluster *cl);
bool cluster_client_held(const struct cluster *cl, const char *client_id);
void cluster_routes_cleanup(struct cluster *cl);

/* cluster_takeover.c */
void cluster_takeover_done(struct cluster *cl, const char *client_id, bool timed_out);
void cluster_takeovers_expire(struct cluster *cl, int64_t now);
void cluster_releases_run(struct cluster *cl, int64_t now);
void cluster_on_takeover(struct cluster *cl, const struct cluster_msg *m);
void cluster_takeovers_cleanup(struct cluster *cl);

/* cluster_admin.c */
void cluster_on_whois(struct cluster *cl, const struct cluster_msg *m);
void cluster_on_client(struct cluster *cl, const struct cluster_msg *m);
void cluster_peer_update(struct cluster *cl, const char *name, const void *body, size_t len);
void cluster_stats_run(struct cluster *cl, int64_t now);
void cluster_peers_cleanup(struct cluster *cl);

#endif
