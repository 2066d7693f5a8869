/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The registry the auth-running targets use (test/stubs/stub_registry.h).
 * It knows:
 *   p1/d1     secret "s1", active
 *   p1/d2     secret "s2", active
 *   p1/admin  secret "adm", superuser
 *   p1/sus    secret "s3", suspended
 */
#ifndef IH_FUZZ_REGISTRY_H
#define IH_FUZZ_REGISTRY_H

#include "test/stubs/stub_registry.h"

static const char *const fuzz_registry_docs[] = {
	("{\"broker_username\": \"p1/d1\", \"product_name\": \"p1\", \"device_name\": \"d1\", \"secret\": \"s1\","
	" \"status\": \"active\", \"tags\": [\"t1\"]}"),
	"{\"broker_username\": \"p1/d2\", \"secret\": \"s2\"}",
	"{\"broker_username\": \"p1/admin\", \"secret\": \"adm\", \"superuser\": true}",
	"{\"broker_username\": \"p1/sus\", \"secret\": \"s3\", \"status\": \"suspended\"}",
};

/* The auth module against that registry, for the process's lifetime. */
static inline struct auth *fuzz_auth_new(const struct ih_config *cfg)
{
	return stub_registry_auth(stub_registry_new(fuzz_registry_docs,
			sizeof(fuzz_registry_docs) / sizeof(fuzz_registry_docs[0])), cfg);
}

#endif
