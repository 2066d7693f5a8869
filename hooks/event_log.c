/*
 * Cross-thread log ring (see event_log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "hooks/event_log.h"

int hooks_event_log_init(struct hooks_event_log *lq)
{
	memset(lq, 0, sizeof(*lq));
	return pthread_mutex_init(&lq->lock, NULL) ? MOSQ_ERR_UNKNOWN : MOSQ_ERR_SUCCESS;
}

void hooks_event_log_cleanup(struct hooks_event_log *lq)
{
	pthread_mutex_destroy(&lq->lock);
}

void hooks_event_log_printf(struct hooks_event_log *lq, int level, const char *fmt, ...)
{
	char buf[HOOKS_EVENT_LOG_LINE_MAX];
	va_list ap;
	unsigned slot;

	/* Format outside the lock: the lock only guards the copy. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&lq->lock);
	if(lq->count == HOOKS_EVENT_LOG_LINES){
		lq->lost++;
	}else{
		slot = (lq->head + lq->count) % HOOKS_EVENT_LOG_LINES;
		lq->level[slot] = level;
		memcpy(lq->line[slot], buf, sizeof(buf));
		lq->count++;
	}
	pthread_mutex_unlock(&lq->lock);
}

void hooks_event_log_drain(struct hooks_event_log *lq)
{
	char buf[HOOKS_EVENT_LOG_LINE_MAX];
	int level;
	uint64_t lost;

	for(;;){
		pthread_mutex_lock(&lq->lock);
		if(lq->count == 0){
			lost = lq->lost;
			lq->lost = 0;
			pthread_mutex_unlock(&lq->lock);
			break;
		}
		level = lq->level[lq->head];
		memcpy(buf, lq->line[lq->head], sizeof(buf));
		lq->head = (lq->head + 1) % HOOKS_EVENT_LOG_LINES;
		lq->count--;
		pthread_mutex_unlock(&lq->lock);
		/* Logged outside the lock so the forwarder never waits on the broker's logger. */
		mosquitto_log_printf(level, "%s", buf);
	}
	if(lost){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: events: %llu log lines from the forwarder were dropped (log ring full)",
				(unsigned long long)lost);
	}
}
