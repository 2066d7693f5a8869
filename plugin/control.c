/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * $CONTROL/iothub/v1: administrative commands from superusers, in the
 * dynamic-security plugin's request/response shape:
 *
 *   request:  {"commands":[{"command":"kickDevice","username":"p1/d1","correlationData":"42"}, ...]}
 *   response: {"responses":[{"command":"kickDevice","correlationData":"42","data":{...}} | {...,"error":"..."}]}
 *
 * The response goes to $CONTROL/iothub/v1/response, delivered to the
 * requesting client only: other administrators have no business reading it.
 *
 * Commands: kickDevice {username}, kickClient {clientid},
 * invalidateDevice {username}, getStats.
 *
 * A request with invalidateDevice is answered once the registry re-read of
 * every device it names has been applied to the live connections (or after
 * CONTROL_APPLY_WAIT_MS, whichever comes first): when iothubctl returns, a
 * command published next already meets the new tags, ACL and status.
 */
#include <string.h>
#include <time.h>

#include <bson/bson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "registry/username.h"
#include "core/clock.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"
#include "plugin/kick.h"

#define MAX_COMMANDS 100
/* Longest an answer waits for the re-reads it asked for: a registry query
 * normally takes milliseconds; iothubctl's default timeout is 3 s. */
#define CONTROL_APPLY_WAIT_MS 2000

struct reply {
	bson_t *responses;   /* the array being built */
	uint32_t index;
	char *invalidated[MAX_COMMANDS];   /* owned copies */
	size_t n_invalidated;
};

/* An answer held until its invalidations were applied. */
struct ih_control_wait {
	struct ih_control_wait *next;
	char *client_id;     /* owned */
	char *json;          /* owned (bson allocator): the finished response */
	size_t len;
	char **pending;      /* owned usernames; NULL once applied */
	size_t n;
	size_t left;
	int64_t deadline_ms; /* monotonic */
};

static void reply_add(struct reply *r, const char *command, const char *correlation,
		const char *error, const bson_t *data)
{
	char key[16];
	const char *k;
	bson_t item;

	bson_uint32_to_string(r->index++, &k, key, sizeof(key));
	bson_append_document_begin(r->responses, k, -1, &item);
	BSON_APPEND_UTF8(&item, "command", command);
	if(correlation) BSON_APPEND_UTF8(&item, "correlationData", correlation);
	if(error) BSON_APPEND_UTF8(&item, "error", error);
	if(data) BSON_APPEND_DOCUMENT(&item, "data", data);
	bson_append_document_end(r->responses, &item);
}

static const char *get_str(const bson_t *cmd, const char *key)
{
	bson_iter_t it;

	if(bson_iter_init_find(&it, cmd, key) && BSON_ITER_HOLDS_UTF8(&it)){
		return bson_iter_utf8(&it, NULL);
	}
	return NULL;
}

/* Returns an error string, or NULL with a valid username in *out. */
static const char *get_username(struct iothub *ih, const bson_t *cmd, const char **out)
{
	const char *u = get_str(cmd, "username");
	size_t plen;

	if(u == NULL) return "missing username";
	if(registry_username_check(u, ih->cfg.username_max_len, &plen)) return "invalid username";
	*out = u;
	return NULL;
}

static const char *cmd_kick_device(struct iothub *ih, const bson_t *cmd, bson_t *data)
{
	const char *u = NULL, *err = get_username(ih, cmd, &u);
	int64_t n = 0;

	if(err) return err;
	for(struct ih_conn *c = conn_table_by_username(ih->conns, u); c; c = c->next_by_user){
		if(c->state == IH_CONN_ONLINE) n++;
	}
	fleet_kick_device(ih, u);
	BSON_APPEND_INT64(data, "kicked", n);
	return NULL;
}

static const char *cmd_kick_client(struct iothub *ih, const bson_t *cmd, bson_t *data)
{
	const char *id = get_str(cmd, "clientid");

	if(id == NULL || id[0] == '\0') return "missing clientid";
	fleet_kick_client(ih, id);
	BSON_APPEND_INT64(data, "kicked", conn_table_find_client_id(ih->conns, id) ? 1 : 0);
	return NULL;
}

