/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The life of an accepted connection: BASIC_AUTH creates it, registry
 * changes refresh it, DISCONNECT retires it (see conn.h for the states).
 *
 * Everything a connection needs on the hot path (compiled ACL rules, ACL
 * cache, auto-subscriptions) is built here once, at authentication or on a
 * registry change, never per message.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/acl_cache.h"
#include "acl/placeholder.h"
#include "acl/rules.h"
#include "acl/rules_intern.h"
#include "auth/auth.h"
#include "registry/device.h"
#include "registry/username.h"
#include "autosub/autosub_index.h"
#include "autosub/autosub_template.h"
#include "cluster/cluster.h"
#include "core/clock.h"
#include "core/slab.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"
#include "plugin/kick.h"

/*
 * Free an entry that left the table. The index may still name it as the
 * owner of its client id's auto-subscriptions (an OFFLINE entry whose
 * session the broker dropped without telling us, e.g. MQTT 5 clean start
 * false with no session expiry): release them first, or the next matching
 * message would read the freed entry.
 */
static void session_retire(struct iothub *ih, struct ih_conn *c)
{
	if(c == NULL) return;
	fleet_routes_release(ih, c);
	session_free_conn(c, ih);
}

/* The size conn_new asked the pool for: the entry and the strings it holds. */
static size_t conn_block_size(const struct ih_conn *c)
{
	size_t n = sizeof(*c) + strlen(c->client_id) + 1;
	const char *addr = ih_conn_address(c);

	if(c->own_username) n += strlen(c->username) + 1;
	if(addr) n += strlen(addr) + 1;
	return n;
}

void session_free_conn(struct ih_conn *c, void *ud)
{
	struct ih_device *dev;

	(void)ud;
	if(c == NULL) return;
	acl_cache_free(c->acl_cache);
	acl_rules_free(c->rules);
	for(size_t i = 0; i < c->api_subs_count; i++) mosquitto_free(c->api_subs[i].filter);
	mosquitto_free(c->api_subs);
	/* Sized before the record goes: the username may be the record's. */
	dev = c->dev;
	ih_slab_free(c, conn_block_size(c)); /* the strings with it (conn_new) */
	registry_device_unref(dev);
}

/*
 * The connection's share of a template-form block (acl/rules_intern.h):
 * the usual case. MOSQ_ERR_NOT_SUPPORTED when its rules must be compiled
 * for it alone: a subject whose values are not plain (the rules about
 * dropping and widening then differ per connection), or tag
 * subscriptions (read grants that are not templates).
 */
static int shared_rules(struct iothub *ih, const struct ih_device *dev, const struct acl_subject *who,
		struct acl_rules **out)
{
	const struct ih_acl_lists *lists = (dev && ih->cfg.acl_registry) ? dev->acl : NULL;
	int rc;

	if(!acl_subject_plain(who)) return MOSQ_ERR_NOT_SUPPORTED;
	if(ih->cfg.autosub_tags && dev && dev->tags.count > 0) return MOSQ_ERR_NOT_SUPPORTED;
	rc = acl_intern_get(ih->acl_shared, ih->acl_tpl, lists, ih->cfg.autosub, ih->cfg.autosub_count, out);
	if(rc) return rc;
	if(!acl_rules_fits(*out, who)){
		acl_rules_free(*out);
		*out = NULL;
		return MOSQ_ERR_NOT_SUPPORTED;
	}
	return MOSQ_ERR_SUCCESS;
}

/*
 * Compile what the device's record implies for this connection: its ACL
 * rules and its auto-subscriptions (which are also its read grants).
 * Nothing is changed on failure; on success the outputs belong to the caller.
 */
static int conn_compile(struct iothub *ih, const struct ih_conn *c, const struct ih_device *dev,
		struct acl_rules **rules_out, struct autosub_list *subs_out)
{
	struct acl_subject who = {c->username, c->product_len, c->client_id, dev && dev->token};
	int rc;

	*rules_out = NULL;
	memset(subs_out, 0, sizeof(*subs_out));
	if(dev && dev->superuser) return MOSQ_ERR_SUCCESS; /* superusers bypass both */
	if(dev && dev->token){
		/* A token client: its acl claim, else the jwt_acl_* templates; the
		 * device templates and auto-subscriptions are for devices. */
		return acl_rules_build(rules_out, dev->token_acl ? NULL : ih->jwt_acl_tpl,
				dev->token_acl ? dev->acl : NULL, NULL, 0, &who);
	}

