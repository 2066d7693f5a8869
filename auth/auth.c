/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * BASIC_AUTH flow, change reporting and module lifecycle (policies in
 * auth.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "auth/auth_cache.h"
#include "auth/auth_internal.h"
#include "auth/jwt.h"
#include "registry/mongo_lib.h"
#include "auth/pwdigest.h"
#include "registry/registry.h"
#include "registry/helper.h"
#include "auth/secret.h"
#include "registry/source_mongo.h"
#include "auth/throttle.h"
#include "registry/username.h"
#include "core/clock.h"

/* Worker results are taken TICK_RESULTS_MAX at a time, for at most
 * TICK_BUDGET_MS per tick: decoding costs a few microseconds per record,
 * and an idle broker ticks only about every 100 ms, so a fixed count per
 * tick (256 once) made a 10,000-device preload take 4 s. */
#define TICK_RESULTS_MAX 256
#define TICK_BUDGET_MS 5

/* A cache miss while the preload is still queued fetches this many of the
 * usernames the worker has not reached yet along with the device (one $in,
 * one round trip): during a restart storm, every device the preload has not
 * reached is a miss like this one, and each would otherwise cost the broker
 * loop a round trip of its own. 64 records add a fraction of a round trip
 * to a real MongoDB's answer (a few microseconds each to decode here). */
#define PRELOAD_FOLD_MAX 64

/* Client-supplied strings are cut to this and stripped of control bytes
 * before they reach a log line. */
#define LOG_NAME_MAX 160

struct auth {
	const struct ih_config *cfg;
	bool lib_acquired;
	struct registry_mongo *mongo;          /* NULL when a test injects the source */
	struct auth_source_factory factory;
	int64_t (*now_ms)(void);
	struct auth_cache *cache;
	struct auth_throttle *throttle;
	struct auth_jwt *jwt;                 /* NULL: JWT authentication off */
	struct registry *registry;
	struct registry_helper *worker;
	uint64_t seen_err_seq;
	uint64_t down_ticket;              /* recovery needs a successful probe after this */
	/* start-up preload (auth_preload) */
	bool preload_active;               /* asked for, completion not logged yet */
	int64_t preload_started_ms;
	uint64_t preload_applied;          /* preload results taken from the worker */
	uint64_t preload_missing;          /* of those, usernames the registry does not know */
	struct auth_stats st;              /* counters kept here; the rest filled on read */
};

/* Live instances, for the process-wide digest key (broker thread only). */
static int instances;

/* ------------------------------------------------------------------ */
/* lifecycle                                                            */

static void on_registry_down(void *ud)
{
	struct auth *a = ud;

	if(a->worker) a->down_ticket = registry_helper_probe(a->worker);
}

int auth_init_with(struct auth **out, const struct ih_config *cfg, const struct auth_deps *deps)
{
	struct auth *a;
	char err[512];
	int rc = MOSQ_ERR_NOMEM;

	a = mosquitto_calloc(1, sizeof(*a));
	if(a == NULL) return MOSQ_ERR_NOMEM;
	instances++;
	a->cfg = cfg;
	a->now_ms = deps && deps->now_ms ? deps->now_ms : ih_mono_ms;

	if(registry_mongo_lib_acquire()) goto fail;
	a->lib_acquired = true;
	if(deps && deps->factory.create){
		a->factory = deps->factory;
	}else{
		if(registry_mongo_init(&a->mongo, cfg, err, sizeof(err))){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: %s", err);
			rc = MOSQ_ERR_INVAL;
			goto fail;
		}
		a->factory.create = registry_mongo_source_create;
		a->factory.ctx = a->mongo;
	}
	if(auth_cache_init(&a->cache, cfg->auth_cache_max)) goto fail;
	if(auth_throttle_init(&a->throttle, cfg)) goto fail;
	rc = auth_jwt_init(&a->jwt, cfg);
	if(rc) goto fail;
	rc = MOSQ_ERR_UNKNOWN;
	if(registry_init(&a->registry, cfg, &a->factory, a->now_ms, on_registry_down, a)) goto fail;
	/* A caller's own source (the unit tests') may share state with the
	 * caller, which a child process would only see a copy of. */
	if(registry_helper_start(&a->worker, cfg, &a->factory, a->now_ms,
			cfg->registry_worker == IH_WORKER_PROCESS && !(deps && deps->factory.create))){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cannot start the registry worker (registry_worker %s)",
				cfg->registry_worker == IH_WORKER_PROCESS ? "process" : "thread");
		goto fail;
	}
	*out = a;
	return MOSQ_ERR_SUCCESS;
fail:
	auth_cleanup(a);
	return rc;
}

