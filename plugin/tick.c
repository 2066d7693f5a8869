/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * MOSQ_EVT_TICK: work that must run on the broker thread but outside any
 * client's callback: registry re-reads, resumed-session checks, held
 * control answers, queued kicks (plugin/kick.h), revalidation, events and
 * stats. Tick only calls down into those modules; none of them calls tick.
 */

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "cluster/cluster.h"
#include "events/events.h"
#include "core/clock.h"
#include "core/wake.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"
#include "plugin/kick.h"
#include "plugin/tick.h"

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

	/* Before any queue is taken: what our threads queue from now on wakes
	 * the broker again (core/wake.h). */
	ih_wake_tick();
	/* First: an API request woke this tick, and its kicks run below. */
	api_glue_tick(ih);
	auth_tick(ih->auth, device_changed, ih);
	session_checks_run(ih);
	control_tick(ih);
	session_expire_tokens(ih, ih_wall_ms() / 1000);
	if(ih->cluster) cluster_tick(ih->cluster);   /* before the kicks: takeovers queue some */
	kick_run(ih);
	run_revalidation(ih, now);
	if(ih->events) events_tick(ih->events, now);
	run_stats(ih, now);
	preload_tick(ih, now);
}
