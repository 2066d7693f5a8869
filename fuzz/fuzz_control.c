/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * $CONTROL/iothub/v1 command handling (plugin/control.c, control_handle)
 * with arbitrary payloads, on a minimal plugin instance: default
 * configuration, the real connection table, auto-subscription index and
 * auth module (in-memory registry), no event forwarding.
 *
 * Input: selector byte (who sends it), then the payload.
 *   selector % 8: 0 a device (not a superuser), 1 a client we never
 *   accepted, 2 a client without an id, otherwise the superuser.
 * Properties:
 *  - exactly one response goes to the requester (none without an id), on
 *    the response topic, once any invalidateDevice it carries was applied
 *    (the registry re-read runs on the auth worker, so the target waits for
 *    it as the broker's tick would), and it is a JSON object with a "responses" array;
 *  - anyone but an accepted superuser gets "not authorised" and queues no
 *    kick;
 *  - nothing leaks across inputs.
 */
#include <unistd.h>

#include <bson/bson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/fuzz_registry.h"
#include "autosub/autosub_index.h"
#include "core/clock.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"
#include "plugin/kick.h"
#include "test/stubs/broker_stubs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct iothub ih;
static struct mosquitto *admin, *device, *stranger, *anonymous;

static struct mosquitto *add_conn(const char *id, const char *username, bool superuser)
{
	struct mosquitto *client = stub_client_new(id, username, NULL, 4, true);
	struct ih_conn *c = mosquitto_calloc(1, sizeof(*c)), *stale = NULL;

	if(c == NULL) abort();
	c->client = client;
	c->client_id = mosquitto_strdup(id);
	c->username = mosquitto_strdup(username);
	c->product_len = 2;
	c->superuser = superuser;
	c->state = IH_CONN_ONLINE;
	c->conn_seq = ih_conn_seq_next();
	if(conn_table_add(ih.conns, c, &stale) || stale) abort();
	return client;
}

static void applied(void *ud, const char *username, struct ih_device *dev)
{
	(void)dev;
	control_device_applied(ud, username);
}

/* Drive the re-reads an invalidation queued, as tick_run does, until the
 * held answer is released. */
static void release_held_answers(void)
{
	int64_t until = ih_mono_ms() + 10000;

	while(ih.control_waits && ih_mono_ms() < until){
		auth_tick(ih.auth, applied, &ih);
		if(ih.control_waits) usleep(200);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if(ih_config_parse(&ih.cfg, NULL, 0) || ih_ids_init() || conn_table_new(&ih.conns)
			|| autosub_index_new(&ih.autosub, false)){
		abort();
	}
	ih.auth = fuzz_auth_new(&ih.cfg);
	admin = add_conn("admin", "p1/admin", true);
	device = add_conn("d1a", "p1/d1", false);
	add_conn("d1b", "p1/d1", false);
	stranger = stub_client_new("stranger", "p1/d2", NULL, 4, true);
	anonymous = stub_client_new(NULL, NULL, NULL, 4, true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t sel = fz_u8(&f);
	struct mosquitto *who = sel % 8 == 0 ? device : sel % 8 == 1 ? stranger : sel % 8 == 2 ? anonymous : admin;
	bool privileged = who == admin;
	const struct stub_publish *p;

	stub_publish_clear();
	FZ_CHECK(control_handle(&ih, who, f.p, (uint32_t)f.n) == MOSQ_ERR_SUCCESS, "control_handle failed");
	release_held_answers();
	FZ_CHECK(ih.control_waits == NULL, "an answer still held after 10 s");
	if(who == anonymous){
		FZ_CHECK(stub_publish_count() == 0, "a response to a client without an id");
	}else{
		bson_error_t err;
		bson_t *doc;
		bson_iter_t it;

		FZ_CHECK(stub_publish_count() == 1, "%zu responses", stub_publish_count());
		p = stub_publish_get(0);
		FZ_CHECK(p->clientid && !strcmp(p->clientid, mosquitto_client_id(who)), "response to the wrong client");
		FZ_CHECK(!strcmp(p->topic, IH_CONTROL_RESPONSE_TOPIC), "response topic %s", p->topic);
		doc = bson_new_from_json(p->payload, p->payloadlen, &err);
		FZ_CHECK(doc != NULL, "response is not JSON (%s): %.*s", err.message,
				p->payloadlen > 400 ? 400 : p->payloadlen, (const char *)p->payload);
		FZ_CHECK(bson_iter_init_find(&it, doc, "responses") && BSON_ITER_HOLDS_ARRAY(&it), "no responses array");
		if(!privileged){
			FZ_CHECK(strstr((const char *)p->payload, "not authorised") != NULL, "non-superuser not refused: %s", (const char *)p->payload);
		}
		bson_destroy(doc);
	}
	if(!privileged) FZ_CHECK(ih.kicks == NULL, "a non-superuser queued a kick");
	kick_free(&ih);
	stub_publish_clear();
	auth_tick(ih.auth, NULL, NULL);
	return 0;
}
