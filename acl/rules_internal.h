/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Between acl/rules.c and acl/rules_intern.c only: what the intern table
 * needs of a block and of a template set. Not for other modules.
 */
#ifndef IH_ACL_RULES_INTERNAL_H
#define IH_ACL_RULES_INTERNAL_H

#include <stddef.h>

struct acl_rules;
struct acl_templates;

/* The templates of list `list` (core/acl_lists.h) and their number. */
const char *const *acl_templates_list(const struct acl_templates *t, int list, size_t *count);

/* The block is interned under `entry`; its last acl_rules_free calls
 * acl_intern_forget(entry) before freeing it. */
void acl_rules_set_intern(struct acl_rules *r, void *entry);
void acl_intern_forget(void *entry);

#endif
