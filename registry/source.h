/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Where device documents come from. The broker-thread registry and the
 * worker thread each own one source, created on the thread that uses it;
 * unit tests put a scripted fake behind the same interface, so the whole
 * auth flow, the circuit breaker and the worker run without a network.
 *
 * A source never calls the broker and allocates only with libc (libbson),
 * because the worker's source lives entirely on the worker thread.
 */
#ifndef IH_REGISTRY_SOURCE_H
#define IH_REGISTRY_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

/* Called for each device document found; doc is valid during the call only. */
typedef void (*auth_source_doc_fn)(void *ud, const bson_t *doc);

struct auth_source;

struct auth_source_ops {
	/*
	 * The device documents of usernames[0..n), each with its ACL
	 * documents in the array AUTH_DEVICE_LOOKUP_FIELD, in one round trip.
	 * Usernames without a document are simply absent from the results.
	 * Returns 0, or -1 with a one-line reason in err.
	 */
	int (*fetch)(struct auth_source *s, const char *const *usernames, size_t n,
			auth_source_doc_fn on_doc, void *ud, char *err, size_t errlen);
	/* A cheap check that fetch would work now. 0, or -1 with err. */
	int (*probe)(struct auth_source *s, char *err, size_t errlen);
	/* Forget connections and server state, so the next call starts afresh
	 * instead of waiting out the driver's back-off. 0, or -1 with err. */
	int (*reset)(struct auth_source *s, char *err, size_t errlen);
	void (*destroy)(struct auth_source *s);
	/* Optional (NULL: not supported). Up to limit device documents of the
	 * whole collection, each with its ACL documents as for fetch, through
	 * one cursor: the start-up preload of "auth_preload all". 0, or -1
	 * with err. */
	int (*scan)(struct auth_source *s, size_t limit, auth_source_doc_fn on_doc, void *ud, char *err, size_t errlen);
};

struct auth_source {
	const struct auth_source_ops *ops;
};

struct auth_source_factory {
	/* broker_thread: the source will serve BASIC_AUTH on the broker
	 * thread (single attempt, tight timeouts) rather than the worker. */
	int (*create)(void *ctx, bool broker_thread, struct auth_source **out, char *err, size_t errlen);
	void *ctx;
};

#endif
