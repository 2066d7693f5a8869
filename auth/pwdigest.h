/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Keyed digests of verified passwords, so the auth cache can recognise a
 * password it has already verified without storing it: HMAC-SHA256 under
 * a random key made once per process, over the username and the password.
 * The key never leaves memory, so a digest is useless outside this process.
 * Broker thread only (the precomputed contexts are not shared).
 */
#ifndef IH_AUTH_PWDIGEST_H
#define IH_AUTH_PWDIGEST_H

#include <stdbool.h>
#include <stdint.h>

#define AUTH_PWDIGEST_LEN 32

/* 0, or -1 when no random key or digest is available. */
int auth_pwdigest(const char *username, const char *password, uint8_t out[AUTH_PWDIGEST_LEN]);
/* Constant-time comparison of two digests. */
bool auth_pwdigest_equal(const uint8_t a[AUTH_PWDIGEST_LEN], const uint8_t b[AUTH_PWDIGEST_LEN]);
/* Forgets the key and frees the contexts: digests made before no longer
 * match (they only cost one full verification each). */
void auth_pwdigest_cleanup(void);

#endif
