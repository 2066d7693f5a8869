/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Human and JSON output (see ctl_output.h for the contract).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bson/bson.h>

#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"

#define LABEL_WIDTH 20

static bool json_mode;

void out_init(bool json)
{
	json_mode = json;
}

bool out_json_mode(void)
{
	return json_mode;
}

const char *out_code_name(int exit_code)
{
	switch(exit_code){
		case CTL_USAGE: return "usage";
		case CTL_NOT_FOUND: return "not_found";
		case CTL_EXISTS: return "exists";
		case CTL_MONGO: return "mongo_unavailable";
		case CTL_BROKER: return "broker";
		default: return "error";
	}
}

static void print_json_line(const bson_t *doc)
{
	char *json = ctl_json_from_bson(doc);

	fputs(json, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	bson_free(json);
}

int out_fail(int exit_code, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "iothubctl: %s\n", msg);
	if(json_mode){
		bson_t doc = BSON_INITIALIZER;
		BSON_APPEND_UTF8(&doc, "error", msg);
		BSON_APPEND_UTF8(&doc, "code", code ? code : out_code_name(exit_code));
		print_json_line(&doc);
		bson_destroy(&doc);
	}
	return exit_code;
}

void out_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("iothubctl: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void out_text(const char *fmt, ...)
{
	va_list ap;

	if(json_mode) return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}

/* Strings from the registry go to a terminal: control characters are shown
 * as '?' so a stored value cannot move the cursor or rewrite the screen. */
static void print_safe(const char *s, uint32_t len)
{
	for(uint32_t i = 0; i < len; i++){
		unsigned char ch = (unsigned char)s[i];
		fputc(ch < 0x20 || ch == 0x7F ? '?' : ch, stdout);
	}
}

static void print_scalar(const bson_iter_t *it)
{
	char buf[64];

	switch(bson_iter_type(it)){
		case BSON_TYPE_UTF8: {
			uint32_t len = 0;
			const char *s = bson_iter_utf8(it, &len);
			print_safe(s, len);
			break;
		}
		case BSON_TYPE_INT32: printf("%" PRId32, bson_iter_int32(it)); break;
		case BSON_TYPE_INT64: printf("%" PRId64, bson_iter_int64(it)); break;
		case BSON_TYPE_DOUBLE: printf("%g", bson_iter_double(it)); break;
		case BSON_TYPE_BOOL: fputs(bson_iter_bool(it) ? "true" : "false", stdout); break;
		case BSON_TYPE_NULL: fputs("null", stdout); break;
		case BSON_TYPE_DATE_TIME:
			ctl_json_format_date(bson_iter_date_time(it), buf, sizeof(buf));
			fputs(buf, stdout);
			break;
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY: {
			/* Nested inside an array: JSON is the clearest one-line form. */
			bson_t sub;
			const uint8_t *data;
			uint32_t len;
			char *json;
			if(bson_iter_type(it) == BSON_TYPE_DOCUMENT) bson_iter_document(it, &len, &data);
			else bson_iter_array(it, &len, &data);
			if(!bson_init_static(&sub, data, len)) break;
			json = ctl_json_from_bson(&sub);
			fputs(json, stdout);
			bson_free(json);
			break;
		}
		default: fputs("?", stdout); break;
	}
}

static void print_label(const char *prefix, const char *key)
{
	int n = printf("%s%s:", prefix, key);
	for(; n < LABEL_WIDTH; n++) fputc(' ', stdout);
	fputc(' ', stdout);
}

static void print_doc(const bson_t *doc, const char *prefix)
{
	bson_iter_t it;

	if(!bson_iter_init(&it, doc)) return;
	while(bson_iter_next(&it)){
		const char *key = bson_iter_key(&it);
		if(BSON_ITER_HOLDS_DOCUMENT(&it)){
			/* Flatten sub-documents: "acl.publish:" reads better than braces. */
			bson_t sub;
			const uint8_t *data;
			uint32_t len;
			char sub_prefix[128];
			bson_iter_document(&it, &len, &data);
			if(!bson_init_static(&sub, data, len)) continue;
			snprintf(sub_prefix, sizeof(sub_prefix), "%s%s.", prefix, key);
			print_doc(&sub, sub_prefix);
		}else if(BSON_ITER_HOLDS_ARRAY(&it)){
			bson_iter_t child;
			bool first = true;
			print_label(prefix, key);
			if(bson_iter_recurse(&it, &child)){
				while(bson_iter_next(&child)){
					if(!first) printf("%*s", LABEL_WIDTH + 1, "");
					first = false;
					print_scalar(&child);
					fputc('\n', stdout);
				}
			}
			if(first) fputs("(none)\n", stdout);
		}else{
			print_label(prefix, key);
			print_scalar(&it);
			fputc('\n', stdout);
		}
	}
}

void out_result(const char *headline, const bson_t *doc, const char *footer)
{
	if(json_mode){
		print_json_line(doc);
		return;
	}
	if(headline) printf("%s\n", headline);
	print_doc(doc, "");
	if(footer) printf("%s\n", footer);
	fflush(stdout);
}
