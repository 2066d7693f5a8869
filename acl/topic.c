/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * MQTT topic matching, filter coverage and overlap (see topic.h).
 *
 * Each predicate walks both strings once, without copying or splitting:
 * this is the inner loop of every ACL check and of auto-subscription
 * delivery.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "acl/topic.h"

static inline bool is_plus(const char *level)
{
	return level[0] == '+' && (level[1] == '/' || level[1] == '\0');
}

static inline bool is_hash(const char *level)
{
	return level[0] == '#' && level[1] == '\0';
}

static inline bool is_wild(const char *level)
{
	return (level[0] == '+' || level[0] == '#') && (level[1] == '/' || level[1] == '\0');
}

/* A trailing "/#" also matches the parent level itself ("a/#" matches "a"). */
static inline bool is_slash_hash(const char *p)
{
	return p[0] == '/' && p[1] == '#' && p[2] == '\0';
}

/* Bytes that end a level. A table and two bytes a step: this loop skips
 * every level a `+` matches, on every delivery. */
static const unsigned char level_stop[256] = {['\0'] = 1, ['/'] = 1};

static inline const char *level_end(const char *p)
{
	for(;;){
		if(level_stop[(unsigned char)p[0]]) return p;
		if(level_stop[(unsigned char)p[1]]) return p + 1;
		p += 2;
	}
}

/*
 * Walk the common run of identical bytes, separators included, and stop
 * only where they differ: a valid topic holds no wildcard, so a difference
 * is explained by a wildcard level in the filter or it is a mismatch. Most
 * of a filter is literal, so this beats a level-by-level loop. `start`
 * is where a level begins without a '/' before it (the filter's start).
 */
static bool match_levels(const char *f, const char *t, const char *start)
{
	for(;;){
		while(*f == *t){
			if(*f == '\0') return true;
			f++;
			t++;
		}
		if(*t == '\0' && is_slash_hash(f)) return true;
		if(f != start && f[-1] != '/') return false;
		if(is_hash(f)) return true;
		if(!is_plus(f)) return false;
		f++;
		t = level_end(t);
	}
}

bool acl_topic_matches(const char *filter, const char *topic)
{
	if(filter == NULL || topic == NULL) return false;
	if(topic[0] == '$' && is_wild(filter)) return false;
	return match_levels(filter, topic, filter);
}

bool acl_topic_matches_from(const char *filter, const char *topic, size_t offset)
{
	if(offset == 0) return acl_topic_matches(filter, topic);
	if(filter == NULL || topic == NULL) return false;
	return match_levels(filter + offset, topic + offset, filter);
}

bool acl_topic_matches_tail(const char *filter_tail, const char *topic_tail)
{
	/* The tail's start is a level boundary: no level-start test there. */
	return match_levels(filter_tail, topic_tail, filter_tail);
}

unsigned acl_topic_plus_levels(const char *filter, size_t offset)
{
	unsigned n = 0;

	if(filter == NULL || offset == 0 || filter[0] == '$' || filter[offset - 1] != '/') return 0;
	for(const char *p = filter + offset;; p += 2){
		if(p[0] != '+') return 0;
		n++;
		if(p[1] == '\0') return n;
		if(p[1] != '/') return 0;
	}
}

/* '+' matches any level, the empty one too: exactly n levels. Level by
 * level with the two-bytes-a-step scan (this runs on most ACL misses). */
bool acl_topic_plus_rest_matches(const char *rest, unsigned n)
{
	if(n == 0) return false;
	for(;;){
		rest = level_end(rest);
		if(--n == 0) return *rest == '\0';
		if(*rest == '\0') return false;
		rest++;
	}
}

/*
 * The same identical-run walk as match_levels. Where the two differ, only a
 * wildcard level in the rule can cover the filter's level: `#` anything
 * (the filter's `#` included), `+` one level that is not `#`. Identical
 * wildcards were consumed by the walk, which is right: `+` covers `+`.
 */
static bool covers_levels(const char *r, const char *f, const char *start)
{
	for(;;){
		while(*r == *f){
			if(*r == '\0') return true;
			r++;
			f++;
		}
		if(*f == '\0' && is_slash_hash(r)) return true;
		if(r != start && r[-1] != '/') return false;
		if(is_hash(r)) return true;
		if(!is_plus(r) || is_hash(f)) return false;
		r++;
		f = level_end(f);
	}
}

bool acl_filter_covers(const char *rule, const char *filter)
{
	if(rule == NULL || filter == NULL) return false;
	/* A filter starting with a wildcard reaches no '$' topic, so only a
	 * literal '$' first level in the filter needs the rule. */
	if(filter[0] == '$' && is_wild(rule)) return false;
	return covers_levels(rule, filter, rule);
}

bool acl_filter_covers_from(const char *rule, const char *filter, size_t offset)
{
	if(offset == 0) return acl_filter_covers(rule, filter);
	if(rule == NULL || filter == NULL) return false;
	return covers_levels(rule + offset, filter + offset, rule);
}

bool acl_filter_covers_tail(const char *rule_tail, const char *filter_tail)
{
	return covers_levels(rule_tail, filter_tail, rule_tail);
}

static bool overlap_levels(const char *a, const char *b)
{
	for(;;){
		if(is_hash(a) || is_hash(b)) return true;
		if(is_plus(a) || is_plus(b)){
			a = level_end(a);
			b = level_end(b);
		}else{
			while(*a != '/' && *a != '\0'){
				if(*a != *b) return false;
				a++;
				b++;
			}
			if(*b != '/' && *b != '\0') return false;
		}
		if(*a == '\0' && *b == '\0') return true;
		if(*a == '\0') return is_slash_hash(b);
		if(*b == '\0') return is_slash_hash(a);
		a++;
		b++;
	}
}

bool acl_filters_overlap(const char *a, const char *b)
{
	if(a == NULL || b == NULL) return false;
	/* One side only reaches '$' topics, the other none of them. */
	if(a[0] == '$' && is_wild(b)) return false;
	if(b[0] == '$' && is_wild(a)) return false;
	return overlap_levels(a, b);
}

static bool length_ok(const char *s)
{
	size_t len = strnlen(s, ACL_TOPIC_MAX + 1);
	return len > 0 && len <= ACL_TOPIC_MAX;
}

bool acl_topic_valid(const char *topic)
{
	if(topic == NULL || !length_ok(topic)) return false;
	return strpbrk(topic, "+#") == NULL;
}

bool acl_filter_valid(const char *filter)
{
	if(filter == NULL || !length_ok(filter)) return false;
	for(const char *p = filter; *p; p++){
		if(*p != '+' && *p != '#') continue;
		if(p != filter && p[-1] != '/') return false;
		if(*p == '+' && p[1] != '/' && p[1] != '\0') return false;
		if(*p == '#' && p[1] != '\0') return false;
	}
	return true;
}

const char *acl_share_strip(const char *filter)
{
	const char *group, *slash;

	if(filter == NULL) return NULL;
	if(filter[0] != '$' || strncmp(filter, "$share", 6) != 0) return filter;
	if(filter[6] == '\0') return NULL;
	if(filter[6] != '/') return filter;   /* "$shared/x" is an ordinary filter */
	group = filter + 7;
	slash = strchr(group, '/');
	if(slash == NULL || slash == group) return NULL;
	for(const char *p = group; p < slash; p++){
		if(*p == '+' || *p == '#') return NULL;
	}
	if(slash[1] == '\0') return NULL;
	return slash + 1;
}
