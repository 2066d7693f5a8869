/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Counters shared by the broker thread (writer side) and the forwarder.
 * Plain atomics, so events_get_stats() can read them from any thread.
 */
#ifndef IH_EVENTS_EVENT_STATS_H
#define IH_EVENTS_EVENT_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* A counter with a single writer: load and store, no locked instruction
 * (readers on other threads still see whole values). */
static inline void events_ctr_inc1(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

struct events_counters {
	/* broker thread */
	_Atomic uint64_t queued;         /* accepted: spooled + memory_queued */
	_Atomic uint64_t spooled;
	_Atomic uint64_t memory_queued;
	_Atomic uint64_t dropped;
	/* Keeps the two writers' counters off a shared cache line (the struct
	 * is only 16-byte aligned, hence a whole line): otherwise every event
	 * would bounce that line between the broker thread and the forwarder. */
	char pad_[64];
	/* forwarder */
	_Atomic uint64_t published;      /* basic.publish calls, retries included */
	_Atomic uint64_t confirmed;      /* distinct events acked by RabbitMQ */
	_Atomic uint64_t returned;
	_Atomic uint64_t nacked;
	_Atomic uint64_t reconnects;
	_Atomic uint64_t redelivered;    /* published again, or replayed after a restart */
	_Atomic uint64_t memory_lost;    /* memory-queued events lost at shutdown */
	_Atomic int amqp_connected;
	_Atomic int blocked;
};

#endif
