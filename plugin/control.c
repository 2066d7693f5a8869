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
 * invalidateDevice {username} (re-reads the record before answering;
 * data.applied false: the registry was unavailable, re-read in the
 * background), getStats.
 */
#include <string.h>

#include <bson/bson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "auth/username.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"

#define MAX_COMMANDS 100

struct reply {
	bson_t *responses;   /* the array being built */
	uint32_t index;
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
	if(auth_username_check(u, ih->cfg.username_max_len, &plen)) return "invalid username";
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
	tick_queue_kick(ih, u, true, "kicked");
	BSON_APPEND_INT64(data, "kicked", n);
	return NULL;
}

static const char *cmd_kick_client(struct iothub *ih, const bson_t *cmd, bson_t *data)
{
	const char *id = get_str(cmd, "clientid");

	if(id == NULL || id[0] == '\0') return "missing clientid";
	tick_queue_kick(ih, id, false, "kicked");
	BSON_APPEND_INT64(data, "kicked", conn_table_find_client_id(ih->conns, id) ? 1 : 0);
	return NULL;
}

static const char *cmd_invalidate(struct iothub *ih, const bson_t *cmd, bson_t *data)
{
	const char *u = NULL, *err = get_username(ih, cmd, &u);
	int64_t n = 0;
	bool applied;

	if(err) return err;
	/* Re-read the record before answering (one query, bounded like a
	 * CONNECT's cache miss), so that once the response is out, new
	 * connects and the live ones already run on it: the caller may act on
	 * the change at once (a group command right after adding the tag, a
	 * publish right after an ACL grant). With the registry down the cache
	 * entry is dropped and the re-read happens in the background. */
	applied = auth_refresh(ih->auth, u, session_device_changed, ih);
	for(struct ih_conn *c = conn_table_by_username(ih->conns, u); c; c = c->next_by_user) n++;
	BSON_APPEND_INT64(data, "connections", n);
	BSON_APPEND_BOOL(data, "applied", applied);
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
		err = cmd_invalidate(ih, cmd, &data);
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

int control_handle(struct iothub *ih, struct mosquitto *client, const void *payload, uint32_t payloadlen)
{
	struct ih_conn *c = conn_table_find(ih->conns, client);
	const char *id = mosquitto_client_id(client);
	bson_t doc = BSON_INITIALIZER, responses;
	struct reply r = {&responses, 0};
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
		mosquitto_broker_publish_copy(id, IH_CONTROL_RESPONSE_TOPIC, (int)len, json, 1, false, NULL);
	}
	bson_free(json);
	bson_destroy(&doc);
	return MOSQ_ERR_SUCCESS;
}
