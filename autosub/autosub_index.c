/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Auto-subscription delivery index (design in autosub_index.h; the data in
 * autosub_index_intern.h, the generic path in autosub_prefix.c).
 *
 *   clients: core/strmap by client id -> client record
 *   keys:    core/strmap by key -> the keyed clients with that key, adjacent
 *            in their chain (usually one: a device's identity; several
 *            only when client ids share one identity, which lengthens that
 *            one bucket's chain, as several filters under one prefix did)
 *   shapes:  interned shape sets (autosub_shape.h)
 *   depths:  sorted distinct prefix level counts in use
 *
 * Before any map lookup, a message's topic must start with a byte that
 * starts some literal prefix (`first`, a count per byte value): telemetry
 * topics ("upload_data/...") share no first byte with the default
 * auto-subscriptions (cmd/, rpc/, m2m/), so most messages cost one load
 * here instead of a keyed hash. It only ever skips lookups that would miss.
 *
 * The client map is keyed SipHash-2-4 (client ids come from devices) and
 * dense (core/strmap.h: not on the per-message path); the
 * key and prefix maps, looked up once per depth per message, either
 * SipHash-1-3 or the cheap mix (autosub_index_new says when). Every
 * allocation goes through ix_alloc/ix_free, autosub_shapes_get/put or one
 * of the maps (ih_strmap_bytes), so autosub_index_memory() is exact.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "core/strmap.h"
#include "acl/topic.h"
#include "autosub/autosub_index_intern.h"

/* ------------------------------------------------------------------ */
/* filters of a bind                                                    */

static int clamp_qos(int qos)
{
	return qos < 0 ? 0 : qos > 2 ? 2 : qos;
}

/* QoS of filters[i] merged with its duplicates', or -1 when it is skipped
 * (invalid, or equal to an earlier one). */
static int filter_qos(const struct autosub_filter *filters, size_t n, size_t i)
{
	const char *f = filters[i].filter;
	int qos;

	if(!acl_filter_valid(f)) return -1;
	/* An equal earlier one is valid too: no need to check it again. */
	for(size_t j = 0; j < i; j++){
		if(!strcmp(filters[j].filter, f)) return -1;
	}
	qos = clamp_qos(filters[i].qos);
	for(size_t j = i + 1; j < n; j++){
		if(!strcmp(filters[j].filter, f) && clamp_qos(filters[j].qos) > qos) qos = clamp_qos(filters[j].qos);
	}
	return qos;
}

/* The split of a filter whose literal prefix has two levels or more (the
 * view's fields); false when it has fewer (no key). */
static bool filter_split(const char *filter, struct autosub_fview *v)
{
	size_t len;
	unsigned levels;

	autosub_filter_prefix(filter, &len, &levels);
	if(levels < 2) return false;
	v->headlen = (size_t)(strchr(filter, '/') - filter);
	v->key = filter + v->headlen + 1;
	v->keylen = len - v->headlen - 1;
	v->tail = filter + len;
	return true;
}

/*
 * Look at every filter once. The client's key is that of its first filter
 * that has one; the filters with the same key (equal bytes, so equal
 * levels) are keyed, the others generic. *key_of: the view with the key,
 * or NULL when none has one.
 */
static void bind_view(const struct autosub_filter *filters, size_t n, struct autosub_fview *fv,
		const struct autosub_fview **key_of, size_t *valid, size_t *generic)
{
	*key_of = NULL;
	*valid = *generic = 0;
	for(size_t i = 0; i < n; i++){
		struct autosub_fview *v = &fv[i];

		memset(v, 0, sizeof(*v));
		v->qos = filter_qos(filters, n, i);
		if(v->qos < 0) continue;
		(*valid)++;
		if(filter_split(filters[i].filter, v)){
			if(*key_of == NULL) *key_of = v;
			v->keyed = v->keylen == (*key_of)->keylen && !memcmp(v->key, (*key_of)->key, v->keylen);
		}
		if(!v->keyed) (*generic)++;
	}
}

/* A key of L levels has L - 1 slashes; the prefix has the head too. */
static unsigned key_levels(const struct asx_client *c)
{
	unsigned levels = 2;

	for(size_t i = 0; i < c->knode.keylen; i++) levels += c->knode.key[i] == '/';
	return levels;
}

static void first_count_shapes(struct autosub_index *idx, const struct autosub_shapes *s, int delta)
{
	for(uint32_t i = 0; i < s->n; i++){
		unsigned char b = s->shape[i].headlen ? (unsigned char)s->shape[i].head[0] : '/';
		idx->first[b] += (uint32_t)delta;
	}
}

/* ------------------------------------------------------------------ */
/* clients                                                              */

struct asx_client *autosub_client_find(const struct autosub_index *idx, const char *id)
{
	struct ih_strmap_node *n = ih_strmap_find(&idx->clients, id, strlen(id));

	return n ? ih_container_of(n, struct asx_client, node) : NULL;
}

static size_t client_size(const struct asx_client *c)
{
	return sizeof(*c) + c->node.keylen + 1 + c->knode.keylen;   /* knode.keylen 0 without a key */
}

/* Into keys (its depth is already counted: see bind). */
static void key_link(struct autosub_index *idx, struct asx_client *c)
{
	const struct autosub_shapes *sh = client_shapes(c);

	idx->n_keys += (size_t)ih_strmap_insert_multi(&idx->keys, &c->knode, c->knode.key, c->knode.keylen);
	first_count_shapes(idx, sh, 1);
	idx->filters += sh->n;
}

static void key_unlink(struct autosub_index *idx, struct asx_client *c)
{
	struct autosub_shapes *sh = client_shapes(c);

	ih_strmap_remove(&idx->keys, &c->knode);
	if(ih_strmap_find(&idx->keys, c->knode.key, c->knode.keylen) == NULL) idx->n_keys--;
	first_count_shapes(idx, sh, -1);
	idx->filters -= sh->n;
	autosub_depth_unref(idx, key_levels(c), true);
	autosub_shapes_put(&idx->shapes, sh, &idx->bytes);
}

/* The extra goes once it holds nothing but the shapes pointer (a hold
 * counts: it outlives the list it held emptying). */
void autosub_extra_trim(struct autosub_index *idx, struct asx_client *c)
{
	struct asx_extra *ex = client_extra(c);

	if(ex == NULL || ex->subs || ex->n_tracked || ex->held) return;
	client_set(c, ex->shapes, NULL);
	ix_free(idx, ex->tracked, ex->tracked ? AUTOSUB_TRACK_MAX * sizeof(char *) : 0);
	ix_free(idx, ex, sizeof(*ex));
}

/* An extra for c, made when it has none; NULL on out of memory. */
struct asx_extra *autosub_extra_get(struct autosub_index *idx, struct asx_client *c)
{
	struct asx_extra *ex = client_extra(c);

	if(ex) return ex;
	ex = ix_alloc(idx, sizeof(*ex));
	if(ex == NULL) return NULL;
	memset(ex, 0, sizeof(*ex));
	client_set(c, client_shapes(c), ex);   /* c owns ex */
	return ex;
}

/* Out of every table; the record is freed, its extra only if `keep_extra`
 * is false (a rebind hands it to the new record). */
static void client_drop(struct autosub_index *idx, struct asx_client *c, bool keep_extra)
{
	struct asx_extra *ex = client_extra(c);

	if(client_shapes(c)) key_unlink(idx, c);
	ih_strmap_remove(&idx->clients, &c->node);
	if(ex){
		autosub_subs_release(idx, ex->subs);
		ex->subs = NULL;
		ex->shapes = NULL;
		if(!keep_extra){
			autosub_tracked_clear(idx, ex);
			ix_free(idx, ex, sizeof(*ex));
		}
	}
	ix_free(idx, c, client_size(c));
}

/* The keyed filters' shape set: their descriptions in bind order. */
static struct autosub_shapes *shapes_for(struct autosub_index *idx, const struct autosub_filter *filters,
		const struct autosub_fview *fv, size_t n)
{
	struct autosub_shapes *s;
	size_t len = 0;
	char small[256], *desc = small, *p;

	for(size_t i = 0; i < n; i++){
		if(fv[i].keyed) len += autosub_shape_desc_len(fv[i].headlen, fv[i].tail);
	}
	if(len > sizeof(small)){
		desc = mosquitto_malloc(len);   /* a key to look up with: freed below */
		if(desc == NULL) return NULL;
	}
	p = desc;
	for(size_t i = 0; i < n; i++){
		if(fv[i].keyed) p += autosub_shape_desc_write(p, filters[i].filter, fv[i].headlen, fv[i].tail, fv[i].qos);
	}
	s = autosub_shapes_get(&idx->shapes, desc, len, &idx->bytes);
	if(desc != small) mosquitto_free(desc);
	return s;
}

/*
 * A bind builds the client's new record and links everything new before
 * it touches the old one, so an out-of-memory leaves the old set as it
 * was; then the old record goes and the new one takes its place (and the
 * old one's tracked subscriptions).
 */
int autosub_index_bind(struct autosub_index *idx, const char *client_id,
		const struct autosub_filter *filters, size_t n, void *owner)
{
	struct autosub_fview small[16], *fv = small;
	const struct autosub_fview *key_of;
	struct asx_client *old, *c = NULL;
	struct asx_extra *ex, *made = NULL;
	struct autosub_shapes *shapes = NULL;
	struct asx_subs *subs = NULL;
	size_t idlen, keylen, valid, generic;
	bool depth = false;
	int rc = MOSQ_ERR_NOMEM;

	if(idx == NULL || client_id == NULL) return MOSQ_ERR_INVAL;
	if(n > sizeof(small) / sizeof(small[0])){
		fv = mosquitto_malloc(n * sizeof(*fv));   /* the views: freed below */
		if(fv == NULL) return MOSQ_ERR_NOMEM;
	}
	bind_view(filters, n, fv, &key_of, &valid, &generic);
	if(valid == 0){
		autosub_index_unbind(idx, client_id);
		rc = MOSQ_ERR_SUCCESS;
		goto out;
	}
	idlen = strlen(client_id);
	keylen = key_of ? key_of->keylen : 0;
	c = ix_alloc(idx, sizeof(*c) + idlen + 1 + keylen);
	if(c == NULL) goto out;
	memset(c, 0, sizeof(*c));
	memcpy(c->id, client_id, idlen + 1);
	c->owner = owner;
	if(key_of){
		memcpy(c->id + idlen + 1, key_of->key, keylen);
		c->knode.key = c->id + idlen + 1;
		c->knode.keylen = (uint32_t)keylen;
		shapes = shapes_for(idx, filters, fv, n);
		if(shapes == NULL) goto fail;
		if(autosub_depth_ref(idx, key_levels(c), true) != MOSQ_ERR_SUCCESS) goto fail;
		depth = true;
	}
	old = autosub_client_find(idx, client_id);
	ex = old ? client_extra(old) : NULL;
	if(generic){
		if(ex == NULL){
			ex = made = ix_alloc(idx, sizeof(*ex));
			if(ex == NULL) goto fail;
			memset(ex, 0, sizeof(*ex));
		}
		subs = autosub_subs_new(idx, c, filters, fv, n);
		if(subs == NULL) goto fail;
	}
	/* Nothing can fail from here. */
	if(old) client_drop(idx, old, true);
	ih_strmap_insert(&idx->clients, &c->node, c->id, idlen);
	if(ex) ex->subs = subs;        /* ex owns subs from here */
	client_set(c, shapes, ex);     /* c owns ex and the shapes reference */
	if(shapes) key_link(idx, c);
	autosub_extra_trim(idx, c);
	rc = MOSQ_ERR_SUCCESS;
	goto out;
fail:
	ix_free(idx, made, sizeof(*made));
	if(depth) autosub_depth_unref(idx, key_levels(c), true);
	autosub_shapes_put(&idx->shapes, shapes, &idx->bytes);
	ix_free(idx, c, sizeof(*c) + idlen + 1 + keylen);
out:
	if(fv != small) mosquitto_free(fv);
	return rc;
}

void autosub_index_unbind(struct autosub_index *idx, const char *client_id)
{
	struct asx_client *c;

	if(idx == NULL || client_id == NULL) return;
	c = autosub_client_find(idx, client_id);
	if(c) client_drop(idx, c, false);
}

void autosub_index_release(struct autosub_index *idx, const char *client_id, const void *owner)
{
	struct asx_client *c = (idx && client_id) ? autosub_client_find(idx, client_id) : NULL;

	if(c && c->owner == owner) client_drop(idx, c, false);
}

/* ------------------------------------------------------------------ */
/* match: the per-message path                                          */

static bool tracked_matches(const struct asx_extra *ex, const char *topic)
{
	if(ex->held) return false;   /* a duplicate rather than a loss */
	for(size_t i = 0; i < ex->n_tracked; i++){
		if(acl_topic_matches(ex->tracked[i], topic)) return true;
	}
	return false;
}

/* A client without an extra can match through its key only, so at most
 * once per match: no mark needed. */
static void record(struct autosub_index *idx, struct asx_client *c, int qos, const char *topic, size_t *n)
{
	struct asx_extra *ex = client_extra(c);

	if(ex){
		if(ex->mark == idx->gen){
			if(ex->row != NO_ROW && qos > idx->result[ex->row].qos) idx->result[ex->row].qos = qos;
			return;
		}
		ex->mark = idx->gen;
		ex->row = NO_ROW;
		if(tracked_matches(ex, topic)) return;
	}
	if(*n == idx->result_cap){
		size_t cap = idx->result_cap ? idx->result_cap * 2 : 16;
		struct autosub_match *r = ix_alloc(idx, cap * sizeof(*r));
		if(r == NULL){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: out of memory: auto-subscription delivery to \"%s\" skipped", c->id);
			return;
		}
		if(*n > 0) memcpy(r, idx->result, *n * sizeof(*r));
		ix_free(idx, idx->result, idx->result_cap * sizeof(*r));
		idx->result = r;
		idx->result_cap = cap;
	}
	if(ex) ex->row = (uint32_t)*n;
	idx->result[(*n)++] = (struct autosub_match){c->id, c->owner, qos};
}

