/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * libmongoc's process-wide state: mongoc_init/mongoc_cleanup and the log
 * handler.
 *
 * The plugin may be loaded once per listener, and mongoc_cleanup must run
 * once, after the last user, so acquisitions are counted.
 *
 * libmongoc's default log handler prints to stderr from whatever thread is
 * inside the driver, bypassing the broker's log. Ours queues warnings and
 * errors (dropping chatter) for the broker thread to print; the last
 * release restores the default.
 *
 * All three calls on the broker thread.
 */
#ifndef IH_REGISTRY_MONGO_LIB_H
#define IH_REGISTRY_MONGO_LIB_H

#include "core/logq.h"

int registry_mongo_lib_acquire(void);
void registry_mongo_lib_release(void);
void registry_mongo_lib_drain_log(void);
/* The registry worker's process (registry/helper.c): the same queue,
 * passed to print instead of the broker's log. */
void registry_mongo_lib_drain_log_with(ih_logq_print_fn print, void *ud);

#endif
