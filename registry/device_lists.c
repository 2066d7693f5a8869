/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The list fields of a device: tags and the per-device ACL lists.
 *
 * ACL lists come from up to three places, merged in this order: the
 * device_acl document (passed in, or every element of the `_acl` array the
 * registry's $lookup adds), then the device's inline ACL sub-document.
 * Each list may be an array of strings or a single string.
 *
 * Allow lists and deny lists fail differently on bad data, on purpose:
 *  - a bad allow entry (or a whole allow list of the wrong type) is skipped
 *    with a log line: the device ends up with fewer rights, never more;
 *  - a bad deny entry, a deny list of the wrong type, or an ACL container
 *    that is not a document refuses the whole device: skipping a deny rule
 *    would grant what the operator meant to forbid.
 */
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "registry/device_internal.h"
#include "registry/username.h"

int device_list_append(struct device_list_builder *b, const char *s, size_t len)
{
	struct ih_strlist *l = b->list;
	char *copy;

	if(l->count == b->cap){
		size_t ncap = b->cap ? b->cap * 2 : 4;
		char **items = mosquitto_realloc(l->items, ncap * sizeof(*items));
		if(items == NULL) return -1;
		l->items = items;
		b->cap = ncap;
	}
	copy = mosquitto_malloc(len + 1);
	if(copy == NULL) return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	l->items[l->count++] = copy; /* the list owns the copy */
	return 0;
}

void device_strlist_free(struct ih_strlist *l)
{
	for(size_t i = 0; i < l->count; i++) mosquitto_free(l->items[i]);
	mosquitto_free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* ------------------------------------------------------------------ */
/* tags                                                                 */

/* Borrow s (NUL-terminated inside the document) as the next tag. */
static int tag_append(struct device_decode *d, const char *s)
{
	struct ih_strlist *l = &d->dev->tags;

	if(l->items == NULL){
		l->items = d->tag_inline;
		d->tag_cap = DEVICE_TAGS_INLINE;
	}
	if(l->count == d->tag_cap){
		size_t ncap = d->tag_cap * 2;
		char **items = mosquitto_malloc(ncap * sizeof(*items));
		if(items == NULL) return -1;
		memcpy(items, l->items, l->count * sizeof(*items));
		if(l->items != d->tag_inline) mosquitto_free(l->items);
		l->items = items; /* the decoder owns it (device_tags_release) */
		d->tag_cap = ncap;
	}
	l->items[l->count++] = (char *)s;
	return 0;
}

void device_tags_release(struct device_decode *d)
{
	struct ih_strlist *l = &d->dev->tags;

	if(l->items != d->tag_inline) mosquitto_free(l->items);
	l->items = NULL;
	l->count = 0;
}

static int add_tag(struct device_decode *d, const bson_iter_t *it, const char *field)
{
	const char *s, *why;
	uint32_t len;

	if(!BSON_ITER_HOLDS_UTF8(it)){
		device_skip(d, "%s entry is a %s, not a string; skipped", field, device_bson_type_name(bson_iter_type(it)));
		return 0;
	}
	s = bson_iter_utf8(it, &len);
	/* A tag becomes one topic level of tags/{P}/{Tag}/cmd/..., so it obeys
	 * the same rules as a DeviceName. */
	why = device_utf8_ok(s, len) ? registry_name_check(s, len, IH_NAME_MAX) : "not valid UTF-8";
	if(why){
		device_skip(d, "%s entry skipped: %s", field, why);
		return 0;
	}
	return tag_append(d, s) ? device_fail(d, "out of memory") : 0;
}

int device_decode_tags(struct device_decode *d, const bson_t *doc)
{
	const char *field = d->cfg->field.tags;
	bson_iter_t it, child;

	if(!bson_iter_init_find(&it, doc, field) || BSON_ITER_HOLDS_NULL(&it)) return 0;
	if(BSON_ITER_HOLDS_UTF8(&it)) return add_tag(d, &it, field);
	if(!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)){
		device_skip(d, "%s is a %s, not an array; the device has no tags", field, device_bson_type_name(bson_iter_type(&it)));
		return 0;
	}
	while(bson_iter_next(&child)){
		if(add_tag(d, &child, field)) return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* ACL lists                                                            */

struct acl_target {
	const char *field;
	struct device_list_builder b;
	bool deny;
};

static int add_filter(struct device_decode *d, struct acl_target *t, const bson_iter_t *it, const char *where)
{
	const char *s = NULL;
	uint32_t len = 0;
	const char *why = NULL;

	if(!BSON_ITER_HOLDS_UTF8(it)){
		why = device_bson_type_name(bson_iter_type(it));
	}else{
		s = bson_iter_utf8(it, &len);
		if(len == 0) why = "empty string";
		else if(len > DEVICE_FILTER_MAX) why = "longer than an MQTT topic";
		else if(!device_utf8_ok(s, len)) why = "not valid UTF-8";
	}
	if(why){
		if(t->deny) return device_fail(d, "%s.%s has an unusable entry (%s); a deny rule cannot be skipped", where, t->field, why);
		device_skip(d, "%s.%s entry skipped (%s)", where, t->field, why);
		return 0;
	}
	return device_list_append(&t->b, s, len) ? device_fail(d, "out of memory") : 0;
}

static int merge_list(struct device_decode *d, struct acl_target *t, const bson_t *doc, const char *where)
{
	bson_iter_t it, child;

	if(!bson_iter_init_find(&it, doc, t->field) || BSON_ITER_HOLDS_NULL(&it)) return 0;
	if(BSON_ITER_HOLDS_UTF8(&it)) return add_filter(d, t, &it, where);
	if(!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)){
		if(t->deny){
			return device_fail(d, "%s.%s is a %s, not an array of topic filters", where, t->field,
					device_bson_type_name(bson_iter_type(&it)));
		}
		device_skip(d, "%s.%s is a %s, not an array; ignored", where, t->field, device_bson_type_name(bson_iter_type(&it)));
		return 0;
	}
	while(bson_iter_next(&child)){
		if(add_filter(d, t, &child, where)) return -1;
	}
	return 0;
}

static int merge_doc(struct device_decode *d, struct acl_target *targets, size_t n, const bson_t *doc, const char *where)
{
	for(size_t i = 0; i < n; i++){
		if(merge_list(d, &targets[i], doc, where)) return -1;
	}
	return 0;
}

/* Merge the document an iterator points at; anything else refuses the device. */
static int merge_iter_doc(struct device_decode *d, struct acl_target *targets, size_t n, const bson_iter_t *it, const char *where)
{
	const uint8_t *data;
	uint32_t len;
	bson_t sub;

	if(!BSON_ITER_HOLDS_DOCUMENT(it)){
		return device_fail(d, "%s is a %s, not a document", where, device_bson_type_name(bson_iter_type(it)));
	}
	bson_iter_document(it, &len, &data);
	if(!bson_init_static(&sub, data, len)) return device_fail(d, "%s is corrupt", where);
	return merge_doc(d, targets, n, &sub, where);
}

static int merge_all(struct device_decode *d, struct acl_target *targets, size_t n, const bson_t *device_doc,
		const bson_t *acl_doc, const char *acl_where)
{
	bson_iter_t it, child;

	if(acl_doc){
		if(merge_doc(d, targets, n, acl_doc, acl_where)) return -1;
	}else if(bson_iter_init_find(&it, device_doc, AUTH_DEVICE_LOOKUP_FIELD)){
		if(!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &child)){
			return device_fail(d, "%s is a %s, not an array of %s documents", AUTH_DEVICE_LOOKUP_FIELD,
					device_bson_type_name(bson_iter_type(&it)), acl_where);
		}
		/* Several ACL documents for one device are all honoured. */
		while(bson_iter_next(&child)){
			if(merge_iter_doc(d, targets, n, &child, acl_where)) return -1;
		}
	}
	if(bson_iter_init_find(&it, device_doc, d->cfg->field.acl) && !BSON_ITER_HOLDS_NULL(&it)){
		if(merge_iter_doc(d, targets, n, &it, d->cfg->field.acl)) return -1;
	}
	return 0;
}

int device_decode_acl(struct device_decode *d, const bson_t *device_doc, const bson_t *acl_doc)
{
	const struct ih_config *cfg = d->cfg;
	struct ih_acl_lists *acl = registry_device_acl_edit(d->dev);
	struct acl_target targets[IH_ACL_LIST_COUNT];
	const size_t n = IH_ACL_LIST_COUNT;
	const char *acl_where = cfg->acl_collection[0] ? cfg->acl_collection : "device_acl";
	size_t total = 0;
	int rc;

	if(acl == NULL) return device_fail(d, "out of memory");

	for(int i = 0; i < IH_ACL_LIST_COUNT; i++){
		targets[i] = (struct acl_target){cfg->acl_field[i], {&acl->list[i], 0}, ih_acl_list_is_deny(i)};
	}
	rc = merge_all(d, targets, n, device_doc, acl_doc, acl_where);
	/* No rules at all (the usual case): no lists kept. */
	for(int i = 0; i < IH_ACL_LIST_COUNT; i++) total += acl->list[i].count;
	if(total == 0) device_acl_free(d->dev);
	return rc;
}
