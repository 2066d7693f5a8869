/*
 * An in-memory registry behind the auth source interface (auth/source.h),
 * so targets can run the real auth module without MongoDB. It knows:
 *   p1/d1     secret "s1", active
 *   p1/d2     secret "s2", active
 *   p1/admin  secret "adm", superuser
 *   p1/sus    secret "s3", suspended
 */
#ifndef IH_FUZZ_REGISTRY_H
#define IH_FUZZ_REGISTRY_H

#include "auth/auth.h"
#include "plugin/config.h"

/* auth_init_with the fake registry; aborts on failure. */
struct auth *fuzz_auth_new(const struct ih_config *cfg);

#endif
