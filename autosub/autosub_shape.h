/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Shared filter shapes for the auto-subscription index (autosub_index.h).
 *
 * A template-made filter is `HEAD/KEY TAIL`: HEAD its first level, KEY the
 * rest of its literal prefix (the device identity, `p1/d1` in
 * `cmd/p1/d1/+/+/+/#`) and TAIL what follows ("/+/+/+/#", or ""). Every
 * device has the same HEADs and TAILs and only its KEY differs, so the
 * index stores per client the KEY once and a pointer to a set of
 * (HEAD, TAIL, QoS) triples that all clients with the same templates share:
 * 3 filters of 20 bytes and their index entries per device become one
 * pointer. A set is interned by its description (the triples in bind
 * order) and reference-counted: it lives while some client uses it.
 *
 * Not thread-safe: broker thread only.
 */
#ifndef IH_AUTOSUB_SHAPE_H
#define IH_AUTOSUB_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/strmap.h"
#include "acl/topic.h"

/* How a TAIL is matched: most are n `+` levels, then `#` or nothing,
 * which only count the topic's remaining levels. */
enum autosub_tail_kind {
	AUTOSUB_TAIL_PLUS,       /* exactly `plus` more levels ("" when 0) */
	AUTOSUB_TAIL_PLUS_HASH,  /* at least `plus` more levels */
	AUTOSUB_TAIL_OTHER,      /* acl_topic_matches_tail */
};

struct autosub_shape {
	uint64_t word;         /* autosub_head_word(head, headlen): most heads compare in one step */
	const char *head;      /* first level, not NUL-terminated (headlen bytes) */
	const char *tail;      /* NUL-terminated: "" or starting with '/' */
	uint32_t headlen;
	uint32_t plus;
	uint8_t kind;          /* enum autosub_tail_kind */
	uint8_t qos;
};

struct autosub_shapes {
	struct ih_strmap_node node;   /* in the interning map; key: the description */
	size_t refs;                  /* clients using the set */
	size_t bytes;                 /* of this allocation */
	uint32_t n;
	struct autosub_shape shape[]; /* then the description, which head and tail point into */
};

/*
 * Description of one shape, appended to a set's: QoS digit, HEAD, NUL,
 * TAIL, NUL. autosub_shape_desc_len is the bytes that takes; write fills
 * `dst` with exactly that many. A set's description is its shapes' in
 * order, so it determines the set.
 */
size_t autosub_shape_desc_len(size_t headlen, const char *tail);
size_t autosub_shape_desc_write(char *dst, const char *head, size_t headlen, const char *tail, int qos);

/*
 * The set with this description, from `map` (an ih_strmap the caller
 * owns) or made and added to it; *bytes grows by what was allocated.
 * Takes a reference; NULL on out of memory.
 */
struct autosub_shapes *autosub_shapes_get(struct ih_strmap *map, const char *desc, size_t len, size_t *bytes);
/* Drop a reference; the last one frees the set (and *bytes shrinks). */
void autosub_shapes_put(struct ih_strmap *map, struct autosub_shapes *s, size_t *bytes);
/* For the map's foreach at teardown: frees the set whatever its count. */
void autosub_shapes_free_node(struct ih_strmap_node *n, void *ud);

/* A head's first 7 bytes and its length (capped at 255) in one word:
 * equal words mean equal heads when the length is at most 7. */
static inline uint64_t autosub_head_word(const char *head, size_t len)
{
	uint64_t w = (uint64_t)(len < 255 ? len : 255) << 56;

	for(size_t i = 0; i < len && i < 7; i++) w |= (uint64_t)(unsigned char)head[i] << (8 * i);
	return w;
}

/* 1 for the bytes that end a level, '/' and NUL (autosub_shape.c). */
extern const unsigned char autosub_level_stop[256];

/* `rest` ("" or "/..."): exactly n more levels, or at least n with `hash`.
 * Two bytes a step: this skips every level a `+` matches. */
static inline bool autosub_rest_levels(const char *rest, uint32_t n, bool hash)
{
	for(uint32_t i = 0; i < n; i++){
		if(*rest != '/') return false;
		rest++;
		for(;;){
			if(autosub_level_stop[(unsigned char)rest[0]]) break;
			if(autosub_level_stop[(unsigned char)rest[1]]){
				rest++;
				break;
			}
			rest += 2;
		}
	}
	return hash || *rest == '\0';
}

static inline bool autosub_tail_matches(const struct autosub_shape *sh, const char *rest)
{
	if(sh->kind == AUTOSUB_TAIL_OTHER) return acl_topic_matches_tail(sh->tail, rest);
	return autosub_rest_levels(rest, sh->plus, sh->kind == AUTOSUB_TAIL_PLUS_HASH);
}

/*
 * The per-message test: the highest QoS of the shapes that match the
 * topic whose first level is topic[0..headlen) (`word` its
 * autosub_head_word) and whose part after the key is `rest` ("" or
 * starting with '/'), or -1. *compared counts the shapes whose HEAD
 * matched (the full comparisons). Inline: it runs once per candidate
 * client on the match path.
 */
static inline int autosub_shapes_match(const struct autosub_shapes *s, const char *topic, size_t headlen,
		uint64_t word, const char *rest, size_t *compared)
{
	int best = -1;

	for(uint32_t i = 0; i < s->n; i++){
		const struct autosub_shape *sh = &s->shape[i];

		if(sh->word != word) continue;
		if(headlen > 7 && (sh->headlen != headlen || memcmp(sh->head, topic, headlen) != 0)) continue;
		(*compared)++;
		if(sh->qos > best && autosub_tail_matches(sh, rest)) best = sh->qos;
	}
	return best;
}

#endif
