/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * JWT authentication: the token half of the auth chain (auth.c decides
 * which half a connect goes to; README "JWT authentication" copies the
 * policy below).
 *
 * A credential "has the form of a JWT" when it is three base64url segments
 * joined by '.', the first starting with 'e' (every JSON object header
 * encodes to that) and non-empty, the second non-empty. Such a credential
 * is verified as a token and never reaches the registry.
 *
 * Verification, in this order, each failure refusing with its reason:
 *   1. at most AUTH_JWT_MAX_LEN bytes;
 *   2. header: base64url JSON object, exactly one string "alg", no "crit"
 *      (the usual {"alg":"HS256","typ":"JWT"} forms are recognised byte for
 *      byte without a JSON parse);
 *   3. alg: "none" never; otherwise it must be configured: HS256/384/512
 *      need jwt_secret, RS* an RSA jwt_public_key, ES* an EC one of the
 *      matching curve. An HS token when only a public key is configured is
 *      refused as algorithm confusion, and the public key is never used as
 *      an HMAC secret;
 *   4. payload: base64url JSON object, no claim used below given twice;
 *   5. signature, under the key of the alg just checked (HMAC compared in
 *      constant time);
 *   6. exp (a number; required unless jwt_require_exp false): refused when
 *      now >= exp + jwt_leeway; nbf: refused when now + jwt_leeway < nbf;
 *   7. every jwt_verify_claims CLAIM=VALUE: the claim is a string (or a
 *      number or boolean, compared as its JSON text) equal to VALUE with %u
 *      (username) and %c (client id) substituted;
 *   8. the `acl` claim, when present: an object whose "pub", "sub" and
 *      "all" members are arrays of strings (other members are ignored).
 *
 * The accepted client gets a token record (registry_device_new_token):
 * superuser only when jwt_superuser_claim names a claim that is true (or
 * 1, or "true"); the acl claim's lists as publish / subscribe / pubsub.
 *
 * Broker thread only (the records come from the broker allocator). CPU
 * only: no I/O after init.
 */
#ifndef IH_AUTH_JWT_H
#define IH_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "registry/device.h"

#define AUTH_JWT_MAX_LEN 8192

struct auth_jwt;

/* *out = NULL when neither jwt_secret nor jwt_public_key is set (JWT off).
 * Loads the key file and checks jwt_verify_claims; MOSQ_ERR_INVAL (logged)
 * or MOSQ_ERR_NOMEM on failure. */
int auth_jwt_init(struct auth_jwt **out, const struct ih_config *cfg);
void auth_jwt_cleanup(struct auth_jwt *j);   /* NULL is fine */

bool auth_jwt_looks_like(const char *credential);

/*
 * Verify `token` for a client presenting `username` (NULL allowed) and
 * `client_id`, at wall-clock second now_s. On success returns 0 and a new
 * token record the caller owns (username copied from `username`). On
 * refusal returns -1 and a reason in why, which never quotes the token.
 */
int auth_jwt_verify(const struct auth_jwt *j, const char *token, const char *username, const char *client_id,
		int64_t now_s, struct ih_device **out, char *why, size_t whylen);

#endif
