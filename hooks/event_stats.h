/*
 * Counters shared by the broker thread (writer side) and the forwarder.
 * Plain atomics, so events_get_stats() can read them from any thread.
 */
#ifndef HOOKS_EVENT_STATS_H
#define HOOKS_EVENT_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct hooks_event_counters {
	/* broker thread */
	_Atomic uint64_t queued;         /* accepted: spooled + memory_queued */
	_Atomic uint64_t spooled;
	_Atomic uint64_t memory_queued;
	_Atomic uint64_t dropped;
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
