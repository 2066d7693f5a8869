/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * ACL templates and per-connection compiled rules (decision table in
 * rules.h).
 *
 * A compiled rule set is one allocation:
 *
 *   struct acl_rules | rule[] grouped in five lists | string pool
 *
 * The five lists are what a check scans: WRITE deny/allow, READ deny/allow
 * and SUBSCRIBE allow (SUBSCRIBE deny is the READ deny list). A filter that
 * belongs to several lists (pubsub, deny) appears once in the pool and once
 * in each list, so a check walks one contiguous array and never looks at a
 * rule of the wrong kind.
 *
 * Each entry carries its rule's literal prefix (the bytes before the first
 * wildcard level) as a length and a first-eight-bytes word, so a rule that
 * cannot match is rejected with one masked word compare; a candidate then
 * costs one memcmp for the rest of the prefix and a walk over the wildcard
 * part only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/rules.h"
#include "acl/rules_internal.h"
#include "acl/topic.h"

/* The lists a check scans, and the bit of each in a filter's role mask. */
enum rule_list { L_W_DENY, L_W_ALLOW, L_R_DENY, L_R_ALLOW, L_S_ALLOW, L_COUNT };
#define ROLE(l) (1u << (l))

/* What each of the six lists (core/acl_lists.h) feeds. */
static const unsigned tpl_roles[IH_ACL_LIST_COUNT] = {
	[IH_ACL_PUBLISH] = ROLE(L_W_ALLOW),
	[IH_ACL_SUBSCRIBE] = ROLE(L_R_ALLOW) | ROLE(L_S_ALLOW),
	[IH_ACL_PUBSUB] = ROLE(L_W_ALLOW) | ROLE(L_R_ALLOW) | ROLE(L_S_ALLOW),
	[IH_ACL_DENY] = ROLE(L_W_DENY) | ROLE(L_R_DENY),
	[IH_ACL_DENY_PUBLISH] = ROLE(L_W_DENY),
	[IH_ACL_DENY_SUBSCRIBE] = ROLE(L_R_DENY),
};
/* A device may also subscribe to its own auto-subscribed topics: clients
 * written for plain MQTT do, and the index then steps aside (at-most-once). */
#define GRANT_ROLES (ROLE(L_R_ALLOW) | ROLE(L_S_ALLOW))

/* ------------------------------------------------------------------ */
/* templates                                                            */

struct acl_templates {
	size_t count[IH_ACL_LIST_COUNT];
	const char **item[IH_ACL_LIST_COUNT];   /* into this allocation */
};

/* lists[i] for template list i (NULL: empty); option names are
 * plugin_opt_<prefix>_<list>. */
static int templates_from(struct acl_templates **out, const struct ih_strlist *const lists[IH_ACL_LIST_COUNT],
		const char *prefix)
{
	static const struct ih_strlist none;
	struct acl_templates *t = NULL;
	size_t n = 0, bytes = 0;
	const char **slot;
	char *pool;
	char err[160];
	unsigned uses;
	int rc = MOSQ_ERR_SUCCESS;

	for(int i = 0; i < IH_ACL_LIST_COUNT; i++){
		const struct ih_strlist *l = lists[i] ? lists[i] : &none;
		for(size_t j = 0; j < l->count; j++){
			if(acl_placeholder_check(l->items[j], &uses, err, sizeof(err)) != ACL_PH_OK){
				mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option plugin_opt_%s_%s \"%s\": %s",
						prefix, ih_acl_list_names[i], l->items[j], err);
				rc = MOSQ_ERR_INVAL;
			}
			n++;
			bytes += strlen(l->items[j]) + 1;
		}
	}
	if(rc) return rc;

	t = mosquitto_calloc(1, sizeof(*t) + n * sizeof(char *) + bytes);
	if(t == NULL) return MOSQ_ERR_NOMEM;
	slot = (const char **)(void *)(t + 1);
	pool = (char *)(slot + n);
	for(int i = 0; i < IH_ACL_LIST_COUNT; i++){
		const struct ih_strlist *l = lists[i] ? lists[i] : &none;
		t->item[i] = slot;
		t->count[i] = l->count;
		for(size_t j = 0; j < l->count; j++){
			size_t len = strlen(l->items[j]) + 1;
			memcpy(pool, l->items[j], len);
			*slot++ = pool;
			pool += len;
		}
	}
	*out = t; /* the caller owns t; acl_templates_cleanup frees it */
	return MOSQ_ERR_SUCCESS;
}

