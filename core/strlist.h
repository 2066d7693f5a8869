/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * A list of owned strings: repeatable options accumulate here, and the
 * registry decodes a device's tags and ACL lists into it. Its own header
 * so that core/acl_lists.h and core/config.h can both use it.
 */
#ifndef IH_CORE_STRLIST_H
#define IH_CORE_STRLIST_H

#include <stddef.h>

struct ih_strlist {
	char **items;
	size_t count;
};

#endif
