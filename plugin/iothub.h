/*
 * The plugin instance: configuration plus every module's state. One exists
 * per loaded plugin; the broker passes it back as callback userdata.
 */
#ifndef IH_IOTHUB_H
#define IH_IOTHUB_H

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "plugin/config.h"

struct iothub {
	mosquitto_plugin_id_t *pid;
	struct ih_config cfg;
};

int iothub_init(struct iothub **out, mosquitto_plugin_id_t *pid, const struct mosquitto_opt *opts, int count);
void iothub_cleanup(struct iothub *ih);

#endif
