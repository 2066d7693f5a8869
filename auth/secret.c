/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Secret verification and creation.
 *
 * Clear secrets are compared through an HMAC under a per-process random key:
 * comparing the two MACs with CRYPTO_memcmp takes the same time whatever the
 * secrets hold and wherever they differ, and the lengths never reach a
 * length-dependent loop.
 */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth/secret.h"

/* A stored hash asking for more work than this is treated as malformed: a
 * registry document must not be able to stall the broker thread. */
#define PBKDF2_MAX_ITERATIONS 1000000
#define HASH_BYTES_MAX 64
#define SALT_BYTES_MAX 64
#define NEW_SALT_BYTES 12

static unsigned char mac_key[32];
static bool mac_key_ok;
static pthread_once_t mac_key_once = PTHREAD_ONCE_INIT;

static void mac_key_init(void)
{
	mac_key_ok = RAND_bytes(mac_key, sizeof(mac_key)) == 1;
}

static int mac(const char *s, unsigned char out[32])
{
	unsigned int len = 32;

	pthread_once(&mac_key_once, mac_key_init);
	if(!mac_key_ok) return -1;
	if(HMAC(EVP_sha256(), mac_key, sizeof(mac_key), (const unsigned char *)s, strlen(s), out, &len) == NULL){
		return -1;
	}
	return 0;
}

enum auth_secret_result auth_secret_verify_clear(const char *stored, const char *password)
{
	unsigned char a[32], b[32];
	enum auth_secret_result rc = AUTH_SECRET_MISMATCH;

	if(stored == NULL || password == NULL) return AUTH_SECRET_MISMATCH;
	if(mac(stored, a) || mac(password, b)) goto done;
	if(CRYPTO_memcmp(a, b, sizeof(a)) == 0) rc = AUTH_SECRET_OK;
done:
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return rc;
}

/* Standard base64 with padding, as mosquitto_passwd writes it. Returns the
 * decoded length or -1. */
static int b64_decode(const char *in, size_t inlen, unsigned char *out, size_t outmax)
{
	unsigned char buf[((SALT_BYTES_MAX + HASH_BYTES_MAX) / 3 + 2) * 3];
	int n;
	size_t pad = 0;

	if(inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > sizeof(buf)) return -1;
	for(size_t i = 0; i < inlen; i++){
		char c = in[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
		if(c == '=' && i >= inlen - 2){
			pad++;
			continue;
		}
		if(!ok || pad) return -1;
	}
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)inlen);
	if(n < 0 || (size_t)n < pad) return -1;
	n -= (int)pad;
	if((size_t)n > outmax) return -1;
	memcpy(out, buf, (size_t)n);
	OPENSSL_cleanse(buf, sizeof(buf));
	return n;
}

static int parse_iterations(const char *s, size_t len, int *out)
{
	long v = 0;

	if(len == 0 || len > 7) return -1;
	for(size_t i = 0; i < len; i++){
		if(s[i] < '0' || s[i] > '9') return -1;
		v = v * 10 + (s[i] - '0');
	}
	if(v < 1 || v > PBKDF2_MAX_ITERATIONS) return -1;
	*out = (int)v;
	return 0;
}

enum auth_secret_result auth_secret_verify_hash(const char *stored_hash, const char *password)
{
	unsigned char salt[SALT_BYTES_MAX], want[HASH_BYTES_MAX], got[HASH_BYTES_MAX];
	const char *p, *salt_s, *hash_s;
	int iterations = 0, salt_len, hash_len;
	bool pbkdf2;
	enum auth_secret_result rc = AUTH_SECRET_BAD_HASH;

	if(stored_hash == NULL || password == NULL) return AUTH_SECRET_BAD_HASH;
	if(!strncmp(stored_hash, "$7$", 3)){
		pbkdf2 = true;
		p = strchr(stored_hash + 3, '$');
		if(p == NULL || parse_iterations(stored_hash + 3, (size_t)(p - stored_hash - 3), &iterations)) goto done;
		salt_s = p + 1;
	}else if(!strncmp(stored_hash, "$6$", 3)){
		pbkdf2 = false;
		salt_s = stored_hash + 3;
	}else{
		goto done;
	}
	hash_s = strchr(salt_s, '$');
	if(hash_s == NULL) goto done;
	salt_len = b64_decode(salt_s, (size_t)(hash_s - salt_s), salt, sizeof(salt));
	hash_s++;
	hash_len = b64_decode(hash_s, strlen(hash_s), want, sizeof(want));
	if(salt_len <= 0 || hash_len < 16) goto done;

	if(pbkdf2){
		if(PKCS5_PBKDF2_HMAC(password, (int)strnlen(password, INT_MAX), salt, salt_len, iterations,
					EVP_sha512(), hash_len, got) != 1){
			goto done;
		}
	}else{
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		unsigned int dlen = 0;
		bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1
				&& EVP_DigestUpdate(ctx, password, strlen(password)) == 1
				&& EVP_DigestUpdate(ctx, salt, (size_t)salt_len) == 1
				&& EVP_DigestFinal_ex(ctx, got, &dlen) == 1;
		EVP_MD_CTX_free(ctx);
		if(!ok || (int)dlen != hash_len) goto done;
	}
	rc = CRYPTO_memcmp(got, want, (size_t)hash_len) == 0 ? AUTH_SECRET_OK : AUTH_SECRET_MISMATCH;
done:
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

int auth_secret_hash_create(const char *password, int iterations, char *out, size_t outlen)
{
	unsigned char salt[NEW_SALT_BYTES], hash[HASH_BYTES_MAX];
	char salt_b64[((NEW_SALT_BYTES + 2) / 3) * 4 + 1];
	char hash_b64[((HASH_BYTES_MAX + 2) / 3) * 4 + 1];
	int n, rc = -1;

	if(password == NULL || iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) return -1;
	if(RAND_bytes(salt, sizeof(salt)) != 1) goto done;
	if(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), iterations,
				EVP_sha512(), sizeof(hash), hash) != 1){
		goto done;
	}
	EVP_EncodeBlock((unsigned char *)salt_b64, salt, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)hash_b64, hash, sizeof(hash));
	n = snprintf(out, outlen, "$7$%d$%s$%s", iterations, salt_b64, hash_b64);
	if(n > 0 && (size_t)n < outlen) rc = 0;
done:
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int auth_secret_generate(char *out, size_t chars)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[64];
	size_t done = 0;

	/* 64 symbols: each random byte's low 6 bits pick one without bias. */
	while(done < chars){
		size_t n = chars - done < sizeof(rnd) ? chars - done : sizeof(rnd);
		if(RAND_bytes(rnd, (int)n) != 1) return -1;
		for(size_t i = 0; i < n; i++){
			out[done++] = alphabet[rnd[i] & 0x3F];
		}
	}
	out[chars] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 0;
}
