/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Username and client-id validation: registry/username.c directly, then the
 * whole BASIC_AUTH decision (auth_check, with its throttle and log-line
 * sanitising) against an in-memory registry.
 *
 * Input: max_len byte, then NUL-separated fields
 *   name (for registry_name_check) | username | client id | address | password
 * Properties:
 *  - a name accepted by registry_name_check is valid UTF-8 for the broker too
 *    and holds none of '/', '+', '#', NUL or a control character;
 *  - an accepted username is exactly two accepted names around one '/';
 *  - auth_check admits nobody but a registered, active device presenting
 *    its own secret.
 */
#include <mosquitto.h>

#include "auth/auth.h"
#include "registry/username.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/fuzz_registry.h"
#include "core/config.h"

static struct ih_config cfg;
static struct auth *auth;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if(ih_config_parse(&cfg, NULL, 0) != 0) abort();
	auth = fuzz_auth_new(&cfg);
	return 0;
}

static void check_name(const char *s, size_t len, size_t max)
{
	const char *why = registry_name_check(s, len, max);

	if(why) return;
	FZ_CHECK(len > 0 && len <= max, "len %zu max %zu", len, max);
	FZ_CHECK(mosquitto_validate_utf8(s, (int)len) == MOSQ_ERR_SUCCESS, "accepted a name the broker calls invalid UTF-8");
	for(size_t i = 0; i < len; i++){
		unsigned char c = (unsigned char)s[i];
		FZ_CHECK(c != '/' && c != '+' && c != '#' && c >= 0x20 && c != 0x7f, "byte 0x%02x at %zu", c, i);
	}
}

static const char *secret_of(const char *username)
{
	if(!strcmp(username, "p1/d1")) return "s1";
	if(!strcmp(username, "p1/d2")) return "s2";
	if(!strcmp(username, "p1/admin")) return "adm";
	return NULL; /* unknown, or suspended (p1/sus) */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	size_t max = (size_t)fz_u8(&f) + 1;
	char *name = fz_str(&f);
	char *user = fz_str(&f);
	char *id = fz_str(&f);
	char *addr = fz_str(&f);
	char *pw = fz_str(&f);
	struct ih_device *dev = NULL;
	size_t plen = 0;
	int rc;

	check_name(name, strlen(name), max);
	/* Raw bytes, NUL included: the length is what the caller says. */
	check_name((const char *)data, size, 256);

	if(registry_username_check(user, max, &plen) == NULL){
		size_t len = strlen(user);
		FZ_CHECK(len <= max && plen > 0 && plen < len - 1 && user[plen] == '/', "plen %zu len %zu", plen, len);
		FZ_CHECK(registry_name_check(user, plen, max) == NULL, "product half");
		FZ_CHECK(registry_name_check(user + plen + 1, len - plen - 1, max) == NULL, "device half");
		check_name(user, plen, max);
		check_name(user + plen + 1, len - plen - 1, max);
	}

	rc = auth_check(auth, id[0] ? id : NULL, addr[0] ? addr : NULL, user[0] ? user : NULL,
			(f.n & 1) ? NULL : pw, &dev);
	if(rc == MOSQ_ERR_SUCCESS){
		const char *secret = user[0] ? secret_of(user) : NULL;
		FZ_CHECK(secret != NULL && (f.n & 1) == 0 && !strcmp(secret, pw), "admitted \"%s\" with password \"%s\"", user, pw);
		FZ_CHECK(dev != NULL && !strcmp(dev->username, user) && dev->active, "wrong record for %s", user);
	}else{
		FZ_CHECK(dev == NULL, "refused but a record was returned");
	}
	registry_device_unref(dev);
	/* Worker results and log lines must not pile up between inputs. */
	auth_tick(auth, NULL, NULL);

	free(name);
	free(user);
	free(id);
	free(addr);
	free(pw);
	return 0;
}