int auth_init(struct auth **out, const struct ih_config *cfg)
{
	return auth_init_with(out, cfg, NULL);
}

void auth_cleanup(struct auth *a)
{
	bool joined;

	if(a == NULL) return;
	joined = registry_helper_stop(a->worker);
	registry_cleanup(a->registry);
	auth_jwt_cleanup(a->jwt);
	auth_throttle_cleanup(a->throttle);
	auth_cache_cleanup(a->cache);
	/* A worker still stuck in the driver uses the source context and
	 * libmongoc: leave both alive rather than pull them from under it. */
	if(joined){
		registry_mongo_cleanup(a->mongo);
		if(a->lib_acquired) registry_mongo_lib_release();
	}
	if(--instances == 0) auth_pwdigest_cleanup();
	mosquitto_free(a);
}

/* ------------------------------------------------------------------ */
/* helpers                                                              */

static const char *log_name(const char *s, char buf[LOG_NAME_MAX])
{
	size_t i;

	if(s == NULL) return "(none)";
	for(i = 0; s[i] && i < LOG_NAME_MAX - 1; i++){
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}

static int refuse(struct auth *a, int level, const char *client_id, const char *address, const char *username,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int refuse(struct auth *a, int level, const char *client_id, const char *address, const char *username,
		const char *fmt, ...)
{
	char why[512], b1[LOG_NAME_MAX], b2[LOG_NAME_MAX], b3[LOG_NAME_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	a->st.refused++;
	mosquitto_log_printf(level, "iothub: refused client \"%s\" (username \"%s\") from %s: %s",
			log_name(client_id, b1), log_name(username, b2), log_name(address, b3), why);
	return MOSQ_ERR_AUTH;
}

static int admit(struct auth *a, const char *username, struct ih_device *dev, struct ih_device **out)
{
	auth_throttle_success(a->throttle, username);
	registry_device_ref(dev);
	*out = dev; /* the new reference belongs to the caller */
	a->st.accepted++;
	return MOSQ_ERR_SUCCESS;
}

/* Pick up the worker's view of the registry: failures it saw, and the
 * probe that ends an outage. Cheap (one mutex), so every connect does it. */
static void poll_health(struct auth *a)
{
	struct registry_worker_health h;

	registry_helper_health(a->worker, &h);
	if(h.err_seq != a->seen_err_seq){
		a->seen_err_seq = h.err_seq;
		registry_mark_down(a->registry, h.err);
	}
	if(!registry_is_up(a->registry) && h.last_ok_probe > a->down_ticket){
		registry_mark_up(a->registry);
	}
}

/* Store the registry's answer; returns the entry (NULL when not cached). */
static struct auth_cache_entry *remember(struct auth *a, const char *username, struct ih_device *dev, int64_t fetched_ms)
{
	const struct ih_config *cfg = a->cfg;

	/* A suspended device is a refusal like an unknown one: resuming it must
	 * apply as soon as registering a new device does. */
	if(dev){
		uint32_t ttl = dev->active ? cfg->auth_cache_ttl_s : cfg->auth_cache_negative_ttl_s;
		return auth_cache_put(a->cache, username, dev, fetched_ms, fetched_ms + (int64_t)ttl * 1000);
	}
	if(cfg->auth_cache_negative_ttl_s == 0){
		auth_cache_remove(a->cache, username);
		return NULL;
	}
	return auth_cache_put(a->cache, username, NULL, fetched_ms,
			fetched_ms + (int64_t)cfg->auth_cache_negative_ttl_s * 1000);
}

static struct ih_device *decode_or_log(struct auth *a, const char *username, bson_t *doc)
{
	struct ih_device *dev = NULL;
	char err[256];

	if(registry_device_decode(doc, NULL, a->cfg, &dev, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: device %s: registry record unusable: %s", username, err);
		return NULL;
	}
	if(strcmp(dev->username, username) != 0){
		/* The query matched on this very field, so only a collation or a
		 * misbehaving server gets here; never let it swap identities. */
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: device %s: registry returned the record of %s", username, dev->username);
		registry_device_unref(dev);
		return NULL;
	}
	return dev;
}

/* Verify the password against an active record, via the digest when it
 * matches, otherwise the stored hash or clear secret. */
static int verify(struct auth *a, const char *client_id, const char *address, const char *username,
		const char *password, struct ih_device *dev, struct auth_cache_entry *e, struct ih_device **out)
{
	enum auth_secret_result sr;

	if(e && auth_cache_digest_matches(e, password)) return admit(a, username, dev, out);
	if(dev->password_hash){
		sr = auth_secret_verify_hash(dev->password_hash, password);
	}else{
		sr = auth_secret_verify_clear(dev->secret, password);
	}
	if(sr == AUTH_SECRET_BAD_HASH){
		return refuse(a, MOSQ_LOG_ERR, client_id, address, username,
				"the device's %s is malformed or of an unsupported kind; fix the registry record",
				a->cfg->field.password_hash);
	}
	if(sr != AUTH_SECRET_OK){
		auth_throttle_failure(a->throttle, username, address, a->now_ms());
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, username, "wrong password");
	}
	if(e) auth_cache_digest_set(e, password);
	return admit(a, username, dev, out);
}

static int decide(struct auth *a, const char *client_id, const char *address, const char *username,
		const char *password, struct ih_device *dev, struct auth_cache_entry *e, struct ih_device **out)
{
	if(dev == NULL){
		auth_throttle_failure(a->throttle, username, address, a->now_ms());
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, username, "unknown device");
	}
	if(!dev->active){
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, username, "device suspended (status \"%s\")",
				dev->status ? dev->status : "");
	}
	return verify(a, client_id, address, username, password, dev, e, out);
}

/* Registry unavailable: the outage rule of auth.h. */
static int outage(struct auth *a, const char *client_id, const char *address, const char *username,
		const char *password, struct auth_cache_entry *e, int64_t now, struct ih_device **out)
{
	int64_t grace_ms = (int64_t)a->cfg->auth_outage_grace_s * 1000;

	if(e && e->dev && e->dev->active && now - e->fetched_ms <= grace_ms && auth_cache_digest_matches(e, password)){
		a->st.outage_admits++;
		return admit(a, username, e->dev, out);
	}
	registry_count_refusal(a->registry);
	return refuse(a, MOSQ_LOG_NOTICE, client_id, address, username,
			"device registry unavailable and no recently verified login cached for this device");
}

/* A preloaded record is used for at most the revalidation interval, the
 * longest a connected device's record goes unchecked, so a device deleted
 * or suspended since the preload is refused within that time too. */
static void put_preloaded(struct auth *a, const char *username, struct ih_device *dev, int64_t fetched_ms)
{
	const struct ih_config *cfg = a->cfg;
	uint32_t ttl_s = dev->active ? cfg->auth_cache_ttl_s : cfg->auth_cache_negative_ttl_s;

	if(cfg->revalidate_interval_s && cfg->revalidate_interval_s < ttl_s) ttl_s = cfg->revalidate_interval_s;
	auth_cache_put(a->cache, username, dev, fetched_ms, fetched_ms + (int64_t)ttl_s * 1000);
	a->st.preloaded++;
}

struct fold_ctx {
	struct auth *a;
	int64_t fetched_ms;
};

/* A record fetched along with a missed device (PRELOAD_FOLD_MAX): stored as
 * the worker's preload answer would have been. One already cached (the
 * device connected meanwhile) is left alone: that answer is as fresh. */
static void apply_folded(void *ud, const bson_t *doc)
{
	struct fold_ctx *f = ud;
	struct ih_device *dev = NULL;
	char err[256];

	if(registry_device_decode(doc, NULL, f->a->cfg, &dev, err, sizeof(err))) return;
	if(auth_cache_get(f->a->cache, dev->username) == NULL){
		put_preloaded(f->a, dev->username, dev, f->fetched_ms);
		f->a->st.preload_folded++;
	}
	registry_device_unref(dev);
}

/* The broker thread's registry query for a cache miss, which also takes
 * over part of a preload still queued (PRELOAD_FOLD_MAX). A failed query
 * loses those usernames from the preload: they are queried when they
 * connect, as without a preload. */
static enum registry_result lookup(struct auth *a, const char *username, int64_t now, bson_t **doc)
{
	char *extra[PRELOAD_FOLD_MAX];
	struct fold_ctx f = {a, now};
	enum registry_result rc;
	size_t n = 0;

	if(a->preload_active && registry_is_up(a->registry)){
		n = registry_helper_take_preload(a->worker, extra, PRELOAD_FOLD_MAX);
	}
	rc = registry_lookup_with(a->registry, username, (const char *const *)extra, n, apply_folded, &f, doc);
	registry_worker_names_free(extra, n);
	return rc;
}

/* ------------------------------------------------------------------ */
/* BASIC_AUTH                                                           */

/*
 * The token half of the chain (auth/jwt.h). With jwt_from username the
 * username IS the token: log lines and the throttle then name the address
 * only, never the token.
 */
static int check_token(struct auth *a, const char *client_id, const char *address, const char *username,
		const char *token, int64_t now, struct ih_device **out)
{
	bool in_username = a->cfg->jwt_from == IH_JWT_FROM_USERNAME;
	const char *name = in_username ? NULL : username;
	const char *shown = in_username ? "(token)" : username;
	const char *blocked;
	char why[256];

	blocked = auth_throttle_check(a->throttle, name, address, now);
	if(blocked){
		a->st.throttled++;
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, shown, "%s", blocked);
	}
	if(auth_jwt_verify(a->jwt, token, username, client_id, (int64_t)time(NULL), out, why, sizeof(why))){
		auth_throttle_failure(a->throttle, name, address, now);
		a->st.jwt_refused++;
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, shown, "invalid token: %s", why);
	}
	auth_throttle_success(a->throttle, name);
	a->st.jwt_accepted++;
	a->st.accepted++;
	return MOSQ_ERR_SUCCESS; /* *out is the caller's reference */
}

