/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * JWT verification and claims (policy in jwt.h). The token is split and
 * decoded here, its JSON parsed with libbson, its signature checked by
 * jwt_sig.c under the algorithm this file has already matched against the
 * configuration.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bson/bson.h>
#include <openssl/evp.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/jwt.h"
#include "auth/jwt_sig.h"

/* Decoded header or payload: a token of at most AUTH_JWT_MAX_LEN
 * characters decodes to at most three quarters of that. */
#define DECODED_MAX (AUTH_JWT_MAX_LEN / 4 * 3)
/* jwt_verify_claims lines (duplicate detection keeps one counter each). */
#define AUTH_JWT_MAX_CHECKS 32

struct claim_check {
	char *name;
	char *value;      /* template: %u, %c, %% */
};

struct auth_jwt {
	const struct ih_config *cfg;
	const char *secret;          /* cfg->jwt_secret, or NULL */
	size_t secret_len;
	EVP_PKEY *pub;
	unsigned algs;               /* configured algorithms, a bit each */
	struct claim_check *checks;
	size_t n_checks;
};

/* ------------------------------------------------------------------ */
/* lifecycle                                                            */

/* "CLAIM=VALUE" with only %u, %c and %% in VALUE. */
static const char *parse_check(const char *spec, struct claim_check *out)
{
	const char *eq = strchr(spec, '=');

	if(eq == NULL || eq == spec) return "expected CLAIM=VALUE";
	for(const char *p = eq + 1; *p; p++){
		if(*p != '%') continue;
		p++;
		if(*p != 'u' && *p != 'c' && *p != '%') return "only %u, %c and %% may follow '%' in VALUE";
	}
	out->name = mosquitto_malloc((size_t)(eq - spec) + 1);
	if(out->name){
		memcpy(out->name, spec, (size_t)(eq - spec));
		out->name[eq - spec] = '\0';
	}
	out->value = mosquitto_strdup(eq + 1);
	if(out->name == NULL || out->value == NULL) return "out of memory";
	return NULL;
}

void auth_jwt_cleanup(struct auth_jwt *j)
{
	if(j == NULL) return;
	for(size_t i = 0; i < j->n_checks; i++){
		mosquitto_free(j->checks[i].name);
		mosquitto_free(j->checks[i].value);
	}
	mosquitto_free(j->checks);
	EVP_PKEY_free(j->pub);
	mosquitto_free(j);
}

int auth_jwt_init(struct auth_jwt **out, const struct ih_config *cfg)
{
	struct auth_jwt *j;
	char err[256];
	unsigned key_algs;
	int rc = MOSQ_ERR_INVAL;

	*out = NULL;
	if(cfg->jwt_secret == NULL && cfg->jwt_public_key == NULL) return MOSQ_ERR_SUCCESS;
	j = mosquitto_calloc(1, sizeof(*j));
	if(j == NULL) return MOSQ_ERR_NOMEM;
	j->cfg = cfg;
	if(cfg->jwt_secret){
		j->secret = cfg->jwt_secret;
		j->secret_len = strlen(cfg->jwt_secret);
		if(j->secret_len == 0){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option plugin_opt_jwt_secret: must not be empty");
			goto fail;
		}
		j->algs |= 1u << AUTH_JWT_HS256 | 1u << AUTH_JWT_HS384 | 1u << AUTH_JWT_HS512;
	}
	if(cfg->jwt_public_key){
		j->pub = auth_jwt_key_load(cfg->jwt_public_key, &key_algs, err, sizeof(err));
		if(j->pub == NULL){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option plugin_opt_jwt_public_key: %s", err);
			goto fail;
		}
		j->algs |= key_algs;
	}
	if(cfg->jwt_verify_claims.count > AUTH_JWT_MAX_CHECKS){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option plugin_opt_jwt_verify_claims: at most %d lines",
				AUTH_JWT_MAX_CHECKS);
		goto fail;
	}
	j->checks = mosquitto_calloc(cfg->jwt_verify_claims.count + 1, sizeof(*j->checks));
	if(j->checks == NULL){
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	for(size_t i = 0; i < cfg->jwt_verify_claims.count; i++){
		const char *why = parse_check(cfg->jwt_verify_claims.items[i], &j->checks[i]);
		j->n_checks = i + 1;
		if(why){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option plugin_opt_jwt_verify_claims \"%s\": %s",
					cfg->jwt_verify_claims.items[i], why);
			goto fail;
		}
	}
	*out = j; /* the caller owns j; auth_jwt_cleanup frees it */
	return MOSQ_ERR_SUCCESS;
