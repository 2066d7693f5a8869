/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Auto-subscription templates: startup validation and per-connection
 * instantiation (rules in autosub_template.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "acl/topic.h"
#include "autosub/autosub_template.h"

int autosub_template_check(const char *tpl, char *err, size_t errlen)
{
	const char *level, *end;
	bool u = false, p = false, d = false, c = false;
	int n = 1;

	if(acl_placeholder_check(tpl, NULL, err, errlen) != ACL_PH_OK) return MOSQ_ERR_INVAL;
	for(level = tpl; ; level = end + 1, n++){
		end = strchrnul(level, '/');
		switch(acl_placeholder_level(level, (size_t)(end - level))){
			case ACL_PH_LEVEL_PLUS:
			case ACL_PH_LEVEL_HASH:
				if(!(u || c || (p && d))){
					snprintf(err, errlen, "wildcard at level %d comes before the device identity is complete"
							" (put %%u, or %%p and %%d, or %%c before the first + or #), so a device"
							" could receive another device's messages", n);
					return MOSQ_ERR_INVAL;
				}
				break;
			case ACL_PH_LEVEL_U: u = true; break;
			case ACL_PH_LEVEL_P: p = true; break;
			case ACL_PH_LEVEL_D: d = true; break;
			case ACL_PH_LEVEL_C: c = true; break;
			case ACL_PH_LEVEL_TEXT: break;
		}
		if(*end == '\0') break;
	}
	return MOSQ_ERR_SUCCESS;
}

bool autosub_templates_use_client_id(const struct ih_config *cfg)
{
	for(size_t i = 0; i < cfg->autosub_count; i++){
		if(strstr(cfg->autosub[i].filter, "%c")) return true;
	}
	return false;
}

int autosub_templates_validate(const struct ih_config *cfg)
{
	char err[256];
	int rc = MOSQ_ERR_SUCCESS;

	for(size_t i = 0; i < cfg->autosub_count; i++){
		if(autosub_template_check(cfg->autosub[i].filter, err, sizeof(err)) != MOSQ_ERR_SUCCESS){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option plugin_opt_autosub \"%s\": %s",
					cfg->autosub[i].filter, err);
			rc = MOSQ_ERR_INVAL;
		}
	}
	return rc;
}

/* Two passes over the same sources: measure, then fill the one allocation. */
struct build {
	const struct acl_subject *who;
	bool writing;
	size_t n;
	size_t bytes;
	struct autosub_list *list;   /* fill pass only */
	char *pool;                  /* fill pass only */
	unsigned dropped;
	const char *first_dropped;
	enum acl_ph_result first_reason;
};

static void add_template(struct build *b, const char *tpl, int qos)
{
	size_t len;
	enum acl_ph_result rc = acl_placeholder_expand(tpl, b->who, NULL, 0, &len);

	if(rc != ACL_PH_OK){
		if(!b->writing && rc != ACL_PH_NO_IDENTITY && b->dropped++ == 0){
			b->first_dropped = tpl;
			b->first_reason = rc;
		}
		return;
	}
	if(b->writing){
		/* The measure just validated tpl: one walk. */
		acl_placeholder_expand_checked(tpl, b->who, b->pool + b->bytes, len + 1, &len);
		b->list->items[b->n] = (struct autosub_filter){b->pool + b->bytes, qos};
	}
	b->n++;
	b->bytes += len + 1;
}

static bool tag_ok(const char *tag, size_t len)
{
	if(len == 0 || len > ACL_TOPIC_MAX || strpbrk(tag, "/+#")) return false;
	return mosquitto_validate_utf8(tag, (int)len) == MOSQ_ERR_SUCCESS;
}

