/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* The JWT verifier (auth/jwt.c, auth/jwt_sig.c): tokens are minted here with
 * OpenSSL, every refusal of auth/jwt.h is checked by its reason. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/jwt.h"
#include "auth/jwt_sig.h"
#include "core/config.h"
#include "registry/device.h"
#include "test/unit/unit_run.h"

#define SECRET "unit-test-secret"
#define NOW 1700000000

static struct ih_config cfg;
static struct auth_jwt *J;

/* Options as key/value pairs, NULL-terminated. */
static int setup_with(const char *const *kv)
{
	struct mosquitto_opt opts[32] = {{0}};
	int n = 0;

	for(; kv && kv[2 * n]; n++){
		opts[n].key = (char *)kv[2 * n];
		opts[n].value = (char *)kv[2 * n + 1];
	}
	ck_assert_int_eq(ih_config_parse(&cfg, opts, n), MOSQ_ERR_SUCCESS);
	return auth_jwt_init(&J, &cfg);
}

static void teardown(void)
{
	auth_jwt_cleanup(J);
	J = NULL;
	ih_config_cleanup(&cfg);
}

/* header.payload.signature from JSON texts and a raw signature. */
static char *assemble(const char *header, const char *payload, const unsigned char *sig, size_t siglen)
{
	size_t cap = (strlen(header) + strlen(payload) + siglen) * 2 + 16;
	char *t = malloc(cap);
	size_t n;

	n = auth_jwt_b64url_encode((const unsigned char *)header, strlen(header), t);
	t[n++] = '.';
	n += auth_jwt_b64url_encode((const unsigned char *)payload, strlen(payload), t + n);
	t[n++] = '.';
	auth_jwt_b64url_encode(sig, siglen, t + n);
	return t;
}

static char *mint_hs(enum auth_jwt_alg alg, const char *header, const char *payload, const char *key)
{
	char *t = assemble(header, payload, (const unsigned char *)"", 0);
	unsigned char mac[64];
	size_t maclen;
	char *dot = strrchr(t, '.');
	char *out;

	ck_assert_int_eq(auth_jwt_hmac(alg, key, strlen(key), t, (size_t)(dot - t), mac, &maclen), 0);
	out = malloc(strlen(t) + 100);
	memcpy(out, t, (size_t)(dot - t) + 1);
	auth_jwt_b64url_encode(mac, maclen, out + (dot - t) + 1);
	free(t);
	return out;
}

static char *hs256(const char *payload)
{
	return mint_hs(AUTH_JWT_HS256, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, SECRET);
}

/* Verify; returns 0 or -1, leaves the reason in why and frees the token. */
static char why[256];
static struct ih_device *dev;

static int verify(char *token, const char *user, const char *cid)
{
	int rc;

	registry_device_unref(dev);
	dev = NULL;
	why[0] = '\0';
	rc = auth_jwt_verify(J, token, user, cid, NOW, &dev, why, sizeof(why));
	free(token);
	return rc;
}

#define REFUSED(tok, reason) do { \
		ck_assert_int_eq(verify((tok), "svc", "c1"), -1); \
		ck_assert_msg(strstr(why, (reason)) != NULL, "reason \"%s\", wanted \"%s\"", why, (reason)); \
	} while(0)

/* ------------------------------------------------------------------ */

START_TEST(b64url)
{
	unsigned char out[16];
	char text[32];

	ck_assert_int_eq(auth_jwt_b64url_decode("SGk", 3, out, sizeof(out)), 2);
	ck_assert(memcmp(out, "Hi", 2) == 0);
	ck_assert_int_eq(auth_jwt_b64url_decode("SGk=", 4, out, sizeof(out)), -1);   /* padding */
	ck_assert_int_eq(auth_jwt_b64url_decode("SGl", 3, out, sizeof(out)), -1);    /* non-canonical */
	ck_assert_int_eq(auth_jwt_b64url_decode("S", 1, out, sizeof(out)), -1);
	ck_assert_int_eq(auth_jwt_b64url_decode("S+k", 3, out, sizeof(out)), -1);    /* base64, not url */
	ck_assert_int_eq(auth_jwt_b64url_decode("AAAAAAAA", 8, out, 5), -1);        /* too small */
	ck_assert_uint_eq(auth_jwt_b64url_encode((const unsigned char *)"\xfb\xff", 2, text), 3);
	ck_assert_str_eq(text, "-_8");
}
END_TEST

