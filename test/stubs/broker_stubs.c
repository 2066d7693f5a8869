/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Broker function stand-ins for unit tests (see broker_stubs.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "test/stubs/broker_stubs.h"

struct mosquitto {
	char *id;
	char *username;
	char *address;
	int protocol_version;
	bool clean_session;
	int keepalive;
};

static long live_blocks;

void *mosquitto_malloc(size_t size)
{
	void *p = malloc(size);
	if(p) live_blocks++;
	return p;
}

void *mosquitto_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb, size);
	if(p) live_blocks++;
	return p;
}

void *mosquitto_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size);
	if(p && ptr == NULL) live_blocks++;
	return p;
}

void mosquitto_free(void *mem)
{
	if(mem) live_blocks--;
	free(mem);
}

char *mosquitto_strdup(const char *s)
{
	char *p = strdup(s);
	if(p) live_blocks++;
	return p;
}

long stub_mem_live_blocks(void)
{
	return live_blocks;
}

/* ---- logging ---- */

static char *log_lines[STUB_LOG_MAX];
static int log_next;
static bool log_echo;

void mosquitto_log_printf(int level, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if(log_echo) fprintf(stderr, "log: %s\n", buf);
	free(log_lines[log_next % STUB_LOG_MAX]);
	log_lines[log_next % STUB_LOG_MAX] = strdup(buf);
	log_next++;
}

bool stub_log_contains(const char *needle)
{
	return stub_log_count(needle) > 0;
}

int stub_log_count(const char *needle)
{
	int n = 0;
	for(int i = 0; i < STUB_LOG_MAX; i++){
		if(log_lines[i] && strstr(log_lines[i], needle)) n++;
	}
	return n;
}

void stub_log_clear(void)
{
	for(int i = 0; i < STUB_LOG_MAX; i++){
		free(log_lines[i]);
		log_lines[i] = NULL;
	}
	log_next = 0;
}

void stub_log_echo(bool on)
{
	log_echo = on;
}

/* ---- clients ---- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct mosquitto *stub_client_new(const char *client_id, const char *username, const char *address,
		int protocol_version, bool clean_session)
{
	struct mosquitto *c = calloc(1, sizeof(*c));
	if(c == NULL) abort();
	c->id = dup_or_null(client_id);
	c->username = dup_or_null(username);
	c->address = dup_or_null(address ? address : "127.0.0.1");
	c->protocol_version = protocol_version;
	c->clean_session = clean_session;
	c->keepalive = 60;
	return c;
}

void stub_client_free(struct mosquitto *c)
{
	if(c == NULL) return;
	free(c->id);
	free(c->username);
	free(c->address);
	free(c);
}

void stub_client_set_id(struct mosquitto *c, const char *client_id)
{
	free(c->id);
	c->id = dup_or_null(client_id);
}

const char *mosquitto_client_address(const struct mosquitto *client)
{
	return client ? client->address : NULL;
}

bool mosquitto_client_clean_session(const struct mosquitto *client)
{
	return client ? client->clean_session : true;
}

const char *mosquitto_client_id(const struct mosquitto *client)
{
	return client ? client->id : NULL;
}

int mosquitto_client_keepalive(const struct mosquitto *client)
{
	return client ? client->keepalive : -1;
}

int mosquitto_client_protocol(const struct mosquitto *client)
{
	(void)client;
	return 0;
}

int mosquitto_client_protocol_version(const struct mosquitto *client)
{
	return client ? client->protocol_version : 0;
}

const char *mosquitto_client_username(const struct mosquitto *client)
{
	return client ? client->username : NULL;
}

/* Stub clients never hold broker subscriptions. */
int mosquitto_client_sub_count(const struct mosquitto *client)
{
	(void)client;
	return 0;
}

/* ---- publish / kick ---- */

static struct stub_publish pubs[STUB_PUB_MAX];
static size_t pub_count;

static void pub_record(const char *clientid, const char *topic, int payloadlen, const void *payload, int qos, bool retain)
{
	struct stub_publish *p;

	if(pub_count >= STUB_PUB_MAX) return;
	p = &pubs[pub_count++];
	p->clientid = dup_or_null(clientid);
	p->topic = dup_or_null(topic);
	p->payloadlen = payloadlen;
	p->payload = malloc((size_t)payloadlen + 1);
	if(p->payload == NULL) abort();
	if(payloadlen > 0) memcpy(p->payload, payload, (size_t)payloadlen);
	((char *)p->payload)[payloadlen] = '\0';
	p->qos = qos;
	p->retain = retain;
}

