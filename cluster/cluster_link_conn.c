/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster link thread's connection: the desired key sets, connect
 * and topology (exchanges, queues, the node-name lock, bindings), and one
 * publish (see cluster_link.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "cluster/cluster_key.h"
#include "cluster/cluster_link.h"
#include "cluster/cluster_link_priv.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/logq.h"
#include "core/strmap.h"
#include "core/wake.h"
#include "events/amqp_conn.h"


/* ------------------------------------------------------------------ */
/* thread: key sets                                                    */

void cluster_link_set_add(struct ih_strmap *m, const char *key)
{
	size_t n = strlen(key);
	struct binding *b;

	if(ih_strmap_find(m, key, n)) return;
	b = malloc(sizeof(*b) + n + 1);
	if(b == NULL) return;
	memcpy(b->key, key, n + 1);
	ih_strmap_insert(m, &b->node, b->key, n);
}

void cluster_link_set_del(struct ih_strmap *m, const char *key)
{
	struct ih_strmap_node *nd = ih_strmap_find(m, key, strlen(key));

	if(nd == NULL) return;
	ih_strmap_remove(m, nd);
	free(ih_container_of(nd, struct binding, node));
}

void cluster_link_set_clear(struct ih_strmap *m)
{
	for(size_t i = 0; m->buckets && i <= m->mask; i++){
		while(m->buckets[i]){
			struct ih_strmap_node *nd = m->buckets[i];
			ih_strmap_remove(m, nd);
			free(ih_container_of(nd, struct binding, node));
		}
	}
}

/* ------------------------------------------------------------------ */
/* thread: connection                                                  */

static int rpc_ok(struct cluster_link *l, const char *what, char *err, size_t errlen)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(l->conn);

	if(r.reply_type == AMQP_RESPONSE_NORMAL) return 0;
	events_amqp_reply_string(r, what, err, errlen);
	if(r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD){
		amqp_channel_close_t *m = r.reply.decoded;
		if(m->reply_code == AMQP_RESOURCE_LOCKED) return -2;
	}
	return -1;
}

void cluster_link_drop_connection(struct cluster_link *l, const char *why)
{
	if(l->conn == NULL) return;
	ih_logq_push(&l->log, MOSQ_LOG_WARNING, "iothub: cluster: RabbitMQ link to %s:%d lost: %s; reconnecting",
			l->target.ci.host, l->target.ci.port, why);
	events_amqp_disconnect(l->conn, false);
	l->conn = NULL;
	atomic_store(&l->connected, false);
	for(struct out *o = l->outbox; o; o = o->next) o->seq = 0;
}

int cluster_link_bind_rpc(struct cluster_link *l, const char *key, bool bind, char *err, size_t errlen)
{
	char what[CLUSTER_KEY_MAX + 32];

	/* CH_PUB: in order with the publishes (cluster_link_priv.h). Frames
	 * that arrive meanwhile on it (deliveries, confirms, returns) are
	 * queued by rabbitmq-c and read by read_frames in order. */
	if(bind){
		amqp_queue_bind(l->conn, CH_PUB, amqp_cstring_bytes(l->queue), amqp_cstring_bytes(l->exchange),
				amqp_cstring_bytes(key), amqp_empty_table);
	}else{
		amqp_queue_unbind(l->conn, CH_PUB, amqp_cstring_bytes(l->queue), amqp_cstring_bytes(l->exchange),
				amqp_cstring_bytes(key), amqp_empty_table);
	}
	snprintf(what, sizeof(what), "%s %s", bind ? "bind" : "unbind", key);
	if(rpc_ok(l, what, err, errlen)) return -1;
	atomic_fetch_add(bind ? &l->n_binds : &l->n_unbinds, 1);
	return 0;
}

static int for_each_key(struct ih_strmap *m, bool bind, struct cluster_link *l, char *err, size_t errlen)
{
	for(size_t i = 0; m->buckets && i <= m->mask; i++){
		for(struct ih_strmap_node *nd = m->buckets[i]; nd; nd = nd->next){
			if(cluster_link_bind_rpc(l, nd->key, bind, err, errlen)) return -1;
		}
	}
	return 0;
}

