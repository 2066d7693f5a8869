/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * One RabbitMQ connection for the forwarder: URL parsing (broker thread, at
 * init, so a bad amqp_uri fails the plugin), then connect, login, confirm
 * mode and topology declaration (forwarder thread). Allocates with libc.
 */
#ifndef IH_EVENTS_AMQP_CONN_H
#define IH_EVENTS_AMQP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

struct ih_config;

#define EVENTS_AMQP_CHANNEL 1

/* Most comma-separated URIs amqp_uri may list (the nodes of a RabbitMQ cluster). */
#define EVENTS_AMQP_MAX_URIS 16

struct events_amqp_target {
	char *url;                 /* owned copy of amqp_uri, split in place; amqp_parse_url points into it */
	struct amqp_connection_info cis[EVENTS_AMQP_MAX_URIS];
	size_t n_uris;
	size_t cur;                /* the URI the last successful connect used */
	struct amqp_connection_info ci; /* = cis[cur]: the node in use, for log lines */
	char *cacert, *cert, *key; /* NULL when not configured */
	bool verify;
	int heartbeat_s;
	uint32_t timeout_ms;
	bool declare;
	bool quorum;
	char *exchange;
	char *queue[3];            /* connected, disconnected, publish */
	char *conn_name;           /* shown in the management UI */
};

/* Broker thread. 0, or -1 with a reason in err. */
int events_amqp_target_init(struct events_amqp_target *t, const struct ih_config *cfg, char *err, size_t errlen);
void events_amqp_target_cleanup(struct events_amqp_target *t);

/*
 * Forwarder thread. Try every URI once, starting with the one that worked
 * last (failover between the nodes of a RabbitMQ cluster); for each:
 * connect, log in (advertising connection.blocked),
 * open the channel, select confirm mode and, when configured, declare the
 * exchange, queues and bindings. Every step is bounded by timeout_ms.
 * Returns the connection or NULL with a reason in err.
 */
amqp_connection_state_t events_amqp_connect(struct events_amqp_target *t, char *err, size_t errlen);
/* The same on a given channel, without the events topology (cluster/ uses
 * its own channel and declares its own exchanges). */
amqp_connection_state_t events_amqp_connect_channel(struct events_amqp_target *t, amqp_channel_t channel,
		bool declare_events, const char *info, char *err, size_t errlen);
/* Declare exchange, queues and bindings on the open channel. */
int events_amqp_declare(amqp_connection_state_t conn, const struct events_amqp_target *t, char *err, size_t errlen);
/* Close politely when `graceful`, then free. */
void events_amqp_disconnect(amqp_connection_state_t conn, bool graceful);
/* Describe a failed RPC reply. */
void events_amqp_reply_string(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen);
int events_amqp_fd(amqp_connection_state_t conn);
/* A channel.close or connection.close frame from the server: describe it
 * in err (answering connection.close with close-ok) and return -1; any
 * other frame: 0. */
int events_amqp_server_close(amqp_connection_state_t conn, const amqp_frame_t *fr, char *err, size_t errlen);
/* A UTF-8 field table entry pointing at key and v (not copied). */
amqp_table_entry_t events_amqp_str_entry(const char *key, const char *v);

#endif