fail:
	auth_jwt_cleanup(j);
	return rc;
}

/* ------------------------------------------------------------------ */
/* form                                                                 */

static bool b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Splits at the two dots; false unless the credential has the JWT form. */
static bool split(const char *s, size_t seg_start[3], size_t seg_len[3])
{
	size_t i = 0;
	int seg = 0;

	if(s == NULL || s[0] != 'e') return false;
	seg_start[0] = 0;
	for(; s[i]; i++){
		if(s[i] == '.'){
			if(seg == 2) return false;
			seg_len[seg] = i - seg_start[seg];
			seg_start[++seg] = i + 1;
		}else if(!b64url_char((unsigned char)s[i])){
			return false;
		}
	}
	if(seg != 2) return false;
	seg_len[2] = i - seg_start[2];
	return seg_len[0] > 0 && seg_len[1] > 0;
}

bool auth_jwt_looks_like(const char *credential)
{
	size_t start[3], len[3];

	return split(credential, start, len);
}

/* ------------------------------------------------------------------ */
/* verification                                                         */

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A decoded segment holding one JSON object, parsed into doc. */
static const char *parse_object(const unsigned char *buf, long n, bson_t *doc)
{
	bson_error_t err;
	long i = 0;

	while(i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) i++;
	if(i == n || buf[i] != '{') return "not a JSON object";
	/* On failure libbson has already destroyed doc (destroying it again
	 * is a double free: fuzz/corpus/jwt holds the input that showed it). */
	if(!bson_init_from_json(doc, (const char *)buf, n, &err)) return "not valid JSON";
	return NULL;
}

/* A base64url segment holding one JSON object, parsed into doc. */
static const char *decode_object(const char *seg, size_t len, unsigned char *buf, bson_t *doc)
{
	long n = auth_jwt_b64url_decode(seg, len, buf, DECODED_MAX);

	if(n < 0) return "not base64url";
	return parse_object(buf, n, doc);
}

/*
 * The headers that jsonwebtoken (the IotHub server), iothubctl and most
 * libraries write, {"alg":"XXXXX","typ":"JWT"} and {"alg":"XXXXX"} with a
 * known five-letter algorithm, recognised byte for byte: their meaning is
 * fixed, so they skip the JSON parser (a third of a JWT connect's cost).
 * Anything else, even one space different, goes through header_alg().
 */
static bool canonical_header(const unsigned char *h, long n, enum auth_jwt_alg *alg)
{
	static const char pre[] = "{\"alg\":\"", typ[] = "\",\"typ\":\"JWT\"}", end[] = "\"}";
	const size_t plen = sizeof(pre) - 1, alen = 5;
	size_t rest;

	if(n < 0 || (size_t)n < plen + alen || memcmp(h, pre, plen)) return false;
	rest = (size_t)n - plen - alen;
	if(!(rest == sizeof(end) - 1 && !memcmp(h + plen + alen, end, rest))
			&& !(rest == sizeof(typ) - 1 && !memcmp(h + plen + alen, typ, rest))){
		return false;
	}
	*alg = auth_jwt_alg_parse((const char *)h + plen, alen);
	return *alg >= 0;
}

/* The header's algorithm, after the structural checks of step 2. */
static const char *header_alg(const bson_t *hdr, enum auth_jwt_alg *alg)
{
	bson_iter_t it;
	int seen = 0;

	if(!bson_iter_init(&it, hdr)) return "unreadable";
	while(bson_iter_next(&it)){
		const char *key = bson_iter_key(&it);
		if(!strcmp(key, "crit")) return "\"crit\" is not supported";
		if(strcmp(key, "alg")) continue;
		/* Two "alg" members would let two parsers disagree on the algorithm. */
		if(++seen > 1) return "\"alg\" given twice";
		if(!BSON_ITER_HOLDS_UTF8(&it)) return "\"alg\" is not a string";
		uint32_t len;
		const char *s = bson_iter_utf8(&it, &len);
		*alg = auth_jwt_alg_parse(s, len);
	}
	return seen ? NULL : "no \"alg\"";
}

