/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster's RabbitMQ thread (see cluster_link.h).
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
#include "core/clock.h"
#include "core/config.h"
#include "core/logq.h"
#include "core/strmap.h"
#include "core/wake.h"
#include "events/amqp_conn.h"

#define CH_PUB 1                 /* publishes (confirm mode) and the consumer */
#define CH_RPC 2                 /* topology */
#define PREFETCH 512
#define OUTBOX_MAX 100000        /* publishes held for confirms; beyond, new ones are dropped */
#define POLL_MS 200              /* heartbeats are served at least this often */
#define LOCK_QUEUE_PREFIX "iothub.lock."
/*
 * Waking the broker: what arrives for the broker thread wakes it through
 * core/wake.h, at most once per TICK (coalesced there), so a routed command
 * does not wait for the loop's next idle wake-up.
 */

enum op_kind { OP_BIND, OP_UNBIND, OP_PUBLISH, OP_ACK };

/* A publish: owned by the op queue, then by the outbox until confirmed. */
struct out {
	struct out *next;
	char *kind, *key, *topic, *arg;  /* libc-owned */
	int qos;
	void *body;
	size_t len;
	bool mandatory, admin;
	uint64_t seq;                    /* confirm tag on the current connection, 0: not sent */
};

struct op {
	struct op *next;
	enum op_kind kind;
	char *key;                       /* BIND/UNBIND, owned */
	struct out *pub;                 /* PUBLISH, owned */
	uint64_t tag, gen;               /* ACK */
};

struct binding {
	struct ih_strmap_node node;
	char key[];
};

struct cluster_link {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t ready_cv;
	int efd;
	/* under lock */
	bool stop;
	struct op *ops, **ops_tail;
	struct cluster_msg *in, **in_tail;
	int ready;                       /* 0 pending, 1 ok, 2 unreachable, -1 name taken */
	char ready_err[1024];
	/* thread only */
	struct events_amqp_target target;
	amqp_connection_state_t conn;
	uint64_t next_seq;
	struct out *outbox, **outbox_tail;
	size_t outbox_n;
	struct ih_strmap binds;          /* desired bindings */
	struct ih_strmap unbinds;        /* removed while disconnected: unbind on reconnect */
	char *node, *queue, *lock_queue, *exchange, *admin_exchange;
	char node_key[CLUSTER_KEY_MAX + 1];
	bool quorum;
	uint32_t reconnect_min_ms, reconnect_max_ms, backoff_ms;
	bool reported_first;
	struct ih_logq log;
	/* shared counters */
	_Atomic uint64_t gen;
	_Atomic uint64_t n_published, n_confirmed, n_received, n_acked, n_returned, n_reconnects,
		n_bindings, n_binds, n_unbinds, n_dropped, n_key_ops;
	_Atomic bool connected;
};

static void out_free(struct out *o)
{
	if(o == NULL) return;
	free(o->kind);
	free(o->key);
	free(o->topic);
	free(o->arg);
	free(o->body);
	free(o);
}

void cluster_msg_free(struct cluster_msg *m)
{
	if(m == NULL) return;
	free(m->topic);
	free(m->origin);
	free(m->arg);
	free(m->body);
	free(m);
}

static void wake(struct cluster_link *l)
{
	uint64_t one = 1;
	ssize_t n = write(l->efd, &one, sizeof(one));

	(void)n; /* fails only when the counter would overflow: it is awake then */
}

static void push_op(struct cluster_link *l, struct op *o)
{
	pthread_mutex_lock(&l->lock);
	*l->ops_tail = o;
	l->ops_tail = &o->next;
	pthread_mutex_unlock(&l->lock);
	wake(l);
}

static void push_in(struct cluster_link *l, struct cluster_msg *m)
{
	pthread_mutex_lock(&l->lock);
	*l->in_tail = m;
	l->in_tail = &m->next;
	pthread_mutex_unlock(&l->lock);
	ih_wake_broker();
}

/* ------------------------------------------------------------------ */
/* broker thread API                                                   */

static void queue_key_op(struct cluster_link *l, enum op_kind kind, const char *key)
{
	struct op *o = calloc(1, sizeof(*o));

	if(o == NULL || (o->key = strdup(key)) == NULL){
		free(o);
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cluster: out of memory, binding %s not changed", key);
		return;
	}
	o->kind = kind;
	push_op(l, o); /* the queue owns o */
}

