/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Stand-ins for the broker functions the plugin calls, so unit tests can run
 * plugin code outside mosquitto. Tests build fake clients with
 * stub_client_new() and inspect what the code logged, published or kicked.
 */
#ifndef IH_TEST_BROKER_STUBS_H
#define IH_TEST_BROKER_STUBS_H

#include <stdbool.h>
#include <stddef.h>

struct mosquitto;

struct mosquitto *stub_client_new(const char *client_id, const char *username, const char *address,
		int protocol_version, bool clean_session);
void stub_client_free(struct mosquitto *client);
void stub_client_set_id(struct mosquitto *client, const char *client_id);

/* Log lines (most recent STUB_LOG_MAX kept). */
#define STUB_LOG_MAX 256
bool stub_log_contains(const char *needle);
int stub_log_count(const char *needle);
void stub_log_clear(void);
void stub_log_echo(bool on);   /* also print lines to stderr */

/* mosquitto_broker_publish(_copy) calls, most recent STUB_PUB_MAX kept. */
#define STUB_PUB_MAX 1024
struct stub_publish {
	char *clientid;   /* NULL = to all subscribers */
	char *topic;
	void *payload;
	int payloadlen;
	int qos;
	bool retain;
};
size_t stub_publish_count(void);
const struct stub_publish *stub_publish_get(size_t i);
void stub_publish_clear(void);

/* mosquitto_kick_client_by_* calls. */
size_t stub_kick_count(void);
const char *stub_kick_get(size_t i);   /* "id:<clientid>" or "user:<username>" */
void stub_kick_clear(void);

/* Play the broker: call the callback the plugin registered for `event`
 * (the last one), as the broker would. MOSQ_ERR_NOT_SUPPORTED when none. */
int stub_callback_fire(int event, void *event_data);

/* Allocation accounting: live blocks from mosquitto_malloc & co. */
long stub_mem_live_blocks(void);

#endif
