/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* The kick queue (plugin/kick.h). */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin/conn.h"
#include "plugin/iothub.h"
#include "plugin/kick.h"

void kick_queue(struct iothub *ih, const char *name, bool by_username, const char *reason)
{
	struct ih_kick *k;

	for(k = ih->kicks; k; k = k->next){
		if(k->by_username == by_username && !strcmp(k->name, name)) return;
	}
	k = mosquitto_calloc(1, sizeof(*k));
	if(k) k->name = mosquitto_strdup(name);
	if(k == NULL || k->name == NULL){
		mosquitto_free(k);
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: out of memory: %s \"%s\" not kicked",
				by_username ? "username" : "client", name);
		return;
	}
	k->by_username = by_username;
	k->reason = reason;
	k->next = ih->kicks;
	ih->kicks = k; /* ownership passes to the queue */
}

void kick_free(struct iothub *ih)
{
	while(ih->kicks){
		struct ih_kick *k = ih->kicks;
		ih->kicks = k->next;
		mosquitto_free(k->name);
		mosquitto_free(k);
	}
}

void kick_run(struct iothub *ih)
{
	struct ih_kick *list = ih->kicks;

	/* Detached first: a kick's DISCONNECT callback may queue another. */
	ih->kicks = NULL;
	while(list){
		struct ih_kick *k = list;

		list = k->next;
		if(k->by_username){
			for(struct ih_conn *c = conn_table_by_username(ih->conns, k->name); c; c = c->next_by_user){
				if(c->kick_reason == NULL) c->kick_reason = k->reason;
			}
			mosquitto_kick_client_by_username(k->name, false);
		}else{
			/* The newest entry is the live one; an older entry with this
			 * id is an offline session the broker will not kick. */
			struct ih_conn *c = conn_table_find_client_id(ih->conns, k->name);
			if(c && c->state == IH_CONN_ONLINE && c->kick_reason == NULL) c->kick_reason = k->reason;
			mosquitto_kick_client_by_clientid(k->name, false);
		}
		ih->n.kicks++;
		mosquitto_free(k->name);
		mosquitto_free(k);
	}
}