int acl_templates_init(struct acl_templates **out, const struct ih_config *cfg)
{
	const struct ih_strlist *lists[IH_ACL_LIST_COUNT];

	for(int i = 0; i < IH_ACL_LIST_COUNT; i++) lists[i] = &cfg->acl_lists.list[i];
	return templates_from(out, lists, "acl");
}

int acl_templates_init_jwt(struct acl_templates **out, const struct ih_config *cfg)
{
	const struct ih_strlist *lists[IH_ACL_LIST_COUNT] = {
		[IH_ACL_PUBLISH] = &cfg->jwt_acl_publish,
		[IH_ACL_SUBSCRIBE] = &cfg->jwt_acl_subscribe,
		[IH_ACL_PUBSUB] = &cfg->jwt_acl_pubsub,
	};

	return templates_from(out, lists, "jwt_acl");
}

void acl_templates_cleanup(struct acl_templates *t)
{
	mosquitto_free(t);
}

const char *const *acl_templates_list(const struct acl_templates *t, int list, size_t *count)
{
	*count = t ? t->count[list] : 0;
	return t ? t->item[list] : NULL;
}

/* ------------------------------------------------------------------ */
/* compiled rules                                                       */

struct acl_rule {
	uint64_t key;          /* the first min(plen, 8) bytes of the filter ... */
	uint64_t mask;         /* ... and which bytes of a word they are */
	const char *filter;    /* NUL-terminated, in the pool */
	uint32_t plen;         /* literal prefix length (0: starts with a wildcard or a marker) */
	uint16_t plus;         /* > 0: only this many "+" levels follow the prefix, or for a
	                        * template-form rule the last marker (acl_topic_plus_levels) */
	uint16_t mend;         /* template form: offset just past the last marker level
	                        * (filters are at most 65535 bytes); 0: no marker */
};

struct acl_rules {
	size_t bytes;
	size_t n_filters;
	uint32_t refs;                 /* acl_rules_ref / acl_rules_free */
	bool templated;                /* template form: checks need the subject */
	uint32_t max_len;              /* template form: longest encoded filter ... */
	uint32_t max_ph;               /* ... and most placeholders in one (acl_rules_fits) */
	void *intern;                  /* its entry in an acl_intern table, or NULL */
	uint32_t start[L_COUNT + 1];   /* list l is rule[start[l] .. start[l+1]) */
	struct acl_rule rule[];        /* then the string pool */
};

/* One instantiated filter while building. */
struct pending {
	const char *text;
	size_t len;
	unsigned roles;
};

struct build {
	const struct acl_subject *who;
	bool templated;        /* template form: placeholders become markers (no who) */
	bool unshareable;      /* template form: a template holds a marker byte */
	uint32_t max_len;      /* template form: see struct acl_rules */
	uint32_t max_ph;
	bool writing;          /* false: measure pass, true: fill pass */
	size_t n;              /* filters accepted (measure) / written (fill) */
	size_t bytes;          /* pool bytes, NULs included */
	struct pending *item;  /* fill pass only */
	char *pool;            /* fill pass only */
	size_t pool_size;      /* fill pass only: bytes at pool */
	unsigned dropped;      /* allow rules: unsafe values, too long */
	unsigned anonymous;    /* allow rules: no identity to substitute */
	unsigned widened;      /* deny rules made wider instead of dropped */
	const char *first_widened;
	const char *first_dropped;
	enum acl_ph_result first_reason;
};

/* Rules whose loss would widen access. */
#define DENY_ROLES (ROLE(L_W_DENY) | ROLE(L_R_DENY))

/* See acl_placeholder_expand_spelled: a second deny for the levels a
 * client id holding '/' spells. */
static void add_spelled_deny(struct build *b, const char *tpl, unsigned roles)
{
	size_t len;

	if(acl_placeholder_expand_spelled(tpl, b->who, NULL, 0, &len) != ACL_PH_OK) return;
	if(b->writing){
		char *dst = b->pool + b->bytes;
		acl_placeholder_expand_spelled(tpl, b->who, dst, len + 1, &len);
		b->item[b->n] = (struct pending){dst, len, roles};
	}
	b->n++;
	b->bytes += len + 1;
}

