/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Topic template syntax and instantiation (see placeholder.h for the
 * rules and for why a bad value drops the whole rule).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "acl/placeholder.h"
#include "acl/topic.h"

enum acl_ph_level acl_placeholder_level(const char *level, size_t len)
{
	if(len == 1 && level[0] == '+') return ACL_PH_LEVEL_PLUS;
	if(len == 1 && level[0] == '#') return ACL_PH_LEVEL_HASH;
	if(len != 2 || level[0] != '%') return ACL_PH_LEVEL_TEXT;
	switch(level[1]){
		case 'u': return ACL_PH_LEVEL_U;
		case 'p': return ACL_PH_LEVEL_P;
		case 'd': return ACL_PH_LEVEL_D;
		case 'c': return ACL_PH_LEVEL_C;
		default: return ACL_PH_LEVEL_TEXT;
	}
}

static void set_err(char *err, size_t errlen, const char *what, unsigned char c)
{
	if(err == NULL || errlen == 0) return;
	if(c == 0){
		snprintf(err, errlen, "%s", what);
	}else if(isprint(c)){
		snprintf(err, errlen, "%s %%%c", what, c);
	}else{
		snprintf(err, errlen, "%s %%\\x%02x", what, c);
	}
}

/* A literal level: every '%' must be half of a "%%". */
static enum acl_ph_result check_text(const char *p, const char *end, char *err, size_t errlen)
{
	for(; p < end; p++){
		if(*p != '%') continue;
		if(p + 1 == end){
			set_err(err, errlen, "a lone % (write %% for a literal %)", 0);
			return ACL_PH_BAD_TEMPLATE;
		}
		if(p[1] == '%'){
			p++;
		}else if(strchr("upcd", p[1])){
			set_err(err, errlen, "a placeholder must be a whole topic level:", (unsigned char)p[1]);
			return ACL_PH_BAD_TEMPLATE;
		}else{
			set_err(err, errlen, "unknown placeholder", (unsigned char)p[1]);
			return ACL_PH_BAD_TEMPLATE;
		}
	}
	return ACL_PH_OK;
}

enum acl_ph_result acl_placeholder_check(const char *tpl, unsigned *uses, char *err, size_t errlen)
{
	static const unsigned bit[] = {
		[ACL_PH_LEVEL_U] = ACL_PH_USES_U, [ACL_PH_LEVEL_P] = ACL_PH_USES_P,
		[ACL_PH_LEVEL_D] = ACL_PH_USES_D, [ACL_PH_LEVEL_C] = ACL_PH_USES_C,
	};
	const char *level, *end;
	unsigned u = 0;
	enum acl_ph_level kind;

	if(err && errlen) err[0] = '\0';
	if(!acl_filter_valid(tpl)){
		set_err(err, errlen, "not a valid topic filter (1..65535 bytes, '+' and '#' only as whole levels, '#' last)", 0);
		return ACL_PH_BAD_TEMPLATE;
	}
	for(level = tpl; ; level = end + 1){
		end = strchrnul(level, '/');
		kind = acl_placeholder_level(level, (size_t)(end - level));
		if(kind == ACL_PH_LEVEL_TEXT){
			if(check_text(level, end, err, errlen) != ACL_PH_OK) return ACL_PH_BAD_TEMPLATE;
		}else if(kind >= ACL_PH_LEVEL_U){
			u |= bit[kind];
		}
		if(*end == '\0') break;
	}
	if(uses) *uses = u;
	return ACL_PH_OK;
}

/* A value that cannot widen a rule: non-empty, no level separator, no wildcard. */
static bool value_safe(const char *s, size_t len)
{
	if(len == 0) return false;
	for(size_t i = 0; i < len; i++){
		if(s[i] == '/' || s[i] == '+' || s[i] == '#') return false;
	}
	return true;
}