int mosquitto_broker_publish(const char *clientid, const char *topic, int payloadlen, void *payload,
		int qos, bool retain, mosquitto_property *properties)
{
	(void)properties;
	if(topic == NULL || payloadlen < 0 || qos < 0 || qos > 2) return MOSQ_ERR_INVAL;
	pub_record(clientid, topic, payloadlen, payload, qos, retain);
	/* The broker owns the payload from here on: it was allocated with mosquitto_malloc. */
	mosquitto_free(payload);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_broker_publish_copy(const char *clientid, const char *topic, int payloadlen, const void *payload,
		int qos, bool retain, mosquitto_property *properties)
{
	(void)properties;
	if(topic == NULL || payloadlen < 0 || qos < 0 || qos > 2) return MOSQ_ERR_INVAL;
	pub_record(clientid, topic, payloadlen, payload, qos, retain);
	return MOSQ_ERR_SUCCESS;
}

size_t stub_publish_count(void)
{
	return pub_count;
}

const struct stub_publish *stub_publish_get(size_t i)
{
	return i < pub_count ? &pubs[i] : NULL;
}

void stub_publish_clear(void)
{
	for(size_t i = 0; i < pub_count; i++){
		free(pubs[i].clientid);
		free(pubs[i].topic);
		free(pubs[i].payload);
	}
	pub_count = 0;
}

#define KICK_MAX 256
static char *kicks[KICK_MAX];
static size_t kick_count;

static void kick_record(const char *prefix, const char *name)
{
	char buf[512];

	if(kick_count >= KICK_MAX) return;
	snprintf(buf, sizeof(buf), "%s%s", prefix, name ? name : "(null)");
	kicks[kick_count++] = strdup(buf);
}

int mosquitto_kick_client_by_clientid(const char *clientid, bool with_will)
{
	(void)with_will;
	kick_record("id:", clientid);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_kick_client_by_username(const char *username, bool with_will)
{
	(void)with_will;
	kick_record("user:", username);
	return MOSQ_ERR_SUCCESS;
}

size_t stub_kick_count(void)
{
	return kick_count;
}

const char *stub_kick_get(size_t i)
{
	return i < kick_count ? kicks[i] : NULL;
}

void stub_kick_clear(void)
{
	for(size_t i = 0; i < kick_count; i++) free(kicks[i]);
	kick_count = 0;
}

/* ---- callbacks ---- */

/* The last callback registered per event (with its userdata), so that a
 * harness can play the broker (stub_callback_fire). Events with a filter
 * (MOSQ_EVT_CONTROL's topic) keep only the last one as well. */
#define STUB_EVT_MAX 16
static MOSQ_FUNC_generic_callback stub_cb[STUB_EVT_MAX];
static void *stub_cb_ud[STUB_EVT_MAX];

int mosquitto_callback_register(mosquitto_plugin_id_t *identifier, int event, MOSQ_FUNC_generic_callback cb_func,
		const void *event_data, void *userdata)
{
	(void)identifier; (void)event_data;
	if(event >= 0 && event < STUB_EVT_MAX){
		stub_cb[event] = cb_func;
		stub_cb_ud[event] = userdata;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_callback_unregister(mosquitto_plugin_id_t *identifier, int event, MOSQ_FUNC_generic_callback cb_func,
		const void *event_data)
{
	(void)identifier; (void)event_data;
	if(event >= 0 && event < STUB_EVT_MAX && stub_cb[event] == cb_func){
		stub_cb[event] = NULL;
		stub_cb_ud[event] = NULL;
	}
	return MOSQ_ERR_SUCCESS;
}

int stub_callback_fire(int event, void *event_data)
{
	if(event < 0 || event >= STUB_EVT_MAX || stub_cb[event] == NULL) return MOSQ_ERR_NOT_SUPPORTED;
	return stub_cb[event](event, event_data, stub_cb_ud[event]);
}
