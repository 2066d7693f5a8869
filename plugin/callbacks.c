/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The callbacks the broker calls. Each one only unpacks its event and
 * dispatches: the work lives in the module named in the call.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "plugin/callbacks.h"
#include "plugin/iothub.h"
#include "plugin/tick.h"

static int cb_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;

	(void)event;
	return session_accept(userdata, ed->client, ed->username, ed->password);
}

static int cb_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;

	(void)event;
	return authorize_check(userdata, ed->client, ed->access, ed->topic);
}

static int cb_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct iothub *ih = userdata;

	(void)event;
	/* Runs before the broker acknowledges the publish (docs/MOSQUITTO.md
	 * §4): once this returns, the event is spooled and survives a crash. */
	emit_publish(ih, ed->client, ed->topic, ed->payload, ed->payloadlen, ed->qos, ed->retain);
	/* Auto-subscribers here, then (cluster mode: one branch on the
	 * single-node path) the nodes that hold the others. */
	fleet_publish(ih, ed->topic, ed->payload, ed->payloadlen, ed->qos);
	return MOSQ_ERR_SUCCESS;
}

static int cb_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;

	(void)event;
	session_close(userdata, ed->client);
	return MOSQ_ERR_SUCCESS;
}

static int cb_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	tick_run(userdata);
	return MOSQ_ERR_SUCCESS;
}

static int cb_control(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_control *ed = event_data;

	(void)event;
	return control_handle(userdata, ed->client, ed->payload, ed->payloadlen);
}

static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
} table[] = {
	{MOSQ_EVT_BASIC_AUTH, cb_basic_auth},
	{MOSQ_EVT_ACL_CHECK, cb_acl_check},
	{MOSQ_EVT_MESSAGE, cb_message},
	{MOSQ_EVT_DISCONNECT, cb_disconnect},
	{MOSQ_EVT_TICK, cb_tick},
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

/* MOSQ_EVT_MESSAGE feeds event forwarding and the auto-subscription index
 * only. The broker builds the event for every publish once anybody
 * registered it (plugin__handle_message), so without them we stay off that
 * path: with auth+ACL alone that is ~180 instructions per message. The
 * index is in use with templates, with tags, and with the HTTP API (its
 * mqtt/subscribe binds into it, with no template at all); a cluster routes
 * what the index holds on other nodes. */
static bool message_wanted(const struct iothub *ih)
{
	return (ih->events != NULL && ih->cfg.event_publish) || ih->cfg.autosub_count > 0 || ih->cfg.autosub_tags
			|| ih->cfg.http_api_listen != NULL || ih->cfg.cluster;
}

int callbacks_register(struct iothub *ih)
{
	int rc;

	for(size_t i = 0; i < TABLE_LEN; i++){
		if(table[i].event == MOSQ_EVT_MESSAGE && !message_wanted(ih)) continue;
		rc = mosquitto_callback_register(ih->pid, table[i].event, table[i].cb, NULL, ih);
		if(rc){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cannot register callback for event %d (error %d)",
					table[i].event, rc);
			return rc;
		}
	}
	if(ih->cfg.control){
		rc = mosquitto_callback_register(ih->pid, MOSQ_EVT_CONTROL, cb_control, IH_CONTROL_TOPIC, ih);
		if(rc){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cannot register %s (error %d)", IH_CONTROL_TOPIC, rc);
			return rc;
		}
	}
	return MOSQ_ERR_SUCCESS;
}

/* Unregistering what was never registered is harmless (NOT_FOUND), so one
 * function undoes a full or a partial registration. */
void callbacks_unregister(struct iothub *ih)
{
	if(ih->cfg.control){
		mosquitto_callback_unregister(ih->pid, MOSQ_EVT_CONTROL, cb_control, IH_CONTROL_TOPIC);
	}
	for(size_t i = TABLE_LEN; i-- > 0;){
		mosquitto_callback_unregister(ih->pid, table[i].event, table[i].cb, NULL);
	}
}
