/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Failed-login throttling (see throttle.h). One table holds both kinds of
 * key, told apart by a one-letter prefix ("u:" username, "a:" address).
 */
#include <stdbool.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "core/lru.h"
#include "core/strmap.h"
#include "auth/throttle.h"

/* Longest key tracked; longer usernames were refused before reaching us,
 * longer addresses are truncated (they are IP literals in practice). */
#define THROTTLE_KEY_MAX 600

struct throttle_entry {
	struct ih_strmap_node node;
	struct ih_lru_link lru;
	uint32_t failures;
	int64_t window_start_ms;
	int64_t blocked_until_ms;   /* 0: not blocked */
	char key[];
};

struct auth_throttle {
	struct ih_strmap map;
	struct ih_lru lru;
	uint32_t fail_max;
	int64_t window_ms;
	int64_t block_ms;
	size_t track_max;
};

int auth_throttle_init(struct auth_throttle **out, const struct ih_config *cfg)
{
	struct auth_throttle *t = mosquitto_calloc(1, sizeof(*t));

	if(t == NULL) return -1;
	if(ih_strmap_init(&t->map, mosquitto_calloc, mosquitto_free)){
		mosquitto_free(t);
		return -1;
	}
	t->fail_max = cfg->auth_fail_max;
	t->window_ms = (int64_t)cfg->auth_fail_window_s * 1000;
	t->block_ms = (int64_t)cfg->auth_fail_block_s * 1000;
	t->track_max = cfg->auth_fail_track_max ? cfg->auth_fail_track_max : 1;
	*out = t;
	return 0;
}

static void entry_drop(struct auth_throttle *t, struct throttle_entry *e)
{
	ih_strmap_remove(&t->map, &e->node);
	ih_lru_unlink(&t->lru, &e->lru);
	mosquitto_free(e);
}

void auth_throttle_cleanup(struct auth_throttle *t)
{
	if(t == NULL) return;
	while(t->lru.tail){
		entry_drop(t, ih_container_of(t->lru.tail, struct throttle_entry, lru));
	}
	ih_strmap_cleanup(&t->map);
	mosquitto_free(t);
}

/* "<kind>:<name>", cut to THROTTLE_KEY_MAX - 1 bytes. Runs on every
 * connect, so no printf. */
static size_t make_key(char *buf, char kind, const char *name)
{
	size_t len = strnlen(name, THROTTLE_KEY_MAX - 3);

	buf[0] = kind;
	buf[1] = ':';
	memcpy(buf + 2, name, len);
	buf[len + 2] = '\0';
	return len + 2;
}

static struct throttle_entry *find(struct auth_throttle *t, char kind, const char *name)
{
	char key[THROTTLE_KEY_MAX];
	size_t len = make_key(key, kind, name);
	struct ih_strmap_node *n = ih_strmap_find(&t->map, key, len);

	return n ? ih_container_of(n, struct throttle_entry, node) : NULL;
}

static bool is_blocked(struct auth_throttle *t, char kind, const char *name, int64_t now_ms)
{
	struct throttle_entry *e;

	if(name == NULL) return false;
	e = find(t, kind, name);
	return e && e->blocked_until_ms > now_ms;
}

const char *auth_throttle_check(struct auth_throttle *t, const char *username, const char *address, int64_t now_ms)
{
	(void)address; /* an address block alone never refuses: see auth_throttle_address_blocked */
	if(t->fail_max == 0) return NULL;
	if(is_blocked(t, 'u', username, now_ms)) return "too many failed logins for this username";
	return NULL;
}

bool auth_throttle_address_blocked(struct auth_throttle *t, const char *address, int64_t now_ms)
{
	if(t->fail_max == 0) return false;
	return is_blocked(t, 'a', address, now_ms);
}

static struct throttle_entry *get_or_add(struct auth_throttle *t, char kind, const char *name, int64_t now_ms)
{
	char key[THROTTLE_KEY_MAX];
	size_t len = make_key(key, kind, name);
	struct ih_strmap_node *n = ih_strmap_find(&t->map, key, len);
	struct throttle_entry *e;

	if(n){
		e = ih_container_of(n, struct throttle_entry, node);
		ih_lru_touch(&t->lru, &e->lru);
		return e;
	}
	while(t->map.count >= t->track_max && t->lru.tail){
		entry_drop(t, ih_container_of(t->lru.tail, struct throttle_entry, lru));
	}
	e = mosquitto_calloc(1, sizeof(*e) + len + 1);
	if(e == NULL) return NULL;
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->window_start_ms = now_ms;
	ih_strmap_insert(&t->map, &e->node, e->key, len);
	ih_lru_push_head(&t->lru, &e->lru);
	return e;
}

/* threshold: failures that start a block (auth_fail_max, or 1 for a
 * username failing from a blocked address). */
static void count_failure(struct auth_throttle *t, char kind, const char *name, uint32_t threshold, int64_t now_ms)
{
	struct throttle_entry *e = get_or_add(t, kind, name, now_ms);

	if(e == NULL) return;
	if(e->blocked_until_ms > now_ms) return;
	/* A window that ran out (or a block that ended) starts counting afresh. */
	if(e->blocked_until_ms || now_ms - e->window_start_ms >= t->window_ms){
		e->failures = 0;
		e->blocked_until_ms = 0;
		e->window_start_ms = now_ms;
	}
	e->failures++;
	if(e->failures >= threshold){
		e->blocked_until_ms = now_ms + t->block_ms;
		if(threshold < t->fail_max){
			mosquitto_log_printf(MOSQ_LOG_WARNING,
					"iothub: failed login for username \"%s\" from a blocked address: refusing it for %llds",
					name, (long long)(t->block_ms / 1000));
			return;
		}
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"iothub: %u failed logins for %s \"%s\" within %llds: refusing it for %llds",
				e->failures, kind == 'u' ? "username" : "address", name,
				(long long)(t->window_ms / 1000), (long long)(t->block_ms / 1000));
	}
}

void auth_throttle_failure(struct auth_throttle *t, const char *username, const char *address, int64_t now_ms)
{
	uint32_t user_threshold;

	if(t->fail_max == 0) return;
	/* From an address already blocked, one failure blocks the username:
	 * each name costs at most one expensive check per block. */
	user_threshold = address && is_blocked(t, 'a', address, now_ms) ? 1 : t->fail_max;
	if(username) count_failure(t, 'u', username, user_threshold, now_ms);
	if(address) count_failure(t, 'a', address, t->fail_max, now_ms);
}

void auth_throttle_success(struct auth_throttle *t, const char *username)
{
	struct throttle_entry *e;

	if(t->fail_max == 0 || username == NULL) return;
	e = find(t, 'u', username);
	if(e) entry_drop(t, e);
}

size_t auth_throttle_tracked(const struct auth_throttle *t)
{
	return t->map.count;
}
