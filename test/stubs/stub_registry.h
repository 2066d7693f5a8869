/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * A fixed in-memory device registry behind the auth source interface
 * (registry/source.h), so fuzz targets and benchmarks run the real auth module
 * (cache, throttle, worker thread) without MongoDB. fetch hands back the
 * document of each username asked for; probe and reset always succeed.
 * The documents are read-only once parsed, so the worker thread shares
 * them. (test/unit/test_auth_flow.c scripts its own registry: outages,
 * edits, call counts.)
 */
#ifndef IH_TEST_STUB_REGISTRY_H
#define IH_TEST_STUB_REGISTRY_H

#include <stddef.h>

#include "auth/auth.h"
#include "core/config.h"

struct stub_registry;

/* The JSON device documents docs_json[0..n), found by their
 * "broker_username"; aborts on bad JSON. */
struct stub_registry *stub_registry_new(const char *const *docs_json, size_t n);

/* auth_init_with this registry behind it; aborts on failure. The registry
 * must outlive the auth module. */
struct auth *stub_registry_auth(struct stub_registry *r, const struct ih_config *cfg);

void stub_registry_free(struct stub_registry *r);

#endif
