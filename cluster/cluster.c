/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster on the broker thread (see cluster.h): what arrives, the
 * startup hold, the tick, and the lifecycle. Routes are in
 * cluster_routes.c, takeovers in cluster_takeover.c, administration and
 * stats in cluster_admin.c.
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

/* Keep an unmatched routed message during the startup hold: true when kept
 * (m then belongs to the held list). */
static bool hold(struct cluster *cl, struct cluster_msg *m)
{
	if(ih_mono_ms() >= cl->hold_until_ms || cl->n_held >= CLUSTER_HOLD_MAX) return false;
	m->next = cl->held;
	cl->held = m;
	cl->n_held++;
	cl->n.held++;
	return true;
}

/* Offer the held messages again; past the hold, ack and drop the rest. */
static void run_held(struct cluster *cl, int64_t now)
{
	struct cluster_msg **pp = &cl->held;

	while(*pp){
		struct cluster_msg *m = *pp;
		bool delivered = cl->h->deliver(cl->ud, m->topic, m->body, m->len, m->qos) > 0;

		if(!delivered && now < cl->hold_until_ms){
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		cl->n_held--;
		if(delivered) cl->n.held_delivered++;
		else cl->n.unmatched++;
		cluster_link_ack(cl->link, m->tag, m->gen);
		cluster_msg_free(m);
	}
}

/* Returns true when m was kept (held), false when it may be freed. */
static bool on_message(struct cluster *cl, struct cluster_msg *m)
{
	bool own = !strcmp(m->origin, cl->cfg->node_name);

	switch(m->kind){
		case CLUSTER_MSG_ROUTE:
			if(own){
				cl->n.own_dropped++;
			}else if(m->topic == NULL || m->topic[0] == '\0'){
				mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: cluster: dropped a routed message without a topic header");
			}else{
				cl->n.routed_in++;
				if(cl->h->deliver(cl->ud, m->topic, m->body, m->len, m->qos) == 0){
					if(hold(cl, m)) return true;
					cl->n.unmatched++;
				}
			}
			break;
		case CLUSTER_MSG_ADMIN:
			if(!own && m->arg){
				char *arg = mosquitto_malloc(m->len + 1);

				if(arg){
					memcpy(arg, m->body, m->len);
					arg[m->len] = '\0';
					cl->n.admin_in++;
					cl->h->admin(cl->ud, m->arg, arg);
					mosquitto_free(arg);
				}
			}
			break;
		case CLUSTER_MSG_TAKEOVER:
			if(!own) cluster_on_takeover(cl, m);
			break;
		case CLUSTER_MSG_STATS:
			if(!own) cluster_peer_update(cl, m->origin, m->body, m->len);
			break;
		case CLUSTER_MSG_WHOIS:
			cluster_on_whois(cl, m); /* also our own: an offline session held here */
			break;
		case CLUSTER_MSG_CLIENT:
			cluster_on_client(cl, m);
			break;
		case CLUSTER_MSG_WHOIS_RETURNED:
			if(m->arg) cl->h->client_answer(cl->ud, m->arg, NULL);
			break;
		case CLUSTER_MSG_RELEASED:
		case CLUSTER_MSG_RETURNED:
			if(m->arg) cluster_takeover_done(cl, m->arg, false);
			break;
	}
	/* The broker has it (queued for the clients), or it needs nothing. */
	cluster_link_ack(cl->link, m->tag, m->gen);
	return false;
}

void cluster_tick(struct cluster *cl)
{
	struct cluster_msg *list = cluster_link_take(cl->link);
	int64_t now;

	while(list){
		struct cluster_msg *m = list;

		list = m->next;
		if(!on_message(cl, m)) cluster_msg_free(m);
	}
	now = ih_mono_ms();
	if(cl->held) run_held(cl, now);
	if(cl->takeovers) cluster_takeovers_expire(cl, now);
	cluster_releases_run(cl, now);
	cluster_stats_run(cl, now);
	cluster_link_drain_log(cl->link);
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */

int cluster_init(struct cluster **out, const struct ih_config *cfg, const struct cluster_handlers *h, void *ud)
{
	struct cluster *cl;
	char err[1024];
	int rc;

	*out = NULL;
	cl = mosquitto_calloc(1, sizeof(*cl));
	if(cl == NULL) return MOSQ_ERR_NOMEM;
	cl->cfg = cfg;
	cl->h = h;
	cl->ud = ud;
	if(ih_strmap_init(&cl->keys, mosquitto_calloc, mosquitto_free)
			|| ih_strmap_init(&cl->clients, mosquitto_calloc, mosquitto_free)
			|| ih_strmap_init(&cl->peers, mosquitto_calloc, mosquitto_free)){
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	rc = cluster_shapes_build(cl);
	if(rc) goto fail;
	if(cluster_link_start(&cl->link, cfg, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cluster: %s", err);
		rc = MOSQ_ERR_INVAL;
		goto fail;
	}
	switch(cluster_link_wait_ready(cl->link, err, sizeof(err))){
		case -1:
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cluster: refusing to start: node_name \"%s\" is in use by"
					" another live node (every node needs its own node_name)", cfg->node_name);
			rc = MOSQ_ERR_INVAL;
			goto fail;
		case 0:
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: cluster: no RabbitMQ node answered (%s); starting anyway,"
					" routing begins when one does (node_name uniqueness is checked then)", err);
			break;
		default:
			break;
	}
	cl->hold_until_ms = ih_mono_ms() + (int64_t)cfg->cluster_startup_hold_s * 1000;
	*out = cl;
	return MOSQ_ERR_SUCCESS;
fail:
	cluster_cleanup(cl);
	return rc;
}


void cluster_cleanup(struct cluster *cl)
{
	if(cl == NULL) return;
	/* The node's bindings stay: its durable queue keeps collecting what is
	 * routed to the sessions it holds until it comes back. */
	cluster_link_stop(cl->link);
	cluster_routes_cleanup(cl);
	cluster_peers_cleanup(cl);
	while(cl->held){
		struct cluster_msg *m = cl->held;
		cl->held = m->next;
		cluster_msg_free(m); /* unacked: RabbitMQ keeps it for the next start */
	}
	cluster_takeovers_cleanup(cl);
	mosquitto_free(cl);
}

const char *cluster_node(const struct cluster *cl)
{
	return cl->cfg->node_name;
}
