/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Log lines from threads that may not call the broker.
 *
 * mosquitto_log_printf must only run on the broker thread, so the registry
 * worker, libmongoc's log handler, the event forwarder and the spool (which
 * runs on both threads) format their lines into a fixed ring, and the
 * broker thread prints them from its tick. No allocation; when the ring is
 * full, lines are dropped and counted and the next drain reports how many.
 * Pushing never blocks on I/O, so it is safe from any thread, including
 * from inside a libmongoc call on the broker thread itself.
 */
#ifndef IH_CORE_LOGQ_H
#define IH_CORE_LOGQ_H

#include <pthread.h>
#include <stdint.h>

#define IH_LOGQ_LINES 128
#define IH_LOGQ_LINE_MAX 480

struct ih_logq {
	pthread_mutex_t lock;   /* held only for a memcpy, never across I/O */
	unsigned head;          /* next line to print */
	unsigned count;
	uint64_t dropped;
	const char *source;     /* static; names the threads in the drop report */
	struct {
		int level;          /* MOSQ_LOG_* */
		char text[IH_LOGQ_LINE_MAX];
	} lines[IH_LOGQ_LINES];
};

/* source: a static string such as "the registry worker". */
int ih_logq_init(struct ih_logq *q, const char *source);
void ih_logq_cleanup(struct ih_logq *q);

/* Any thread. */
void ih_logq_push(struct ih_logq *q, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Broker thread only: print and forget everything queued. */
void ih_logq_drain(struct ih_logq *q);

/* The same, through print instead of the broker's logger: for a process of
 * ours that has no broker to print with (registry/helper.c). */
typedef void (*ih_logq_print_fn)(void *ud, int level, const char *text);
void ih_logq_drain_with(struct ih_logq *q, ih_logq_print_fn print, void *ud);

#endif
