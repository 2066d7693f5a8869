/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Topic templates: placeholders in ACL rules and auto-subscriptions
 * (%u %p %d %c %%, each a whole topic level).
 *
 * The rules have one home: README.md, section "ACL", paragraphs
 * "Templates" (syntax) and "A value never widens a rule" (what happens to
 * a rule whose value is missing or unsafe, for allow and for deny rules).
 * This header is the code that implements them.
 *
 * Why a bad value drops the WHOLE allow rule: a rule is the operator's
 * statement of what ONE device may touch. A value that is empty or holds
 * '/', '+' or '#' would turn `inbox/%c/#` into `inbox/#` (client id "#")
 * or into another device's subtree (client id "d2/x"), and a first level
 * starting with '$' would reach `$SYS`/`$CONTROL`, which the `$` rule
 * keeps out of reach of everything but literal rules. Dropping the rule
 * leaves the connection its other rules and acl_nomatch (deny by
 * default): the device simply gets less. Deny rules are the exception,
 * because dropping a deny WIDENS access: there the value becomes wildcard
 * levels and the deny grows (acl_placeholder_expand_deny, and
 * acl_placeholder_expand_spelled for the levels a '/' in a client id
 * spells).
 *
 * rules.c logs the drops and widenings once per connection at NOTICE.
 *
 * Nothing here allocates or calls the broker.
 */
#ifndef IH_ACL_PLACEHOLDER_H
#define IH_ACL_PLACEHOLDER_H

#include <stdbool.h>
#include <stddef.h>

/* Who a template is instantiated for. Strings are borrowed. */
struct acl_subject {
	const char *username;   /* "P/D", or NULL for an anonymous connection */
	size_t product_len;     /* bytes of ProductName at the start of username */
	const char *client_id;  /* may be NULL */
	bool token_user;        /* a token client (auth/jwt.h): %u is its username as ONE
	                         * level, under the same safety rule as %c; %p and %d have
	                         * no value */
};

enum acl_ph_result {
	ACL_PH_OK = 0,
	ACL_PH_BAD_TEMPLATE,    /* syntax: unknown %x, placeholder not a whole level, not a valid filter */
	ACL_PH_NO_IDENTITY,     /* anonymous (%u %p %d) or no client id (%c) */
	ACL_PH_UNSAFE_VALUE,    /* a value would widen the rule */
	ACL_PH_TOO_LONG,        /* the result would exceed ACL_TOPIC_MAX */
};

/* What a template uses (acl_placeholder_check's *uses). */
#define ACL_PH_USES_U 0x01u
#define ACL_PH_USES_P 0x02u
#define ACL_PH_USES_D 0x04u
#define ACL_PH_USES_C 0x08u

/* Kind of one level of a template (acl_placeholder_level). */
enum acl_ph_level {
	ACL_PH_LEVEL_TEXT = 0,  /* literal text, possibly with %% */
	ACL_PH_LEVEL_PLUS,
	ACL_PH_LEVEL_HASH,
	ACL_PH_LEVEL_U,
	ACL_PH_LEVEL_P,
	ACL_PH_LEVEL_D,
	ACL_PH_LEVEL_C,
};

/*
 * Check a template's syntax. Returns ACL_PH_OK and the ACL_PH_USES_* bits
 * in *uses (may be NULL), or ACL_PH_BAD_TEMPLATE with a reason such as
 * "unknown placeholder %x" in err (always NUL-terminated when errlen > 0).
 */
enum acl_ph_result acl_placeholder_check(const char *tpl, unsigned *uses, char *err, size_t errlen);

/* Classify the level tpl[0..len). */
enum acl_ph_level acl_placeholder_level(const char *level, size_t len);

/*
 * Instantiate `tpl` for `who`. Stores the result's length (without NUL)
 * in *len and, when out is not NULL and outsize > *len, writes the
 * NUL-terminated result to out. Call with out == NULL to measure. Any
 * result but ACL_PH_OK means "drop this rule"; nothing is written then.
 */
enum acl_ph_result acl_placeholder_expand(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len);

/*
 * acl_placeholder_expand for a template that already passed
 * acl_placeholder_check (at startup, or in the measuring call of a
 * two-pass build): no second validation, and with out != NULL a single
 * pass that writes at most outsize bytes (ACL_PH_TOO_LONG, out unspecified,
 * when they do not suffice). Connects build a dozen filters; validating and
 * walking each template three times was most of a warm connect's cost.
 */
enum acl_ph_result acl_placeholder_expand_checked(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len);

/*
 * The same for deny rules: a bad or missing value (or one that makes the
 * result too long) becomes wildcard levels instead of failing, and
 * *widened says so. Fails only for ACL_PH_BAD_TEMPLATE or, for a template
 * that is itself near the size limit, ACL_PH_TOO_LONG.
 */
enum acl_ph_result acl_placeholder_expand_deny(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len, bool *widened);

/*
 * Deny rules only: the companion of a deny widened because the client id
 * holds '/'. The widened form (`box/+/private` for client id "a/b") does not
 * cover the levels the id spells (`box/a/b/private`); this instantiates the
 * id as those levels so the two rules together deny both. Fails like
 * acl_placeholder_expand for every other unsafe value.
 */
enum acl_ph_result acl_placeholder_expand_spelled(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len);

/*
 * Template form, for rule blocks shared by every connection with the same
 * templates (acl/rules_intern.h): each placeholder level of a template
 * that passed acl_placeholder_check becomes one marker byte (below) and
 * "%%" becomes "%" ("%p/%d", which is the username, becomes the %u
 * marker); the values are compared at match time instead.
 * Measures (out == NULL) or writes the NUL-terminated result; *n_ph gets
 * the number of placeholders. ACL_PH_BAD_TEMPLATE when a literal level
 * holds a marker byte itself (such a template cannot be shared).
 */
#define ACL_PH_MARK_U 0x01
#define ACL_PH_MARK_P 0x02
#define ACL_PH_MARK_D 0x03
#define ACL_PH_MARK_C 0x04
enum acl_ph_result acl_placeholder_encode(const char *tpl, char *out, size_t outsize, size_t *len, unsigned *n_ph);

/*
 * May `who` use a shared template-form block? True when every placeholder
 * has a value that instantiates under the strict rules (no rule dropped,
 * no deny widened, whatever the template): a username "P/D" with both
 * halves safe, a safe client id, no value starting with '$', no token
 * client. Whoever is not plain gets rules compiled for it alone.
 */
bool acl_subject_plain(const struct acl_subject *who);

/* A short static description of a result, for log lines. */
const char *acl_placeholder_strerror(enum acl_ph_result rc);

#endif
