/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The table of shared template-form ACL blocks (see rules_intern.h).
 *
 * Key layout: for each template, one tag byte (which input and which list
 * it belongs to: 'A'+list for a global template, 'a'+list for a registry
 * template, 'g' for an auto-subscription template), the template, a NUL.
 * Templates never hold a NUL, so the encoding is unambiguous.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "acl/rules_intern.h"
#include "acl/rules_internal.h"
#include "core/strmap.h"

struct acl_intern {
	struct ih_strmap map;
	size_t bytes;   /* blocks and entries */
};

/* Keys up to this long are looked up without an allocation. */
#define INTERN_KEY_STACK 1024

struct intern_entry {
	struct ih_strmap_node node;
	struct acl_intern *table;   /* NULL once the table is gone */
	struct acl_rules *rules;
	size_t size;                /* of this entry */
	char key[];
};

int acl_intern_new(struct acl_intern **out)
{
	struct acl_intern *t = mosquitto_calloc(1, sizeof(*t));

	if(t == NULL) return MOSQ_ERR_NOMEM;
	if(ih_strmap_init(&t->map, mosquitto_calloc, mosquitto_free)){
		mosquitto_free(t);
		return MOSQ_ERR_NOMEM;
	}
	*out = t; /* the caller owns t; acl_intern_free frees it */
	return MOSQ_ERR_SUCCESS;
}

static void detach(struct ih_strmap_node *n, void *ud)
{
	(void)ud;
	ih_container_of(n, struct intern_entry, node)->table = NULL;
}

void acl_intern_free(struct acl_intern *t)
{
	if(t == NULL) return;
	/* The entries stay with their blocks (freed by the last reference). */
	ih_strmap_foreach(&t->map, detach, NULL);
	ih_strmap_cleanup(&t->map);
	mosquitto_free(t);
}

void acl_intern_forget(void *entry)
{
	struct intern_entry *e = entry;

	if(e->table){
		ih_strmap_remove(&e->table->map, &e->node);
		e->table->bytes -= e->size + acl_rules_memory(e->rules);
	}
	mosquitto_free(e);
}

/* Measure (dst == NULL) or write one list of templates into the key. */
static size_t put_list(char *dst, char tag, const char *const *items, size_t count)
{
	size_t n = 0, len;

	for(size_t i = 0; i < count; i++){
		if(items[i] == NULL) continue;
		len = strlen(items[i]);
		if(dst){
			dst[n] = tag;
			memcpy(dst + n + 1, items[i], len + 1);
		}
		n += len + 2;
	}
	return n;
}

static size_t put_key(char *dst, const struct acl_templates *global, const struct ih_acl_lists *device,
		const struct ih_autosub_tpl *grants, size_t n_grants)
{
	const char *const *items;
	size_t n = 0, count, len;

	for(int i = 0; i < IH_ACL_LIST_COUNT; i++){
		items = acl_templates_list(global, i, &count);
		n += put_list(dst ? dst + n : NULL, (char)('A' + i), items, count);
	}
	for(int i = 0; device && i < IH_ACL_LIST_COUNT; i++){
		n += put_list(dst ? dst + n : NULL, (char)('a' + i), (const char *const *)device->list[i].items,
				device->list[i].count);
	}
	for(size_t i = 0; i < n_grants; i++){
		if(grants[i].filter == NULL) continue;
		len = strlen(grants[i].filter);
		if(dst){
			dst[n] = 'g';
			memcpy(dst + n + 1, grants[i].filter, len + 1);
		}
		n += len + 2;
	}
	return n;
}

int acl_intern_get(struct acl_intern *t, const struct acl_templates *global, const struct ih_acl_lists *device,
		const struct ih_autosub_tpl *grants, size_t n_grants, struct acl_rules **out)
{
	struct intern_entry *e;
	struct ih_strmap_node *n;
	struct acl_rules *r = NULL;
	size_t klen = put_key(NULL, global, device, grants, n_grants);
	char small[INTERN_KEY_STACK];
	int rc;

	/* The usual key (the fleet's templates, no device lists) is looked up
	 * from the stack: a hit, which is every connect but the first, then
	 * allocates nothing. A longer key is built in the entry it may become. */
	e = NULL;
	if(klen >= sizeof(small)){
		e = mosquitto_malloc(sizeof(*e) + klen + 1);
		if(e == NULL) return MOSQ_ERR_NOMEM;
	}
	put_key(e ? e->key : small, global, device, grants, n_grants);
	(e ? e->key : small)[klen] = '\0';
	n = ih_strmap_find(&t->map, e ? e->key : small, klen);
	if(n){
		mosquitto_free(e);
		r = ih_container_of(n, struct intern_entry, node)->rules;
		acl_rules_ref(r);
		*out = r; /* a new reference for the caller */
		return MOSQ_ERR_SUCCESS;
	}
	if(e == NULL){
		e = mosquitto_malloc(sizeof(*e) + klen + 1);
		if(e == NULL) return MOSQ_ERR_NOMEM;
		memcpy(e->key, small, klen + 1);
	}
	rc = acl_rules_build_shared(&r, global, device, grants, n_grants);
	if(rc){
		mosquitto_free(e);
		return rc;
	}
	e->table = t;
	e->rules = r;
	e->size = sizeof(*e) + klen + 1;
	acl_rules_set_intern(r, e); /* the block owns e from here on */
	ih_strmap_insert(&t->map, &e->node, e->key, klen);
	t->bytes += e->size + acl_rules_memory(r);
	*out = r; /* the caller holds the block's first reference */
	return MOSQ_ERR_SUCCESS;
}

size_t acl_intern_count(const struct acl_intern *t)
{
	return t ? ih_strmap_count(&t->map) : 0;
}

size_t acl_intern_memory(const struct acl_intern *t)
{
	return t ? t->bytes + ih_strmap_bytes(&t->map) + sizeof(*t) : 0;
}
