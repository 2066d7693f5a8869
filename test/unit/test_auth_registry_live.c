/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * registry.c, source_mongo.c and the worker against a real wire server:
 * tools/mongo_standin.py (mockupdb + mongomock) spoken to by libmongoc.
 * The stand-in is killed and restarted to check the outage handling.
 *
 * Skips (and passes) when the stand-in or its Debian packages are missing;
 * IH_MONGO_STANDIN names another script.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "auth/auth.h"
#include "auth/auth_internal.h"
#include "core/config.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

#define PYTHON "/usr/bin/python3"
#define DB "ih_live_test"

static const char *standin_path(void)
{
	const char *p = getenv("IH_MONGO_STANDIN");
	return p ? p : "tools/mongo_standin.py";
}

static bool standin_available(void)
{
	if(access(standin_path(), R_OK) != 0 || access(PYTHON, X_OK) != 0) return false;
	return system(PYTHON " -c 'import mockupdb, mongomock' >/dev/null 2>&1") == 0;
}

/* ------------------------------------------------------------------ */
/* the stand-in process                                                 */

static pid_t standin_pid;
static int standin_port;
static char data_file[64];

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Start on `port` (0: any); returns the port it listens on. */
static int standin_start(int port)
{
	int fds[2];
	char portbuf[16], line[256];
	size_t used = 0;
	double deadline = now_ms() + 15000;

	ck_assert_int_eq(pipe(fds), 0);
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	standin_pid = fork();
	ck_assert_int_ge(standin_pid, 0);
	if(standin_pid == 0){
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(PYTHON, PYTHON, standin_path(), "--port", portbuf, "--data", data_file, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	memset(line, 0, sizeof(line));
	while(now_ms() < deadline && !strchr(line, '\n')){
		ssize_t n = read(fds[0], line + used, sizeof(line) - used - 1);
		if(n > 0) used += (size_t)n;
		else usleep(20000);
	}
	close(fds[0]);
	ck_assert_msg(strchr(line, '\n') != NULL, "stand-in did not start: \"%s\"", line);
	ck_assert_int_eq(sscanf(strrchr(line, ':') + 1, "%d", &standin_port), 1);
	return standin_port;
}

static void standin_kill(void)
{
	if(standin_pid > 0){
		kill(standin_pid, SIGKILL);
		waitpid(standin_pid, NULL, 0);
	}
	standin_pid = 0;
}

/* ------------------------------------------------------------------ */
/* seeding through libmongoc                                            */

static mongoc_client_t *admin_client(void)
{
	char uri[128];
	snprintf(uri, sizeof(uri), "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=3000", standin_port);
	mongoc_client_t *c = mongoc_client_new(uri);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void db_command(const char *coll, const char *op, const char *json)
{
	mongoc_client_t *c = admin_client();
	mongoc_collection_t *col = mongoc_client_get_collection(c, DB, coll);
	bson_error_t err;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &err);
	bool ok;

	ck_assert_msg(doc != NULL, "bad JSON %s", json);
	if(!strcmp(op, "insert")){
		ok = mongoc_collection_insert_one(col, doc, NULL, NULL, &err);
	}else{
		/* "delete": json is the filter */
		ok = mongoc_collection_delete_many(col, doc, NULL, NULL, &err);
	}
	ck_assert_msg(ok, "%s %s: %s", op, json, err.message);
	bson_destroy(doc);
	mongoc_collection_destroy(col);
	mongoc_client_destroy(c);
}

static void db_update(const char *coll, const char *filter, const char *update)
{
	mongoc_client_t *c = admin_client();
	mongoc_collection_t *col = mongoc_client_get_collection(c, DB, coll);
	bson_error_t err;
	bson_t *f = bson_new_from_json((const uint8_t *)filter, -1, &err);
	bson_t *u = bson_new_from_json((const uint8_t *)update, -1, &err);

	ck_assert(mongoc_collection_update_one(col, f, u, NULL, NULL, &err));
	bson_destroy(f);
	bson_destroy(u);
	mongoc_collection_destroy(col);
	mongoc_client_destroy(c);
}

static void standin_delay(int ms, const char *only)
{
	mongoc_client_t *c = admin_client();
	bson_t cmd = BSON_INITIALIZER, arr, reply;
	bson_error_t err;

	BSON_APPEND_INT32(&cmd, "standinSetDelay", ms);
	if(only){
		BSON_APPEND_ARRAY_BEGIN(&cmd, "only", &arr);
		BSON_APPEND_UTF8(&arr, "0", only);
		bson_append_array_end(&cmd, &arr);
	}
	ck_assert_msg(mongoc_client_command_simple(c, "admin", &cmd, NULL, &reply, &err), "%s", err.message);
	bson_destroy(&reply);
	bson_destroy(&cmd);
	mongoc_client_destroy(c);
}

/* ------------------------------------------------------------------ */
/* fixture                                                              */

static struct ih_config cfg;
static struct auth *A;
static bool skip;

#define CB_MAX 32
static struct {
	char username[64];
	bool gone;
	bool active;
} cbs[CB_MAX];
static int ncb;

static void record_cb(void *ud, const char *username, struct ih_device *dev)
{
	(void)ud;
	if(ncb >= CB_MAX) return;
	snprintf(cbs[ncb].username, sizeof(cbs[ncb].username), "%s", username);
	cbs[ncb].gone = dev == NULL;
	cbs[ncb].active = dev && dev->active;
	ncb++;
}

static int cb_index(const char *u)
{
	for(int i = 0; i < ncb; i++) if(!strcmp(cbs[i].username, u)) return i;
	return -1;
}

static void set_uri(void)
{
	char uri[128];

	snprintf(uri, sizeof(uri), "mongodb://127.0.0.1:%d", standin_port);
	mosquitto_free(cfg.mongo_uri);
	cfg.mongo_uri = mosquitto_strdup(uri);
	mosquitto_free(cfg.mongo_db);
	cfg.mongo_db = mosquitto_strdup(DB);
}

static void setup(void)
{
	skip = !standin_available();
	if(skip) return;
	snprintf(data_file, sizeof(data_file), "/tmp/ih-live-%d.json", (int)getpid());
	unlink(data_file);
	mongoc_init();
	ck_assert_int_eq(ih_config_parse(&cfg, NULL, 0), 0);
	cfg.mongo_timeout_ms = 1000;   /* generous: the stand-in is Python, and tests may run in parallel */
	cfg.mongo_probe_ms = 200;
	cfg.revalidate_batch = 2;
	stub_log_clear();
	ncb = 0;
	standin_start(0);
	set_uri();
	db_command("devices", "insert", "{\"product_name\": \"p1\", \"device_name\": \"d1\", \"broker_username\": \"p1/d1\","
			" \"secret\": \"s1\", \"status\": \"active\", \"tags\": [\"t1\"], \"acl\": {\"publish\": [\"inline/%u\"]}}");
	db_command("devices", "insert", "{\"broker_username\": \"p1/d2\", \"secret\": \"s2\"}");
	db_command("devices", "insert", "{\"broker_username\": \"p1/d3\", \"secret\": \"s3\"}");
	db_command("devices", "insert", "{\"broker_username\": \"p1/d4\", \"secret\": \"s4\"}");
	db_command("devices", "insert", "{\"broker_username\": \"p1/d5\", \"secret\": \"s5\"}");
	db_command("device_acl", "insert", "{\"broker_username\": \"p1/d1\", \"publish\": [\"a/%u\"],"
			" \"subscribe\": [\"s/%u/#\"], \"deny\": [\"secret/#\"]}");
}

static void teardown(void)
{
	if(skip) return;
	auth_cleanup(A);
	A = NULL;
	standin_kill();
	unlink(data_file);
	ih_config_cleanup(&cfg);
	mongoc_cleanup();
}

#define SKIP_IF_NO_STANDIN() \
	do { \
		if(skip){ \
			fprintf(stderr, "SKIP %s: %s or python3-mockupdb/python3-mongomock not available\n", __func__, standin_path()); \
			return; \
		} \
	} while(0)

static int check(const char *u, const char *pw, struct ih_device **dev)
{
	return auth_check(A, "c1", "127.0.0.1", u, pw, dev);
}

static void expect_ok(const char *u, const char *pw)
{
	struct ih_device *dev = NULL;
	ck_assert_msg(check(u, pw, &dev) == MOSQ_ERR_SUCCESS, "refused %s", u);
	registry_device_unref(dev);
}

static bool has(const struct ih_strlist *l, const char *s)
{
	for(size_t i = 0; i < l->count; i++) if(!strcmp(l->items[i], s)) return true;
	return false;
}

static bool tick_until(bool (*cond)(void), int max_ms)
{
	double end = now_ms() + max_ms;
	while(now_ms() < end){
		auth_tick(A, record_cb, NULL);
		if(cond()) return true;
		usleep(10000);
	}
	return false;
}

static bool is_up(void) { return auth_registry_up(A); }
static bool is_down(void) { return !auth_registry_up(A); }

/* ------------------------------------------------------------------ */
/* tests                                                                */

START_TEST(lookup_found_and_not_found)
{
	struct ih_device *dev = NULL;

	SKIP_IF_NO_STANDIN();
	ck_assert_int_eq(auth_init(&A, &cfg), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(check("p1/d1", "s1", &dev), MOSQ_ERR_SUCCESS);
	/* $lookup merge: device_acl document first, then the inline lists. */
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].count, 2);
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[0], "a/%u");
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[1], "inline/%u");
	ck_assert(has(&registry_device_acl(dev)->list[IH_ACL_SUBSCRIBE], "s/%u/#"));
	ck_assert(has(&registry_device_acl(dev)->list[IH_ACL_DENY], "secret/#"));
	ck_assert(has(&dev->tags, "t1"));
	registry_device_unref(dev);
	ck_assert_int_eq(check("p1/d1", "wrong", &dev), MOSQ_ERR_AUTH);
	ck_assert_int_eq(check("p1/nobody", "x", &dev), MOSQ_ERR_AUTH);
	ck_assert(stub_log_contains("unknown device"));
	expect_ok("p1/d2", "s2");
	ck_assert(auth_registry_up(A));
}
END_TEST

