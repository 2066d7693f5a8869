/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The two subcommands that create secrets: register and rotate-secret.
 * A secret exists in clear only in this process and on stdout, once.
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/crypto.h>

#include "auth/secret.h"
#include "registry/username.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"
#include "tools/ctl/ctl_registry.h"

#define REGISTER_ATTEMPTS 3   /* for generated DeviceNames only */

static int64_t now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Store `secret` as the mode says: {password_hash: "$7$..."} or
 * {secret: "..."} into `set`, naming the other field in `unset` (may be NULL). */
static int secret_fields(const struct ctl *c, const char *secret, bool clear, bson_t *set, bson_t *unset)
{
	char hash[AUTH_SECRET_HASH_MAX];
	int rc = CTL_OK;

	if(clear){
		BSON_APPEND_UTF8(set, c->cfg.field.secret, secret);
		if(unset) BSON_APPEND_UTF8(unset, c->cfg.field.password_hash, "");
	}else if(auth_secret_hash_create(secret, c->opt.hash_iterations, hash, sizeof(hash)) == 0){
		BSON_APPEND_UTF8(set, c->cfg.field.password_hash, hash);
		/* A stale clear secret next to a new hash would still be a
		 * working credential for anything that reads `secret`. */
		if(unset) BSON_APPEND_UTF8(unset, c->cfg.field.secret, "");
	}else{
		rc = out_fail(CTL_ERR, NULL, "cannot hash the secret (OpenSSL failure)");
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

/* Fill a template: "{P}" is the ProductName, "{D}" the DeviceName. (Not
 * the plugin's %p/%d: those stay placeholders, these become literals.) */
static void fill(const char *tpl, const struct ctl_device *dev, char *out, size_t outlen)
{
	size_t used = 0;

	while(*tpl && used + 1 < outlen){
		const char *val = NULL;
		if(!strncmp(tpl, "{P}", 3)) val = dev->product;
		else if(!strncmp(tpl, "{D}", 3)) val = dev->device;
		if(val){
			size_t n = strlen(val);
			if(used + n >= outlen) break;
			memcpy(out + used, val, n);
			used += n;
			tpl += 3;
		}else{
			out[used++] = *tpl++;
		}
	}
	out[used] = '\0';
}

static void append_list(bson_t *doc, const char *key, const char *const *tpl, const struct ctl_device *dev)
{
	bson_t arr;

	bson_append_array_begin(doc, key, -1, &arr);
	for(uint32_t i = 0; tpl[i]; i++){
		char filter[1024], idx[16];
		const char *k;
		fill(tpl[i], dev, filter, sizeof(filter));
		bson_uint32_to_string(i, &k, idx, sizeof(idx));
		BSON_APPEND_UTF8(&arr, k, filter);
	}
	bson_append_array_end(doc, &arr);
}

/* The IotHub server's default ACL for a device (docs/PROTOCOL.md §4),
 * filled in for this device, under the CLI's list names. */
static void default_acl(const struct ctl_device *dev, bson_t *lists)
{
	static const char *const publish[] = {
		"upload_data/{P}/{D}/+/+",
		"update_status/{P}/{D}/+",
		"update_ota_status/{P}/{D}/+",
		"cmd_resp/{P}/{D}/+/+/+",
		"rpc_resp/{P}/{D}/+/+/+",
		"get/{P}/{D}/+/+",
		"m2m/{P}/+/{D}/+",
		NULL
	};
	static const char *const subscribe[] = {"tags/{P}/+/cmd/+/+/+/#", NULL};
	static const char *const none[] = {NULL};

	append_list(lists, ih_acl_list_names[IH_ACL_PUBLISH], publish, dev);
	append_list(lists, ih_acl_list_names[IH_ACL_SUBSCRIBE], subscribe, dev);
	append_list(lists, ih_acl_list_names[IH_ACL_PUBSUB], none, dev);
}

/* A name that is exactly a placeholder would turn the literal default ACL
 * into a template (m2m/p/+/%c/+ would mean "the client id"). */
static int placeholder_name(const char *what, const char *name)
{
	if(strlen(name) == 2 && name[0] == '%' && strchr("upcd%", name[1])){
		return out_fail(CTL_USAGE, "invalid_name", "invalid %s \"%s\": a whole ACL level equal to a "
				"placeholder would be read as one", what, name);
	}
	return CTL_OK;
}

static int register_args(struct ctl *c, int argc, char **argv, struct ctl_device *dev, bool *generate)
{
	int rc;

	*generate = false;
	if(argc < 1 || argc > 2) return out_fail(CTL_USAGE, NULL, "usage: iothubctl register P [D]");
	if(argc == 1 && strchr(argv[0], '/')){
		/* "register P/D" is accepted too: the form every other command uses. */
		rc = ctl_device_parse(c, argv[0], dev);
	}else if(argc == 2){
		rc = ctl_device_from_parts(c, argv[0], argv[1], dev);
	}else{
		rc = ctl_product_check(argv[0]);
		snprintf(dev->product, sizeof(dev->product), "%s", argv[0]);
		*generate = true;
	}
	if(rc == CTL_OK) rc = placeholder_name("ProductName", dev->product);
	if(rc == CTL_OK && !*generate) rc = placeholder_name("DeviceName", dev->device);
	return rc;
}

static int build_device(struct ctl *c, const struct ctl_device *dev, const char *secret, const bson_t *tags,
		bool inline_acl, const bson_oid_t *id, bson_t *doc)
{
	const struct ih_config *cfg = &c->cfg;
	bson_iter_t it;
	int rc;

	BSON_APPEND_OID(doc, "_id", id);
	BSON_APPEND_UTF8(doc, cfg->field.product, dev->product);
	BSON_APPEND_UTF8(doc, cfg->field.device, dev->device);
	BSON_APPEND_UTF8(doc, cfg->field.username, dev->username);
	rc = secret_fields(c, secret, c->opt.secret_mode == CTL_SECRET_CLEAR, doc, NULL);
	BSON_APPEND_UTF8(doc, cfg->field.status, cfg->status_active);
	if(bson_iter_init_find(&it, tags, "tags")) bson_append_iter(doc, cfg->field.tags, -1, &it);
	BSON_APPEND_INT32(doc, "tags_version", 1);
	if(c->opt.superuser) BSON_APPEND_BOOL(doc, cfg->field.superuser, true);
	BSON_APPEND_DATE_TIME(doc, "created_at", now_ms());
	if(inline_acl){
		/* No ACL collection: the lists go into the device document itself,
		 * in the same insert. */
		bson_t lists, acl;
		bson_init(&lists);
		default_acl(dev, &lists);
		BSON_APPEND_DOCUMENT_BEGIN(doc, cfg->field.acl, &acl);
		if(bson_iter_init(&it, &lists)){
			while(bson_iter_next(&it)){
				int list = ih_acl_list_find(bson_iter_key(&it));
				if(list >= 0) bson_append_iter(&acl, cfg->acl_field[list], -1, &it);
			}
		}
		bson_append_document_end(doc, &acl);
		bson_destroy(&lists);
	}
	return rc;
}

/* The device document is written; now its ACL document. On failure the
 * device document is removed again, so no device exists without its ACL. */
static int write_acl_or_roll_back(struct ctl_registry *reg, const struct ctl_device *dev,
		const bson_oid_t *id)
{
	bson_t lists = BSON_INITIALIZER;
	char first[1024];
	enum reg_rc rc, rb;
	int exit_code = CTL_OK;

	default_acl(dev, &lists);
	rc = reg_acl_set(reg, dev->username, &lists);
	if(rc != REG_OK){
		snprintf(first, sizeof(first), "%s", reg_error(reg));
		exit_code = rc == REG_DOWN ? CTL_MONGO : CTL_ERR;
		rb = reg_device_delete_id(reg, id);
		if(rb == REG_OK){
			out_fail(exit_code, NULL, "cannot write the ACL document of %s, so the device was not "
					"registered (its device document was removed again): %s", dev->username, first);
		}else{
			out_fail(exit_code, NULL, "cannot write the ACL document of %s (%s), and removing its device "
					"document failed too (%s): run `iothubctl delete %s`", dev->username, first,
					reg_error(reg), dev->username);
		}
	}
	bson_destroy(&lists);
	return exit_code;
}

int ctl_cmd_register(struct ctl *c, int argc, char **argv)
{
	struct ctl_device dev;
	struct ctl_registry *reg = NULL;
	char secret[CTL_SECRET_CHARS + 1] = "";
	bson_t tags = BSON_INITIALIZER, result = BSON_INITIALIZER;
	bson_oid_t id;
	bool generate;
	bool clear = c->opt.secret_mode == CTL_SECRET_CLEAR;
	enum reg_rc rrc = REG_FAIL;
	int rc;

	memset(&dev, 0, sizeof(dev));
	rc = register_args(c, argc, argv, &dev, &generate);
	if(rc == CTL_OK) rc = ctl_tags_append(&tags, "tags", NULL, 0, c->opt.tags);
	if(rc == CTL_OK) rc = ctl_begin(c, NULL, true, &dev, &reg);
	if(rc != CTL_OK) goto done;

	for(int attempt = 0; attempt < (generate ? REGISTER_ATTEMPTS : 1); attempt++){
		bson_t doc = BSON_INITIALIZER;
		if(generate){
			char name[CTL_GENERATED_NAME_CHARS + 1];
			if(auth_secret_generate(name, CTL_GENERATED_NAME_CHARS)){
				rc = out_fail(CTL_ERR, NULL, "cannot generate a DeviceName (RNG failure)");
				goto done;
			}
			char product[sizeof(dev.product)];
			/* from_parts writes dev.product: pass a copy, not the field. */
			memcpy(product, dev.product, sizeof(product));
			rc = ctl_device_from_parts(c, product, name, &dev);
			if(rc != CTL_OK) goto done;
		}
		if(auth_secret_generate(secret, CTL_SECRET_CHARS)){
			rc = out_fail(CTL_ERR, NULL, "cannot generate a secret (RNG failure)");
			goto done;
		}
		bson_oid_init(&id, NULL);
		rc = build_device(c, &dev, secret, &tags, reg_acl_inline(reg), &id, &doc);
		if(rc == CTL_OK) rrc = reg_device_insert(reg, &doc);
		bson_destroy(&doc);
		if(rc != CTL_OK) goto done;
		/* A generated name that collides (2^-96 odds) just gets another. */
		if(rrc != REG_EXISTS || !generate) break;
	}
	if(rrc != REG_OK){
		rc = ctl_registry_fail(c, rrc, &dev);
		goto done;
	}
	if(!reg_acl_inline(reg)){
		rc = write_acl_or_roll_back(reg, &dev, &id);
		if(rc != CTL_OK) goto done;
	}

	BSON_APPEND_UTF8(&result, "username", dev.username);
	BSON_APPEND_UTF8(&result, "product_name", dev.product);
	BSON_APPEND_UTF8(&result, "device_name", dev.device);
	BSON_APPEND_UTF8(&result, "secret", secret);
	BSON_APPEND_UTF8(&result, "status", c->cfg.status_active);
	BSON_APPEND_BOOL(&result, "superuser", c->opt.superuser);
	ctl_copy_field(&result, "tags", &tags, "tags");
	BSON_APPEND_UTF8(&result, "secret_storage", clear ? "clear" : "hash");
	out_result(NULL, &result, out_json_mode() ? NULL
			: "The secret is shown only this once: give it to the device now.");
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	bson_destroy(&result);
	bson_destroy(&tags);
	return rc;
}

int ctl_cmd_rotate(struct ctl *c, int argc, char **argv)
{
	struct ctl_device dev;
	struct ctl_registry *reg = NULL;
	char secret[CTL_SECRET_CHARS + 1] = "";
	bson_t doc = BSON_INITIALIZER, update = BSON_INITIALIZER, set, unset, result = BSON_INITIALIZER;
	bson_iter_t it;
	bool clear, modified = false;
	int rc;

	if(argc != 1) return out_fail(CTL_USAGE, NULL, "usage: iothubctl rotate-secret P/D");
	rc = ctl_begin(c, argv[0], true, &dev, &reg);
	if(rc == CTL_OK) rc = ctl_registry_fail(c, reg_device_get(reg, dev.username, &doc), &dev);
	if(rc != CTL_OK) goto done;

	/* Keep the device's storage unless told otherwise: a device stored
	 * in clear (IotHub-compatible) stays readable by the IotHub server. */
	if(c->opt.secret_mode == CTL_SECRET_DEFAULT){
		clear = !bson_iter_init_find(&it, &doc, c->cfg.field.password_hash)
				&& bson_iter_init_find(&it, &doc, c->cfg.field.secret);
	}else{
		clear = c->opt.secret_mode == CTL_SECRET_CLEAR;
	}
	if(auth_secret_generate(secret, CTL_SECRET_CHARS)){
		rc = out_fail(CTL_ERR, NULL, "cannot generate a secret (RNG failure)");
		goto done;
	}
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	rc = secret_fields(c, secret, clear, &set, NULL);
	BSON_APPEND_DATE_TIME(&set, "secret_rotated_at", now_ms());
	bson_append_document_end(&update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
	BSON_APPEND_UTF8(&unset, clear ? c->cfg.field.password_hash : c->cfg.field.secret, "");
	bson_append_document_end(&update, &unset);
	if(rc == CTL_OK) rc = ctl_registry_fail(c, reg_device_update(reg, dev.username, &update, &modified), &dev);
	if(rc != CTL_OK) goto done;

	BSON_APPEND_UTF8(&result, "username", dev.username);
	BSON_APPEND_UTF8(&result, "product_name", dev.product);
	BSON_APPEND_UTF8(&result, "device_name", dev.device);
	BSON_APPEND_UTF8(&result, "secret", secret);
	BSON_APPEND_UTF8(&result, "secret_storage", clear ? "clear" : "hash");
	/* Live connections authenticated with the old secret must go. */
	rc = ctl_notify_broker(c, dev.username, true, &result);
	out_result(NULL, &result, out_json_mode() ? NULL
			: "The new secret is shown only this once: give it to the device now.");
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	bson_destroy(&result);
	bson_destroy(&update);
	bson_destroy(&doc);
	return rc;
}