static enum acl_ph_result subject_value(enum acl_ph_level kind, const struct acl_subject *who,
		const char **value, size_t *vlen)
{
	const char *user;
	size_t ulen, plen;

	if(kind == ACL_PH_LEVEL_C){
		if(who == NULL || who->client_id == NULL) return ACL_PH_NO_IDENTITY;
		*value = who->client_id;
		*vlen = strlen(who->client_id);
		return value_safe(*value, *vlen) ? ACL_PH_OK : ACL_PH_UNSAFE_VALUE;
	}
	if(who == NULL || who->username == NULL) return ACL_PH_NO_IDENTITY;
	user = who->username;
	ulen = strlen(user);
	if(who->token_user){
		if(kind != ACL_PH_LEVEL_U) return ACL_PH_UNSAFE_VALUE;
		*value = user;
		*vlen = ulen;
		return value_safe(user, ulen) ? ACL_PH_OK : ACL_PH_UNSAFE_VALUE;
	}
	plen = who->product_len;
	if(plen == 0 || plen >= ulen || user[plen] != '/'
			|| !value_safe(user, plen) || !value_safe(user + plen + 1, ulen - plen - 1)){
		return ACL_PH_UNSAFE_VALUE;
	}
	if(kind == ACL_PH_LEVEL_U){
		*value = user;
		*vlen = ulen;
	}else if(kind == ACL_PH_LEVEL_P){
		*value = user;
		*vlen = plen;
	}else{
		*value = user + plen + 1;
		*vlen = ulen - plen - 1;
	}
	return ACL_PH_OK;
}

/* How walk() treats a placeholder value. */
enum walk_mode {
	STRICT,        /* a bad or missing value fails the whole template */
	WIDEN_BAD,     /* a bad or missing value becomes a wildcard */
	WIDEN_ALL,     /* every placeholder becomes a wildcard */
	SPELLED,       /* like STRICT, but a client id holding '/' fills its levels */
};

/* SPELLED mode: a client id that is unsafe only because of its '/'. */
static bool spelled_client_id(const struct acl_subject *who)
{
	const char *id = who ? who->client_id : NULL;

	return id && id[0] && strchr(id, '/') && !strpbrk(id, "+#");
}

/* Measure (dst == NULL) or write the instantiation of a valid template:
 * at most cap bytes, NUL included (ACL_PH_TOO_LONG when they do not
 * suffice; dst is then unspecified). */
static enum acl_ph_result walk(const char *tpl, const struct acl_subject *who, char *dst, size_t cap,
		size_t *len, enum walk_mode mode)
{
	const char *level, *end, *value;
	size_t n = 0, vlen;
	enum acl_ph_level kind;
	enum acl_ph_result rc;

	for(level = tpl; ; level = end + 1){
		end = strchrnul(level, '/');
		kind = acl_placeholder_level(level, (size_t)(end - level));
		if(kind >= ACL_PH_LEVEL_U){
			rc = mode == WIDEN_ALL ? ACL_PH_UNSAFE_VALUE : subject_value(kind, who, &value, &vlen);
			if(rc == ACL_PH_UNSAFE_VALUE && mode == SPELLED && kind == ACL_PH_LEVEL_C && spelled_client_id(who)){
				value = who->client_id;
				vlen = strlen(value);
				rc = ACL_PH_OK;
			}
			if(rc == ACL_PH_OK && level == tpl && value[0] == '$') rc = ACL_PH_UNSAFE_VALUE;
			if(rc != ACL_PH_OK){
				if(mode == STRICT || mode == SPELLED) return rc;
				/* As many wildcard levels as a valid value would fill. */
				value = kind == ACL_PH_LEVEL_U ? "+/+" : "+";
				vlen = strlen(value);
			}
			if(dst && n + vlen >= cap) return ACL_PH_TOO_LONG;
			if(dst) memcpy(dst + n, value, vlen);
			n += vlen;
		}else{
			for(const char *p = level; p < end; p++){
				/* per byte: "%%" writes one, so the level's length overstates */
				if(dst){
					if(n + 1 >= cap) return ACL_PH_TOO_LONG;
					dst[n] = *p;
				}
				n++;
				if(p[0] == '%') p++;   /* "%%" -> "%", validated by the caller */
			}
		}
		if(n > ACL_TOPIC_MAX) return ACL_PH_TOO_LONG;
		if(*end == '\0') break;
		if(dst && n + 1 >= cap) return ACL_PH_TOO_LONG;
		if(dst) dst[n] = '/';
		n++;
	}
	if(dst) dst[n] = '\0';
	*len = n;
	return ACL_PH_OK;
}

/* Check tpl, measure its expansion in `mode`, and write it when out has
 * room. widened != NULL (deny rules): a bad or missing value widens the
 * mode instead of failing, and *widened says whether it did. */
static enum acl_ph_result expand_in_mode(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len, enum walk_mode mode, bool *widened)
{
	size_t n;
	enum acl_ph_result rc;

