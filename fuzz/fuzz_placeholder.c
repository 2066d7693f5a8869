/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Placeholder substitution (acl/placeholder.c) and what the ACL compiles
 * from it (acl/rules.c).
 *
 * Input: flags byte, then NUL-separated fields
 *   template | username | client id | topic
 * Properties:
 *  - a valid template's instantiation is a valid filter with exactly the
 *    template's wildcard levels: no value adds a '+' or '#', and no value
 *    makes the first level start with '$' unless the template did;
 *  - measuring and writing agree, and nothing is written past the size
 *    given (ASan checks the exact-size buffer);
 *  - a deny instantiation only ever gains wildcard levels;
 *  - rules compiled from the template as an allow rule never allow a topic
 *    the strict instantiation does not match ("never widen"), and a deny
 *    rule always denies what its strict instantiation matches.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl/placeholder.h"
#include "acl/rules.h"
#include "acl/topic.h"
#include "registry/username.h"
#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t wildcard_levels(const char *s)
{
	size_t n = 0;
	const char *level = s;

	for(;;){
		const char *end = strchrnul(level, '/');
		if(end - level == 1 && (level[0] == '+' || level[0] == '#')) n++;
		if(*end == '\0') return n;
		level = end + 1;
	}
}

static char *expand(const char *tpl, const struct acl_subject *who, enum acl_ph_result *rc)
{
	size_t len = 0, len2 = 0;
	char *out;

	*rc = acl_placeholder_expand(tpl, who, NULL, 0, &len);
	if(*rc != ACL_PH_OK) return NULL;
	FZ_CHECK(len <= ACL_TOPIC_MAX, "length %zu", len);
	out = malloc(len + 1);
	if(out == NULL) abort();
	FZ_CHECK(acl_placeholder_expand(tpl, who, out, len + 1, &len2) == ACL_PH_OK && len2 == len, "measure/write differ");
	FZ_CHECK(strlen(out) == len, "written %zu, measured %zu", strlen(out), len);
	/* The single-walk variant fits the same exact buffer and writes the same. */
	{
		char *again = malloc(len + 1);
		if(again == NULL) abort();
		FZ_CHECK(acl_placeholder_expand_checked(tpl, who, again, len + 1, &len2) == ACL_PH_OK && len2 == len,
				"expand_checked refused an exact buffer");
		FZ_CHECK(memcmp(again, out, len + 1) == 0, "expand_checked wrote other text");
		free(again);
	}
	return out;
}

/* A plain subject must get exactly the same decisions from the shared
 * template-form block as from the block compiled for it. */
static void check_shared(const struct acl_rules *r, const struct ih_acl_lists *lists,
		const struct acl_subject *who, const char *topic)
{
	static const int access[] = {MOSQ_ACL_WRITE, MOSQ_ACL_READ, MOSQ_ACL_SUBSCRIBE};
	struct acl_rules *s = NULL;

	if(!acl_subject_plain(who)) return;
	if(acl_rules_build_shared(&s, NULL, lists, NULL, 0) != MOSQ_ERR_SUCCESS) return;
	if(acl_rules_fits(s, who)){
		for(size_t i = 0; i < sizeof(access) / sizeof(access[0]); i++){
			enum acl_decision a = acl_rules_check(r, who, access[i], topic);
			enum acl_decision b = acl_rules_check(s, who, access[i], topic);
			FZ_CHECK(a == b, "shared block decided %d, compiled %d (access %d, \"%s\")", b, a, access[i], topic);
		}
	}
	acl_rules_free(s);
}

