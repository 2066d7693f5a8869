/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * A device as the registry describes it: one decoded `devices` document plus
 * its `device_acl` document. Records are immutable once decoded and shared
 * by reference between the auth cache and live connections.
 *
 * Records live on the broker thread only (mosquitto_malloc). Worker threads
 * hand over raw BSON and the broker thread decodes it.
 */
#ifndef IH_REGISTRY_DEVICE_H
#define IH_REGISTRY_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "core/config.h"

/* The array field the registry's $lookup adds to a device document: every
 * matching document of the ACL collection. */
#define AUTH_DEVICE_LOOKUP_FIELD "_acl"

/*
 * One per device the auth cache holds (every connected device at least), so
 * a decoded record is packed into one block: the struct, then the tag
 * array, then the strings (username, secret or hash, status, tags). Six
 * small blocks were 176 bytes of allocator headers and rounding per device
 * for 40 bytes of text. Token records (built piece by piece) are not
 * packed; `packed` tells unref which kind it frees. 120 bytes plus the
 * strings: the flags are bits, so they share a word with the refcount.
 */
struct ih_device {
	int refcount;
	bool active : 1;             /* status absent or equal to status_active */
	bool superuser : 1;
	/* A client admitted by a token (auth/jwt.c), not by the registry: no
	 * secret, no tags, never refreshed from the registry. */
	bool token : 1;
	bool token_acl : 1;          /* acl holds the token's `acl` claim */
	bool packed : 1;             /* the strings and tags live in this block */
	char *username;          /* broker_username, validated P/D */
	size_t product_len;      /* ProductName = username[0..product_len) */
	char *secret;            /* clear secret, or NULL */
	char *password_hash;     /* $7$/$6$ hash, or NULL; preferred over secret */
	char *status;            /* as stored, for log lines; NULL when absent */
	struct ih_strlist tags;
	int64_t tags_version;
	/* Merged from the device_acl document and the inline `acl` sub-document;
	 * NULL when every list is empty, as for almost every device of a fleet
	 * (six empty lists were 96 bytes per record). Read it through
	 * registry_device_acl. */
	struct ih_acl_lists *acl;
	/* Digest of everything that affects auth, ACL or auto-subscription, so a
	 * refresh can tell "unchanged" without comparing field by field. */
	uint8_t fingerprint[32];
	int64_t token_expires_s; /* wall-clock second (exp + jwt_leeway) it lapses; 0: never */
};

/*
 * Decode a device document (`device_doc`) and, when present, its ACL
 * document (`acl_doc`, may be NULL; when NULL the decoder also looks for an
 * array field `_acl` in device_doc, which is what the registry's $lookup
 * produces). Field names come from cfg.
 *
 * Returns 0 and a record with refcount 1, or -1 with a reason in err for a
 * document that cannot describe a usable device (wrong types, missing or
 * malformed broker_username, no secret and no hash, ...). Bad individual
 * allow-list entries and tags (not strings, empty) are skipped, each with a
 * log line, and do not fail the device; a bad deny-list entry does, because
 * skipping it would grant access (rules in device.c and device_lists.c).
 * Broker thread only (logs, mosquitto_malloc).
 */
int registry_device_decode(const bson_t *device_doc, const bson_t *acl_doc,
		const struct ih_config *cfg, struct ih_device **out, char *err, size_t errlen);

/* An empty, active token record for `username` (may be NULL: anonymous),
 * refcount 1, or NULL when out of memory. */
struct ih_device *registry_device_new_token(const char *username);
/* Append a copy of s[0..len) to a list of a record being built; 0 or -1
 * (out of memory, the list unchanged). */
int registry_device_list_add(struct ih_strlist *l, const char *s, size_t len);

/* dev's ACL lists, never NULL (an empty set when it has none). */
const struct ih_acl_lists *registry_device_acl(const struct ih_device *dev);
/* dev->acl, created empty if needed, for a record being built; NULL when
 * out of memory. */
struct ih_acl_lists *registry_device_acl_edit(struct ih_device *dev);

void registry_device_ref(struct ih_device *dev);
void registry_device_unref(struct ih_device *dev);   /* frees at zero; NULL is fine */

#endif