static int check_alg(const struct auth_jwt *j, enum auth_jwt_alg alg, char *why, size_t whylen)
{
	if(alg == AUTH_JWT_ALG_NONE) return fail(why, whylen, "algorithm \"none\" is never accepted");
	if(alg == AUTH_JWT_ALG_UNKNOWN) return fail(why, whylen, "unknown algorithm");
	if(j->algs & (1u << alg)) return 0;
	if(auth_jwt_alg_family(alg) == AUTH_JWT_HMAC && j->pub){
		return fail(why, whylen, "algorithm confusion: %s token, but only an asymmetric jwt_public_key is configured"
				" (it is never used as an HMAC secret)", auth_jwt_alg_name(alg));
	}
	return fail(why, whylen, "algorithm %s is not configured", auth_jwt_alg_name(alg));
}

/* Claims the checks below read. */
enum { C_EXP, C_NBF, C_ACL, C_SUPER, C_FIXED };

struct claims {
	struct { bson_iter_t it; } at[C_FIXED];   /* bson_iter_t is over-aligned: no bare array */
	bool has[C_FIXED];
};

/* One walk over the payload: find the fixed claims, refuse duplicates of
 * any claim we read (ours or a jwt_verify_claims one). */
static const char *find_claims(const struct auth_jwt *j, const bson_t *body, struct claims *c)
{
	static const char *const fixed[C_FIXED] = {"exp", "nbf", "acl", NULL};
	bson_iter_t it;
	unsigned checks_seen[AUTH_JWT_MAX_CHECKS] = {0};

	memset(c, 0, sizeof(*c));
	if(!bson_iter_init(&it, body)) return "unreadable";
	while(bson_iter_next(&it)){
		const char *key = bson_iter_key(&it);
		for(int k = 0; k < C_FIXED; k++){
			const char *name = k == C_SUPER ? j->cfg->jwt_superuser_claim : fixed[k];
			if(name == NULL || strcmp(key, name)) continue;
			if(c->has[k]) return "a claim is given twice";
			c->has[k] = true;
			c->at[k].it = it;
		}
		for(size_t k = 0; k < j->n_checks; k++){
			if(!strcmp(key, j->checks[k].name) && checks_seen[k]++) return "a claim is given twice";
		}
	}
	return NULL;
}

static bool numeric(const bson_iter_t *it, int64_t *out)
{
	double d;

	switch(bson_iter_type(it)){
		case BSON_TYPE_INT32: *out = bson_iter_int32(it); return true;
		case BSON_TYPE_INT64: *out = bson_iter_int64(it); return true;
		case BSON_TYPE_DOUBLE:
			d = bson_iter_double(it);
			if(!isfinite(d) || d > 9.2e18 || d < -9.2e18) return false;
			*out = (int64_t)d;
			if((double)*out > d) (*out)--;   /* floor, without libm */
			return true;
		default: return false;
	}
}

static int check_times(const struct auth_jwt *j, const struct claims *c, int64_t now, int64_t *exp_out,
		char *why, size_t whylen)
{
	int64_t leeway = j->cfg->jwt_leeway_s, exp = 0, nbf;

	*exp_out = 0;
	if(c->has[C_EXP]){
		if(!numeric(&c->at[C_EXP].it, &exp)) return fail(why, whylen, "malformed payload: \"exp\" is not a number");
		if(now >= exp + leeway){
			return fail(why, whylen, "token expired (exp %" PRId64 ", now %" PRId64 ", leeway %" PRId64 "s)",
					exp, now, leeway);
		}
		*exp_out = exp + leeway;
	}else if(j->cfg->jwt_require_exp){
		return fail(why, whylen, "no \"exp\" claim (jwt_require_exp is true)");
	}
	if(c->has[C_NBF]){
		if(!numeric(&c->at[C_NBF].it, &nbf)) return fail(why, whylen, "malformed payload: \"nbf\" is not a number");
		if(now + leeway < nbf){
			return fail(why, whylen, "token not yet valid (nbf %" PRId64 ", now %" PRId64 ")", nbf, now);
		}
	}
	return 0;
}

