/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Control channel client (see ctl_control.h). libmosquitto, MQTT v5, clean
 * session, one unique client id per run, driven by mosquitto_loop() from
 * this thread so the whole exchange is bounded by one deadline.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "auth/secret.h"
#include "tools/ctl/ctl_control.h"
#include "tools/ctl/ctl_output.h"

enum xstate { X_CONNECTING, X_SUBSCRIBING, X_WAITING, X_DONE, X_FAILED };

struct exchange {
	struct ctl_control_cmd *cmds;
	size_t n;
	size_t answered;
	char *request;
	int sub_mid;
	int pub_mid;
	bool verbose;
	enum xstate state;
	char err[512];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void x_fail(struct exchange *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first failure wins: later callbacks (e.g. the disconnect that follows
 * a refused CONNACK) must not overwrite the reason. */
static void x_fail(struct exchange *x, const char *fmt, ...)
{
	va_list ap;

	if(x->state == X_DONE || x->state == X_FAILED) return;
	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	x->state = X_FAILED;
}

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct exchange *x = ud;

	(void)flags;
	(void)props;
	if(rc != 0){
		x_fail(x, "the broker refused the connection: %s", mosquitto_reason_string(rc));
		return;
	}
	x->state = X_SUBSCRIBING;
	rc = mosquitto_subscribe_v5(mosq, &x->sub_mid, CTL_CONTROL_RESPONSE_TOPIC, 1, 0, NULL);
	if(rc != MOSQ_ERR_SUCCESS) x_fail(x, "cannot subscribe to the response topic: %s", mosquitto_strerror(rc));
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int qos_count, const int *granted,
		const mosquitto_property *props)
{
	struct exchange *x = ud;
	int rc;

	(void)props;
	if(mid != x->sub_mid || x->state != X_SUBSCRIBING) return;
	/* A refused subscription is not fatal: the plugin may answer the
	 * requesting client directly, without a subscription. */
	if(x->verbose && qos_count > 0 && granted[0] >= 0x80){
		fprintf(stderr, "iothubctl: broker refused the subscription to %s (%s)\n",
				CTL_CONTROL_RESPONSE_TOPIC, mosquitto_reason_string(granted[0]));
	}
	x->state = X_WAITING;
	rc = mosquitto_publish_v5(mosq, &x->pub_mid, CTL_CONTROL_TOPIC, (int)strlen(x->request), x->request,
			1, false, NULL);
	if(rc != MOSQ_ERR_SUCCESS) x_fail(x, "cannot publish the control request: %s", mosquitto_strerror(rc));
}

static void on_publish(struct mosquitto *mosq, void *ud, int mid, int reason, const mosquitto_property *props)
{
	struct exchange *x = ud;

	(void)mosq;
	(void)props;
	if(mid == x->pub_mid && reason >= 0x80){
		x_fail(x, "the broker rejected the control request: %s", mosquitto_reason_string(reason));
	}
}

/* Take one entry of "responses" if its correlationData is one of ours. */
static void take_response(struct exchange *x, const bson_t *resp)
{
	bson_iter_t it;
	const char *corr;

	if(!bson_iter_init_find(&it, resp, "correlationData") || !BSON_ITER_HOLDS_UTF8(&it)) return;
	corr = bson_iter_utf8(&it, NULL);
	for(size_t i = 0; i < x->n; i++){
		struct ctl_control_cmd *c = &x->cmds[i];
		if(c->answered || strcmp(c->correlation, corr)) continue;
		c->answered = true;
		x->answered++;
		if(bson_iter_init_find(&it, resp, "error") && BSON_ITER_HOLDS_UTF8(&it)){
			snprintf(c->error, sizeof(c->error), "%s", bson_iter_utf8(&it, NULL));
			if(c->error[0] == '\0') snprintf(c->error, sizeof(c->error), "failed");
		}else if(bson_iter_init_find(&it, resp, "data") && BSON_ITER_HOLDS_DOCUMENT(&it)){
			const uint8_t *data;
			uint32_t len;
			bson_t sub;
			bson_iter_document(&it, &len, &data);
			if(bson_init_static(&sub, data, len)){
				bson_destroy(&c->data);
				bson_copy_to(&sub, &c->data);
			}
		}
		return;
	}
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	struct exchange *x = ud;
	bson_error_t e;
	bson_t *doc;
	bson_iter_t it, child;

	(void)mosq;
	(void)props;
	if(strcmp(msg->topic, CTL_CONTROL_RESPONSE_TOPIC) || msg->payloadlen <= 0) return;
	/* Other clients' responses may reach us too; unparsable ones are not
	 * necessarily ours, so they are skipped rather than fatal. */
	doc = bson_new_from_json(msg->payload, msg->payloadlen, &e);
	if(doc == NULL){
		if(x->verbose) fprintf(stderr, "iothubctl: unparsable control response: %s\n", e.message);
		return;
	}
	if(bson_iter_init_find(&it, doc, "responses") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &child)){
		while(bson_iter_next(&child)){
			const uint8_t *data;
			uint32_t len;
			bson_t resp;
			if(!BSON_ITER_HOLDS_DOCUMENT(&child)) continue;
			bson_iter_document(&child, &len, &data);
			if(bson_init_static(&resp, data, len)) take_response(x, &resp);
		}
	}
	bson_destroy(doc);
	if(x->answered == x->n && x->state != X_FAILED) x->state = X_DONE;
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	struct exchange *x = ud;