/* trusted: a config template, validated by acl_templates_init. */
static void add_filter(struct build *b, const char *tpl, bool is_template, bool trusted, unsigned roles)
{
	size_t len;
	bool widened = false;
	unsigned n_ph = 0;
	enum acl_ph_result rc;

	if(is_template && b->templated){
		/* No subject yet: the template itself, its placeholders as markers.
		 * Only plain subjects use such a block (acl_subject_plain), for
		 * which no rule is dropped or widened. */
		rc = trusted ? ACL_PH_OK : acl_placeholder_check(tpl, NULL, NULL, 0);
		if(rc == ACL_PH_OK && acl_placeholder_encode(tpl, NULL, 0, &len, &n_ph) != ACL_PH_OK){
			b->unshareable = true;
			return;
		}
	}else if(is_template && (roles & DENY_ROLES)){
		rc = acl_placeholder_expand_deny(tpl, b->who, NULL, 0, &len, &widened);
		if(rc == ACL_PH_OK && widened && !b->writing && b->widened++ == 0) b->first_widened = tpl;
	}else if(is_template){
		/* One walk per pass: the measure pass sizes the pool, the fill pass
		 * writes into it. Registry templates are checked in both passes, or
		 * one the measure dropped would be written. */
		rc = trusted ? ACL_PH_OK : acl_placeholder_check(tpl, NULL, NULL, 0);
		if(rc == ACL_PH_OK){
			rc = acl_placeholder_expand_checked(tpl, b->who, b->writing ? b->pool + b->bytes : NULL,
					b->writing ? b->pool_size - b->bytes : 0, &len);
		}
	}else{
		rc = acl_filter_valid(tpl) ? ACL_PH_OK : ACL_PH_BAD_TEMPLATE;
		len = rc == ACL_PH_OK ? strlen(tpl) : 0;
	}
	if(rc != ACL_PH_OK && (roles & DENY_ROLES)){
		/* A deny we cannot read must not vanish: fail closed. */
		if(!b->writing){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: client \"%s\": invalid deny filter \"%s\" (%s)"
					" is applied as \"#\": the device is denied every topic for this access",
					b->who && b->who->client_id ? b->who->client_id : "", tpl, acl_placeholder_strerror(rc));
		}
		tpl = "#";
		is_template = false;
		len = 1;
		rc = ACL_PH_OK;
	}
	if(rc != ACL_PH_OK){
		if(b->writing) return;
		if(rc == ACL_PH_NO_IDENTITY){
			b->anonymous++;
		}else if(rc == ACL_PH_BAD_TEMPLATE){
			/* Config templates were validated at startup: this is registry data. */
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: client \"%s\": ignoring invalid ACL filter \"%s\"",
					b->who && b->who->client_id ? b->who->client_id : "", tpl);
		}else{
			if(b->dropped++ == 0){
				b->first_dropped = tpl;
				b->first_reason = rc;
			}
		}
		return;
	}
	if(b->writing){
		char *dst = b->pool + b->bytes;
		if(!is_template){
			memcpy(dst, tpl, len + 1);
		}else if(b->templated){
			acl_placeholder_encode(tpl, dst, len + 1, &len, NULL);
		}else if(roles & DENY_ROLES){
			acl_placeholder_expand_deny(tpl, b->who, dst, len + 1, &len, &widened);
		}   /* else: expand_checked wrote it above */
		b->item[b->n] = (struct pending){dst, len, roles};
	}
	b->n++;
	b->bytes += len + 1;
	if(len > b->max_len) b->max_len = (uint32_t)len;
	if(n_ph > b->max_ph) b->max_ph = n_ph;
	if(widened) add_spelled_deny(b, tpl, roles);
}

