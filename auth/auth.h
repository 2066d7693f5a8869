/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Device authentication: the module behind MOSQ_EVT_BASIC_AUTH.
 *
 * Every function here runs on the broker thread (the broker has no other).
 * Internally a worker thread of ours refetches records and probes the
 * registry; it never calls the broker, and everything it produces is
 * picked up by auth_tick() (and health by auth_check()).
 *
 * Call order for the glue:
 *   init:    auth_init() after the config is parsed, before registering
 *            BASIC_AUTH / TICK callbacks;
 *   run:     auth_check() from BASIC_AUTH, auth_tick() from TICK (TICK
 *            never fires with per_listener_settings true: then call
 *            auth_tick() from another broker-thread callback, or refetch
 *            results and change reports stall; auth_check() still picks
 *            up the registry's recovery by itself);
 *   cleanup: unregister the callbacks, release every ih_device reference
 *            you hold (or after: records are independent of the module),
 *            then auth_cleanup().
 *
 * Policies. README.md, section "Authentication", is their one home (order
 * of the checks, throttling, caching, registry outage, status), and
 * core/config.c's table holds their defaults. What this module must keep
 * true for them:
 *  - no presented password is ever stored, only its keyed digest
 *    (pwdigest.h), and a re-read record whose fingerprint differs drops
 *    the digest (auth_cache_put);
 *  - a suspended device is cached like an unknown one (remember() in
 *    auth.c), so resuming it applies as soon as registering one does;
 *  - while the registry is down, auth_check does no network I/O
 *    (registry.h) and admits only through the outage rule (outage() in
 *    auth.c), which needs a digest verified in this process;
 *  - a malformed username is refused before any registry query or hashing;
 *  - a credential in the form of a JWT, when JWT is configured, is verified
 *    as a token before anything else (auth/jwt.h), and yields a token
 *    record (dev->token): the registry, the cache and the outage rule are
 *    not involved; refusals count for the throttle like wrong passwords.
 */
#ifndef IH_AUTH_AUTH_H
#define IH_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/device.h"
#include "core/config.h"

struct auth;

/* mongoc_init, clients, worker thread. cfg must outlive the module.
 * MOSQ_ERR_SUCCESS, MOSQ_ERR_INVAL (logged; e.g. an unparsable mongo_uri)
 * or MOSQ_ERR_NOMEM / MOSQ_ERR_UNKNOWN. No network I/O. */
int auth_init(struct auth **out, const struct ih_config *cfg);
/* Mirrors init; joins the worker within about 6 x mongo_timeout + 1 s.
 * NULL is fine. */
void auth_cleanup(struct auth *a);

/*
 * MOSQ_EVT_BASIC_AUTH. Returns MOSQ_ERR_SUCCESS (then *dev is a NEW
 * reference the caller owns, NULL for an allowed anonymous client) or
 * MOSQ_ERR_AUTH. Blocks at most about one registry query (mongo_timeout;
 * see source_mongo.h), and not at all while the registry is down. Logs
 * every refusal with its reason, one line, never a secret.
 * client_id and address are only used for log lines and throttling.
 */
int auth_check(struct auth *a, const char *client_id, const char *address, const char *username,
		const char *password, struct ih_device **dev);

/*
 * MOSQ_EVT_TICK: log what the worker queued, apply its refetch results to
 * the cache, and for each username whose record changed (fingerprint
 * differs from the cached one, or nothing was cached to compare with),
 * was deleted or became unusable (dev NULL), or was explicitly invalidated,
 * call cb(ud, username, dev). username and dev are borrowed for the call
 * (registry_device_ref to keep dev). Results are applied for at most about
 * 5 ms per call (a few microseconds each).
 */
typedef void (*auth_change_cb)(void *ud, const char *username, struct ih_device *dev);
void auth_tick(struct auth *a, auth_change_cb cb, void *ud);

/* Drop the cache entry now (the next connect asks the registry) and queue
 * a refetch whose result is always reported through the tick callback. */
void auth_invalidate(struct auth *a, const char *username);

/* Queue refetches, sent as $in queries of revalidate_batch usernames;
 * changes are reported through the tick callback. Malformed usernames are
 * ignored. MOSQ_ERR_SUCCESS, or MOSQ_ERR_NOMEM when the queue
 * (auth_refetch_queue_max) was full and some were dropped (logged). */
int auth_revalidate(struct auth *a, const char *const *usernames, size_t n);

/*
 * Start-up preload: the worker fetches the records of usernames[0..n)
 * (at most auth_preload_max of them) in $in batches, or with all the
 * whole registry when it holds at most auth_preload_max devices, and
 * auth_tick() puts them in the cache, so that a device reconnecting after
 * a restart needs no registry round trip on the broker thread. A device
 * whose record has not arrived yet is looked up as usual, and that query
 * also fetches up to 64 of the usernames the worker has not reached yet
 * (the end of its queue), so a storm that outruns the worker costs one
 * broker-thread round trip per 65 devices, not one each. Preloaded
 * records stay usable for min(auth_cache_ttl, revalidate_interval);
 * usernames the registry does not know are not cached. One log line when
 * done, with the count and the time taken. Call once, after auth_init.
 */
int auth_preload(struct auth *a, const char *const *usernames, size_t n, bool all);

bool auth_registry_up(const struct auth *a);

struct auth_stats {
	uint64_t accepted;
	uint64_t refused;
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t registry_queries;   /* broker-thread lookups + worker batches */
	uint64_t registry_errors;
	uint64_t throttled;          /* refused by the throttle (included in refused) */
	uint64_t outage_admits;      /* admitted under the outage rule (included in accepted) */
	uint64_t preloaded;          /* records the start-up preload put in the cache */
	uint64_t preload_folded;     /* of those, fetched along with a connecting device (auth.c) */
	uint64_t jwt_accepted;       /* admitted by a token (included in accepted) */
	uint64_t jwt_refused;        /* refused token (included in refused) */
	uint32_t cache_entries;
	bool registry_up;
};
void auth_get_stats(const struct auth *a, struct auth_stats *out);

#endif
