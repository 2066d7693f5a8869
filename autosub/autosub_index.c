/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Auto-subscription delivery index (design in autosub_index.h).
 *
 *   clients:  core/strmap by client id -> client -> its bound filter block
 *   prefixes: core/strmap by literal prefix -> list of filters; the prefix
 *             of the filters that start with a wildcard (no literal level)
 *             is `root`, outside the map
 *   depths:   sorted distinct level counts of the prefixes in use
 *
 * A non-empty literal prefix has one level more than it has slashes, so its
 * bytes alone are its key; the empty prefix is either "no literal level"
 * (root) or "one empty level" ("/+"), which the map holds under "".
 *
 * Before any map lookup, a message's topic must start with a byte that
 * starts some literal prefix (`first`, a count per byte value): telemetry
 * topics ("upload_data/...") share no first byte with the default
 * auto-subscriptions (cmd/, rpc/, m2m/), so most messages cost one load
 * here instead of a keyed hash. It only ever skips lookups that would miss.
 *
 * Both maps are keyed SipHash (core/keyhash.h): client ids and topics come
 * from devices. The prefix map is looked up once per depth per message, so
 * it uses SipHash-1-3; the client map, looked up per bind and subscribe,
 * SipHash-2-4. Every allocation goes through ix_alloc/ix_free or one of
 * the maps (ih_strmap_bytes), so autosub_index_memory() is exact.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "core/strmap.h"
#include "acl/topic.h"
#include "autosub/autosub_index.h"

struct asx_client;
struct asx_prefix;

/* One per bound filter of every device. Its prefix is found by looking
 * the filter up again when it is unlinked (not on any hot path); the
 * client stays a pointer, which every match reads. */
struct asx_sub {
	struct asx_sub *prev, *next;    /* in the prefix's list */
	struct asx_client *client;
	const char *filter;             /* in the client's filter block */
	uint8_t qos;
};

struct asx_subs {
	size_t n;
	size_t bytes;
	struct asx_sub sub[];           /* then the filter strings */
};

struct asx_client {
	struct ih_strmap_node node;     /* key: id */
	void *owner;
	struct asx_subs *subs;
	char **tracked;
	uint64_t mark;                  /* idx->gen of the match that last saw it */
	uint32_t row;                   /* its result row then, or NO_ROW: excluded */
	uint8_t n_tracked;              /* at most AUTOSUB_TRACK_MAX */
	bool held;                      /* tracked not trusted yet: see hold */
	char id[];
};

#define NO_ROW UINT32_MAX

/* The prefix's bytes are not copied: node.key points at the start of one
 * of its filters (node.keylen bytes), and moves to another when that one
 * is unlinked (sub_unlink). Most prefixes hold one device's identity, so a
 * copy per prefix was a copy per device. */
struct asx_prefix {
	struct ih_strmap_node node;     /* in the map unless root; key: see above */
	struct asx_sub *head;
	uint32_t n_subs;                /* at most one per connection */
	unsigned levels;
};

struct depth {
	unsigned levels;
	size_t prefixes;
};

struct autosub_index {
	struct ih_strmap clients;
	struct ih_strmap prefixes;
	struct asx_prefix *root;        /* level count 0; NULL when unused */
	/* Prefixes in the map by the first byte a matching topic starts with:
	 * key[0], or '/' and '\0' for the empty key (an empty first level). */
	uint32_t first[256];
	struct depth *depth;
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

/* ------------------------------------------------------------------ */
/* accounted allocation and the two hash tables                         */

static void *ix_alloc(struct autosub_index *idx, size_t size)
{
	void *p = mosquitto_malloc(size);
	if(p) idx->bytes += size;
	return p;
}

static void ix_free(struct autosub_index *idx, void *p, size_t size)
{
	if(p == NULL) return;
	idx->bytes -= size;
	mosquitto_free(p);
}

static struct asx_client *client_find(const struct autosub_index *idx, const char *id)
{
	struct ih_strmap_node *n = ih_strmap_find(&idx->clients, id, strlen(id));

