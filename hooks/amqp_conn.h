/*
 * One RabbitMQ connection for the forwarder: URL parsing (broker thread, at
 * init, so a bad amqp_uri fails the plugin), then connect, login, confirm
 * mode and topology declaration (forwarder thread). Allocates with libc.
 */
#ifndef HOOKS_AMQP_CONN_H
#define HOOKS_AMQP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

struct ih_config;

#define HOOKS_AMQP_CHANNEL 1

struct hooks_amqp_target {
	char *url;                 /* owned; amqp_parse_url points into it */
	struct amqp_connection_info ci;
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
int hooks_amqp_target_init(struct hooks_amqp_target *t, const struct ih_config *cfg, char *err, size_t errlen);
void hooks_amqp_target_cleanup(struct hooks_amqp_target *t);

/*
 * Forwarder thread. Connect, log in (advertising connection.blocked),
 * open the channel, select confirm mode and, when configured, declare the
 * exchange, queues and bindings. Every step is bounded by timeout_ms.
 * Returns the connection or NULL with a reason in err.
 */
amqp_connection_state_t hooks_amqp_connect(const struct hooks_amqp_target *t, char *err, size_t errlen);
/* Declare exchange, queues and bindings on the open channel. */
int hooks_amqp_declare(amqp_connection_state_t conn, const struct hooks_amqp_target *t, char *err, size_t errlen);
/* Close politely when `graceful`, then free. */
void hooks_amqp_disconnect(amqp_connection_state_t conn, bool graceful);
/* Describe a failed RPC reply. */
void hooks_amqp_reply_string(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen);
int hooks_amqp_fd(amqp_connection_state_t conn);

#endif
