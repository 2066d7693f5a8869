/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The BASIC_AUTH flow (auth/auth.c) with the circuit breaker
 * (registry/registry.c) and the worker (registry/worker.c), against a
 * scripted in-memory registry behind the source interface, with a clock
 * the test moves.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bson/bson.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "auth/auth.h"
#include "auth/auth_internal.h"
#include "auth/secret.h"
#include "registry/source.h"
#include "core/config.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

/* ------------------------------------------------------------------ */
/* fake registry                                                        */

#define FAKE_MAX 64

static struct {
	pthread_mutex_t lock;
	bson_t *docs[FAKE_MAX];
	bool failing;
	int broker_fetches;
	int worker_fetches;
	int scans;
	int probes;
	int resets;
	size_t max_batch;
	bool hold_worker;             /* worker fetches wait until cleared */
	pthread_cond_t released;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER, .released = PTHREAD_COND_INITIALIZER};

struct fake_source {
	struct auth_source base;
	bool broker;
};

static const char *doc_user(const bson_t *doc)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, "broker_username") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
}

static int fake_fetch(struct auth_source *s, const char *const *usernames, size_t n,
		auth_source_doc_fn on_doc, void *ud, char *err, size_t errlen)
{
	struct fake_source *fs = (struct fake_source *)s;
	int rc = 0;

	pthread_mutex_lock(&R.lock);
	if(fs->broker) R.broker_fetches++;
	else R.worker_fetches++;
	while(!fs->broker && R.hold_worker) pthread_cond_wait(&R.released, &R.lock);
	if(n > R.max_batch) R.max_batch = n;
	if(R.failing){
		snprintf(err, errlen, "fake registry is down");
		rc = -1;
	}else{
		for(size_t i = 0; i < n; i++){
			for(int k = 0; k < FAKE_MAX; k++){
				if(R.docs[k] && !strcmp(doc_user(R.docs[k]), usernames[i])){
					on_doc(ud, R.docs[k]);
					break;
				}
			}
		}
	}
	pthread_mutex_unlock(&R.lock);
	return rc;
}

static int fake_probe(struct auth_source *s, char *err, size_t errlen)
{
	int rc;

	(void)s;
	pthread_mutex_lock(&R.lock);
	R.probes++;
	rc = R.failing ? -1 : 0;
	if(rc) snprintf(err, errlen, "fake probe failed");
	pthread_mutex_unlock(&R.lock);
	return rc;
}

static int fake_reset(struct auth_source *s, char *err, size_t errlen)
{
	(void)s; (void)err; (void)errlen;
	pthread_mutex_lock(&R.lock);
	R.resets++;
	pthread_mutex_unlock(&R.lock);
	return 0;
}

static void fake_destroy(struct auth_source *s)
{
	free(s);
}

static int fake_scan(struct auth_source *s, size_t limit, auth_source_doc_fn on_doc, void *ud, char *err, size_t errlen)
{
	size_t n = 0;

	(void)s; (void)err; (void)errlen;
	pthread_mutex_lock(&R.lock);
	R.scans++;
	for(int k = 0; k < FAKE_MAX && n < limit; k++){
		if(R.docs[k]){
			on_doc(ud, R.docs[k]);
			n++;
		}
	}
	pthread_mutex_unlock(&R.lock);
	return 0;
}

static const struct auth_source_ops fake_ops = {fake_fetch, fake_probe, fake_reset, fake_destroy, fake_scan};

static int fake_create(void *ctx, bool broker, struct auth_source **out, char *err, size_t errlen)
{
	struct fake_source *s = calloc(1, sizeof(*s));

	(void)ctx; (void)err; (void)errlen;
	s->base.ops = &fake_ops;
	s->broker = broker;
	*out = &s->base;
	return 0;
}

static void fake_put(const char *json)
{
	bson_error_t e;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &e);
	int free_slot = -1;

	ck_assert_msg(doc != NULL, "bad JSON %s", json);
	pthread_mutex_lock(&R.lock);
	for(int k = 0; k < FAKE_MAX; k++){
		if(R.docs[k] && !strcmp(doc_user(R.docs[k]), doc_user(doc))){
			bson_destroy(R.docs[k]);
			R.docs[k] = doc;
			doc = NULL;
			break;
		}
		if(!R.docs[k] && free_slot < 0) free_slot = k;
	}
	if(doc) R.docs[free_slot] = doc;
	pthread_mutex_unlock(&R.lock);
}

