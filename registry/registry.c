/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Broker-thread registry lookups and the circuit breaker (see registry.h).
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "registry/registry.h"

struct registry {
	struct auth_source *src;
	int64_t (*now_ms)(void);
	registry_down_fn on_down;
	void *ud;
	const char *field_username;
	uint32_t grace_s;
	bool up;
	int64_t down_since_ms;
	uint64_t refused_in_outage;
	uint64_t queries;
	uint64_t errors;
};

int registry_init(struct registry **out, const struct ih_config *cfg,
		const struct auth_source_factory *factory, int64_t (*now_ms)(void),
		registry_down_fn on_down, void *ud)
{
	struct registry *r;
	char err[256];

	r = mosquitto_calloc(1, sizeof(*r));
	if(r == NULL) return -1;
	if(factory->create(factory->ctx, true, &r->src, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: device registry: %s", err);
		mosquitto_free(r);
		return -1;
	}
	r->now_ms = now_ms;
	r->on_down = on_down;
	r->ud = ud;
	r->field_username = cfg->field.username;
	r->grace_s = cfg->auth_outage_grace_s;
	/* Optimistic until something fails: the worker probes at start-up, so
	 * an unreachable registry is reported before the first device waits. */
	r->up = true;
	*out = r;
	return 0;
}

void registry_cleanup(struct registry *r)
{
	if(r == NULL) return;
	r->src->ops->destroy(r->src);
	mosquitto_free(r);
}

struct first_doc {
	bson_t *doc;
	const char *username;         /* the device the caller waits for */
	const char *field_username;
	registry_extra_fn extra;      /* NULL: every document is the username's */
	void *ud;
};

static void keep_first(void *ud, const bson_t *doc)
{
	struct first_doc *f = ud;
	bson_iter_t it;

	if(f->extra && (!bson_iter_init_find(&it, doc, f->field_username) || !BSON_ITER_HOLDS_UTF8(&it)
				|| strcmp(bson_iter_utf8(&it, NULL), f->username) != 0)){
		f->extra(f->ud, doc);
		return;
	}
	/* Duplicate registrations: the first document wins. */
	if(f->doc == NULL) f->doc = bson_copy(doc);
}

void registry_mark_down(struct registry *r, const char *why)
{
	if(!r->up) return;
	r->up = false;
	r->down_since_ms = r->now_ms();
	r->refused_in_outage = 0;
	mosquitto_log_printf(MOSQ_LOG_ERR,
			"iothub: device registry unavailable: %s. Until it is back, a device connects only with the "
			"password last verified for it within the last %us (cached record); every other connect is refused",
			why, r->grace_s);
	if(r->on_down) r->on_down(r->ud);
}

int registry_mark_up(struct registry *r)
{
	char err[256];
	int64_t ms;

	if(r->up) return 0;
	/* libmongoc keeps a failed server in a 5 s cool-down per client; a new
	 * client has no such memory, so the next lookup really goes out. */
	if(r->src->ops->reset(r->src, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: device registry: %s", err);
		if(r->on_down) r->on_down(r->ud); /* stay down; ask for another probe */
		return -1;
	}
	r->up = true;
	ms = r->now_ms() - r->down_since_ms;
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
			"iothub: device registry available again after %lld.%03llds; %llu connects were refused meanwhile",
			(long long)(ms / 1000), (long long)(ms % 1000), (unsigned long long)r->refused_in_outage);
	return 0;
}

enum registry_result registry_lookup(struct registry *r, const char *username, bson_t **doc)
{
	return registry_lookup_with(r, username, NULL, 0, NULL, NULL, doc);
}

enum registry_result registry_lookup_with(struct registry *r, const char *username, const char *const *extra,
		size_t n_extra, registry_extra_fn fn, void *ud, bson_t **doc)
{
	struct first_doc f = {NULL, username, r->field_username, n_extra ? fn : NULL, ud};
	const char *one[1] = {username}, **names = (const char **)one;
	char err[512];
	int rc;

	*doc = NULL;
	if(!r->up) return AUTH_REGISTRY_UNAVAILABLE;
	r->queries++;
	if(n_extra){
		names = mosquitto_malloc((n_extra + 1) * sizeof(*names));
		if(names == NULL){
			names = (const char **)one;   /* out of memory: just the device */
			n_extra = 0;
			f.extra = NULL;
		}else{
			names[0] = username;
			memcpy(names + 1, extra, n_extra * sizeof(*names));
		}
	}
	rc = r->src->ops->fetch(r->src, names, n_extra + 1, keep_first, &f, err, sizeof(err));
	if(names != (const char **)one) mosquitto_free(names);
	if(rc){
		bson_destroy(f.doc);
		r->errors++;
		registry_mark_down(r, err);
		return AUTH_REGISTRY_UNAVAILABLE;
	}
	if(f.doc == NULL) return AUTH_REGISTRY_NOT_FOUND;
	*doc = f.doc; /* ownership passes to the caller */
	return AUTH_REGISTRY_FOUND;
}

bool registry_is_up(const struct registry *r)
{
	return r->up;
}

void registry_count_refusal(struct registry *r)
{
	r->refused_in_outage++;
}

void registry_counters(const struct registry *r, uint64_t *queries, uint64_t *errors)
{
	*queries = r->queries;
	*errors = r->errors;
}
