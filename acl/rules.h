/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Per-connection ACL: global templates from the config, compiled once per
 * connection (at authentication) together with the device's registry rules
 * and its auto-subscription read grants into one immutable block.
 *
 * Decision (acl_rules_check). The table in README.md, section "ACL", is
 * its one statement: which lists deny and which allow, for each access.
 * In this code's terms: "matched" is acl_topic_matches(rule, topic) and
 * "covered" is acl_filter_covers(rule, filter); a read grant is an
 * auto-subscription filter; deny always wins over allow; when nothing
 * applies the answer is ACL_NOMATCH and the caller applies acl_nomatch;
 * an access other than READ, WRITE, SUBSCRIBE or UNSUBSCRIBE is denied.
 *
 * SUBSCRIBE with a filter that only PARTIALLY overlaps a deny rule is not
 * denied: the subscription is accepted and the denied topics are filtered
 * out at delivery by the READ check (deny wins there). Denying on overlap
 * would refuse e.g. `tags/p1/+/cmd/#` as soon as one tag is denied.
 *
 * `$SYS/...` and `$CONTROL/...` topics are reachable only by rules whose
 * first level is that literal: a rule starting with `+` or `#` never
 * matches or covers a '$' topic (the MQTT `$` rule, see topic.h).
 *
 * Building never lets a bad input widen access (see acl/placeholder.h):
 * an allow rule that cannot be instantiated for the connection is dropped;
 * a deny rule whose placeholder value is missing or unsafe gets wildcard
 * levels instead (`+`, `+/+` for %u), and a registry deny rule that is not
 * a valid template at all is applied as `#` (deny every non-'$' topic for
 * that access), with a WARNING naming it.
 *
 * Thread-safety: acl_templates and acl_rules are immutable after creation
 * and may be read from any thread; creating and freeing them uses the
 * broker allocator, so do that on the broker thread.
 */
#ifndef IH_ACL_RULES_H
#define IH_ACL_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "acl/placeholder.h"
#include "core/acl_lists.h"
#include "core/config.h"

enum acl_decision {
	ACL_NOMATCH = 0,
	ACL_ALLOW = 1,
	ACL_DENY = 2,
};

struct acl_templates;
struct acl_rules;

/*
 * Validate and copy the six global template lists of cfg (cfg->acl_lists:
 * the options acl_publish ... acl_deny_subscribe, core/acl_lists.h).
 * Every bad template is logged, naming the option, e.g.
 *   iothub: option plugin_opt_acl_publish "up/%x": unknown placeholder %x
 * Returns MOSQ_ERR_SUCCESS, MOSQ_ERR_INVAL (refuse to start) or
 * MOSQ_ERR_NOMEM. *out is set only on success.
 */
int acl_templates_init(struct acl_templates **out, const struct ih_config *cfg);
/* The same for JWT clients: jwt_acl_publish, jwt_acl_subscribe and
 * jwt_acl_pubsub (no deny lists), logged as plugin_opt_jwt_acl_*. */
int acl_templates_init_jwt(struct acl_templates **out, const struct ih_config *cfg);
void acl_templates_cleanup(struct acl_templates *t);   /* NULL is fine */

/*
 * Compile the rules of one connection. `global` may be NULL (no global
 * rules), `device` may be NULL (no registry rules), `read_grants` holds
 * already-instantiated filters (no placeholder processing; invalid ones are
 * skipped with a log line). Identical filters are merged. Rules that cannot
 * be instantiated for `who` are dropped (see placeholder.h), logged once per
 * connection. The caller owns *out (one allocation) and frees it with
 * acl_rules_free. Returns MOSQ_ERR_SUCCESS or MOSQ_ERR_NOMEM.
 */
int acl_rules_build(struct acl_rules **out, const struct acl_templates *global,
		const struct ih_acl_lists *device, const char *const *read_grants, size_t n_read_grants,
		const struct acl_subject *who);
/* Drop a reference (a block starts with one); frees at zero. NULL is fine. */
void acl_rules_free(struct acl_rules *r);
void acl_rules_ref(struct acl_rules *r);

/*
 * The template form: the same inputs as acl_rules_build, but with the
 * auto-subscription TEMPLATES as read grants and no subject. Placeholders
 * stay in the rules (as marker levels, acl_placeholder_encode) and the
 * check compares the subject's values in place, so one block serves every
 * connection with the same templates (acl/rules_intern.h shares them).
 * Valid only for a subject acl_rules_fits accepts; the decisions are then
 * exactly those of the block acl_rules_build would compile for it.
 * MOSQ_ERR_NOT_SUPPORTED when a template holds a marker byte itself.
 * Invalid registry rules are logged once, when the block is built.
 */
int acl_rules_build_shared(struct acl_rules **out, const struct acl_templates *global,
		const struct ih_acl_lists *device, const struct ih_autosub_tpl *grants, size_t n_grants);
/* May `who` use the template-form block r? Always true for a block compiled
 * for one connection. */
bool acl_rules_fits(const struct acl_rules *r, const struct acl_subject *who);
bool acl_rules_templated(const struct acl_rules *r);

/*
 * Decide `access` (MOSQ_ACL_READ/WRITE/SUBSCRIBE/UNSUBSCRIBE) on `topic`
 * (a filter for SUBSCRIBE/UNSUBSCRIBE) for `who` (read only by a
 * template-form block; NULL then answers ACL_NOMATCH). No allocation, no
 * string building. r == NULL answers ACL_NOMATCH.
 */
enum acl_decision acl_rules_check(const struct acl_rules *r, const struct acl_subject *who, int access,
		const char *topic);

/* Bytes held by r (its single allocation), and its number of distinct filters. */
size_t acl_rules_memory(const struct acl_rules *r);
size_t acl_rules_count(const struct acl_rules *r);

#endif