static void fake_del(const char *username)
{
	pthread_mutex_lock(&R.lock);
	for(int k = 0; k < FAKE_MAX; k++){
		if(R.docs[k] && !strcmp(doc_user(R.docs[k]), username)){
			bson_destroy(R.docs[k]);
			R.docs[k] = NULL;
		}
	}
	pthread_mutex_unlock(&R.lock);
}

static void fake_fail(bool on)
{
	pthread_mutex_lock(&R.lock);
	R.failing = on;
	pthread_mutex_unlock(&R.lock);
}

static int fetch_count(const int *counter)
{
	int n;
	pthread_mutex_lock(&R.lock);
	n = *counter;
	pthread_mutex_unlock(&R.lock);
	return n;
}

static int broker_fetches(void)
{
	return fetch_count(&R.broker_fetches);
}

static int worker_fetches(void)
{
	return fetch_count(&R.worker_fetches);
}

/* ------------------------------------------------------------------ */
/* clock, callback recorder, fixture                                    */

static _Atomic int64_t fake_now = 1000000;

static int64_t clock_fn(void)
{
	return atomic_load(&fake_now);
}

static void advance_s(int64_t s)
{
	atomic_fetch_add(&fake_now, s * 1000);
}

#define CB_MAX 64
static struct {
	char username[64];
	bool gone;
	bool active;
	char secret[32];
} cbs[CB_MAX];
static int ncb;

static void record_cb(void *ud, const char *username, struct ih_device *dev)
{
	(void)ud;
	ck_assert_int_lt(ncb, CB_MAX);
	snprintf(cbs[ncb].username, sizeof(cbs[ncb].username), "%s", username);
	cbs[ncb].gone = dev == NULL;
	cbs[ncb].active = dev && dev->active;
	snprintf(cbs[ncb].secret, sizeof(cbs[ncb].secret), "%s", dev && dev->secret ? dev->secret : "");
	ncb++;
}

static int cb_index(const char *username)
{
	for(int i = 0; i < ncb; i++){
		if(!strcmp(cbs[i].username, username)) return i;
	}
	return -1;
}

static struct ih_config cfg;
static struct auth *A;
static long blocks_at_start;

static void start(void)
{
	struct auth_deps deps = {{fake_create, NULL}, clock_fn};

	ck_assert_int_eq(auth_init_with(&A, &cfg, &deps), MOSQ_ERR_SUCCESS);
	ck_assert(auth_wait_startup_probe(A, 5000));
}

/* Tests also run in one process (CK_FORK=no, e.g. for LeakSanitizer). */
static void fake_reset_all(void)
{
	pthread_mutex_lock(&R.lock);
	for(int k = 0; k < FAKE_MAX; k++){
		if(R.docs[k]) bson_destroy(R.docs[k]);
		R.docs[k] = NULL;
	}
	R.failing = false;
	R.broker_fetches = R.worker_fetches = R.probes = R.resets = R.scans = 0;
	R.max_batch = 0;
	R.hold_worker = false;
	pthread_cond_broadcast(&R.released);
	pthread_mutex_unlock(&R.lock);
}

static void hold_worker(bool on)
{
	pthread_mutex_lock(&R.lock);
	R.hold_worker = on;
	pthread_cond_broadcast(&R.released);
	pthread_mutex_unlock(&R.lock);
}


static void setup(void)
{
	fake_reset_all();
	ck_assert_int_eq(ih_config_parse(&cfg, NULL, 0), 0);
	cfg.mongo_probe_ms = 100;
	cfg.revalidate_batch = 2;
	stub_log_clear();
	ncb = 0;
	blocks_at_start = stub_mem_live_blocks();
	fake_put("{\"broker_username\": \"p1/d1\", \"secret\": \"s1\", \"status\": \"active\"}");
	fake_put("{\"broker_username\": \"p1/d2\", \"secret\": \"s2\"}");
	fake_put("{\"broker_username\": \"p1/off\", \"secret\": \"s3\", \"status\": \"suspended\"}");
	fake_put("{\"broker_username\": \"p1/su\", \"secret\": \"s4\", \"superuser\": true}");
	fake_put("{\"broker_username\": \"p1/bad\", \"secret\": \"s5\", \"acl\": {\"deny\": [5]}}");
	fake_put("{\"broker_username\": \"p1/h\", \"password_hash\": \"$7$101$IGH024uFuGc3+DeU$RhdD9Q0O7ntyP6qKlAAuE2k3T/6dZXoowzGp+OeHp2odjdSHhVJYUXnqGAYBmX/phZ8z3hn6+KG6pE39Nq0QAg==\"}");
	fake_put("{\"broker_username\": \"p1/badhash\", \"password_hash\": \"$7$101$nope\", \"secret\": \"s6\"}");
}

