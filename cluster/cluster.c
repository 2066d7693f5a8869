/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster on the broker thread (see cluster.h).
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "cluster/cluster.h"
#include "cluster/cluster_key.h"
#include "cluster/cluster_link.h"
#include "core/clock.h"
#include "core/config.h"
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

/* ------------------------------------------------------------------ */
/* shapes                                                              */

static int shape_add(struct cluster *cl, const char *tpl, bool tags)
{
	char buf[1024];
	size_t len = 0;
	bool has_u = false, has_p = false, has_d = false, has_c = false;
	const char *s = tpl;
	struct shape *ns;

	for(;;){
		const char *end = strchr(s, '/');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		const char *rep = NULL;
		char lit[512];

		if(n == 2 && s[0] == '%'){
			if(s[1] == 'u'){ rep = "+/+"; has_u = true; }
			else if(s[1] == 'p'){ rep = "+"; has_p = true; }
			else if(s[1] == 'd'){ rep = "+"; has_d = true; }
			else if(s[1] == 'c'){ rep = "+"; has_c = true; }
		}
		if(rep == NULL){
			size_t k = 0;
			for(size_t i = 0; i < n && k + 1 < sizeof(lit); i++){
				lit[k++] = s[i];
				if(s[i] == '%' && i + 1 < n && s[i + 1] == '%') i++;
			}
			lit[k] = '\0';
			rep = lit;
		}
		len += (size_t)snprintf(buf + len, len < sizeof(buf) ? sizeof(buf) - len : 0, "%s%s", len ? "/" : "", rep);
		if(len >= sizeof(buf)) return MOSQ_ERR_INVAL;
		if(end == NULL) break;
		s = end + 1;
	}
	ns = mosquitto_realloc(cl->shapes, (cl->n_shapes + 1) * sizeof(*ns));
	if(ns == NULL) return MOSQ_ERR_NOMEM;
	cl->shapes = ns;
	ns[cl->n_shapes].filter = mosquitto_strdup(buf);
	if(ns[cl->n_shapes].filter == NULL) return MOSQ_ERR_NOMEM;
	ns[cl->n_shapes].unicast = !tags && (has_u || has_c || (has_p && has_d));
	cl->n_shapes++;
	return MOSQ_ERR_SUCCESS;
}

static int shapes_build(struct cluster *cl)
{
	int rc;

	for(size_t i = 0; i < cl->cfg->autosub_count; i++){
		rc = shape_add(cl, cl->cfg->autosub[i].filter, false);
		if(rc) return rc;
	}
	/* autosub_template.c: one tags/<P>/<tag>/cmd/# per device tag. */
	if(cl->cfg->autosub_tags) return shape_add(cl, "tags/%p/%d/cmd/#", true);
	return MOSQ_ERR_SUCCESS;
}