	(void)mosq;
	(void)props;
	x_fail(x, "the broker closed the connection (%s)", rc ? mosquitto_reason_string(rc) : "no reason given");
}

static void on_log(struct mosquitto *mosq, void *ud, int level, const char *str)
{
	(void)mosq;
	(void)ud;
	(void)level;
	fprintf(stderr, "iothubctl: mqtt: %s\n", str);
}

static char *build_request(struct ctl_control_cmd *cmds, size_t n)
{
	bson_t req = BSON_INITIALIZER, arr, one;
	char *json = NULL;

	BSON_APPEND_ARRAY_BEGIN(&req, "commands", &arr);
	for(size_t i = 0; i < n; i++){
		char key[16];
		const char *k;
		bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
		BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &one);
		BSON_APPEND_UTF8(&one, "command", cmds[i].command);
		if(cmds[i].username) BSON_APPEND_UTF8(&one, "username", cmds[i].username);
		BSON_APPEND_UTF8(&one, "correlationData", cmds[i].correlation);
		bson_append_document_end(&arr, &one);
	}
	bson_append_array_end(&req, &arr);
	json = ctl_json_from_bson(&req);
	bson_destroy(&req);
	return json;
}

static const char *timeout_reason(enum xstate st)
{
	switch(st){
		case X_CONNECTING: return "no CONNACK from the broker";
		case X_SUBSCRIBING: return "no SUBACK from the broker";
		default: return "no response on " CTL_CONTROL_RESPONSE_TOPIC
				" (is the iothub plugin loaded with plugin_opt_control true?)";
	}
}

int ctl_control_run(const struct ctl_control_target *t, struct ctl_control_cmd *cmds, size_t n,
		char *err, size_t errlen)
{
	struct exchange x;
	struct mosquitto *mosq = NULL;
	char client_id[40] = "iothubctl-";
	int64_t deadline = now_ms() + t->timeout_ms;
	int rc = -1, mrc;

	memset(&x, 0, sizeof(x));
	x.cmds = cmds;
	x.n = n;
	x.verbose = t->verbose;
	for(size_t i = 0; i < n; i++){
		bson_init(&cmds[i].data);
		cmds[i].answered = false;
		cmds[i].error[0] = '\0';
	}
	for(size_t i = 0; i < n; i++){
		if(auth_secret_generate(cmds[i].correlation, 16)){
			snprintf(err, errlen, "cannot generate a correlation id (RNG failure)");
			goto done;
		}
	}
	if(auth_secret_generate(client_id + strlen(client_id), 12)){
		snprintf(err, errlen, "cannot generate a client id (RNG failure)");
		goto done;
	}
	x.request = build_request(cmds, n);
	mosq = mosquitto_new(client_id, true, &x);
	if(mosq == NULL){
		snprintf(err, errlen, "cannot create an MQTT client: %s", strerror(errno));
		goto done;
	}
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if(t->user && mosquitto_username_pw_set(mosq, t->user, t->pass) != MOSQ_ERR_SUCCESS){
		snprintf(err, errlen, "invalid broker username or password");
		goto done;
	}
	mosquitto_connect_v5_callback_set(mosq, on_connect);
	mosquitto_subscribe_v5_callback_set(mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(mosq, on_publish);
	mosquitto_message_v5_callback_set(mosq, on_message);
	mosquitto_disconnect_v5_callback_set(mosq, on_disconnect);
	if(t->verbose) mosquitto_log_callback_set(mosq, on_log);

	/* Asynchronous connect: a blocking one could outlast --timeout. */
	mrc = mosquitto_connect_async(mosq, t->host, t->port, 30);
	if(mrc != MOSQ_ERR_SUCCESS){
		snprintf(err, errlen, "cannot connect to the broker at %s:%d: %s", t->host, t->port,
				mrc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(mrc));
		goto done;
	}
	while(x.state != X_DONE && x.state != X_FAILED){
		int64_t left = deadline - now_ms();
		if(left <= 0){
			snprintf(err, errlen, "broker at %s:%d: %s within %u ms", t->host, t->port,
					timeout_reason(x.state), (unsigned)t->timeout_ms);
			goto done;
		}
		mrc = mosquitto_loop(mosq, left < 100 ? (int)left : 100, 1);
		if(mrc != MOSQ_ERR_SUCCESS && x.state != X_DONE && x.state != X_FAILED){
			snprintf(err, errlen, "connection to the broker at %s:%d failed: %s", t->host, t->port,
					mrc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(mrc));
			goto done;
		}
	}
	if(x.state == X_FAILED){
		snprintf(err, errlen, "broker at %s:%d: %s", t->host, t->port, x.err);
		goto done;
	}
	rc = 0;
	for(size_t i = 0; i < n; i++){
		if(cmds[i].error[0]){
			snprintf(err, errlen, "broker: %s failed: %s", cmds[i].command, cmds[i].error);
			rc = -1;
			break;
		}
	}
	/* Polite goodbye; the result no longer depends on it. */
	mosquitto_disconnect_v5(mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	mosquitto_loop(mosq, 50, 1);
done:
	if(mosq) mosquitto_destroy(mosq);
	bson_free(x.request);
	return rc;
}

void ctl_control_cleanup(struct ctl_control_cmd *cmds, size_t n)
{
	for(size_t i = 0; i < n; i++) bson_destroy(&cmds[i].data);
}
