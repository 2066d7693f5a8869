/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The record fingerprint: SHA-256 over a canonical serialization of every
 * field that affects authentication, authorisation or auto-subscription.
 * Refreshes compare fingerprints to tell "unchanged" from "changed" without
 * a field-by-field comparison, and the auth cache keeps a verified-password
 * digest only while the fingerprint stays the same.
 *
 * Canonical form: a version tag, then each field in a fixed order; strings
 * as a 64-bit little-endian length followed by the bytes, lists as a count
 * followed by their strings, so no two different records serialize alike.
 * Fields that only feed log lines (the status text) are left out.
 */
#include <string.h>

#include <openssl/evp.h>

#include "registry/device_internal.h"

static void put_u64(EVP_MD_CTX *ctx, uint64_t v)
{
	unsigned char b[8];

	for(int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
	EVP_DigestUpdate(ctx, b, sizeof(b));
}

static void put_str(EVP_MD_CTX *ctx, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	/* NULL and "" must differ: absent secret vs empty secret. */
	put_u64(ctx, s ? (uint64_t)len : UINT64_MAX);
	if(len) EVP_DigestUpdate(ctx, s, len);
}

static void put_list(EVP_MD_CTX *ctx, const struct ih_strlist *l)
{
	put_u64(ctx, l->count);
	for(size_t i = 0; i < l->count; i++) put_str(ctx, l->items[i]);
}

void device_fingerprint(struct ih_device *dev)
{
	static const char version[] = "ih-device-fp-1";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	unsigned char flags;

	/* Without a digest context the fingerprint is all 0xff: it then differs
	 * from any real one, so a refresh reports the record as changed rather
	 * than wrongly unchanged. */
	memset(dev->fingerprint, 0xff, sizeof(dev->fingerprint));
	if(ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) goto done;
	EVP_DigestUpdate(ctx, version, sizeof(version));
	put_str(ctx, dev->username);
	put_str(ctx, dev->password_hash);
	put_str(ctx, dev->secret);
	flags = (unsigned char)((dev->active ? 1 : 0) | (dev->superuser ? 2 : 0));
	EVP_DigestUpdate(ctx, &flags, 1);
	put_list(ctx, &dev->tags);
	put_u64(ctx, (uint64_t)dev->tags_version);
	for(int i = 0; i < IH_ACL_LIST_COUNT; i++) put_list(ctx, &registry_device_acl(dev)->list[i]);
	if(EVP_DigestFinal_ex(ctx, dev->fingerprint, &len) != 1 || len != sizeof(dev->fingerprint)){
		memset(dev->fingerprint, 0xff, sizeof(dev->fingerprint));
	}
done:
	EVP_MD_CTX_free(ctx);
}
