/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster link thread's loop: the outbox and its confirms, the
 * operations the broker thread queued, the incoming frames (deliveries and
 * returns) and the thread's main (see cluster_link.h).
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
/* thread: operations and frames                                       */

static void outbox_add(struct cluster_link *l, struct out *o)
{
	if(l->outbox_n >= OUTBOX_MAX){
		atomic_fetch_add(&l->n_dropped, 1);
		cluster_link_out_free(o);
		return;
	}
	o->next = NULL;
	*l->outbox_tail = o;
	l->outbox_tail = &o->next;
	l->outbox_n++;
	if(l->conn) cluster_link_publish_one(l, o);
}

static void confirm(struct cluster_link *l, uint64_t tag, bool multiple, bool ok)
{
	struct out **pp = &l->outbox;

	if(!ok){
		cluster_link_drop_connection(l, "RabbitMQ nacked a routed message");
		return;
	}
	while(*pp){
		struct out *o = *pp;

		if(o->seq != 0 && (o->seq == tag || (multiple && o->seq < tag))){
			*pp = o->next;
			cluster_link_out_free(o);
			l->outbox_n--;
			atomic_fetch_add(&l->n_confirmed, 1);
			continue;
		}
		if(o->seq > tag) break;
		pp = &o->next;
	}
	/* Re-point the tail. */
	l->outbox_tail = &l->outbox;
	while(*l->outbox_tail) l->outbox_tail = &(*l->outbox_tail)->next;
}

static void run_ops(struct cluster_link *l)
{
	struct op *list;
	char err[512];

	pthread_mutex_lock(&l->lock);
	list = l->ops;
	l->ops = NULL;
	l->ops_tail = &l->ops;
	pthread_mutex_unlock(&l->lock);
	while(list){
		struct op *o = list;

		list = o->next;
		switch(o->kind){
			case OP_BIND:
				cluster_link_set_del(&l->unbinds, o->key);
				cluster_link_set_add(&l->binds, o->key);
				if(l->conn && cluster_link_bind_rpc(l, o->key, true, err, sizeof(err))) cluster_link_drop_connection(l, err);
				atomic_fetch_add(&l->n_key_ops, 1);
				break;
			case OP_UNBIND:
				cluster_link_set_del(&l->binds, o->key);
				if(l->conn){
					if(cluster_link_bind_rpc(l, o->key, false, err, sizeof(err))) cluster_link_drop_connection(l, err);
				}else{
					cluster_link_set_add(&l->unbinds, o->key);
				}
				atomic_fetch_add(&l->n_key_ops, 1);
				break;
			case OP_PUBLISH:
				outbox_add(l, o->pub); /* the outbox owns it */
				o->pub = NULL;
				break;
			case OP_ACK:
				if(l->conn && o->gen == atomic_load(&l->gen)){
					if(amqp_basic_ack(l->conn, CH_PUB, o->tag, 0) == AMQP_STATUS_OK){
						atomic_fetch_add(&l->n_acked, 1);
					}else{
						cluster_link_drop_connection(l, "ack failed");
					}
				}
				break;
		}
		free(o->key);
		cluster_link_out_free(o->pub);
		free(o);
	}
	atomic_store(&l->n_bindings, l->binds.count);
}

static char *header_str(const amqp_table_t *t, const char *key)
{
	for(int i = 0; i < t->num_entries; i++){
		const amqp_table_entry_t *e = &t->entries[i];
		const amqp_bytes_t *b;
		char *s;

		if(e->key.len != strlen(key) || memcmp(e->key.bytes, key, e->key.len)) continue;
		if(e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES){
			b = &e->value.value.bytes;
			s = malloc(b->len + 1);
			if(s == NULL) return NULL;
			memcpy(s, b->bytes, b->len);
			s[b->len] = '\0';
			return s;
		}
		if(e->value.kind == AMQP_FIELD_KIND_I8 || e->value.kind == AMQP_FIELD_KIND_U8
				|| e->value.kind == AMQP_FIELD_KIND_I16 || e->value.kind == AMQP_FIELD_KIND_I32
				|| e->value.kind == AMQP_FIELD_KIND_I64 || e->value.kind == AMQP_FIELD_KIND_U16
				|| e->value.kind == AMQP_FIELD_KIND_U32){
			long long v = e->value.kind == AMQP_FIELD_KIND_I8 ? e->value.value.i8
				: e->value.kind == AMQP_FIELD_KIND_U8 ? e->value.value.u8
				: e->value.kind == AMQP_FIELD_KIND_I16 ? e->value.value.i16
				: e->value.kind == AMQP_FIELD_KIND_U16 ? e->value.value.u16
				: e->value.kind == AMQP_FIELD_KIND_I32 ? e->value.value.i32
				: e->value.kind == AMQP_FIELD_KIND_U32 ? (long long)e->value.value.u32
				: (long long)e->value.value.i64;
			s = malloc(24);
			if(s) snprintf(s, 24, "%lld", v);
			return s;
		}
	}
	return NULL;
}