/* VALUE with %u and %c substituted; false when it does not fit. */
static bool expand(const char *tpl, const char *username, const char *client_id, char *out, size_t outsize)
{
	size_t n = 0;

	for(const char *p = tpl; *p; p++){
		const char *ins = NULL;
		char one[2] = {*p, '\0'};
		if(*p == '%' && (p[1] == 'u' || p[1] == 'c' || p[1] == '%')){
			p++;
			ins = *p == 'u' ? (username ? username : "") : *p == 'c' ? (client_id ? client_id : "") : "%";
		}else{
			ins = one;
		}
		size_t len = strlen(ins);
		if(n + len >= outsize) return false;
		memcpy(out + n, ins, len);
		n += len;
	}
	out[n] = '\0';
	return true;
}

/* The claim as text: strings as they are, numbers and booleans as JSON. */
static bool claim_text(const bson_iter_t *it, char *buf, size_t bufsize, const char **s, size_t *len)
{
	uint32_t l;

	switch(bson_iter_type(it)){
		case BSON_TYPE_UTF8:
			*s = bson_iter_utf8(it, &l);
			*len = l;
			return true;
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
			snprintf(buf, bufsize, "%" PRId64, bson_iter_as_int64(it));
			break;
		case BSON_TYPE_BOOL:
			snprintf(buf, bufsize, "%s", bson_iter_bool(it) ? "true" : "false");
			break;
		default:
			return false;
	}
	*s = buf;
	*len = strlen(buf);
	return true;
}

static int check_claims(const struct auth_jwt *j, const bson_t *body, const char *username, const char *client_id,
		char *why, size_t whylen)
{
	char want[1024], num[32];
	bson_iter_t it;
	const char *s;
	size_t len;

	for(size_t k = 0; k < j->n_checks; k++){
		const struct claim_check *cc = &j->checks[k];
		if(!bson_iter_init_find(&it, body, cc->name)){
			return fail(why, whylen, "claim check failed: no \"%s\" claim", cc->name);
		}
		if(!expand(cc->value, username, client_id, want, sizeof(want))
				|| !claim_text(&it, num, sizeof(num), &s, &len)
				|| len != strlen(want) || memcmp(s, want, len) != 0){
			return fail(why, whylen, "claim check failed: \"%s\" does not match jwt_verify_claims", cc->name);
		}
	}
	return 0;
}

static bool truthy(const bson_iter_t *it)
{
	uint32_t len;
	const char *s;

	switch(bson_iter_type(it)){
		case BSON_TYPE_BOOL: return bson_iter_bool(it);
		case BSON_TYPE_INT32: return bson_iter_int32(it) == 1;
		case BSON_TYPE_INT64: return bson_iter_int64(it) == 1;
		case BSON_TYPE_UTF8:
			s = bson_iter_utf8(it, &len);
			return len == 4 && !memcmp(s, "true", 4);
		default: return false;
	}
}

/* EMQX 4.3's acl claim: {"pub":[...], "sub":[...], "all":[...]}. */
static int take_acl(const bson_iter_t *acl, struct ih_device *dev, char *why, size_t whylen)
{
	static const char *const names[] = {"pub", "sub", "all"};
	struct ih_acl_lists *lists_of = registry_device_acl_edit(dev);
	struct ih_strlist *lists[3];
	bson_iter_t it, arr;

	if(lists_of == NULL) return fail(why, whylen, "out of memory");
	lists[0] = &lists_of->list[IH_ACL_PUBLISH];
	lists[1] = &lists_of->list[IH_ACL_SUBSCRIBE];
	lists[2] = &lists_of->list[IH_ACL_PUBSUB];

	if(!BSON_ITER_HOLDS_DOCUMENT(acl) || !bson_iter_recurse(acl, &it)){
		return fail(why, whylen, "malformed payload: \"acl\" is not an object");
	}
	while(bson_iter_next(&it)){
		const char *key = bson_iter_key(&it);
		for(int l = 0; l < 3; l++){
			if(strcmp(key, names[l])) continue;
			if(lists[l]->count) return fail(why, whylen, "malformed payload: \"acl.%s\" given twice", key);
			if(!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)){
				return fail(why, whylen, "malformed payload: \"acl.%s\" is not an array", key);
			}
			while(bson_iter_next(&arr)){
				uint32_t len;
				const char *s;
				if(!BSON_ITER_HOLDS_UTF8(&arr)) return fail(why, whylen, "malformed payload: \"acl.%s\" holds a non-string", key);
				s = bson_iter_utf8(&arr, &len);
				if(len == 0 || !bson_utf8_validate(s, len, false)){
					return fail(why, whylen, "malformed payload: \"acl.%s\" holds an empty or invalid string", key);
				}
				if(registry_device_list_add(lists[l], s, len)) return fail(why, whylen, "out of memory");
			}
		}
	}
	dev->token_acl = true;
	return 0;
}

