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
 * Policies
 * - Durability: a record is committed to a MAP_SHARED, fallocated segment
 *   file before events_* returns, so it survives SIGKILL of the broker (the
 *   page cache outlives the process). Power loss: only what the kernel or
 *   spool_sync_interval (msync by the forwarder, off by default) wrote back.
 * - Overflow: when the spool cannot take a record (spool_max_bytes reached,
 *   ENOSPC, EACCES...), the event goes to a memory queue of at most
 *   queue_max_events (degraded mode, WARNING logged on entering and leaving;
 *   those events are lost if the broker dies) and is dropped only when that
 *   queue is full too (counted in `dropped`, logged at most every 10 s).
 *   The forwarder drains the memory queue first: those are the events at risk.
 * - Delivery: at least once. Every event carries a unique event_id, also the
 *   AMQP message_id; consumers deduplicate on it. Unconfirmed, nacked and
 *   returned events are published again, in order, after a reconnect (with
 *   topology redeclared and exponential backoff); after a restart everything
 *   past the checkpoint is replayed (`redelivered`).
 * - Ordering: spool order. Per connection, `seq` (from the glue) and
 *   `conn_id` let consumers order connect/disconnect of one client even
 *   across redeliveries; degraded mode may reorder memory-held events
 *   before older spooled ones.
 *
 * Glue contract
 * - events_init after the configuration is parsed; events_cleanup before
 *   ih_config_cleanup (the configuration is referenced, not copied).
 *   events_cleanup waits at most min(amqp_timeout, 2 s) for outstanding
 *   confirms, then stops the forwarder and writes the checkpoint.
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
