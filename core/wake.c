/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The broker thread's wake-up signal (see wake.h).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "core/wake.h"

#define IH_WAKE_SIGNAL SIGURG

/* Written on the broker thread before any waker thread exists (init) and
 * after the last one stopped (cleanup); read-only in between. */
static pthread_t wake_thread;
static unsigned wake_users;
static struct sigaction wake_old;
static atomic_bool wake_on;
static atomic_bool wake_pending;

static void on_wake(int sig)
{
	(void)sig; /* interrupting epoll_wait is the whole point */
}

int ih_wake_init(pthread_t broker)
{
	struct sigaction sa;

	if(wake_users > 0){
		wake_users++;
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART; /* epoll_wait still fails with EINTR (wake.h) */
	if(sigaction(IH_WAKE_SIGNAL, &sa, &wake_old)) return -1;
	wake_thread = broker;
	wake_users = 1;
	atomic_store(&wake_pending, false);
	atomic_store(&wake_on, true);
	return 0;
}

void ih_wake_cleanup(void)
{
	if(wake_users == 0 || --wake_users > 0) return;
	atomic_store(&wake_on, false);
	sigaction(IH_WAKE_SIGNAL, &wake_old, NULL);
}

void ih_wake_broker_again(void)
{
	if(atomic_load(&wake_on)) pthread_kill(wake_thread, IH_WAKE_SIGNAL);
}

void ih_wake_broker(void)
{
	if(!atomic_exchange(&wake_pending, true)) ih_wake_broker_again();
}

void ih_wake_tick(void)
{
	atomic_store(&wake_pending, false);
}