START_TEST(no_acl_collection)
{
	struct ih_device *dev = NULL;

	SKIP_IF_NO_STANDIN();
	mosquitto_free(cfg.acl_collection);
	cfg.acl_collection = mosquitto_strdup("");
	ck_assert_int_eq(auth_init(&A, &cfg), MOSQ_ERR_SUCCESS);
	ck_assert_int_eq(check("p1/d1", "s1", &dev), MOSQ_ERR_SUCCESS);
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].count, 1);
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[0], "inline/%u");
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_DENY].count, 0);
	registry_device_unref(dev);
}
END_TEST

START_TEST(killed_and_restarted)
{
	struct ih_device *dev = NULL;
	struct auth_stats st;
	double t0, first_fail, next_fail, recovered;
	int port;

	SKIP_IF_NO_STANDIN();
	cfg.auth_cache_ttl_s = 0;   /* every connect asks the registry */
	ck_assert_int_eq(auth_init(&A, &cfg), MOSQ_ERR_SUCCESS);
	/* Else the start-up probe may be the one to find the registry gone. */
	ck_assert(auth_wait_startup_probe(A, 5000));
	expect_ok("p1/d1", "s1");
	port = standin_port;

	standin_kill();
	t0 = now_ms();
	/* Outage rule: verified before, so admitted with the same password. */
	expect_ok("p1/d1", "s1");
	first_fail = now_ms() - t0;
	ck_assert(!auth_registry_up(A));
	ck_assert_msg(first_fail < 2 * cfg.mongo_timeout_ms + 200, "first failing connect took %.0f ms", first_fail);
	t0 = now_ms();
	ck_assert_int_eq(check("p1/d2", "s2", &dev), MOSQ_ERR_AUTH);   /* never verified here */
	ck_assert_int_eq(check("p1/d1", "nope", &dev), MOSQ_ERR_AUTH);
	next_fail = now_ms() - t0;
	ck_assert_msg(next_fail < 50, "connects during the outage took %.1f ms", next_fail);
	ck_assert_int_eq(stub_log_count("device registry unavailable:"), 1);
	fprintf(stderr, "live: registry killed: first connect %.0f ms (mongo_timeout %u ms), next two %.2f ms\n",
			first_fail, cfg.mongo_timeout_ms, next_fail);

	/* Probes keep failing while it is away: still one line. */
	usleep(3 * cfg.mongo_probe_ms * 1000);
	auth_tick(A, record_cb, NULL);
	ck_assert_int_eq(stub_log_count("device registry unavailable:"), 1);

	standin_start(port);
	t0 = now_ms();
	ck_assert(tick_until(is_up, 5000));
	recovered = now_ms() - t0;
	fprintf(stderr, "live: registry back %.0f ms after restart (probe interval %u ms)\n", recovered, cfg.mongo_probe_ms);
	ck_assert_int_eq(stub_log_count("device registry available again"), 1);
	ck_assert(stub_log_contains("2 connects were refused meanwhile"));
	/* The broker-thread client was recreated: this goes out at once. */
	t0 = now_ms();
	expect_ok("p1/d2", "s2");
	ck_assert_msg(now_ms() - t0 < 1000, "first connect after recovery took %.0f ms", now_ms() - t0);
	auth_get_stats(A, &st);
	ck_assert_uint_eq(st.outage_admits, 1);
	ck_assert(st.registry_up);
	ck_assert_uint_ge(st.registry_errors, 1);
}
END_TEST

