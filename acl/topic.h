/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * MQTT topic and topic filter logic for the ACL and the auto-subscription
 * index. Nothing here allocates, calls the broker or keeps state, so every
 * function is safe on any thread and cheap enough for the per-delivery ACL
 * check.
 *
 * Conventions shared by every function:
 *  - levels are separated by '/', and an empty level is a real level
 *    ("a//b" has three levels, "/a" two);
 *  - a wildcard is '+' or '#' standing alone as a whole level; anything
 *    else is literal text (callers validate first where that matters);
 *  - the `$` rule (MQTT 3.1.1 section 4.7.2): a filter whose first level is
 *    a wildcard never matches a topic whose first character is '$', so
 *    `#` does not reach `$SYS/...` and only a rule written `$SYS/...`
 *    (or `$CONTROL/...`) can.
 * NULL arguments make the predicates return false.
 */
#ifndef IH_ACL_TOPIC_H
#define IH_ACL_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/* Longest topic or filter MQTT can carry (a 16-bit length prefix). */
#define ACL_TOPIC_MAX 65535

/* Does `filter` match the concrete `topic`? `a/#` matches `a`. */
bool acl_topic_matches(const char *filter, const char *topic);

/*
 * Is every topic matched by `filter` also matched by `rule`? This is the
 * SUBSCRIBE-time question "may the client hold this filter". A `+` in the
 * filter is covered only by `+` or `#` in the rule at that level, a `#` in
 * the filter only by a `#` in the rule at the same level or above (so
 * `+/#` does not cover `#`, although it would in theory: the conservative
 * answer is the safe one), and the `$` rule applies (`#` does not cover
 * `$SYS/#`). For a filter without wildcards this equals acl_topic_matches.
 */
bool acl_filter_covers(const char *rule, const char *filter);

/* Is there a topic that both filters match? */
bool acl_filters_overlap(const char *a, const char *b);

/*
 * Resume one of the two predicates above after the first `offset` bytes,
 * which the caller has found identical in both strings and which hold no
 * wildcard (a literal prefix of the rule, e.g. found with one word compare
 * and a memcmp). offset 0 is the plain predicate, `$` rule included; past
 * a literal first byte the `$` rule cannot apply.
 */
bool acl_topic_matches_from(const char *filter, const char *topic, size_t offset);
bool acl_filter_covers_from(const char *rule, const char *filter, size_t offset);

/*
 * The same predicates on the tails of two strings that stand at the same
 * level boundary: each tail is empty or starts with the '/' that begins
 * its next level. For template-form rules (acl/rules.c), whose filter and
 * topic offsets differ once a placeholder value has been compared.
 */
bool acl_topic_matches_tail(const char *filter_tail, const char *topic_tail);
bool acl_filter_covers_tail(const char *rule_tail, const char *filter_tail);

/*
 * The common shape "LITERAL/+/+/...": when the filter is, after its first
 * `offset` literal bytes (offset > 0, ending in '/', no '$' first), only
 * "+" levels, return how many (else 0). A topic that starts with those
 * offset bytes then matches exactly when acl_topic_plus_rest_matches(topic
 * + offset, n): counting the rest's levels instead of walking them.
 */
unsigned acl_topic_plus_levels(const char *filter, size_t offset);
bool acl_topic_plus_rest_matches(const char *rest, unsigned n);

/* 1..ACL_TOPIC_MAX bytes and no '+' or '#'. */
bool acl_topic_valid(const char *topic);

/* 1..ACL_TOPIC_MAX bytes, '+' and '#' only as whole levels, '#' only last. */
bool acl_filter_valid(const char *filter);

/*
 * For `$share/GROUP/FILTER` return FILTER (a pointer into the argument);
 * for anything not starting with `$share/` return the argument itself.
 * NULL when the shared form is malformed: empty or wildcard GROUP, empty
 * FILTER, or a bare `$share`.
 */
const char *acl_share_strip(const char *filter);

#endif