	rc = autosub_instantiate(subs_out, &ih->cfg, &who, dev ? &dev->tags : NULL);
	if(rc) return rc;
	rc = shared_rules(ih, dev, &who, rules_out);
	if(rc == MOSQ_ERR_NOT_SUPPORTED){
		rc = acl_rules_build(rules_out, ih->acl_tpl, (dev && ih->cfg.acl_registry) ? dev->acl : NULL,
				subs_out->names, subs_out->count, &who);
	}
	if(rc) autosub_list_free(subs_out);
	return rc;
}

/* Bind the templates' set plus the subscriptions the HTTP API added for
 * this connection, so that a refresh from the registry keeps the latter. */
static int bind_subs(struct iothub *ih, struct ih_conn *c, const struct autosub_list *subs)
{
	struct autosub_filter *all;
	const char **names;
	size_t n = subs->count + c->api_subs_count;
	int rc;

	if(c->api_subs_count == 0) return fleet_routes_bind(ih, c, subs->items, subs->names, subs->count);
	/* One block: the filters, then their names (the filter strings). The
	 * templates' filters come first: the index takes a client's identity
	 * key from its first keyed filter and interns shape sets in this order,
	 * so API filters in front would push the templates' onto the costlier
	 * generic path (autosub/autosub_index.c, bind_view). */
	all = mosquitto_malloc(n * (sizeof(*all) + sizeof(*names)));
	if(all == NULL) return MOSQ_ERR_NOMEM;
	names = (const char **)(void *)(all + n);
	if(subs->count){
		memcpy(all, subs->items, subs->count * sizeof(*all));
		memcpy(names, subs->names, subs->count * sizeof(*names));
	}
	memcpy(all + subs->count, c->api_subs, c->api_subs_count * sizeof(*all));
	for(size_t i = 0; i < c->api_subs_count; i++) names[subs->count + i] = c->api_subs[i].filter;
	rc = fleet_routes_bind(ih, c, all, names, n); /* the index and the routes copy what they keep */
	mosquitto_free(all);
	return rc;
}

int session_rebind(struct iothub *ih, struct ih_conn *c)
{
	struct acl_rules *rules = NULL;
	struct autosub_list subs;
	int rc;

	rc = conn_compile(ih, c, c->dev, &rules, &subs);
	acl_rules_free(rules); /* only the subscriptions are wanted here */
	if(rc) return rc;
	rc = bind_subs(ih, c, &subs);
	autosub_list_free(&subs);
	return rc;
}

static int conn_new(struct iothub *ih, struct mosquitto *client, const char *username,
		struct ih_device *dev, struct ih_conn **out)
{
	struct ih_conn *c;
	const char *id = mosquitto_client_id(client);
	const char *addr = mosquitto_client_address(client);
	size_t idlen, ulen, alen, plen = 0;
	const char *borrowed;
	char *p;

	if(id == NULL) id = "";
	idlen = strlen(id) + 1;
	/* The record's copy of the username, which the connection holds a
	 * reference to, serves as its own: the rule for devices and tokens. */
	borrowed = username && dev && dev->username && strcmp(dev->username, username) == 0 ? dev->username : NULL;
	ulen = username && !borrowed ? strlen(username) + 1 : 0;
	alen = addr ? strlen(addr) + 1 : 0;
	/* One block: the entry, then its client id, username (unless borrowed)
	 * and address. A fleet holds one of these per device, and every
	 * separate block costs the allocator's header and rounding on top of
	 * the string. */
	c = ih_slab_alloc(sizeof(*c) + idlen + ulen + alen); /* zeroed; see core/slab.h */
	if(c == NULL) return MOSQ_ERR_NOMEM;
	p = (char *)(c + 1);
	c->client = client;
	c->client_id = memcpy(p, id, idlen);
	p += idlen;
	if(borrowed){
		c->username = (char *)borrowed;
	}else if(username){
		c->username = memcpy(p, username, ulen);
		c->own_username = true;
		p += ulen;
	}
	if(addr){
		memcpy(p, addr, alen); /* read back through ih_conn_address */
		c->has_address = true;
	}
	if(username && registry_username_check(username, ih->cfg.username_max_len, &plen) == NULL){
		c->product_len = (uint16_t)plen; /* at most username_max_len, itself at most 65535 */
	}
	c->dev = dev; /* the caller's reference passes to the connection */
	c->superuser = dev && dev->superuser;
	c->keepalive = (uint16_t)mosquitto_client_keepalive(client);
	c->proto_ver = (uint8_t)mosquitto_client_protocol_version(client);
	c->clean_session = mosquitto_client_clean_session(client);
	c->connected_ms = ih_wall_ms();
	c->state = IH_CONN_ONLINE;
	c->conn_seq = ih_conn_seq_next();
	*out = c;
	return MOSQ_ERR_SUCCESS;
}