int auth_check(struct auth *a, const char *client_id, const char *address, const char *username,
		const char *password, struct ih_device **out)
{
	const struct ih_config *cfg = a->cfg;
	struct auth_cache_entry *e;
	struct ih_device *dev = NULL;
	bson_t *doc = NULL;
	const char *why;
	size_t plen;
	int64_t now = a->now_ms();
	int rc;

	*out = NULL;
	poll_health(a);
	/* Before the P/D username rule: token usernames have no '/'. */
	if(a->jwt){
		const char *cred = cfg->jwt_from == IH_JWT_FROM_USERNAME ? username : password;
		if(cred && auth_jwt_looks_like(cred)) return check_token(a, client_id, address, username, cred, now, out);
	}
	if(username == NULL){
		if(cfg->allow_anonymous){
			a->st.accepted++;
			return MOSQ_ERR_SUCCESS;
		}
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, NULL, "no username (allow_anonymous is false)");
	}
	/* Before anything else: a malformed name never reaches the registry. */
	why = registry_username_check(username, cfg->username_max_len, &plen);
	if(why){
		auth_throttle_failure(a->throttle, NULL, address, now);
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, username, "invalid username: %s", why);
	}
	why = auth_throttle_check(a->throttle, username, address, now);
	if(why){
		a->st.throttled++;
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, username, "%s", why);
	}
	if(password == NULL || password[0] == '\0'){
		auth_throttle_failure(a->throttle, username, address, now);
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, username, "no password");
	}

	e = auth_cache_get(a->cache, username);
	if(e && e->dev == NULL && auth_throttle_address_blocked(a->throttle, address, now)){
		/* A blocked address keeps no cheap path for names the registry
		 * does not know (throttle.h): no query, however old the answer. */
		a->st.throttled++;
		return refuse(a, MOSQ_LOG_NOTICE, client_id, address, username,
				"unknown device, from an address with too many failed logins");
	}
	if(e && now < e->expires_ms){
		a->st.cache_hits++;
		return decide(a, client_id, address, username, password, e->dev, e, out);
	}
	a->st.cache_misses++;
	switch(lookup(a, username, now, &doc)){
		case AUTH_REGISTRY_FOUND:
			dev = decode_or_log(a, username, doc);
			bson_destroy(doc);
			e = remember(a, username, dev, now);
			rc = dev ? decide(a, client_id, address, username, password, dev, e, out)
				: refuse(a, MOSQ_LOG_ERR, client_id, address, username, "registry record unusable (see above)");
			registry_device_unref(dev); /* the cache and *out hold their own references */
			return rc;
		case AUTH_REGISTRY_NOT_FOUND:
			e = remember(a, username, NULL, now);
			return decide(a, client_id, address, username, password, NULL, e, out);
		case AUTH_REGISTRY_UNAVAILABLE:
		default:
			/* Looked up again: records folded in from the preload before
			 * the query failed (lookup) may have evicted e to make room. */
			e = auth_cache_get(a->cache, username);
			return outage(a, client_id, address, username, password, e, now, out);
	}
}

