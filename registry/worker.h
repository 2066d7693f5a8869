/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The registry worker: a thread of ours with its own registry source, for
 * everything that must not hold up the broker loop: refetching records
 * (revalidation, invalidation) in $in batches of revalidate_batch, and
 * probing the registry while it is down.
 *
 * The thread never calls the broker. It hands back raw BSON documents
 * (libbson, libc heap) and "not found" for requested usernames missing
 * from a result; health (probe successes, failures) through
 * registry_worker_health(); log lines through a queue the broker thread
 * drains. Requests are deduplicated (a pending username is queued once,
 * its "forced" flag ORed) and bounded by auth_refetch_queue_max.
 *
 * Every function here is called on the broker thread.
 */
#ifndef IH_REGISTRY_WORKER_H
#define IH_REGISTRY_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "registry/source.h"
#include "core/config.h"
#include "core/logq.h"

struct registry_worker;

struct registry_worker_result {
	struct registry_worker_result *next;
	char *username;       /* libc heap */
	bson_t *doc;          /* libbson heap; NULL: the registry has no such device */
	bool forced;          /* asked for by auth_invalidate: always report */
	bool preload;         /* the start-up preload (registry_worker_preload) */
	int64_t fetched_ms;   /* when the query was sent (auth clock) */
};

/* Every probe and query the worker starts takes the next ticket, so "this
 * probe started after that failure" needs no clock (two events in the
 * same millisecond would defeat one). */
struct registry_worker_health {
	uint64_t last_ok_probe;     /* ticket of the latest successful probe; 0: none */
	uint64_t err_seq;           /* bumped on every failure episode */
	char err[256];
	uint64_t queries;
	uint64_t errors;
	uint64_t dropped_requests;
	uint64_t preload_posted;    /* preload results handed over so far */
	bool preload_done;          /* every preload result is posted */
};

/* Starts the thread, which probes the registry once straight away. */
int registry_worker_start(struct registry_worker **out, const struct ih_config *cfg,
		const struct auth_source_factory *factory, int64_t (*now_ms)(void));
/*
 * Stop and join the thread, waiting at most about as long as one query can
 * take. Returns true when joined and freed. false when the thread is stuck
 * in the driver: it is then detached, frees its own state when it gets
 * out, and the factory context must be left alive (leaked).
 */
bool registry_worker_stop(struct registry_worker *w);

/* Queue refetches of usernames[0..n), all at once so they share batches.
 * Malformed usernames (registry_username_check with max_len) are skipped, a
 * pending username is merged. Returns how many were dropped because the
 * queue was full (counted in dropped_requests) or memory was short. */
size_t registry_worker_refetch(struct registry_worker *w, const char *const *usernames, size_t n, bool forced, size_t max_len);
/*
 * The start-up preload, called once: fetch usernames[0..n) in $in batches
 * like refetches (their results have preload set and are not bounded by
 * auth_refetch_queue_max; the caller bounds n). With scan_max > 0, first
 * read the whole collection through the source's scan, and use it when it
 * holds at most scan_max devices; otherwise (too many, no scan, an error)
 * fall back to usernames, with one log line. Malformed usernames are
 * skipped. Returns how many were dropped for lack of memory.
 */
size_t registry_worker_preload(struct registry_worker *w, const char *const *usernames, size_t n, size_t scan_max,
		size_t max_len);
/*
 * A cache miss on the broker thread while the preload is still queued:
 * remove up to max preload usernames the worker has not started on (the
 * end of its queue), so the broker thread's own query fetches them along
 * with the device it waits for (one $in, one round trip). out[] receives
 * NUL-terminated names (libc heap, free with registry_worker_names_free);
 * they leave the preload (its completion no longer waits for them).
 * Returns how many.
 */
size_t registry_worker_take_preload(struct registry_worker *w, char **out, size_t max);
void registry_worker_names_free(char **names, size_t n);
/* The registry is down: probe it every mongo_probe_interval until it works.
 * Returns the latest ticket handed out: a successful probe with a larger
 * one started after this call. */
uint64_t registry_worker_probe(struct registry_worker *w);

/* Detach up to max results, oldest first (a list linked by next). */
struct registry_worker_result *registry_worker_take(struct registry_worker *w, size_t max);
/* The same on any list (head, tail): the first up to max, *n of them; NULL if none. */
struct registry_worker_result *registry_worker_results_detach(struct registry_worker_result **head,
		struct registry_worker_result **tail, size_t max, size_t *n);
void registry_worker_result_free(struct registry_worker_result *r);   /* one result */

void registry_worker_health(struct registry_worker *w, struct registry_worker_health *out);
void registry_worker_drain_log(struct registry_worker *w);
void registry_worker_drain_log_with(struct registry_worker *w, ih_logq_print_fn print, void *ud);
/* An eventfd the worker writes when results, health or log lines are new
 * (the child process of registry/helper.c waits on it); -1: none. */
void registry_worker_set_notify(struct registry_worker *w, int fd);

#endif
