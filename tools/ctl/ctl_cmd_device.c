/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Device subcommands that neither create secrets nor edit lists:
 * list, show, suspend, resume, delete. None of them prints a secret or a
 * hash: the summary below is built from an allow-list of fields.
 */
#include <stdio.h>
#include <string.h>

#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"
#include "tools/ctl/ctl_registry.h"

static const char *doc_string(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if(bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) return bson_iter_utf8(&it, NULL);
	return NULL;
}

static bool doc_has(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, key);
}

/* What list and show print about a device, in a fixed order. */
static void summary(const struct ctl *c, const bson_t *doc, bson_t *out)
{
	const struct ih_config *cfg = &c->cfg;
	const char *status = doc_string(doc, cfg->field.status);
	bson_iter_t it;

	ctl_copy_field(out, "username", doc, cfg->field.username);
	ctl_copy_field(out, "product_name", doc, cfg->field.product);
	ctl_copy_field(out, "device_name", doc, cfg->field.device);
	ctl_copy_field(out, "status", doc, cfg->field.status);
	/* What the plugin concludes: a device without status is let in. */
	BSON_APPEND_BOOL(out, "active", status == NULL || !strcmp(status, cfg->status_active));
	BSON_APPEND_BOOL(out, "superuser",
			bson_iter_init_find(&it, doc, cfg->field.superuser) && bson_iter_as_bool(&it));
	if(doc_has(doc, cfg->field.tags)){
		ctl_copy_field(out, "tags", doc, cfg->field.tags);
	}else{
		bson_t empty;
		BSON_APPEND_ARRAY_BEGIN(out, "tags", &empty);
		bson_append_array_end(out, &empty);
	}
	if(doc_has(doc, "tags_version")) ctl_copy_field(out, "tags_version", doc, "tags_version");
	else BSON_APPEND_INT32(out, "tags_version", 0);
	ctl_copy_field(out, "created_at", doc, "created_at");
}

struct list_state {
	const struct ctl *c;
	size_t count;
};

static int list_one(const bson_t *doc, void *ud)
{
	struct list_state *st = ud;
	bson_t out = BSON_INITIALIZER;

	summary(st->c, doc, &out);
	if(out_json_mode()){
		out_result(NULL, &out, NULL);
	}else{
		const char *user = doc_string(doc, st->c->cfg.field.username);
		const char *status = doc_string(doc, st->c->cfg.field.status);
		bson_iter_t it, tag;
		if(st->count == 0) out_text("%-40s %-10s %s\n", "USERNAME", "STATUS", "TAGS");
		out_text("%-40s %-10s ", user ? user : "?", status ? status : "-");
		if(bson_iter_init_find(&it, &out, "tags") && bson_iter_recurse(&it, &tag)){
			bool first = true;
			while(bson_iter_next(&tag)){
				if(BSON_ITER_HOLDS_UTF8(&tag)) out_text("%s%s", first ? "" : ",", bson_iter_utf8(&tag, NULL));
				first = false;
			}
		}
		out_text("\n");
	}
	st->count++;
	bson_destroy(&out);
	return 0;
}

int ctl_cmd_list(struct ctl *c, int argc, char **argv)
{
	struct ctl_registry *reg = NULL;
	struct list_state st = {c, 0};
	const char *product = argc == 1 ? argv[0] : NULL;
	int rc;

	if(argc > 1) return out_fail(CTL_USAGE, NULL, "usage: iothubctl list [P]");
	if(product && (rc = ctl_product_check(product)) != CTL_OK) return rc;
	rc = ctl_begin(c, NULL, false, NULL, &reg);
	if(rc == CTL_OK) rc = ctl_registry_fail(c, reg_device_list(reg, product, list_one, &st), NULL);
	if(rc == CTL_OK && st.count == 0) out_text("no devices\n");
	return rc;
}

