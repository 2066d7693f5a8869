/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Shared ACL blocks: one template-form block (acl_rules_build_shared) per
 * distinct set of inputs, hash-consed and reference counted.
 *
 * Why: with the default configuration every device has the same global
 * templates and auto-subscription templates, and most have no registry
 * rules or the same ones; compiled per connection, each held a ~730-byte
 * block that differed from its neighbours' only in the placeholder values.
 * Template-form blocks leave the values to the check (which takes them
 * from the connection), so identical inputs give identical blocks, and
 * this table hands out one block per distinct input: the key is the
 * inputs' text (every global template, every registry template, every
 * auto-subscription template, each tagged with its list), so two sets
 * share a block exactly when they would compile the same rules.
 *
 * A block leaves the table when its last reference goes (acl_rules_free).
 * The keys are registry data chosen by whoever writes device records, so
 * the map uses keyed SipHash (core/strmap).
 *
 * Broker thread only.
 */
#ifndef IH_ACL_RULES_INTERN_H
#define IH_ACL_RULES_INTERN_H

#include <stddef.h>

#include "acl/rules.h"
#include "core/acl_lists.h"
#include "core/config.h"

struct acl_intern;

int acl_intern_new(struct acl_intern **out);   /* MOSQ_ERR_SUCCESS or MOSQ_ERR_NOMEM */
/* Blocks still referenced stay valid and leave no trace in the freed table:
 * their last acl_rules_free frees them. NULL is fine. */
void acl_intern_free(struct acl_intern *t);

/*
 * A reference to the shared block for these inputs (see
 * acl_rules_build_shared), built on first use; release it with
 * acl_rules_free. Returns MOSQ_ERR_SUCCESS, MOSQ_ERR_NOT_SUPPORTED (these
 * templates cannot be shared: compile per connection) or MOSQ_ERR_NOMEM.
 * The caller must still check acl_rules_fits for its subject.
 */
int acl_intern_get(struct acl_intern *t, const struct acl_templates *global, const struct ih_acl_lists *device,
		const struct ih_autosub_tpl *grants, size_t n_grants, struct acl_rules **out);

/* Distinct blocks in the table, and the bytes they and the table hold. */
size_t acl_intern_count(const struct acl_intern *t);
size_t acl_intern_memory(const struct acl_intern *t);

#endif
