/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Module lifecycle: init and cleanup mirror each other step by step, and
 * cleanup accepts a partially initialised instance, so init has a single
 * failure path.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "acl/rules.h"
#include "acl/rules_intern.h"
#include "auth/auth.h"
#include "autosub/autosub_index.h"
#include "autosub/autosub_template.h"
#include "cluster/cluster.h"
#include "events/events.h"
#include "plugin/callbacks.h"
#include "core/clock.h"
#include "core/errstr.h"
#include "core/wake.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"
#include "plugin/kick.h"

int iothub_init(struct iothub **out, mosquitto_plugin_id_t *pid, const struct mosquitto_opt *opts, int count)
{
	struct iothub *ih;
	int rc;

	ih = mosquitto_calloc(1, sizeof(*ih));
	if(ih == NULL) return MOSQ_ERR_NOMEM;
	ih->pid = pid;
	rc = ih_config_parse(&ih->cfg, opts, count);
	if(rc) goto fail;
	if(ih_ids_init()){
		rc = MOSQ_ERR_UNKNOWN;
		goto fail;
	}
	rc = acl_templates_init(&ih->acl_tpl, &ih->cfg);
	if(rc) goto fail;
	rc = acl_templates_init_jwt(&ih->jwt_acl_tpl, &ih->cfg);
	if(rc) goto fail;
	rc = autosub_templates_validate(&ih->cfg);
	if(rc) goto fail;
	rc = acl_intern_new(&ih->acl_shared);
	if(rc) goto fail;
	rc = conn_table_new(&ih->conns);
	if(rc) goto fail;
	rc = autosub_index_new(&ih->autosub, autosub_templates_use_client_id(&ih->cfg));
	if(rc) goto fail;
	rc = auth_init(&ih->auth, &ih->cfg);
	if(rc) goto fail;
	rc = preload_start(ih);
	if(rc) goto fail;
	if(ih->cfg.amqp_uri){
		rc = events_init(&ih->events, &ih->cfg);
		if(rc) goto fail;
	}
	/* One wake-up for both (core/wake.h), before their threads start;
	 * plugin init runs on the broker thread, the one to wake. */
	if(ih->cfg.cluster || ih->cfg.http_api_listen){
		if(ih_wake_init(pthread_self())){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cannot install the broker wake-up signal handler: %s",
					ih_strerror(errno));
			rc = MOSQ_ERR_UNKNOWN;
			goto fail;
		}
		ih->wake_on = true;
	}
	if(ih->cfg.cluster){
		rc = fleet_init(ih);
		if(rc) goto fail;
	}
	rc = callbacks_register(ih);
	if(rc) goto fail;
	rc = api_glue_init(ih);
	if(rc) goto fail;
	mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: ready (registry %s/%s, events %s, cluster %s, node %s)",
			ih->cfg.mongo_db, ih->cfg.devices_collection,
			ih->events ? "on" : "off", ih->cluster ? "on" : "off", ih->cfg.node_name);
	*out = ih;
	return MOSQ_ERR_SUCCESS;
fail:
	iothub_cleanup(ih);
	return rc;
}

void iothub_cleanup(struct iothub *ih)
{
	if(ih == NULL) return;
	api_glue_cleanup(ih);
	callbacks_unregister(ih);
	preload_stop(ih);
	session_shutdown(ih);
	cluster_cleanup(ih->cluster);
	/* The API's and the cluster's threads are gone: nobody wakes any more. */
	if(ih->wake_on) ih_wake_cleanup();
	events_cleanup(ih->events);
	auth_cleanup(ih->auth);
	kick_free(ih);
	control_cleanup(ih);
	session_checks_free(ih);
	if(ih->conns) conn_table_free(ih->conns, session_free_conn, ih);
	autosub_index_free(ih->autosub);
	acl_intern_free(ih->acl_shared);
	acl_templates_cleanup(ih->jwt_acl_tpl);
	acl_templates_cleanup(ih->acl_tpl);
	ih_config_cleanup(&ih->cfg);
	mosquitto_free(ih);
}