/*
 * Resuming a session: the broker moves the old session's subscriptions to
 * the new context during the connect, after our BASIC_AUTH; an MQTT 5
 * session without expiry (or one past persistent_client_expiration) is
 * gone instead, subscriptions and all. The index holds the subscriptions
 * it tracked for the client id until this settles it: at the next TICK (the
 * connect has completed by then), or earlier when the client subscribes,
 * unsubscribes or leaves.
 */
struct ih_session_check {
	struct ih_session_check *next;
	struct mosquitto *client;
	uint64_t conn_seq;
};

static void session_check_add(struct iothub *ih, struct ih_conn *c)
{
	struct ih_session_check *k = mosquitto_calloc(1, sizeof(*k));

	if(k == NULL){
		/* Settle it now: the subscriptions may not have moved yet, so
		 * this may forget them (duplicates, never a loss). */
		c->session_check = true;
		session_check_resolve(ih, c);
		return;
	}
	k->client = c->client;
	k->conn_seq = c->conn_seq;
	k->next = ih->session_checks;
	ih->session_checks = k; /* the list owns k */
	c->session_check = true;
}

void session_check_resolve(struct iothub *ih, struct ih_conn *c)
{
	if(!c->session_check || c->state != IH_CONN_ONLINE) return;
	c->session_check = false;
	autosub_index_confirm_subscriptions(ih->autosub, c->client_id, mosquitto_client_sub_count(c->client) > 0);
}

void session_checks_run(struct iothub *ih)
{
	struct ih_session_check *list = ih->session_checks;

	ih->session_checks = NULL;
	while(list){
		struct ih_session_check *k = list;
		/* By pointer only: an ONLINE entry's context is alive (the broker
		 * reports every disconnect), anything else is not touched. */
		struct ih_conn *c = conn_table_find_raw(ih->conns, k->client);

		list = k->next;
		if(c && c->state == IH_CONN_ONLINE && c->conn_seq == k->conn_seq) session_check_resolve(ih, c);
		mosquitto_free(k);
	}
}

void session_checks_free(struct iothub *ih)
{
	while(ih->session_checks){
		struct ih_session_check *k = ih->session_checks;
		ih->session_checks = k->next;
		mosquitto_free(k);
	}
}

/*
 * A previous connection with the same client id is being replaced. If it is
 * live, its client.disconnected goes out now, before the new connection's
 * client.connected, so a consumer that applies events in arrival order ends
 * with "online". If it is an offline session, the new connection inherits
 * it and the old entry has no further use; its index entry (and the
 * session's tracked subscriptions) passed to the new connection at bind.
 */
static void retire_predecessor(struct iothub *ih, struct ih_conn *old)
{
	if(old->state == IH_CONN_ONLINE){
		old->session_check = false; /* the session is the new connection's now */
		emit_gone(ih, old, "takeover");
		return; /* the broker's DISCONNECT for it frees the entry */
	}
	conn_table_remove(ih->conns, old);
	session_free_conn(old, ih);
}

