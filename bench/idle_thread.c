/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * idle_thread.so: LD_PRELOAD into the bare broker, it starts one thread
 * that only sleeps (bench/scenarios/95-instr.sh).
 *
 * Why: once a process has a second thread, glibc stays in its
 * multi-threaded mode for good. Every read() and write() then goes through
 * the cancellation-point wrappers and malloc takes its arena locks. Any
 * plugin that keeps its network I/O off the broker thread (registry worker,
 * AMQP forwarder) pays that cost on every message, whatever it does itself.
 * The bare broker with this shim measures the cost on its own, so that the
 * plugin's share of the per-message overhead can be read apart from it.
 */
#include <pthread.h>
#include <unistd.h>

static void *idle_main(void *arg)
{
	(void)arg;
	for(;;) pause();
	return NULL;
}

__attribute__((constructor)) static void idle_thread_start(void)
{
	pthread_t t;

	if(pthread_create(&t, NULL, idle_main, NULL) == 0) pthread_detach(t);
}
