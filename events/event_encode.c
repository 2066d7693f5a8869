/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Event encoding. One list of fields (emit_fields) drives two writers, BSON
 * and JSON, so both formats always carry the same names.
 */
#include <stdint.h>
#include <string.h>

#include "core/hex.h"
#include "events/event_encode.h"

struct enc {
	uint8_t *buf;
	size_t cap;
	size_t len;     /* bytes needed so far; only written while len <= cap */
	bool json;
	bool first;     /* JSON: no comma before the first member */
};

static const char hexdig[] = "0123456789abcdef";

const char *events_routing_key(enum events_type type)
{
	switch(type){
		case EVENTS_CONNECTED: return "client.connected";
		case EVENTS_DISCONNECTED: return "client.disconnected";
		case EVENTS_PUBLISH: return "message.publish";
	}
	return "unknown";
}

void events_id_format_lo(char out[EVENTS_ID_LEN / 2], uint64_t lo)
{
	ih_hex16(out, lo);
}

void events_id_format(char out[EVENTS_ID_LEN + 1], uint64_t hi, uint64_t lo)
{
	events_id_format_lo(out, hi);
	events_id_format_lo(out + EVENTS_ID_LEN / 2, lo);
	out[EVENTS_ID_LEN] = '\0';
}

/* The writers below are forced inline: emit_fields then sees every key
 * length as a constant, so key copies become plain stores instead of
 * memcpy calls (about a third of the encoding cost otherwise). */
#define ENC_INLINE static inline __attribute__((always_inline))

ENC_INLINE void put(struct enc *w, const void *p, size_t n)
{
	if(w->len + n <= w->cap) memcpy(w->buf + w->len, p, n);
	w->len += n;
}

ENC_INLINE void put1(struct enc *w, uint8_t c)
{
	if(w->len < w->cap) w->buf[w->len] = c;
	w->len++;
}

/* BSON integers are little-endian; so is every host we build for. */
ENC_INLINE void put_le32(struct enc *w, int32_t v)
{
	put(w, &v, 4);
}

ENC_INLINE void put_le64(struct enc *w, int64_t v)
{
	put(w, &v, 8);
}

static void patch_le32(struct enc *w, size_t at, int32_t v)
{
	if(at + 4 <= w->cap && w->len <= w->cap) memcpy(w->buf + at, &v, 4);
}

/* ---- JSON primitives ---- */

static void json_str(struct enc *w, const char *s, size_t n)
{
	put1(w, '"');
	for(size_t i = 0; i < n; i++){
		unsigned char c = (unsigned char)s[i];
		if(c == '"' || c == '\\'){
			put1(w, '\\');
			put1(w, c);
		}else if(c < 0x20){
			char esc[6] = {'\\', 'u', '0', '0', hexdig[c >> 4], hexdig[c & 0xf]};
			put(w, esc, sizeof(esc));
		}else{
			put1(w, c);
		}
	}
	put1(w, '"');
}

static void json_i64(struct enc *w, int64_t v)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do{
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	}while(u);
	if(v < 0) put1(w, '-');
	while(n) put1(w, (uint8_t)tmp[--n]);
}

/* Keys are string literals: KEY() passes their length, so no strlen per field. */
#define KEY(s) s, sizeof(s) - 1

ENC_INLINE void json_key(struct enc *w, const char *key, size_t klen)
{
	if(!w->first) put1(w, ',');
	w->first = false;
	put1(w, '"');
	put(w, key, klen); /* our keys need no escaping */
	put1(w, '"');
	put1(w, ':');
}

static void json_base64(struct enc *w, const uint8_t *p, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i = 0;

	put1(w, '"');
	for(; i + 3 <= n; i += 3){
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char o[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63]};
		put(w, o, 4);
	}
	if(n - i == 1){
		uint32_t v = (uint32_t)p[i] << 16;
		char o[4] = {b64[v >> 18], b64[(v >> 12) & 63], '=', '='};
		put(w, o, 4);
	}else if(n - i == 2){
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char o[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], '='};
		put(w, o, 4);
	}
	put1(w, '"');
}

/* ---- typed fields, both formats ---- */

ENC_INLINE void bson_key(struct enc *w, uint8_t type, const char *key, size_t klen)
{
	put1(w, type);
	put(w, key, klen + 1); /* with its terminator */
}

