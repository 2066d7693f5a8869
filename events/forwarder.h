/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The forwarder thread: reads the spool (then the degraded-mode memory
 * queue), publishes to RabbitMQ with confirms, advances the spool's
 * confirmed position, and keeps the spool tidy (spare segments,
 * checkpoints, unlinking, optional msync).
 *
 * It never calls the broker: it logs through the ih_logq ring and
 * allocates with libc. All its rabbitmq-c calls happen on its own thread.
 */
#ifndef IH_EVENTS_FORWARDER_H
#define IH_EVENTS_FORWARDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <amqp.h>

#include "events/amqp_batch.h"
#include "events/amqp_conn.h"
#include "events/amqp_watchdog.h"
#include "events/forwarder_ring.h"
#include "events/spool.h"

struct ih_config;
struct events_counters;
struct ih_logq;
struct events_queue;

struct events_fwd {
	/* set at init, read-only afterwards */
	struct events_amqp_target target;
	uint32_t window;
	uint32_t linger_ms;
	uint32_t reconnect_min_ms, reconnect_max_ms;
	uint32_t sync_ms;
	uint32_t timeout_ms;
	struct events_spool *spool;
	struct events_queue *memq;
	struct ih_logq *log;
	struct events_counters *ctr;

	/* shared with the broker thread */
	int efd;                   /* eventfd: wake-ups */
	_Atomic int sleeping;      /* forwarder is (about to be) in poll() waiting for events */
	_Atomic int stop;
	uint32_t drain_ms;         /* written before `stop` is set */
	pthread_t thread;
	bool started;
	struct events_amqp_watchdog wd;

	/* forwarder thread only */
	amqp_connection_state_t conn;
	struct events_fwd_ring ring;
	struct events_spool_pos rd;
	uint64_t next_tag;
	struct events_amqp_batch batch;    /* plain TCP: this round's frames */
	uint64_t batch_published, batch_redelivered; /* counted once sent */
	bool input_due;            /* false: the last poll() saw nothing to read */
	bool sent_since_wait;      /* the last round sent: events are flowing, linger */
	int64_t last_pump_ms;
	bool ever_connected;
	bool blocked;
	bool need_reset;           /* a nack or return: reconnect, redeclare, retry */
	uint32_t fail_streak;
	int64_t next_attempt_ms;
	int64_t last_ckpt_ms, last_sync_ms;
	char last_err[256];
	int64_t last_err_ms;
	unsigned rand_state;
};

/* Broker thread: parse the target (a bad amqp_uri fails here), create the
 * eventfd and the ring. No thread yet. err gets the reason on failure. */
int events_fwd_init(struct events_fwd *f, const struct ih_config *cfg, struct events_spool *spool,
		struct events_queue *memq, struct ih_logq *log, struct events_counters *ctr,
		char *err, size_t errlen);
int events_fwd_start(struct events_fwd *f);
/* Ask the thread to drain what it can within `drain_ms`, then stop; join it. */
void events_fwd_stop(struct events_fwd *f, uint32_t drain_ms);
void events_fwd_cleanup(struct events_fwd *f);

/*
 * Broker thread, after a record became visible. The common case is one
 * fence and one load; the eventfd is written only when the forwarder said
 * it is going to sleep.
 */
void events_fwd_wake_slow(struct events_fwd *f);

static inline void events_fwd_wake(struct events_fwd *f)
{
	/* Pairs with the fence in the forwarder between setting `sleeping`
	 * and its last look at the spool (Dekker): one of the two sides sees
	 * the other's store, so a record is never left unannounced. */
	atomic_thread_fence(memory_order_seq_cst);
	if(atomic_load_explicit(&f->sleeping, memory_order_relaxed)){
		events_fwd_wake_slow(f);
	}
}

#endif
