/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The six ACL lists, defined once: publish, subscribe, pubsub, deny,
 * deny_publish, deny_subscribe. Everything that names a list (the options
 * plugin_opt_acl_NAME and plugin_opt_field_acl_NAME, the registry's ACL
 * documents, the ACL compiler, iothubctl, the README) walks this table.
 *
 * It lives in core/ rather than acl/ because includes only point down the
 * folders (tools/check_layers.py) and the two lowest users sit below acl/:
 * the option table (core/config.c) has two options per list, and the
 * registry (registry/device_lists.c) decodes each device's lists. acl/
 * itself needs only this plain view, with no BSON behind it.
 *
 * What each list allows or denies is acl/rules.h's decision table.
 */
#ifndef IH_CORE_ACL_LISTS_H
#define IH_CORE_ACL_LISTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/strlist.h"

/*
 * X(ENUM, name): the enum constant IH_ACL_ENUM and the list's name, in the
 * order of the enum. The option table expands it into its rows; everyone
 * else uses the enum and ih_acl_list_names.
 */
#define IH_ACL_LIST_TABLE(X) \
	X(PUBLISH, publish) \
	X(SUBSCRIBE, subscribe) \
	X(PUBSUB, pubsub) \
	X(DENY, deny) \
	X(DENY_PUBLISH, deny_publish) \
	X(DENY_SUBSCRIBE, deny_subscribe)

#define IH_ACL_LIST_ENUM_(e, name) IH_ACL_##e,
enum ih_acl_list {
	IH_ACL_LIST_TABLE(IH_ACL_LIST_ENUM_)
	IH_ACL_LIST_COUNT
};
#undef IH_ACL_LIST_ENUM_

/* ih_acl_list_names[IH_ACL_PUBLISH] = "publish", ... */
extern const char *const ih_acl_list_names[IH_ACL_LIST_COUNT];

/* The list called `name`, or -1. */
int ih_acl_list_find(const char *name);

/* The names joined by `sep`, and by `last_sep` before the last one
 * ("publish, ... or deny_subscribe"), for messages; truncated to fit buf. */
void ih_acl_list_join(char *buf, size_t len, const char *sep, const char *last_sep);

/* Deny lists are the ones a bad entry must never silently drop from. */
static inline bool ih_acl_list_is_deny(enum ih_acl_list l)
{
	return l == IH_ACL_DENY || l == IH_ACL_DENY_PUBLISH || l == IH_ACL_DENY_SUBSCRIBE;
}

/* One string list per ACL list: the global templates of the config, and
 * each device's own lists. Filters may hold placeholders. */
struct ih_acl_lists {
	struct ih_strlist list[IH_ACL_LIST_COUNT];
};

#endif