	rc = acl_placeholder_check(tpl, NULL, NULL, 0);
	if(rc != ACL_PH_OK) return rc;
	rc = walk(tpl, who, NULL, 0, &n, mode);
	if(widened && (rc == ACL_PH_NO_IDENTITY || rc == ACL_PH_UNSAFE_VALUE)){
		mode = WIDEN_BAD;
		rc = walk(tpl, who, NULL, 0, &n, mode);
	}
	if(widened && rc == ACL_PH_TOO_LONG){
		mode = WIDEN_ALL;
		rc = walk(tpl, who, NULL, 0, &n, mode);
	}
	if(rc != ACL_PH_OK) return rc;
	*len = n;
	if(widened) *widened = mode != STRICT;
	if(out != NULL && outsize > n) walk(tpl, who, out, outsize, &n, mode);
	return ACL_PH_OK;
}

enum acl_ph_result acl_placeholder_expand(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len)
{
	return expand_in_mode(tpl, who, out, outsize, len, STRICT, NULL);
}

enum acl_ph_result acl_placeholder_expand_checked(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len)
{
	/* walk ignores outsize when out is NULL (measuring) */
	return walk(tpl, who, out, outsize, len, STRICT);
}

enum acl_ph_result acl_placeholder_expand_deny(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len, bool *widened)
{
	return expand_in_mode(tpl, who, out, outsize, len, STRICT, widened);
}

enum acl_ph_result acl_placeholder_expand_spelled(const char *tpl, const struct acl_subject *who,
		char *out, size_t outsize, size_t *len)
{
	return expand_in_mode(tpl, who, out, outsize, len, SPELLED, NULL);
}

enum acl_ph_result acl_placeholder_encode(const char *tpl, char *out, size_t outsize, size_t *len, unsigned *n_ph)
{
	static const char mark[] = {
		[ACL_PH_LEVEL_U] = ACL_PH_MARK_U, [ACL_PH_LEVEL_P] = ACL_PH_MARK_P,
		[ACL_PH_LEVEL_D] = ACL_PH_MARK_D, [ACL_PH_LEVEL_C] = ACL_PH_MARK_C,
	};
	const char *level, *end;
	size_t n = 0;
	unsigned ph = 0;
	enum acl_ph_level kind;

	for(level = tpl; ; level = end + 1){
		end = strchrnul(level, '/');
		kind = acl_placeholder_level(level, (size_t)(end - level));
		if(kind >= ACL_PH_LEVEL_U){
			/* "%p/%d" is the username: one marker, one compare at match time. */
			if(kind == ACL_PH_LEVEL_P && end[0] == '/' && end[1] == '%' && end[2] == 'd'
					&& (end[3] == '/' || end[3] == '\0')){
				kind = ACL_PH_LEVEL_U;
				end += 3;
			}
			if(out && n + 1 < outsize) out[n] = mark[kind];
			n++;
			ph++;
		}else{
			for(const char *p = level; p < end; p++){
				if(*p >= ACL_PH_MARK_U && *p <= ACL_PH_MARK_C) return ACL_PH_BAD_TEMPLATE;
				if(out && n + 1 < outsize) out[n] = *p;
				n++;
				if(p[0] == '%') p++;   /* "%%" -> "%", validated by the caller */
			}
		}
		if(*end == '\0') break;
		if(out && n + 1 < outsize) out[n] = '/';
		n++;
	}
	if(out && n < outsize) out[n] = '\0';
	*len = n;
	if(n_ph) *n_ph = ph;
	return ACL_PH_OK;
}

bool acl_subject_plain(const struct acl_subject *who)
{
	const char *u, *id;
	size_t ulen, plen;

	if(who == NULL || who->token_user || who->username == NULL || who->client_id == NULL) return false;
	u = who->username;
	id = who->client_id;
	ulen = strlen(u);
	plen = who->product_len;
	if(plen == 0 || plen >= ulen || u[plen] != '/') return false;
	if(!value_safe(u, plen) || !value_safe(u + plen + 1, ulen - plen - 1) || !value_safe(id, strlen(id))) return false;
	/* '$' would matter only for a placeholder at the first level: refusing
	 * it everywhere keeps the question independent of the templates. */
	return u[0] != '$' && u[plen + 1] != '$' && id[0] != '$';
}

const char *acl_placeholder_strerror(enum acl_ph_result rc)
{
	switch(rc){
		case ACL_PH_OK: return "ok";
		case ACL_PH_BAD_TEMPLATE: return "invalid template";
		case ACL_PH_NO_IDENTITY: return "no username or client id to substitute";
		case ACL_PH_UNSAFE_VALUE: return "a placeholder value is empty, contains '/', '+' or '#', or would start a '$' topic";
		case ACL_PH_TOO_LONG: return "the instantiated filter is longer than 65535 bytes";
	}
	return "unknown";
}