START_TEST(form)
{
	ck_assert(auth_jwt_looks_like("eyJ.eyJ.sig"));
	ck_assert(auth_jwt_looks_like("eyJ.eyJ."));          /* unsigned: refused later, as a token */
	ck_assert(!auth_jwt_looks_like("s3cret"));
	ck_assert(!auth_jwt_looks_like("a.b.c"));            /* not a JSON header */
	ck_assert(!auth_jwt_looks_like("eyJ..sig"));
	ck_assert(!auth_jwt_looks_like("eyJ.eyJ.s.t"));
	ck_assert(!auth_jwt_looks_like("eyJ.ey J.s"));
	ck_assert(!auth_jwt_looks_like(NULL));
}
END_TEST

START_TEST(off_without_keys)
{
	ck_assert_int_eq(setup_with(NULL), MOSQ_ERR_SUCCESS);
	ck_assert_ptr_null(J);
}
END_TEST

START_TEST(accepts_server_tokens)
{
	static const char *const kv[] = {"jwt_secret", SECRET, NULL};

	ck_assert_int_eq(setup_with(kv), 0);
	ck_assert_int_eq(verify(hs256("{\"username\":\"svc\",\"exp\":1700000010,\"iat\":1700000000}"), "svc", "c1"), 0);
	ck_assert_ptr_nonnull(dev);
	ck_assert(dev->token && dev->active && !dev->superuser && !dev->token_acl);
	ck_assert_str_eq(dev->username, "svc");
	ck_assert_int_eq(dev->token_expires_s, 1700000010);
	ck_assert_int_eq(verify(mint_hs(AUTH_JWT_HS384, "{\"alg\":\"HS384\"}", "{\"exp\":1700000010.5}", SECRET), "svc", "c"), 0);
	ck_assert_int_eq(verify(mint_hs(AUTH_JWT_HS512, "{\"alg\":\"HS512\"}", "{\"exp\":1700000010}", SECRET), NULL, "c"), 0);
	ck_assert_ptr_null(dev->username);
	/* the header names HS256, the MAC is HS512: refused */
	REFUSED(mint_hs(AUTH_JWT_HS512, "{\"alg\":\"HS256\"}", "{\"exp\":1700000010}", SECRET), "bad signature");
}
END_TEST

START_TEST(refusals)
{
	static const char *const kv[] = {"jwt_secret", SECRET, NULL};
	char *t;

	ck_assert_int_eq(setup_with(kv), 0);
	REFUSED(assemble("{\"alg\":\"none\"}", "{\"exp\":1700000010}", (const unsigned char *)"", 0),
			"algorithm \"none\" is never accepted");
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"alg\":\"NoNe\"}", "{\"exp\":1700000010}", SECRET), "\"none\"");
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"alg\":\"HS256\"}", "{\"exp\":1700000010}", "other"), "bad signature (HS256)");
	REFUSED(hs256("{\"exp\":1700000000}"), "token expired");
	REFUSED(hs256("{\"exp\":1700000010,\"nbf\":1700000100}"), "token not yet valid");
	REFUSED(hs256("{\"iat\":1700000000}"), "no \"exp\" claim");
	REFUSED(hs256("{\"exp\":\"soon\"}"), "\"exp\" is not a number");
	REFUSED(hs256("{\"exp\":1700000010,\"exp\":1800000000}"), "given twice");
	REFUSED(hs256("[1700000010]"), "malformed payload: not a JSON object");
	REFUSED(hs256("{\"exp\":"), "malformed payload: not valid JSON");
	/* A parse failing after the document grew onto the heap: libbson frees
	 * it, and the verifier must not free it again (found by fuzz_jwt). */
	REFUSED(hs256("{\"username\":\"svc\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"exp\":1,\"x\":{\"a\" 1}}"),
			"malformed payload: not valid JSON");
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"exp\":1700000010}", SECRET),
			"\"alg\" given twice");
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"alg\":\"HS256\",\"crit\":[\"x\"]}", "{\"exp\":1700000010}", SECRET), "\"crit\"");
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"typ\":\"JWT\"}", "{\"exp\":1700000010}", SECRET), "no \"alg\"");
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"alg\":7}", "{\"exp\":1700000010}", SECRET), "\"alg\" is not a string");
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"alg\":\"XS256\"}", "{\"exp\":1700000010}", SECRET), "unknown algorithm");
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"alg\":\"RS256\"}", "{\"exp\":1700000010}", SECRET), "algorithm RS256 is not configured");
	/* tampered payload, signature kept */
	t = hs256("{\"exp\":1700000010,\"acl\":{\"pub\":[\"a\"]}}");
	t[strlen("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.") + 3] ^= 1;
	REFUSED(t, "");
	t = malloc(AUTH_JWT_MAX_LEN + 2);
	memset(t, 'e', AUTH_JWT_MAX_LEN + 1);
	t[AUTH_JWT_MAX_LEN + 1] = '\0';
	REFUSED(t, "token over 8192 bytes");
}
END_TEST

