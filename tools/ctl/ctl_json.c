/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * BSON to compact JSON. libbson's own JSON writers add spaces and wrap
 * numbers and dates in extended-JSON objects; the CLI contract wants plain
 * JSON that `jq` and `json.loads` read without knowing about BSON.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bson/bson.h>

#include "registry/username.h"
#include "tools/ctl/ctl_output.h"

void ctl_json_append_string(bson_string_t *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	bson_string_append_c(out, '"');
	while(i < len){
		unsigned char ch = p[i];
		uint32_t cp;
		size_t n;

		if(ch == '"' || ch == '\\'){
			bson_string_append_c(out, '\\');
			bson_string_append_c(out, (char)ch);
			i++;
			continue;
		}
		if(ch < 0x20 || ch == 0x7F){
			switch(ch){
				case '\n': bson_string_append(out, "\\n"); break;
				case '\r': bson_string_append(out, "\\r"); break;
				case '\t': bson_string_append(out, "\\t"); break;
				default: bson_string_append_printf(out, "\\u%04x", ch); break;
			}
			i++;
			continue;
		}
		n = registry_utf8_decode(p + i, len - i, &cp);
		if(n == 0){
			bson_string_append(out, "\\ufffd");
			i++;
			continue;
		}
		for(size_t k = 0; k < n; k++) bson_string_append_c(out, (char)p[i + k]);
		i += n;
	}
	bson_string_append_c(out, '"');
}

void ctl_json_format_date(int64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	int millis = (int)(ms % 1000);
	struct tm tm;

	if(millis < 0){
		millis += 1000;
		secs -= 1;
	}
	if(gmtime_r(&secs, &tm) == NULL){
		snprintf(buf, len, "%" PRId64, ms);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

static void append_value(bson_string_t *out, const bson_iter_t *it);

static void append_container(bson_string_t *out, const bson_iter_t *it, bool array)
{
	bson_iter_t child;
	bool first = true;

	bson_string_append_c(out, array ? '[' : '{');
	if(bson_iter_recurse(it, &child)){
		while(bson_iter_next(&child)){
			if(!first) bson_string_append_c(out, ',');
			first = false;
			if(!array){
				const char *key = bson_iter_key(&child);
				ctl_json_append_string(out, key, strlen(key));
				bson_string_append_c(out, ':');
			}
			append_value(out, &child);
		}
	}
	bson_string_append_c(out, array ? ']' : '}');
}

static void append_value(bson_string_t *out, const bson_iter_t *it)
{
	char buf[64];

	switch(bson_iter_type(it)){
		case BSON_TYPE_UTF8: {
			uint32_t len = 0;
			const char *s = bson_iter_utf8(it, &len);
			ctl_json_append_string(out, s, len);
			break;
		}
		case BSON_TYPE_INT32:
			bson_string_append_printf(out, "%" PRId32, bson_iter_int32(it));
			break;
		case BSON_TYPE_INT64:
			bson_string_append_printf(out, "%" PRId64, bson_iter_int64(it));
			break;
		case BSON_TYPE_DOUBLE: {
			double d = bson_iter_double(it);
			/* JSON has no NaN or infinity. */
			if(isfinite(d)) bson_string_append_printf(out, "%.17g", d);
			else bson_string_append(out, "null");
			break;
		}
		case BSON_TYPE_BOOL:
			bson_string_append(out, bson_iter_bool(it) ? "true" : "false");
			break;
		case BSON_TYPE_DOCUMENT:
			append_container(out, it, false);
			break;
		case BSON_TYPE_ARRAY:
			append_container(out, it, true);
			break;
		case BSON_TYPE_DATE_TIME:
			ctl_json_format_date(bson_iter_date_time(it), buf, sizeof(buf));
			ctl_json_append_string(out, buf, strlen(buf));
			break;
		case BSON_TYPE_OID:
			bson_oid_to_string(bson_iter_oid(it), buf);
			ctl_json_append_string(out, buf, strlen(buf));
			break;
		default:
			/* Binary, regex, ...: nothing the tool itself puts in a result. */
			bson_string_append(out, "null");
			break;
	}
}

char *ctl_json_from_bson(const bson_t *doc)
{
	bson_string_t *out = bson_string_new(NULL);
	bson_iter_t it;
	bool first = true;

	bson_string_append_c(out, '{');
	if(bson_iter_init(&it, doc)){
		while(bson_iter_next(&it)){
			const char *key = bson_iter_key(&it);
			if(!first) bson_string_append_c(out, ',');
			first = false;
			ctl_json_append_string(out, key, strlen(key));
			bson_string_append_c(out, ':');
			append_value(out, &it);
		}
	}
	bson_string_append_c(out, '}');
	return bson_string_free(out, false);
}
