/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Event encoding: BSON parsed back with libbson, JSON parsed back with
 * libbson's JSON reader, for each event type.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "core/clock.h"
#include "events/event_encode.h"
#include "test/unit/unit_run.h"

static const struct events_client dev = {
	.client_id = "c-1", .username = "p1/d1", .product_len = 2, .conn_id = "conn-42",
	.address = "10.0.0.7", .keepalive = 60, .proto_ver = 5, .clean_session = true,
};

static void base(struct events_event *e, enum events_type t, const struct events_client *c)
{
	memset(e, 0, sizeof(*e));
	e->type = t;
	e->client = c;
	e->seq = 7;
	e->at_ms = 1700000000123LL;
	e->node = "node-a";
	events_id_format(e->event_id, 0x0123456789abcdefULL, 42);
}

static bson_t *encode_bson(const struct events_event *e, uint8_t **buf)
{
	size_t n = events_encode_bson(e, NULL, 0);
	bson_t *b;
	size_t off = 0;

	*buf = malloc(n);
	ck_assert_uint_eq(events_encode_bson(e, *buf, n), n);
	b = bson_new_from_data(*buf, n);
	ck_assert_ptr_nonnull(b);
	ck_assert(bson_validate(b, BSON_VALIDATE_UTF8 | BSON_VALIDATE_EMPTY_KEYS, &off));
	return b;
}

static bson_t *encode_json(const struct events_event *e, char **buf)
{
	size_t n = events_encode_json(e, NULL, 0);
	bson_error_t err;
	bson_t *b;

	*buf = malloc(n + 1);
	ck_assert_uint_eq(events_encode_json(e, (uint8_t *)*buf, n), n);
	(*buf)[n] = '\0';
	b = bson_new_from_json((const uint8_t *)*buf, (ssize_t)n, &err);
	ck_assert_msg(b != NULL, "json parse: %s in %s", err.message, *buf);
	return b;
}

static const char *get_str(const bson_t *b, const char *key)
{
	bson_iter_t it;
	ck_assert_msg(bson_iter_init_find(&it, b, key), "missing %s", key);
	ck_assert_msg(BSON_ITER_HOLDS_UTF8(&it), "%s not a string", key);
	return bson_iter_utf8(&it, NULL);
}

static int64_t get_int(const bson_t *b, const char *key)
{
	bson_iter_t it;
	ck_assert_msg(bson_iter_init_find(&it, b, key), "missing %s", key);
	ck_assert_msg(BSON_ITER_HOLDS_INT(&it), "%s not an integer", key);
	return bson_iter_as_int64(&it);
}

static bool get_bool(const bson_t *b, const char *key)
{
	bson_iter_t it;
	ck_assert_msg(bson_iter_init_find(&it, b, key), "missing %s", key);
	ck_assert(BSON_ITER_HOLDS_BOOL(&it));
	return bson_iter_bool(&it);
}

static bool is_null(const bson_t *b, const char *key)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, b, key) && BSON_ITER_HOLDS_NULL(&it);
}

static void check_common(const bson_t *b, const char *event)
{
	ck_assert_str_eq(get_str(b, "event"), event);
	ck_assert_str_eq(get_str(b, "event_id"), "0123456789abcdef000000000000002a");
	ck_assert_str_eq(get_str(b, "client_id"), "c-1");
	ck_assert_str_eq(get_str(b, "username"), "p1/d1");
	ck_assert_str_eq(get_str(b, "conn_id"), "conn-42");
	ck_assert_int_eq(get_int(b, "seq"), 7);
	ck_assert_str_eq(get_str(b, "node"), "node-a");
	ck_assert_str_eq(get_str(b, "product_name"), "p1");
	ck_assert_str_eq(get_str(b, "device_name"), "d1");
}

static void check_connected(const bson_t *b)
{
	check_common(b, "client.connected");
	ck_assert_int_eq(get_int(b, "keepalive"), 60);
	ck_assert_str_eq(get_str(b, "ipaddress"), "10.0.0.7");
	ck_assert_int_eq(get_int(b, "proto_ver"), 5);
	ck_assert_int_eq(get_int(b, "connected_at"), 1700000000123LL);
	ck_assert_int_eq(get_int(b, "conn_ack"), 0);
	ck_assert(get_bool(b, "clean_session"));
}