ENC_INLINE void f_strn(struct enc *w, const char *key, size_t klen, const char *v, size_t n)
{
	if(w->json){
		json_key(w, key, klen);
		if(v) json_str(w, v, n);
		else put(w, "null", 4);
		return;
	}
	if(v == NULL){
		bson_key(w, 0x0A, key, klen);
		return;
	}
	bson_key(w, 0x02, key, klen);
	put_le32(w, (int32_t)(n + 1));
	put(w, v, n);
	put1(w, 0);
}

ENC_INLINE void f_str(struct enc *w, const char *key, size_t klen, const char *v)
{
	f_strn(w, key, klen, v, v ? strlen(v) : 0);
}

ENC_INLINE void f_i32(struct enc *w, const char *key, size_t klen, int32_t v)
{
	if(w->json){
		json_key(w, key, klen);
		json_i64(w, v);
		return;
	}
	bson_key(w, 0x10, key, klen);
	put_le32(w, v);
}

ENC_INLINE void f_i64(struct enc *w, const char *key, size_t klen, int64_t v)
{
	if(w->json){
		json_key(w, key, klen);
		json_i64(w, v);
		return;
	}
	bson_key(w, 0x12, key, klen);
	put_le64(w, v);
}

ENC_INLINE void f_bool(struct enc *w, const char *key, size_t klen, bool v)
{
	if(w->json){
		json_key(w, key, klen);
		if(v) put(w, "true", 4);
		else put(w, "false", 5);
		return;
	}
	bson_key(w, 0x08, key, klen);
	put1(w, v ? 1 : 0);
}

/* BSON binary subtype 0, which the IotHub consumer reads; base64 in JSON. */
ENC_INLINE void f_bin(struct enc *w, const char *key, size_t klen, const void *p, uint32_t n)
{
	if(w->json){
		json_key(w, key, klen);
		json_base64(w, p, n);
		json_key(w, KEY("payload_encoding"));
		json_str(w, "base64", 6);
		return;
	}
	bson_key(w, 0x05, key, klen);
	put_le32(w, (int32_t)n);
	put1(w, 0x00);
	put(w, p, n);
}

ENC_INLINE void emit_fields(struct enc *w, const struct events_event *e)
{
	const struct events_client *c = e->client;
	const char *user = c->username;
	bool split = user && c->product_len > 0 && user[c->product_len] == '/';

	f_str(w, KEY("event"), events_routing_key(e->type));
	f_strn(w, KEY("event_id"), e->event_id, EVENTS_ID_LEN);
	f_str(w, KEY("client_id"), c->client_id);
	f_str(w, KEY("username"), user);
	switch(e->type){
		case EVENTS_CONNECTED:
			f_i32(w, KEY("keepalive"), c->keepalive);
			f_str(w, KEY("ipaddress"), c->address);
			f_i32(w, KEY("proto_ver"), c->proto_ver);
			f_i64(w, KEY("connected_at"), e->at_ms);
			f_i32(w, KEY("conn_ack"), 0);
			f_bool(w, KEY("clean_session"), c->clean_session);
			break;
		case EVENTS_DISCONNECTED:
			f_i64(w, KEY("disconnected_at"), e->at_ms);
			f_str(w, KEY("reason"), e->reason ? e->reason : "unknown");
			break;
		case EVENTS_PUBLISH:
			f_str(w, KEY("topic"), e->topic);
			f_i32(w, KEY("qos"), e->qos);
			f_bool(w, KEY("retained"), e->retain);
			f_bin(w, KEY("payload"), e->payload, e->payloadlen);
			f_i64(w, KEY("ts"), e->at_ms);
			f_i64(w, KEY("published_at"), e->at_ms);
			break;
	}
	f_str(w, KEY("conn_id"), c->conn_id);
	f_i64(w, KEY("seq"), e->seq);
	f_str(w, KEY("node"), e->node);
	f_strn(w, KEY("product_name"), split ? user : NULL, split ? c->product_len : 0);
	f_str(w, KEY("device_name"), split ? user + c->product_len + 1 : NULL);
}

size_t events_encode_bson(const struct events_event *e, uint8_t *buf, size_t cap)
{
	struct enc w = {buf, cap, 0, false, true};

	put_le32(&w, 0); /* length, patched below */
	emit_fields(&w, e);
	put1(&w, 0);
	patch_le32(&w, 0, (int32_t)w.len);
	return w.len;
}

size_t events_encode_json(const struct events_event *e, uint8_t *buf, size_t cap)
{
	struct enc w = {buf, cap, 0, true, true};

	put1(&w, '{');
	emit_fields(&w, e);
	put1(&w, '}');
	return w.len;
}
