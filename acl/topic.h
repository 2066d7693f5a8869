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
 * Tails of the two predicates above, for callers that already compared a
 * literal first part: both pointers sit right after the same number of
 * whole, already-matched levels, i.e. at '/' or at the terminating NUL
 * (anything else simply does not match). Nothing before them is read.
 * The `$` rule is the caller's business (it only concerns the first level).
 */
bool acl_topic_matches_tail(const char *filter_tail, const char *topic_tail);
bool acl_filter_covers_tail(const char *rule_tail, const char *filter_tail);

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
