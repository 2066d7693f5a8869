/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Waking the broker thread out of its epoll_wait: the one mechanism that
 * both the HTTP management API and the cluster use (docs/MOSQUITTO.md §12).
 *
 * Why a signal. Mosquitto 2.0.11 gives a plugin no way to wake its loop,
 * which sleeps up to 100 ms in epoll_wait when idle, and MOSQ_EVT_TICK,
 * where the broker thread takes what our threads queued, runs once per
 * loop iteration, right after the wait. A signal sent to the broker thread
 * (pthread_kill) with a handler installed makes epoll_wait fail with EINTR,
 * which Mosquitto treats like a timeout: the tick follows at once.
 *
 * Why SIGURG. Mosquitto does not use it and its default action is to
 * ignore it, so a stray one after ih_wake_cleanup restored the previous
 * disposition is harmless (a real-time signal's default action would
 * terminate the broker). It is a standard signal: several sent before the
 * handler runs merge into one, so repeated wake-ups cannot pile up.
 *
 * Why SA_RESTART. epoll_wait is never restarted after a handler, whatever
 * the flags (signal(7)), so it still returns EINTR; every other
 * restartable system call of the broker thread (file I/O, libmongoc's
 * socket calls) just carries on.
 *
 * Coalescing. ih_wake_broker sends at most one signal between two ticks:
 * the tick calls ih_wake_tick first, before it takes any queue, so a
 * producer that queued its work and found a wake-up already pending knows
 * that the coming tick takes its work too.
 *
 * The one gap. Mosquitto unmasks signals around epoll_wait with a separate
 * sigprocmask call, so a signal that lands after the tick and before the
 * wait starts is consumed by the handler and the wait sleeps its full
 * 100 ms. A producer that must not lose those 100 ms (an HTTP thread
 * waiting for its answer) repeats with ih_wake_broker_again until the
 * broker took its request; the others accept one late tick.
 */
#ifndef IH_CORE_WAKE_H
#define IH_CORE_WAKE_H

#include <pthread.h>

/* Broker thread, at plugin init: install the handler (once; later calls
 * only count). broker is the thread to wake (pthread_self() there).
 * Returns 0, or -1 with errno set. */
int ih_wake_init(pthread_t broker);
/* Broker thread, at cleanup, after every thread that wakes has stopped:
 * the last call restores the previous disposition. */
void ih_wake_cleanup(void);

/* Any thread: wake the broker unless a wake-up is
 * already pending since the last tick. No-op before init. */
void ih_wake_broker(void);
/* Any thread: wake the broker unconditionally (a waiter's repeat, for a
 * wake-up that landed outside epoll_wait). */
void ih_wake_broker_again(void);
/* Broker thread, first thing in the tick: what is queued from now on
 * wakes the broker again. */
void ih_wake_tick(void);

#endif
