/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * iothubctl token: mint an HS256 JWT the plugin accepts (README "JWT
 * authentication"), with the claims the IotHub server's POST /tokens
 * issues ({"username", "exp", "iat"}) plus an optional EMQX 4.3 acl claim.
 * The signature and base64url are the plugin's own (auth/jwt_sig.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bson/bson.h>
#include <openssl/crypto.h>

#include "auth/jwt_sig.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"

/* A secret file holds the secret on its first line; longer is refused. */
#define SECRET_MAX 4096

static int read_secret(const char *path, char *buf, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if(f == NULL) return out_fail(CTL_USAGE, NULL, "--secret-file %s: %s", path, strerror(errno));
	n = fread(buf, 1, SECRET_MAX, f);
	if(ferror(f) || (n == SECRET_MAX && fgetc(f) != EOF)){
		fclose(f);
		return out_fail(CTL_USAGE, NULL, "--secret-file %s: unreadable or over %d bytes", path, SECRET_MAX);
	}
	fclose(f);
	for(size_t i = 0; i < n; i++){
		if(buf[i] == '\n' || buf[i] == '\r'){
			n = i;
			break;
		}
	}
	if(n == 0) return out_fail(CTL_USAGE, NULL, "--secret-file %s: empty secret", path);
	*len = n;
	return CTL_OK;
}

/* The shape the plugin accepts: an object whose pub/sub/all are arrays of
 * non-empty strings. */
static const char *acl_shape(const bson_t *acl)
{
	bson_iter_t it, arr;

	if(!bson_iter_init(&it, acl)) return "unreadable";
	while(bson_iter_next(&it)){
		const char *k = bson_iter_key(&it);
		if(strcmp(k, "pub") && strcmp(k, "sub") && strcmp(k, "all")) return "only \"pub\", \"sub\" and \"all\" are known";
		if(!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) return "each list must be an array";
		while(bson_iter_next(&arr)){
			uint32_t len;
			if(!BSON_ITER_HOLDS_UTF8(&arr) || (bson_iter_utf8(&arr, &len), len == 0)) {
				return "each entry must be a non-empty string (a topic filter)";
			}
		}
	}
	return NULL;
}

/* Text mode prints the token alone, for $(iothubctl token ...); --json
 * prints {"username", "token", "exp"}. */
static int sign_and_print(const char *secret, size_t secret_len, const char *payload, const char *username,
		int64_t exp)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	size_t plen = strlen(payload);
	size_t cap = (sizeof(header) + plen + 2) / 3 * 4 + 2 + 100;
	char *tok = malloc(cap);
	unsigned char mac[64];
	size_t n, maclen;

	if(tok == NULL) return out_fail(CTL_ERR, NULL, "out of memory");
	n = auth_jwt_b64url_encode((const unsigned char *)header, sizeof(header) - 1, tok);
	tok[n++] = '.';
	n += auth_jwt_b64url_encode((const unsigned char *)payload, plen, tok + n);
	if(auth_jwt_hmac(AUTH_JWT_HS256, secret, secret_len, tok, n, mac, &maclen)){
		free(tok);
		return out_fail(CTL_ERR, NULL, "HMAC failed");
	}
	tok[n++] = '.';
	auth_jwt_b64url_encode(mac, maclen, tok + n);
	if(out_json_mode()){
		bson_t doc;
		bson_init(&doc);
		BSON_APPEND_UTF8(&doc, "username", username);
		BSON_APPEND_UTF8(&doc, "token", tok);
		BSON_APPEND_INT64(&doc, "exp", exp);
		out_result(NULL, &doc, NULL);
		bson_destroy(&doc);
	}else{
		out_text("%s\n", tok);
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	free(tok);
	return CTL_OK;
}

int ctl_cmd_token(struct ctl *c, int argc, char **argv)
{
	char secret[SECRET_MAX];
	size_t secret_len = 0;
	uint64_t ttl_ms = 10000;
	bson_t claims, *acl = NULL;
	bson_error_t err;
	char *json;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if(argc != 1 || argv[0][0] == '\0') return out_fail(CTL_USAGE, NULL, "usage: iothubctl token --secret-file F [--ttl 10s] [--acl JSON] USERNAME");
	for(const char *p = argv[0]; *p; p++){
		if((unsigned char)*p < 0x20 || *p == 0x7f) return out_fail(CTL_USAGE, NULL, "USERNAME holds a control character");
	}
	if(c->opt.secret_file == NULL) return out_fail(CTL_USAGE, NULL, "token needs --secret-file");
	if(c->opt.ttl && (ih_parse_duration_ms(c->opt.ttl, &ttl_ms) || ttl_ms < 1000 || ttl_ms > 366ULL * 86400 * 1000)){
		return out_fail(CTL_USAGE, NULL, "--ttl: expected a duration from 1s to 366d (e.g. 10s, 5m, 1h)");
	}
	if(c->opt.acl){
		const char *why;
		acl = bson_new_from_json((const uint8_t *)c->opt.acl, -1, &err);
		why = acl == NULL || c->opt.acl[strspn(c->opt.acl, " \t\r\n")] != '{' ? "not a JSON object" : acl_shape(acl);
		if(why){
			if(acl) bson_destroy(acl);
			return out_fail(CTL_USAGE, NULL, "--acl: %s (EMQX 4.3 shape: {\"pub\":[...],\"sub\":[...],\"all\":[...]})", why);
		}
	}
	rc = read_secret(c->opt.secret_file, secret, &secret_len);
	if(rc != CTL_OK){
		if(acl) bson_destroy(acl);
		return rc;
	}
	bson_init(&claims);
	BSON_APPEND_UTF8(&claims, "username", argv[0]);
	BSON_APPEND_INT64(&claims, "exp", now + (int64_t)(ttl_ms / 1000));
	BSON_APPEND_INT64(&claims, "iat", now);
	if(acl){
		BSON_APPEND_DOCUMENT(&claims, "acl", acl);
		bson_destroy(acl);
	}
	json = bson_as_relaxed_extended_json(&claims, NULL);
	bson_destroy(&claims);
	rc = json ? sign_and_print(secret, secret_len, json, argv[0], now + (int64_t)(ttl_ms / 1000))
		: out_fail(CTL_ERR, NULL, "out of memory");
	bson_free(json);
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}
