/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Routes and bindings (cluster.h, "Routing"): the shapes of the
 * auto-subscription templates, the reference-counted routing keys of the
 * clients this node holds, and the routed publish.
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

int cluster_shapes_build(struct cluster *cl)
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
		k = ih_container_of(nd, struct keyref, node);
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

static struct client_routes *client_find(const struct cluster *cl, const char *client_id)
{
	struct ih_strmap_node *nd = ih_strmap_find(&cl->clients, client_id, strlen(client_id));

	return nd ? ih_container_of(nd, struct client_routes, node) : NULL;
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

bool cluster_client_held(const struct cluster *cl, const char *client_id)
{
	return client_find(cl, client_id) != NULL;
}

static void free_map(struct cluster *cl, struct ih_strmap *m, bool clients)
{
	for(size_t i = 0; m->buckets && i <= m->mask; i++){
		while(m->buckets[i]){
			struct ih_strmap_node *nd = m->buckets[i];

			ih_strmap_remove(m, nd);
			if(clients){
				struct client_routes *r = ih_container_of(nd, struct client_routes, node);
				mosquitto_free(r->keys); /* the keys go with their own map */
				mosquitto_free(r);
			}else{
				mosquitto_free(ih_container_of(nd, struct keyref, node));
			}
		}
	}
	(void)cl;
	ih_strmap_cleanup(m);
}

void cluster_routes_cleanup(struct cluster *cl)
{
	free_map(cl, &cl->clients, true);
	free_map(cl, &cl->keys, false);
	for(size_t i = 0; i < cl->n_shapes; i++) mosquitto_free(cl->shapes[i].filter);
	mosquitto_free(cl->shapes);
}