static void teardown(void)
{
	hold_worker(false);
	auth_cleanup(A);
	A = NULL;
	ck_assert_int_eq(stub_mem_live_blocks(), blocks_at_start);
	ih_config_cleanup(&cfg);
	fake_reset_all();
}

static int check(const char *user, const char *pw, struct ih_device **dev)
{
	return auth_check(A, "client-1", "198.51.100.1", user, pw, dev);
}

static void expect_ok(const char *user, const char *pw)
{
	struct ih_device *dev = NULL;

	ck_assert_msg(check(user, pw, &dev) == MOSQ_ERR_SUCCESS, "refused %s", user);
	ck_assert_ptr_nonnull(dev);
	ck_assert_str_eq(dev->username, user);
	registry_device_unref(dev);
}

static void expect_refused(const char *user, const char *pw, const char *log_part)
{
	struct ih_device *dev = (struct ih_device *)0x1;

	ck_assert_msg(check(user, pw, &dev) == MOSQ_ERR_AUTH, "accepted %s", user ? user : "(null)");
	ck_assert_ptr_null(dev);
	if(log_part) ck_assert_msg(stub_log_contains(log_part), "no log line with \"%s\"", log_part);
}

static bool tick_until(bool (*cond)(void), int max_ms)
{
	for(int waited = 0; waited < max_ms; waited += 5){
		auth_tick(A, record_cb, NULL);
		if(cond()) return true;
		usleep(5000);
	}
	auth_tick(A, record_cb, NULL);
	return cond();
}

static bool registry_down(void) { return !auth_registry_up(A); }
static bool registry_up(void) { return auth_registry_up(A); }

/* ------------------------------------------------------------------ */
/* tests                                                                */

START_TEST(anonymous)
{
	struct ih_device *dev = (struct ih_device *)0x1;

	start();
	expect_refused(NULL, NULL, "no username (allow_anonymous is false)");
	auth_cleanup(A);
	cfg.allow_anonymous = true;
	start();
	ck_assert_int_eq(check(NULL, NULL, &dev), MOSQ_ERR_SUCCESS);
	ck_assert_ptr_null(dev);
}
END_TEST

START_TEST(invalid_username_never_queried)
{
	start();
	expect_refused("nodevice", "x", "invalid username: username is not ProductName/DeviceName (no '/')");
	expect_refused("a/b/c", "x", "more than one '/'");
	expect_refused("p/#", "x", "wildcard");
	expect_refused("p/\n", "x", "(username \"p/?\")");   /* control bytes never reach the log */
	ck_assert_int_eq(broker_fetches(), 0);
}
END_TEST

START_TEST(missing_password)
{
	start();
	expect_refused("p1/d1", NULL, "no password");
	expect_refused("p1/d1", "", "no password");
	ck_assert_int_eq(broker_fetches(), 0);
}
END_TEST

