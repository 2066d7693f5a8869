/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Registry lookups on the broker thread, behind a circuit breaker.
 *
 * BASIC_AUTH must answer synchronously, so a cache miss asks the registry
 * from the broker thread: one round trip per username, bounded by
 * mongo_timeout. That is the only network I/O the plugin does there.
 *
 * Circuit breaker: the first error marks the registry down and logs one
 * line (the error, and what devices get meanwhile). While down, lookups
 * return UNAVAILABLE at once, with no network I/O, so an outage costs the
 * broker loop one timeout, not one per connecting client. The worker
 * probes the registry every mongo_probe_interval (a ping plus the real
 * query for a name that cannot exist, answered within mongo_timeout, so a
 * reachable but broken or too slow registry stays down instead of
 * flapping); the first probe that started after the outage began and
 * succeeded brings it back up (auth.c tells which probe qualifies): the
 * broker-thread client is recreated (a fresh topology, so it does not sit
 * out libmongoc's 5 s reconnect cool-down) and one line logs the outage's
 * length and the connects refused meanwhile.
 */
#ifndef IH_REGISTRY_REGISTRY_H
#define IH_REGISTRY_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>

#include "registry/source.h"
#include "core/config.h"

enum registry_result {
	AUTH_REGISTRY_FOUND = 0,
	AUTH_REGISTRY_NOT_FOUND = 1,
	AUTH_REGISTRY_UNAVAILABLE = 2,
};

struct registry;

/* Called when the registry goes down, so the worker starts probing. */
typedef void (*registry_down_fn)(void *ud);

int registry_init(struct registry **out, const struct ih_config *cfg,
		const struct auth_source_factory *factory, int64_t (*now_ms)(void),
		registry_down_fn on_down, void *ud);
void registry_cleanup(struct registry *r);

/* FOUND: *doc is a new document (libbson heap; bson_destroy it). */
enum registry_result registry_lookup(struct registry *r, const char *username, bson_t **doc);

/* A document of one of the extra usernames, valid during the call only. */
typedef void (*registry_extra_fn)(void *ud, const bson_t *doc);
/* registry_lookup that fetches extra[0..n_extra) in the same query ($in,
 * one round trip) and hands their documents to fn; the result is the
 * username's alone. Extras missing from the registry are not reported. */
enum registry_result registry_lookup_with(struct registry *r, const char *username, const char *const *extra,
		size_t n_extra, registry_extra_fn fn, void *ud, bson_t **doc);

/* The registry failed (here or on the worker). Logs and notifies only on
 * the transition from up. */
void registry_mark_down(struct registry *r, const char *why);
/* A probe that started after the outage began succeeded (the caller tells
 * which, see registry_worker_probe): recreate the client and mark it up.
 * -1 when the client cannot be recreated (stays down, on_down again). */
int registry_mark_up(struct registry *r);

bool registry_is_up(const struct registry *r);
/* A connect refused because of the outage, for the recovery line. */
void registry_count_refusal(struct registry *r);
void registry_counters(const struct registry *r, uint64_t *queries, uint64_t *errors);

#endif
