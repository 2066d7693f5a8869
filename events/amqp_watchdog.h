/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * A deadline on every blocking rabbitmq-c call.
 *
 * rabbitmq-c 0.11 keeps its socket non-blocking and, inside
 * amqp_basic_publish, polls for writability with an infinite deadline, so
 * SO_SNDTIMEO cannot bound it (docs/MOSQUITTO.md §10): under a RabbitMQ resource alarm that stops
 * reading, the forwarder would hang forever. Instead the forwarder arms a
 * deadline before each call and a small supervisor thread shuts the socket
 * down (shutdown(2)) when a deadline passes; the blocked call then fails
 * and the forwarder treats it as a broken connection. The supervisor calls
 * neither rabbitmq-c nor the broker.
 */
#ifndef IH_EVENTS_AMQP_WATCHDOG_H
#define IH_EVENTS_AMQP_WATCHDOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct events_amqp_watchdog {
	pthread_t thread;
	pthread_mutex_t lock;      /* guards fd against close/reuse; never held across I/O */
	pthread_cond_t cond;
	bool stop;
	bool started;
	int fd;                    /* socket to shut down, -1 when none */
	_Atomic int64_t deadline;  /* CLOCK_MONOTONIC ms, 0 = not armed */
	_Atomic int fired;
};

int events_amqp_watchdog_start(struct events_amqp_watchdog *wd);
void events_amqp_watchdog_stop(struct events_amqp_watchdog *wd);

/* Forwarder: the socket of the new connection, or -1 before closing it. */
void events_amqp_watchdog_set_fd(struct events_amqp_watchdog *wd, int fd);
/* Forwarder: a blocking call starts / ended. Cheap (one atomic store). */
void events_amqp_watchdog_arm(struct events_amqp_watchdog *wd, int64_t now_ms, uint32_t timeout_ms);
void events_amqp_watchdog_disarm(struct events_amqp_watchdog *wd);
/* Forwarder: did the watchdog kill the current connection? Clears the flag. */
bool events_amqp_watchdog_fired(struct events_amqp_watchdog *wd);

#endif
