/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Stats JSON -> Prometheus text (see api_metrics.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "api/api_metrics.h"

#define NAME_MAX_LEN 200

static void append_name(char *name, size_t *n, const char *key)
{
	if(*n < NAME_MAX_LEN) name[(*n)++] = '_';
	for(; *key && *n < NAME_MAX_LEN; key++){
		name[(*n)++] = isalnum((unsigned char)*key) ? *key : '_';
	}
	name[*n] = '\0';
}

static void walk(bson_iter_t *it, char *name, size_t n, bson_string_t *out, int depth)
{
	while(bson_iter_next(it)){
		size_t m = n;
		bson_iter_t child;

		append_name(name, &m, bson_iter_key(it));
		if((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) && depth < 8){
			if(bson_iter_recurse(it, &child)) walk(&child, name, m, out, depth + 1);
		}else if(BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it)){
			bson_string_append_printf(out, "# TYPE %s gauge\n%s %lld\n", name, name, (long long)bson_iter_as_int64(it));
		}else if(BSON_ITER_HOLDS_DOUBLE(it)){
			bson_string_append_printf(out, "# TYPE %s gauge\n%s %.17g\n", name, name, bson_iter_double(it));
		}else if(BSON_ITER_HOLDS_BOOL(it)){
			bson_string_append_printf(out, "# TYPE %s gauge\n%s %d\n", name, name, bson_iter_bool(it) ? 1 : 0);
		}
		name[n] = '\0';
	}
}

char *api_metrics_from_stats(const char *json, size_t len, size_t *outlen)
{
	bson_error_t e;
	bson_t *doc;
	bson_iter_t it;
	bson_string_t *out;
	char name[NAME_MAX_LEN + 1] = "iothub";
	char *text = NULL;

	*outlen = 0;
	if(json == NULL || len > INT32_MAX) return NULL;
	doc = bson_new_from_json((const uint8_t *)json, (ssize_t)len, &e);
	if(doc == NULL) return NULL;
	out = bson_string_new(NULL);
	if(bson_iter_init(&it, doc)) walk(&it, name, strlen(name), out, 0);
	bson_destroy(doc);
	/* bson_string's buffer is bson_malloc'd: hand the caller a libc copy. */
	text = malloc(out->len + 1);
	if(text){
		memcpy(text, out->str, out->len + 1);
		*outlen = out->len;
	}
	bson_string_free(out, true);
	return text;
}
