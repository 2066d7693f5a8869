/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Where the registry worker (worker.h) runs: in a child process of the
 * broker (registry_worker process, the default) or as a thread of the
 * broker's own process (registry_worker thread).
 *
 * Why a process: a second thread anywhere in the broker's process switches
 * glibc and the kernel into their multi-threaded paths for every message
 * the broker handles (locked malloc, cancellation wrappers around every
 * read and write, reference-counted file lookups in every syscall). The
 * bench's bare broker with one idle thread costs 1.04-1.12x the bare
 * broker's CPU per message: more than all of the plugin's own per-message
 * work (bench/README.md, "Fix 8"). The worker sleeps nearly all the time,
 * so it pays that tax for nothing; in a child, the broker stays
 * single-threaded unless another feature (event forwarding, the HTTP API,
 * the cluster link) brings its own thread.
 *
 * The child is forked at start-up, before any thread of ours exists. It
 * keeps only its end of a SOCK_SEQPACKET socket pair (every other file
 * descriptor, the broker's listeners and logs included, is closed), runs
 * the unchanged worker thread with its own registry client, and answers
 * over the socket: results, health and log lines as messages, which the
 * broker thread reads only when a counter in a shared page says there are
 * some (no syscall per tick). It dies with the broker (PR_SET_PDEATHSIG);
 * a child that dies on its own is replaced after a second, with one log
 * line (its queued refetches are lost; the next revalidation repeats them).
 *
 * Same calls and meanings as worker.h; every function here on the broker
 * thread. Results and names are libc/libbson memory, freed with
 * registry_worker_result_free and registry_worker_names_free.
 */
#ifndef IH_REGISTRY_HELPER_H
#define IH_REGISTRY_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/worker.h"

struct registry_helper;

/* process: fork the child; false: start the worker as a thread here. */
int registry_helper_start(struct registry_helper **out, const struct ih_config *cfg,
		const struct auth_source_factory *factory, int64_t (*now_ms)(void), bool process);
/* As registry_worker_stop; a child is always reaped (killed if it does not
 * stop within a second), so this returns false only for a stuck thread. */
bool registry_helper_stop(struct registry_helper *h);

size_t registry_helper_refetch(struct registry_helper *h, const char *const *usernames, size_t n, bool forced,
		size_t max_len);
size_t registry_helper_preload(struct registry_helper *h, const char *const *usernames, size_t n, size_t scan_max,
		size_t max_len);
size_t registry_helper_take_preload(struct registry_helper *h, char **out, size_t max);
uint64_t registry_helper_probe(struct registry_helper *h);
struct registry_worker_result *registry_helper_take(struct registry_helper *h, size_t max);
void registry_helper_health(struct registry_helper *h, struct registry_worker_health *out);
void registry_helper_drain_log(struct registry_helper *h);

/* For fuzz/fuzz_helper.c: a process-mode helper without a child, and one
 * datagram handled as if the child had sent it. */
struct registry_helper *registry_helper_detached(void);
void registry_helper_feed(struct registry_helper *h, const void *msg, size_t len);

#endif
