/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The registry as iothubctl sees it: the devices collection and the ACL
 * collection (or, with plugin_opt_acl_collection "", the ACL kept inline in
 * each device document), under the collection and field names of the
 * plugin's configuration.
 *
 * Every call returns an enum reg_rc and, on failure, leaves a message in
 * reg_error(). Messages never contain the URI's password.
 */
#ifndef IH_CTL_REGISTRY_H
#define IH_CTL_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>

#include "core/config.h"

enum reg_rc {
	REG_OK = 0,
	REG_NOT_FOUND,
	REG_EXISTS,      /* duplicate key (11000) */
	REG_DOWN,        /* unreachable, timed out, connection lost */
	REG_FAIL,        /* anything else */
	REG_INVALID,     /* malformed URI: a usage error */
};

struct ctl_registry;

/* Connect lazily (the driver connects on first use); fails only on a
 * malformed URI. All timeouts of the driver are set to timeout_ms. */
enum reg_rc reg_open(struct ctl_registry **out, const char *uri, const char *db,
		const struct ih_config *cfg, uint32_t timeout_ms, char *err, size_t errlen);
void reg_close(struct ctl_registry *reg);
const char *reg_error(const struct ctl_registry *reg);

/* The URI with any password (and password-like options) replaced by ***. */
void reg_redact_uri(const char *uri, char *out, size_t outlen);

/* Create the unique indexes that make registration race-free. Idempotent. */
enum reg_rc reg_ensure_indexes(struct ctl_registry *reg);

/* ---- devices ---- */
enum reg_rc reg_device_insert(struct ctl_registry *reg, const bson_t *doc);
enum reg_rc reg_device_delete_id(struct ctl_registry *reg, const bson_oid_t *id);
enum reg_rc reg_device_get(struct ctl_registry *reg, const char *username, bson_t *out);
/* Update one device; REG_NOT_FOUND when no document matched. */
enum reg_rc reg_device_update(struct ctl_registry *reg, const char *username, const bson_t *update,
		bool *modified);
/* The same, atomically returning the document after the update. */
enum reg_rc reg_device_modify(struct ctl_registry *reg, const char *username, const bson_t *update,
		bson_t *after);
enum reg_rc reg_device_delete(struct ctl_registry *reg, const char *username);
typedef int (*reg_list_cb)(const bson_t *doc, void *ud);
/* Devices sorted by username, of one product or all (product NULL). */
enum reg_rc reg_device_list(struct ctl_registry *reg, const char *product, reg_list_cb cb, void *ud);

/* ---- ACL ---- */
/* True when ACL lists live inline in the device document. */
bool reg_acl_inline(const struct ctl_registry *reg);
/* Replace the device's ACL lists with `lists` ({publish: [...], ...}). */
enum reg_rc reg_acl_set(struct ctl_registry *reg, const char *username, const bson_t *lists);
/* The ACL lists, merged from the ACL document and the inline sub-document,
 * as {publish: [...], subscribe: [...], ...}. */
enum reg_rc reg_acl_get(struct ctl_registry *reg, const char *username, const bson_t *device, bson_t *out);
/* $addToSet (add) or $pull (remove) one filter in list `list` (one of
 * ih_acl_list_names). Removal also pulls the filter from the inline lists,
 * since the plugin merges both. */
enum reg_rc reg_acl_change(struct ctl_registry *reg, const char *username, const char *list,
		const char *filter, bool add, bool *modified);
enum reg_rc reg_acl_delete(struct ctl_registry *reg, const char *username);

#endif