START_TEST(bson_connected)
{
	struct events_event e;
	uint8_t *buf;
	bson_t *b;
	bson_iter_t it;

	base(&e, EVENTS_CONNECTED, &dev);
	b = encode_bson(&e, &buf);
	check_connected(b);
	/* connected_at is a 64-bit integer, as the anchor sends it */
	ck_assert(bson_iter_init_find(&it, b, "connected_at") && BSON_ITER_HOLDS_INT64(&it));
	bson_destroy(b);
	free(buf);
}
END_TEST

START_TEST(bson_disconnected)
{
	struct events_event e;
	uint8_t *buf;
	bson_t *b;

	base(&e, EVENTS_DISCONNECTED, &dev);
	e.reason = "keepalive timeout";
	b = encode_bson(&e, &buf);
	check_common(b, "client.disconnected");
	ck_assert_int_eq(get_int(b, "disconnected_at"), 1700000000123LL);
	ck_assert_str_eq(get_str(b, "reason"), "keepalive timeout");
	bson_destroy(b);
	free(buf);
}
END_TEST

START_TEST(bson_publish)
{
	struct events_event e;
	static const uint8_t payload[] = {0, 1, 2, 0xff, 'x', 0};
	uint8_t *buf;
	bson_t *b;
	bson_iter_t it;
	bson_subtype_t st;
	uint32_t len;
	const uint8_t *data;

	base(&e, EVENTS_PUBLISH, &dev);
	e.topic = "upload_data/p1/d1/temp/m1";
	e.payload = payload;
	e.payloadlen = sizeof(payload);
	e.qos = 1;
	e.retain = true;
	b = encode_bson(&e, &buf);
	check_common(b, "message.publish");
	ck_assert_str_eq(get_str(b, "topic"), "upload_data/p1/d1/temp/m1");
	ck_assert_int_eq(get_int(b, "qos"), 1);
	ck_assert(get_bool(b, "retained"));
	ck_assert_int_eq(get_int(b, "ts"), 1700000000123LL);
	ck_assert_int_eq(get_int(b, "published_at"), 1700000000123LL);
	ck_assert(bson_iter_init_find(&it, b, "payload") && BSON_ITER_HOLDS_BINARY(&it));
	bson_iter_binary(&it, &st, &len, &data);
	ck_assert_int_eq(st, BSON_SUBTYPE_BINARY);
	ck_assert_uint_eq(len, sizeof(payload));
	ck_assert_mem_eq(data, payload, sizeof(payload));
	bson_destroy(b);
	free(buf);
}
END_TEST

START_TEST(bson_anonymous)
{
	struct events_client anon = dev;
	struct events_event e;
	uint8_t *buf;
	bson_t *b;

	anon.username = NULL;
	anon.product_len = 0;
	anon.address = NULL;
	base(&e, EVENTS_CONNECTED, &anon);
	b = encode_bson(&e, &buf);
	ck_assert(is_null(b, "username"));
	ck_assert(is_null(b, "product_name"));
	ck_assert(is_null(b, "device_name"));
	ck_assert(is_null(b, "ipaddress"));
	bson_destroy(b);
	free(buf);
}
END_TEST

START_TEST(bson_too_small_buffer_writes_nothing_past_cap)
{
	struct events_event e;
	uint8_t buf[16];
	size_t n;

	base(&e, EVENTS_CONNECTED, &dev);
	memset(buf, 0xAA, sizeof(buf));
	n = events_encode_bson(&e, buf, 8);
	ck_assert_uint_gt(n, 8);
	for(size_t i = 8; i < sizeof(buf); i++) ck_assert_uint_eq(buf[i], 0xAA);
}
END_TEST

START_TEST(json_connected)
{
	struct events_event e;
	char *buf;
	bson_t *b;

	base(&e, EVENTS_CONNECTED, &dev);
	b = encode_json(&e, &buf);
	check_connected(b);
	bson_destroy(b);
	free(buf);
}
END_TEST

