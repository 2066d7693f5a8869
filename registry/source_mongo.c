/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * MongoDB source (see source_mongo.h).
 *
 * Sources are plain libc/libbson objects: the worker creates and destroys
 * its own on its thread, where broker functions are off limits.
 */
#include <stdio.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "registry/device.h"
#include "registry/source_mongo.h"

/* The worker's batched $in queries carry hundreds of $lookup joins and
 * nobody waits on them, so they get this many times mongo_timeout before
 * the socket gives up (unless the URI sets socketTimeoutMS). */
#define WORKER_SOCKET_FACTOR 4

/* Never a valid ProductName/DeviceName, so the probe query matches nothing
 * while still exercising the whole pipeline. */
#define PROBE_USERNAME "\x01iothub-probe"

struct registry_mongo {
	mongoc_uri_t *broker_uri;
	mongoc_uri_t *worker_uri;
	char *db;
	char *devices;
	char *acl;              /* "" : no $lookup */
	char *field_username;
	int32_t max_time_ms;
	int32_t worker_max_time_ms;
};

struct mongo_source {
	struct auth_source base;
	const struct registry_mongo *m;
	const mongoc_uri_t *uri;
	int32_t max_time_ms;
	mongoc_client_t *client;
};

static void set_default_int(mongoc_uri_t *uri, const char *key, int32_t value)
{
	if(!mongoc_uri_has_option(uri, key)) mongoc_uri_set_option_as_int32(uri, key, value);
}

static mongoc_uri_t *complete_uri(const mongoc_uri_t *base, int32_t timeout_ms, int32_t socket_ms, bool broker_thread)
{
	mongoc_uri_t *uri = mongoc_uri_copy(base);

	if(uri == NULL) return NULL;
	/* A retried read doubles the worst-case wait on the broker loop (seen:
	 * a stalled aggregate held it 2 x socketTimeoutMS); the worker may retry. */
	if(broker_thread && !mongoc_uri_has_option(uri, MONGOC_URI_RETRYREADS)){
		mongoc_uri_set_option_as_bool(uri, MONGOC_URI_RETRYREADS, false);
	}
	set_default_int(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout_ms);
	set_default_int(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout_ms);
	set_default_int(uri, MONGOC_URI_SOCKETTIMEOUTMS, socket_ms);
	/* Single-threaded clients: one selection attempt, bounded by
	 * connectTimeoutMS, instead of looping until serverSelectionTimeoutMS. */
	mongoc_uri_set_option_as_bool(uri, MONGOC_URI_SERVERSELECTIONTRYONCE, true);
	if(mongoc_uri_get_appname(uri) == NULL) mongoc_uri_set_appname(uri, "mosquitto-iothub");
	return uri;
}

void registry_mongo_cleanup(struct registry_mongo *m)
{
	if(m == NULL) return;
	mongoc_uri_destroy(m->broker_uri);
	mongoc_uri_destroy(m->worker_uri);
	mosquitto_free(m->db);
	mosquitto_free(m->devices);
	mosquitto_free(m->acl);
	mosquitto_free(m->field_username);
	mosquitto_free(m);
}