START_TEST(claims)
{
	static const char *const kv[] = {"jwt_secret", SECRET, "jwt_verify_claims", "username=%u",
		"jwt_verify_claims", "cid=x-%c", "jwt_superuser_claim", "su", "jwt_leeway", "5s", NULL};

	ck_assert_int_eq(setup_with(kv), 0);
	ck_assert_int_eq(verify(hs256("{\"username\":\"svc\",\"cid\":\"x-c1\",\"exp\":1700000000}"), "svc", "c1"), 0);
	ck_assert(!dev->superuser);
	ck_assert_int_eq(dev->token_expires_s, 1700000005);
	REFUSED(hs256("{\"username\":\"svc\",\"cid\":\"x-c1\",\"exp\":1699999995}"), "token expired");
	REFUSED(hs256("{\"username\":\"other\",\"cid\":\"x-c1\",\"exp\":1700000010}"), "claim check failed: \"username\"");
	REFUSED(hs256("{\"username\":\"svc\",\"exp\":1700000010}"), "claim check failed: no \"cid\"");
	ck_assert_int_eq(verify(hs256("{\"username\":\"svc\",\"cid\":\"x-c1\",\"exp\":1700000010,\"su\":true}"), "svc", "c1"), 0);
	ck_assert(dev->superuser);
	ck_assert_int_eq(verify(hs256("{\"username\":\"svc\",\"cid\":\"x-c1\",\"exp\":1700000010,\"su\":\"yes\"}"), "svc", "c1"), 0);
	ck_assert(!dev->superuser);
}
END_TEST

START_TEST(bad_claim_option)
{
	static const char *const kv[] = {"jwt_secret", SECRET, "jwt_verify_claims", "=x", NULL};

	ck_assert_int_eq(setup_with(kv), MOSQ_ERR_INVAL);
}
END_TEST

START_TEST(acl_claim)
{
	static const char *const kv[] = {"jwt_secret", SECRET, NULL};

	ck_assert_int_eq(setup_with(kv), 0);
	ck_assert_int_eq(verify(hs256("{\"exp\":1700000010,\"acl\":{\"pub\":[\"a/#\",\"b\"],\"sub\":[\"s/+\"],"
			"\"all\":[\"x/%u\"],\"other\":1}}"), "svc", "c1"), 0);
	ck_assert(dev->token_acl);
	ck_assert_uint_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].count, 2);
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBLISH].items[1], "b");
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_SUBSCRIBE].items[0], "s/+");
	ck_assert_str_eq(registry_device_acl(dev)->list[IH_ACL_PUBSUB].items[0], "x/%u");
	ck_assert_int_eq(verify(hs256("{\"exp\":1700000010,\"acl\":{}}"), "svc", "c1"), 0);
	ck_assert(dev->token_acl && registry_device_acl(dev)->list[IH_ACL_PUBLISH].count == 0);
	REFUSED(hs256("{\"exp\":1700000010,\"acl\":[\"a\"]}"), "\"acl\" is not an object");
	REFUSED(hs256("{\"exp\":1700000010,\"acl\":{\"pub\":\"a\"}}"), "\"acl.pub\" is not an array");
	REFUSED(hs256("{\"exp\":1700000010,\"acl\":{\"sub\":[1]}}"), "holds a non-string");
	REFUSED(hs256("{\"exp\":1700000010,\"acl\":{\"all\":[\"\"]}}"), "empty or invalid string");
}
END_TEST

/* ------------------------------------------------------------------ */
/* RS256, ES256, algorithm confusion                                    */

static char keyfile[64];

static EVP_PKEY *make_key(bool ec)
{
	EVP_PKEY *k = ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256") : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	FILE *f;
	int fd;

	ck_assert_ptr_nonnull(k);
	strcpy(keyfile, "/tmp/ih-jwt-key-XXXXXX");
	fd = mkstemp(keyfile);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert(PEM_write_PUBKEY(f, k) == 1);
	fclose(f);
	return k;
}