static const char *cmd_invalidate(struct iothub *ih, struct reply *r, const bson_t *cmd, bson_t *data)
{
	const char *u = NULL, *err = get_username(ih, cmd, &u);
	int64_t n = 0;

	if(err) return err;
	/* The cache entry goes now, so the next CONNECT reads the registry; live
	 * connections are refreshed when the worker's re-read arrives, and the
	 * answer waits for that. */
	fleet_invalidate_device(ih, u);
	for(struct ih_conn *c = conn_table_by_username(ih->conns, u); c; c = c->next_by_user) n++;
	BSON_APPEND_INT64(data, "connections", n);
	/* Not waited for if the copy fails: the answer just comes sooner. */
	if(r->n_invalidated < MAX_COMMANDS){
		r->invalidated[r->n_invalidated] = mosquitto_strdup(u);
		if(r->invalidated[r->n_invalidated]) r->n_invalidated++;
	}
	return NULL;
}

static const char *cmd_stats(struct iothub *ih, bson_t *data)
{
	char *json = stats_json(ih);
	bson_t *doc;
	bson_error_t error;

	if(json == NULL) return "out of memory";
	doc = bson_new_from_json((const uint8_t *)json, -1, &error);
	mosquitto_free(json);
	if(doc == NULL) return "internal error";
	bson_concat(data, doc);
	stats_append_fleet(ih, data, doc);
	bson_destroy(doc);
	return NULL;
}

static void run_command(struct iothub *ih, struct reply *r, const bson_t *cmd)
{
	const char *name = get_str(cmd, "command");
	const char *corr = get_str(cmd, "correlationData");
	const char *err;
	bson_t data = BSON_INITIALIZER;

	ih->n.control_commands++;
	if(name == NULL){
		err = "missing command";
		name = "unknown";
	}else if(!strcmp(name, "kickDevice")){
		err = cmd_kick_device(ih, cmd, &data);
	}else if(!strcmp(name, "kickClient")){
		err = cmd_kick_client(ih, cmd, &data);
	}else if(!strcmp(name, "invalidateDevice")){
		err = cmd_invalidate(ih, r, cmd, &data);
	}else if(!strcmp(name, "getStats")){
		err = cmd_stats(ih, &data);
	}else{
		err = "unknown command";
	}
	reply_add(r, name, corr, err, err ? NULL : &data);
	bson_destroy(&data);
}

static void run_all(struct iothub *ih, struct reply *r, const void *payload, uint32_t payloadlen)
{
	bson_error_t error;
	bson_t *tree;
	bson_iter_t it, arr;
	unsigned count = 0;

	tree = bson_new_from_json(payload, (ssize_t)payloadlen, &error);
	if(tree == NULL){
		reply_add(r, "unknown", NULL, "payload is not a JSON object", NULL);
		return;
	}
	if(!bson_iter_init_find(&it, tree, "commands") || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)){
		reply_add(r, "unknown", NULL, "missing or invalid commands array", NULL);
		goto done;
	}
	while(bson_iter_next(&arr)){
		const uint8_t *buf;
		uint32_t len;
		bson_t cmd;

		if(++count > MAX_COMMANDS){
			reply_add(r, "unknown", NULL, "too many commands in one request", NULL);
			break;
		}
		if(!BSON_ITER_HOLDS_DOCUMENT(&arr)){
			reply_add(r, "unknown", NULL, "command is not an object", NULL);
			continue;
		}
		bson_iter_document(&arr, &len, &buf);
		if(!bson_init_static(&cmd, buf, len)){
			reply_add(r, "unknown", NULL, "malformed command", NULL);
			continue;
		}
		run_command(ih, r, &cmd);
	}
done:
	bson_destroy(tree);
}

static void wait_free(struct ih_control_wait *w)
{
	if(w == NULL) return;
	for(size_t i = 0; w->pending && i < w->n; i++) mosquitto_free(w->pending[i]);
	mosquitto_free(w->pending);
	mosquitto_free(w->client_id);
	bson_free(w->json);
	mosquitto_free(w);
}