int registry_mongo_init(struct registry_mongo **out, const struct ih_config *cfg, char *err, size_t errlen)
{
	struct registry_mongo *m;
	mongoc_uri_t *base = NULL;
	bson_error_t error;
	int32_t timeout = (int32_t)cfg->mongo_timeout_ms;
	int32_t socket_ms;
	int rc = -1;

	m = mosquitto_calloc(1, sizeof(*m));
	if(m == NULL){
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	base = mongoc_uri_new_with_error(cfg->mongo_uri, &error);
	if(base == NULL){
		/* libmongoc's message quotes the part it could not parse, never a password. */
		snprintf(err, errlen, "invalid mongo_uri: %s", error.message);
		goto done;
	}
	m->broker_uri = complete_uri(base, timeout, timeout, true);
	socket_ms = mongoc_uri_has_option(base, MONGOC_URI_SOCKETTIMEOUTMS)
			? mongoc_uri_get_option_as_int32(base, MONGOC_URI_SOCKETTIMEOUTMS, 0)
			: timeout * WORKER_SOCKET_FACTOR;
	m->worker_uri = complete_uri(base, timeout, socket_ms, false);
	m->db = mosquitto_strdup(cfg->mongo_db);
	m->devices = mosquitto_strdup(cfg->devices_collection);
	m->acl = mosquitto_strdup(cfg->acl_collection);
	m->field_username = mosquitto_strdup(cfg->field.username);
	if(!m->broker_uri || !m->worker_uri || !m->db || !m->devices || !m->acl || !m->field_username){
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* maxTimeMS lets the server give up when we do; 0 (socket timeout
	 * disabled in the URI) means no server-side limit either. */
	m->max_time_ms = timeout;
	m->worker_max_time_ms = socket_ms > 0 ? socket_ms : 0;
	*out = m; /* ownership passes to the caller */
	m = NULL;
	rc = 0;
done:
	mongoc_uri_destroy(base);
	registry_mongo_cleanup(m);
	return rc;
}

static void format_error(char *err, size_t errlen, const char *what, const bson_error_t *error)
{
	snprintf(err, errlen, "%s: %s (domain %u, code %u)", what, error->message, error->domain, error->code);
}

static int make_client(struct mongo_source *s, char *err, size_t errlen)
{
	bson_error_t error;

	s->client = mongoc_client_new_from_uri_with_error(s->uri, &error);
	if(s->client == NULL){
		format_error(err, errlen, "cannot create MongoDB client", &error);
		return -1;
	}
	mongoc_client_set_error_api(s->client, MONGOC_ERROR_API_VERSION_2);
	return 0;
}

/* usernames NULL: every document, at most n of them (the preload scan). */
static void build_pipeline(bson_t *pipeline, const struct registry_mongo *m, const char *const *usernames, size_t n)
{
	bson_t stage, match, in, lookup;
	char key[16];
	const char *k;
	uint32_t idx = 0;

	BSON_APPEND_DOCUMENT_BEGIN(pipeline, "0", &stage);
	BSON_APPEND_DOCUMENT_BEGIN(&stage, "$match", &match);
	if(usernames == NULL){
		/* An empty $match keeps the leading stage a plain filter. */
	}else if(n == 1){
		BSON_APPEND_UTF8(&match, m->field_username, usernames[0]);
	}else{
		bson_t cond;
		BSON_APPEND_DOCUMENT_BEGIN(&match, m->field_username, &cond);
		BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
		for(size_t i = 0; i < n; i++){
			bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
			BSON_APPEND_UTF8(&in, k, usernames[i]);
		}
		bson_append_array_end(&cond, &in);
		bson_append_document_end(&match, &cond);
	}
	bson_append_document_end(&stage, &match);
	bson_append_document_end(pipeline, &stage);
	idx++;

	if(n == 1 || usernames == NULL){
		bson_uint32_to_string(idx++, &k, key, sizeof(key));
		BSON_APPEND_DOCUMENT_BEGIN(pipeline, k, &stage);
		BSON_APPEND_INT64(&stage, "$limit", (int64_t)n);
		bson_append_document_end(pipeline, &stage);
	}
	if(m->acl[0]){
		bson_uint32_to_string(idx++, &k, key, sizeof(key));
		BSON_APPEND_DOCUMENT_BEGIN(pipeline, k, &stage);
		BSON_APPEND_DOCUMENT_BEGIN(&stage, "$lookup", &lookup);
		BSON_APPEND_UTF8(&lookup, "from", m->acl);
		BSON_APPEND_UTF8(&lookup, "localField", m->field_username);
		BSON_APPEND_UTF8(&lookup, "foreignField", m->field_username);
		BSON_APPEND_UTF8(&lookup, "as", AUTH_DEVICE_LOOKUP_FIELD);
		bson_append_document_end(&stage, &lookup);
		bson_append_document_end(pipeline, &stage);
	}
}

static int mongo_fetch(struct auth_source *base, const char *const *usernames, size_t n,
		auth_source_doc_fn on_doc, void *ud, char *err, size_t errlen)
{
	struct mongo_source *s = (struct mongo_source *)base;
	bson_t pipeline = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	mongoc_collection_t *coll = NULL;
	mongoc_cursor_t *cursor = NULL;
	const bson_t *doc;
	bson_error_t error;
	int rc = -1;

	if(n == 0) return 0;
	if(s->client == NULL && make_client(s, err, errlen)) goto done;
	/* usernames NULL (mongo_scan): a long cursor, so no maxTimeMS. */
	if(usernames && s->max_time_ms > 0) BSON_APPEND_INT32(&opts, "maxTimeMS", s->max_time_ms);
	build_pipeline(&pipeline, s->m, usernames, n);
	coll = mongoc_client_get_collection(s->client, s->m->db, s->m->devices);
	cursor = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, &pipeline, &opts, NULL);
	while(mongoc_cursor_next(cursor, &doc)){
		on_doc(ud, doc);
	}
	if(mongoc_cursor_error(cursor, &error)){
		format_error(err, errlen, "registry query failed", &error);
		goto done;
	}
	rc = 0;
done:
	mongoc_cursor_destroy(cursor);
	mongoc_collection_destroy(coll);
	bson_destroy(&opts);
	bson_destroy(&pipeline);
	return rc;
}

static void ignore_doc(void *ud, const bson_t *doc)
{
	(void)ud;
	(void)doc;
}

static int mongo_probe(struct auth_source *base, char *err, size_t errlen)
{
	struct mongo_source *s = (struct mongo_source *)base;
	static const char *const probe_user[] = {PROBE_USERNAME};
	bson_t cmd = BSON_INITIALIZER;
	bson_t reply;
	bson_error_t error;
	int rc = -1;

	if(s->client == NULL && make_client(s, err, errlen)) goto done;
	BSON_APPEND_INT32(&cmd, "ping", 1);
	if(!mongoc_client_command_simple(s->client, "admin", &cmd, NULL, &reply, &error)){
		bson_destroy(&reply);
		format_error(err, errlen, "ping failed", &error);
		goto done;
	}
	bson_destroy(&reply);
	/* Reachable is not enough: the query itself must work (permissions,
	 * $lookup support), or the registry would flap between up and down. */
	rc = mongo_fetch(base, probe_user, 1, ignore_doc, NULL, err, errlen);
done:
	bson_destroy(&cmd);
	return rc;
}

static int mongo_reset(struct auth_source *base, char *err, size_t errlen)
{
	struct mongo_source *s = (struct mongo_source *)base;

	mongoc_client_destroy(s->client);
	s->client = NULL;
	return make_client(s, err, errlen);
}

static void mongo_destroy(struct auth_source *base)
{
	struct mongo_source *s = (struct mongo_source *)base;

	if(s == NULL) return;
	mongoc_client_destroy(s->client);
	bson_free(s);
}

static int mongo_scan(struct auth_source *base, size_t limit, auth_source_doc_fn on_doc, void *ud, char *err, size_t errlen)
{
	return mongo_fetch(base, NULL, limit, on_doc, ud, err, errlen);
}

static const struct auth_source_ops mongo_ops = {
	mongo_fetch, mongo_probe, mongo_reset, mongo_destroy, mongo_scan,
};

int registry_mongo_source_create(void *ctx, bool broker_thread, struct auth_source **out, char *err, size_t errlen)
{
	const struct registry_mongo *m = ctx;
	struct mongo_source *s = bson_malloc0(sizeof(*s));

	s->base.ops = &mongo_ops;
	s->m = m;
	s->uri = broker_thread ? m->broker_uri : m->worker_uri;
	s->max_time_ms = broker_thread ? m->max_time_ms : m->worker_max_time_ms;
	if(make_client(s, err, errlen)){
		bson_free(s);
		return -1;
	}
	*out = &s->base; /* ownership passes to the caller */
	return 0;
}