/* The first shape the topic has, or NULL: most publishes (telemetry) have none. */
static const struct shape *shape_of(const struct cluster *cl, const char *topic)
{
	for(size_t i = 0; i < cl->n_shapes; i++){
		bool m = false;

		if(mosquitto_topic_matches_sub(cl->shapes[i].filter, topic, &m) == MOSQ_ERR_SUCCESS && m){
			return &cl->shapes[i];
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* routes                                                              */

static struct keyref *key_ref(struct cluster *cl, const char *key)
{
	size_t n = strlen(key);
	struct ih_strmap_node *nd = ih_strmap_find(&cl->keys, key, n);
	struct keyref *k;

	if(nd){
		k = auth_container_of(nd, struct keyref, node);
		k->refs++;
		return k;
	}
	k = mosquitto_calloc(1, sizeof(*k) + n + 1);
	if(k == NULL) return NULL;
	memcpy(k->key, key, n + 1);
	k->refs = 1;
	ih_strmap_insert(&cl->keys, &k->node, k->key, n);
	cluster_link_bind(cl->link, key);
	cl->key_ops++;
	return k;
}

static void key_unref(struct cluster *cl, struct keyref *k)
{
	if(--k->refs > 0) return;
	cluster_link_unbind(cl->link, k->key);
	cl->key_ops++;
	ih_strmap_remove(&cl->keys, &k->node);
	mosquitto_free(k);
}

static struct client_routes *client_find(struct cluster *cl, const char *client_id)
{
	struct ih_strmap_node *nd = ih_strmap_find(&cl->clients, client_id, strlen(client_id));

	return nd ? auth_container_of(nd, struct client_routes, node) : NULL;
}

static void client_free(struct cluster *cl, struct client_routes *r)
{
	for(size_t i = 0; i < r->n; i++) key_unref(cl, r->keys[i]);
	mosquitto_free(r->keys);
	mosquitto_free(r);
}

void cluster_routes_set(struct cluster *cl, const char *client_id, const void *owner,
		const char *const *filters, size_t n)
{
	size_t idn = strlen(client_id);
	struct client_routes *old = client_find(cl, client_id), *r;
	char keys[CLIENT_KEYS_MAX][CLUSTER_KEY_MAX + 1];
	size_t nk = 0;

	if(cluster_key_client(client_id, keys[nk]) >= 0) nk++;
	for(size_t i = 0; i < n && nk < CLIENT_KEYS_MAX; i++){
		bool dup = false;

		if(cluster_key_filter(filters[i], keys[nk]) < 0){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: cluster: filter %s of client %s has no routable prefix"
					" (empty, or its key exceeds %d bytes): other nodes cannot route to it", filters[i], client_id,
					CLUSTER_KEY_MAX);
			continue;
		}
		for(size_t j = 0; j < nk && !dup; j++) dup = !strcmp(keys[j], keys[nk]);
		if(!dup) nk++;
	}
	if(n + 1 > CLIENT_KEYS_MAX){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: cluster: client %s has %zu auto-subscriptions; other nodes"
				" route to its first %d only", client_id, n, CLIENT_KEYS_MAX - 1);
	}
	r = mosquitto_calloc(1, sizeof(*r) + idn + 1);
	if(r) r->keys = mosquitto_calloc(nk ? nk : 1, sizeof(*r->keys));
	if(r == NULL || r->keys == NULL){
		mosquitto_free(r);
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cluster: out of memory; the routes of client %s are unchanged", client_id);
		return;
	}
	memcpy(r->client_id, client_id, idn + 1);
	r->owner = owner;
	/* New references first, so a key both sets share is never unbound. */
	for(size_t i = 0; i < nk; i++){
		struct keyref *k = key_ref(cl, keys[i]);
		if(k) r->keys[r->n++] = k;
	}
	if(old){
		ih_strmap_remove(&cl->clients, &old->node);
		client_free(cl, old);
	}
	ih_strmap_insert(&cl->clients, &r->node, r->client_id, idn);
}

void cluster_routes_release(struct cluster *cl, const char *client_id, const void *owner)
{
	struct client_routes *r = client_find(cl, client_id);

	if(r == NULL || r->owner != owner) return;
	ih_strmap_remove(&cl->clients, &r->node);
	client_free(cl, r);
}

/* ------------------------------------------------------------------ */
/* outgoing                                                            */

void cluster_route(struct cluster *cl, const char *topic, const void *payload, size_t len, int qos,
		size_t local_matches)
{
	const struct shape *s = shape_of(cl, topic);
	char key[CLUSTER_KEY_MAX + 1];

	if(s == NULL) return;
	/* One session per client id fleet-wide: a unicast target held here is
	 * held nowhere else. */
	if(s->unicast && local_matches > 0){
		cl->n.routed_local++;
		return;
	}
	if(cluster_key_topic(topic, key) < 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: cluster: topic %s is too long for a routing key; delivered on this node only", topic);
		return;
	}
	if(cluster_link_publish(cl->link, "route", key, topic, qos, NULL, payload, len, false) == 0) cl->n.routed_out++;
}

void cluster_broadcast(struct cluster *cl, const char *command, const char *arg)
{
	if(cluster_link_publish(cl->link, "admin", "", NULL, 1, command, arg, strlen(arg), false) == 0) cl->n.admin_out++;
}

bool cluster_takeover_begin(struct cluster *cl, const char *client_id, const char *conn_id)
{
	char key[CLUSTER_KEY_MAX + 1];
	struct takeover *t;

	if(client_find(cl, client_id)) return false; /* held here: no other node holds it */
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

int cluster_whois(struct cluster *cl, const char *client_id)
{
	char key[CLUSTER_KEY_MAX + 1];

	if(cluster_key_client(client_id, key) < 0) return -1;
	/* The holder is the one node bound to c.<client id> (its own queue may
	 * be ours: an offline session held here); nobody: RabbitMQ returns it. */
	return cluster_link_publish(cl->link, "whois", key, NULL, 0, client_id, NULL, 0, true);
}

/* ------------------------------------------------------------------ */
/* incoming                                                            */

static void on_whois(struct cluster *cl, const struct cluster_msg *m)
{
	char key[CLUSTER_KEY_MAX + 1];
	char *json;

	if(m->arg == NULL || m->origin[0] == '\0' || cluster_key_node(m->origin, key) < 0) return;
	json = cl->h->client_json(cl->ud, m->arg);
	if(json == NULL) return; /* not (any more) here: the asker's wait runs out */
	cluster_link_publish(cl->link, "client", key, NULL, 0, m->arg, json, strlen(json), false);
	mosquitto_free(json);
}

static void on_client(struct cluster *cl, const struct cluster_msg *m)
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

static void takeover_done(struct cluster *cl, const char *client_id, bool timed_out)
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

static void expire_takeovers(struct cluster *cl, int64_t now)
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
			takeover_done(cl, t->client_id, true);
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

static void run_releases(struct cluster *cl, int64_t now)
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

static void on_takeover(struct cluster *cl, const struct cluster_msg *m)
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

static void peer_update(struct cluster *cl, const char *name, const void *body, size_t len)
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
		p = auth_container_of(nd, struct peer, node);
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
static void run_stats(struct cluster *cl, int64_t now)
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
			struct peer *p = auth_container_of(nd, struct peer, node);

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
			const struct peer *p = auth_container_of(nd, struct peer, node);
			fn(p->name, p->json, now - p->at_ms, ud);
		}
	}
}

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
			if(!own) on_takeover(cl, m);
			break;
		case CLUSTER_MSG_STATS:
			if(!own) peer_update(cl, m->origin, m->body, m->len);
			break;
		case CLUSTER_MSG_WHOIS:
			on_whois(cl, m); /* also our own: an offline session held here */
			break;
		case CLUSTER_MSG_CLIENT:
			on_client(cl, m);
			break;
		case CLUSTER_MSG_WHOIS_RETURNED:
			if(m->arg) cl->h->client_answer(cl->ud, m->arg, NULL);
			break;
		case CLUSTER_MSG_RELEASED:
		case CLUSTER_MSG_RETURNED:
			if(m->arg) takeover_done(cl, m->arg, false);
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
	if(cl->takeovers) expire_takeovers(cl, now);
	run_releases(cl, now);
	run_stats(cl, now);
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
	rc = shapes_build(cl);
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