static void collect(struct build *b, const struct acl_templates *global, const struct ih_acl_lists *device,
		const char *const *grants, size_t n_grants, const struct ih_autosub_tpl *grant_tpls)
{
	for(int i = 0; global && i < IH_ACL_LIST_COUNT; i++){
		for(size_t j = 0; j < global->count[i]; j++){
			add_filter(b, global->item[i][j], true, true, tpl_roles[i]);
		}
	}
	for(int i = 0; device && i < IH_ACL_LIST_COUNT; i++){
		const struct ih_strlist *l = &device->list[i];
		for(size_t j = 0; j < l->count; j++){
			if(l->items[j]) add_filter(b, l->items[j], true, false, tpl_roles[i]);
		}
	}
	for(size_t j = 0; j < n_grants; j++){
		/* Template grants were validated at startup (autosub_templates_validate). */
		if(grant_tpls && grant_tpls[j].filter) add_filter(b, grant_tpls[j].filter, true, true, GRANT_ROLES);
		if(grants && grants[j]) add_filter(b, grants[j], false, false, GRANT_ROLES);
	}
}

static void log_drops(const struct build *b)
{
	const char *cid = b->who && b->who->client_id ? b->who->client_id : "";
	const char *user = b->who && b->who->username ? b->who->username : "";

	if(b->dropped){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"iothub: client \"%s\" (username \"%s\"): %u ACL rule(s) dropped for this connection, first \"%s\": %s",
				cid, user, b->dropped, b->first_dropped, acl_placeholder_strerror(b->first_reason));
	}
	if(b->widened){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"iothub: client \"%s\" (username \"%s\"): %u deny rule(s) widened with wildcards for this"
				" connection because a placeholder value is missing or unsafe, first \"%s\"",
				cid, user, b->widened, b->first_widened);
	}
	if(b->anonymous){
		mosquitto_log_printf(MOSQ_LOG_DEBUG,
				"iothub: client \"%s\": %u ACL rule(s) need a username or client id and do not apply",
				cid, b->anonymous);
	}
}

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if(x->len != y->len) return x->len < y->len ? -1 : 1;
	return memcmp(x->text, y->text, x->len);
}

/* Sort, merge identical filters, and drop allow roles a same-filter deny shadows. */
static size_t merge(struct pending *item, size_t n)
{
	size_t out = 0;

	if(n == 0) return 0;
	qsort(item, n, sizeof(*item), pending_cmp);
	for(size_t i = 1; i < n; i++){
		if(pending_cmp(&item[out], &item[i]) == 0){
			item[out].roles |= item[i].roles;
		}else{
			item[++out] = item[i];
		}
	}
	out++;
	for(size_t i = 0; i < out; i++){
		if(item[i].roles & ROLE(L_W_DENY)) item[i].roles &= ~ROLE(L_W_ALLOW);
		if(item[i].roles & ROLE(L_R_DENY)) item[i].roles &= ~(ROLE(L_R_ALLOW) | ROLE(L_S_ALLOW));
	}
	return out;
}

/*
 * The literal prefix: everything before the first wildcard level, less the
 * '/' in front of a `#` (`a/#` also matches `a`).
 */
static inline bool is_marker(char c)
{
	return c >= ACL_PH_MARK_U && c <= ACL_PH_MARK_C;
}

/* In the template form a marker level ends the prefix as a wildcard does. */
static size_t literal_prefix(const char *filter, bool templated)
{
	for(const char *p = filter; *p; p++){
		if(templated && is_marker(*p)) return (size_t)(p - filter);
		if((*p == '+' || *p == '#') && (p == filter || p[-1] == '/')){
			if(*p == '#' && p != filter) return (size_t)(p - 1 - filter);
			return (size_t)(p - filter);
		}
	}
	return strlen(filter);
}

/* The first (up to) eight bytes of s in a word, zero-padded; n = strlen(s). */
static inline uint64_t head_word(const char *s, size_t n)
{
	unsigned char b[8] = {0};
	uint64_t w;

	if(n >= 8){
		memcpy(&w, s, 8);
		return w;
	}
	for(size_t i = 0; i < n; i++) b[i] = (unsigned char)s[i];
	memcpy(&w, b, 8);
	return w;
}

static void rule_init(struct acl_rule *r, const char *filter, bool templated)
{
	unsigned char m[8] = {0};
	size_t k;

	r->filter = filter;
	/* A filter is a valid topic filter: at most 65535 bytes. */
	r->plen = (uint32_t)literal_prefix(filter, templated);
	r->mend = 0;
	for(const char *p = filter; templated && *p; p++){
		if(is_marker(*p)) r->mend = (uint16_t)(p + 1 - filter);
	}
	/* "upload_data/p1/d1/+/+" and "upload_data/%p/%d/+/+" (after the %d):
	 * matched by counting levels. */
	if(r->mend == 0){
		r->plus = (uint16_t)acl_topic_plus_levels(filter, r->plen);
	}else{
		r->plus = filter[r->mend] == '/' ? (uint16_t)acl_topic_plus_levels(filter, r->mend + 1u) : 0;
	}
	k = r->plen < 8 ? r->plen : 8;
	memset(m, 0xff, k);
	memcpy(&r->mask, m, 8);
	r->key = head_word(filter, strlen(filter)) & r->mask;
}

