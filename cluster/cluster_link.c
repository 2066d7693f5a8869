/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster's RabbitMQ link (see cluster_link.h): the calls the broker
 * thread makes, and the lifecycle. The thread itself is in
 * cluster_link_conn.c (connection, topology) and cluster_link_loop.c.
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
#include "core/errstr.h"
#include "core/logq.h"
#include "core/strmap.h"
#include "core/wake.h"
#include "events/amqp_conn.h"

/*
 * Waking the broker: what arrives for the broker thread wakes it through
 * core/wake.h, at most once per TICK (coalesced there), so a routed command
 * does not wait for the loop's next idle wake-up.
 */

void cluster_link_out_free(struct out *o)
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

void cluster_link_push_in(struct cluster_link *l, struct cluster_msg *m)
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
		cluster_link_out_free(p);
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
		snprintf(err, errlen, "eventfd: %s", ih_strerror(errno));
		return -1;
	}
	if(pthread_create(&l->thread, NULL, cluster_link_main, l)){
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
		cluster_link_out_free(o->pub);
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
		cluster_link_out_free(o);
	}
	cluster_link_set_clear(&l->binds);
	cluster_link_set_clear(&l->unbinds);
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