void cluster_link_bind(struct cluster_link *l, const char *key)
{
	queue_key_op(l, OP_BIND, key);
}

void cluster_link_unbind(struct cluster_link *l, const char *key)
{
	queue_key_op(l, OP_UNBIND, key);
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if(s == NULL) return NULL;
	d = strdup(s);
	if(d == NULL) *fail = true;
	return d;
}

int cluster_link_publish(struct cluster_link *l, const char *kind, const char *key, const char *topic, int qos,
		const char *arg, const void *body, size_t len, bool mandatory)
{
	struct op *o = calloc(1, sizeof(*o));
	struct out *p = calloc(1, sizeof(*p));
	bool fail = o == NULL || p == NULL;

	if(!fail){
		p->kind = dup_or_null(kind, &fail);
		p->key = dup_or_null(key ? key : "", &fail);
		p->topic = dup_or_null(topic, &fail);
		p->arg = dup_or_null(arg, &fail);
		p->qos = qos;
		p->mandatory = mandatory;
		p->admin = !strcmp(kind, "admin") || !strcmp(kind, "stats");
		if(len){
			p->body = malloc(len);
			if(p->body) memcpy(p->body, body, len);
			else fail = true;
		}
		p->len = len;
	}
	if(fail){
		out_free(p);
		free(o);
		atomic_fetch_add(&l->n_dropped, 1);
		return -1;
	}
	o->kind = OP_PUBLISH;
	o->pub = p; /* the op owns p */
	push_op(l, o);
	return 0;
}

void cluster_link_ack(struct cluster_link *l, uint64_t tag, uint64_t gen)
{
	struct op *o;

	if(tag == 0) return;
	o = calloc(1, sizeof(*o));
	if(o == NULL) return; /* unacked: RabbitMQ redelivers after a reconnect */
	o->kind = OP_ACK;
	o->tag = tag;
	o->gen = gen;
	push_op(l, o);
}

struct cluster_msg *cluster_link_take(struct cluster_link *l)
{
	struct cluster_msg *m;

	/* The tick called ih_wake_tick before this: whatever arrives from now
	 * on wakes the broker again. */
	pthread_mutex_lock(&l->lock);
	m = l->in;
	l->in = NULL;
	l->in_tail = &l->in;
	pthread_mutex_unlock(&l->lock);
	return m;
}

void cluster_link_drain_log(struct cluster_link *l)
{
	ih_logq_drain(&l->log);
}

void cluster_link_get_stats(struct cluster_link *l, struct cluster_link_stats *o)
{
	o->published = atomic_load(&l->n_published);
	o->confirmed = atomic_load(&l->n_confirmed);
	o->received = atomic_load(&l->n_received);
	o->acked = atomic_load(&l->n_acked);
	o->returned = atomic_load(&l->n_returned);
	o->reconnects = atomic_load(&l->n_reconnects);
	o->bindings = atomic_load(&l->n_bindings);
	o->binds = atomic_load(&l->n_binds);
	o->unbinds = atomic_load(&l->n_unbinds);
	o->dropped = atomic_load(&l->n_dropped);
	o->key_ops_done = atomic_load(&l->n_key_ops);
	o->connected = atomic_load(&l->connected);
}

/* ------------------------------------------------------------------ */
/* thread: key sets                                                    */

static void set_add(struct ih_strmap *m, const char *key)
{
	size_t n = strlen(key);
	struct binding *b;

	if(ih_strmap_find(m, key, n)) return;
	b = malloc(sizeof(*b) + n + 1);
	if(b == NULL) return;
	memcpy(b->key, key, n + 1);
	ih_strmap_insert(m, &b->node, b->key, n);
}

static void set_del(struct ih_strmap *m, const char *key)
{
	struct ih_strmap_node *nd = ih_strmap_find(m, key, strlen(key));

	if(nd == NULL) return;
	ih_strmap_remove(m, nd);
	free(auth_container_of(nd, struct binding, node));
}

