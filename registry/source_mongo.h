/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The MongoDB source: the registry query shared by the broker-thread
 * lookup (one username) and the worker's refetches ($in batches):
 *
 *   [{$match: {<field_username>: U | {$in: [...]}}}, {$limit: 1} (single),
 *    {$lookup: {from: <acl_collection>, localField: <field_username>,
 *               foreignField: <field_username>, as: "_acl"}}]
 *
 * ($lookup is left out when acl_collection is "".)
 *
 * libmongoc's defaults would let one query hold the broker loop for 30 s,
 * so mongo_timeout is applied as serverSelectionTimeoutMS,
 * connectTimeoutMS and socketTimeoutMS, unless the URI sets them itself,
 * and the broker-thread client selects a server with a single attempt.
 */
#ifndef IH_REGISTRY_SOURCE_MONGO_H
#define IH_REGISTRY_SOURCE_MONGO_H

#include "registry/source.h"
#include "core/config.h"

struct registry_mongo;

/* Parse and complete the URI, copy the names the query needs. Returns 0,
 * or -1 with a reason in err (e.g. an unparsable URI). */
int registry_mongo_init(struct registry_mongo **out, const struct ih_config *cfg, char *err, size_t errlen);
void registry_mongo_cleanup(struct registry_mongo *m);

/* auth_source_factory.create for MongoDB; ctx is a struct registry_mongo,
 * which must outlive every source made from it. Thread-safe. */
int registry_mongo_source_create(void *ctx, bool broker_thread, struct auth_source **out, char *err, size_t errlen);

#endif