START_TEST(clear_secret_and_cache)
{
	struct auth_stats st;
	struct ih_device *dev = NULL;

	start();
	ck_assert_int_eq(check("p1/d1", "s1", &dev), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(dev->refcount, 2);   /* the caller's and the cache's */
	ck_assert(!dev->superuser);
	registry_device_unref(dev);
	ck_assert_int_eq(broker_fetches(), 1);
	expect_ok("p1/d1", "s1");
	expect_refused("p1/d1", "s2", "(username \"p1/d1\") from 198.51.100.1: wrong password");
	ck_assert_int_eq(broker_fetches(), 1);
	auth_get_stats(A, &st);
	ck_assert_uint_eq(st.accepted, 2);
	ck_assert_uint_eq(st.refused, 1);
	ck_assert_uint_eq(st.cache_hits, 2);
	ck_assert_uint_eq(st.cache_misses, 1);
	ck_assert_uint_eq(st.cache_entries, 1);
	ck_assert(st.registry_up);
	ck_assert_uint_ge(st.registry_queries, 1);
	/* No log line carries a password. */
	ck_assert_int_eq(stub_log_count("s1"), 0);
	ck_assert_int_eq(stub_log_count("s2"), 0);
}
END_TEST

START_TEST(unknown_device_negative_cache)
{
	start();
	expect_refused("p1/ghost", "x", "unknown device");
	expect_refused("p1/ghost", "x", NULL);
	ck_assert_int_eq(broker_fetches(), 1);
	advance_s(5);
	fake_put("{\"broker_username\": \"p1/ghost\", \"secret\": \"x\"}");
	expect_ok("p1/ghost", "x");
	ck_assert_int_eq(broker_fetches(), 2);
}
END_TEST

START_TEST(suspended_and_superuser)
{
	struct ih_device *dev = NULL;

	start();
	expect_refused("p1/off", "s3", "device suspended (status \"suspended\")");
	ck_assert_int_eq(check("p1/su", "s4", &dev), MOSQ_ERR_SUCCESS);
	ck_assert(dev->superuser);
	registry_device_unref(dev);
}
END_TEST

START_TEST(hashed_secrets)
{
	start();
	expect_ok("p1/h", "Secr3t!");
	expect_refused("p1/h", "secr3t!", "wrong password");
	/* Malformed stored hash: an ERROR naming the device, and no fallback to the clear secret. */
	expect_refused("p1/badhash", "s6", "(username \"p1/badhash\")");
	ck_assert(stub_log_contains("password_hash is malformed or of an unsupported kind"));
}
END_TEST

START_TEST(unusable_record)
{
	start();
	expect_refused("p1/bad", "s5", "registry record unusable");
	ck_assert(stub_log_contains("device p1/bad: registry record unusable: acl.deny has an unusable entry"));
}
END_TEST

START_TEST(ttl_applies_changes)
{
	start();
	expect_ok("p1/d1", "s1");
	fake_put("{\"broker_username\": \"p1/d1\", \"secret\": \"new\"}");
	advance_s(59);
	expect_ok("p1/d1", "s1");          /* still cached */
	advance_s(1);
	expect_refused("p1/d1", "s1", "wrong password");
	expect_ok("p1/d1", "new");
	fake_put("{\"broker_username\": \"p1/d1\", \"secret\": \"new\", \"status\": \"suspended\"}");
	advance_s(60);
	expect_refused("p1/d1", "new", "device suspended");
}
END_TEST

START_TEST(ttl_zero_asks_every_time)
{
	cfg.auth_cache_ttl_s = 0;
	start();
	expect_ok("p1/d1", "s1");
	expect_ok("p1/d1", "s1");
	ck_assert_int_eq(broker_fetches(), 2);
}
END_TEST

START_TEST(cache_disabled)
{
	cfg.auth_cache_max = 0;
	start();
	expect_ok("p1/d1", "s1");
	expect_ok("p1/d1", "s1");
	expect_refused("p1/ghost", "x", "unknown device");
	ck_assert_int_eq(broker_fetches(), 3);
}
END_TEST

static double elapsed_ms(struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

START_TEST(warm_connect_skips_pbkdf2)
{
	char hash[AUTH_SECRET_HASH_MAX], json[512];
	struct timespec t0;
	double cold, warm;

	ck_assert_int_eq(auth_secret_hash_create("slow-secret", 200000, hash, sizeof(hash)), 0);
	snprintf(json, sizeof(json), "{\"broker_username\": \"p1/slow\", \"password_hash\": \"%s\"}", hash);
	fake_put(json);
	start();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_ok("p1/slow", "slow-secret");
	cold = elapsed_ms(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_ok("p1/slow", "slow-secret");
	warm = elapsed_ms(&t0);
	ck_assert_msg(warm * 20 < cold, "warm %.3f ms vs cold %.3f ms", warm, cold);
	/* A wrong password still costs the full verification (no shortcut). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_refused("p1/slow", "wrong", "wrong password");
	ck_assert_msg(elapsed_ms(&t0) * 4 > cold, "wrong password was fast");
}
END_TEST

START_TEST(throttle_blocks_without_queries)
{
	struct auth_stats st;

	cfg.auth_fail_max = 3;
	cfg.auth_fail_block_s = 300;
	start();
	expect_refused("p1/d1", "x", "wrong password");
	expect_refused("p1/d1", "x", NULL);
	expect_refused("p1/d1", "x", NULL);
	advance_s(61);   /* cache expired: a check would need the registry */
	expect_refused("p1/d1", "s1", "too many failed logins for this username");
	ck_assert_int_eq(broker_fetches(), 1);
	auth_get_stats(A, &st);
	ck_assert_uint_eq(st.throttled, 1);
	ck_assert_int_eq(stub_log_count("failed logins for username \"p1/d1\""), 1);
}
END_TEST

/* The NAT case: an address that failed auth_fail_max times still admits
 * the devices that verify, and refuses unknown names without a query. */
START_TEST(blocked_address_admits_good_devices)
{
	int fetches;

	cfg.auth_fail_max = 3;
	start();
	expect_refused("p1/nope1", "x", "unknown device");
	expect_refused("p1/nope2", "x", "unknown device");
	expect_refused("p1/nope3", "x", "unknown device");
	ck_assert(stub_log_contains("3 failed logins for address \"198.51.100.1\""));
	expect_ok("p1/d1", "s1");
	expect_ok("p1/d1", "s1");
	fetches = broker_fetches();
	expect_refused("p1/nope1", "x", "unknown device, from an address with too many failed logins");
	ck_assert_int_eq(broker_fetches(), fetches);
	/* One failure from the blocked address blocks the name. */
	expect_refused("p1/d2", "wrong", "wrong password");
	expect_refused("p1/d2", "s2", "too many failed logins for this username");
	expect_ok("p1/d1", "s1");
}
END_TEST

/* ---- start-up preload ---- */

static bool preload_logged(void)
{
	return stub_log_contains("auth preload: ");
}

START_TEST(preload_fills_cache_without_broker_queries)
{
	static const char *const names[] = {"p1/d1", "p1/d2", "p1/nope", "bad name"};
	struct auth_stats st;

	start();
	ck_assert_int_eq(auth_preload(A, names, 4, false), MOSQ_ERR_SUCCESS);
	ck_assert(tick_until(preload_logged, 3000));
	ck_assert(stub_log_contains("auth preload: 2 device records loaded in "));
	ck_assert(stub_log_contains("(1 usernames not in the registry or unusable; 0 records fetched along"));
	expect_ok("p1/d1", "s1");
	expect_ok("p1/d2", "s2");
	ck_assert_int_eq(broker_fetches(), 0);
	/* Not found is not cached: a device registered since gets in. */
	fake_put("{\"broker_username\": \"p1/nope\", \"secret\": \"s9\"}");
	expect_ok("p1/nope", "s9");
	ck_assert_int_eq(broker_fetches(), 1);
	auth_get_stats(A, &st);
	ck_assert_uint_eq(st.preloaded, 2);
	ck_assert_int_eq(ncb, 0); /* nothing was connected: nothing to report */
}
END_TEST

/* A miss while the preload is queued fetches the rest of the queue in the
 * same broker-thread query: those devices then need no query of their own. */
START_TEST(preload_miss_folds_the_queued_rest)
{
	static const char *const names[] = {"p1/d1", "p1/d2", "p1/su", "p1/h", "p1/off", "p1/nope"};
	const struct timespec step = {0, 5 * 1000000};
	struct auth_stats st;

	start();
	hold_worker(true);
	auth_preload(A, names, 6, false);
	/* The worker sits in its first batch (p1/d1, p1/d2: revalidate_batch 2). */
	for(int i = 0; i < 600 && worker_fetches() == 0; i++) nanosleep(&step, NULL);
	ck_assert_int_eq(worker_fetches(), 1);
	expect_ok("p1/d1", "s1");                    /* in flight: a miss */
	ck_assert_int_eq(broker_fetches(), 1);
	ck_assert_uint_eq(R.max_batch, 5);           /* p1/d1 + the 4 still queued */
	expect_ok("p1/su", "s4");
	expect_refused("p1/off", "s3", "device suspended");
	ck_assert_int_eq(broker_fetches(), 1);
	auth_get_stats(A, &st);
	ck_assert_uint_eq(st.preload_folded, 3);     /* p1/nope is not in the registry */
	hold_worker(false);
	ck_assert(tick_until(preload_logged, 3000));
	ck_assert(stub_log_contains("auth preload: 4 device records loaded in "));
	ck_assert(stub_log_contains("unusable; 3 records fetched along with a connecting device's query)"));
	expect_ok("p1/d2", "s2");
	ck_assert_int_eq(broker_fetches(), 1);
}
END_TEST

START_TEST(preload_bounded_by_revalidate_interval)
{
	static const char *const names[] = {"p1/d1"};

	cfg.revalidate_interval_s = 5;
	start();
	auth_preload(A, names, 1, false);
	ck_assert(tick_until(preload_logged, 3000));
	fake_put("{\"broker_username\": \"p1/d1\", \"secret\": \"s1\", \"status\": \"suspended\"}");
	expect_ok("p1/d1", "s1");            /* the preloaded record, still fresh */
	advance_s(6);
	expect_refused("p1/d1", "s1", "device suspended");
	ck_assert_int_eq(broker_fetches(), 1);
}
END_TEST

START_TEST(preload_all_scans_the_registry)
{
	start();
	auth_preload(A, NULL, 0, true);
	ck_assert(tick_until(preload_logged, 3000));
	ck_assert(stub_log_contains("auth preload: 6 device records loaded"));
	expect_ok("p1/d2", "s2");
	ck_assert_int_eq(broker_fetches(), 0);
	ck_assert_int_eq(R.scans, 1);
}
END_TEST

START_TEST(preload_all_falls_back_when_too_large)
{
	static const char *const names[] = {"p1/d1"};

	cfg.auth_preload_max = 3;
	start();
	auth_preload(A, names, 1, true);
	ck_assert(tick_until(preload_logged, 3000));
	ck_assert(stub_log_contains("the registry holds more than auth_preload_max (3) devices; preloading the 1 devices"));
	ck_assert(stub_log_contains("auth preload: 1 device records loaded"));
	expect_ok("p1/d1", "s1");
	ck_assert_int_eq(broker_fetches(), 0);
}
END_TEST

START_TEST(startup_probe_reports_outage)
{
	fake_fail(true);
	start();
	ck_assert(tick_until(registry_down, 2000));
	ck_assert_int_eq(stub_log_count("device registry unavailable: fake probe failed"), 1);
	expect_refused("p1/d1", "s1", "device registry unavailable");
	ck_assert_int_eq(broker_fetches(), 0);
	fake_fail(false);
	ck_assert(tick_until(registry_up, 2000));
	ck_assert(stub_log_contains("device registry available again after"));
	ck_assert(stub_log_contains("1 connects were refused meanwhile"));
	expect_ok("p1/d1", "s1");
}
END_TEST

START_TEST(outage_policy)
{
	struct auth_stats st;

	start();
	expect_ok("p1/d1", "s1");            /* verified: digest cached */
	expect_ok("p1/d2", "s2");
	fake_fail(true);
	advance_s(61);                       /* both TTLs run out */
	/* The first miss pays one failed query, then the breaker is open. */
	expect_ok("p1/d1", "s1");
	ck_assert_int_eq(broker_fetches(), 3);
	ck_assert(!auth_registry_up(A));
	ck_assert_int_eq(stub_log_count("device registry unavailable: fake registry is down"), 1);
	expect_ok("p1/d2", "s2");
	expect_refused("p1/d1", "wrong", "device registry unavailable");
	expect_refused("p1/off", "s3", "device registry unavailable");  /* never verified here */
	expect_refused("p1/new", "x", "device registry unavailable");
	ck_assert_int_eq(broker_fetches(), 3);   /* no I/O while down */
	/* Past the grace period, even the cached devices are refused. */
	advance_s(3600);
	expect_refused("p1/d1", "s1", "device registry unavailable");
	auth_get_stats(A, &st);
	ck_assert_uint_eq(st.outage_admits, 2);
	ck_assert(!st.registry_up);
	ck_assert_int_eq(stub_log_count("device registry unavailable:"), 1);

	fake_fail(false);
	ck_assert(tick_until(registry_up, 2000));
	ck_assert_int_eq(stub_log_count("device registry available again"), 1);
	ck_assert(stub_log_contains("4 connects were refused meanwhile"));
	ck_assert_int_ge(R.resets, 1);   /* broker-thread client recreated */
	expect_ok("p1/d1", "s1");
	ck_assert_int_eq(broker_fetches(), 4);
}
END_TEST

START_TEST(outage_suspended_cached_record)
{
	start();
	expect_ok("p1/d1", "s1");
	fake_put("{\"broker_username\": \"p1/d1\", \"secret\": \"s1\", \"status\": \"suspended\"}");
	advance_s(61);
	expect_refused("p1/d1", "s1", "device suspended");
	fake_fail(true);
	advance_s(61);
	expect_refused("p1/d1", "s1", "device registry unavailable");
}
END_TEST

START_TEST(outage_grace_zero)
{
	cfg.auth_outage_grace_s = 0;
	start();
	expect_ok("p1/d1", "s1");
	fake_fail(true);
	advance_s(61);
	expect_refused("p1/d1", "s1", "device registry unavailable");
}
END_TEST

static bool have_cb_d1(void) { return cb_index("p1/d1") >= 0; }

START_TEST(invalidate_always_reports)
{
	start();
	expect_ok("p1/d1", "s1");
	auth_invalidate(A, "p1/d1");
	ck_assert(tick_until(have_cb_d1, 2000));
	ck_assert(!cbs[0].gone);
	ck_assert(cbs[0].active);
	/* The refetched record is cached again; the digest went with the removal. */
	expect_ok("p1/d1", "s1");
	ck_assert_int_eq(broker_fetches(), 1);
	auth_invalidate(A, "not a username");
	auth_invalidate(A, NULL);
}
END_TEST

START_TEST(invalidate_next_connect_queries)
{
	start();
	expect_ok("p1/d1", "s1");
	fake_put("{\"broker_username\": \"p1/d1\", \"secret\": \"rotated\"}");
	auth_invalidate(A, "p1/d1");
	/* Before any tick: the entry is gone, so this connect asks the registry. */
	expect_refused("p1/d1", "s1", "wrong password");
	ck_assert_int_eq(broker_fetches(), 2);
	ck_assert(tick_until(have_cb_d1, 2000));
	ck_assert_str_eq(cbs[0].secret, "rotated");
}
END_TEST

static bool three_cbs(void) { return ncb >= 3; }

START_TEST(revalidate_reports_changes_only)
{
	const char *users[] = {"p1/d1", "p1/d2", "p1/su", "p1/h", "bad name"};

	start();
	expect_ok("p1/d1", "s1");
	expect_ok("p1/d2", "s2");
	expect_ok("p1/su", "s4");
	expect_ok("p1/h", "Secr3t!");
	fake_put("{\"broker_username\": \"p1/d1\", \"secret\": \"s1\", \"status\": \"suspended\"}");
	fake_del("p1/d2");
	fake_put("{\"broker_username\": \"p1/su\", \"secret\": \"s4\", \"superuser\": true, \"tags\": [\"t\"]}");
	ck_assert_int_eq(auth_revalidate(A, users, 5), MOSQ_ERR_SUCCESS);
	ck_assert(tick_until(three_cbs, 2000));
	usleep(50000);
	auth_tick(A, record_cb, NULL);
	ck_assert_int_eq(ncb, 3);                     /* p1/h unchanged: not reported */
	ck_assert(!cbs[cb_index("p1/d1")].active);
	ck_assert(cbs[cb_index("p1/d2")].gone);
	ck_assert(cbs[cb_index("p1/su")].active);
	ck_assert_uint_eq(R.max_batch, 2);            /* revalidate_batch */
	/* The cache follows: suspended and deleted devices are refused without a query. */
	expect_refused("p1/d1", "s1", "device suspended");
	expect_refused("p1/d2", "s2", "unknown device");
	expect_ok("p1/h", "Secr3t!");
	ck_assert_int_eq(broker_fetches(), 4);
}
END_TEST

static bool one_cb(void) { return ncb >= 1; }

START_TEST(revalidate_uncached_is_reported)
{
	const char *users[] = {"p1/d1"};

	start();
	ck_assert_int_eq(auth_revalidate(A, users, 1), MOSQ_ERR_SUCCESS);
	ck_assert(tick_until(one_cb, 2000));
	ck_assert_str_eq(cbs[0].username, "p1/d1");
	ck_assert(!cbs[0].gone);
	/* ...and it is now cached, without a digest. */
	expect_ok("p1/d1", "s1");
	ck_assert_int_eq(broker_fetches(), 0);
}
END_TEST

START_TEST(refetch_waits_out_outage)
{
	const char *users[] = {"p1/d1"};

	stub_log_echo(getenv("ECHO") != NULL);
	start();
	expect_ok("p1/d1", "s1");
	fake_fail(true);
	fake_put("{\"broker_username\": \"p1/d1\", \"secret\": \"s1\", \"status\": \"suspended\"}");
	ck_assert_int_eq(auth_revalidate(A, users, 1), MOSQ_ERR_SUCCESS);
	ck_assert(tick_until(registry_down, 2000));
	ck_assert_int_eq(ncb, 0);
	ck_assert_int_eq(stub_log_count("device registry unavailable:"), 1);
	fake_fail(false);
	ck_assert(tick_until(one_cb, 3000));
	ck_assert(!cbs[0].active);
	ck_assert(auth_registry_up(A));
}
END_TEST

START_TEST(refetch_queue_bounded)
{
	const char *users[] = {"p1/a", "p1/b", "p1/c", "p1/a"};

	cfg.auth_refetch_queue_max = 2;
	fake_fail(true);              /* worker stays in probing mode: nothing drains */
	start();
	ck_assert_int_eq(auth_revalidate(A, users, 2), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(auth_revalidate(A, users, 2), MOSQ_ERR_SUCCESS);  /* duplicates merge */
	ck_assert_int_eq(auth_revalidate(A, users, 4), MOSQ_ERR_NOMEM);
	ck_assert(stub_log_contains("1 revalidations dropped"));
}
END_TEST

START_TEST(stale_refetch_does_not_override)
{
	start();
	expect_ok("p1/d1", "s1");
	/* A refetch result older than what a connect fetched since is ignored
	 * for the cache (forced ones still report the current record). */
	auth_invalidate(A, "p1/d1");
	expect_ok("p1/d1", "s1");   /* broker-thread query, same clock tick as the worker's */
	ck_assert(tick_until(have_cb_d1, 2000));
	expect_ok("p1/d1", "s1");
}
END_TEST

START_TEST(bad_uri_fails_init)
{
	struct auth *a = NULL;

	mosquitto_free(cfg.mongo_uri);
	cfg.mongo_uri = mosquitto_strdup("mongodb://user:hunter2@host:99999999/");
	ck_assert_int_eq(auth_init(&a, &cfg), MOSQ_ERR_INVAL);
	ck_assert_ptr_null(a);
	ck_assert(stub_log_contains("invalid mongo_uri"));
	ck_assert_int_eq(stub_log_count("hunter2"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth_flow");
	TCase *tc = tcase_create("flow");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, anonymous);
	tcase_add_test(tc, invalid_username_never_queried);
	tcase_add_test(tc, missing_password);
	tcase_add_test(tc, clear_secret_and_cache);
	tcase_add_test(tc, unknown_device_negative_cache);
	tcase_add_test(tc, suspended_and_superuser);
	tcase_add_test(tc, hashed_secrets);
	tcase_add_test(tc, unusable_record);
	tcase_add_test(tc, ttl_applies_changes);
	tcase_add_test(tc, ttl_zero_asks_every_time);
	tcase_add_test(tc, cache_disabled);
	tcase_add_test(tc, warm_connect_skips_pbkdf2);
	tcase_add_test(tc, throttle_blocks_without_queries);
	tcase_add_test(tc, blocked_address_admits_good_devices);
	tcase_add_test(tc, preload_fills_cache_without_broker_queries);
	tcase_add_test(tc, preload_miss_folds_the_queued_rest);
	tcase_add_test(tc, preload_bounded_by_revalidate_interval);
	tcase_add_test(tc, preload_all_scans_the_registry);
	tcase_add_test(tc, preload_all_falls_back_when_too_large);
	tcase_add_test(tc, startup_probe_reports_outage);
	tcase_add_test(tc, outage_policy);
	tcase_add_test(tc, outage_suspended_cached_record);
	tcase_add_test(tc, outage_grace_zero);
	tcase_add_test(tc, invalidate_always_reports);
	tcase_add_test(tc, invalidate_next_connect_queries);
	tcase_add_test(tc, revalidate_reports_changes_only);
	tcase_add_test(tc, revalidate_uncached_is_reported);
	tcase_add_test(tc, refetch_waits_out_outage);
	tcase_add_test(tc, refetch_queue_bounded);
	tcase_add_test(tc, stale_refetch_does_not_override);
	tcase_add_test(tc, bad_uri_fails_init);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
