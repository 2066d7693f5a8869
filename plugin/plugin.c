/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Plugin entry points. Everything else is reached from here through thin
 * callbacks that dispatch to the modules (registered in plugin/callbacks.c,
 * through plugin/iothub.c).
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "plugin/iothub.h"

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == MOSQ_PLUGIN_VERSION){
			return MOSQ_PLUGIN_VERSION;
		}
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	struct iothub *ih = NULL;
	int rc;

	rc = iothub_init(&ih, identifier, options, option_count);
	if(rc){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: plugin not started, see the errors above");
		return rc;
	}
	*userdata = ih; /* the broker hands it back to every callback and to cleanup */
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)options;
	(void)option_count;
	iothub_cleanup(userdata);
	return MOSQ_ERR_SUCCESS;
}
