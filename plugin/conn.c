/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The connection table (see conn.h for the lifecycle).
 *
 * Three views of the same entries: by context pointer (every ACL check, so a
 * hand-rolled table with a multiplicative hash and no allocation on lookup),
 * by client id (takeover detection) and by username (refresh or kick a
 * device's connections). Only the pointer view owns the entries.
 */
#include <stdint.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin/conn.h"
#include "plugin/hash.h"

struct id_entry {
	char *client_id;              /* key, owned */
	struct ih_conn *conn;         /* newest connection with this id */
	UT_hash_handle hh;
};

struct user_entry {
	char *username;               /* key, owned */
	struct ih_conn *head;
	UT_hash_handle hh;
};

struct conn_table {
	struct ih_conn **buckets;
	unsigned bits;
	size_t count;
	size_t online;
	struct id_entry *by_id;
	struct user_entry *by_user;
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
	if(t->buckets == NULL){
		mosquitto_free(t);
		return MOSQ_ERR_NOMEM;
	}
	*out = t;
	return MOSQ_ERR_SUCCESS;
}

void conn_table_free(struct conn_table *t, void (*free_entry)(struct ih_conn *c, void *ud), void *ud)
{
	struct id_entry *ie, *itmp;
	struct user_entry *ue, *utmp;

	if(t == NULL) return;
	HASH_ITER(hh, t->by_id, ie, itmp){
		HASH_DEL(t->by_id, ie);
		mosquitto_free(ie->client_id);
		mosquitto_free(ie);
	}
	HASH_ITER(hh, t->by_user, ue, utmp){
		HASH_DEL(t->by_user, ue);
		mosquitto_free(ue->username);
		mosquitto_free(ue);
	}
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

static int index_id(struct conn_table *t, struct ih_conn *c)
{
	struct id_entry *ie;

	HASH_FIND_STR(t->by_id, c->client_id, ie);
	if(ie){
		ie->conn = c;
		return MOSQ_ERR_SUCCESS;
	}
	ie = mosquitto_calloc(1, sizeof(*ie));
	if(ie == NULL) return MOSQ_ERR_NOMEM;
	ie->client_id = mosquitto_strdup(c->client_id);
	if(ie->client_id == NULL){
		mosquitto_free(ie);
		return MOSQ_ERR_NOMEM;
	}
	ie->conn = c;
	IH_HASH_OOM_RESET();
	HASH_ADD_KEYPTR(hh, t->by_id, ie->client_id, strlen(ie->client_id), ie);
	if(IH_HASH_OOM()){
		mosquitto_free(ie->client_id);
		mosquitto_free(ie);
		return MOSQ_ERR_NOMEM;
	}
	return MOSQ_ERR_SUCCESS;
}

static void unindex_id(struct conn_table *t, struct ih_conn *c)
{
	struct id_entry *ie;

	HASH_FIND_STR(t->by_id, c->client_id, ie);
	if(ie == NULL || ie->conn != c) return;
	/* An older entry with the same id may still exist (an OFFLINE session
	 * waiting for its final DISCONNECT); it never becomes "newest" again. */
	HASH_DEL(t->by_id, ie);
	mosquitto_free(ie->client_id);
	mosquitto_free(ie);
}

static int index_user(struct conn_table *t, struct ih_conn *c)
{
	struct user_entry *ue;

	if(c->username == NULL) return MOSQ_ERR_SUCCESS;
	HASH_FIND_STR(t->by_user, c->username, ue);
	if(ue == NULL){
		ue = mosquitto_calloc(1, sizeof(*ue));
		if(ue == NULL) return MOSQ_ERR_NOMEM;
		ue->username = mosquitto_strdup(c->username);
		if(ue->username == NULL){
			mosquitto_free(ue);
			return MOSQ_ERR_NOMEM;
		}
		IH_HASH_OOM_RESET();
		HASH_ADD_KEYPTR(hh, t->by_user, ue->username, strlen(ue->username), ue);
		if(IH_HASH_OOM()){
			mosquitto_free(ue->username);
			mosquitto_free(ue);
			return MOSQ_ERR_NOMEM;
		}
	}
	c->prev_by_user = NULL;
	c->next_by_user = ue->head;
	if(ue->head) ue->head->prev_by_user = c;
	ue->head = c;
	return MOSQ_ERR_SUCCESS;
}

static void unindex_user(struct conn_table *t, struct ih_conn *c)
{
	struct user_entry *ue;

	if(c->username == NULL) return;
	HASH_FIND_STR(t->by_user, c->username, ue);
	if(ue == NULL) return;
	if(c->prev_by_user) c->prev_by_user->next_by_user = c->next_by_user;
	else if(ue->head == c) ue->head = c->next_by_user;
	if(c->next_by_user) c->next_by_user->prev_by_user = c->prev_by_user;
	c->next_by_user = c->prev_by_user = NULL;
	if(ue->head == NULL){
		HASH_DEL(t->by_user, ue);
		mosquitto_free(ue->username);
		mosquitto_free(ue);
	}
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
	int rc;

	*stale = NULL;
	if(old){
		conn_table_remove(t, old);
		*stale = old; /* ownership passes to the caller */
	}
	rc = index_id(t, c);
	if(rc) return rc;
	rc = index_user(t, c);
	if(rc){
		unindex_id(t, c);
		return rc;
	}
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
	struct id_entry *ie;

	HASH_FIND_STR(t->by_id, client_id, ie);
	return ie ? ie->conn : NULL;
}

struct ih_conn *conn_table_by_username(const struct conn_table *t, const char *username)
{
	struct user_entry *ue;

	HASH_FIND_STR(t->by_user, username, ue);
	return ue ? ue->head : NULL;
}

void conn_table_foreach(const struct conn_table *t, void (*fn)(struct ih_conn *c, void *ud), void *ud)
{
	for(size_t i = 0; i < ((size_t)1 << t->bits); i++){
		for(struct ih_conn *c = t->buckets[i]; c; c = c->next_by_ptr){
			fn(c, ud);
		}
	}
}

void conn_table_foreach_username(const struct conn_table *t, void (*fn)(const char *username, void *ud), void *ud)
{
	struct user_entry *ue, *tmp;

	HASH_ITER(hh, t->by_user, ue, tmp){
		fn(ue->username, ud);
	}
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
	return HASH_COUNT(t->by_user);
}