static enum cluster_msg_kind kind_of(const amqp_basic_properties_t *p)
{
	if(p->_flags & AMQP_BASIC_TYPE_FLAG){
		const amqp_bytes_t *t = &p->type;
#define IS(s) (t->len == sizeof(s) - 1 && !memcmp(t->bytes, s, t->len))
		if(IS("admin")) return CLUSTER_MSG_ADMIN;
		if(IS("takeover")) return CLUSTER_MSG_TAKEOVER;
		if(IS("released")) return CLUSTER_MSG_RELEASED;
		if(IS("stats")) return CLUSTER_MSG_STATS;
		if(IS("whois")) return CLUSTER_MSG_WHOIS;
		if(IS("client")) return CLUSTER_MSG_CLIENT;
#undef IS
	}
	return CLUSTER_MSG_ROUTE; /* the platform's AMQP downlink sets no type */
}

/* A delivery or a return: read its content and hand it to the broker. */
static int take_message(struct cluster_link *l, uint64_t tag, bool returned, char *err, size_t errlen)
{
	amqp_message_t msg;
	amqp_rpc_reply_t r = amqp_read_message(l->conn, CH_PUB, &msg, 0);
	struct cluster_msg *m;
	const amqp_table_t *h = &msg.properties.headers;
	char *qos;

	if(r.reply_type != AMQP_RESPONSE_NORMAL){
		events_amqp_reply_string(r, "read message", err, errlen);
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if(m == NULL) goto nomem;
	if(!(msg.properties._flags & AMQP_BASIC_HEADERS_FLAG)) h = &amqp_empty_table;
	m->kind = kind_of(&msg.properties);
	/* Only takeovers and whois are mandatory: a return is one of those. */
	if(returned) m->kind = m->kind == CLUSTER_MSG_WHOIS ? CLUSTER_MSG_WHOIS_RETURNED : CLUSTER_MSG_RETURNED;
	m->topic = header_str(h, "topic");
	m->origin = header_str(h, "origin");
	m->arg = header_str(h, "arg");
	qos = header_str(h, "qos");
	m->qos = qos && qos[0] >= '0' && qos[0] <= '2' && qos[1] == '\0' ? qos[0] - '0' : 0;
	if(qos && (qos[0] < '0' || qos[0] > '2' || qos[1] != '\0')){
		ih_logq_push(&l->log, MOSQ_LOG_WARNING, "iothub: cluster: message with invalid qos header \"%s\": delivered at QoS 0", qos);
	}
	free(qos);
	if(m->origin == NULL) m->origin = strdup("");
	if(msg.body.len){
		m->body = malloc(msg.body.len);
		if(m->body) memcpy(m->body, msg.body.bytes, msg.body.len);
	}
	m->len = msg.body.len;
	m->tag = returned ? 0 : tag;
	m->gen = atomic_load(&l->gen);
	if(m->origin == NULL || (msg.body.len && m->body == NULL)){
		cluster_msg_free(m);
		goto nomem;
	}
	amqp_destroy_message(&msg);
	atomic_fetch_add(returned ? &l->n_returned : &l->n_received, 1);
	cluster_link_push_in(l, m); /* the broker thread owns m */
	return 0;
nomem:
	/* Not acked: RabbitMQ redelivers it after the next reconnect. */
	amqp_destroy_message(&msg);
	ih_logq_push(&l->log, MOSQ_LOG_ERR, "iothub: cluster: out of memory, a routed message waits for a redelivery");
	return 0;
}

static int handle_frame(struct cluster_link *l, amqp_frame_t *fr, char *err, size_t errlen)
{
	if(fr->frame_type != AMQP_FRAME_METHOD) return 0;
	switch(fr->payload.method.id){
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *a = fr->payload.method.decoded;
			confirm(l, a->delivery_tag, a->multiple, true);
			return 0;
		}
		case AMQP_BASIC_NACK_METHOD: {
			amqp_basic_nack_t *n = fr->payload.method.decoded;
			confirm(l, n->delivery_tag, n->multiple, false);
			return l->conn ? 0 : 1;
		}
		case AMQP_BASIC_DELIVER_METHOD: {
			amqp_basic_deliver_t *d = fr->payload.method.decoded;
			return take_message(l, d->delivery_tag, false, err, errlen);
		}
		case AMQP_BASIC_RETURN_METHOD:
			return take_message(l, 0, true, err, errlen);
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD:
			return events_amqp_server_close(l->conn, fr, err, errlen);
		case AMQP_BASIC_CANCEL_METHOD:
			snprintf(err, errlen, "RabbitMQ cancelled the node queue's consumer (queue deleted or its node down)");
			return -1;
		default:
			return 0;
	}
}

