/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The index's generic path (design in autosub_index.h): filters that are
 * not their client's keyed ones (API-made, tag subscriptions, anything
 * whose literal prefix is a single level or none), each linked under its
 * literal prefix, and the depth list both paths share.
 *
 *   prefixes: core/strmap by literal prefix -> list of filters; the prefix
 *             of the filters that start with a wildcard (no literal level)
 *             is `root`, outside the map
 *
 * A non-empty literal prefix has one level more than it has slashes, so its
 * bytes alone are its key; the empty prefix is either "no literal level"
 * (root) or "one empty level" ("/+"), which the map holds under "".
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "acl/topic.h"
#include "autosub/autosub_index_intern.h"

/* ------------------------------------------------------------------ */
/* depths                                                               */

int autosub_depth_ref(struct autosub_index *idx, unsigned levels, bool keyed)
{
	size_t i;

	for(i = 0; i < idx->n_depth && idx->depth[i].levels < levels; i++);
	if(i == idx->n_depth || idx->depth[i].levels != levels){
		if(idx->n_depth == idx->depth_cap){
			size_t cap = idx->depth_cap ? idx->depth_cap * 2 : 4;
			struct depth *d = mosquitto_realloc(idx->depth, cap * sizeof(*d));
			if(d == NULL) return MOSQ_ERR_NOMEM;
			idx->bytes += (cap - idx->depth_cap) * sizeof(*d);
			idx->depth = d;
			idx->depth_cap = cap;
		}
		memmove(idx->depth + i + 1, idx->depth + i, (idx->n_depth - i) * sizeof(*idx->depth));
		idx->depth[i] = (struct depth){levels, 0, 0};
		idx->n_depth++;
	}
	if(keyed) idx->depth[i].keys++;
	else idx->depth[i].prefixes++;
	return MOSQ_ERR_SUCCESS;
}

void autosub_depth_unref(struct autosub_index *idx, unsigned levels, bool keyed)
{
	size_t i;

	for(i = 0; i < idx->n_depth && idx->depth[i].levels != levels; i++);
	if(i == idx->n_depth) return;
	if(keyed) idx->depth[i].keys--;
	else idx->depth[i].prefixes--;
	if(idx->depth[i].keys > 0 || idx->depth[i].prefixes > 0) return;
	memmove(idx->depth + i, idx->depth + i + 1, (idx->n_depth - i - 1) * sizeof(*idx->depth));
	if(--idx->n_depth == 0){
		ix_free(idx, idx->depth, idx->depth_cap * sizeof(*idx->depth));
		idx->depth = NULL;
		idx->depth_cap = 0;
	}
}

/* ------------------------------------------------------------------ */
/* prefixes                                                             */

void autosub_filter_prefix(const char *filter, size_t *len, unsigned *levels)
{
	const char *level = filter, *end;
	size_t l = 0;
	unsigned n = 0;

	for(;;){
		end = strchrnul(level, '/');
		if(end - level == 1 && (level[0] == '+' || level[0] == '#')) break;
		n++;
		l = (size_t)(end - filter);
		if(*end == '\0') break;
		level = end + 1;
	}
	*len = l;
	*levels = n;
}

const struct asx_prefix *autosub_prefix_find(const struct autosub_index *idx, const char *key, size_t len,
		unsigned levels)
{
	struct ih_strmap_node *n;

	if(levels == 0) return idx->root;
	n = ih_strmap_find(&idx->prefixes, key, len);
	return n ? ih_container_of(n, struct asx_prefix, node) : NULL;
}

static void first_count(struct autosub_index *idx, const struct asx_prefix *p, int delta)
{
	if(p->node.keylen > 0){
		idx->first[(unsigned char)p->node.key[0]] += (uint32_t)delta;
	}else{
		idx->first['/'] += (uint32_t)delta;
		idx->first[0] += (uint32_t)delta;
	}
}

/* The prefix entry a filter belongs to (NULL: none yet), with the
 * prefix's length and level count: link and unlink find it the same way. */
static struct asx_prefix *prefix_of(struct autosub_index *idx, const char *filter, size_t *len, unsigned *levels)
{
	autosub_filter_prefix(filter, len, levels);
	return (struct asx_prefix *)autosub_prefix_find(idx, filter, *len, *levels);
}

