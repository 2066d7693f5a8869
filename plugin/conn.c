/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The connection table (see conn.h for the lifecycle).
 *
 * Three views of the same entries: by context pointer (every ACL check, so a
 * hand-rolled table with a multiplicative hash and no allocation on lookup:
 * context pointers are the broker's heap addresses, which no client
 * chooses, so they need no keyed hash), by client id (takeover detection)
 * and by username (refresh or kick a device's connections). The last two
 * are core/strmap maps (keyed SipHash: clients choose both strings) whose
 * nodes live in the entries themselves, so indexing allocates nothing per
 * connection. Only the pointer view owns the entries.
 */
#include <stdint.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin/conn.h"

struct conn_table {
	struct ih_conn **buckets;
	unsigned bits;
	size_t count;
	size_t online;
	struct ih_strmap by_id;     /* newest entry per client id */
	struct ih_strmap by_user;   /* head of each username's list */
};

#define INITIAL_BITS 8

static inline size_t ptr_slot(const void *p, unsigned bits)
{
	/* Contexts are heap blocks: the low bits carry no information. */
	return (size_t)((((uintptr_t)p >> 4) * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits));
}

int conn_table_new(struct conn_table **out)
{
	struct conn_table *t = mosquitto_calloc(1, sizeof(*t));

	if(t == NULL) return MOSQ_ERR_NOMEM;
	t->bits = INITIAL_BITS;
	t->buckets = mosquitto_calloc((size_t)1 << t->bits, sizeof(*t->buckets));
	if(t->buckets == NULL
			|| ih_strmap_init(&t->by_id, mosquitto_calloc, mosquitto_free)
			|| ih_strmap_init(&t->by_user, mosquitto_calloc, mosquitto_free)){
		ih_strmap_cleanup(&t->by_id);
		ih_strmap_cleanup(&t->by_user);
		mosquitto_free(t->buckets);
		mosquitto_free(t);
		return MOSQ_ERR_NOMEM;
	}
	/* Per connect, not per message: half the buckets (the pointer view,
	 * on the ACL check's path, keeps at most one entry per bucket). */
	ih_strmap_set_max_load(&t->by_id, 2);
	ih_strmap_set_max_load(&t->by_user, 2);
	*out = t;
	return MOSQ_ERR_SUCCESS;
}

void conn_table_free(struct conn_table *t, void (*free_entry)(struct ih_conn *c, void *ud), void *ud)
{
	if(t == NULL) return;
	/* The maps' nodes are inside the entries: drop the maps first. */
	ih_strmap_cleanup(&t->by_id);
	ih_strmap_cleanup(&t->by_user);
	for(size_t i = 0; i < ((size_t)1 << t->bits); i++){
		struct ih_conn *c = t->buckets[i];
		while(c){
			struct ih_conn *next = c->next_by_ptr;
			free_entry(c, ud);
			c = next;
		}
	}
	mosquitto_free(t->buckets);
	mosquitto_free(t);
}

static void grow(struct conn_table *t)
{
	unsigned bits = t->bits + 1;
	struct ih_conn **nb = mosquitto_calloc((size_t)1 << bits, sizeof(*nb));

	/* Failing to grow only lengthens chains; lookups stay correct. */
	if(nb == NULL) return;
	for(size_t i = 0; i < ((size_t)1 << t->bits); i++){
		struct ih_conn *c = t->buckets[i];
		while(c){
			struct ih_conn *next = c->next_by_ptr;
			size_t s = ptr_slot(c->client, bits);
			c->next_by_ptr = nb[s];
			nb[s] = c;
			c = next;
		}
	}
	mosquitto_free(t->buckets);
	t->buckets = nb;
	t->bits = bits;
}

struct ih_conn *conn_table_find_raw(const struct conn_table *t, const struct mosquitto *client)
{
	struct ih_conn *c = t->buckets[ptr_slot(client, t->bits)];

	while(c && c->client != client) c = c->next_by_ptr;
	return c;
}

struct ih_conn *conn_table_find(const struct conn_table *t, const struct mosquitto *client)
{
	struct ih_conn *c = conn_table_find_raw(t, client);
	const char *id;

	if(c == NULL) return NULL;
	/* A context freed behind our back (session expiry) may have been reused
	 * for another client that never reached our BASIC_AUTH. */
	id = mosquitto_client_id(client);
	if(id == NULL || strcmp(id, c->client_id) != 0) return NULL;
	return c;
}

static struct ih_conn *id_lookup(const struct conn_table *t, const char *client_id)
{
	struct ih_strmap_node *n = ih_strmap_find(&t->by_id, client_id, strlen(client_id));

	return n ? ih_container_of(n, struct ih_conn, id_node) : NULL;
}

static struct ih_conn *user_lookup(const struct conn_table *t, const char *username)
{
	struct ih_strmap_node *n = ih_strmap_find(&t->by_user, username, strlen(username));

	return n ? ih_container_of(n, struct ih_conn, user_node) : NULL;
}

static void index_id(struct conn_table *t, struct ih_conn *c)
{
	struct ih_conn *older = id_lookup(t, c->client_id);

	/* An older entry with the same id may stay in the table (an OFFLINE
	 * session waiting for its final DISCONNECT); it never becomes "newest"
	 * again, so it simply leaves this view. */
	if(older){
		ih_strmap_remove(&t->by_id, &older->id_node);
		older->id_indexed = false;
	}
	ih_strmap_insert(&t->by_id, &c->id_node, c->client_id, strlen(c->client_id));
	c->id_indexed = true;
}

static void unindex_id(struct conn_table *t, struct ih_conn *c)
{
	if(!c->id_indexed) return;
	ih_strmap_remove(&t->by_id, &c->id_node);
	c->id_indexed = false;
}

/* The new entry becomes the head of its username's list, and the map's
 * node for that username moves to it. */
static void index_user(struct conn_table *t, struct ih_conn *c)
{
	struct ih_conn *head;

	c->prev_by_user = c->next_by_user = NULL;
	if(c->username == NULL) return;
	head = user_lookup(t, c->username);
	if(head){
		ih_strmap_remove(&t->by_user, &head->user_node);
		head->prev_by_user = c;
		c->next_by_user = head;
	}
	ih_strmap_insert(&t->by_user, &c->user_node, c->username, strlen(c->username));
}

static void unindex_user(struct conn_table *t, struct ih_conn *c)
{
	if(c->username == NULL) return;
	if(c->prev_by_user){
		c->prev_by_user->next_by_user = c->next_by_user;
	}else{
		/* The head: its successor, if any, takes over the map's node. */
		if(user_lookup(t, c->username) != c) return;   /* not indexed */
		ih_strmap_remove(&t->by_user, &c->user_node);
		if(c->next_by_user){
			ih_strmap_insert(&t->by_user, &c->next_by_user->user_node,
					c->next_by_user->username, strlen(c->next_by_user->username));
		}
	}
	if(c->next_by_user) c->next_by_user->prev_by_user = c->prev_by_user;
	c->next_by_user = c->prev_by_user = NULL;
}

static void unlink_ptr(struct conn_table *t, struct ih_conn *c)
{
	struct ih_conn **pp = &t->buckets[ptr_slot(c->client, t->bits)];

	while(*pp && *pp != c) pp = &(*pp)->next_by_ptr;
	if(*pp) *pp = c->next_by_ptr;
	c->next_by_ptr = NULL;
}

void conn_table_remove(struct conn_table *t, struct ih_conn *c)
{
	unlink_ptr(t, c);
	unindex_id(t, c);
	unindex_user(t, c);
	t->count--;
	if(c->state == IH_CONN_ONLINE) t->online--;
}

int conn_table_add(struct conn_table *t, struct ih_conn *c, struct ih_conn **stale)
{
	struct ih_conn *old = conn_table_find_raw(t, c->client);
	size_t s;

	*stale = NULL;
	if(old){
		conn_table_remove(t, old);
		*stale = old; /* ownership passes to the caller */
	}
	/* The views allocate nothing per entry: indexing cannot fail. */
	index_id(t, c);
	index_user(t, c);
	if(t->count >= ((size_t)1 << t->bits)) grow(t);
	s = ptr_slot(c->client, t->bits);
	c->next_by_ptr = t->buckets[s];
	t->buckets[s] = c; /* ownership passes to the table */
	t->count++;
	if(c->state == IH_CONN_ONLINE) t->online++;
	return MOSQ_ERR_SUCCESS;
}

struct ih_conn *conn_table_find_client_id(const struct conn_table *t, const char *client_id)
{
	return id_lookup(t, client_id);
}

struct ih_conn *conn_table_by_username(const struct conn_table *t, const char *username)
{
	return user_lookup(t, username);
}

void conn_table_foreach(const struct conn_table *t, void (*fn)(struct ih_conn *c, void *ud), void *ud)
{
	for(size_t i = 0; i < ((size_t)1 << t->bits); i++){
		for(struct ih_conn *c = t->buckets[i]; c; c = c->next_by_ptr){
			fn(c, ud);
		}
	}
}

struct username_visit {
	void (*fn)(const char *username, void *ud);
	void *ud;
};

static void visit_username(struct ih_strmap_node *n, void *ud)
{
	struct username_visit *v = ud;

	v->fn(ih_container_of(n, struct ih_conn, user_node)->username, v->ud);
}

void conn_table_foreach_username(const struct conn_table *t, void (*fn)(const char *username, void *ud), void *ud)
{
	struct username_visit v = {fn, ud};

	ih_strmap_foreach(&t->by_user, visit_username, &v);
}

void conn_table_move_username(struct conn_table *t, struct ih_conn *c)
{
	(void)t;
	/* Outside the map the node's key is never read: set it either way. */
	ih_strmap_node_move_key(&c->user_node, c->username);
}

void conn_table_set_offline(struct conn_table *t, struct ih_conn *c)
{
	if(c->state == IH_CONN_ONLINE){
		c->state = IH_CONN_OFFLINE;
		t->online--;
	}
}

size_t conn_table_count(const struct conn_table *t)
{
	return t->count;
}

size_t conn_table_online(const struct conn_table *t)
{
	return t->online;
}

size_t conn_table_usernames(const struct conn_table *t)
{
	return ih_strmap_count(&t->by_user);
}
