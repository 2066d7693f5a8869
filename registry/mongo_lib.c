/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * libmongoc lifetime and log routing (see mongo_lib.h).
 *
 * mongoc_init/mongoc_cleanup are tied to the same count: the plugin may be
 * loaded once per listener, and mongoc_cleanup must run once, after the
 * last user is gone.
 */
#include <mongoc/mongoc.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "registry/mongo_lib.h"
#include "core/logq.h"

static struct ih_logq mongo_logq;
static int installs;

static void handler(mongoc_log_level_t level, const char *domain, const char *message, void *ud)
{
	int mlevel;

	(void)ud;
	switch(level){
		case MONGOC_LOG_LEVEL_ERROR:
		case MONGOC_LOG_LEVEL_CRITICAL:
			mlevel = MOSQ_LOG_ERR;
			break;
		case MONGOC_LOG_LEVEL_WARNING:
			mlevel = MOSQ_LOG_WARNING;
			break;
		default:
			return;
	}
	ih_logq_push(&mongo_logq, mlevel, "iothub: libmongoc %s: %s", domain ? domain : "", message ? message : "");
}

int registry_mongo_lib_acquire(void)
{
	if(installs++ > 0) return 0;
	if(ih_logq_init(&mongo_logq, "libmongoc")){
		installs = 0;
		return -1;
	}
	mongoc_init();
	mongoc_log_set_handler(handler, NULL);
	return 0;
}

void registry_mongo_lib_release(void)
{
	if(installs == 0 || --installs > 0) return;
	mongoc_log_set_handler(mongoc_log_default_handler, NULL);
	mongoc_cleanup();
	ih_logq_drain(&mongo_logq);
	ih_logq_cleanup(&mongo_logq);
}

void registry_mongo_lib_drain_log(void)
{
	if(installs) ih_logq_drain(&mongo_logq);
}

void registry_mongo_lib_drain_log_with(ih_logq_print_fn print, void *ud)
{
	if(installs) ih_logq_drain_with(&mongo_logq, print, ud);
}