int session_accept(struct iothub *ih, struct mosquitto *client, const char *username, const char *password)
{
	struct ih_device *dev = NULL;
	struct ih_conn *c = NULL, *old, *stale = NULL;
	struct autosub_list subs = {0};
	const char *id = mosquitto_client_id(client);
	int rc;

	/* Mosquitto protects older plugins from wildcard client ids; v5 plugins
	 * get no such help, and such an id has no legitimate use. */
	if(id == NULL || strpbrk(id, "+#")){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: refusing client \"%s\" from %s: client id contains an MQTT wildcard",
				id ? id : "(null)", mosquitto_client_address(client) ? mosquitto_client_address(client) : "?");
		return MOSQ_ERR_AUTH;
	}
	rc = auth_check(ih->auth, id, mosquitto_client_address(client), username, password, &dev);
	if(rc != MOSQ_ERR_SUCCESS) return rc;

	rc = conn_new(ih, client, username, dev, &c);
	if(rc){
		registry_device_unref(dev);
		goto refuse;
	}
	rc = conn_compile(ih, c, dev, &c->rules, &subs);
	if(rc) goto refuse;
	/* c->acl_cache stays NULL until the first ACL check (authorize.c): an
	 * idle device, or a superuser, never pays for one. */

	/* Found before the new entry takes over the client id; an entry at the
	 * same address is stale and conn_table_add replaces it. */
	old = conn_table_find_client_id(ih->conns, c->client_id);
	if(old && old->client == client) old = NULL;

	rc = conn_table_add(ih->conns, c, &stale);
	session_retire(ih, stale); /* a context the broker freed: its address was reused */
	if(rc) goto refuse;

	/* A clean start discards the session, and with it any subscriptions we
	 * were tracking for it; the auto-subscriptions are rebuilt either way
	 * because tags may have changed since the session was created. */
	if(c->clean_session) autosub_index_clear_subscriptions(ih->autosub, c->client_id);
	/* Cluster: a client id no connection here held may be live on another
	 * node; ask it to let go before this node claims the id's route. */
	if(ih->cluster && old == NULL){
		char conn_id[IH_CONN_ID_LEN];

		ih_conn_id_format(c->conn_seq, conn_id);
		c->connected_pending = cluster_takeover_begin(ih->cluster, c->client_id, conn_id);
	}
	rc = bind_subs(ih, c, &subs);
	autosub_list_free(&subs);
	if(rc){
		conn_table_remove(ih->conns, c);
		goto refuse;
	}
	/* Only now that the new connection is certain to be accepted. */
	if(old) retire_predecessor(ih, old);
	if(!c->clean_session && autosub_index_hold_subscriptions(ih->autosub, c->client_id)) session_check_add(ih, c);
	if(dev && dev->token_expires_s && (ih->token_next_expiry == 0 || dev->token_expires_s < ih->token_next_expiry)){
		ih->token_next_expiry = dev->token_expires_s;
	}
	if(!c->connected_pending) emit_connected(ih, c);
	return MOSQ_ERR_SUCCESS;

refuse:
	/* Out of memory while building a connection: refusing it is the only
	 * answer that keeps every later ACL decision well-defined. */
	mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: refusing client %s: out of memory while setting up the connection",
			id ? id : "(null)");
	autosub_list_free(&subs);
	session_free_conn(c, ih);
	return MOSQ_ERR_AUTH;
}

void session_close(struct iothub *ih, struct mosquitto *client)
{
	struct ih_conn *c = conn_table_find_raw(ih->conns, client);

	if(c == NULL) return; /* failed auth, or a client we never accepted */
	session_check_resolve(ih, c);

	if(c->state == IH_CONN_ONLINE){
		/* Gone before another node released it: consumers still see the
		 * connect before the disconnect. */
		emit_gone(ih, c, c->kick_reason ? c->kick_reason : "closed");
		/* Taken over by a newer connection with this client id: that one
		 * carries the session on, and this entry has no further use. */
		bool taken_over = conn_table_find_client_id(ih->conns, c->client_id) != c;
		if(!c->clean_session && !c->suspended && !taken_over && !c->moved){
			/* The broker keeps the session: keep the rules that decide what
			 * it may queue, and the auto-subscriptions that feed it. */
			conn_table_set_offline(ih->conns, c);
			return;
		}
	}
	/* Clean session ended, a live session taken over, or an offline
	 * session resumed/taken over. */
	fleet_routes_release(ih, c);
	conn_table_remove(ih->conns, c);
	session_free_conn(c, ih);
}

static void report_gone(struct ih_conn *c, void *ud)
{
	if(c->state == IH_CONN_ONLINE) emit_gone(ud, c, "shutdown");
}

