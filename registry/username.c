/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Name validation shared by the plugin and iothubctl.
 *
 * A name ends up as one topic level (ProductName, DeviceName) or two
 * (the username in %u), so anything that could change the shape of a topic
 * is refused here, before any registry query or substitution.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "registry/username.h"

size_t registry_utf8_decode(const unsigned char *s, size_t left, uint32_t *cp_out)
{
	uint32_t cp;
	size_t len;

	if(s[0] < 0x80){
		*cp_out = s[0];
		return 1;
	}
	if(s[0] >= 0xC2 && s[0] <= 0xDF){
		len = 2;
		cp = s[0] & 0x1F;
	}else if(s[0] >= 0xE0 && s[0] <= 0xEF){
		len = 3;
		cp = s[0] & 0x0F;
	}else if(s[0] >= 0xF0 && s[0] <= 0xF4){
		len = 4;
		cp = s[0] & 0x07;
	}else{
		return 0;
	}
	if(len > left) return 0;
	for(size_t i = 1; i < len; i++){
		if((s[i] & 0xC0) != 0x80) return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
	if(cp >= 0xD800 && cp <= 0xDFFF) return 0;
	*cp_out = cp;
	return len;
}

/* registry_utf8_decode plus the code points a name must not hold. */
static size_t name_char_len(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t len = registry_utf8_decode(s, left, &cp);

	if(len == 0) return 0;
	/* C1 control characters are as unwelcome in a name as C0 ones. */
	if(cp >= 0x80 && cp <= 0x9F) return 0;
	/* Noncharacters: the broker's mosquitto_validate_utf8 refuses them, so
	 * a name holding one could be registered but never connect (found by
	 * fuzz/fuzz_names.c). */
	if((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) return 0;
	return len;
}

const char *registry_name_check(const char *name, size_t len, size_t max_len)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0;

	if(name == NULL || len == 0) return "empty name";
	if(len > max_len) return "name too long";
	while(i < len){
		size_t n;

		if(s[i] == '\0') return "name contains a NUL byte";
		if(s[i] == '/') return "name contains '/'";
		if(s[i] == '+' || s[i] == '#') return "name contains an MQTT wildcard ('+' or '#')";
		if(s[i] < 0x20 || s[i] == 0x7F) return "name contains a control character";
		n = name_char_len(s + i, len - i);
		if(n == 0) return "name is not valid UTF-8";
		i += n;
	}
	return NULL;
}

const char *registry_username_check(const char *username, size_t max_len, size_t *product_len)
{
	const char *slash;
	const char *why;
	size_t len;

	if(username == NULL) return "no username";
	/* Bounded scan: a 10 MB username must not cost a 10 MB strlen. */
	len = strnlen(username, max_len + 1);
	if(len == 0) return "empty username";
	if(len > max_len) return "username too long";
	slash = memchr(username, '/', len);
	if(slash == NULL) return "username is not ProductName/DeviceName (no '/')";
	if(slash == username) return "empty ProductName";
	if((size_t)(slash - username) == len - 1) return "empty DeviceName";
	if(memchr(slash + 1, '/', len - (size_t)(slash - username) - 1)){
		return "username is not ProductName/DeviceName (more than one '/')";
	}
	why = registry_name_check(username, (size_t)(slash - username), max_len);
	if(why) return why;
	why = registry_name_check(slash + 1, len - (size_t)(slash - username) - 1, max_len);
	if(why) return why;
	*product_len = (size_t)(slash - username);
	return NULL;
}
