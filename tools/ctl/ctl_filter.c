/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * ACL filter validation for `acl add|remove`. A filter the plugin cannot
 * use would be stored silently and never match, so it is refused here with
 * the reason.
 */
#include <string.h>

#include "registry/username.h"
#include "tools/ctl/ctl.h"

/* MQTT's limit on a topic filter (a two-byte length). */
#define FILTER_MAX 65535

static bool is_placeholder(const char *level, size_t len)
{
	static const char *const placeholders[] = {"%u", "%p", "%d", "%c", "%%"};

	for(size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++){
		if(len == 2 && !memcmp(level, placeholders[i], 2)) return true;
	}
	return false;
}

const char *ctl_filter_check(const char *filter)
{
	size_t total = strnlen(filter, FILTER_MAX + 1);
	const char *level = filter;

	if(total == 0) return "empty filter";
	if(total > FILTER_MAX) return "filter longer than 65535 bytes";
	for(;;){
		size_t len = strcspn(level, "/");
		bool last = level[len] == '\0';

		if(len == 1 && level[0] == '#'){
			if(!last) return "'#' must be the last level";
		}else if(len == 1 && level[0] == '+'){
			/* a whole-level wildcard */
		}else if(memchr(level, '%', len)){
			if(!is_placeholder(level, len)){
				return "placeholders (%u %p %d %c %%) must fill a whole level";
			}
		}else if(len > 0){
			/* Empty levels are legal MQTT ("a//b"); anything else must be a
			 * clean level: no wildcard inside it, valid UTF-8, no control
			 * characters. registry_name_check says exactly that. */
			const char *why = registry_name_check(level, len, FILTER_MAX);
			if(why){
				if(memchr(level, '+', len) || memchr(level, '#', len)){
					return "wildcards '+' and '#' must fill a whole level";
				}
				return why;
			}
		}
		if(last) break;
		level += len + 1;
	}
	return NULL;
}
