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
 * Policies (README.md copies these):
 *
 * Caching. A successful registry answer is used for auth_cache_ttl
 * (default 60 s) without asking again; "no such device" for
 * auth_cache_negative_ttl (5 s). At most auth_cache_max usernames are
 * cached, least recently used evicted first. The cache never holds a
 * presented password, only an HMAC-SHA256 of the last password that
 * verified against the record, under a random per-process key: a warm
 * connect costs one HMAC instead of a PBKDF2. A refreshed record whose
 * fingerprint differs (new secret, status, ACL, tags...) drops that
 * digest, so a changed secret or status applies at the latest when the
 * TTL runs out, and at once after auth_invalidate() or a revalidation.
 * auth_cache_ttl 0 asks the registry on every connect (the record is still
 * kept for the outage rule below).
 *
 * Registry outage. When the registry cannot be reached or fails a query,
 * it is marked down (one log line) and BASIC_AUTH stops waiting on it:
 * a device is admitted only if its cached record (even with the TTL run
 * out) was fetched within the last auth_outage_grace (default 1 h), says
 * the device is active, and the presented password matches the digest of
 * the password last verified against that record in this broker process.
 * Everybody else is refused at once (including devices never seen since
 * the broker started). The worker probes the registry every
 * mongo_probe_interval and the first success ends the outage (one log
 * line, with its length and the connects refused). auth_outage_grace 0
 * refuses everybody during an outage.
 *
 * Status. A device document without a status field is active (IotHub
 * servers before suspend/resume never wrote one); status equal to
 * status_active (default "active") is active; any other value refuses the
 * device ("suspended").
 *
 * Tokens. With jwt_secret or jwt_public_key set, a credential in the form
 * of a JWT (auth/jwt.h) is verified as a token before anything else, and
 * the record returned is a token record (dev->token): the registry, the
 * cache and the outage rule are not involved. Refusals count for the
 * throttle like wrong passwords.
 *
 * Throttling. See auth/throttle.h: auth_fail_max failures (wrong password,
 * unknown device, malformed username, missing password) per username or
 * per address within auth_fail_window block that username or address for
 * auth_fail_block, without registry queries or hash work.
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
 * (registry_device_ref to keep dev). A bounded number of results per call.
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
	uint64_t jwt_accepted;       /* admitted by a token (included in accepted) */
	uint64_t jwt_refused;        /* refused token (included in refused) */
	uint32_t cache_entries;
	bool registry_up;
};
void auth_get_stats(const struct auth *a, struct auth_stats *out);

#endif
