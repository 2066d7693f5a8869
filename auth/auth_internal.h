/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Test seams of the auth module: a registry source other than MongoDB and
 * a clock other than CLOCK_MONOTONIC. Not for the glue.
 */
#ifndef IH_AUTH_INTERNAL_H
#define IH_AUTH_INTERNAL_H

#include "auth/auth.h"
#include "registry/source.h"

struct auth_deps {
	struct auth_source_factory factory;   /* create == NULL: MongoDB from cfg */
	int64_t (*now_ms)(void);              /* NULL: CLOCK_MONOTONIC; must be thread-safe */
};

int auth_init_with(struct auth **out, const struct ih_config *cfg, const struct auth_deps *deps);

/* Wait (at most timeout_ms) until the worker's start-up probe has finished,
 * so a test that then breaks the registry knows who notices first.
 * true when it has. */
bool auth_wait_startup_probe(struct auth *a, int timeout_ms);

#endif
