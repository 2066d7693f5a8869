/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * JWS building blocks for auth/jwt.c and `iothubctl token`: algorithm
 * names, base64url, key loading and signatures. The cryptography is
 * OpenSSL's (HMAC, EVP_DigestVerify); nothing here parses a token.
 *
 * Why not libjwt: Debian 12's libjwt 1.10 picks the verification
 * algorithm from the token's own header, which is exactly what must never
 * happen (alg "none", HS tokens "signed" with an RSA public key). Here the
 * caller names the algorithm it has already checked against the
 * configuration, and each algorithm family only ever sees its own key.
 */
#ifndef IH_AUTH_JWT_SIG_H
#define IH_AUTH_JWT_SIG_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

enum auth_jwt_alg {
	AUTH_JWT_HS256, AUTH_JWT_HS384, AUTH_JWT_HS512,
	AUTH_JWT_RS256, AUTH_JWT_RS384, AUTH_JWT_RS512,
	AUTH_JWT_ES256, AUTH_JWT_ES384, AUTH_JWT_ES512,
	AUTH_JWT_ALG_COUNT,
	AUTH_JWT_ALG_NONE = -1,      /* "none", in any spelling: never accepted */
	AUTH_JWT_ALG_UNKNOWN = -2,
};

enum auth_jwt_family { AUTH_JWT_HMAC, AUTH_JWT_RSA, AUTH_JWT_ECDSA };

/* Exact JWA names (RFC 7518); "none" in any case is AUTH_JWT_ALG_NONE. */
enum auth_jwt_alg auth_jwt_alg_parse(const char *s, size_t len);
const char *auth_jwt_alg_name(enum auth_jwt_alg alg);
enum auth_jwt_family auth_jwt_alg_family(enum auth_jwt_alg alg);

/* Unpadded base64url (RFC 7515 section 2). Decode: the number of bytes
 * written, or -1 for a character outside the alphabet, padding, an
 * impossible length or out too small. Encode: writes the text and a NUL
 * (out needs (len + 2) / 3 * 4 + 1 bytes), returns its length. */
long auth_jwt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsize);
size_t auth_jwt_b64url_encode(const unsigned char *in, size_t len, char *out);

/*
 * The public key of jwt_public_key: a PEM public key or certificate, RSA
 * (RS256/384/512) or EC on P-256, P-384 or P-521 (ES256, ES384, ES512
 * respectively). Returns the key and the algorithms it serves (a bit per
 * enum auth_jwt_alg), or NULL with a reason in err.
 */
EVP_PKEY *auth_jwt_key_load(const char *path, unsigned *algs, char *err, size_t errlen);

/* HMAC of data under key: 0 and *maclen set, or -1. mac holds 64 bytes. */
int auth_jwt_hmac(enum auth_jwt_alg alg, const void *key, size_t keylen, const void *data, size_t len,
		unsigned char mac[64], size_t *maclen);

/*
 * Does sig (decoded) sign data under alg? HS algorithms use secret (compared
 * in constant time), RS/ES use pub; a key of the wrong family is never
 * tried. false for any failure.
 */
bool auth_jwt_sig_ok(enum auth_jwt_alg alg, const void *secret, size_t secretlen, EVP_PKEY *pub,
		const void *data, size_t len, const unsigned char *sig, size_t siglen);

#endif
