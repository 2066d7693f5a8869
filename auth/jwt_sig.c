/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * JWS algorithms, base64url, keys and signatures (see jwt_sig.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/jwt_sig.h"

static const struct {
	const char *name;
	enum auth_jwt_family family;
	int bits;                    /* digest bits */
	size_t ec_half;              /* ECDSA: bytes of R (and of S) */
} algs[AUTH_JWT_ALG_COUNT] = {
	[AUTH_JWT_HS256] = {"HS256", AUTH_JWT_HMAC, 256, 0},
	[AUTH_JWT_HS384] = {"HS384", AUTH_JWT_HMAC, 384, 0},
	[AUTH_JWT_HS512] = {"HS512", AUTH_JWT_HMAC, 512, 0},
	[AUTH_JWT_RS256] = {"RS256", AUTH_JWT_RSA, 256, 0},
	[AUTH_JWT_RS384] = {"RS384", AUTH_JWT_RSA, 384, 0},
	[AUTH_JWT_RS512] = {"RS512", AUTH_JWT_RSA, 512, 0},
	[AUTH_JWT_ES256] = {"ES256", AUTH_JWT_ECDSA, 256, 32},
	[AUTH_JWT_ES384] = {"ES384", AUTH_JWT_ECDSA, 384, 48},
	[AUTH_JWT_ES512] = {"ES512", AUTH_JWT_ECDSA, 512, 66},
};

enum auth_jwt_alg auth_jwt_alg_parse(const char *s, size_t len)
{
	if(len == 4 && !strncasecmp(s, "none", 4)) return AUTH_JWT_ALG_NONE;
	for(int i = 0; i < AUTH_JWT_ALG_COUNT; i++){
		if(strlen(algs[i].name) == len && !memcmp(algs[i].name, s, len)) return (enum auth_jwt_alg)i;
	}
	return AUTH_JWT_ALG_UNKNOWN;
}

const char *auth_jwt_alg_name(enum auth_jwt_alg alg)
{
	if(alg == AUTH_JWT_ALG_NONE) return "none";
	if(alg < 0 || alg >= AUTH_JWT_ALG_COUNT) return "unknown";
	return algs[alg].name;
}

enum auth_jwt_family auth_jwt_alg_family(enum auth_jwt_alg alg)
{
	return algs[alg].family;
}

static const EVP_MD *alg_md(enum auth_jwt_alg alg)
{
	switch(algs[alg].bits){
		case 256: return EVP_sha256();
		case 384: return EVP_sha384();
		default: return EVP_sha512();
	}
}

/* ------------------------------------------------------------------ */
/* base64url                                                            */

static int b64_value(unsigned char c)
{
	if(c >= 'A' && c <= 'Z') return c - 'A';
	if(c >= 'a' && c <= 'z') return c - 'a' + 26;
	if(c >= '0' && c <= '9') return c - '0' + 52;
	if(c == '-') return 62;
	if(c == '_') return 63;
	return -1;
}

long auth_jwt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsize)
{
	size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0;

	/* One leftover character carries only six bits: no byte has that form. */
	if(len % 4 == 1 || need > outsize) return -1;
	for(size_t i = 0; i < len; i++){
		int v = b64_value((unsigned char)in[i]);
		if(v < 0) return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if(bits >= 8){
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The unused low bits of the last character must be zero (canonical
	 * form), so one token has one spelling. */
	if(acc != 0) return -1;
	return (long)n;
}

size_t auth_jwt_b64url_encode(const unsigned char *in, size_t len, char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = 0, i = 0;

	for(; i + 2 < len; i += 3){
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[n++] = alphabet[v >> 18];
		out[n++] = alphabet[(v >> 12) & 63];
		out[n++] = alphabet[(v >> 6) & 63];
		out[n++] = alphabet[v & 63];
	}
	if(len - i == 1){
		unsigned v = (unsigned)in[i] << 16;
		out[n++] = alphabet[v >> 18];
		out[n++] = alphabet[(v >> 12) & 63];
	}else if(len - i == 2){
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[n++] = alphabet[v >> 18];
		out[n++] = alphabet[(v >> 12) & 63];
		out[n++] = alphabet[(v >> 6) & 63];
	}
	out[n] = '\0';
	return n;
}

/* ------------------------------------------------------------------ */
/* keys                                                                 */

EVP_PKEY *auth_jwt_key_load(const char *path, unsigned *algs_out, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = BIO_new_file(path, "r");

	*algs_out = 0;
	if(bio == NULL){
		snprintf(err, errlen, "cannot open %s", path);
		ERR_clear_error();
		return NULL;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if(pkey == NULL){
		X509 *cert;
		(void)BIO_reset(bio);
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if(cert){
			pkey = X509_get_pubkey(cert);
			X509_free(cert);
		}
	}
	BIO_free(bio);
	ERR_clear_error();
	if(pkey == NULL){
		snprintf(err, errlen, "%s holds no PEM public key (BEGIN PUBLIC KEY) or certificate", path);
		return NULL;
	}
	switch(EVP_PKEY_get_base_id(pkey)){
		case EVP_PKEY_RSA:
			if(EVP_PKEY_get_bits(pkey) < 2048){
				snprintf(err, errlen, "%s: RSA key of %d bits; at least 2048 are needed", path, EVP_PKEY_get_bits(pkey));
				break;
			}
			*algs_out = 1u << AUTH_JWT_RS256 | 1u << AUTH_JWT_RS384 | 1u << AUTH_JWT_RS512;
			return pkey;
		case EVP_PKEY_EC:
			switch(EVP_PKEY_get_bits(pkey)){
				case 256: *algs_out = 1u << AUTH_JWT_ES256; return pkey;
				case 384: *algs_out = 1u << AUTH_JWT_ES384; return pkey;
				case 521: *algs_out = 1u << AUTH_JWT_ES512; return pkey;
				default: break;
			}
			snprintf(err, errlen, "%s: EC key on a curve other than P-256, P-384 or P-521", path);
			break;
		default:
			snprintf(err, errlen, "%s: neither an RSA nor an EC key", path);
			break;
	}
	EVP_PKEY_free(pkey);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* signatures                                                           */

int auth_jwt_hmac(enum auth_jwt_alg alg, const void *key, size_t keylen, const void *data, size_t len,
		unsigned char mac[64], size_t *maclen)
{
	unsigned int n = 0;

	if(keylen > INT32_MAX) return -1;
	if(HMAC(alg_md(alg), key, (int)keylen, data, len, mac, &n) == NULL) return -1;
	*maclen = n;
	return 0;
}

/* JWS carries ECDSA signatures as R || S, fixed width; OpenSSL wants DER. */
static int ecdsa_to_der(const unsigned char *sig, size_t siglen, size_t half, unsigned char *der, size_t dersize)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *p = der;
	int n;

	if(siglen != 2 * half) return -1;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)half, NULL);
	s = BN_bin2bn(sig + half, (int)half, NULL);
	if(es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)){
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	/* r and s belong to es now */
	n = i2d_ECDSA_SIG(es, NULL);
	if(n <= 0 || (size_t)n > dersize) n = -1;
	else n = i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	return n;
}

static bool evp_verify(enum auth_jwt_alg alg, EVP_PKEY *pub, const void *data, size_t len,
		const unsigned char *sig, size_t siglen)
{
	unsigned char der[160];
	EVP_MD_CTX *ctx;
	bool ok = false;

	if(algs[alg].family == AUTH_JWT_ECDSA){
		int n = ecdsa_to_der(sig, siglen, algs[alg].ec_half, der, sizeof(der));
		if(n < 0) return false;
		sig = der;
		siglen = (size_t)n;
	}
	ctx = EVP_MD_CTX_new();
	if(ctx && EVP_DigestVerifyInit(ctx, NULL, alg_md(alg), NULL, pub) == 1){
		ok = EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

bool auth_jwt_sig_ok(enum auth_jwt_alg alg, const void *secret, size_t secretlen, EVP_PKEY *pub,
		const void *data, size_t len, const unsigned char *sig, size_t siglen)
{
	unsigned char mac[64];
	size_t maclen;

	if(alg < 0 || alg >= AUTH_JWT_ALG_COUNT) return false;
	if(algs[alg].family == AUTH_JWT_HMAC){
		if(secret == NULL || secretlen == 0) return false;
		if(auth_jwt_hmac(alg, secret, secretlen, data, len, mac, &maclen)) return false;
		return siglen == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0;
	}
	if(pub == NULL) return false;
	return evp_verify(alg, pub, data, len, sig, siglen);
}
