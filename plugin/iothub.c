/*
 * Module lifecycle: init and cleanup mirror each other step by step.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin/iothub.h"

int iothub_init(struct iothub **out, mosquitto_plugin_id_t *pid, const struct mosquitto_opt *opts, int count)
{
	struct iothub *ih;
	int rc;

	ih = mosquitto_calloc(1, sizeof(*ih));
	if(ih == NULL) return MOSQ_ERR_NOMEM;
	ih->pid = pid;
	rc = ih_config_parse(&ih->cfg, opts, count);
	if(rc) goto fail;
	*out = ih;
	return MOSQ_ERR_SUCCESS;
fail:
	iothub_cleanup(ih);
	return rc;
}

void iothub_cleanup(struct iothub *ih)
{
	if(ih == NULL) return;
	ih_config_cleanup(&ih->cfg);
	mosquitto_free(ih);
}