START_TEST(slow_queries_time_out)
{
	struct ih_device *dev = NULL;
	double t0, took;

	SKIP_IF_NO_STANDIN();
	ck_assert_int_eq(auth_init(&A, &cfg), MOSQ_ERR_SUCCESS);
	ck_assert(auth_wait_startup_probe(A, 5000));
	expect_ok("p1/d1", "s1");
	/* The server answers hello but sits on queries: socketTimeoutMS bounds the wait. */
	standin_delay(3000, "aggregate");
	t0 = now_ms();
	ck_assert_int_eq(check("p1/d2", "s2", &dev), MOSQ_ERR_AUTH);
	took = now_ms() - t0;
	fprintf(stderr, "live: stalled query refused after %.0f ms (mongo_timeout %u ms)\n", took, cfg.mongo_timeout_ms);
	ck_assert_msg(took < cfg.mongo_timeout_ms + 300, "stalled query held the loop %.0f ms", took);
	ck_assert(!auth_registry_up(A));
	/* ping works, but the probe also runs the query, and an answer slower
	 * than mongo_timeout does not count: no flapping. */
	{
		double end = now_ms() + 4500;
		while(now_ms() < end){
			auth_tick(A, record_cb, NULL);
			ck_assert(!auth_registry_up(A));
			usleep(20000);
		}
	}
	ck_assert_int_eq(stub_log_count("device registry available again"), 0);
	standin_delay(0, NULL);
	ck_assert(tick_until(is_up, 15000));
	expect_ok("p1/d2", "s2");
}
END_TEST