/* ------------------------------------------------------------------ */
/* refetch results                                                      */

static void apply_preload(struct auth *a, struct registry_worker_result *r, auth_change_cb cb, void *ud)
{
	struct auth_cache_entry *e = auth_cache_get(a->cache, r->username);
	struct ih_device *dev = NULL;
	bool changed;

	a->preload_applied++;
	if(e && e->fetched_ms >= r->fetched_ms) return; /* a connect asked the registry since */
	if(r->doc) dev = decode_or_log(a, r->username, r->doc);
	if(dev == NULL){
		a->preload_missing++;
		/* Not cached: a negative answer cached now would only delay a
		 * device registered meanwhile. */
		return;
	}
	changed = e != NULL && !registry_device_same(e->dev, dev);
	put_preloaded(a, r->username, dev, r->fetched_ms);
	if(changed && cb) cb(ud, r->username, dev);
	registry_device_unref(dev);
}

static void preload_check_done(struct auth *a)
{
	struct registry_worker_health h;

	if(!a->preload_active) return;
	registry_helper_health(a->worker, &h);
	if(!h.preload_done || a->preload_applied < h.preload_posted) return;
	a->preload_active = false;
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
			"iothub: auth preload: %llu device records loaded in %lld ms (%llu usernames not in the registry or "
			"unusable; %llu records fetched along with a connecting device's query)",
			(unsigned long long)a->st.preloaded, (long long)(a->now_ms() - a->preload_started_ms),
			(unsigned long long)a->preload_missing, (unsigned long long)a->st.preload_folded);
}