static void free_map(struct cluster *cl, struct ih_strmap *m, bool clients)
{
	for(size_t i = 0; m->buckets && i <= m->mask; i++){
		while(m->buckets[i]){
			struct ih_strmap_node *nd = m->buckets[i];

			ih_strmap_remove(m, nd);
			if(clients){
				struct client_routes *r = auth_container_of(nd, struct client_routes, node);
				mosquitto_free(r->keys); /* the keys go with their own map */
				mosquitto_free(r);
			}else{
				mosquitto_free(auth_container_of(nd, struct keyref, node));
			}
		}
	}
	(void)cl;
	ih_strmap_cleanup(m);
}

void cluster_cleanup(struct cluster *cl)
{
	if(cl == NULL) return;
	/* The node's bindings stay: its durable queue keeps collecting what is
	 * routed to the sessions it holds until it comes back. */
	cluster_link_stop(cl->link);
	free_map(cl, &cl->clients, true);
	free_map(cl, &cl->keys, false);
	for(size_t i = 0; cl->peers.buckets && i <= cl->peers.mask; i++){
		while(cl->peers.buckets[i]) peer_free(cl, auth_container_of(cl->peers.buckets[i], struct peer, node));
	}
	ih_strmap_cleanup(&cl->peers);
	while(cl->held){
		struct cluster_msg *m = cl->held;
		cl->held = m->next;
		cluster_msg_free(m); /* unacked: RabbitMQ keeps it for the next start */
	}
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
	for(size_t i = 0; i < cl->n_shapes; i++) mosquitto_free(cl->shapes[i].filter);
	mosquitto_free(cl->shapes);
	mosquitto_free(cl);
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

const char *cluster_node(const struct cluster *cl)
{
	return cl->cfg->node_name;
}
