/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The JWT parser and verifier (auth/jwt.c, auth/jwt_sig.c).
 *
 * Input: flags | username \0 client id \0 token
 *   flags bit 0: sign it: the token is taken as "header.payload" and a valid
 *                HS256 signature under the fuzz secret is appended, so the
 *                claim checks behind the signature are reached;
 *   flags bit 1: the second configuration (HS + an EC P-256 public key,
 *                leeway, exp optional) instead of the first (HS only,
 *                jwt_verify_claims username=%u, superuser claim "su").
 *
 * Properties: no crash or leak; an accepted token is a token record for the
 * username given, with an expiry after "now" when it has one; a refusal
 * has a reason and never quotes the token.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "auth/jwt_sig.h"
#include "core/config.h"
#include "fuzz/fuzz_common.h"
#include "registry/device.h"

#define SECRET "fuzz-secret"
#define NOW 1700000000

static struct ih_config cfg[2];
static struct auth_jwt *jwt[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void configure(int i, const char *const *kv)
{
	struct mosquitto_opt opts[16];
	int n = 0;

	for(; kv[2 * n]; n++){
		opts[n].key = (char *)kv[2 * n];
		opts[n].value = (char *)kv[2 * n + 1];
	}
	if(ih_config_parse(&cfg[i], opts, n) != 0 || auth_jwt_init(&jwt[i], &cfg[i]) != 0 || jwt[i] == NULL) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char keyfile[] = "/tmp/fuzz-jwt-key-XXXXXX";
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	int fd = mkstemp(keyfile);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	(void)argc; (void)argv;
	if(k == NULL || f == NULL || PEM_write_PUBKEY(f, k) != 1) abort();
	fclose(f);
	EVP_PKEY_free(k);
	{
		static const char *const a[] = {"jwt_secret", SECRET, "jwt_verify_claims", "username=%u",
			"jwt_superuser_claim", "su", NULL};
		static const char *b[] = {"jwt_secret", SECRET, "jwt_public_key", NULL, "jwt_leeway", "30s",
			"jwt_require_exp", "false", NULL};
		b[3] = keyfile;
		configure(0, a);
		configure(1, b);
	}
	unlink(keyfile);
	return 0;
}

/* "header.payload" + "." + base64url(HMAC-SHA256) */
static char *sign(const char *si)
{
	size_t n = strlen(si);
	char *t = malloc(n + 2 + 90);
	unsigned char mac[64];
	size_t maclen;

	if(t == NULL) abort();
	memcpy(t, si, n);
	t[n] = '.';
	if(auth_jwt_hmac(AUTH_JWT_HS256, SECRET, strlen(SECRET), si, n, mac, &maclen)) abort();
	auth_jwt_b64url_encode(mac, maclen, t + n + 1);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t flags = fz_u8(&f);
	char *user = fz_str(&f);
	char *cid = fz_str(&f);
	char *tok = fz_str(&f);
	const struct auth_jwt *j = jwt[(flags >> 1) & 1];
	struct ih_device *dev = NULL;
	char why[256];
	int rc;

	if(flags & 1){
		char *signed_tok = sign(tok);
		free(tok);
		tok = signed_tok;
	}
	(void)auth_jwt_looks_like(tok);
	why[0] = '\0';
	rc = auth_jwt_verify(j, tok, user[0] ? user : NULL, cid, NOW, &dev, why, sizeof(why));
	if(rc == 0){
		FZ_CHECK(dev && dev->token && dev->active, "accepted without a token record");
		FZ_CHECK(user[0] ? dev->username && !strcmp(dev->username, user) : dev->username == NULL, "username");
		FZ_CHECK(dev->token_expires_s == 0 || dev->token_expires_s > NOW, "accepted an expired token");
	}else{
		FZ_CHECK(dev == NULL && why[0], "refused without a reason");
		FZ_CHECK(strlen(tok) < 16 || strstr(why, tok) == NULL, "the reason quotes the token");
	}
	registry_device_unref(dev);
	free(tok);
	free(cid);
	free(user);
	return 0;
}