static void apply_result(struct auth *a, struct registry_worker_result *r, auth_change_cb cb, void *ud)
{
	struct auth_cache_entry *e;
	struct ih_device *dev = NULL;
	bool changed;

	if(r->preload && !r->forced){
		apply_preload(a, r, cb, ud);
		return;
	}
	e = auth_cache_get(a->cache, r->username);
	if(e && e->fetched_ms > r->fetched_ms){
		/* A connect asked the registry after this query was sent: the
		 * cache already holds the newer answer. */
		if(r->forced && cb) cb(ud, r->username, e->dev);
		return;
	}
	if(r->doc) dev = decode_or_log(a, r->username, r->doc);
	/* Nothing cached to compare with (evicted, or never connected here):
	 * report, and let the glue compare fingerprints with what it holds. */
	changed = e == NULL || !registry_device_same(e->dev, dev);
	remember(a, r->username, dev, r->fetched_ms);
	if((changed || r->forced) && cb) cb(ud, r->username, dev);
	registry_device_unref(dev);
}

void auth_tick(struct auth *a, auth_change_cb cb, void *ud)
{
	struct registry_worker_result *list, *next;

	poll_health(a);
	registry_helper_drain_log(a->worker);
	registry_mongo_lib_drain_log();
	for(int64_t started = ih_mono_ms(); ih_mono_ms() - started < TICK_BUDGET_MS; ){
		list = registry_helper_take(a->worker, TICK_RESULTS_MAX);
		if(list == NULL) break;
		for(; list; list = next){
			next = list->next;
			if(list->preload && list->forced) a->preload_applied++;
			apply_result(a, list, cb, ud);
			registry_worker_result_free(list);
		}
	}
	preload_check_done(a);
}

