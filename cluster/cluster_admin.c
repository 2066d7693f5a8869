/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Fleet-wide administration (cluster.h, "Administration"): commands
 * to every node, the nodes' counters, and the client lookup
 * (cluster_whois) that the HTTP API's clients/{id} uses.
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "cluster/cluster.h"
#include "cluster/cluster_key.h"
#include "cluster/cluster_link.h"
#include "cluster/cluster_priv.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/strmap.h"

void cluster_broadcast(struct cluster *cl, const char *command, const char *arg)
{
	if(cluster_link_publish(cl->link, "admin", "", NULL, 1, command, arg, strlen(arg), false) == 0) cl->n.admin_out++;
}

int cluster_whois(struct cluster *cl, const char *client_id)
{
	char key[CLUSTER_KEY_MAX + 1];

	if(cluster_key_client(client_id, key) < 0) return -1;
	/* The holder is the one node bound to c.<client id> (its own queue may
	 * be ours: an offline session held here); nobody: RabbitMQ returns it. */
	return cluster_link_publish(cl->link, "whois", key, NULL, 0, client_id, NULL, 0, true);
}

void cluster_on_whois(struct cluster *cl, const struct cluster_msg *m)
{
	char key[CLUSTER_KEY_MAX + 1];
	char *json;

	if(m->arg == NULL || m->origin[0] == '\0' || cluster_key_node(m->origin, key) < 0) return;
	json = cl->h->client_json(cl->ud, m->arg);
	if(json == NULL) return; /* not (any more) here: the asker's wait runs out */
	cluster_link_publish(cl->link, "client", key, NULL, 0, m->arg, json, strlen(json), false);
	mosquitto_free(json);
}

void cluster_on_client(struct cluster *cl, const struct cluster_msg *m)
{
	char *json;

	if(m->arg == NULL) return;
	json = mosquitto_malloc(m->len + 1);
	if(json == NULL) return;
	memcpy(json, m->body, m->len);
	json[m->len] = '\0';
	cl->h->client_answer(cl->ud, m->arg, json);
	mosquitto_free(json);
}

void cluster_peer_update(struct cluster *cl, const char *name, const void *body, size_t len)
{
	struct ih_strmap_node *nd = ih_strmap_find(&cl->peers, name, strlen(name));
	struct peer *p;
	char *json = mosquitto_malloc(len + 1);

	if(json == NULL || name[0] == '\0'){
		mosquitto_free(json);
		return;
	}
	memcpy(json, body, len);
	json[len] = '\0';
	if(nd){
		p = ih_container_of(nd, struct peer, node);
	}else{
		size_t n = strlen(name);

		p = mosquitto_calloc(1, sizeof(*p) + n + 1);
		if(p == NULL){
			mosquitto_free(json);
			return;
		}
		memcpy(p->name, name, n + 1);
		ih_strmap_insert(&cl->peers, &p->node, p->name, n);
	}
	mosquitto_free(p->json);
	p->json = json;
	p->at_ms = ih_mono_ms();
}

static void peer_free(struct cluster *cl, struct peer *p)
{
	ih_strmap_remove(&cl->peers, &p->node);
	mosquitto_free(p->json);
	mosquitto_free(p);
}

/* Send ours; forget the nodes that stopped sending theirs. */
void cluster_stats_run(struct cluster *cl, int64_t now)
{
	int64_t period = (int64_t)cl->cfg->cluster_stats_interval_s * 1000;
	char *json;

	if(now < cl->next_stats_ms) return;
	cl->next_stats_ms = now + period;
	json = cl->h->stats_json(cl->ud);
	if(json){
		cluster_link_publish(cl->link, "stats", "", NULL, 0, NULL, json, strlen(json), false);
		mosquitto_free(json);
	}
	for(size_t i = 0; cl->peers.buckets && i <= cl->peers.mask; i++){
		struct ih_strmap_node *nd = cl->peers.buckets[i];

		while(nd){
			struct peer *p = ih_container_of(nd, struct peer, node);

			nd = nd->next;
			if(now - p->at_ms > 3 * period) peer_free(cl, p);
		}
	}
}

void cluster_foreach_node(const struct cluster *cl, void (*fn)(const char *node, const char *json, int64_t age_ms,
		void *ud), void *ud)
{
	int64_t now = ih_mono_ms();

	for(size_t i = 0; cl->peers.buckets && i <= cl->peers.mask; i++){
		for(struct ih_strmap_node *nd = cl->peers.buckets[i]; nd; nd = nd->next){
			const struct peer *p = ih_container_of(nd, struct peer, node);
			fn(p->name, p->json, now - p->at_ms, ud);
		}
	}
}

void cluster_peers_cleanup(struct cluster *cl)
{
	for(size_t i = 0; cl->peers.buckets && i <= cl->peers.mask; i++){
		while(cl->peers.buckets[i]) peer_free(cl, ih_container_of(cl->peers.buckets[i], struct peer, node));
	}
	ih_strmap_cleanup(&cl->peers);
}

void cluster_get_stats(struct cluster *cl, struct cluster_stats *out)
{
	struct cluster_link_stats s;

	*out = cl->n;
	cluster_link_get_stats(cl->link, &s);
	out->amqp_published = s.published;
	out->amqp_confirmed = s.confirmed;
	out->amqp_received = s.received;
	out->amqp_reconnects = s.reconnects;
	out->keys = cl->keys.count;
	out->binds_pending = cl->key_ops - s.key_ops_done;
	out->connected = s.connected;
}
