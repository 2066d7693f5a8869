/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * RabbitMQ routing keys for MQTT topics (pure functions, any thread).
 *
 * A topic exchange splits routing keys into dot-separated words and binding
 * keys may use `*` (one word) and `#` (zero or more words). An MQTT topic
 * maps onto words one level each, escaped so that no level can be mistaken
 * for a separator or a wildcard:
 *
 *   '.', '*', '#', '%' and bytes < 0x21  ->  %XX (upper-case hex)
 *   an empty level                      ->  %  (alone: never otherwise)
 *
 * Keys are prefixed by their kind, so device and node keys never collide:
 *   t.<levels>         a published topic               (cluster_key_topic)
 *   t.<prefix>.#       a filter: its literal prefix     (cluster_key_filter)
 *   t.<levels>         a filter without wildcards: exact
 *   c.<client id>      a client id held by a node       (cluster_key_client)
 *   n.<node name>      a node's own queue               (cluster_key_node)
 *
 * A filter binds on its literal prefix (the whole levels before the first
 * wildcard), the same prefix autosub/ indexes on: the exchange delivers a
 * topic to every node holding a filter with that prefix, and the node's
 * index does the exact match. An AMQP short string holds 255 bytes; a key
 * that does not fit is refused (-1) and the caller logs it.
 */
#ifndef IH_CLUSTER_KEY_H
#define IH_CLUSTER_KEY_H

#include <stddef.h>

#define CLUSTER_KEY_MAX 255

/* Each returns the key length (written NUL-terminated into buf, which holds
 * at least CLUSTER_KEY_MAX + 1 bytes), or -1 when the key would not fit or
 * the input cannot be routed (a filter starting with a wildcard). */
int cluster_key_topic(const char *topic, char *buf);
int cluster_key_filter(const char *filter, char *buf);
int cluster_key_client(const char *client_id, char *buf);
int cluster_key_node(const char *node, char *buf);

#endif