static int sub_link(struct autosub_index *idx, struct asx_sub *s)
{
	struct asx_prefix *p;
	size_t len;
	unsigned levels;

	p = prefix_of(idx, s->filter, &len, &levels);
	if(p == NULL){
		p = ix_alloc(idx, sizeof(*p));
		if(p == NULL) return MOSQ_ERR_NOMEM;
		if(autosub_depth_ref(idx, levels, false) != MOSQ_ERR_SUCCESS){
			ix_free(idx, p, sizeof(*p));
			return MOSQ_ERR_NOMEM;
		}
		memset(p, 0, sizeof(*p));
		p->levels = levels;
		if(levels == 0){
			p->node.key = s->filter;   /* keylen 0: the root has no bytes */
			idx->root = p;
		}else{
			ih_strmap_insert(&idx->prefixes, &p->node, s->filter, len);
			first_count(idx, p, 1);
		}
	}
	s->prev = NULL;
	s->next = p->head;
	if(p->head) p->head->prev = s;
	p->head = s;
	p->n_subs++;
	idx->filters++;
	return MOSQ_ERR_SUCCESS;
}

static void sub_unlink(struct autosub_index *idx, struct asx_sub *s)
{
	struct asx_prefix *p;
	size_t len;
	unsigned levels;

	/* sub_link found or made it: it is there. */
	p = prefix_of(idx, s->filter, &len, &levels);

	if(s->prev) s->prev->next = s->next;
	else p->head = s->next;
	if(s->next) s->next->prev = s->prev;
	idx->filters--;
	if(--p->n_subs > 0){
		/* Same bytes, same hash: the map's node just reads them elsewhere. */
		if(p->node.key == s->filter) p->node.key = p->head->filter;
		return;
	}
	if(p == idx->root) idx->root = NULL;
	else{
		ih_strmap_remove(&idx->prefixes, &p->node);
		first_count(idx, p, -1);
	}
	autosub_depth_unref(idx, p->levels, false);
	ix_free(idx, p, sizeof(*p));
}

static void subs_unlink_free(struct autosub_index *idx, struct asx_subs *subs, size_t linked)
{
	for(size_t i = 0; i < linked; i++) sub_unlink(idx, &subs->sub[i]);
	ix_free(idx, subs, subs->bytes);
}

void autosub_subs_release(struct autosub_index *idx, struct asx_subs *subs)
{
	if(subs) subs_unlink_free(idx, subs, subs->n);
}

struct asx_subs *autosub_subs_new(struct autosub_index *idx, struct asx_client *c,
		const struct autosub_filter *filters, const struct autosub_fview *fv, size_t n)
{
	struct asx_subs *subs;
	size_t count = 0, bytes = 0, size;
	char *pool;

	for(size_t i = 0; i < n; i++){
		if(fv[i].qos < 0 || fv[i].keyed) continue;
		count++;
		bytes += strlen(filters[i].filter) + 1;
	}
	size = sizeof(*subs) + count * sizeof(struct asx_sub) + bytes;
	subs = ix_alloc(idx, size);
	if(subs == NULL) return NULL;
	subs->bytes = size;
	subs->n = 0;
	pool = (char *)&subs->sub[count];
	for(size_t i = 0; i < n; i++){
		size_t len;

		if(fv[i].qos < 0 || fv[i].keyed) continue;
		len = strlen(filters[i].filter) + 1;
		memcpy(pool, filters[i].filter, len);
		subs->sub[subs->n] = (struct asx_sub){.client = c, .filter = pool, .qos = (uint8_t)fv[i].qos};
		if(sub_link(idx, &subs->sub[subs->n]) != MOSQ_ERR_SUCCESS){
			subs_unlink_free(idx, subs, subs->n);
			return NULL;
		}
		subs->n++;
		pool += len;
	}
	return subs;
}

void autosub_prefix_free_node(struct ih_strmap_node *n, void *ud)
{
	(void)ud;
	mosquitto_free(ih_container_of(n, struct asx_prefix, node));
}
