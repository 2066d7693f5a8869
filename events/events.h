/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Event forwarding to RabbitMQ: the boundary the plugin glue calls.
 *
 * Every function here runs on the broker thread. events_connected,
 * events_disconnected and events_publish only encode the event into the
 * spool (a memory-mapped file) and return; a forwarder thread of our own
 * publishes it to RabbitMQ with publisher confirms. An event that
 * events_* accepted (returned 0) survives a RabbitMQ outage, a broker
 * restart and a broker SIGKILL, except in degraded mode (spool full or
 * unwritable), where it waits in a bounded memory queue.
 *
 * When amqp_uri is not configured, events_init succeeds with *out = NULL
 * and every other function accepts NULL and does nothing.
 *
 * Policies. README.md, section "Events", is the one home of durability,
 * power loss, overflow (degraded mode), delivery (at least once, dedup on
 * message_id) and ordering (`seq`); core/config.c's table holds the
 * defaults. What this boundary must keep true for them:
 * - a record is committed to a MAP_SHARED, fallocated segment before
 *   events_* returns 0 (events_spool_commit), so it survives SIGKILL;
 * - nothing here waits for the forwarder or does I/O but the mapped write
 *   (and, rarely, a segment creation when no spare is ready);
 * - an event is dropped only when the spool and the memory queue both
 *   refuse it, and every drop is counted in `dropped`;
 * - every event gets a unique event_id (boot id + counter), the AMQP
 *   message_id the forwarder sends.
 *
 * Glue contract
 * - events_init after the configuration is parsed; events_cleanup before
 *   ih_config_cleanup (the configuration is referenced, not copied).
 *   events_cleanup waits a bounded time for outstanding confirms (README.md,
 *   "Events", Shutdown; STOP_DRAIN_MAX_MS in events.c), then stops the
 *   forwarder and writes the checkpoint.
 * - events_tick from MOSQ_EVT_TICK (TICK does not run with
 *   per_listener_settings true: then nothing is logged from the forwarder,
 *   but forwarding itself does not depend on ticks).
 * - All functions are broker-thread only except events_get_stats.
 */
#ifndef IH_EVENTS_EVENTS_H
#define IH_EVENTS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct events;                       /* opaque */
struct ih_config;

struct events_client {          /* what the glue knows about a connection */
	const char *client_id;
	const char *username;            /* may be NULL (anonymous) */
	size_t product_len;              /* username = Product/Device; 0 if anonymous */
	const char *conn_id;             /* unique per accepted connection (string) */
	const char *address;             /* peer IP, may be NULL */
	int keepalive;
	int proto_ver;                   /* 3, 4 or 5 */
	bool clean_session;
};

/* Opens/recovers the spool, starts the forwarder; logs and fails on config
 * problems (unwritable spool_dir, bad amqp_uri). */
int  events_init(struct events **out, const struct ih_config *cfg);
/* Stops the thread (bounded wait), checkpoints, frees. */
void events_cleanup(struct events *ev);

/* 0: the event is handed over; non-zero: dropped (counted, logged rate-limited). */
int  events_connected(struct events *ev, const struct events_client *c, int64_t seq, int64_t at_ms);
int  events_disconnected(struct events *ev, const struct events_client *c, int64_t seq, int64_t at_ms,
		const char *reason);
/* event_publish on and topic matches event_publish_topics; cheap. */
bool events_publish_wanted(const struct events *ev, const char *topic);
int  events_publish(struct events *ev, const struct events_client *c, int64_t seq, int64_t at_ms,
		const char *topic, const void *payload, uint32_t payloadlen, int qos, bool retain);

/* Drain the forwarder's log lines, log state changes, and every
 * stats_interval the counters. Call from MOSQ_EVT_TICK. */
/* now_s: monotonic seconds (ih_mono_s), the clock of every interval here. */
void events_tick(struct events *ev, time_t now_s);

struct events_stats {
	uint64_t queued, spooled, spool_bytes, memory_queued, published, confirmed, returned, nacked,
		dropped, reconnects, redelivered, backlog;
	bool amqp_connected, blocked;
};
/* Thread-safe snapshot. */
void events_get_stats(const struct events *ev, struct events_stats *out);

#endif
