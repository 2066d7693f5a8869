/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * MOSQ_EVT_TICK: work that must run on the broker thread but outside any
 * client's callback. Kicks re-enter our DISCONNECT callback, so they are
 * queued by whoever decides them and performed here, from a detached list.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "events/events.h"
#include "core/clock.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"

void tick_queue_kick(struct iothub *ih, const char *name, bool by_username, const char *reason)
{
	struct ih_kick *k;

	for(k = ih->kicks; k; k = k->next){
		if(k->by_username == by_username && !strcmp(k->name, name)) return;
	}
	k = mosquitto_calloc(1, sizeof(*k));
	if(k == NULL) return;
	k->name = mosquitto_strdup(name);
	if(k->name == NULL){
		mosquitto_free(k);
		return;
	}
	k->by_username = by_username;
	k->reason = reason;
	k->next = ih->kicks;
	ih->kicks = k; /* ownership passes to the queue */
}

void tick_free_kicks(struct iothub *ih)
{
	while(ih->kicks){
		struct ih_kick *k = ih->kicks;
		ih->kicks = k->next;
		mosquitto_free(k->name);
		mosquitto_free(k);
	}
}

static void run_kicks(struct iothub *ih)
{
	struct ih_kick *list = ih->kicks;

	ih->kicks = NULL;
	while(list){
		struct ih_kick *k = list;

		list = k->next;
		if(k->by_username){
			for(struct ih_conn *c = conn_table_by_username(ih->conns, k->name); c; c = c->next_by_user){
				if(c->kick_reason == NULL) c->kick_reason = k->reason;
			}
			mosquitto_kick_client_by_username(k->name, false);
		}else{
			/* The newest entry is the live one; an older entry with this
			 * id is an offline session the broker will not kick. */
			struct ih_conn *c = conn_table_find_client_id(ih->conns, k->name);
			if(c && c->state == IH_CONN_ONLINE && c->kick_reason == NULL) c->kick_reason = k->reason;
			mosquitto_kick_client_by_clientid(k->name, false);
		}
		ih->n.kicks++;
		mosquitto_free(k->name);
		mosquitto_free(k);
	}
}

struct name_batch {
	struct iothub *ih;
	const char **names;
	size_t count;
	size_t cap;
};

static void collect_username(const char *username, void *ud)
{
	struct name_batch *b = ud;

	if(b->count == b->cap) return;
	b->names[b->count++] = username;
}

/* The fallback for registry changes nobody announced on the control
 * channel: every connected device is re-read, in batches, each period. */
static void run_revalidation(struct iothub *ih, time_t now)
{
	struct name_batch b = {ih, NULL, 0, 0};

	if(ih->cfg.revalidate_interval_s == 0 || now < ih->next_revalidate) return;
	ih->next_revalidate = now + ih->cfg.revalidate_interval_s;
	b.cap = conn_table_usernames(ih->conns);
	if(b.cap == 0) return;
	b.names = mosquitto_malloc(b.cap * sizeof(*b.names));
	if(b.names == NULL) return;
	conn_table_foreach_username(ih->conns, collect_username, &b);
	auth_revalidate(ih->auth, b.names, b.count);
	mosquitto_free(b.names);
}

static void run_stats(struct iothub *ih, time_t now)
{
	if(ih->cfg.stats_interval_s == 0 || now < ih->next_stats) return;
	ih->next_stats = now + ih->cfg.stats_interval_s;
	mosquitto_log_printf(MOSQ_LOG_INFO,
			"iothub: %zu online, %zu devices; acl %llu checks, %llu cache hits, %llu denied; autosub %llu delivered",
			conn_table_online(ih->conns), conn_table_usernames(ih->conns),
			(unsigned long long)ih->n.acl_checks, (unsigned long long)ih->n.acl_cache_hits,
			(unsigned long long)ih->n.acl_denied, (unsigned long long)ih->n.autosub_delivered);
	stats_write_file(ih);
}

/* A re-read arrived: refresh the connections, then release any control
 * answer that was waiting for it. */
static void device_changed(void *ud, const char *username, struct ih_device *dev)
{
	struct iothub *ih = ud;

	session_device_changed(ih, username, dev);
	control_device_applied(ih, username);
}

void tick_run(struct iothub *ih)
{
	time_t now = ih_mono_s();

	/* First: an API request woke this tick, and its kicks run below. */
	api_glue_tick(ih);
	auth_tick(ih->auth, device_changed, ih);
	session_checks_run(ih);
	control_tick(ih);
	run_kicks(ih);
	run_revalidation(ih, now);
	if(ih->events) events_tick(ih->events, now);
	run_stats(ih, now);
}