START_TEST(json_disconnected_escapes)
{
	struct events_client c = dev;
	struct events_event e;
	char *buf;
	bson_t *b;

	c.client_id = "we\"ird\\id\n";
	base(&e, EVENTS_DISCONNECTED, &c);
	e.reason = "tab\there";
	b = encode_json(&e, &buf);
	ck_assert_str_eq(get_str(b, "client_id"), "we\"ird\\id\n");
	ck_assert_str_eq(get_str(b, "reason"), "tab\there");
	ck_assert_int_eq(get_int(b, "disconnected_at"), 1700000000123LL);
	bson_destroy(b);
	free(buf);
}
END_TEST

START_TEST(json_publish_base64)
{
	static const struct { const char *in; const char *out; } v[] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"hello world!", "aGVsbG8gd29ybGQh"},
	};
	for(size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++){
		struct events_event e;
		char *buf;
		bson_t *b;

		base(&e, EVENTS_PUBLISH, &dev);
		e.topic = "update_status/p1/d1/m";
		e.payload = v[i].in;
		e.payloadlen = (uint32_t)strlen(v[i].in);
		e.qos = 2;
		b = encode_json(&e, &buf);
		check_common(b, "message.publish");
		ck_assert_str_eq(get_str(b, "payload"), v[i].out);
		ck_assert_str_eq(get_str(b, "payload_encoding"), "base64");
		ck_assert_int_eq(get_int(b, "qos"), 2);
		ck_assert(!get_bool(b, "retained"));
		ck_assert_int_eq(get_int(b, "published_at"), 1700000000123LL);
		bson_destroy(b);
		free(buf);
	}
}
END_TEST

/* Connection ids share the hex digits (core/hex.h) and must read exactly
 * as the printf format they replaced: consumers key sessions by them. */
START_TEST(conn_id_format_is_the_printf_one)
{
	static const uint64_t seqs[] = {1, 0xffffffffu, 0x100000000ull, 0x123456789abcull, ~0ull};
	char got[IH_CONN_ID_LEN], want[64];

	ck_assert_int_eq(ih_ids_init(), 0);
	for(size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++){
		ih_conn_id_format(seqs[i], got);
		snprintf(want, sizeof(want), "%.16s%08" PRIx64, got, seqs[i]);
		ck_assert_str_eq(got, want);
		for(int k = 0; k < 16; k++) ck_assert_ptr_nonnull(strchr("0123456789abcdef", got[k]));
	}
}
END_TEST

START_TEST(id_format)
{
	char id[EVENTS_ID_LEN + 1];

	events_id_format(id, 0xffffffffffffffffULL, 1);
	ck_assert_str_eq(id, "ffffffffffffffff0000000000000001");
	events_id_format(id, 0x0123456789abcdefULL, 0xfedcba9876543210ULL);
	ck_assert_str_eq(id, "0123456789abcdeffedcba9876543210");
	for(uint64_t v = 1, i = 0; i < 64; i++, v = v * 6364136223846793005ULL + 1442695040888963407ULL){
		char want[33];
		snprintf(want, sizeof(want), "%016llx%016llx", (unsigned long long)v, (unsigned long long)~v);
		events_id_format(id, v, ~v);
		ck_assert_str_eq(id, want);
	}
	ck_assert_str_eq(events_routing_key(EVENTS_CONNECTED), "client.connected");
	ck_assert_str_eq(events_routing_key(EVENTS_DISCONNECTED), "client.disconnected");
	ck_assert_str_eq(events_routing_key(EVENTS_PUBLISH), "message.publish");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("event_encode");
	TCase *tc = tcase_create("encode");

	tcase_add_test(tc, bson_connected);
	tcase_add_test(tc, bson_disconnected);
	tcase_add_test(tc, bson_publish);
	tcase_add_test(tc, bson_anonymous);
	tcase_add_test(tc, bson_too_small_buffer_writes_nothing_past_cap);
	tcase_add_test(tc, json_connected);
	tcase_add_test(tc, json_disconnected_escapes);
	tcase_add_test(tc, json_publish_base64);
	tcase_add_test(tc, id_format);
	tcase_add_test(tc, conn_id_format_is_the_printf_one);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