static struct acl_rules *layout(const struct pending *item, size_t n, bool templated)
{
	struct acl_rules *r;
	size_t entries = 0, bytes = 0, size, count[L_COUNT] = {0};
	uint32_t next[L_COUNT];
	char *pool;

	for(size_t i = 0; i < n; i++){
		for(int l = 0; l < L_COUNT; l++){
			if(item[i].roles & ROLE(l)) count[l]++;
		}
		if(item[i].roles) bytes += item[i].len + 1;
	}
	for(int l = 0; l < L_COUNT; l++) entries += count[l];
	if(entries > UINT32_MAX) return NULL;
	size = sizeof(*r) + entries * sizeof(struct acl_rule) + bytes;
	r = mosquitto_malloc(size);
	if(r == NULL) return NULL;
	r->bytes = size;
	r->n_filters = 0;
	r->refs = 1;
	r->templated = templated;
	r->max_len = 0;
	r->max_ph = 0;
	r->intern = NULL;
	r->start[0] = 0;
	for(int l = 0; l < L_COUNT; l++){
		r->start[l + 1] = r->start[l] + (uint32_t)count[l];
		next[l] = r->start[l];
	}
	pool = (char *)&r->rule[entries];
	for(size_t i = 0; i < n; i++){
		if(item[i].roles == 0) continue;
		memcpy(pool, item[i].text, item[i].len + 1);
		for(int l = 0; l < L_COUNT; l++){
			if(item[i].roles & ROLE(l)) rule_init(&r->rule[next[l]++], pool, templated);
		}
		pool += item[i].len + 1;
		r->n_filters++;
	}
	return r;
}

/* Both forms: measure, fill a scratch block, merge, lay out. */
static int build_block(struct build *b, struct acl_rules **out, const struct acl_templates *global,
		const struct ih_acl_lists *device, const char *const *read_grants, size_t n_read_grants,
		const struct ih_autosub_tpl *grant_tpls)
{
	void *scratch = NULL;
	struct acl_rules *r;
	size_t n;
	int rc = MOSQ_ERR_NOMEM;

	collect(b, global, device, read_grants, n_read_grants, grant_tpls);
	if(b->unshareable) return MOSQ_ERR_NOT_SUPPORTED;
	log_drops(b);

	/* One scratch block for the instantiated filters before merging. */
	scratch = mosquitto_malloc(b->n * sizeof(struct pending) + b->bytes + 1);
	if(scratch == NULL) goto out;
	b->item = scratch;
	b->pool = (char *)(b->item + b->n);
	b->pool_size = b->bytes + 1;
	b->writing = true;
	b->n = 0;
	b->bytes = 0;
	collect(b, global, device, read_grants, n_read_grants, grant_tpls);

	n = merge(b->item, b->n);
	r = layout(b->item, n, b->templated);
	if(r == NULL) goto out;
	r->max_len = b->max_len;
	r->max_ph = b->max_ph;
	*out = r; /* the caller owns r; acl_rules_free frees it */
	rc = MOSQ_ERR_SUCCESS;
out:
	mosquitto_free(scratch);
	return rc;
}

int acl_rules_build(struct acl_rules **out, const struct acl_templates *global,
		const struct ih_acl_lists *device, const char *const *read_grants, size_t n_read_grants,
		const struct acl_subject *who)
{
	struct build b = {.who = who};

	return build_block(&b, out, global, device, read_grants, n_read_grants, NULL);
}

int acl_rules_build_shared(struct acl_rules **out, const struct acl_templates *global,
		const struct ih_acl_lists *device, const struct ih_autosub_tpl *grants, size_t n_grants)
{
	struct build b = {.templated = true};

	return build_block(&b, out, global, device, NULL, n_grants, grants);
}

