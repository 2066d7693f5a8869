/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* The fixed registry of stub_registry.h. Sources allocate with libc only
 * (registry/source.h): the worker's lives on the worker thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "auth/auth_internal.h"
#include "registry/source.h"
#include "test/stubs/stub_registry.h"

struct stub_registry {
	size_t n;
	bson_t *docs[];
};

struct stub_source {
	struct auth_source base;
	const struct stub_registry *reg;
};

static const char *doc_user(const bson_t *doc)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, doc, "broker_username") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
}

static int stub_fetch(struct auth_source *s, const char *const *usernames, size_t n,
		auth_source_doc_fn on_doc, void *ud, char *err, size_t errlen)
{
	const struct stub_registry *r = ((struct stub_source *)s)->reg;

	(void)err; (void)errlen;
	for(size_t i = 0; i < n; i++){
		for(size_t k = 0; k < r->n; k++){
			if(!strcmp(doc_user(r->docs[k]), usernames[i])) on_doc(ud, r->docs[k]);
		}
	}
	return 0;
}

static int stub_ok(struct auth_source *s, char *err, size_t errlen)
{
	(void)s; (void)err; (void)errlen;
	return 0;
}

static void stub_destroy(struct auth_source *s)
{
	free(s);
}

static const struct auth_source_ops stub_ops = {stub_fetch, stub_ok, stub_ok, stub_destroy, NULL};

static int stub_create(void *ctx, bool broker, struct auth_source **out, char *err, size_t errlen)
{
	struct stub_source *s = calloc(1, sizeof(*s));

	(void)broker;
	if(s == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->base.ops = &stub_ops;
	s->reg = ctx;
	*out = &s->base;
	return 0;
}

struct stub_registry *stub_registry_new(const char *const *docs_json, size_t n)
{
	struct stub_registry *r = calloc(1, sizeof(*r) + n * sizeof(r->docs[0]));
	bson_error_t e;

	if(r == NULL) abort();
	for(r->n = 0; r->n < n; r->n++){
		r->docs[r->n] = bson_new_from_json((const uint8_t *)docs_json[r->n], -1, &e);
		if(r->docs[r->n] == NULL){
			fprintf(stderr, "stub registry: bad JSON: %s\n", e.message);
			abort();
		}
	}
	return r;
}

struct auth *stub_registry_auth(struct stub_registry *r, const struct ih_config *cfg)
{
	struct auth_deps deps = {{stub_create, r}, NULL};
	struct auth *a = NULL;

	if(auth_init_with(&a, cfg, &deps) != 0) abort();
	return a;
}

void stub_registry_free(struct stub_registry *r)
{
	if(r == NULL) return;
	for(size_t k = 0; k < r->n; k++) bson_destroy(r->docs[k]);
	free(r);
}