size_t autosub_index_match(struct autosub_index *idx, const char *topic, const struct autosub_match **out)
{
	const char *end = topic;
	unsigned seen = 0;
	size_t n = 0, candidates = 0, headlen = 0;

	*out = NULL;
	if(idx == NULL || topic == NULL) return 0;
	idx->gen++;
	idx->matches++;
	for(size_t d = 0; d < idx->n_depth; d++){
		const struct depth *dp = &idx->depth[d];
		unsigned k = dp->levels;
		size_t plen;

		/* Depths ascend: past the root, every prefix starts with a byte
		 * counted in first. */
		if(k > 0 && idx->first[(unsigned char)*topic] == 0) break;
		/* Walk to the end of the topic's k-th level, once over all depths. */
		while(seen < k){
			if(seen > 0){
				if(*end == '\0') goto done;
				end++;
			}
			end = strchrnul(end, '/');
			if(++seen == 1) headlen = (size_t)(end - topic);
		}
		plen = (size_t)(end - topic);
		if(dp->keys){
			/* k >= 2: the key is the levels after the head. */
			struct ih_strmap_node *kn = ih_strmap_find(&idx->keys, topic + headlen + 1, plen - headlen - 1);

			uint64_t word = autosub_head_word(topic, headlen);

			for(; kn; kn = ih_strmap_next_equal(kn)){
				struct asx_client *c = ih_container_of(kn, struct asx_client, knode);
				int qos = autosub_shapes_match(client_shapes(c), topic, headlen, word, end, &candidates);

				if(qos < 0) continue;
				/* The usual case inline: no extra, room in the result. */
				if(!(c->sx & 1) && n < idx->result_cap){
					idx->result[n++] = (struct autosub_match){c->id, c->owner, qos};
				}else{
					record(idx, c, qos, topic, &n);
				}
			}
		}
		if(dp->prefixes){
			const struct asx_prefix *p = autosub_prefix_find(idx, topic, plen, k);

			for(const struct asx_sub *s = p ? p->head : NULL; s; s = s->next){
				candidates++;
				/* Equal keys: the topic starts with the filter's literal prefix. */
				if(acl_topic_matches_from(s->filter, topic, plen)) record(idx, s->client, s->qos, topic, &n);
			}
		}
	}
done:
	idx->candidates += candidates;
	idx->last_candidates = candidates;
	*out = idx->result;
	return n;
}

