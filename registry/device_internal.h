/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Pieces of the device decoder shared by device.c, device_lists.c and
 * device_fingerprint.c. Broker thread only.
 */
#ifndef IH_REGISTRY_DEVICE_INTERNAL_H
#define IH_REGISTRY_DEVICE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

#include "registry/device.h"

/* Skipped entries logged per decoded document; the rest are only counted,
 * so one hostile document cannot flood the log. */
#define DEVICE_DECODE_LOG_MAX 8

/* Longest ACL filter accepted (an MQTT topic's limit). */
#define DEVICE_FILTER_MAX 65535

/* Tags a decoder holds without allocating (more take a heap array). */
#define DEVICE_TAGS_INLINE 16

struct device_decode {
	const struct ih_config *cfg;
	struct ih_device *dev;      /* being decoded: borrows its strings (device.c) */
	const char *who;            /* username for log lines, once known */
	char *err;
	size_t errlen;
	unsigned skipped;           /* entries dropped, logged or not */
	/* dev->tags.items: tag_inline, or a heap array of tag_cap once more. */
	char *tag_inline[DEVICE_TAGS_INLINE];
	size_t tag_cap;
};

/* A strlist being filled, with spare capacity so appends are amortised O(1). */
struct device_list_builder {
	struct ih_strlist *list;
	size_t cap;
};

/* Fail the decode with a reason (printf-style). Always returns -1. */
int device_fail(struct device_decode *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log one skipped entry, or just count it past DEVICE_DECODE_LOG_MAX. */
void device_skip(struct device_decode *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 0 on success, -1 on out-of-memory. The string is copied. */
int device_list_append(struct device_list_builder *b, const char *s, size_t len);
void device_strlist_free(struct ih_strlist *l);
/* Free dev->acl and set it NULL. */
void device_acl_free(struct ih_device *dev);

/* A BSON string usable as a C string: valid UTF-8, no NUL inside. */
bool device_utf8_ok(const char *s, uint32_t len);

/* BSON type name for error messages. */
const char *device_bson_type_name(bson_type_t t);

/* Tags: array (or single string) of valid names; bad entries skipped.
 * The names are borrowed from doc; free the array with device_tags_release. */
int device_decode_tags(struct device_decode *d, const bson_t *doc);
void device_tags_release(struct device_decode *d);
/* ACL lists from the acl document(s) and the inline sub-document. */
int device_decode_acl(struct device_decode *d, const bson_t *device_doc, const bson_t *acl_doc);

void device_fingerprint(struct ih_device *dev);

#endif
