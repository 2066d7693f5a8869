/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * uthash configured for the broker: the broker's allocator, and an
 * out-of-memory condition reported to the caller instead of exit().
 * Include this instead of <uthash.h>; after HASH_ADD*, test IH_HASH_OOM().
 */
#ifndef IH_PLUGIN_HASH_H
#define IH_PLUGIN_HASH_H

#include <mosquitto_broker.h>

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) mosquitto_malloc(sz)
#define uthash_free(ptr, sz) mosquitto_free(ptr)
#define uthash_nonfatal_oom(obj) do { ih_hash_oom_flag = 1; } while(0)

/* One flag per translation unit; the broker is single-threaded. */
static int ih_hash_oom_flag;

#define IH_HASH_OOM_RESET() (ih_hash_oom_flag = 0)
#define IH_HASH_OOM() (ih_hash_oom_flag != 0)

#include <uthash.h>

#endif