/* ------------------------------------------------------------------ */
/* lifecycle and figures                                                */

int autosub_index_new(struct autosub_index **out, bool client_chosen_prefixes)
{
	struct autosub_index *idx = mosquitto_calloc(1, sizeof(*idx));
	int prc, krc;

	if(idx == NULL) return MOSQ_ERR_NOMEM;
	idx->bytes = sizeof(*idx);
	/* The key and prefix tables are looked up once per message. Their
	 * keys come from the templates expanded with registry values
	 * (usernames, tags) and from the platform's API subscriptions, none of
	 * which a client chooses, unless a template holds %c: only then do
	 * they need SipHash-1-3 rather than the cheap mix (core/keyhash.h). */
	if(client_chosen_prefixes){
		prc = ih_strmap_init_fast(&idx->prefixes, mosquitto_calloc, mosquitto_free);
		krc = ih_strmap_init_fast(&idx->keys, mosquitto_calloc, mosquitto_free);
	}else{
		prc = ih_strmap_init_trusted(&idx->prefixes, mosquitto_calloc, mosquitto_free);
		krc = ih_strmap_init_trusted(&idx->keys, mosquitto_calloc, mosquitto_free);
	}
	/* The client table is looked up per bind and subscribe, not per
	 * message: dense, it costs ~3 bytes a client instead of ~13. */
	if(ih_strmap_init_dense(&idx->clients, mosquitto_calloc, mosquitto_free) || prc || krc
			|| ih_strmap_init_fast(&idx->shapes, mosquitto_calloc, mosquitto_free)){
		autosub_index_free(idx);
		return MOSQ_ERR_NOMEM;
	}
	*out = idx; /* the caller owns idx; autosub_index_free frees it */
	return MOSQ_ERR_SUCCESS;
}