int ctl_cmd_show(struct ctl *c, int argc, char **argv)
{
	struct ctl_device dev;
	struct ctl_registry *reg = NULL;
	bson_t doc = BSON_INITIALIZER, out = BSON_INITIALIZER, acl;
	const char *storage;
	bool hash, clear;
	int rc;

	if(argc != 1) return out_fail(CTL_USAGE, NULL, "usage: iothubctl show P/D");
	rc = ctl_begin(c, argv[0], false, &dev, &reg);
	if(rc == CTL_OK) rc = ctl_registry_fail(c, reg_device_get(reg, dev.username, &doc), &dev);
	if(rc != CTL_OK) goto done;

	summary(c, &doc, &out);
	hash = doc_has(&doc, c->cfg.field.password_hash);
	clear = doc_has(&doc, c->cfg.field.secret);
	storage = hash && clear ? "hash+clear" : hash ? "hash" : clear ? "clear" : "none";
	/* How the secret is kept, never the secret. */
	BSON_APPEND_UTF8(&out, "secret_storage", storage);
	ctl_copy_field(&out, "secret_rotated_at", &doc, "secret_rotated_at");
	/* Written by the IotHub server; shown when present. */
	ctl_copy_field(&out, "device_status", &doc, "device_status");
	ctl_copy_field(&out, "last_status_update", &doc, "last_status_update");
	BSON_APPEND_DOCUMENT_BEGIN(&out, "acl", &acl);
	rc = ctl_registry_fail(c, reg_acl_get(reg, dev.username, &doc, &acl), &dev);
	bson_append_document_end(&out, &acl);
	if(rc == CTL_OK) out_result(NULL, &out, NULL);
done:
	bson_destroy(&out);
	bson_destroy(&doc);
	return rc;
}

/* suspend and resume: set the status, then tell the broker. */
static int set_status(struct ctl *c, int argc, char **argv, const char *verb, const char *status, bool kick)
{
	struct ctl_device dev;
	struct ctl_registry *reg = NULL;
	bson_t update = BSON_INITIALIZER, set, result = BSON_INITIALIZER;
	bool modified = false;
	int rc;

	if(argc != 1) return out_fail(CTL_USAGE, NULL, "usage: iothubctl %s P/D", verb);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, c->cfg.field.status, status);
	bson_append_document_end(&update, &set);
	rc = ctl_begin(c, argv[0], true, &dev, &reg);
	if(rc == CTL_OK) rc = ctl_registry_fail(c, reg_device_update(reg, dev.username, &update, &modified), &dev);
	if(rc != CTL_OK) goto done;

	BSON_APPEND_UTF8(&result, "username", dev.username);
	BSON_APPEND_UTF8(&result, "status", status);
	BSON_APPEND_BOOL(&result, "changed", modified);
	/* Even when unchanged: a repeated suspend still clears live sessions. */
	rc = ctl_notify_broker(c, dev.username, kick, &result);
	out_result(NULL, &result, NULL);
done:
	bson_destroy(&result);
	bson_destroy(&update);
	return rc;
}

int ctl_cmd_suspend(struct ctl *c, int argc, char **argv)
{
	return set_status(c, argc, argv, "suspend", "suspended", true);
}

int ctl_cmd_resume(struct ctl *c, int argc, char **argv)
{
	/* invalidateDevice only: the plugin may hold a cached refusal. */
	return set_status(c, argc, argv, "resume", c->cfg.status_active, false);
}

int ctl_cmd_delete(struct ctl *c, int argc, char **argv)
{
	struct ctl_device dev;
	struct ctl_registry *reg = NULL;
	bson_t result = BSON_INITIALIZER;
	enum reg_rc drc;
	int rc;

	if(argc != 1) return out_fail(CTL_USAGE, NULL, "usage: iothubctl delete P/D");
	rc = ctl_begin(c, argv[0], true, &dev, &reg);
	if(rc != CTL_OK) goto done;
	/* Device first: once it is gone nobody can authenticate as it, whatever
	 * happens to the ACL document. An orphaned ACL document is removed even
	 * when the device document was already gone. */
	drc = reg_device_delete(reg, dev.username);
	if(drc != REG_OK && drc != REG_NOT_FOUND){
		rc = ctl_registry_fail(c, drc, &dev);
		goto done;
	}
	rc = ctl_registry_fail(c, reg_acl_delete(reg, dev.username), &dev);
	if(rc == CTL_OK && drc == REG_NOT_FOUND) rc = ctl_registry_fail(c, drc, &dev);
	if(rc != CTL_OK) goto done;

	BSON_APPEND_UTF8(&result, "username", dev.username);
	BSON_APPEND_BOOL(&result, "deleted", true);
	rc = ctl_notify_broker(c, dev.username, true, &result);
	out_result(NULL, &result, NULL);
done:
	bson_destroy(&result);
	return rc;
}