static char *mint_asym(EVP_PKEY *k, const char *alg_header, bool ec, const char *payload)
{
	char *t = assemble(alg_header, payload, (const unsigned char *)"", 0);
	size_t silen = strlen(t) - 1, siglen = 0;
	unsigned char der[512], raw[512];
	const unsigned char *p = der;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *out;

	ck_assert(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1);
	siglen = sizeof(der);
	ck_assert(EVP_DigestSign(ctx, der, &siglen, (const unsigned char *)t, silen) == 1);
	EVP_MD_CTX_free(ctx);
	if(ec){
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		ck_assert_ptr_nonnull(es);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
		ECDSA_SIG_free(es);
		siglen = 64;
	}else{
		memcpy(raw, der, siglen);
	}
	out = malloc(strlen(t) + siglen * 2 + 4);
	memcpy(out, t, strlen(t) + 1);
	auth_jwt_b64url_encode(raw, siglen, out + strlen(t));
	free(t);
	return out;
}

START_TEST(rs256_and_confusion)
{
	EVP_PKEY *k = make_key(false);
	const char *kv[] = {"jwt_public_key", keyfile, NULL};
	char pem[4096];
	FILE *f = fopen(keyfile, "r");
	size_t n = fread(pem, 1, sizeof(pem) - 1, f);

	fclose(f);
	pem[n] = '\0';
	ck_assert_int_eq(setup_with(kv), 0);
	ck_assert_int_eq(verify(mint_asym(k, "{\"alg\":\"RS256\"}", false, "{\"exp\":1700000010}"), "svc", "c"), 0);
	REFUSED(mint_asym(k, "{\"alg\":\"RS256\"}", false, "{\"exp\":1699999999}"), "token expired");
	/* the public key as an HMAC secret */
	REFUSED(mint_hs(AUTH_JWT_HS256, "{\"alg\":\"HS256\"}", "{\"exp\":1700000010}", pem), "algorithm confusion");
	REFUSED(mint_asym(k, "{\"alg\":\"ES256\"}", false, "{\"exp\":1700000010}"), "algorithm ES256 is not configured");
	REFUSED(mint_asym(k, "{\"alg\":\"RS384\"}", false, "{\"exp\":1700000010}"), "bad signature (RS384)");
	EVP_PKEY_free(k);
	unlink(keyfile);
}
END_TEST

START_TEST(es256)
{
	EVP_PKEY *k = make_key(true);
	const char *kv[] = {"jwt_public_key", keyfile, "jwt_secret", SECRET, NULL};
	char *t;

	ck_assert_int_eq(setup_with(kv), 0);
	ck_assert_int_eq(verify(mint_asym(k, "{\"alg\":\"ES256\"}", true, "{\"exp\":1700000010}"), "svc", "c"), 0);
	/* both keys configured: HS uses the secret, ES the key */
	ck_assert_int_eq(verify(hs256("{\"exp\":1700000010}"), "svc", "c"), 0);
	t = mint_asym(k, "{\"alg\":\"ES256\"}", true, "{\"exp\":1700000010}");
	t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
	REFUSED(t, "bad signature (ES256)");
	REFUSED(mint_asym(k, "{\"alg\":\"ES384\"}", true, "{\"exp\":1700000010}"), "algorithm ES384 is not configured");
	EVP_PKEY_free(k);
	unlink(keyfile);
}
END_TEST

START_TEST(bad_key_file)
{
	const char *kv[] = {"jwt_public_key", "/nonexistent/key.pem", NULL};

	ck_assert_int_eq(setup_with(kv), MOSQ_ERR_INVAL);
}
END_TEST

static void unref_dev(void)
{
	registry_device_unref(dev);
	dev = NULL;
	teardown();
}

int main(void)
{
	Suite *s = suite_create("auth_jwt");
	TCase *tc = tcase_create("jwt");

	tcase_add_checked_fixture(tc, NULL, unref_dev);
	tcase_add_test(tc, b64url);
	tcase_add_test(tc, form);
	tcase_add_test(tc, off_without_keys);
	tcase_add_test(tc, accepts_server_tokens);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, claims);
	tcase_add_test(tc, bad_claim_option);
	tcase_add_test(tc, acl_claim);
	tcase_add_test(tc, rs256_and_confusion);
	tcase_add_test(tc, es256);
	tcase_add_test(tc, bad_key_file);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
