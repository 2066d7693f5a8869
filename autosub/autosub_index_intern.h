/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The auto-subscription index's data, shared by its files:
 * autosub_index.c (clients, keyed filters, match), autosub_prefix.c (the
 * generic prefix table) and autosub_track.c (the clients' own
 * subscriptions). Nothing outside autosub/
 * includes this; the design is in autosub_index.h.
 */
#ifndef IH_AUTOSUB_INDEX_INTERN_H
#define IH_AUTOSUB_INDEX_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "core/strmap.h"
#include "autosub/autosub_index.h"
#include "autosub/autosub_shape.h"

struct asx_extra;

/*
 * One per client id, in ONE allocation: the record, its id, then its key.
 * Most devices need nothing else: their template-made filters are the key
 * and a pointer to the shared shapes. A client with generic filters or
 * tracked subscriptions also has an extra, which then holds the shapes
 * pointer: `sx` is the shapes (bit 0 clear) or the extra (bit 0 set), so
 * that the record of the usual device fits a 96-byte malloc chunk with a
 * client id and a key of ~12 bytes each.
 */
struct asx_client {
	struct ih_strmap_node node;     /* in clients; key: id */
	/* In keys (a multimap: clients with equal keys are adjacent there)
	 * while the client has keyed filters; key and keylen name its key. */
	struct ih_strmap_node knode;
	void *owner;
	uintptr_t sx;                   /* see above; use client_shapes / client_extra */
	char id[];                      /* NUL-terminated, then the key's bytes */
};

/* One per generic filter. Its prefix is found by looking the filter up
 * again when it is unlinked (not on any hot path). */
struct asx_sub {
	struct asx_sub *prev, *next;    /* in the prefix's list */
	struct asx_client *client;
	const char *filter;             /* in the block */
	uint8_t qos;
};

struct asx_subs {
	size_t n;
	size_t bytes;
	struct asx_sub sub[];           /* then the filter strings */
};

struct asx_extra {
	struct autosub_shapes *shapes;  /* the client's keyed filters; NULL: none */
	struct asx_subs *subs;          /* generic filters; NULL: none */
	char **tracked;
	uint64_t mark;                  /* idx->gen of the match that last saw the client */
	uint32_t row;                   /* its result row then, or NO_ROW: excluded */
	uint8_t n_tracked;              /* at most AUTOSUB_TRACK_MAX */
	bool held;                      /* tracked not trusted yet: see hold */
};

#define NO_ROW UINT32_MAX

static inline struct asx_extra *client_extra(const struct asx_client *c)
{
	return (c->sx & 1) ? (struct asx_extra *)(c->sx - 1) : NULL;
}

static inline struct autosub_shapes *client_shapes(const struct asx_client *c)
{
	return (c->sx & 1) ? ((struct asx_extra *)(c->sx - 1))->shapes : (struct autosub_shapes *)c->sx;
}

/* ex may be NULL; it then owns nothing but what it is given here. */
static inline void client_set(struct asx_client *c, struct autosub_shapes *shapes, struct asx_extra *ex)
{
	if(ex){
		ex->shapes = shapes;
		c->sx = (uintptr_t)ex | 1;   /* allocations are at least 8-aligned */
	}else{
		c->sx = (uintptr_t)shapes;
	}
}

/* The prefix's bytes are not copied: node.key points at the start of one
 * of its filters (node.keylen bytes), and moves to another when that one
 * is unlinked. */
struct asx_prefix {
	struct ih_strmap_node node;     /* in the map unless root; key: see above */
	struct asx_sub *head;
	uint32_t n_subs;
	unsigned levels;
};

/* A prefix level count in use, by generic prefixes and by keyed clients
 * (whose prefix is head + key: the key's levels plus one). */
struct depth {
	unsigned levels;
	size_t prefixes;
	size_t keys;
};

struct autosub_index {
	struct ih_strmap clients;
	struct ih_strmap keys;          /* keyed clients, a multimap by key */
	size_t n_keys;                  /* distinct keys in it */
	struct ih_strmap shapes;        /* interned shape sets (autosub_shape.h) */
	struct ih_strmap prefixes;      /* generic filters' prefixes */
	struct asx_prefix *root;        /* level count 0; NULL when unused */
	/* Literal prefixes (generic ones and keyed shapes' heads) by the first
	 * byte a matching topic starts with. */
	uint32_t first[256];
	struct depth *depth;            /* ascending levels */
	size_t n_depth;
	size_t depth_cap;
	struct autosub_match *result;
	size_t result_cap;
	uint64_t gen;
	size_t bytes;
	size_t filters;
	size_t tracked;
	uint64_t matches;
	uint64_t candidates;
	size_t last_candidates;
};

static inline void *ix_alloc(struct autosub_index *idx, size_t size)
{
	void *p = mosquitto_malloc(size);
	if(p) idx->bytes += size;
	return p;
}

static inline void ix_free(struct autosub_index *idx, void *p, size_t size)
{
	if(p == NULL) return;
	idx->bytes -= size;
	mosquitto_free(p);
}

/* autosub_prefix.c */
int autosub_depth_ref(struct autosub_index *idx, unsigned levels, bool keyed);
void autosub_depth_unref(struct autosub_index *idx, unsigned levels, bool keyed);
/* Whole literal levels before the first wildcard: bytes and level count. */
void autosub_filter_prefix(const char *filter, size_t *len, unsigned *levels);
const struct asx_prefix *autosub_prefix_find(const struct autosub_index *idx, const char *key, size_t len,
		unsigned levels);
/* One filter of a bind, looked at once (autosub_index.c): its QoS merged
 * with its duplicates' (-1: skipped, invalid or a duplicate), and whether
 * it is keyed, with its split (autosub_shape.h: HEAD = filter[0..headlen),
 * KEY = key[0..keylen), TAIL = tail). */
struct autosub_fview {
	int qos;
	bool keyed;
	size_t headlen;
	const char *key;
	size_t keylen;
	const char *tail;
};

/* The filters taken (qos >= 0) and not keyed, copied into one block for
 * client c and linked; NULL on out of memory (nothing linked). */
struct asx_subs *autosub_subs_new(struct autosub_index *idx, struct asx_client *c,
		const struct autosub_filter *filters, const struct autosub_fview *fv, size_t n);
void autosub_subs_release(struct autosub_index *idx, struct asx_subs *subs);
void autosub_prefix_free_node(struct ih_strmap_node *n, void *ud);

/* autosub_index.c */
struct asx_client *autosub_client_find(const struct autosub_index *idx, const char *id);
/* c's extra, made when it has none; NULL on out of memory. */
struct asx_extra *autosub_extra_get(struct autosub_index *idx, struct asx_client *c);
/* The extra goes once it holds nothing but the shapes pointer and no hold. */
void autosub_extra_trim(struct autosub_index *idx, struct asx_client *c);

/* autosub_track.c: forget the tracked subscriptions (and the hold). */
void autosub_tracked_clear(struct autosub_index *idx, struct asx_extra *ex);

#endif
