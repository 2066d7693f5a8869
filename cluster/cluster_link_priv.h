/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The cluster link's state, shared by cluster_link.c (the broker thread's
 * calls and the lifecycle), cluster_link_conn.c (the thread's connection
 * and topology) and cluster_link_loop.c (the thread's outbox, operations,
 * incoming frames and main loop). Private to cluster/.
 */
#ifndef IH_CLUSTER_LINK_PRIV_H
#define IH_CLUSTER_LINK_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <amqp.h>

#include "cluster/cluster_key.h"
#include "cluster/cluster_link.h"
#include "core/logq.h"
#include "core/strmap.h"
#include "events/amqp_conn.h"

/* Publishes (confirm mode), the consumer, and the binding of routing keys.
 * A key's bind or unbind must take effect in RabbitMQ after the publishes
 * queued before it: a takeover announcement to c.<client id> has to be
 * routed (and returned when nobody else holds the id) before this node
 * binds that key itself. RabbitMQ orders methods within one channel only;
 * a bind on another channel may be applied first, and the announcement
 * then reaches this node's own queue instead of coming back, so the
 * client.connected waited cluster_takeover_wait for a release nobody
 * sends. */
#define CH_PUB 1
#define CH_RPC 2                 /* the topology declared at setup */
#define PREFETCH 512
#define OUTBOX_MAX 100000        /* publishes held for confirms; beyond, new ones are dropped */
#define POLL_MS 200              /* heartbeats are served at least this often */
#define LOCK_QUEUE_PREFIX "iothub.lock."


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


void cluster_link_out_free(struct out *o);
void cluster_link_push_in(struct cluster_link *l, struct cluster_msg *m);
int cluster_link_bind_rpc(struct cluster_link *l, const char *key, bool bind, char *err, size_t errlen);
void cluster_link_drop_connection(struct cluster_link *l, const char *why);
int cluster_link_publish_one(struct cluster_link *l, struct out *o);
void cluster_link_set_add(struct ih_strmap *m, const char *key);
void cluster_link_set_clear(struct ih_strmap *m);
void cluster_link_set_del(struct ih_strmap *m, const char *key);
int cluster_link_setup(struct cluster_link *l, char *err, size_t errlen);
/* The thread (cluster_link_loop.c). */
void *cluster_link_main(void *arg);

#endif