static void read_frames(struct cluster_link *l)
{
	char err[512];

	while(l->conn){
		amqp_frame_t fr;
		struct timeval tv = {0, 0};
		int rc = amqp_simple_wait_frame_noblock(l->conn, &fr, &tv);

		if(rc == AMQP_STATUS_TIMEOUT) return;
		if(rc != AMQP_STATUS_OK){
			cluster_link_drop_connection(l, amqp_error_string2(rc));
			return;
		}
		err[0] = '\0';
		if(handle_frame(l, &fr, err, sizeof(err)) < 0) cluster_link_drop_connection(l, err);
	}
}

static void drain_efd(struct cluster_link *l)
{
	uint64_t v;
	ssize_t n = read(l->efd, &v, sizeof(v));

	(void)n;
}

static bool stopping(struct cluster_link *l)
{
	bool s;

	pthread_mutex_lock(&l->lock);
	s = l->stop;
	pthread_mutex_unlock(&l->lock);
	return s;
}

static void report_ready(struct cluster_link *l, int state, const char *err)
{
	pthread_mutex_lock(&l->lock);
	if(l->ready == 0){
		l->ready = state;
		snprintf(l->ready_err, sizeof(l->ready_err), "%s", err ? err : "");
		pthread_cond_broadcast(&l->ready_cv);
	}
	pthread_mutex_unlock(&l->lock);
}

static void wait_events(struct cluster_link *l, int timeout_ms)
{
	struct pollfd p[2];
	int n = 0;

	p[n].fd = l->efd;
	p[n++].events = POLLIN;
	if(l->conn){
		if(amqp_frames_enqueued(l->conn) || amqp_data_in_buffer(l->conn)) return;
		p[n].fd = events_amqp_fd(l->conn);
		p[n++].events = POLLIN;
	}
	if(poll(p, (nfds_t)n, timeout_ms) > 0 && (p[0].revents & POLLIN)) drain_efd(l);
}

void *cluster_link_main(void *arg)
{
	struct cluster_link *l = arg;
	int64_t next_try = 0;
	char err[1024];

	while(!stopping(l)){
		int64_t now = ih_mono_ms();

		if(l->conn == NULL && now >= next_try){
			int rc = cluster_link_setup(l, err, sizeof(err));

			if(rc == 0){
				if(l->reported_first) atomic_fetch_add(&l->n_reconnects, 1);
				ih_logq_push(&l->log, MOSQ_LOG_INFO, "iothub: cluster: node %s linked through RabbitMQ %s:%d (queue %s)",
						l->node, l->target.ci.host, l->target.ci.port, l->queue);
				l->backoff_ms = l->reconnect_min_ms;
				l->reported_first = true;
				report_ready(l, 1, NULL);
			}else{
				if(rc == -2){
					ih_logq_push(&l->log, MOSQ_LOG_ERR, "iothub: cluster: node_name %s is held by another live node (%s)",
							l->node, err);
					report_ready(l, -1, err);
				}else{
					ih_logq_push(&l->log, MOSQ_LOG_WARNING, "iothub: cluster: cannot reach RabbitMQ: %s", err);
					report_ready(l, 2, err);
				}
				next_try = now + l->backoff_ms;
				l->backoff_ms = l->backoff_ms * 2 > l->reconnect_max_ms ? l->reconnect_max_ms : l->backoff_ms * 2;
			}
		}
		run_ops(l);
		if(l->conn) read_frames(l);
		run_ops(l);
		wait_events(l, l->conn ? POLL_MS : (int)(next_try > now ? (next_try - now > POLL_MS ? POLL_MS : next_try - now) : 1));
	}
	if(l->conn){
		events_amqp_disconnect(l->conn, true);
		l->conn = NULL;
	}
	return NULL;
}

