/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* The names of the ACL lists (core/acl_lists.h). */
#include <stdio.h>
#include <string.h>

#include "core/acl_lists.h"

#define IH_ACL_LIST_NAME_(e, name) [IH_ACL_##e] = #name,
const char *const ih_acl_list_names[IH_ACL_LIST_COUNT] = {
	IH_ACL_LIST_TABLE(IH_ACL_LIST_NAME_)
};
#undef IH_ACL_LIST_NAME_

int ih_acl_list_find(const char *name)
{
	for(int i = 0; name && i < IH_ACL_LIST_COUNT; i++){
		if(!strcmp(ih_acl_list_names[i], name)) return i;
	}
	return -1;
}

void ih_acl_list_join(char *buf, size_t len, const char *sep, const char *last_sep)
{
	size_t used = 0;

	if(len == 0) return;
	buf[0] = '\0';
	for(int i = 0; i < IH_ACL_LIST_COUNT && used < len; i++){
		const char *before = i == 0 ? "" : i == IH_ACL_LIST_COUNT - 1 ? last_sep : sep;
		int n = snprintf(buf + used, len - used, "%s%s", before, ih_acl_list_names[i]);
		if(n < 0) break;
		used += (size_t)n;
	}
}
