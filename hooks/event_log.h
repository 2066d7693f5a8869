/*
 * Log lines from threads that may not call the broker.
 *
 * mosquitto_log_printf must only run on the broker thread, so the forwarder
 * (and the spool, which runs on both threads) format their lines into this
 * small fixed ring; events_tick() drains it on the broker thread. When the
 * ring is full, lines are counted and the count is logged on the next drain.
 */
#ifndef HOOKS_EVENT_LOG_H
#define HOOKS_EVENT_LOG_H

#include <pthread.h>
#include <stdint.h>

#define HOOKS_EVENT_LOG_LINES 128
#define HOOKS_EVENT_LOG_LINE_MAX 480

struct hooks_event_log {
	pthread_mutex_t lock;   /* held only for a memcpy, never across I/O */
	unsigned head, count;
	uint64_t lost;
	int level[HOOKS_EVENT_LOG_LINES];
	char line[HOOKS_EVENT_LOG_LINES][HOOKS_EVENT_LOG_LINE_MAX];
};

int hooks_event_log_init(struct hooks_event_log *lq);
void hooks_event_log_cleanup(struct hooks_event_log *lq);

/* Any thread. `level` is a MOSQ_LOG_* value. */
void hooks_event_log_printf(struct hooks_event_log *lq, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Broker thread only: hand every queued line to mosquitto_log_printf. */
void hooks_event_log_drain(struct hooks_event_log *lq);

#endif