START_TEST(down_at_startup)
{
	struct ih_device *dev = NULL;
	double t0;

	SKIP_IF_NO_STANDIN();
	standin_kill();
	ck_assert_int_eq(auth_init(&A, &cfg), MOSQ_ERR_SUCCESS);
	ck_assert(tick_until(is_down, 5000));
	ck_assert_int_eq(stub_log_count("device registry unavailable:"), 1);
	t0 = now_ms();
	ck_assert_int_eq(check("p1/d1", "s1", &dev), MOSQ_ERR_AUTH);
	ck_assert(now_ms() - t0 < 50);
}
END_TEST

static bool three_cbs(void) { return ncb >= 3; }

START_TEST(batched_revalidation)
{
	const char *users[] = {"p1/d1", "p1/d2", "p1/d3", "p1/d4", "p1/d5"};

	SKIP_IF_NO_STANDIN();
	ck_assert_int_eq(auth_init(&A, &cfg), MOSQ_ERR_SUCCESS);
	for(int i = 0; i < 5; i++){
		char pw[16];
		snprintf(pw, sizeof(pw), "s%d", i + 1);
		expect_ok(users[i], pw);
	}
	db_update("devices", "{\"broker_username\": \"p1/d2\"}", "{\"$set\": {\"status\": \"suspended\"}}");
	db_command("devices", "delete", "{\"broker_username\": \"p1/d4\"}");
	db_command("device_acl", "insert", "{\"broker_username\": \"p1/d5\", \"subscribe\": [\"extra/#\"]}");
	ck_assert_int_eq(auth_revalidate(A, users, 5), MOSQ_ERR_SUCCESS);
	ck_assert(tick_until(three_cbs, 5000));
	usleep(300000);
	auth_tick(A, record_cb, NULL);
	ck_assert_int_eq(ncb, 3);
	ck_assert(!cbs[cb_index("p1/d2")].active && !cbs[cb_index("p1/d2")].gone);
	ck_assert(cbs[cb_index("p1/d4")].gone);
	ck_assert(cbs[cb_index("p1/d5")].active);
	ck_assert_int_lt(cb_index("p1/d1"), 0);
	ck_assert_int_lt(cb_index("p1/d3"), 0);
	/* Invalidation reports even an unchanged record. */
	auth_invalidate(A, "p1/d3");
	ck_assert(tick_until(three_cbs, 100) && ncb == 3);
	{
		double end = now_ms() + 5000;
		while(cb_index("p1/d3") < 0 && now_ms() < end){
			auth_tick(A, record_cb, NULL);
			usleep(10000);
		}
	}
	ck_assert_int_ge(cb_index("p1/d3"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry_live");
	TCase *tc = tcase_create("standin");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, lookup_found_and_not_found);
	tcase_add_test(tc, no_acl_collection);
	tcase_add_test(tc, killed_and_restarted);
	tcase_add_test(tc, slow_queries_time_out);
	tcase_add_test(tc, down_at_startup);
	tcase_add_test(tc, batched_revalidation);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
