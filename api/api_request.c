/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Request decoding for the HTTP management API (see api_request.h).
 * JSON goes through libbson's parser; nothing here parses HTTP. This runs on
 * the HTTP threads, so memory is libc malloc/free, never mosquitto_malloc.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>
#include <openssl/evp.h>

#include "acl/topic.h"
#include "api/api_request.h"

/* ------------------------------------------------------------------ */
/* routing                                                              */

static int hexval(int c)
{
	if(c >= '0' && c <= '9') return c - '0';
	if(c >= 'a' && c <= 'f') return c - 'a' + 10;
	if(c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* %XX-decode [s, s+n) into a new string; NULL on a malformed escape, an
 * embedded NUL, or no memory. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if(out == NULL) return NULL;
	for(size_t i = 0; i < n; i++){
		int c = (unsigned char)s[i];

		if(c == '%'){
			int hi, lo;

			if(i + 2 >= n){
				free(out);
				return NULL;
			}
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if(hi < 0 || lo < 0){
				free(out);
				return NULL;
			}
			c = hi * 16 + lo;
			i += 2;
		}
		if(c == 0){
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

/* Next non-empty segment of *p: returns its start and length, advances *p. */
static const char *next_seg(const char **p, size_t *len)
{
	const char *s = *p, *e;

	while(*s == '/') s++;
	e = s;
	while(*e && *e != '/') e++;
	*len = (size_t)(e - s);
	*p = e;
	return s;
}

static bool seg_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

static void route_set(struct api_route_result *out, const char *method, const char *want, enum api_route r)
{
	if(strcmp(method, want)){
		out->status = 405;
		return;
	}
	out->route = r;
	out->status = 0;
}

void api_route_parse(const char *method, const char *path, struct api_route_result *out)
{
	const char *p = path, *s;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->status = 404;
	if(method == NULL || path == NULL || strlen(path) > API_PATH_MAX) return;

	s = next_seg(&p, &n);
	if(seg_is(s, n, "metrics")){
		next_seg(&p, &n);
		if(n == 0) route_set(out, method, "GET", API_ROUTE_METRICS);
		return;
	}
	if(!seg_is(s, n, "api")) return;
	s = next_seg(&p, &n);
	if(!seg_is(s, n, "v4") && !seg_is(s, n, "v3")) return;
	s = next_seg(&p, &n);

	if(seg_is(s, n, "clients") || seg_is(s, n, "connections")){
		while(*p == '/') p++;
		/* The whole rest is the id, raw '/' and all; a trailing '/' too. */
		n = strlen(p);
		if(n == 0) return;
		if(!strcmp(method, "GET")){
			out->route = API_ROUTE_CLIENT_GET;
		}else if(!strcmp(method, "DELETE")){
			out->route = API_ROUTE_CLIENT_KICK;
		}else{
			out->status = 405;
			return;
		}
		out->client_id = pct_decode(p, n);
		if(out->client_id == NULL || strlen(out->client_id) > API_CLIENT_ID_MAX){
			api_route_result_free(out);
			out->status = 404;
			return;
		}
		out->status = 0;
		return;
	}
	if(seg_is(s, n, "stats")){
		next_seg(&p, &n);
		if(n == 0) route_set(out, method, "GET", API_ROUTE_STATS);
		return;
	}
	if(seg_is(s, n, "mqtt")){
		enum api_route r = API_ROUTE_NONE;
		const char *verb;

		verb = next_seg(&p, &n);
		if(seg_is(verb, n, "publish")) r = API_ROUTE_PUBLISH;
		else if(seg_is(verb, n, "publish_batch")) r = API_ROUTE_PUBLISH_BATCH;
		else if(seg_is(verb, n, "subscribe")) r = API_ROUTE_SUBSCRIBE;
		else if(seg_is(verb, n, "unsubscribe")) r = API_ROUTE_UNSUBSCRIBE;
		if(r == API_ROUTE_NONE) return;
		next_seg(&p, &n);
		if(n == 0) route_set(out, method, "POST", r);
	}
}

void api_route_result_free(struct api_route_result *r)
{
	free(r->client_id);
	r->client_id = NULL;
	r->route = API_ROUTE_NONE;
}

/* ------------------------------------------------------------------ */
/* topics                                                               */

/* The MQTT rules are acl/topic.c's; MQTT also wants UTF-8, which a JSON
 * string already is unless it carried an escaped NUL (refused earlier). */
bool api_topic_name_valid(const char *t)
{
	return t && acl_topic_valid(t) && bson_utf8_validate(t, strlen(t), false);
}

bool api_topic_filter_valid(const char *t)
{
	return t && acl_filter_valid(t) && bson_utf8_validate(t, strlen(t), false);
}

/* ------------------------------------------------------------------ */
/* JSON bodies                                                          */

#define ERR(...) do{ snprintf(err, errlen, __VA_ARGS__); }while(0)

/* A UTF-8 member with no embedded NUL, copied; 0, or -1 (wrong type / NUL),
 * and *out NULL when absent. */
static int get_string(const bson_t *doc, const char *key, char **out)
{
	bson_iter_t it;
	const char *s;
	uint32_t n;

	*out = NULL;
	if(!bson_iter_init_find(&it, doc, key)) return 0;
	if(!BSON_ITER_HOLDS_UTF8(&it)) return -1;
	s = bson_iter_utf8(&it, &n);
	if(memchr(s, '\0', n)) return -1;
	*out = strdup(s);
	return *out ? 0 : -1;
}

/* qos: an integer 0..2 (EMQX also accepts a numeric string); absent = 0. */
static int get_qos(const bson_t *doc, int *qos)
{
	bson_iter_t it;
	int64_t v;

	*qos = 0;
	if(!bson_iter_init_find(&it, doc, "qos")) return 0;
	if(BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)){
		v = bson_iter_as_int64(&it);
	}else if(BSON_ITER_HOLDS_DOUBLE(&it)){
		double d = bson_iter_double(&it);
		if(d != 0.0 && d != 1.0 && d != 2.0) return -1;
		v = (int64_t)d;
	}else if(BSON_ITER_HOLDS_UTF8(&it)){
		const char *s = bson_iter_utf8(&it, NULL);
		if(strlen(s) != 1 || s[0] < '0' || s[0] > '2') return -1;
		v = s[0] - '0';
	}else{
		return -1;
	}
	if(v < 0 || v > 2) return -1;
	*qos = (int)v;
	return 0;
}

/* retain or retained: a boolean; absent = false. */
static int get_retain(const bson_t *doc, bool *retain)
{
	static const char *const keys[] = {"retain", "retained"};
	bson_iter_t it;

	*retain = false;
	for(size_t i = 0; i < 2; i++){
		if(!bson_iter_init_find(&it, doc, keys[i])) continue;
		if(!BSON_ITER_HOLDS_BOOL(&it)) return -1;
		if(bson_iter_bool(&it)) *retain = true;
	}
	return 0;
}

/* Decode base64 with OpenSSL; -1 on bad input. *out owned by the caller. */
static int base64_decode(const char *in, size_t n, uint8_t **out, uint32_t *outlen)
{
	EVP_ENCODE_CTX *ctx;
	int l1 = 0, l2 = 0, rc;
	uint8_t *buf;

	*out = NULL;
	*outlen = 0;
	if(n == 0) return 0;
	if(n > INT32_MAX) return -1;
	buf = malloc(n / 4 * 3 + 4);
	ctx = EVP_ENCODE_CTX_new();
	if(buf == NULL || ctx == NULL){
		free(buf);
		EVP_ENCODE_CTX_free(ctx);
		return -1;
	}
	EVP_DecodeInit(ctx);
	rc = EVP_DecodeUpdate(ctx, buf, &l1, (const unsigned char *)in, (int)n);
	if(rc >= 0) rc = EVP_DecodeFinal(ctx, buf + l1, &l2);
	EVP_ENCODE_CTX_free(ctx);
	if(rc < 0){
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = (uint32_t)(l1 + l2);
	return 0;
}

static int get_payload(const bson_t *doc, uint8_t **payload, uint32_t *len, char *err, size_t errlen)
{
	bson_iter_t it;
	const char *s;
	uint32_t n;
	char *enc = NULL;
	bool b64 = false;

	*payload = NULL;
	*len = 0;
	if(get_string(doc, "encoding", &enc)){
		ERR("encoding must be \"plain\" or \"base64\"");
		return API_CODE_BAD_PARAM;
	}
	if(enc){
		if(!strcmp(enc, "base64")){
			b64 = true;
		}else if(strcmp(enc, "plain")){
			free(enc);
			ERR("encoding must be \"plain\" or \"base64\"");
			return API_CODE_BAD_PARAM;
		}
		free(enc);
	}
	if(!bson_iter_init_find(&it, doc, "payload")) return API_CODE_OK; /* an empty message */
	if(!BSON_ITER_HOLDS_UTF8(&it)){
		ERR("payload must be a string");
		return API_CODE_BAD_PARAM;
	}
	s = bson_iter_utf8(&it, &n);
	if(b64){
		if(base64_decode(s, n, payload, len)){
			ERR("payload is not valid base64");
			return API_CODE_BAD_PARAM;
		}
		return API_CODE_OK;
	}
	if(n > 0){
		*payload = malloc(n);
		if(*payload == NULL){
			ERR("out of memory");
			return API_CODE_INTERNAL;
		}
		memcpy(*payload, s, n);
		*len = n;
	}
	return API_CODE_OK;
}

static void msg_clear(struct api_msg *m)
{
	free(m->topic);
	free(m->payload);
	free(m->client_id);
	memset(m, 0, sizeof(*m));
}

void api_msgs_free(struct api_msgs *m)
{
	for(size_t i = 0; i < m->count; i++) msg_clear(&m->items[i]);
	free(m->items);
	m->items = NULL;
	m->count = 0;
}

static int msgs_push(struct api_msgs *m, struct api_msg *one)
{
	struct api_msg *items;

	if(m->count >= API_BATCH_MAX) return -1;
	items = realloc(m->items, (m->count + 1) * sizeof(*items));
	if(items == NULL) return -1;
	m->items = items;
	m->items[m->count++] = *one; /* the list owns one's strings now */
	return 0;
}

/* One topic of a publish object; payload and client id are copied per topic. */
static int add_topic(struct api_msgs *m, const char *topic, size_t tlen, const struct api_msg *tmpl,
		char *err, size_t errlen)
{
	struct api_msg one = *tmpl;

	one.topic = malloc(tlen + 1);
	one.payload = NULL;
	one.client_id = tmpl->client_id ? strdup(tmpl->client_id) : NULL;
	if(one.topic) {
		memcpy(one.topic, topic, tlen);
		one.topic[tlen] = '\0';
	}
	if(tmpl->payloadlen){
		one.payload = malloc(tmpl->payloadlen);
		if(one.payload) memcpy(one.payload, tmpl->payload, tmpl->payloadlen);
	}
	if(one.topic == NULL || (tmpl->payloadlen && one.payload == NULL) || (tmpl->client_id && one.client_id == NULL)){
		msg_clear(&one);
		ERR("out of memory");
		return API_CODE_INTERNAL;
	}
	if(!api_topic_name_valid(one.topic)){
		ERR("invalid topic \"%.100s\"%s", one.topic, strpbrk(one.topic, "+#") ? ": wildcards cannot be published to" : "");
		msg_clear(&one);
		return API_CODE_BAD_PARAM;
	}
	if(msgs_push(m, &one)){
		msg_clear(&one);
		ERR("too many messages (at most %d)", API_BATCH_MAX);
		return API_CODE_BAD_PARAM;
	}
	return API_CODE_OK;
}

static int parse_one(const bson_t *doc, struct api_msgs *m, char *err, size_t errlen)
{
	struct api_msg tmpl = {0};
	char *topic = NULL, *topics = NULL;
	int rc;

	if(get_string(doc, "topic", &topic) || get_string(doc, "topics", &topics)){
		ERR("topic must be a string");
		rc = API_CODE_BAD_PARAM;
		goto done;
	}
	if(topic == NULL && topics == NULL){
		ERR("missing topic");
		rc = API_CODE_BAD_PARAM;
		goto done;
	}
	if(get_qos(doc, &tmpl.qos)){
		ERR("qos must be 0, 1 or 2");
		rc = API_CODE_BAD_PARAM;
		goto done;
	}
	if(get_retain(doc, &tmpl.retain)){
		ERR("retain must be true or false");
		rc = API_CODE_BAD_PARAM;
		goto done;
	}
	if(get_string(doc, "client_id", &tmpl.client_id)
			|| (tmpl.client_id == NULL && get_string(doc, "clientid", &tmpl.client_id))){
		ERR("client_id must be a string");
		rc = API_CODE_BAD_PARAM;
		goto done;
	}
	rc = get_payload(doc, &tmpl.payload, &tmpl.payloadlen, err, errlen);
	if(rc) goto done;
	if(topic){
		rc = add_topic(m, topic, strlen(topic), &tmpl, err, errlen);
		if(rc) goto done;
	}
	if(topics){
		const char *p = topics;

		for(;;){
			const char *c = strchr(p, ',');
			size_t n = c ? (size_t)(c - p) : strlen(p);

			rc = add_topic(m, p, n, &tmpl, err, errlen);
			if(rc || c == NULL) break;
			p = c + 1;
		}
	}
done:
	free(topic);
	free(topics);
	msg_clear(&tmpl);
	return rc;
}

static const char *skip_ws(const char *s, const char *end)
{
	while(s < end && isspace((unsigned char)*s)) s++;
	return s;
}

/* Parse a body whose first character must be `open` ('{' or '['). */
static bson_t *parse_json(const char *body, size_t len, char open, char *err, size_t errlen)
{
	const char *s = skip_ws(body, body + len);
	bson_error_t e;
	bson_t *doc;

	if(len == 0 || s == body + len){
		ERR("empty body");
		return NULL;
	}
	if(*s != open){
		ERR("body must be a JSON %s", open == '[' ? "array" : "object");
		return NULL;
	}
	if(len > INT32_MAX){
		ERR("body too large");
		return NULL;
	}
	doc = bson_new_from_json((const uint8_t *)body, (ssize_t)len, &e);
	if(doc == NULL) ERR("malformed JSON: %.200s", e.message);
	return doc;
}

int api_parse_publish(const char *body, size_t len, bool batch, struct api_msgs *out, char *err, size_t errlen)
{
	bson_t *doc;
	bson_iter_t it;
	int rc = API_CODE_OK;

	memset(out, 0, sizeof(*out));
	doc = parse_json(body, len, batch ? '[' : '{', err, errlen);
	if(doc == NULL) return API_CODE_BAD_JSON;
	if(!batch){
		rc = parse_one(doc, out, err, errlen);
	}else if(bson_iter_init(&it, doc)){
		while(rc == API_CODE_OK && bson_iter_next(&it)){
			const uint8_t *buf;
			uint32_t n;
			bson_t one;

			if(!BSON_ITER_HOLDS_DOCUMENT(&it)){
				ERR("batch item %s is not an object", bson_iter_key(&it));
				rc = API_CODE_BAD_PARAM;
				break;
			}
			bson_iter_document(&it, &n, &buf);
			if(!bson_init_static(&one, buf, n)){
				ERR("malformed batch item");
				rc = API_CODE_BAD_JSON;
				break;
			}
			rc = parse_one(&one, out, err, errlen);
		}
	}
	if(rc == API_CODE_OK && out->count == 0){
		ERR("nothing to publish");
		rc = API_CODE_BAD_PARAM;
	}
	bson_destroy(doc);
	if(rc) api_msgs_free(out);
	return rc;
}

void api_sub_free(struct api_sub *s)
{
	free(s->topic);
	free(s->client_id);
	memset(s, 0, sizeof(*s));
}

int api_parse_subscribe(const char *body, size_t len, struct api_sub *out, char *err, size_t errlen)
{
	bson_t *doc;
	int rc = API_CODE_BAD_PARAM;

	memset(out, 0, sizeof(*out));
	doc = parse_json(body, len, '{', err, errlen);
	if(doc == NULL) return API_CODE_BAD_JSON;
	if(get_string(doc, "topic", &out->topic) || !api_topic_filter_valid(out->topic)){
		ERR(out->topic ? "invalid topic filter" : "missing topic");
	}else if(get_string(doc, "clientid", &out->client_id)
			|| (out->client_id == NULL && get_string(doc, "client_id", &out->client_id))
			|| out->client_id == NULL || out->client_id[0] == '\0'){
		ERR("missing clientid");
	}else if(get_qos(doc, &out->qos)){
		ERR("qos must be 0, 1 or 2");
	}else{
		rc = API_CODE_OK;
	}
	bson_destroy(doc);
	if(rc) api_sub_free(out);
	return rc;
}
