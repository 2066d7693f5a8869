/*
 * Log lines from threads that may not call the broker: they queue lines
 * here and the broker thread prints them with mosquitto_log_printf.
 * Fixed capacity, no allocation; when full, lines are dropped and counted
 * (the drain reports how many), and pushing never blocks, so it is safe
 * from any thread, including from inside a libmongoc call on the broker
 * thread itself.
 */
#ifndef IH_AUTH_LOGQ_H
#define IH_AUTH_LOGQ_H

#include <pthread.h>
#include <stdint.h>

#define AUTH_LOGQ_LINES 64
#define AUTH_LOGQ_LINE_MAX 400

struct auth_logq {
	pthread_mutex_t lock;
	unsigned head;              /* next line to print */
	unsigned count;
	uint64_t dropped;
	struct {
		int level;              /* MOSQ_LOG_* */
		char text[AUTH_LOGQ_LINE_MAX];
	} lines[AUTH_LOGQ_LINES];
};

int auth_logq_init(struct auth_logq *q);
void auth_logq_cleanup(struct auth_logq *q);
/* Any thread. */
void auth_logq_push(struct auth_logq *q, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Broker thread: print and forget everything queued. */
void auth_logq_drain(struct auth_logq *q);

#endif