static void client_free(struct ih_strmap_node *n, void *ud)
{
	struct asx_client *c = ih_container_of(n, struct asx_client, node);
	struct asx_extra *ex = client_extra(c);

	(void)ud;
	if(ex){
		for(size_t j = 0; j < ex->n_tracked; j++) mosquitto_free(ex->tracked[j]);
		mosquitto_free(ex->tracked);
		mosquitto_free(ex->subs);
		mosquitto_free(ex);
	}
	mosquitto_free(c);
}

/* Everything goes, so nothing is unlinked: each map is walked once (the
 * key map's nodes are in the client records). */
void autosub_index_free(struct autosub_index *idx)
{
	if(idx == NULL) return;
	ih_strmap_foreach(&idx->clients, client_free, NULL);
	ih_strmap_foreach(&idx->prefixes, autosub_prefix_free_node, NULL);
	ih_strmap_foreach(&idx->shapes, autosub_shapes_free_node, NULL);
	ih_strmap_cleanup(&idx->clients);
	ih_strmap_cleanup(&idx->keys);
	ih_strmap_cleanup(&idx->shapes);
	ih_strmap_cleanup(&idx->prefixes);
	mosquitto_free(idx->root);
	mosquitto_free(idx->result);
	mosquitto_free(idx->depth);
	mosquitto_free(idx);
}

size_t autosub_index_memory(const struct autosub_index *idx)
{
	return idx ? idx->bytes + ih_strmap_bytes(&idx->clients) + ih_strmap_bytes(&idx->keys)
			+ ih_strmap_bytes(&idx->shapes) + ih_strmap_bytes(&idx->prefixes) : 0;
}

size_t autosub_index_clients(const struct autosub_index *idx)
{
	return idx ? ih_strmap_count(&idx->clients) : 0;
}

void autosub_index_stats(const struct autosub_index *idx, struct autosub_index_stats *out)
{
	memset(out, 0, sizeof(*out));
	if(idx == NULL) return;
	out->clients = ih_strmap_count(&idx->clients);
	out->filters = idx->filters;
	out->prefixes = ih_strmap_count(&idx->prefixes) + (idx->root != NULL) + idx->n_keys;
	out->depths = idx->n_depth;
	out->tracked = idx->tracked;
	out->bytes = autosub_index_memory(idx);
	out->matches = idx->matches;
	out->candidates = idx->candidates;
	out->last_candidates = idx->last_candidates;
}
