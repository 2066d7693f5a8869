/* The fake registry of fuzz_registry.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "auth/auth_internal.h"
#include "auth/source.h"
#include "fuzz/fuzz_registry.h"

static const char *const docs_json[] = {
	("{\"broker_username\": \"p1/d1\", \"product_name\": \"p1\", \"device_name\": \"d1\", \"secret\": \"s1\","
	" \"status\": \"active\", \"tags\": [\"t1\"]}"),
	"{\"broker_username\": \"p1/d2\", \"secret\": \"s2\"}",
	"{\"broker_username\": \"p1/admin\", \"secret\": \"adm\", \"superuser\": true}",
	"{\"broker_username\": \"p1/sus\", \"secret\": \"s3\", \"status\": \"suspended\"}",
};
#define NDOCS (sizeof(docs_json) / sizeof(docs_json[0]))

static bson_t *docs[NDOCS];

static const char *doc_user(const bson_t *doc)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, doc, "broker_username") ? bson_iter_utf8(&it, NULL) : "";
}

static int fake_fetch(struct auth_source *s, const char *const *usernames, size_t n,
		auth_source_doc_fn on_doc, void *ud, char *err, size_t errlen)
{
	(void)s; (void)err; (void)errlen;
	for(size_t i = 0; i < n; i++){
		for(size_t k = 0; k < NDOCS; k++){
			if(!strcmp(doc_user(docs[k]), usernames[i])) on_doc(ud, docs[k]);
		}
	}
	return 0;
}

static int fake_probe(struct auth_source *s, char *err, size_t errlen)
{
	(void)s; (void)err; (void)errlen;
	return 0;
}

static int fake_reset(struct auth_source *s, char *err, size_t errlen)
{
	(void)s; (void)err; (void)errlen;
	return 0;
}

static void fake_destroy(struct auth_source *s)
{
	free(s);
}

static const struct auth_source_ops fake_ops = {fake_fetch, fake_probe, fake_reset, fake_destroy};

static int fake_create(void *ctx, bool broker, struct auth_source **out, char *err, size_t errlen)
{
	struct auth_source *s = calloc(1, sizeof(*s));

	(void)ctx; (void)broker; (void)err; (void)errlen;
	if(s == NULL) return -1;
	s->ops = &fake_ops;
	*out = s;
	return 0;
}

struct auth *fuzz_auth_new(const struct ih_config *cfg)
{
	struct auth_deps deps = {{fake_create, NULL}, NULL};
	struct auth *a = NULL;
	bson_error_t e;

	for(size_t k = 0; k < NDOCS; k++){
		if(docs[k] == NULL) docs[k] = bson_new_from_json((const uint8_t *)docs_json[k], -1, &e);
		if(docs[k] == NULL){
			fprintf(stderr, "fuzz registry: bad JSON: %s\n", e.message);
			abort();
		}
	}
	if(auth_init_with(&a, cfg, &deps) != 0) abort();
	return a;
}
