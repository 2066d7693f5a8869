/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Takeover (cluster.h, "Takeover"): announcing a client id accepted
 * here, releasing one another node accepted, and settling the wait.
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

bool cluster_takeover_begin(struct cluster *cl, const char *client_id, const char *conn_id)
{
	char key[CLUSTER_KEY_MAX + 1];
	struct takeover *t;

	if(cluster_client_held(cl, client_id)) return false; /* held here: no other node holds it */
	if(cluster_key_client(client_id, key) < 0) return false;
	t = mosquitto_calloc(1, sizeof(*t));
	if(t == NULL || (t->client_id = mosquitto_strdup(client_id)) == NULL){
		mosquitto_free(t);
		return false;
	}
	snprintf(t->conn_id, sizeof(t->conn_id), "%s", conn_id);
	if(cluster_link_publish(cl->link, "takeover", key, NULL, 1, client_id, NULL, 0, true)){
		mosquitto_free(t->client_id);
		mosquitto_free(t);
		return false;
	}
	t->deadline_ms = ih_mono_ms() + cl->cfg->cluster_takeover_wait_ms;
	t->next = cl->takeovers;
	cl->takeovers = t;
	cl->n.takeovers_out++;
	return true;
}

void cluster_takeover_done(struct cluster *cl, const char *client_id, bool timed_out)
{
	struct takeover **pp = &cl->takeovers;

	while(*pp){
		struct takeover *t = *pp;

		if(client_id == NULL || !strcmp(t->client_id, client_id)){
			*pp = t->next;
			if(timed_out){
				cl->n.takeover_timeouts++;
				mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: cluster: no node released client %s within %u ms;"
						" publishing its client.connected anyway", t->client_id, cl->cfg->cluster_takeover_wait_ms);
			}
			cl->h->connected_ready(cl->ud, t->client_id, t->conn_id);
			mosquitto_free(t->client_id);
			mosquitto_free(t);
			if(client_id) return;
			continue;
		}
		pp = &t->next;
	}
}

void cluster_takeovers_expire(struct cluster *cl, int64_t now)
{
	struct takeover **pp = &cl->takeovers;

	while(*pp){
		struct takeover *t = *pp;

		if(now < t->deadline_ms){
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		t->next = NULL;
		/* Re-insert alone and settle it through the one path. */
		{
			struct takeover *rest = cl->takeovers;
			cl->takeovers = t;
			cluster_takeover_done(cl, t->client_id, true);
			cl->takeovers = rest;
		}
	}
}

static void send_released(struct cluster *cl, struct release *r)
{
	char key[CLUSTER_KEY_MAX + 1];

	if(cluster_key_node(r->to_node, key) >= 0){
		cluster_link_publish(cl->link, "released", key, NULL, 1, r->client_id, NULL, 0, false);
	}
	mosquitto_free(r->client_id);
	mosquitto_free(r->to_node);
	mosquitto_free(r);
}

void cluster_releases_run(struct cluster *cl, int64_t now)
{
	struct release **pp = &cl->releases;
	bool settled;

	if(*pp == NULL) return;
	settled = cl->h->events_settled(cl->ud);
	while(*pp){
		struct release *r = *pp;

		if(!settled && now < r->deadline_ms){
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		send_released(cl, r);
	}
}

void cluster_on_takeover(struct cluster *cl, const struct cluster_msg *m)
{
	struct release *r;

	if(m->arg == NULL) return;
	cl->n.takeovers_in++;
	cl->h->takeover(cl->ud, m->arg);
	r = mosquitto_calloc(1, sizeof(*r));
	if(r == NULL) return; /* the taker stops waiting at its deadline */
	r->client_id = mosquitto_strdup(m->arg);
	r->to_node = mosquitto_strdup(m->origin);
	if(r->client_id == NULL || r->to_node == NULL){
		mosquitto_free(r->client_id);
		mosquitto_free(r->to_node);
		mosquitto_free(r);
		return;
	}
	/* Within the taker's own bound (it waits cluster_takeover_wait), with
	 * time left for the answer to travel. */
	r->deadline_ms = ih_mono_ms() + (int64_t)cl->cfg->cluster_takeover_wait_ms * 3 / 4;
	r->next = cl->releases;
	cl->releases = r;
}

void cluster_takeovers_cleanup(struct cluster *cl)
{
	while(cl->takeovers){
		struct takeover *t = cl->takeovers;
		cl->takeovers = t->next;
		mosquitto_free(t->client_id);
		mosquitto_free(t);
	}
	while(cl->releases){
		struct release *r = cl->releases;
		cl->releases = r->next;
		mosquitto_free(r->client_id);
		mosquitto_free(r->to_node);
		mosquitto_free(r);
	}
}