int cluster_link_publish_one(struct cluster_link *l, struct out *o)
{
	amqp_basic_properties_t p;
	amqp_table_entry_t h[4];
	char qos[2] = {(char)('0' + (o->qos & 3)), '\0'};
	int nh = 0, rc;

	h[nh++] = events_amqp_str_entry("origin", l->node);
	if(o->topic) h[nh++] = events_amqp_str_entry("topic", o->topic);
	h[nh++] = events_amqp_str_entry("qos", qos);
	if(o->arg) h[nh++] = events_amqp_str_entry("arg", o->arg);
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG
		| AMQP_BASIC_APP_ID_FLAG;
	/* QoS 0 need not outlive a RabbitMQ restart; QoS >= 1 must. */
	p.delivery_mode = o->qos > 0 || !strcmp(o->kind, "admin") ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT;
	p.type = amqp_cstring_bytes(o->kind);
	p.app_id = amqp_cstring_bytes("mosquitto-iothub");
	p.headers.num_entries = nh;
	p.headers.entries = h;
	rc = amqp_basic_publish(l->conn, CH_PUB, amqp_cstring_bytes(o->admin ? l->admin_exchange : l->exchange),
			amqp_cstring_bytes(o->key), o->mandatory, 0, &p, (amqp_bytes_t){o->len, o->body});
	if(rc != AMQP_STATUS_OK){
		cluster_link_drop_connection(l, amqp_error_string2(rc));
		return -1;
	}
	o->seq = ++l->next_seq;
	atomic_fetch_add(&l->n_published, 1);
	return 0;
}

/* 0 connected, -1 failed, -2 the name is held by another live node. */
int cluster_link_setup(struct cluster_link *l, char *err, size_t errlen)
{
	amqp_table_entry_t qe = events_amqp_str_entry("x-queue-type", "quorum");
	amqp_table_t qargs = {l->quorum ? 1 : 0, l->quorum ? &qe : NULL};
	int rc;

	l->conn = events_amqp_connect_channel(&l->target, CH_PUB, false, "mosquitto-iothub cluster link", err, errlen);
	if(l->conn == NULL) return -1;
	amqp_channel_open(l->conn, CH_RPC);
	if((rc = rpc_ok(l, "channel.open", err, errlen))) goto fail;
	/* The name lock: exclusive to this connection, gone with it. */
	amqp_queue_declare(l->conn, CH_RPC, amqp_cstring_bytes(l->lock_queue), 0, 0, 1, 1, amqp_empty_table);
	if((rc = rpc_ok(l, "declare lock queue", err, errlen))) goto fail;
	amqp_exchange_declare(l->conn, CH_RPC, amqp_cstring_bytes(l->exchange), amqp_cstring_bytes("topic"),
			0, 1, 0, 0, amqp_empty_table);
	if((rc = rpc_ok(l, "declare route exchange", err, errlen))) goto fail;
	amqp_exchange_declare(l->conn, CH_RPC, amqp_cstring_bytes(l->admin_exchange), amqp_cstring_bytes("fanout"),
			0, 1, 0, 0, amqp_empty_table);
	if((rc = rpc_ok(l, "declare admin exchange", err, errlen))) goto fail;
	amqp_queue_declare(l->conn, CH_RPC, amqp_cstring_bytes(l->queue), 0, 1, 0, 0, qargs);
	if((rc = rpc_ok(l, "declare node queue", err, errlen))) goto fail;
	amqp_queue_bind(l->conn, CH_RPC, amqp_cstring_bytes(l->queue), amqp_cstring_bytes(l->admin_exchange),
			amqp_cstring_bytes(""), amqp_empty_table);
	if((rc = rpc_ok(l, "bind node queue to the admin exchange", err, errlen))) goto fail;
	if((rc = cluster_link_bind_rpc(l, l->node_key, true, err, errlen))) goto fail;
	if((rc = for_each_key(&l->unbinds, false, l, err, errlen))) goto fail;
	cluster_link_set_clear(&l->unbinds);
	if((rc = for_each_key(&l->binds, true, l, err, errlen))) goto fail;
	amqp_basic_qos(l->conn, CH_PUB, 0, PREFETCH, 0);
	if((rc = rpc_ok(l, "basic.qos", err, errlen))) goto fail;
	amqp_basic_consume(l->conn, CH_PUB, amqp_cstring_bytes(l->queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	if((rc = rpc_ok(l, "basic.consume", err, errlen))) goto fail;
	l->next_seq = 0;
	atomic_fetch_add(&l->gen, 1);
	atomic_store(&l->connected, true);
	/* Whatever RabbitMQ had not confirmed goes out again, in order. */
	for(struct out *o = l->outbox; o; o = o->next){
		if(cluster_link_publish_one(l, o)) return -1;
	}
	return 0;
fail:
	events_amqp_disconnect(l->conn, false);
	l->conn = NULL;
	return rc == -2 ? -2 : -1;
}