/* The broker is stopping. Mosquitto 2.0.11 frees the contexts of clients
 * still connected without a DISCONNECT event (docs/MOSQUITTO.md §3), so
 * without this their consumers would keep them online for good. Only our
 * copies of the connection are used: the broker's contexts are already
 * gone. */
void session_shutdown(struct iothub *ih)
{
	if(ih->conns) conn_table_foreach(ih->conns, report_gone, ih);
}

/* Swap in a new record and everything compiled from it; keep the old state
 * if the new one cannot be built. */
static void conn_refresh(struct iothub *ih, struct ih_conn *c, struct ih_device *dev)
{
	struct acl_rules *rules = NULL;
	struct autosub_list subs;
	int rc;

	rc = conn_compile(ih, c, dev, &rules, &subs);
	if(rc == MOSQ_ERR_SUCCESS){
		rc = bind_subs(ih, c, &subs);
		autosub_list_free(&subs);
	}
	if(rc){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: could not refresh %s (client %s): out of memory; keeping its previous rules",
				c->username, c->client_id);
		acl_rules_free(rules);
		return;
	}
	acl_rules_free(c->rules);
	c->rules = rules;
	registry_device_ref(dev);
	if(!c->own_username){
		/* Its username is the old record's copy (conn_new), and the new
		 * record names the same device (it was looked up by that name):
		 * move to the new copy, in the username view too, before the old
		 * one may go. */
		c->username = dev->username;
		conn_table_move_username(ih->conns, c);
	}
	registry_device_unref(c->dev);
	c->dev = dev;
	c->superuser = dev->superuser;
	acl_cache_clear(c->acl_cache);
	ih->n.refreshes++;
}

void session_device_changed(void *userdata, const char *username, struct ih_device *dev)
{
	struct iothub *ih = userdata;
	struct ih_conn *c;
	bool kick = false;
	const char *reason = NULL;

	for(c = conn_table_by_username(ih->conns, username); c; c = c->next_by_user){
		/* A token client that shares a device's name is not that device. */
		if(c->dev && c->dev->token) continue;
		/* A connection that borrows its username from its record moves to
		 * the new record's copy (conn_refresh), which auth guarantees is
		 * the same name (auth.c decode_or_log); should it ever not be,
		 * the connection keeps its old record rather than a dangling name. */
		if(dev && !c->own_username && (dev->username == NULL || strcmp(dev->username, c->username) != 0)) continue;
		if(dev == NULL || !dev->active){
			/* Deleted or suspended: no more access from now on, even for
			 * what the broker has queued for an offline session. */
			c->suspended = true;
			reason = dev == NULL ? "deleted" : "suspended";
			if(c->state == IH_CONN_ONLINE){
				c->kick_reason = reason;
				kick = true;
			}
			acl_cache_clear(c->acl_cache);
			continue;
		}
		c->suspended = false;
		conn_refresh(ih, c, dev);
	}
	if(kick){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: device %s is %s: disconnecting its connections", username, reason);
		kick_queue(ih, username, true, reason);
	}
}

struct expiry_walk {
	struct iothub *ih;
	int64_t now;
	int64_t next;
};

static void expire_one(struct ih_conn *c, void *ud)
{
	struct expiry_walk *w = ud;
	int64_t at = c->dev && c->dev->token ? c->dev->token_expires_s : 0;

	if(at == 0 || c->state != IH_CONN_ONLINE || c->kick_reason) return;
	if(at > w->now){
		if(w->next == 0 || at < w->next) w->next = at;
		return;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: token of client %s (username %s) expired: disconnecting it",
			c->client_id, c->username ? c->username : "(none)");
	c->kick_reason = "token_expired";
	kick_queue(w->ih, c->client_id, false, "token_expired");
}

/* Walks the table only when the earliest known expiry has come, so an
 * idle tick costs one comparison. */
void session_expire_tokens(struct iothub *ih, int64_t now_s)
{
	struct expiry_walk w = {ih, now_s, 0};

	if(!ih->cfg.jwt_disconnect_on_expiry || ih->token_next_expiry == 0 || now_s < ih->token_next_expiry) return;
	conn_table_foreach(ih->conns, expire_one, &w);
	ih->token_next_expiry = w.next;
}
