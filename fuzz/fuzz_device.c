/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Registry document decoding (registry/device.c, device_lists.c,
 * device_fingerprint.c): arbitrary BSON where a device is expected.
 *
 * Input: flags byte, then the device document; with flag 1 a 2-byte length
 * first splits off an ACL document after it. The 4-byte length at the
 * start of each document is overwritten with the real length, so the
 * mutator's effort goes into the content (libbson's bson_init_static
 * would refuse a mismatch before our code ran).
 * Flags 2/4: rename the ACL fields / no separate ACL collection.
 * Properties:
 *  - a decoded record names a valid username, has a secret or a hash,
 *    and every list entry is non-empty valid UTF-8 without NUL;
 *  - decoding the same bytes twice gives the same fingerprint;
 *  - refusals carry a reason; nothing leaks.
 */
#include <bson/bson.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "registry/device.h"
#include "registry/username.h"
#include "fuzz/fuzz_common.h"
#include "core/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ih_config cfg_plain, cfg_renamed, cfg_noacl;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mosquitto_opt renamed[] = {
		{(char *)"field_acl_publish", (char *)"pub"},
		{(char *)"field_acl_deny", (char *)"nope"},
		{(char *)"field_tags", (char *)"labels"},
		{(char *)"status_active", (char *)"on"},
	};
	struct mosquitto_opt noacl[] = {{(char *)"acl_collection", (char *)"none"}};

	(void)argc; (void)argv;
	if(ih_config_parse(&cfg_plain, NULL, 0) || ih_config_parse(&cfg_renamed, renamed, 4)
			|| ih_config_parse(&cfg_noacl, noacl, 1)){
		abort();
	}
	return 0;
}

/* A copy of [p, p+n) with the BSON length prefix set to n. */
static uint8_t *doc_copy(const uint8_t *p, size_t n, bson_t *out, bool *ok)
{
	uint8_t *buf = malloc(n ? n : 1);

	if(buf == NULL) abort();
	if(n) memcpy(buf, p, n);
	*ok = false;
	if(n >= 5 && n < INT32_MAX){
		uint32_t len = (uint32_t)n;
		memcpy(buf, &len, 4);
		*ok = bson_init_static(out, buf, n);
	}
	return buf;
}

static void check_list(const struct ih_strlist *l)
{
	for(size_t i = 0; i < l->count; i++){
		size_t len = strlen(l->items[i]);
		FZ_CHECK(len > 0 && bson_utf8_validate(l->items[i], len, false), "list entry \"%s\"", l->items[i]);
	}
}

static void check_device(const struct ih_device *d, const struct ih_config *cfg)
{
	size_t plen = 0;

	FZ_CHECK(registry_username_check(d->username, cfg->username_max_len, &plen) == NULL && plen == d->product_len,
			"username \"%s\"", d->username);
	FZ_CHECK((d->secret && d->secret[0]) || (d->password_hash && d->password_hash[0]), "no secret");
	FZ_CHECK(d->refcount == 1, "refcount");
	check_list(&d->tags);
	for(size_t i = 0; i < d->tags.count; i++){
		FZ_CHECK(registry_name_check(d->tags.items[i], strlen(d->tags.items[i]), IH_NAME_MAX) == NULL, "tag");
	}
	for(int i = 0; i < IH_ACL_LIST_COUNT; i++) check_list(&registry_device_acl(d)->list[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t flags = fz_u8(&f);
	const struct ih_config *cfg = (flags & 2) ? &cfg_renamed : (flags & 4) ? &cfg_noacl : &cfg_plain;
	size_t dlen = f.n;
	bson_t dev_doc, acl_doc;
	bool dev_ok, acl_ok = false;
	uint8_t *dev_buf, *acl_buf = NULL;
	struct ih_device *d1 = NULL, *d2 = NULL;
	char err[256];
	int rc;

	if(flags & 1){
		dlen = ((size_t)fz_u8(&f) << 8) | fz_u8(&f);
		if(dlen > f.n) dlen = f.n;
	}
	dev_buf = doc_copy(f.p, dlen, &dev_doc, &dev_ok);
	if(flags & 1) acl_buf = doc_copy(f.p + dlen, f.n - dlen, &acl_doc, &acl_ok);
	if(dev_ok){
		rc = registry_device_decode(&dev_doc, acl_ok ? &acl_doc : NULL, cfg, &d1, err, sizeof(err));
		if(rc == 0){
			check_device(d1, cfg);
			FZ_CHECK(registry_device_decode(&dev_doc, acl_ok ? &acl_doc : NULL, cfg, &d2, err, sizeof(err)) == 0,
					"second decode failed");
			FZ_CHECK(!memcmp(d1->fingerprint, d2->fingerprint, sizeof(d1->fingerprint)), "fingerprint not deterministic");
		}else{
			FZ_CHECK(d1 == NULL && err[0] != '\0', "refusal without a reason");
		}
	}
	registry_device_unref(d1);
	registry_device_unref(d2);
	free(dev_buf);
	free(acl_buf);
	return 0;
}
