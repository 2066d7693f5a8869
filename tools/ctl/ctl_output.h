/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * What iothubctl prints. Every command builds its result as a BSON document;
 * with --json that document is written as one compact JSON object on one
 * line of stdout, otherwise as "key: value" lines under a headline. Errors
 * always get a human line on stderr, and with --json also an
 * {"error","code"} object on stdout, so scripts read one stream.
 */
#ifndef IH_CTL_OUTPUT_H
#define IH_CTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

void out_init(bool json);
bool out_json_mode(void);

/* The machine-readable name of an exit code ("not_found", ...). */
const char *out_code_name(int exit_code);

/* Report a failure; returns exit_code. `code` NULL means out_code_name(). */
int out_fail(int exit_code, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A warning: stderr only, whatever the mode. */
void out_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One result. `headline` (may be NULL) is for humans only; `footer` too. */
void out_result(const char *headline, const bson_t *doc, const char *footer);

/* Human table row helpers for `list`. */
void out_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- ctl_json.c ---- */
/* Compact JSON for a BSON document; release with bson_free().
 * Invalid UTF-8 in strings becomes U+FFFD so the output is always JSON. */
char *ctl_json_from_bson(const bson_t *doc);
/* JSON string literal (with quotes) appended to a bson_string_t. */
void ctl_json_append_string(bson_string_t *out, const char *s, size_t len);
/* ISO 8601 UTC text for a BSON date. */
void ctl_json_format_date(int64_t ms, char *buf, size_t len);

#endif
