/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Test helper for test_acl.py: another authentication plugin, loaded after
 * mosquitto_iothub.so, so that a client can be admitted without our
 * BASIC_AUTH ever seeing it.
 *
 * - MQTT 5 enhanced authentication with method "iothub-test" succeeds
 *   (mosquitto then skips BASIC_AUTH for that client);
 * - unless plugin_opt_acl is "false", its ACL check allows whatever it is
 *   asked. Being registered after ours, it is only asked about what our
 *   plugin answered MOSQ_ERR_PLUGIN_DEFER to.
 *
 * Built by the test: cc -shared -fPIC -o other_auth_plugin.so other_auth_plugin.c
 */
#include <stddef.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

static mosquitto_plugin_id_t *plugin_id;
static int acl_on = 1;

static int on_auth_start(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_extended_auth *ed = event_data;

	(void)event;
	(void)userdata;
	if(ed->auth_method && !strcmp(ed->auth_method, "iothub-test")) return MOSQ_ERR_SUCCESS;
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int count, const int *versions)
{
	(void)count;
	(void)versions;
	return 5;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **userdata, struct mosquitto_opt *opts, int count)
{
	int rc;

	(void)userdata;
	plugin_id = id;
	for(int i = 0; i < count; i++){
		if(!strcmp(opts[i].key, "acl") && !strcmp(opts[i].value, "false")) acl_on = 0;
	}
	rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_EXT_AUTH_START, on_auth_start, NULL, NULL);
	if(rc == MOSQ_ERR_SUCCESS && acl_on){
		rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	}
	return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int count)
{
	(void)userdata;
	(void)opts;
	(void)count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_EXT_AUTH_START, on_auth_start, NULL);
	if(acl_on) mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	return MOSQ_ERR_SUCCESS;
}
