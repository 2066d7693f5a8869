/*
 * Deferred log lines (see logq.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/logq.h"

int auth_logq_init(struct auth_logq *q)
{
	memset(q, 0, sizeof(*q));
	return pthread_mutex_init(&q->lock, NULL) ? -1 : 0;
}

void auth_logq_cleanup(struct auth_logq *q)
{
	pthread_mutex_destroy(&q->lock);
}

void auth_logq_push(struct auth_logq *q, int level, const char *fmt, ...)
{
	va_list ap;
	unsigned slot;

	pthread_mutex_lock(&q->lock);
	if(q->count == AUTH_LOGQ_LINES){
		q->dropped++;
	}else{
		slot = (q->head + q->count) % AUTH_LOGQ_LINES;
		q->lines[slot].level = level;
		va_start(ap, fmt);
		vsnprintf(q->lines[slot].text, AUTH_LOGQ_LINE_MAX, fmt, ap);
		va_end(ap);
		q->count++;
	}
	pthread_mutex_unlock(&q->lock);
}

void auth_logq_drain(struct auth_logq *q)
{
	int level;
	char text[AUTH_LOGQ_LINE_MAX];
	uint64_t dropped;

	for(;;){
		/* One line at a time, so the broker's logger runs without our lock. */
		pthread_mutex_lock(&q->lock);
		if(q->count == 0){
			dropped = q->dropped;
			q->dropped = 0;
			pthread_mutex_unlock(&q->lock);
			break;
		}
		level = q->lines[q->head].level;
		memcpy(text, q->lines[q->head].text, sizeof(text));
		q->head = (q->head + 1) % AUTH_LOGQ_LINES;
		q->count--;
		pthread_mutex_unlock(&q->lock);
		mosquitto_log_printf(level, "%s", text);
	}
	if(dropped){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: %llu log lines from background threads were dropped",
				(unsigned long long)dropped);
	}
}