static void check_rules(const char *tpl, const char *exp, const struct acl_subject *who, const char *topic, bool deny)
{
	struct ih_acl_lists lists;
	struct acl_rules *r = NULL;
	char *item = (char *)tpl;
	enum acl_decision d;

	memset(&lists, 0, sizeof(lists));
	lists.list[deny ? IH_ACL_DENY : IH_ACL_PUBLISH] = (struct ih_strlist){&item, 1};
	if(acl_rules_build(&r, NULL, &lists, NULL, 0, who) != MOSQ_ERR_SUCCESS) return;
	d = acl_rules_check(r, who, MOSQ_ACL_WRITE, topic);
	if(!deny && d == ACL_ALLOW){
		FZ_CHECK(exp != NULL && acl_topic_matches(exp, topic), "template \"%s\" allowed \"%s\" (instantiated: %s)",
				tpl, topic, exp ? exp : "(dropped)");
	}
	if(deny && exp && acl_topic_valid(topic) && acl_topic_matches(exp, topic)){
		FZ_CHECK(d == ACL_DENY, "deny \"%s\" (%s) did not deny \"%s\"", tpl, exp, topic);
	}
	FZ_CHECK(deny || d != ACL_DENY, "an allow rule denied");
	check_shared(r, &lists, who, topic);
	acl_rules_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t flags = fz_u8(&f);
	char *tpl = fz_str(&f);
	char *user = fz_str(&f);
	char *id = fz_str(&f);
	char *topic = fz_str(&f);
	struct acl_subject who = {NULL, 0, NULL, false};
	enum acl_ph_result rc;
	unsigned uses = 0;
	char err[128];
	char *exp = NULL;

	if(!(flags & 1)){
		who.username = user;
		/* Mostly what auth validated; sometimes an arbitrary split. */
		if(flags & 2 || registry_username_check(user, 65535, &who.product_len) != NULL){
			who.product_len = strlen(user) ? (size_t)(flags >> 3) % (strlen(user) + 1) : 0;
		}
	}
	if(!(flags & 4)) who.client_id = id;

	rc = acl_placeholder_check(tpl, &uses, err, sizeof(err));
	FZ_CHECK(strlen(err) < sizeof(err), "error text");
	if(rc == ACL_PH_OK){
		FZ_CHECK(acl_filter_valid(tpl), "a valid template is a valid filter");
		exp = expand(tpl, &who, &rc);
		if(exp){
			FZ_CHECK(acl_filter_valid(exp), "instantiated \"%s\" into invalid \"%s\"", tpl, exp);
			FZ_CHECK(wildcard_levels(exp) == wildcard_levels(tpl), "\"%s\" -> \"%s\" changed the wildcards", tpl, exp);
			FZ_CHECK(exp[0] != '$' || tpl[0] == '$', "\"%s\" -> \"%s\" reached a $ topic", tpl, exp);
		}else{
			FZ_CHECK(rc != ACL_PH_BAD_TEMPLATE, "a checked template failed as bad");
		}
		{
			size_t len = 0, len2 = 0;
			bool widened = false;
			if(acl_placeholder_expand_deny(tpl, &who, NULL, 0, &len, &widened) == ACL_PH_OK){
				char *d = malloc(len + 1);
				if(d == NULL) abort();
				FZ_CHECK(acl_placeholder_expand_deny(tpl, &who, d, len + 1, &len2, &widened) == ACL_PH_OK && len == len2,
						"deny measure/write");
				FZ_CHECK(acl_filter_valid(d), "deny \"%s\" -> invalid \"%s\"", tpl, d);
				FZ_CHECK(wildcard_levels(d) >= wildcard_levels(tpl), "deny lost wildcards");
				FZ_CHECK(widened || (exp && !strcmp(exp, d)), "unwidened deny differs from strict");
				/* What the deny covers includes what the strict rule covers. */
				if(exp) FZ_CHECK(acl_filter_covers(d, exp), "deny \"%s\" does not cover \"%s\"", d, exp);
				free(d);
			}
		}
	}else{
		FZ_CHECK(err[0] != '\0', "a refused template has a reason");
	}
	if(acl_topic_valid(topic)){
		check_rules(tpl, exp, &who, topic, false);
		check_rules(tpl, exp, &who, topic, true);
	}
	free(exp);
	free(tpl);
	free(user);
	free(id);
	free(topic);
	return 0;
}
