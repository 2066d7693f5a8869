/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * GET /metrics: the counters of getStats (plugin/stats.c's JSON document)
 * in the Prometheus text exposition format, so that /metrics, /api/v4/stats
 * and the control channel can never disagree. Pure: runs on an HTTP thread.
 *
 * A member a.b = N becomes "iothub_a_b N"; true/false become 1/0; strings
 * and nulls are left out. Names keep [a-zA-Z0-9_] only.
 */
#ifndef IH_API_METRICS_H
#define IH_API_METRICS_H

#include <stddef.h>

/* The text, owned by the caller (libc free), or NULL (bad JSON, no memory). */
char *api_metrics_from_stats(const char *json, size_t len, size_t *outlen);

#endif
