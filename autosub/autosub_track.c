/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The index's record of each client's own subscriptions, for at-most-once
 * delivery (design in autosub_index.h): tracked in the client's extra
 * (autosub_index_intern.h), questioned by match (autosub_index.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "acl/topic.h"
#include "autosub/autosub_index_intern.h"

/* The extra's tracked list goes with its strings (clean start, a session
 * the broker did not keep, the client gone). */
void autosub_tracked_clear(struct autosub_index *idx, struct asx_extra *ex)
{
	for(size_t i = 0; i < ex->n_tracked; i++){
		ix_free(idx, ex->tracked[i], strlen(ex->tracked[i]) + 1);
	}
	ix_free(idx, ex->tracked, AUTOSUB_TRACK_MAX * sizeof(char *));
	idx->tracked -= ex->n_tracked;
	ex->tracked = NULL;
	ex->n_tracked = 0;
	ex->held = false;
}

/* A keyed filter spelled out again, for the (rare) overlap questions. */
static bool keyed_overlaps(const struct asx_client *c, const struct autosub_shape *sh, const char *filter)
{
	char small[256], *buf = small;
	size_t tlen = strlen(sh->tail), len = sh->headlen + 1 + c->knode.keylen + tlen;
	bool o;

	if(len >= sizeof(small)){
		buf = mosquitto_malloc(len + 1);   /* freed below */
		if(buf == NULL) return true;       /* the safe answer: keep tracking */
	}
	memcpy(buf, sh->head, sh->headlen);
	buf[sh->headlen] = '/';
	memcpy(buf + sh->headlen + 1, c->knode.key, c->knode.keylen);
	memcpy(buf + sh->headlen + 1 + c->knode.keylen, sh->tail, tlen + 1);
	o = acl_filters_overlap(buf, filter);
	if(buf != small) mosquitto_free(buf);
	return o;
}

static bool overlaps_any(const struct asx_client *c, const char *filter)
{
	const struct autosub_shapes *sh = client_shapes(c);
	const struct asx_extra *ex = client_extra(c);

	for(uint32_t i = 0; sh && i < sh->n; i++){
		if(keyed_overlaps(c, &sh->shape[i], filter)) return true;
	}
	for(size_t i = 0; ex && ex->subs && i < ex->subs->n; i++){
		if(acl_filters_overlap(ex->subs->sub[i].filter, filter)) return true;
	}
	return false;
}

bool autosub_index_note_subscribe(struct autosub_index *idx, const char *client_id, const char *filter)
{
	struct asx_client *c;
	struct asx_extra *ex;
	bool overlaps;
	char *copy;

	if(idx == NULL || client_id == NULL || filter == NULL) return false;
	/* A shared subscription gives the message to one group member only. */
	if(acl_share_strip(filter) != filter) return false;
	c = autosub_client_find(idx, client_id);
	if(c == NULL) return false;   /* known only while some filter is bound */
	ex = client_extra(c);
	for(size_t i = 0; ex && i < ex->n_tracked; i++){
		if(!strcmp(ex->tracked[i], filter)) return true;
	}
	/* Tracked even without an overlap today: a later bind (a tag added)
	 * may bring a filter that overlaps it, and by then the broker no
	 * longer tells us about the subscription. */
	overlaps = overlaps_any(c, filter);
	if(ex && ex->n_tracked == AUTOSUB_TRACK_MAX){
		size_t i;

		if(!overlaps) return false;
		/* Full: one that overlaps nothing bound now makes room. */
		for(i = 0; i < ex->n_tracked && overlaps_any(c, ex->tracked[i]); i++);
		if(i == ex->n_tracked) return false;
		ix_free(idx, ex->tracked[i], strlen(ex->tracked[i]) + 1);
		ex->tracked[i] = ex->tracked[--ex->n_tracked];
		idx->tracked--;
	}
	ex = autosub_extra_get(idx, c);
	if(ex == NULL) return false;
	if(ex->tracked == NULL){
		ex->tracked = ix_alloc(idx, AUTOSUB_TRACK_MAX * sizeof(char *));
		if(ex->tracked == NULL){
			autosub_extra_trim(idx, c);
			return false;
		}
	}
	copy = ix_alloc(idx, strlen(filter) + 1);
	if(copy == NULL){
		autosub_extra_trim(idx, c);
		return false;
	}
	memcpy(copy, filter, strlen(filter) + 1);
	ex->tracked[ex->n_tracked++] = copy;   /* ex owns copy */
	idx->tracked++;
	return true;
}

void autosub_index_note_unsubscribe(struct autosub_index *idx, const char *client_id, const char *filter)
{
	struct asx_client *c;
	struct asx_extra *ex;

	if(idx == NULL || client_id == NULL || filter == NULL) return;
	c = autosub_client_find(idx, client_id);
	ex = c ? client_extra(c) : NULL;
	for(size_t i = 0; ex && i < ex->n_tracked; i++){
		if(strcmp(ex->tracked[i], filter)) continue;
		ix_free(idx, ex->tracked[i], strlen(ex->tracked[i]) + 1);
		ex->tracked[i] = ex->tracked[--ex->n_tracked];
		idx->tracked--;
		autosub_extra_trim(idx, c);   /* kept while held: the hold outlives an empty list */
		return;
	}
}

bool autosub_index_hold_subscriptions(struct autosub_index *idx, const char *client_id)
{
	struct asx_client *c = (idx && client_id) ? autosub_client_find(idx, client_id) : NULL;

	struct asx_extra *ex = c ? client_extra(c) : NULL;

	if(ex == NULL || ex->n_tracked == 0) return false;
	ex->held = true;
	return true;
}

void autosub_index_confirm_subscriptions(struct autosub_index *idx, const char *client_id, bool kept)
{
	struct asx_client *c = (idx && client_id) ? autosub_client_find(idx, client_id) : NULL;

	struct asx_extra *ex = c ? client_extra(c) : NULL;

	if(ex == NULL || !ex->held) return;
	if(kept) ex->held = false;
	else autosub_tracked_clear(idx, ex);
	autosub_extra_trim(idx, c);
}

void autosub_index_clear_subscriptions(struct autosub_index *idx, const char *client_id)
{
	struct asx_client *c;

	if(idx == NULL || client_id == NULL) return;
	c = autosub_client_find(idx, client_id);
	if(c && client_extra(c)){
		autosub_tracked_clear(idx, client_extra(c));
		autosub_extra_trim(idx, c);
	}
}