	return n ? ih_container_of(n, struct asx_client, node) : NULL;
}

static struct asx_prefix *prefix_find(const struct autosub_index *idx, const char *key, size_t len,
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

/* ------------------------------------------------------------------ */
/* prefix depths                                                        */

static int depth_ref(struct autosub_index *idx, unsigned levels)
{
	size_t i;

	for(i = 0; i < idx->n_depth && idx->depth[i].levels < levels; i++);
	if(i < idx->n_depth && idx->depth[i].levels == levels){
		idx->depth[i].prefixes++;
		return MOSQ_ERR_SUCCESS;
	}
	if(idx->n_depth == idx->depth_cap){
		size_t cap = idx->depth_cap ? idx->depth_cap * 2 : 4;
		struct depth *d = mosquitto_realloc(idx->depth, cap * sizeof(*d));
		if(d == NULL) return MOSQ_ERR_NOMEM;
		idx->bytes += (cap - idx->depth_cap) * sizeof(*d);
		idx->depth = d;
		idx->depth_cap = cap;
	}
	memmove(idx->depth + i + 1, idx->depth + i, (idx->n_depth - i) * sizeof(*idx->depth));
	idx->depth[i] = (struct depth){levels, 1};
	idx->n_depth++;
	return MOSQ_ERR_SUCCESS;
}

static void depth_unref(struct autosub_index *idx, unsigned levels)
{
	size_t i;

	for(i = 0; i < idx->n_depth && idx->depth[i].levels != levels; i++);
	if(i == idx->n_depth || --idx->depth[i].prefixes > 0) return;
	memmove(idx->depth + i, idx->depth + i + 1, (idx->n_depth - i - 1) * sizeof(*idx->depth));
	if(--idx->n_depth == 0){
		ix_free(idx, idx->depth, idx->depth_cap * sizeof(*idx->depth));
		idx->depth = NULL;
		idx->depth_cap = 0;
	}
}

/* ------------------------------------------------------------------ */
/* linking filters into the prefix index                                */

/* Whole literal levels before the first wildcard: bytes and level count. */
static void filter_prefix(const char *filter, size_t *len, unsigned *levels)
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

static int sub_link(struct autosub_index *idx, struct asx_sub *s)
{
	struct asx_prefix *p;
	size_t len;
	unsigned levels;

	filter_prefix(s->filter, &len, &levels);
	p = prefix_find(idx, s->filter, len, levels);
	if(p == NULL){
		p = ix_alloc(idx, sizeof(*p));
		if(p == NULL) return MOSQ_ERR_NOMEM;
		if(depth_ref(idx, levels) != MOSQ_ERR_SUCCESS){
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
	filter_prefix(s->filter, &len, &levels);
	p = prefix_find(idx, s->filter, len, levels);

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
	depth_unref(idx, p->levels);
	ix_free(idx, p, sizeof(*p));
}

static void subs_release(struct autosub_index *idx, struct asx_subs *subs, size_t linked)
{
	if(subs == NULL) return;
	for(size_t i = 0; i < linked; i++) sub_unlink(idx, &subs->sub[i]);
	ix_free(idx, subs, subs->bytes);
}

/* Copy the valid, distinct filters into one block (not yet linked). */
static struct asx_subs *subs_new(struct autosub_index *idx, struct asx_client *c,
		const struct autosub_filter *filters, size_t n)
{
	struct asx_subs *subs;
	size_t count = 0, bytes = 0, size;
	char *pool;

	for(size_t i = 0; i < n; i++){
		if(!acl_filter_valid(filters[i].filter)) continue;
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
		const char *f = filters[i].filter;
		int qos = filters[i].qos < 0 ? 0 : filters[i].qos > 2 ? 2 : filters[i].qos;
		size_t j, len;

		if(!acl_filter_valid(f)) continue;
		for(j = 0; j < subs->n && strcmp(subs->sub[j].filter, f); j++);
		if(j < subs->n){
			if(qos > subs->sub[j].qos) subs->sub[j].qos = (uint8_t)qos;
			continue;
		}
		len = strlen(f) + 1;
		memcpy(pool, f, len);
		subs->sub[subs->n++] = (struct asx_sub){.client = c, .filter = pool, .qos = (uint8_t)qos};
		pool += len;
	}
	return subs;
}

/* ------------------------------------------------------------------ */
/* clients                                                              */

static void tracked_clear(struct autosub_index *idx, struct asx_client *c)
{
	for(size_t i = 0; i < c->n_tracked; i++){
		ix_free(idx, c->tracked[i], strlen(c->tracked[i]) + 1);
	}
	ix_free(idx, c->tracked, AUTOSUB_TRACK_MAX * sizeof(char *));
	idx->tracked -= c->n_tracked;
	c->tracked = NULL;
	c->n_tracked = 0;
	c->held = false;
}

static void client_remove(struct autosub_index *idx, struct asx_client *c)
{
	if(c->subs) subs_release(idx, c->subs, c->subs->n);
	tracked_clear(idx, c);
	ih_strmap_remove(&idx->clients, &c->node);
	ix_free(idx, c, sizeof(*c) + c->node.keylen + 1);
}

static struct asx_client *client_add(struct autosub_index *idx, const char *id)
{
	size_t len = strlen(id);
	struct asx_client *c = ix_alloc(idx, sizeof(*c) + len + 1);

	if(c == NULL) return NULL;
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, len + 1);
	ih_strmap_insert(&idx->clients, &c->node, c->id, len);
	return c;
}

static size_t count_valid(const struct autosub_filter *filters, size_t n)
{
	size_t valid = 0;

	for(size_t i = 0; i < n; i++){
		if(acl_filter_valid(filters[i].filter)) valid++;
	}
	return valid;
}

int autosub_index_bind(struct autosub_index *idx, const char *client_id,
		const struct autosub_filter *filters, size_t n, void *owner)
{
	struct asx_client *c;
	struct asx_subs *subs = NULL;
	bool created = false;
	size_t linked = 0;

	if(idx == NULL || client_id == NULL) return MOSQ_ERR_INVAL;
	if(count_valid(filters, n) == 0){
		autosub_index_unbind(idx, client_id);
		return MOSQ_ERR_SUCCESS;
	}
	c = client_find(idx, client_id);
	if(c == NULL){
		c = client_add(idx, client_id);
		if(c == NULL) return MOSQ_ERR_NOMEM;
		created = true;
	}
	subs = subs_new(idx, c, filters, n);
	if(subs == NULL) goto fail;
	for(linked = 0; linked < subs->n; linked++){
		if(sub_link(idx, &subs->sub[linked]) != MOSQ_ERR_SUCCESS) goto fail;
	}
	if(c->subs) subs_release(idx, c->subs, c->subs->n);
	c->subs = subs;   /* c owns subs from here */
	c->owner = owner;
	return MOSQ_ERR_SUCCESS;
fail:
	subs_release(idx, subs, linked);
	if(created) client_remove(idx, c);
	return MOSQ_ERR_NOMEM;
}

void autosub_index_unbind(struct autosub_index *idx, const char *client_id)
{
	struct asx_client *c;

	if(idx == NULL || client_id == NULL) return;
	c = client_find(idx, client_id);
	if(c) client_remove(idx, c);
}

void autosub_index_release(struct autosub_index *idx, const char *client_id, const void *owner)
{
	struct asx_client *c = (idx && client_id) ? client_find(idx, client_id) : NULL;

	if(c && c->owner == owner) client_remove(idx, c);
}

/* ------------------------------------------------------------------ */
/* the client's own subscriptions                                       */

static bool overlaps_any(const struct asx_client *c, const char *filter)
{
	for(size_t i = 0; c->subs && i < c->subs->n; i++){
		if(acl_filters_overlap(c->subs->sub[i].filter, filter)) return true;
	}
	return false;
}

bool autosub_index_note_subscribe(struct autosub_index *idx, const char *client_id, const char *filter)
{
	struct asx_client *c;
	bool overlaps;
	char *copy;

	if(idx == NULL || client_id == NULL || filter == NULL) return false;
	/* A shared subscription gives the message to one group member only. */
	if(acl_share_strip(filter) != filter) return false;
	c = client_find(idx, client_id);
	if(c == NULL || c->subs == NULL) return false;
	for(size_t i = 0; i < c->n_tracked; i++){
		if(!strcmp(c->tracked[i], filter)) return true;
	}
	/* Tracked even without an overlap today: a later bind (a tag added)
	 * may bring a filter that overlaps it, and by then the broker no
	 * longer tells us about the subscription. */
	overlaps = overlaps_any(c, filter);
	if(c->n_tracked == AUTOSUB_TRACK_MAX){
		size_t i;

		if(!overlaps) return false;
		/* Full: one that overlaps nothing bound now makes room. */
		for(i = 0; i < c->n_tracked && overlaps_any(c, c->tracked[i]); i++);
		if(i == c->n_tracked) return false;
		ix_free(idx, c->tracked[i], strlen(c->tracked[i]) + 1);
		c->tracked[i] = c->tracked[--c->n_tracked];
		idx->tracked--;
	}
	if(c->tracked == NULL){
		c->tracked = ix_alloc(idx, AUTOSUB_TRACK_MAX * sizeof(char *));
		if(c->tracked == NULL) return false;
	}
	copy = ix_alloc(idx, strlen(filter) + 1);
	if(copy == NULL) return false;
	memcpy(copy, filter, strlen(filter) + 1);
	c->tracked[c->n_tracked++] = copy;   /* c owns copy */
	idx->tracked++;
	return true;
}

void autosub_index_note_unsubscribe(struct autosub_index *idx, const char *client_id, const char *filter)
{
	struct asx_client *c;

	if(idx == NULL || client_id == NULL || filter == NULL) return;
	c = client_find(idx, client_id);
	if(c == NULL) return;
	for(size_t i = 0; i < c->n_tracked; i++){
		if(strcmp(c->tracked[i], filter)) continue;
		ix_free(idx, c->tracked[i], strlen(c->tracked[i]) + 1);
		c->tracked[i] = c->tracked[--c->n_tracked];
		idx->tracked--;
		return;
	}
}

bool autosub_index_hold_subscriptions(struct autosub_index *idx, const char *client_id)
{
	struct asx_client *c = (idx && client_id) ? client_find(idx, client_id) : NULL;

	if(c == NULL || c->n_tracked == 0) return false;
	c->held = true;
	return true;
}

void autosub_index_confirm_subscriptions(struct autosub_index *idx, const char *client_id, bool kept)
{
	struct asx_client *c = (idx && client_id) ? client_find(idx, client_id) : NULL;

	if(c == NULL || !c->held) return;
	if(kept) c->held = false;
	else tracked_clear(idx, c);
}

void autosub_index_clear_subscriptions(struct autosub_index *idx, const char *client_id)
{
	struct asx_client *c;

	if(idx == NULL || client_id == NULL) return;
	c = client_find(idx, client_id);
	if(c) tracked_clear(idx, c);
}

/* ------------------------------------------------------------------ */
/* match: the per-message path                                          */

static bool tracked_matches(const struct asx_client *c, const char *topic)
{
	if(c->held) return false;   /* a duplicate rather than a loss */
	for(size_t i = 0; i < c->n_tracked; i++){
		if(acl_topic_matches(c->tracked[i], topic)) return true;
	}
	return false;
}

static void record(struct autosub_index *idx, const struct asx_sub *s, const char *topic, size_t *n)
{
	struct asx_client *c = s->client;

	if(c->mark == idx->gen){
		if(c->row != NO_ROW && s->qos > idx->result[c->row].qos) idx->result[c->row].qos = s->qos;
		return;
	}
	c->mark = idx->gen;
	c->row = NO_ROW;
	if(tracked_matches(c, topic)) return;
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
	c->row = (uint32_t)*n;
	idx->result[(*n)++] = (struct autosub_match){c->id, c->owner, s->qos};
}

size_t autosub_index_match(struct autosub_index *idx, const char *topic, const struct autosub_match **out)
{
	const char *end = topic;
	unsigned seen = 0;
	size_t n = 0, candidates = 0;

	*out = NULL;
	if(idx == NULL || topic == NULL) return 0;
	idx->gen++;
	idx->matches++;
	for(size_t d = 0; d < idx->n_depth; d++){
		unsigned k = idx->depth[d].levels;
		const struct asx_prefix *p;
		size_t plen;

		/* Depths ascend: past the root, every prefix is in the map. */
		if(k > 0 && idx->first[(unsigned char)*topic] == 0) break;
		/* Walk to the end of the topic's k-th level, once over all depths. */
		while(seen < k){
			if(seen > 0){
				if(*end == '\0') goto done;
				end++;
			}
			end = strchrnul(end, '/');
			seen++;
		}
		plen = (size_t)(end - topic);
		p = prefix_find(idx, topic, plen, k);
		if(p == NULL) continue;
		for(const struct asx_sub *s = p->head; s; s = s->next){
			bool hit;

			candidates++;
			/* Equal keys: the topic starts with the filter's literal prefix. */
			hit = acl_topic_matches_from(s->filter, topic, plen);
			if(hit) record(idx, s, topic, &n);
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
	int prc;

	if(idx == NULL) return MOSQ_ERR_NOMEM;
	idx->bytes = sizeof(*idx);
	/* The prefix table is looked up once per message. Its keys come from
	 * the templates expanded with registry values (usernames, tags) and
	 * from the platform's API subscriptions, none of which a client
	 * chooses, unless a template holds %c: only then does it need
	 * SipHash-1-3 rather than the cheap mix (core/keyhash.h). */
	prc = client_chosen_prefixes ? ih_strmap_init_fast(&idx->prefixes, mosquitto_calloc, mosquitto_free)
			: ih_strmap_init_trusted(&idx->prefixes, mosquitto_calloc, mosquitto_free);
	if(ih_strmap_init(&idx->clients, mosquitto_calloc, mosquitto_free) || prc){
		autosub_index_free(idx);
		return MOSQ_ERR_NOMEM;
	}
	*out = idx; /* the caller owns idx; autosub_index_free frees it */
	return MOSQ_ERR_SUCCESS;
}

static void client_free(struct ih_strmap_node *n, void *ud)
{
	struct asx_client *c = ih_container_of(n, struct asx_client, node);

	(void)ud;
	for(size_t j = 0; j < c->n_tracked; j++) mosquitto_free(c->tracked[j]);
	mosquitto_free(c->tracked);
	mosquitto_free(c->subs);
	mosquitto_free(c);
}

static void prefix_free(struct ih_strmap_node *n, void *ud)
{
	(void)ud;
	mosquitto_free(ih_container_of(n, struct asx_prefix, node));
}

/* Everything goes, so nothing is unlinked: each map is walked once. */
void autosub_index_free(struct autosub_index *idx)
{
	if(idx == NULL) return;
	ih_strmap_foreach(&idx->clients, client_free, NULL);
	ih_strmap_foreach(&idx->prefixes, prefix_free, NULL);
	ih_strmap_cleanup(&idx->clients);
	ih_strmap_cleanup(&idx->prefixes);
	mosquitto_free(idx->root);
	mosquitto_free(idx->result);
	mosquitto_free(idx->depth);
	mosquitto_free(idx);
}

size_t autosub_index_memory(const struct autosub_index *idx)
{
	return idx ? idx->bytes + ih_strmap_bytes(&idx->clients) + ih_strmap_bytes(&idx->prefixes) : 0;
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
	out->prefixes = ih_strmap_count(&idx->prefixes) + (idx->root != NULL);
	out->depths = idx->n_depth;
	out->tracked = idx->tracked;
	out->bytes = autosub_index_memory(idx);
	out->matches = idx->matches;
	out->candidates = idx->candidates;
	out->last_candidates = idx->last_candidates;
}