int auth_preload(struct auth *a, const char *const *usernames, size_t n, bool all)
{
	size_t max = a->cfg->auth_preload_max;
	size_t dropped;

	if(n > max) n = max;
	a->preload_active = true;
	a->preload_started_ms = a->now_ms();
	dropped = registry_helper_preload(a->worker, usernames, n, all ? max : 0, a->cfg->username_max_len);
	if(dropped == 0) return MOSQ_ERR_SUCCESS;
	mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: auth preload: out of memory, %zu usernames dropped", dropped);
	return MOSQ_ERR_NOMEM;
}

void auth_invalidate(struct auth *a, const char *username)
{
	if(username == NULL) return;
	auth_cache_remove(a->cache, username);
	if(registry_helper_refetch(a->worker, &username, 1, true, a->cfg->username_max_len)){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"iothub: refetch queue full (auth_refetch_queue_max %u): invalidation of %s will not be reported",
				a->cfg->auth_refetch_queue_max, username);
	}
}

int auth_revalidate(struct auth *a, const char *const *usernames, size_t n)
{
	size_t dropped = registry_helper_refetch(a->worker, usernames, n, false, a->cfg->username_max_len);

	if(dropped == 0) return MOSQ_ERR_SUCCESS;
	mosquitto_log_printf(MOSQ_LOG_WARNING,
			"iothub: refetch queue full (auth_refetch_queue_max %u): %zu revalidations dropped",
			a->cfg->auth_refetch_queue_max, dropped);
	return MOSQ_ERR_NOMEM;
}

bool auth_registry_up(const struct auth *a)
{
	return registry_is_up(a->registry);
}

bool auth_wait_startup_probe(struct auth *a, int timeout_ms)
{
	struct registry_worker_health h;
	const struct timespec step = {0, 5 * 1000000};

	for(int waited = 0; ; waited += 5){
		registry_helper_health(a->worker, &h);
		if(h.last_ok_probe > 0 || h.err_seq > 0) return true;
		if(waited >= timeout_ms) return false;
		nanosleep(&step, NULL);
	}
}

void auth_get_stats(const struct auth *a, struct auth_stats *out)
{
	struct registry_worker_health h;
	uint64_t q, err;

	*out = a->st;
	registry_helper_health(a->worker, &h);
	registry_counters(a->registry, &q, &err);
	out->registry_queries = q + h.queries;
	out->registry_errors = err + h.errors;
	out->cache_entries = (uint32_t)auth_cache_count(a->cache);
	out->registry_up = registry_is_up(a->registry);
}
