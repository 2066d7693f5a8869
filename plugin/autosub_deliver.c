/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Server-side subscriptions on 2.0.11, which has no subscribe API for
 * plugins: MOSQ_EVT_MESSAGE matches each client publish against the index
 * and hands a copy to every auto-subscribed client through
 * mosquitto_broker_publish_copy(clientid, ...). The broker queues it for an
 * online client and for an offline persistent session alike.
 *
 * That delivery bypasses the broker's ACL (docs/MOSQUITTO.md §4), so the
 * device's own READ rules are applied here: a suspended or denied device
 * gets nothing.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/rules.h"
#include "autosub/autosub_index.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"

static bool may_read(struct iothub *ih, struct ih_conn *c, const char *topic)
{
	if(c->suspended) return false;
	if(c->superuser) return true;
	return authorize_decide(ih, c, MOSQ_ACL_READ, topic) == ACL_ALLOW;
}

size_t autosub_deliver(struct iothub *ih, const char *topic, const void *payload, uint32_t payloadlen, int qos)
{
	const struct autosub_match *m;
	size_t n = autosub_index_match(ih->autosub, topic, &m);

	for(size_t i = 0; i < n; i++){
		struct ih_conn *c = m[i].owner;
		int q = qos < m[i].qos ? qos : m[i].qos;

		if(c == NULL || !may_read(ih, c, topic)){
			ih->n.autosub_suppressed++;
			continue;
		}
		if(mosquitto_broker_publish_copy(m[i].client_id, topic, (int)payloadlen, payload, q, false, NULL)
				== MOSQ_ERR_SUCCESS){
			ih->n.autosub_delivered++;
		}
	}
	return n;
}