static void wait_send(struct ih_control_wait *w)
{
	mosquitto_broker_publish_copy(w->client_id, IH_CONTROL_RESPONSE_TOPIC, (int)w->len, w->json, 1, false, NULL);
	wait_free(w);
}

/* Hold the answer; false (answer now) if that cannot be arranged. On
 * success the usernames of r pass to the wait. */
static bool wait_add(struct iothub *ih, const char *id, char *json, size_t len, struct reply *r)
{
	struct ih_control_wait *w = mosquitto_calloc(1, sizeof(*w));

	if(w == NULL) return false;
	w->pending = mosquitto_calloc(r->n_invalidated, sizeof(char *));
	w->client_id = mosquitto_strdup(id);
	if(w->pending == NULL || w->client_id == NULL) goto fail;
	memcpy(w->pending, r->invalidated, r->n_invalidated * sizeof(char *));
	w->n = w->left = r->n_invalidated;
	r->n_invalidated = 0; /* w owns the usernames */
	w->json = json; /* w owns json from here */
	w->len = len;
	w->deadline_ms = ih_mono_ms() + CONTROL_APPLY_WAIT_MS;
	w->next = ih->control_waits;
	ih->control_waits = w; /* the list owns w */
	return true;
fail:
	wait_free(w);
	return false;
}

void control_device_applied(struct iothub *ih, const char *username)
{
	struct ih_control_wait **pp = &ih->control_waits;

	while(*pp){
		struct ih_control_wait *w = *pp;

		for(size_t i = 0; i < w->n; i++){
			if(w->pending[i] && !strcmp(w->pending[i], username)){
				mosquitto_free(w->pending[i]);
				w->pending[i] = NULL;
				w->left--;
			}
		}
		if(w->left == 0){
			*pp = w->next;
			wait_send(w);
		}else{
			pp = &w->next;
		}
	}
}

void control_tick(struct iothub *ih)
{
	struct ih_control_wait **pp = &ih->control_waits;
	int64_t now;

	if(*pp == NULL) return;
	now = ih_mono_ms();
	while(*pp){
		struct ih_control_wait *w = *pp;

		if(now < w->deadline_ms){
			pp = &w->next;
			continue;
		}
		for(size_t i = 0; i < w->n; i++){
			if(w->pending[i] == NULL) continue;
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: the registry re-read of %s was not applied within %d ms"
					" (registry slow or down); answering client %s anyway, the change applies when it arrives",
					w->pending[i], CONTROL_APPLY_WAIT_MS, w->client_id);
		}
		*pp = w->next;
		wait_send(w);
	}
}

void control_cleanup(struct iothub *ih)
{
	while(ih->control_waits){
		struct ih_control_wait *w = ih->control_waits;
		ih->control_waits = w->next;
		wait_free(w);
	}
}

int control_handle(struct iothub *ih, struct mosquitto *client, const void *payload, uint32_t payloadlen)
{
	struct ih_conn *c = conn_table_find(ih->conns, client);
	const char *id = mosquitto_client_id(client);
	bson_t doc = BSON_INITIALIZER, responses;
	struct reply r = {.responses = &responses};
	char *json;
	size_t len;

	bson_append_array_begin(&doc, "responses", -1, &responses);
	if(c == NULL || !c->superuser || c->suspended){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: refused a control command from client %s: not a superuser",
				id ? id : "(null)");
		reply_add(&r, "unknown", NULL, "not authorised", NULL);
	}else{
		run_all(ih, &r, payload, payloadlen);
	}
	bson_append_array_end(&doc, &responses);

	json = bson_as_relaxed_extended_json(&doc, &len);
	if(json && id){
		if(r.n_invalidated > 0 && wait_add(ih, id, json, len, &r)){
			json = NULL; /* the wait list owns it */
		}else{
			mosquitto_broker_publish_copy(id, IH_CONTROL_RESPONSE_TOPIC, (int)len, json, 1, false, NULL);
		}
	}
	for(size_t i = 0; i < r.n_invalidated; i++) mosquitto_free(r.invalidated[i]);
	bson_free(json);
	bson_destroy(&doc);
	return MOSQ_ERR_SUCCESS;
}