/* Steps 6 to 8 of jwt.h, and the record they describe. */
static int admit(const struct auth_jwt *j, const bson_t *body, const char *username, const char *client_id,
		int64_t now, struct ih_device **out, char *why, size_t whylen)
{
	struct claims c;
	struct ih_device *dev;
	const char *bad;
	int64_t expires;

	bad = find_claims(j, body, &c);
	if(bad) return fail(why, whylen, "malformed payload: %s", bad);
	if(check_times(j, &c, now, &expires, why, whylen)) return -1;
	if(check_claims(j, body, username, client_id, why, whylen)) return -1;
	dev = registry_device_new_token(username);
	if(dev == NULL) return fail(why, whylen, "out of memory");
	dev->token_expires_s = expires;
	dev->superuser = c.has[C_SUPER] && truthy(&c.at[C_SUPER].it);
	if(c.has[C_ACL] && take_acl(&c.at[C_ACL].it, dev, why, whylen)){
		registry_device_unref(dev);
		return -1;
	}
	*out = dev; /* the caller owns the record */
	return 0;
}

int auth_jwt_verify(const struct auth_jwt *j, const char *token, const char *username, const char *client_id,
		int64_t now_s, struct ih_device **out, char *why, size_t whylen)
{
	size_t start[3], len[3], tlen;
	unsigned char buf[DECODED_MAX], sig[DECODED_MAX];
	bson_t hdr, body;
	enum auth_jwt_alg alg = AUTH_JWT_ALG_UNKNOWN;
	const char *bad;
	long siglen, n;
	int rc;

	*out = NULL;
	tlen = strnlen(token, AUTH_JWT_MAX_LEN + 1);
	if(tlen > AUTH_JWT_MAX_LEN) return fail(why, whylen, "token over %d bytes", AUTH_JWT_MAX_LEN);
	if(!split(token, start, len)) return fail(why, whylen, "malformed token: not three base64url segments");

	n = auth_jwt_b64url_decode(token, len[0], buf, DECODED_MAX);
	if(n < 0) return fail(why, whylen, "malformed header: not base64url");
	if(!canonical_header(buf, n, &alg)){
		bad = parse_object(buf, n, &hdr);
		if(bad) return fail(why, whylen, "malformed header: %s", bad);
		bad = header_alg(&hdr, &alg);
		bson_destroy(&hdr);
		if(bad) return fail(why, whylen, "malformed header: %s", bad);
	}
	if(check_alg(j, alg, why, whylen)) return -1;

	bad = decode_object(token + start[1], len[1], buf, &body);
	if(bad) return fail(why, whylen, "malformed payload: %s", bad);
	siglen = auth_jwt_b64url_decode(token + start[2], len[2], sig, sizeof(sig));
	/* The signing input is the first two segments exactly as sent. */
	if(siglen <= 0 || !auth_jwt_sig_ok(alg, j->secret, j->secret_len, j->pub, token, start[2] - 1,
			sig, (size_t)siglen)){
		bson_destroy(&body);
		return fail(why, whylen, "bad signature (%s)", auth_jwt_alg_name(alg));
	}
	rc = admit(j, &body, username, client_id, now_s, out, why, whylen);
	bson_destroy(&body);
	return rc;
}
