/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Cross-thread log ring (see logq.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "core/logq.h"

int ih_logq_init(struct ih_logq *q, const char *source)
{
	memset(q, 0, sizeof(*q));
	q->source = source;
	return pthread_mutex_init(&q->lock, NULL) ? -1 : 0;
}

void ih_logq_cleanup(struct ih_logq *q)
{
	pthread_mutex_destroy(&q->lock);
}

void ih_logq_push(struct ih_logq *q, int level, const char *fmt, ...)
{
	char buf[IH_LOGQ_LINE_MAX];
	va_list ap;
	unsigned slot;

	/* Format outside the lock: the lock only guards the copy. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&q->lock);
	if(q->count == IH_LOGQ_LINES){
		q->dropped++;
	}else{
		slot = (q->head + q->count) % IH_LOGQ_LINES;
		q->lines[slot].level = level;
		memcpy(q->lines[slot].text, buf, sizeof(buf));
		q->count++;
	}
	pthread_mutex_unlock(&q->lock);
}

void ih_logq_drain_with(struct ih_logq *q, ih_logq_print_fn print, void *ud)
{
	char text[IH_LOGQ_LINE_MAX];
	int level;
	uint64_t dropped;

	for(;;){
		/* One line at a time, so the broker's logger runs without our lock
		 * and a pushing thread never waits on it. */
		pthread_mutex_lock(&q->lock);
		if(q->count == 0){
			dropped = q->dropped;
			q->dropped = 0;
			pthread_mutex_unlock(&q->lock);
			break;
		}
		level = q->lines[q->head].level;
		memcpy(text, q->lines[q->head].text, sizeof(text));
		q->head = (q->head + 1) % IH_LOGQ_LINES;
		q->count--;
		pthread_mutex_unlock(&q->lock);
		print(ud, level, text);
	}
	if(dropped){
		char line[IH_LOGQ_LINE_MAX];
		snprintf(line, sizeof(line), "iothub: %llu log lines from %s were dropped (log ring full)",
				(unsigned long long)dropped, q->source);
		print(ud, MOSQ_LOG_WARNING, line);
	}
}

static void print_broker(void *ud, int level, const char *text)
{
	(void)ud;
	mosquitto_log_printf(level, "%s", text);
}

void ih_logq_drain(struct ih_logq *q)
{
	ih_logq_drain_with(q, print_broker, NULL);
}