bool acl_rules_fits(const struct acl_rules *r, const struct acl_subject *who)
{
	size_t ulen, clen, longest;

	if(r == NULL || !r->templated) return true;
	if(!acl_subject_plain(who)) return false;
	ulen = strlen(who->username);
	clen = strlen(who->client_id);
	longest = ulen > clen ? ulen : clen;
	/* No instantiation may exceed ACL_TOPIC_MAX (it would be dropped). */
	return longest <= ACL_TOPIC_MAX && (uint64_t)r->max_len + (uint64_t)r->max_ph * longest <= ACL_TOPIC_MAX;
}

bool acl_rules_templated(const struct acl_rules *r)
{
	return r && r->templated;
}

void acl_rules_ref(struct acl_rules *r)
{
	if(r) r->refs++;
}

void acl_rules_free(struct acl_rules *r)
{
	if(r == NULL || --r->refs > 0) return;
	if(r->intern) acl_intern_forget(r->intern);
	mosquitto_free(r);
}

void acl_rules_set_intern(struct acl_rules *r, void *entry)
{
	r->intern = entry;
}

size_t acl_rules_memory(const struct acl_rules *r)
{
	return r ? r->bytes : 0;
}

size_t acl_rules_count(const struct acl_rules *r)
{
	return r ? r->n_filters : 0;
}

/* ------------------------------------------------------------------ */
/* checks: the hot path                                                 */

/*
 * Does the topic (tlen bytes, head = its first word) start with the rule's
 * literal prefix? A topic shorter than the prefix never does; the word
 * compare settles the first eight bytes, memcmp the rest.
 */
static inline bool prefix_equal(const struct acl_rule *ru, const char *topic, size_t tlen, uint64_t head)
{
	if(tlen < ru->plen || (head & ru->mask) != ru->key) return false;
	return ru->plen <= 8 || memcmp(ru->filter + 8, topic + 8, ru->plen - 8) == 0;
}

/*
 * Template form: compare the value of marker m with the bytes at s; s past
 * it, or NULL. Stops at the first difference, so a topic shorter than the
 * value is never read past its NUL.
 */
static inline const char *eat_value(const char *s, char m, const struct acl_subject *who)
{
	const char *v;

	if(m == ACL_PH_MARK_P){
		for(size_t i = 0; i < who->product_len; i++){
			if(s[i] != who->username[i]) return NULL;
		}
		return s + who->product_len;
	}
	v = m == ACL_PH_MARK_U ? who->username
			: m == ACL_PH_MARK_D ? who->username + who->product_len + 1 : who->client_id;
	for(; *v; v++, s++){
		if(*v != *s) return NULL;
	}
	return s;
}

/*
 * Template form: walk the levels from the end of the literal prefix to just
 * past the last marker, in step with the topic (or, cover: the SUBSCRIBE
 * filter) at t. Returns where t stands then (a '/' or the end), or NULL.
 * A marker is the subject's value, literal text itself, '+' one level (for
 * cover, not a '#'); '#' is always past the last marker.
 */
static const char *walk_marked(const struct acl_rule *ru, const struct acl_subject *who, const char *t, bool cover)
{
	const char *f = ru->filter + ru->plen, *fend = ru->filter + ru->mend;

	for(;;){
		if(is_marker(*f)){
			t = eat_value(t, *f, who);
			if(t == NULL) return NULL;
			f++;
		}else if(f[0] == '+' && (f[1] == '/' || f[1] == '\0')){
			if(cover && t[0] == '#' && t[1] == '\0') return NULL;
			while(*t != '/' && *t != '\0') t++;
			f++;
		}else{
			for(; *f != '/' && *f != '\0'; f++, t++){
				if(*f != *t) return NULL;
			}
		}
		if(*t != '/' && *t != '\0') return NULL;
		if(f == fend) return t;
		if(*t != '/') return NULL;
		f++;
		t++;
	}
}

/* Template form, a rule whose prefix matched: the marked part, then the tail.
 * Out of line, so that the scan over literal rules stays as tight as before. */
