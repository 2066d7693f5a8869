/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Event encoding (events/event_encode.c), BSON and JSON.
 *
 * Input: type, qos/flags and 8+8 bytes of seq/at_ms, then NUL-separated
 *   client id | username | address | conn id | reason | topic | payload (rest)
 * Properties:
 *  - measuring and writing agree, and nothing is written past cap, for an
 *    exact buffer and for every too-small one tried (ASan guards each);
 *  - the BSON body is a valid document (libbson), UTF-8-valid when every
 *    input string is, and carries topic, payload and ids unchanged;
 *  - the JSON body parses (libbson's JSON reader) when the inputs are
 *    valid UTF-8, with the same topic and client id.
 */
#include <bson/bson.h>

#include "registry/username.h"
#include "fuzz/fuzz_common.h"
#include "events/event_encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef size_t (*encoder)(const struct events_event *e, uint8_t *buf, size_t cap);

static uint8_t *encode_exact(encoder enc, const struct events_event *e, size_t *len)
{
	size_t need = enc(e, NULL, 0), again;
	uint8_t *buf = malloc(need ? need : 1);

	if(buf == NULL) abort();
	again = enc(e, buf, need);
	FZ_CHECK(again == need, "measured %zu, wrote %zu", need, again);
	/* Too small: must not write past cap (ASan) and must report the need. */
	for(size_t cap = need > 64 ? need - 64 : 0; cap < need; cap += 1 + cap / 4){
		uint8_t *small = malloc(cap ? cap : 1);
		if(small == NULL) abort();
		FZ_CHECK(enc(e, small, cap) == need, "short buffer changed the size");
		free(small);
	}
	*len = need;
	return buf;
}

static bool utf8_ok(const char *s)
{
	return s == NULL || bson_utf8_validate(s, strlen(s), false);
}

static const char *doc_str(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if(!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return NULL;
	return bson_iter_utf8(&it, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t type = fz_u8(&f), bits = fz_u8(&f);
	struct events_client c;
	struct events_event e;
	char *id, *user, *addr, *conn, *reason, *topic;
	size_t plen = 0, blen, jlen;
	uint8_t *b, *j;
	bool all_utf8;
	bson_t doc;

	memset(&c, 0, sizeof(c));
	memset(&e, 0, sizeof(e));
	e.type = (enum events_type)(type % 4);   /* 0 is not a type: "unknown" */
	e.seq = (int64_t)(((uint64_t)fz_u32(&f) << 32) | fz_u32(&f));
	e.at_ms = (int64_t)(((uint64_t)fz_u32(&f) << 32) | fz_u32(&f));
	id = fz_str(&f);
	user = fz_str(&f);
	addr = fz_str(&f);
	conn = fz_str(&f);
	reason = fz_str(&f);
	topic = fz_str(&f);
	/* What the glue passes: product_len from the username check, or 0. */
	if(registry_username_check(user, 65535, &plen) != NULL) plen = (bits & 8) && strlen(user) ? strlen(user) / 2 : 0;
	c.client_id = id;
	c.username = (bits & 1) ? NULL : user;
	c.product_len = c.username ? plen : 0;
	c.conn_id = conn;
	c.address = (bits & 2) ? NULL : addr;
	c.keepalive = (int)(bits >> 4) * 1000;
	c.proto_ver = 3 + (bits >> 6) % 3;
	c.clean_session = bits & 4;
	e.client = &c;
	e.node = "node-1";
	e.reason = (bits & 16) ? NULL : reason;
	e.topic = topic;
	e.payload = f.p;
	e.payloadlen = (uint32_t)f.n;
	e.qos = bits % 3;
	e.retain = bits & 32;
	events_id_format(e.event_id, (uint64_t)e.seq, (uint64_t)e.at_ms);

	all_utf8 = utf8_ok(id) && utf8_ok(c.username) && utf8_ok(addr) && utf8_ok(conn) && utf8_ok(e.reason) && utf8_ok(topic);

	b = encode_exact(events_encode_bson, &e, &blen);
	FZ_CHECK(bson_init_static(&doc, b, blen), "BSON length header");
	FZ_CHECK(bson_validate(&doc, all_utf8 ? BSON_VALIDATE_UTF8 : BSON_VALIDATE_NONE, NULL), "invalid BSON");
	{
		const char *s = doc_str(&doc, "client_id");
		bson_iter_t it;
		FZ_CHECK(s && !strcmp(s, id), "client_id");
		s = doc_str(&doc, "event_id");
		FZ_CHECK(s && strlen(s) == EVENTS_ID_LEN, "event_id");
		if(e.type == EVENTS_PUBLISH){
			const uint8_t *bin;
			uint32_t binlen;
			bson_subtype_t st;
			s = doc_str(&doc, "topic");
			FZ_CHECK(s && !strcmp(s, topic), "topic");
			FZ_CHECK(bson_iter_init_find(&it, &doc, "payload") && BSON_ITER_HOLDS_BINARY(&it), "payload type");
			bson_iter_binary(&it, &st, &binlen, &bin);
			FZ_CHECK(binlen == e.payloadlen && (binlen == 0 || !memcmp(bin, e.payload, binlen)), "payload bytes");
		}
		if(c.username && c.product_len && c.username[c.product_len] == '/'){
			s = doc_str(&doc, "product_name");
			FZ_CHECK(s && strlen(s) == c.product_len, "product_name");
		}
	}
	j = encode_exact(events_encode_json, &e, &jlen);
	if(all_utf8){
		bson_error_t err;
		bson_t *parsed = bson_new_from_json(j, (ssize_t)jlen, &err);
		FZ_CHECK(parsed != NULL, "JSON does not parse: %s: %.*s", err.message, (int)(jlen > 300 ? 300 : jlen), j);
		FZ_CHECK(doc_str(parsed, "client_id") && !strcmp(doc_str(parsed, "client_id"), id), "JSON client_id");
		if(e.type == EVENTS_PUBLISH){
			FZ_CHECK(doc_str(parsed, "topic") && !strcmp(doc_str(parsed, "topic"), topic), "JSON topic");
		}
		bson_destroy(parsed);
	}
	free(b);
	free(j);
	free(id);
	free(user);
	free(addr);
	free(conn);
	free(reason);
	free(topic);
	return 0;
}
