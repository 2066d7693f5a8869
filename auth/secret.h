/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Device secrets: constant-time comparison of clear secrets, verification
 * of hashed secrets, and creation of new secrets and hashes (for iothubctl).
 * Nothing here allocates with the broker's allocator or calls the broker,
 * so iothubctl links the same code.
 */
#ifndef IH_AUTH_SECRET_H
#define IH_AUTH_SECRET_H

#include <stdbool.h>
#include <stddef.h>

enum auth_secret_result {
	AUTH_SECRET_OK = 0,
	AUTH_SECRET_MISMATCH = 1,
	AUTH_SECRET_BAD_HASH = 2,   /* stored hash is malformed or of an unknown kind */
};

/* Longest hash string auth_secret_hash_create() can produce, with NUL. */
#define AUTH_SECRET_HASH_MAX 256

/*
 * Compare a presented password with a clear stored secret. The time taken
 * depends on neither content nor where they first differ, nor on the
 * stored secret's length.
 */
enum auth_secret_result auth_secret_verify_clear(const char *stored, const char *password);

/*
 * Verify `password` against a stored hash: mosquitto_passwd's
 * `$7$ITER$SALT$HASH` (PBKDF2-SHA512) and `$6$SALT$HASH` (salted SHA512).
 * The final comparison is constant-time.
 */
enum auth_secret_result auth_secret_verify_hash(const char *stored_hash, const char *password);

/* Create a `$7$` hash of `password` with a fresh random salt. 0 or -1. */
int auth_secret_hash_create(const char *password, int iterations, char *out, size_t outlen);

/* Fill `out` with a random secret of `chars` URL-safe characters plus NUL. 0 or -1. */
int auth_secret_generate(char *out, size_t chars);

#endif
