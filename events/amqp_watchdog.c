/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Deadline supervisor for the forwarder's blocking calls (see header).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "events/amqp_watchdog.h"
#include "core/clock.h"

#define TICK_MS 50

static void *watch(void *arg)
{
	struct events_amqp_watchdog *wd = arg;
	struct timespec ts;

	pthread_mutex_lock(&wd->lock);
	while(!wd->stop){
		int64_t d;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if(ts.tv_nsec >= 1000000000L){
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wd->cond, &wd->lock, &ts);
		d = atomic_load(&wd->deadline);
		if(d && wd->fd >= 0 && ih_mono_ms() > d && !atomic_load(&wd->fired)){
			/* Wakes the blocked poll; the fd stays open until the forwarder closes it. */
			shutdown(wd->fd, SHUT_RDWR);
			atomic_store(&wd->fired, 1);
		}
	}
	pthread_mutex_unlock(&wd->lock);
	return NULL;
}

int events_amqp_watchdog_start(struct events_amqp_watchdog *wd)
{
	pthread_condattr_t ca;
	int rc;

	memset(wd, 0, sizeof(*wd));
	wd->fd = -1;
	pthread_mutex_init(&wd->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&wd->thread, NULL, watch, wd);
	if(rc){
		pthread_cond_destroy(&wd->cond);
		pthread_mutex_destroy(&wd->lock);
		return -rc;
	}
	wd->started = true;
	return 0;
}

void events_amqp_watchdog_stop(struct events_amqp_watchdog *wd)
{
	if(!wd->started) return;
	pthread_mutex_lock(&wd->lock);
	wd->stop = true;
	pthread_cond_signal(&wd->cond);
	pthread_mutex_unlock(&wd->lock);
	pthread_join(wd->thread, NULL);
	pthread_cond_destroy(&wd->cond);
	pthread_mutex_destroy(&wd->lock);
	wd->started = false;
}

void events_amqp_watchdog_set_fd(struct events_amqp_watchdog *wd, int fd)
{
	pthread_mutex_lock(&wd->lock);
	wd->fd = fd;
	atomic_store(&wd->deadline, 0);
	atomic_store(&wd->fired, 0);
	pthread_mutex_unlock(&wd->lock);
}

void events_amqp_watchdog_arm(struct events_amqp_watchdog *wd, int64_t now_ms, uint32_t timeout_ms)
{
	atomic_store_explicit(&wd->deadline, now_ms + timeout_ms, memory_order_relaxed);
}

void events_amqp_watchdog_disarm(struct events_amqp_watchdog *wd)
{
	atomic_store_explicit(&wd->deadline, 0, memory_order_relaxed);
}

bool events_amqp_watchdog_fired(struct events_amqp_watchdog *wd)
{
	return atomic_exchange(&wd->fired, 0) != 0;
}