static void set_clear(struct ih_strmap *m)
{
	for(size_t i = 0; m->buckets && i <= m->mask; i++){
		while(m->buckets[i]){
			struct ih_strmap_node *nd = m->buckets[i];
			ih_strmap_remove(m, nd);
			free(auth_container_of(nd, struct binding, node));
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

static void drop_connection(struct cluster_link *l, const char *why)
{
	if(l->conn == NULL) return;
	ih_logq_push(&l->log, MOSQ_LOG_WARNING, "iothub: cluster: RabbitMQ link to %s:%d lost: %s; reconnecting",
			l->target.ci.host, l->target.ci.port, why);
	events_amqp_disconnect(l->conn, false);
	l->conn = NULL;
	atomic_store(&l->connected, false);
	for(struct out *o = l->outbox; o; o = o->next) o->seq = 0;
}

static int bind_rpc(struct cluster_link *l, const char *key, bool bind, char *err, size_t errlen)
{
	char what[CLUSTER_KEY_MAX + 32];

	if(bind){
		amqp_queue_bind(l->conn, CH_RPC, amqp_cstring_bytes(l->queue), amqp_cstring_bytes(l->exchange),
				amqp_cstring_bytes(key), amqp_empty_table);
	}else{
		amqp_queue_unbind(l->conn, CH_RPC, amqp_cstring_bytes(l->queue), amqp_cstring_bytes(l->exchange),
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
			if(bind_rpc(l, nd->key, bind, err, errlen)) return -1;
		}
	}
	return 0;
}

static int publish_one(struct cluster_link *l, struct out *o)
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
		drop_connection(l, amqp_error_string2(rc));
		return -1;
	}
	o->seq = ++l->next_seq;
	atomic_fetch_add(&l->n_published, 1);
	return 0;
}

/* 0 connected, -1 failed, -2 the name is held by another live node. */
static int setup(struct cluster_link *l, char *err, size_t errlen)
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
	if((rc = bind_rpc(l, l->node_key, true, err, errlen))) goto fail;
	if((rc = for_each_key(&l->unbinds, false, l, err, errlen))) goto fail;
	set_clear(&l->unbinds);
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
		if(publish_one(l, o)) return -1;
	}
	return 0;
fail:
	events_amqp_disconnect(l->conn, false);
	l->conn = NULL;
	return rc == -2 ? -2 : -1;
}

/* ------------------------------------------------------------------ */
/* thread: operations and frames                                       */

static void outbox_add(struct cluster_link *l, struct out *o)
{
	if(l->outbox_n >= OUTBOX_MAX){
		atomic_fetch_add(&l->n_dropped, 1);
		out_free(o);
		return;
	}
	o->next = NULL;
	*l->outbox_tail = o;
	l->outbox_tail = &o->next;
	l->outbox_n++;
	if(l->conn) publish_one(l, o);
}

static void confirm(struct cluster_link *l, uint64_t tag, bool multiple, bool ok)
{
	struct out **pp = &l->outbox;

	if(!ok){
		drop_connection(l, "RabbitMQ nacked a routed message");
		return;
	}
	while(*pp){
		struct out *o = *pp;

		if(o->seq != 0 && (o->seq == tag || (multiple && o->seq < tag))){
			*pp = o->next;
			out_free(o);
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
				set_del(&l->unbinds, o->key);
				set_add(&l->binds, o->key);
				if(l->conn && bind_rpc(l, o->key, true, err, sizeof(err))) drop_connection(l, err);
				atomic_fetch_add(&l->n_key_ops, 1);
				break;
			case OP_UNBIND:
				set_del(&l->binds, o->key);
				if(l->conn){
					if(bind_rpc(l, o->key, false, err, sizeof(err))) drop_connection(l, err);
				}else{
					set_add(&l->unbinds, o->key);
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
						drop_connection(l, "ack failed");
					}
				}
				break;
		}
		free(o->key);
		out_free(o->pub);
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
	push_in(l, m); /* the broker thread owns m */
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
			drop_connection(l, amqp_error_string2(rc));
			return;
		}
		err[0] = '\0';
		if(handle_frame(l, &fr, err, sizeof(err)) < 0) drop_connection(l, err);
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

