/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Password digests (see pwdigest.h).
 *
 * HMAC is computed by hand from two SHA-256 contexts that already absorbed
 * the padded key (ipad, opad): a warm connect then costs two context copies
 * and two short hash runs instead of a full HMAC set-up, which in OpenSSL 3
 * includes fetching the algorithm by name each time.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/pwdigest.h"

#define SHA256_BLOCK 64

static EVP_MD_CTX *inner_base;
static EVP_MD_CTX *outer_base;
static EVP_MD_CTX *work;

static int contexts_init(void)
{
	unsigned char key[32], pad[SHA256_BLOCK];
	int rc = -1;

	inner_base = EVP_MD_CTX_new();
	outer_base = EVP_MD_CTX_new();
	work = EVP_MD_CTX_new();
	if(!inner_base || !outer_base || !work) goto done;
	if(RAND_bytes(key, sizeof(key)) != 1) goto done;

	memset(pad, 0x36, sizeof(pad));
	for(size_t i = 0; i < sizeof(key); i++) pad[i] ^= key[i];
	if(EVP_DigestInit_ex(inner_base, EVP_sha256(), NULL) != 1) goto done;
	if(EVP_DigestUpdate(inner_base, pad, sizeof(pad)) != 1) goto done;

	memset(pad, 0x5c, sizeof(pad));
	for(size_t i = 0; i < sizeof(key); i++) pad[i] ^= key[i];
	if(EVP_DigestInit_ex(outer_base, EVP_sha256(), NULL) != 1) goto done;
	if(EVP_DigestUpdate(outer_base, pad, sizeof(pad)) != 1) goto done;
	rc = 0;
done:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(pad, sizeof(pad));
	if(rc) auth_pwdigest_cleanup();
	return rc;
}

void auth_pwdigest_cleanup(void)
{
	EVP_MD_CTX_free(inner_base);
	EVP_MD_CTX_free(outer_base);
	EVP_MD_CTX_free(work);
	inner_base = outer_base = work = NULL;
}

int auth_pwdigest(const char *username, const char *password, uint8_t out[AUTH_PWDIGEST_LEN])
{
	unsigned char inner[32];
	unsigned int len = 0;
	static const unsigned char sep = 0;
	int rc = -1;

	if(inner_base == NULL && contexts_init()) return -1;
	/* The username is part of the message: the same password on two
	 * devices gives unrelated digests. Usernames never hold NUL, so the
	 * separator keeps (user, password) pairs unambiguous. */
	if(EVP_MD_CTX_copy_ex(work, inner_base) != 1) goto done;
	if(EVP_DigestUpdate(work, username, strlen(username)) != 1) goto done;
	if(EVP_DigestUpdate(work, &sep, 1) != 1) goto done;
	if(EVP_DigestUpdate(work, password, strlen(password)) != 1) goto done;
	if(EVP_DigestFinal_ex(work, inner, &len) != 1 || len != sizeof(inner)) goto done;
	if(EVP_MD_CTX_copy_ex(work, outer_base) != 1) goto done;
	if(EVP_DigestUpdate(work, inner, sizeof(inner)) != 1) goto done;
	if(EVP_DigestFinal_ex(work, out, &len) != 1 || len != AUTH_PWDIGEST_LEN) goto done;
	rc = 0;
done:
	OPENSSL_cleanse(inner, sizeof(inner));
	return rc;
}

bool auth_pwdigest_equal(const uint8_t a[AUTH_PWDIGEST_LEN], const uint8_t b[AUTH_PWDIGEST_LEN])
{
	return CRYPTO_memcmp(a, b, AUTH_PWDIGEST_LEN) == 0;
}
