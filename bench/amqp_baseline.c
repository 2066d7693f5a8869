/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Baseline for the forwarder benchmark: a plain rabbitmq-c publisher in
 * confirm mode, same exchange, routing key, properties, window and body as
 * the forwarder (the body is one event encoded by the plugin's own
 * encoder), no spool. Prints {"events_per_s": ...}.
 *
 *   amqp_baseline HOST PORT COUNT WINDOW PAYLOAD_BYTES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include "events/event_encode.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_reply(amqp_rpc_reply_t r, const char *what)
{
	if(r.reply_type == AMQP_RESPONSE_NORMAL) return;
	fprintf(stderr, "amqp_baseline: %s failed (%d)\n", what, r.reply_type);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *host;
	int port;
	long count, window, payload_size;
	amqp_connection_state_t conn;
	amqp_socket_t *sock;
	struct events_event e;
	struct events_client c = {"drv", "p1/d1", 2, "drv-conn-1", "127.0.0.1", 60, 4, true};
	uint8_t *body;
	char *payload;
	size_t len;
	long sent = 0, acked = 0;
	uint64_t next_tag = 0;
	double t0, t1;

	if(argc != 6){
		fprintf(stderr, "usage: amqp_baseline HOST PORT COUNT WINDOW PAYLOAD_BYTES\n");
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	count = atol(argv[3]);
	window = atol(argv[4]);
	payload_size = atol(argv[5]);

	payload = calloc(1, (size_t)payload_size + 1);
	memset(payload, ' ', (size_t)payload_size);
	memset(&e, 0, sizeof(e));
	e.type = EVENTS_PUBLISH;
	e.client = &c;
	e.seq = 1;
	e.at_ms = 1700000000000LL;
	e.node = "bench";
	e.topic = "upload_data/p1/d1/temp/m1";
	e.payload = payload;
	e.payloadlen = (uint32_t)payload_size;
	e.qos = 1;
	events_id_format(e.event_id, 1, 1);
	len = events_encode_bson(&e, NULL, 0);
	body = malloc(len);
	events_encode_bson(&e, body, len);

	conn = amqp_new_connection();
	sock = amqp_tcp_socket_new(conn);
	if(amqp_socket_open(sock, host, port)){
		fprintf(stderr, "amqp_baseline: cannot connect\n");
		return 1;
	}
	die_reply(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
	amqp_channel_open(conn, 1);
	die_reply(amqp_get_rpc_reply(conn), "channel.open");
	amqp_confirm_select(conn, 1);
	die_reply(amqp_get_rpc_reply(conn), "confirm.select");
	amqp_exchange_declare(conn, 1, amqp_cstring_bytes("mqtt.events"), amqp_cstring_bytes("direct"), 0, 1, 0, 0,
			amqp_empty_table);
	die_reply(amqp_get_rpc_reply(conn), "exchange.declare");
	amqp_queue_declare(conn, 1, amqp_cstring_bytes("iothub_message_publish"), 0, 1, 0, 0, amqp_empty_table);
	die_reply(amqp_get_rpc_reply(conn), "queue.declare");
	amqp_queue_bind(conn, 1, amqp_cstring_bytes("iothub_message_publish"), amqp_cstring_bytes("mqtt.events"),
			amqp_cstring_bytes("message.publish"), amqp_empty_table);
	die_reply(amqp_get_rpc_reply(conn), "queue.bind");

	t0 = now_s();
	while(acked < count){
		while(sent < count && sent - acked < window){
			amqp_basic_properties_t p;
			char id[EVENTS_ID_LEN + 1];
			events_id_format(id, 2, (uint64_t)sent);
			memset(&p, 0, sizeof(p));
			p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG
				| AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG;
			p.content_type = amqp_cstring_bytes("application/bson");
			p.delivery_mode = 2;
			p.message_id.bytes = id;
			p.message_id.len = EVENTS_ID_LEN;
			p.timestamp = 1700000000;
			p.type = amqp_cstring_bytes("message.publish");
			p.app_id = amqp_cstring_bytes("mosquitto-iothub");
			if(amqp_basic_publish(conn, 1, amqp_cstring_bytes("mqtt.events"), amqp_cstring_bytes("message.publish"),
					1, 0, &p, (amqp_bytes_t){len, body}) != AMQP_STATUS_OK){
				fprintf(stderr, "amqp_baseline: publish failed\n");
				return 1;
			}
			sent++;
		}
		for(;;){
			amqp_frame_t f;
			struct timeval tv = {0, sent - acked >= window ? 100000 : 0};
			int rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
			if(rc == AMQP_STATUS_TIMEOUT) break;
			if(rc != AMQP_STATUS_OK){
				fprintf(stderr, "amqp_baseline: read failed: %s\n", amqp_error_string2(rc));
				return 1;
			}
			if(f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_ACK_METHOD){
				amqp_basic_ack_t *a = f.payload.method.decoded;
				uint64_t upto = a->delivery_tag;
				if(a->multiple){
					acked += (long)(upto - next_tag);
					next_tag = upto;
				}else{
					acked++;
					if(upto > next_tag) next_tag = upto;
				}
			}
			tv.tv_usec = 0;
		}
		amqp_maybe_release_buffers(conn);
	}
	t1 = now_s();
	printf("{\"events_per_s\":%.0f,\"count\":%ld,\"window\":%ld,\"body_bytes\":%zu,\"seconds\":%.3f}\n",
			(double)count / (t1 - t0), count, window, len, t1 - t0);
	amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
	free(body);
	free(payload);
	return 0;
}