__attribute__((noinline)) static bool marked_matches(const struct acl_rule *ru, const struct acl_subject *who, const char *topic)
{
	const char *t, *tail = ru->filter + ru->mend;

	/* The `$` rule: a marker is never a '$' value, but a '+' may be first. */
	if(ru->mend == ru->plen + 1u){
		/* The usual shape, "upload_data/%u/+/+": one value right after the prefix. */
		t = eat_value(topic + ru->plen, ru->filter[ru->plen], who);
		if(t == NULL || (*t != '/' && *t != '\0')) return false;
	}else{
		if(ru->plen == 0 && ru->filter[0] == '+' && topic[0] == '$') return false;
		t = walk_marked(ru, who, topic + ru->plen, false);
		if(t == NULL) return false;
	}
	if(*tail == '\0') return *t == '\0';
	if(ru->plus) return *t == '/' && acl_topic_plus_rest_matches(t + 1, ru->plus);
	return acl_topic_matches_tail(tail, t);
}

__attribute__((noinline)) static bool marked_covers(const struct acl_rule *ru, const struct acl_subject *who, const char *filter)
{
	const char *f, *tail = ru->filter + ru->mend;

	if(ru->plen == 0 && ru->filter[0] == '+' && filter[0] == '$') return false;
	f = walk_marked(ru, who, filter + ru->plen, true);
	if(f == NULL) return false;
	if(*tail == '\0') return *f == '\0';
	return acl_filter_covers_tail(tail, f);
}

static bool list_matches(const struct acl_rules *r, const struct acl_subject *who, int l, const char *topic,
		size_t tlen, uint64_t head)
{
	const struct acl_rule *ru = &r->rule[r->start[l]];
	const struct acl_rule *end = &r->rule[r->start[l + 1]];

	for(; ru < end; ru++){
		if(!prefix_equal(ru, topic, tlen, head)) continue;
		if(ru->mend){
			if(marked_matches(ru, who, topic)) return true;
		}else if(ru->plus ? acl_topic_plus_rest_matches(topic + ru->plen, ru->plus)
				: acl_topic_matches_from(ru->filter, topic, ru->plen)){
			return true;
		}
	}
	return false;
}

static bool list_covers(const struct acl_rules *r, const struct acl_subject *who, int l, const char *filter,
		size_t flen, uint64_t head)
{
	const struct acl_rule *ru = &r->rule[r->start[l]];
	const struct acl_rule *end = &r->rule[r->start[l + 1]];

	/* A wildcard in the filter's first bytes never equals a rule's literal prefix. */
	for(; ru < end; ru++){
		if(!prefix_equal(ru, filter, flen, head)) continue;
		if(ru->mend ? marked_covers(ru, who, filter) : acl_filter_covers_from(ru->filter, filter, ru->plen)){
			return true;
		}
	}
	return false;
}

#define NONEMPTY(r, l) ((r)->start[(l)] != (r)->start[(l) + 1])

enum acl_decision acl_rules_check(const struct acl_rules *r, const struct acl_subject *who, int access,
		const char *topic)
{
	size_t len;
	uint64_t head;

	if(r == NULL || (r->templated && who == NULL)) return ACL_NOMATCH;
	if(access == MOSQ_ACL_UNSUBSCRIBE) return ACL_ALLOW;
	if(topic == NULL || topic[0] == '\0') return ACL_DENY;
	if(access == MOSQ_ACL_SUBSCRIBE){
		topic = acl_share_strip(topic);
		if(topic == NULL) return ACL_DENY;
	}
	len = strlen(topic);
	head = head_word(topic, len);

	/* Deny lists are usually empty: test that before paying for a call. */
	switch(access){
		case MOSQ_ACL_WRITE:
			if(NONEMPTY(r, L_W_DENY) && list_matches(r, who, L_W_DENY, topic, len, head)) return ACL_DENY;
			return list_matches(r, who, L_W_ALLOW, topic, len, head) ? ACL_ALLOW : ACL_NOMATCH;
		case MOSQ_ACL_READ:
			if(NONEMPTY(r, L_R_DENY) && list_matches(r, who, L_R_DENY, topic, len, head)) return ACL_DENY;
			return list_matches(r, who, L_R_ALLOW, topic, len, head) ? ACL_ALLOW : ACL_NOMATCH;
		case MOSQ_ACL_SUBSCRIBE:
			if(NONEMPTY(r, L_R_DENY) && list_covers(r, who, L_R_DENY, topic, len, head)) return ACL_DENY;
			return list_covers(r, who, L_S_ALLOW, topic, len, head) ? ACL_ALLOW : ACL_NOMATCH;
		default:
			return ACL_DENY;
	}
}
