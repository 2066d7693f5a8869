/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * A stand-in for the iothub plugin's control channel, for test_ctl.py.
 *
 * A stock mosquitto 2.0 never routes `$CONTROL/...` publishes to
 * subscribers: src/handle_publish.c hands them to control__process(),
 * which only calls plugins registered for MOSQ_EVT_CONTROL on that topic
 * and otherwise just acknowledges them. So a plain MQTT client cannot play
 * the plugin's part. This plugin bridges the two worlds, so the responder
 * can live in the Python test:
 *
 *  - a publish to `$CONTROL/iothub/v1` is re-published to `fakectl/request`
 *    as {"client_id":..., "username":..., "protocol_version":N,
 *    "request":<the payload as received>};
 *  - a publish to `fakectl/response/<client id>` is delivered to that one
 *    client on `$CONTROL/iothub/v1/response` (as the real plugin may do,
 *    with mosquitto_broker_publish and no subscription needed);
 *  - a publish to `fakectl/broadcast` goes to every subscriber of
 *    `$CONTROL/iothub/v1/response`.
 *
 * Options: plugin_opt_user / plugin_opt_pass: when set, CONNECTs must carry
 * exactly these credentials (others are refused), so tests can check what
 * iothubctl sends.
 *
 * Build: cc -shared -fPIC -o fake.so test_ctl_fake_control.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define REQUEST_TOPIC "$CONTROL/iothub/v1"
#define RESPONSE_TOPIC "$CONTROL/iothub/v1/response"

static mosquitto_plugin_id_t *plugin_id;
static char *want_user;
static char *want_pass;

int mosquitto_plugin_version(int count, const int *versions);
int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **ud, struct mosquitto_opt *opts, int count);
int mosquitto_plugin_cleanup(void *ud, struct mosquitto_opt *opts, int count);

int mosquitto_plugin_version(int count, const int *versions)
{
	(void)count;
	(void)versions;
	return 5;
}

static int on_auth(int event, void *event_data, void *ud)
{
	struct mosquitto_evt_basic_auth *ed = event_data;

	(void)event;
	(void)ud;
	if(want_user == NULL) return MOSQ_ERR_PLUGIN_DEFER;
	if(ed->username && ed->password && !strcmp(ed->username, want_user) && !strcmp(ed->password, want_pass)){
		return MOSQ_ERR_SUCCESS;
	}
	return MOSQ_ERR_AUTH;
}

static int on_control(int event, void *event_data, void *ud)
{
	struct mosquitto_evt_control *ed = event_data;
	const char *id = mosquitto_client_id(ed->client);
	const char *user = mosquitto_client_username(ed->client);
	size_t cap = ed->payloadlen + 1024;
	char *buf = malloc(cap);
	int n;

	(void)event;
	(void)ud;
	if(buf == NULL) return MOSQ_ERR_NOMEM;
	/* Client id and username come from iothubctl (URL-safe characters). */
	n = snprintf(buf, cap, "{\"client_id\":\"%s\",\"username\":\"%s\",\"protocol_version\":%d,\"request\":",
			id ? id : "", user ? user : "", mosquitto_client_protocol_version(ed->client));
	memcpy(buf + n, ed->payload, ed->payloadlen);
	n += (int)ed->payloadlen;
	buf[n++] = '}';
	mosquitto_broker_publish_copy(NULL, "fakectl/request", n, buf, 1, false, NULL);
	free(buf);
	return MOSQ_ERR_SUCCESS;
}

static int on_message(int event, void *event_data, void *ud)
{
	struct mosquitto_evt_message *ed = event_data;

	(void)event;
	(void)ud;
	if(!strncmp(ed->topic, "fakectl/response/", 17)){
		mosquitto_broker_publish_copy(ed->topic + 17, RESPONSE_TOPIC, (int)ed->payloadlen, ed->payload, 1,
				false, NULL);
	}else if(!strcmp(ed->topic, "fakectl/broadcast")){
		mosquitto_broker_publish_copy(NULL, RESPONSE_TOPIC, (int)ed->payloadlen, ed->payload, 1, false, NULL);
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **ud, struct mosquitto_opt *opts, int count)
{
	(void)ud;
	plugin_id = id;
	for(int i = 0; i < count; i++){
		if(!strcmp(opts[i].key, "user")) want_user = strdup(opts[i].value);
		if(!strcmp(opts[i].key, "pass")) want_pass = strdup(opts[i].value);
	}
	if(want_user && want_pass == NULL) want_pass = strdup("");
	mosquitto_callback_register(id, MOSQ_EVT_BASIC_AUTH, on_auth, NULL, NULL);
	mosquitto_callback_register(id, MOSQ_EVT_CONTROL, on_control, REQUEST_TOPIC, NULL);
	mosquitto_callback_register(id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *ud, struct mosquitto_opt *opts, int count)
{
	(void)ud;
	(void)opts;
	(void)count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_CONTROL, on_control, REQUEST_TOPIC);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
	free(want_user);
	free(want_pass);
	return MOSQ_ERR_SUCCESS;
}
