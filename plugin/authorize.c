/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * MOSQ_EVT_ACL_CHECK: the hot path. The broker calls it for every publish,
 * every subscribe and once per subscriber for every delivered message
 * (docs/MOSQUITTO.md §1), so a cache hit does a pointer lookup, a clock
 * read and a cache probe, and nothing else: no allocation, no string
 * building, no logging.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/acl_cache.h"
#include "acl/rules.h"
#include "acl/topic.h"
#include "autosub/autosub_index.h"
#include "core/clock.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"
#include "plugin/kick.h"

#define DENY_LOG_BURST 100

static int deny(struct iothub *ih, struct ih_conn *c, int access, const char *topic)
{
	uint32_t now;

	ih->n.acl_denied++;
	if(access == MOSQ_ACL_READ) return MOSQ_ERR_ACL_DENIED;
	/* A refused publish or subscribe is worth a line: it is either a bug in
	 * the device or an attack, and the operator wants to see both. A looping
	 * device must not flood the log, though: DENY_LOG_BURST lines per
	 * connection per minute, then one line saying how many went unlogged. */
	now = (uint32_t)ih_mono_s(); /* the window's arithmetic is modulo 2^32 */
	if(now - c->deny_window_at >= 60){
		if(c->deny_in_window > DENY_LOG_BURST){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %u more denials of client %s were not logged",
					c->deny_in_window - DENY_LOG_BURST, c->client_id);
		}
		c->deny_window_at = now;
		c->deny_in_window = 0;
	}
	if(++c->deny_in_window <= DENY_LOG_BURST){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: denied %s of \"%s\" to %s (client %s)",
				access == MOSQ_ACL_WRITE ? "publish" : "subscribe", topic,
				c->username ? c->username : "(anonymous)", c->client_id);
	}
	if(ih->cfg.acl_deny_action == IH_DENY_DISCONNECT && c->state == IH_CONN_ONLINE && c->kick_reason == NULL){
		c->kick_reason = "acl_denied";
		kick_queue(ih, c->client_id, false, "acl_denied");
	}
	return MOSQ_ERR_ACL_DENIED;
}

/* `$SYS/...`, `$CONTROL/...`: only a literal rule opens them, never
 * acl_nomatch allow (a device could otherwise read the broker's $SYS tree
 * or talk to another plugin's $CONTROL topic). Misses only: no hot path. */
static bool dollar_topic(int access, const char *topic)
{
	if(access == MOSQ_ACL_SUBSCRIBE) topic = acl_share_strip(topic);
	return topic == NULL || topic[0] == '$';
}

/* The decision for an accepted, non-superuser connection: cache first,
 * then the compiled rules, then acl_nomatch. */
int authorize_decide(struct iothub *ih, struct ih_conn *c, int access, const char *topic)
{
	struct acl_cache_key key;
	uint32_t now = (uint32_t)ih_mono_s();
	enum acl_decision d;

	/* Created by the first check (most devices of a large fleet sit idle);
	 * without memory this check simply goes uncached, and the next retries. */
	if(c->acl_cache == NULL && ih->cfg.acl_cache_max_size > 0 && ih->cfg.acl_cache_ttl_s > 0){
		acl_cache_new(&c->acl_cache, ih->cfg.acl_cache_max_size, ih->cfg.acl_cache_ttl_s);
	}
	if(acl_cache_lookup(c->acl_cache, access, topic, now, &key, &d)){
		ih->n.acl_cache_hits++;
		return d;
	}
	/* The values a shared template-form block compares in place. */
	d = acl_rules_check(c->rules, &(struct acl_subject){c->username, c->product_len, c->client_id, false},
			access, topic);
	if(d == ACL_NOMATCH){
		d = ih->cfg.acl_nomatch == IH_NOMATCH_ALLOW && !dollar_topic(access, topic) ? ACL_ALLOW : ACL_DENY;
	}
	acl_cache_store(c->acl_cache, &key, access, topic, d, now);
	return d;
}

int authorize_check(struct iothub *ih, struct mosquitto *client, int access, const char *topic)
{
	struct ih_conn *c = conn_table_find(ih->conns, client);
	int d;

	ih->n.acl_checks++;
	if(c == NULL){
		/* Not authenticated by us (TLS identity, extended auth, ...). */
		ih->n.acl_deferred++;
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if(c->suspended) return deny(ih, c, access, topic);
	if(c->superuser) return MOSQ_ERR_SUCCESS;
	/* Before the broker adds or removes one: its count still tells
	 * whether a resumed session brought subscriptions along. */
	if(c->session_check && access != MOSQ_ACL_READ && access != MOSQ_ACL_WRITE) session_check_resolve(ih, c);
	if(access == MOSQ_ACL_UNSUBSCRIBE){
		autosub_index_note_unsubscribe(ih->autosub, c->client_id, topic);
		return MOSQ_ERR_SUCCESS;
	}

	d = authorize_decide(ih, c, access, topic);
	if(d != ACL_ALLOW) return deny(ih, c, access, topic);
	if(access == MOSQ_ACL_SUBSCRIBE){
		/* So that a message both auto-subscribed and subscribed reaches the
		 * device once: the auto-subscription steps aside. */
		autosub_index_note_subscribe(ih->autosub, c->client_id, topic);
	}
	return MOSQ_ERR_SUCCESS;
}