/* tags/<P>/<tag>/cmd/#, written straight into the pool. */
static void add_tag(struct build *b, const char *tag, int qos)
{
	static const char suffix[] = "/cmd/#";
	const char *product = b->who->username;
	size_t plen = b->who->product_len;
	size_t tlen = strlen(tag);
	size_t len = 5 + plen + 1 + tlen + sizeof(suffix) - 1;

	if(!tag_ok(tag, tlen)){
		if(!b->writing){
			mosquitto_log_printf(MOSQ_LOG_NOTICE,
					"iothub: client \"%s\": tag \"%s\" skipped for auto-subscription"
					" (empty, contains '/', '+' or '#', or not valid UTF-8)",
					b->who->client_id ? b->who->client_id : "", tag);
		}
		return;
	}
	if(len > ACL_TOPIC_MAX) return;
	if(b->writing){
		char *dst = b->pool + b->bytes;
		memcpy(dst, "tags/", 5);
		memcpy(dst + 5, product, plen);
		dst[5 + plen] = '/';
		memcpy(dst + 5 + plen + 1, tag, tlen);
		memcpy(dst + 5 + plen + 1 + tlen, suffix, sizeof(suffix));
		b->list->items[b->n] = (struct autosub_filter){dst, qos};
	}
	b->n++;
	b->bytes += len + 1;
}

static void collect(struct build *b, const struct ih_config *cfg, const struct ih_strlist *tags)
{
	size_t ignored;

	for(size_t i = 0; i < cfg->autosub_count; i++){
		add_template(b, cfg->autosub[i].filter, cfg->autosub[i].qos);
	}
	if(!cfg->autosub_tags || tags == NULL || tags->count == 0) return;
	/* Measuring "tags/%p" validates the username exactly as the ACL does. */
	if(acl_placeholder_expand("tags/%p", b->who, NULL, 0, &ignored) != ACL_PH_OK) return;
	for(size_t i = 0; i < tags->count; i++){
		if(tags->items[i]) add_tag(b, tags->items[i], cfg->autosub_tags_qos);
	}
}

/* Merge identical filters, keeping the highest QoS; the lists are short. */
static void merge(struct autosub_list *l)
{
	size_t out = 0;

	for(size_t i = 0; i < l->count; i++){
		size_t j;
		for(j = 0; j < out; j++){
			if(!strcmp(l->items[j].filter, l->items[i].filter)) break;
		}
		if(j < out){
			if(l->items[i].qos > l->items[j].qos) l->items[j].qos = l->items[i].qos;
		}else{
			l->items[out++] = l->items[i];
		}
	}
	l->count = out;
	for(size_t i = 0; i < out; i++) l->names[i] = l->items[i].filter;
}

int autosub_instantiate(struct autosub_list *out, const struct ih_config *cfg,
		const struct acl_subject *who, const struct ih_strlist *tags)
{
	struct build b = {.who = who};
	struct acl_subject nobody = {NULL, 0, NULL, false};
	void *block;
	size_t size;

	memset(out, 0, sizeof(*out));
	if(b.who == NULL) b.who = &nobody;
	collect(&b, cfg, tags);
	if(b.dropped){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"iothub: client \"%s\" (username \"%s\"): %u auto-subscription(s) skipped for this connection,"
				" first \"%s\": %s", b.who->client_id ? b.who->client_id : "",
				b.who->username ? b.who->username : "", b.dropped, b.first_dropped,
				acl_placeholder_strerror(b.first_reason));
	}
	if(b.n == 0) return MOSQ_ERR_SUCCESS;

	size = b.n * (sizeof(struct autosub_filter) + sizeof(char *)) + b.bytes;
	block = mosquitto_malloc(size);
	if(block == NULL) return MOSQ_ERR_NOMEM;
	out->items = block; /* out owns block; autosub_list_free frees it */
	out->names = (const char **)(void *)(out->items + b.n);
	out->bytes = size;
	b.list = out;
	b.pool = (char *)(out->names + b.n);
	b.writing = true;
	b.n = 0;
	b.bytes = 0;
	collect(&b, cfg, tags);
	out->count = b.n;
	merge(out);
	return MOSQ_ERR_SUCCESS;
}

void autosub_list_free(struct autosub_list *list)
{
	if(list == NULL) return;
	mosquitto_free(list->items);
	memset(list, 0, sizeof(*list));
}
