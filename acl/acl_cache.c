/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Per-connection ACL decision cache (policy and bounds in acl_cache.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "acl/acl_cache.h"
#include "core/keyhash.h"

#define WAYS 4
#define BUF_ROUND 32

/* Stepping aside (acl_cache.h): judged every PROBE_WINDOW lookups; a
 * window with fewer than PROBE_WINDOW / PROBE_MIN_HITS_DIV hits turns the
 * cache off for the next BYPASS_LOOKUPS lookups. */
#define PROBE_WINDOW 64
#define PROBE_MIN_HITS_DIV 4
#define BYPASS_LOOKUPS 1024

struct slot {
	uint64_t hash;
	char *topic;        /* owned buffer of `cap` bytes, reused across stores */
	uint32_t expires;   /* valid while now < expires */
	uint32_t stamp;     /* LRU: the cache clock at the last hit or store */
	uint16_t len;
	uint16_t cap;
	uint8_t access;
	uint8_t decision;
	uint8_t used;
};

struct acl_cache {
	uint32_t nsets;
	uint32_t ways;
	uint32_t ttl;
	uint32_t clock;
	uint32_t win_lookups;   /* lookups in the current probe window */
	uint32_t win_hits;
	uint32_t bypass;        /* lookups left that skip the cache */
	bool fixed;             /* never step aside (acl_cache_set_adaptive) */
	size_t buf_bytes;
	/* Allocated by the first store: most devices of a large fleet sit idle,
	 * and an idle connection should not pay for slots it never fills. */
	struct slot *slot;
};

/* The seed of every cache's hash, drawn when the first cache is made
 * (broker thread only, as every function here). */
static uint64_t spread_seed;
static bool spread_seeded;

int acl_cache_new(struct acl_cache **out, uint32_t max_size, uint32_t ttl_s)
{
	struct acl_cache *c;
	uint32_t ways, nsets;

	*out = NULL;
	if(max_size == 0 || ttl_s == 0) return MOSQ_ERR_SUCCESS;
	ways = max_size < WAYS ? max_size : WAYS;
	nsets = max_size / ways;
	if(!spread_seeded){
		spread_seed = ih_keyhash_spread_seed();
		spread_seeded = true;
	}
	c = mosquitto_calloc(1, sizeof(*c));
	if(c == NULL) return MOSQ_ERR_NOMEM;
	c->nsets = nsets;
	c->ways = ways;
	c->ttl = ttl_s;
	*out = c; /* the caller owns c; acl_cache_free frees it */
	return MOSQ_ERR_SUCCESS;
}

void acl_cache_free(struct acl_cache *c)
{
	if(c == NULL) return;
	for(size_t i = 0; c->slot && i < (size_t)c->nsets * c->ways; i++){
		mosquitto_free(c->slot[i].topic);
	}
	mosquitto_free(c->slot);
	mosquitto_free(c);
}

static inline struct slot *set_of(struct acl_cache *c, uint64_t hash)
{
	/* Multiply-shift maps the hash onto [0, nsets) without a division. */
	uint32_t set = (uint32_t)(((hash >> 32) * c->nsets) >> 32);
	return &c->slot[(size_t)set * c->ways];
}

/* Empty first, then expired, then least recently used. */
static uint32_t victim(const struct acl_cache *c, const struct slot *set, uint32_t now)
{
	uint32_t best = 0;

	for(uint32_t w = 0; w < c->ways; w++){
		if(!set[w].used || now >= set[w].expires) return w;
		if((int32_t)(set[w].stamp - set[best].stamp) < 0) best = w;
	}
	return best;
}

/* One more lookup in the probe window; at its end, decide whether the
 * cache earns its keep. */
static inline void probe_count(struct acl_cache *c, bool hit)
{
	c->win_hits += hit;
	if(++c->win_lookups < PROBE_WINDOW) return;
	if(c->win_hits < PROBE_WINDOW / PROBE_MIN_HITS_DIV && !c->fixed) c->bypass = BYPASS_LOOKUPS;
	c->win_lookups = 0;
	c->win_hits = 0;
}

bool acl_cache_lookup(struct acl_cache *c, int access, const char *topic, uint32_t now,
		struct acl_cache_key *key, enum acl_decision *decision)
{
	struct slot *set;
	size_t len;
	uint64_t h;

	key->len = SIZE_MAX;
	if(c == NULL || topic == NULL) return false;
	if(c->bypass){
		c->bypass--;   /* key->len SIZE_MAX: the following store does nothing */
		return false;
	}
	len = strlen(topic);
	if(len > ACL_CACHE_TOPIC_MAX){
		probe_count(c, false);
		return false;
	}
	/* The cheap spreading mix, not SipHash (core/keyhash.h says when that
	 * is allowed): other clients' topics reach this cache through
	 * deliveries, but four ways a set bound every lookup, so a forged
	 * collision can only turn hits into misses. The access type only goes
	 * into the low bits, which do not pick the set: a topic's read and
	 * write entries share one. */
	h = ih_keyhash_spread(topic, len, spread_seed) ^ (uint64_t)(unsigned)access;
	if(c->slot == NULL){
		key->slot = UINT32_MAX;   /* the store allocates, then picks the slot */
	}else{
		set = set_of(c, h);
		for(uint32_t w = 0; w < c->ways; w++){
			struct slot *s = &set[w];
			/* The hash only narrows the search: the bytes decide. */
			if(s->hash != h || !s->used || s->len != len || s->access != (uint8_t)access
					|| memcmp(s->topic, topic, len) != 0){
				continue;
			}
			if(now < s->expires){
				s->stamp = ++c->clock;
				*decision = (enum acl_decision)s->decision;
				probe_count(c, true);
				return true;
			}
			s->used = 0;   /* expired: its slot is the natural place for the refresh */
			break;
		}
		key->slot = (uint32_t)(set - c->slot) + victim(c, set, now);
	}
	probe_count(c, false);
	key->hash = h;
	key->len = len;
	return false;
}

void acl_cache_store(struct acl_cache *c, const struct acl_cache_key *key, int access, const char *topic,
		enum acl_decision decision, uint32_t now)
{
	struct slot *s;
	size_t need;

	if(c == NULL || topic == NULL || key->len > ACL_CACHE_TOPIC_MAX) return;
	if(c->slot == NULL){
		c->slot = mosquitto_calloc((size_t)c->nsets * c->ways, sizeof(struct slot));
		if(c->slot == NULL) return;   /* only an optimisation: skip it */
		s = set_of(c, key->hash);
	}else if(key->slot < c->nsets * c->ways){
		s = &c->slot[key->slot];
	}else{
		return;
	}
	need = key->len + 1;
	if(s->cap < need){
		size_t cap = (need + BUF_ROUND - 1) / BUF_ROUND * BUF_ROUND;
		char *buf = mosquitto_realloc(s->topic, cap);
		if(buf == NULL) return;   /* only an optimisation: skip it */
		c->buf_bytes += cap - s->cap;
		s->topic = buf;
		s->cap = (uint16_t)cap;
	}
	memcpy(s->topic, topic, need);
	s->hash = key->hash;
	s->len = (uint16_t)key->len;
	s->access = (uint8_t)access;
	s->decision = (uint8_t)decision;
	s->expires = now > UINT32_MAX - c->ttl ? UINT32_MAX : now + c->ttl;
	s->stamp = ++c->clock;
	s->used = 1;
}

void acl_cache_clear(struct acl_cache *c)
{
	if(c == NULL || c->slot == NULL) return;
	for(size_t i = 0; i < (size_t)c->nsets * c->ways; i++){
		c->slot[i].used = 0;
	}
}

size_t acl_cache_memory(const struct acl_cache *c)
{
	if(c == NULL) return 0;
	return sizeof(*c) + (c->slot ? (size_t)c->nsets * c->ways * sizeof(struct slot) : 0) + c->buf_bytes;
}

size_t acl_cache_used(const struct acl_cache *c)
{
	size_t n = 0;

	if(c == NULL || c->slot == NULL) return 0;
	for(size_t i = 0; i < (size_t)c->nsets * c->ways; i++){
		if(c->slot[i].used) n++;
	}
	return n;
}

void acl_cache_set_adaptive(struct acl_cache *c, bool on)
{
	if(c == NULL) return;
	c->fixed = !on;
	if(!on) c->bypass = 0;
}

bool acl_cache_bypassed(const struct acl_cache *c)
{
	return c != NULL && c->bypass > 0;
}

size_t acl_cache_capacity(const struct acl_cache *c)
{
	return c ? (size_t)c->nsets * c->ways : 0;
}
