/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Connections this plugin accepted, keyed by the broker's `struct mosquitto *`.
 *
 * Why the pointer and not the client id: when a client resumes a persistent
 * session, the broker fires DISCONNECT for the *old* context after the new
 * one authenticated, with the same client id (docs/MOSQUITTO.md §3). Keyed by
 * pointer, the old and the new connection are distinct entries and the late
 * DISCONNECT can never mark the new one offline.
 *
 * Lifecycle of an entry:
 *   BASIC_AUTH accepted      -> ONLINE  (conn_table_add)
 *   DISCONNECT, clean session -> freed
 *   DISCONNECT, persistent    -> OFFLINE (kept: the broker still queues
 *                                messages for the session and asks us the
 *                                READ ACL for them)
 *   DISCONNECT while OFFLINE  -> freed (the session was resumed or taken
 *                                over by a newer connection)
 * A context the broker frees without telling us (session expiry, or MQTT 5
 * clean start false with no session expiry) leaves a stale OFFLINE entry;
 * conn_table_find() rejects it by comparing client ids, and the next
 * BASIC_AUTH at the same address replaces it (releasing the auto-
 * subscriptions it still owns: session.c) or the next connect with its
 * client id retires it.
 */
#ifndef IH_PLUGIN_CONN_H
#define IH_PLUGIN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/strmap.h"

struct mosquitto;
struct ih_device;
struct acl_rules;
struct acl_cache;
struct autosub_filter;

enum ih_conn_state { IH_CONN_ONLINE = 0, IH_CONN_OFFLINE = 1 };

/*
 * One per connected device (and per offline persistent session), so every
 * byte counts times the fleet: pointers first, then the narrow fields, so
 * there is no padding; nothing that can be derived is stored (the
 * connection id is a counter, formatted on demand: core/clock.h; fields
 * almost every connection leaves empty, like the HTTP API's subscriptions,
 * cost a pointer, the flags a bit each). 176 bytes plus the three strings,
 * in one block.
 */
struct ih_conn {
	struct mosquitto *client;      /* key; the broker owns the context */
	struct ih_conn *next_by_ptr;   /* pointer-table chain */
	struct ih_conn *next_by_user;  /* same-username list */
	struct ih_conn *prev_by_user;
	/* Intrusive nodes of the client-id and username views: only the newest
	 * entry of a client id, and the head of a username's list, are in
	 * those maps, keyed by their own client_id / username. */
	struct ih_strmap_node id_node;
	struct ih_strmap_node user_node;
	/* The three strings live in the entry's own allocation, after it
	 * (plugin/session.c conn_new): one block per connection, not four.
	 * The username is usually the record's copy instead (dev holds the
	 * same name; session.c conn_new). The address, read only for events,
	 * follows the last of the other two: ih_conn_address. */
	char *client_id;               /* copy */
	char *username;                /* copy (own_username), else dev's; NULL for anonymous */
	struct ih_device *dev;         /* reference; NULL for anonymous */
	struct acl_rules *rules;       /* owned, compiled for this connection */
	struct acl_cache *acl_cache;   /* owned; NULL until the first ACL check */
	struct autosub_filter *api_subs; /* owned: server-side subscriptions made
	                                  * through the HTTP API (plugin/api_glue.c),
	                                  * bound with the templates' set */
	const char *kick_reason;       /* set when we asked the broker to kick it */
	int64_t connected_ms;
	uint64_t conn_seq;             /* its connection id (ih_conn_id_format) */
	uint32_t deny_window_at;       /* rate limit of "denied" log lines (monotonic s, with deny_in_window) */
	uint32_t deny_in_window;
	uint32_t api_subs_count;
	uint16_t product_len;          /* usernames are at most 65535 bytes (config) */
	uint16_t keepalive;            /* MQTT's is 16 bits */
	uint8_t proto_ver;
	uint8_t state;                 /* enum ih_conn_state */
	bool id_indexed : 1;
	bool clean_session : 1;
	bool superuser : 1;
	bool disconnect_emitted : 1;       /* a client.disconnected already went out */
	bool suspended : 1;                /* refused all access until it goes away */
	bool session_check : 1;            /* resumed a session the broker may have dropped */
	bool connected_pending : 1;        /* cluster: client.connected waits for another node's release */
	bool moved : 1;                    /* cluster: taken over by another node, nothing of it stays */
	bool has_address : 1;
	bool own_username : 1;             /* username is in this block, not dev's */
};

/* The connection's address (a copy, kept for the events of an offline
 * session, whose context is gone), or NULL. Not for a hot path: it walks
 * the strings before it. */
static inline const char *ih_conn_address(const struct ih_conn *c)
{
	const char *last = c->own_username ? c->username : c->client_id;

	return c->has_address ? last + strlen(last) + 1 : NULL;
}

struct conn_table;

int conn_table_new(struct conn_table **out);
/* Release every entry through free_entry, then the table. */
void conn_table_free(struct conn_table *t, void (*free_entry)(struct ih_conn *c, void *ud), void *ud);

/* Insert a new entry (ownership passes to the table). An existing entry for
 * the same pointer is stale and is returned through *stale for the caller to
 * release, or NULL. */
int conn_table_add(struct conn_table *t, struct ih_conn *c, struct ih_conn **stale);

/* The entry for `client`, or NULL. Hot path: the ACL check calls it. */
struct ih_conn *conn_table_find(const struct conn_table *t, const struct mosquitto *client);

/* The entry for `client` regardless of the id check; for DISCONNECT. */
struct ih_conn *conn_table_find_raw(const struct conn_table *t, const struct mosquitto *client);

/* Unlink an entry; the caller owns it afterwards. */
void conn_table_remove(struct conn_table *t, struct ih_conn *c);

/* c->username now points at another copy of the same name: so does the
 * username view's node, if c is the head it indexes. */
void conn_table_move_username(struct conn_table *t, struct ih_conn *c);

/* ONLINE -> OFFLINE, keeping the online count right. */
void conn_table_set_offline(struct conn_table *t, struct ih_conn *c);

/* The newest entry carrying this client id, or NULL. */
struct ih_conn *conn_table_find_client_id(const struct conn_table *t, const char *client_id);

/* First entry of the username's list (walk with next_by_user), or NULL. */
struct ih_conn *conn_table_by_username(const struct conn_table *t, const char *username);

/* Visit every entry; the callback must not add or remove entries. */
void conn_table_foreach(const struct conn_table *t, void (*fn)(struct ih_conn *c, void *ud), void *ud);

/* Visit every distinct username with at least one entry. */
void conn_table_foreach_username(const struct conn_table *t, void (*fn)(const char *username, void *ud), void *ud);

size_t conn_table_count(const struct conn_table *t);
size_t conn_table_online(const struct conn_table *t);
size_t conn_table_usernames(const struct conn_table *t);

#endif
