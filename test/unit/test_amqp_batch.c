/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The hand-encoded basic.publish batches: every frame decodes with
 * rabbitmq-c's own decoders to what the forwarder asked for (small bodies
 * copied, large ones sent from where they lie, bodies over frame_max split);
 * the batch fills up and asks for a send; sendmsg survives partial writes
 * and a full socket buffer, and gives up at its deadline.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "events/amqp_batch.h"
#include "core/clock.h"
#include "test/unit/unit_run.h"

#define CHANNEL 1
#define ID "0123456789abcdef0123456789abcdef"

static const struct events_amqp_kind_def kind_publish = {
	"iothub.events", "message.publish", "application/bson", "message.publish", "mosquitto-iothub", 32,
};

static struct events_amqp_batch *new_batch(uint32_t frame_max)
{
	struct events_amqp_batch *b = malloc(sizeof(*b));

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(events_amqp_batch_init(b, CHANNEL), 0);
	ck_assert_int_eq(events_amqp_batch_kind(b, 3, &kind_publish), 0);
	events_amqp_batch_reset(b, frame_max);
	return b;
}

static void free_batch(struct events_amqp_batch *b)
{
	events_amqp_batch_cleanup(b);
	free(b);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One frame at *at: checks framing, returns its type and payload. */
static uint8_t next_frame(const uint8_t *buf, size_t len, size_t *at, amqp_bytes_t *payload)
{
	const uint8_t *p = buf + *at;
	uint32_t size;

	ck_assert_uint_ge(len - *at, 8);
	ck_assert_uint_eq((uint32_t)p[1] << 8 | p[2], CHANNEL);
	size = be32(p + 3);
	ck_assert_uint_ge(len - *at - 8, size);
	ck_assert_uint_eq(p[7 + size], AMQP_FRAME_END);
	payload->bytes = (void *)(p + 7);
	payload->len = size;
	*at += 8 + size;
	return p[0];
}

/* Decode one message (method, header, bodies) and check it against what was added. */
static void check_message(const uint8_t *buf, size_t len, size_t *at, uint32_t frame_max, const char *id,
		uint64_t ts, const uint8_t *body, uint32_t body_len)
{
	amqp_pool_t pool;
	amqp_bytes_t pl;
	void *dec = NULL;
	amqp_basic_publish_t *m;
	amqp_basic_properties_t *p;
	uint64_t got = 0;
	const uint8_t *h;

	init_amqp_pool(&pool, 4096);
	ck_assert_uint_eq(next_frame(buf, len, at, &pl), AMQP_FRAME_METHOD);
	ck_assert_uint_eq(be32(pl.bytes), AMQP_BASIC_PUBLISH_METHOD);
	ck_assert_int_eq(amqp_decode_method(AMQP_BASIC_PUBLISH_METHOD, &pool,
			(amqp_bytes_t){pl.len - 4, (uint8_t *)pl.bytes + 4}, &dec), 0);
	m = dec;
	ck_assert_int_eq(m->mandatory, 1);
	ck_assert_int_eq(m->immediate, 0);
	ck_assert_int_eq((int)m->exchange.len, 13);
	ck_assert_int_eq(memcmp(m->exchange.bytes, "iothub.events", 13), 0);
	ck_assert_int_eq(memcmp(m->routing_key.bytes, "message.publish", m->routing_key.len), 0);

	ck_assert_uint_eq(next_frame(buf, len, at, &pl), AMQP_FRAME_HEADER);
	h = pl.bytes;
	ck_assert_uint_eq((uint32_t)h[0] << 8 | h[1], AMQP_BASIC_CLASS);
	ck_assert_uint_eq(((uint64_t)be32(h + 4) << 32) | be32(h + 8), body_len);
	ck_assert_int_eq(amqp_decode_properties(AMQP_BASIC_CLASS, &pool, (amqp_bytes_t){pl.len - 12, (uint8_t *)h + 12},
			&dec), 0);
	p = dec;
	ck_assert_uint_eq(p->_flags, AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG
			| AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG);
	ck_assert_int_eq(memcmp(p->content_type.bytes, "application/bson", p->content_type.len), 0);
	ck_assert_uint_eq(p->delivery_mode, AMQP_DELIVERY_PERSISTENT);
	ck_assert_uint_eq(p->message_id.len, 32);
	ck_assert_int_eq(memcmp(p->message_id.bytes, id, 32), 0);
	ck_assert_uint_eq(p->timestamp, ts);
	ck_assert_int_eq(memcmp(p->type.bytes, "message.publish", p->type.len), 0);
	ck_assert_uint_eq(p->app_id.len, 16);
	ck_assert_int_eq(memcmp(p->app_id.bytes, "mosquitto-iothub", 16), 0);

	while(got < body_len){
		ck_assert_uint_eq(next_frame(buf, len, at, &pl), AMQP_FRAME_BODY);
		ck_assert_uint_le(pl.len + 8, frame_max);
		ck_assert_int_eq(memcmp(pl.bytes, body + got, pl.len), 0);
		got += pl.len;
	}
	ck_assert_uint_eq(got, body_len);
	empty_amqp_pool(&pool);
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	for(size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + seed);
	return p;
}

START_TEST(frames_decode_with_rabbitmq_c)
{
	struct events_amqp_batch *b = new_batch(4096);
	/* empty, copied, sent in place, and split over several frames */
	uint32_t lens[4] = {0, 200, 3000, 20000};
	uint8_t *bodies[4], *out;
	size_t total, at = 0;

	for(int i = 0; i < 4; i++){
		bodies[i] = pattern(lens[i], (unsigned)i);
		ck_assert_int_eq(events_amqp_batch_add(b, 3, ID, 1700000000u + (uint64_t)i, bodies[i], lens[i]), 0);
	}
	ck_assert_uint_eq(b->count, 4);
	total = events_amqp_batch_copy(b, NULL, 0);
	ck_assert_uint_eq(total, b->bytes);
	out = malloc(total);
	ck_assert_uint_eq(events_amqp_batch_copy(b, out, total), total);
	for(int i = 0; i < 4; i++){
		check_message(out, total, &at, 4096, ID, 1700000000u + (uint64_t)i, bodies[i], lens[i]);
		free(bodies[i]);
	}
	ck_assert_uint_eq(at, total);
	free(out);
	free_batch(b);
}
END_TEST

START_TEST(full_batch_asks_for_a_send)
{
	struct events_amqp_batch *b = new_batch(131072);
	uint8_t body[1000] = {0};
	int n = 0, rc;

	while((rc = events_amqp_batch_add(b, 3, ID, 1, body, sizeof(body))) == 0) n++;
	ck_assert_int_eq(rc, 1);
	ck_assert_int_gt(n, 40);
	ck_assert_uint_le(b->used, EVENTS_AMQP_BATCH_ARENA);
	/* an unset kind, or a body of more frames than a batch holds: another way */
	ck_assert_int_eq(events_amqp_batch_add(b, 5, ID, 1, body, 10), -1);
	events_amqp_batch_reset(b, 4096);
	ck_assert_int_eq(events_amqp_batch_add(b, 3, ID, 1, body, 4088u * EVENTS_AMQP_BATCH_IOV), -1);
	free_batch(b);
}
END_TEST

struct reader {
	int fd;
	size_t want;
	uint8_t *buf;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	size_t got = 0;

	while(got < r->want){
		ssize_t n;
		usleep(200); /* slower than the writer: its buffer fills */
		n = read(r->fd, r->buf + got, r->want - got > 1500 ? 1500 : r->want - got);
		if(n <= 0) break;
		got += (size_t)n;
	}
	r->want = got;
	return NULL;
}

START_TEST(send_survives_partial_writes)
{
	struct events_amqp_batch *b = new_batch(131072);
	int sv[2], small = 4096;
	uint8_t *body = pattern(100000, 7), *expect;
	struct reader r;
	pthread_t t;
	size_t total, at = 0;
	char err[128];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	for(int i = 0; i < 3; i++) ck_assert_int_eq(events_amqp_batch_add(b, 3, ID, 5, body, 100000 - 400u * i), 0);
	total = b->bytes;
	expect = malloc(total);
	events_amqp_batch_copy(b, expect, total);
	r.fd = sv[1];
	r.want = total;
	r.buf = malloc(total);
	ck_assert_int_eq(pthread_create(&t, NULL, read_all, &r), 0);
	ck_assert_int_eq(events_amqp_batch_send(b, sv[0], 10000, false, err, sizeof(err)), 0);
	pthread_join(t, NULL);
	ck_assert_uint_eq(r.want, total);
	ck_assert_int_eq(memcmp(r.buf, expect, total), 0);
	for(int i = 0; i < 3; i++) check_message(r.buf, total, &at, 131072, ID, 5, body, 100000 - 400u * i);
	ck_assert_uint_eq(b->count, 0);
	ck_assert_uint_eq(b->bytes, 0);
	free(r.buf);
	free(expect);
	free(body);
	close(sv[0]);
	close(sv[1]);
	free_batch(b);
}
END_TEST

/* A reader that keeps up, slowly: drains whatever is there every 25 ms. */
struct slow_reader {
	int fd;
	size_t want, got;
};

static void *slow_read(void *arg)
{
	struct slow_reader *r = arg;
	static uint8_t sink[1 << 16];

	while(r->got < r->want){
		ssize_t n;

		usleep(25000);
		while((n = recv(r->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0) r->got += (size_t)n;
		if(n == 0) break;
	}
	return NULL;
}

/* The timeout is for a stall, not for the batch: a link that keeps moving
 * gets the whole batch out even when that takes longer than the timeout
 * (a batch can be megabytes; timing it as a whole replayed it forever). */
START_TEST(send_outlasts_the_timeout_while_moving)
{
	struct events_amqp_batch *b = new_batch(131072);
	struct slow_reader r = {0, 0, 0};
	pthread_t t;
	int sv[2];
	uint8_t *body = pattern(60000, 2);
	char err[128] = "";

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	for(int i = 0; i < 16; i++) ck_assert_int_eq(events_amqp_batch_add(b, 3, ID, 5, body, 60000), 0);
	r.fd = sv[1];
	r.want = b->bytes;
	ck_assert_int_eq(pthread_create(&t, NULL, slow_read, &r), 0);
	ck_assert_msg(events_amqp_batch_send(b, sv[0], 60, false, err, sizeof(err)) == 0, "%s", err);
	pthread_join(t, NULL);
	ck_assert_uint_eq(r.got, r.want);
	free(body);
	close(sv[0]);
	close(sv[1]);
	free_batch(b);
}
END_TEST

START_TEST(send_gives_up_after_a_stall)
{
	struct events_amqp_batch *b = new_batch(131072);
	int sv[2], small = 4096;
	uint8_t *body = pattern(60000, 1);
	char err[128] = "";
	int64_t t0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	for(int i = 0; i < 8; i++) ck_assert_int_eq(events_amqp_batch_add(b, 3, ID, 5, body, 60000), 0);
	t0 = ih_mono_ms();
	/* nobody reads */
	ck_assert_int_eq(events_amqp_batch_send(b, sv[0], 150, false, err, sizeof(err)), -1);
	ck_assert_int_ge(ih_mono_ms() - t0, 140);
	ck_assert_ptr_nonnull(strstr(err, "timed out"));
	/* and a closed peer is an error, not a hang */
	close(sv[1]);
	ck_assert_int_eq(events_amqp_batch_add(b, 3, ID, 5, body, 100), 0);
	ck_assert_int_eq(events_amqp_batch_send(b, sv[0], 5000, false, err, sizeof(err)), -1);
	free(body);
	close(sv[0]);
	free_batch(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("amqp_batch");
	TCase *tc = tcase_create("batch");

	tcase_add_test(tc, frames_decode_with_rabbitmq_c);
	tcase_add_test(tc, full_batch_asks_for_a_send);
	tcase_add_test(tc, send_survives_partial_writes);
	tcase_add_test(tc, send_outlasts_the_timeout_while_moving);
	tcase_add_test(tc, send_gives_up_after_a_stall);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
