/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Event bodies: BSON with the field names the IotHub server's consumer
 * reads (emqx_rabbitmq_hook compatible), or JSON with the same names.
 *
 * The encoder writes straight into the destination (the mapped spool) with
 * no allocation: call it once with cap 0 to learn the size, reserve that
 * much, then call it again to write. It is a small hand-written BSON writer
 * rather than libbson because libbson's bson_t allocates as it grows and
 * would need a second copy into the spool; the unit tests check the output
 * with libbson's parser and validator.
 */
#ifndef IH_EVENTS_EVENT_ENCODE_H
#define IH_EVENTS_EVENT_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/events.h"

enum events_type {
	EVENTS_CONNECTED = 1,
	EVENTS_DISCONNECTED = 2,
	EVENTS_PUBLISH = 3,
};

#define EVENTS_ID_LEN 32  /* hex characters, no terminator */

struct events_event {
	enum events_type type;
	const struct events_client *client;
	int64_t seq;
	int64_t at_ms;
	char event_id[EVENTS_ID_LEN + 1];
	const char *node;
	const char *reason;             /* disconnected */
	const char *topic;              /* publish */
	const void *payload;
	uint32_t payloadlen;
	int qos;
	bool retain;
};

/* The AMQP routing key, also the `event` field: "client.connected", ... */
const char *events_routing_key(enum events_type type);

/* The event id: 16 hex digits of the boot id, 16 of the counter. */
void events_id_format(char out[EVENTS_ID_LEN + 1], uint64_t hi, uint64_t lo);
/* One half of it: 16 hex digits of v, no terminator. The boot id half is
 * the same for every event of a process, so the writer formats it once. */
void events_id_format_lo(char out[EVENTS_ID_LEN / 2], uint64_t v);

/* Encode `e`; returns the size it needs. Writes only when cap >= that size. */
size_t events_encode_bson(const struct events_event *e, uint8_t *buf, size_t cap);
size_t events_encode_json(const struct events_event *e, uint8_t *buf, size_t cap);

#endif