static void *link_main(void *arg)
{
	struct cluster_link *l = arg;
	int64_t next_try = 0;
	char err[1024];

	while(!stopping(l)){
		int64_t now = ih_mono_ms();

		if(l->conn == NULL && now >= next_try){
			int rc = setup(l, err, sizeof(err));

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

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */

static char *concat(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = malloc(na + nb + 1);

	if(s == NULL) return NULL;
	memcpy(s, a, na);
	memcpy(s + na, b, nb + 1);
	return s;
}

int cluster_link_start(struct cluster_link **out, const struct ih_config *cfg, char *err, size_t errlen)
{
	struct cluster_link *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;

	*out = NULL;
	if(l == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->ready_cv, &ca);
	pthread_condattr_destroy(&ca);
	l->efd = -1;
	l->ops_tail = &l->ops;
	l->in_tail = &l->in;
	l->outbox_tail = &l->outbox;
	*out = l; /* cluster_link_stop frees a partial one */
	if(ih_logq_init(&l->log, "cluster") || ih_strmap_init(&l->binds, calloc, free)
			|| ih_strmap_init(&l->unbinds, calloc, free)){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if(events_amqp_target_init(&l->target, cfg, err, errlen)) return -1;
	l->node = strdup(cfg->node_name);
	l->queue = concat(cfg->cluster_queue_prefix, cfg->node_name);
	l->lock_queue = concat(LOCK_QUEUE_PREFIX, cfg->node_name);
	l->exchange = strdup(cfg->cluster_exchange);
	l->admin_exchange = strdup(cfg->cluster_admin_exchange);
	if(!l->node || !l->queue || !l->lock_queue || !l->exchange || !l->admin_exchange){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if(cluster_key_node(cfg->node_name, l->node_key) < 0 || strlen(l->queue) > 255 || strlen(l->lock_queue) > 255){
		snprintf(err, errlen, "option node_name: \"%s\" is too long for a RabbitMQ queue name", cfg->node_name);
		return -1;
	}
	l->quorum = cfg->amqp_queue_type == IH_QUEUE_QUORUM;
	l->reconnect_min_ms = cfg->amqp_reconnect_min_ms;
	l->reconnect_max_ms = cfg->amqp_reconnect_max_ms;
	l->backoff_ms = l->reconnect_min_ms;
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if(l->efd < 0){
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	if(pthread_create(&l->thread, NULL, link_main, l)){
		snprintf(err, errlen, "cannot start the cluster thread");
		return -1;
	}
	l->started = true;
	return 0;
}

int cluster_link_wait_ready(struct cluster_link *l, char *err, size_t errlen)
{
	struct timespec ts;
	int64_t ms = (int64_t)l->target.timeout_ms * (int64_t)(l->target.n_uris * 3) + 1000;
	int state;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if(ts.tv_nsec >= 1000000000){
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&l->lock);
	while(l->ready == 0){
		if(pthread_cond_timedwait(&l->ready_cv, &l->lock, &ts) == ETIMEDOUT) break;
	}
	state = l->ready;
	snprintf(err, errlen, "%s", l->ready_err);
	pthread_mutex_unlock(&l->lock);
	ih_logq_drain(&l->log);
	return state == 1 ? 1 : state == -1 ? -1 : 0;
}

void cluster_link_stop(struct cluster_link *l)
{
	if(l == NULL) return;
	if(l->started){
		pthread_mutex_lock(&l->lock);
		l->stop = true;
		pthread_mutex_unlock(&l->lock);
		wake(l);
		pthread_join(l->thread, NULL);
	}
	ih_logq_drain(&l->log);
	while(l->ops){
		struct op *o = l->ops;
		l->ops = o->next;
		free(o->key);
		out_free(o->pub);
		free(o);
	}
	while(l->in){
		struct cluster_msg *m = l->in;
		l->in = m->next;
		cluster_msg_free(m);
	}
	while(l->outbox){
		struct out *o = l->outbox;
		l->outbox = o->next;
		out_free(o);
	}
	set_clear(&l->binds);
	set_clear(&l->unbinds);
	ih_strmap_cleanup(&l->binds);
	ih_strmap_cleanup(&l->unbinds);
	events_amqp_target_cleanup(&l->target);
	free(l->node);
	free(l->queue);
	free(l->lock_queue);
	free(l->exchange);
	free(l->admin_exchange);
	if(l->efd >= 0) close(l->efd);
	ih_logq_cleanup(&l->log);
	pthread_cond_destroy(&l->ready_cv);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
