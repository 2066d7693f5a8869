/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * MongoDB operations of iothubctl (see ctl_registry.h).
 *
 * One single-threaded mongoc client per run. Every driver timeout is set to
 * the tool's --timeout, so an unreachable or hung server fails the command
 * within that bound instead of the driver's 30 s default.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <mongoc/mongoc.h>

#include "tools/ctl/ctl_registry.h"

struct ctl_registry {
	mongoc_client_t *client;
	mongoc_collection_t *devices;
	mongoc_collection_t *acl;       /* NULL: ACL lists inline in devices */
	const struct ih_config *cfg;
	char uri_shown[512];
	char err[2048];
};

/* ------------------------------------------------------------------ */
/* URI redaction                                                        */

static bool secret_option(const char *name, size_t len)
{
	/* password=, tlsCertificateKeyFilePassword=, sslclientcertificatekeypassword=,
	 * and authMechanismProperties (may hold AWS session tokens). */
	char lower[64];

	if(len >= sizeof(lower)) return true;
	for(size_t i = 0; i < len; i++) lower[i] = (char)tolower((unsigned char)name[i]);
	lower[len] = '\0';
	return strstr(lower, "password") != NULL || !strcmp(lower, "authmechanismproperties");
}

void reg_redact_uri(const char *uri, char *out, size_t outlen)
{
	const char *p = strstr(uri, "://");
	const char *auth_end, *at, *colon, *q;
	size_t used = 0;

#define PUT(s, n) do { size_t n_ = (n); if(used + n_ < outlen){ memcpy(out + used, (s), n_); used += n_; } } while(0)
	if(outlen == 0) return;
	if(p == NULL){
		PUT(uri, strlen(uri));
		out[used] = '\0';
		return;
	}
	p += 3;
	PUT(uri, (size_t)(p - uri));
	/* userinfo ends at the last '@' of the authority (before '/' or '?'). */
	auth_end = p + strcspn(p, "/?");
	at = NULL;
	for(const char *s = p; s < auth_end; s++) if(*s == '@') at = s;
	if(at){
		colon = memchr(p, ':', (size_t)(at - p));
		if(colon){
			PUT(p, (size_t)(colon - p));
			PUT(":***", 4);
		}else{
			PUT(p, (size_t)(at - p));
		}
		p = at;
	}
	q = strchr(p, '?');
	if(q == NULL){
		PUT(p, strlen(p));
	}else{
		PUT(p, (size_t)(q - p) + 1);
		p = q + 1;
		while(*p){
			size_t plen = strcspn(p, "&;");
			const char *eq = memchr(p, '=', plen);
			if(eq && secret_option(p, (size_t)(eq - p))){
				PUT(p, (size_t)(eq - p) + 1);
				PUT("***", 3);
			}else{
				PUT(p, plen);
			}
			p += plen;
			if(*p){
				PUT(p, 1);
				p++;
			}
		}
	}
	out[used] = '\0';
#undef PUT
}

/* ------------------------------------------------------------------ */
/* errors                                                               */

const char *reg_error(const struct ctl_registry *reg)
{
	return reg->err;
}

static enum reg_rc fail(struct ctl_registry *reg, const bson_error_t *e, const char *doing)
{
	/* Server selection fails when nothing answers in time; stream errors
	 * are refused, reset or timed-out sockets mid-command. */
	if(e->domain == MONGOC_ERROR_SERVER_SELECTION || e->domain == MONGOC_ERROR_STREAM){
		snprintf(reg->err, sizeof(reg->err), "MongoDB unreachable at %s while %s: %s",
				reg->uri_shown, doing, e->message);
		return REG_DOWN;
	}
	if(e->code == 11000){
		snprintf(reg->err, sizeof(reg->err), "duplicate key while %s: %s", doing, e->message);
		return REG_EXISTS;
	}
	snprintf(reg->err, sizeof(reg->err), "MongoDB error while %s: %s", doing, e->message);
	return REG_FAIL;
}

static int64_t reply_count(const bson_t *reply, const char *key)
{
	bson_iter_t it;

	if(bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
	return 0;
}

/* ------------------------------------------------------------------ */
/* open / close                                                         */

enum reg_rc reg_open(struct ctl_registry **out, const char *uri_s, const char *db,
		const struct ih_config *cfg, uint32_t timeout_ms, char *err, size_t errlen)
{
	struct ctl_registry *reg = bson_malloc0(sizeof(*reg));
	mongoc_uri_t *uri = NULL;
	bson_error_t e;
	enum reg_rc rc = REG_INVALID;

	reg->cfg = cfg;
	reg_redact_uri(uri_s, reg->uri_shown, sizeof(reg->uri_shown));
	uri = mongoc_uri_new_with_error(uri_s, &e);
	if(uri == NULL){
		snprintf(err, errlen, "invalid MongoDB URI %s: %s", reg->uri_shown, e.message);
		goto done;
	}
	if(!mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, (int32_t)timeout_ms)
			|| !mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, (int32_t)timeout_ms)
			|| !mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, (int32_t)timeout_ms)
			|| !mongoc_uri_set_appname(uri, "iothubctl")){
		snprintf(err, errlen, "cannot set MongoDB timeouts on %s", reg->uri_shown);
		goto done;
	}
	reg->client = mongoc_client_new_from_uri_with_error(uri, &e);
	if(reg->client == NULL){
		snprintf(err, errlen, "invalid MongoDB URI %s: %s", reg->uri_shown, e.message);
		goto done;
	}
	/* Version 2: server errors keep the server's code (11000 and friends). */
	mongoc_client_set_error_api(reg->client, MONGOC_ERROR_API_VERSION_2);
	reg->devices = mongoc_client_get_collection(reg->client, db, cfg->devices_collection);
	if(cfg->acl_collection[0]){
		reg->acl = mongoc_client_get_collection(reg->client, db, cfg->acl_collection);
	}
	rc = REG_OK;
done:
	mongoc_uri_destroy(uri);
	if(rc != REG_OK){
		reg_close(reg);
		reg = NULL;
	}
	*out = reg;
	return rc;
}

void reg_close(struct ctl_registry *reg)
{
	if(reg == NULL) return;
	if(reg->acl) mongoc_collection_destroy(reg->acl);
	if(reg->devices) mongoc_collection_destroy(reg->devices);
	if(reg->client) mongoc_client_destroy(reg->client);
	bson_free(reg);
}

/* ------------------------------------------------------------------ */
/* indexes                                                              */

/* Does index key document `key` equal {f1: 1[, f2: 1]}? */
static bool key_matches(const bson_t *key, const char *f1, const char *f2)
{
	bson_iter_t it;
	const char *want[2] = {f1, f2};
	int n = 0;

	if(!bson_iter_init(&it, key)) return false;
	while(bson_iter_next(&it)){
		if(n >= 2 || want[n] == NULL || strcmp(bson_iter_key(&it), want[n])) return false;
		if(!BSON_ITER_HOLDS_NUMBER(&it) || bson_iter_as_int64(&it) != 1) return false;
		n++;
	}
	return n == (f2 ? 2 : 1);
}

/* After a conflict: is there already a unique index on exactly that key? */
static enum reg_rc existing_unique(struct ctl_registry *reg, mongoc_collection_t *coll,
		const char *f1, const char *f2, bool *found)
{
	mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(coll, NULL);
	const bson_t *doc;
	bson_error_t e;
	enum reg_rc rc = REG_OK;

	*found = false;
	while(mongoc_cursor_next(cur, &doc)){
		bson_iter_t it, kit;
		bson_t key;
		const uint8_t *data;
		uint32_t len;
		bool unique = bson_iter_init_find(&it, doc, "unique") && bson_iter_as_bool(&it);
		if(!unique || !bson_iter_init_find(&kit, doc, "key") || !BSON_ITER_HOLDS_DOCUMENT(&kit)) continue;
		bson_iter_document(&kit, &len, &data);
		if(bson_init_static(&key, data, len) && key_matches(&key, f1, f2)) *found = true;
	}
	if(mongoc_cursor_error(cur, &e)) rc = fail(reg, &e, "listing indexes");
	mongoc_cursor_destroy(cur);
	return rc;
}

static enum reg_rc ensure_index(struct ctl_registry *reg, mongoc_collection_t *coll, const char *f1, const char *f2)
{
	bson_t cmd = BSON_INITIALIZER, indexes, spec, key, reply;
	char name[256];
	bson_error_t e;
	enum reg_rc rc = REG_OK;
	bool found;

	/* mongod's default index name, so an index made by hand the same way
	 * is recognised as the same index. */
	if(f2) snprintf(name, sizeof(name), "%s_1_%s_1", f1, f2);
	else snprintf(name, sizeof(name), "%s_1", f1);
	BSON_APPEND_UTF8(&cmd, "createIndexes", mongoc_collection_get_name(coll));
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
	BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &spec);
	BSON_APPEND_DOCUMENT_BEGIN(&spec, "key", &key);
	BSON_APPEND_INT32(&key, f1, 1);
	if(f2) BSON_APPEND_INT32(&key, f2, 1);
	bson_append_document_end(&spec, &key);
	BSON_APPEND_UTF8(&spec, "name", name);
	BSON_APPEND_BOOL(&spec, "unique", true);
	bson_append_document_end(&indexes, &spec);
	bson_append_array_end(&cmd, &indexes);

	if(mongoc_collection_write_command_with_opts(coll, &cmd, NULL, &reply, &e)) goto done;
	if(e.code == 85 || e.code == 86){
		/* Same key under another name or with other options: fine if that
		 * index is unique too. */
		rc = existing_unique(reg, coll, f1, f2, &found);
		if(rc == REG_OK && !found){
			snprintf(reg->err, sizeof(reg->err),
					"collection %s has a non-unique index on %s%s%s, so concurrent registrations "
					"could create duplicates: drop that index and run the command again (%s)",
					mongoc_collection_get_name(coll), f1, f2 ? "+" : "", f2 ? f2 : "", e.message);
			rc = REG_FAIL;
		}
	}else if(e.code == 11000){
		snprintf(reg->err, sizeof(reg->err),
				"collection %s already holds duplicate %s%s%s values, so the unique index cannot be "
				"built; remove the duplicates and run the command again (%s)",
				mongoc_collection_get_name(coll), f1, f2 ? "+" : "", f2 ? f2 : "", e.message);
		rc = REG_FAIL;
	}else{
		rc = fail(reg, &e, "creating the registry's unique indexes");
	}
done:
	bson_destroy(&reply);
	bson_destroy(&cmd);
	return rc;
}

enum reg_rc reg_ensure_indexes(struct ctl_registry *reg)
{
	const struct ih_config *cfg = reg->cfg;
	enum reg_rc rc;

	rc = ensure_index(reg, reg->devices, cfg->field.username, NULL);
	if(rc == REG_OK) rc = ensure_index(reg, reg->devices, cfg->field.product, cfg->field.device);
	if(rc == REG_OK && reg->acl) rc = ensure_index(reg, reg->acl, cfg->field.username, NULL);
	return rc;
}

/* ------------------------------------------------------------------ */
/* devices                                                              */

static void username_filter(const struct ctl_registry *reg, bson_t *filter, const char *username)
{
	bson_init(filter);
	BSON_APPEND_UTF8(filter, reg->cfg->field.username, username);
}

enum reg_rc reg_device_insert(struct ctl_registry *reg, const bson_t *doc)
{
	bson_t reply;
	bson_error_t e;
	enum reg_rc rc = REG_OK;

	if(!mongoc_collection_insert_one(reg->devices, doc, NULL, &reply, &e)){
		rc = fail(reg, &e, "inserting the device document");
	}
	bson_destroy(&reply);
	return rc;
}

enum reg_rc reg_device_delete_id(struct ctl_registry *reg, const bson_oid_t *id)
{
	bson_t filter = BSON_INITIALIZER, reply;
	bson_error_t e;
	enum reg_rc rc = REG_OK;

	BSON_APPEND_OID(&filter, "_id", id);
	if(!mongoc_collection_delete_one(reg->devices, &filter, NULL, &reply, &e)){
		rc = fail(reg, &e, "removing the device document");
	}
	bson_destroy(&reply);
	bson_destroy(&filter);
	return rc;
}

enum reg_rc reg_device_get(struct ctl_registry *reg, const char *username, bson_t *out)
{
	bson_t filter, opts = BSON_INITIALIZER;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t e;
	enum reg_rc rc = REG_NOT_FOUND;

	username_filter(reg, &filter, username);
	BSON_APPEND_INT64(&opts, "limit", 1);
	cur = mongoc_collection_find_with_opts(reg->devices, &filter, &opts, NULL);
	if(mongoc_cursor_next(cur, &doc)){
		bson_destroy(out);
		bson_copy_to(doc, out);
		rc = REG_OK;
	}else if(mongoc_cursor_error(cur, &e)){
		rc = fail(reg, &e, "reading the device document");
	}else{
		snprintf(reg->err, sizeof(reg->err), "device %s not found", username);
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return rc;
}

static enum reg_rc update_one(struct ctl_registry *reg, mongoc_collection_t *coll, const char *username,
		const bson_t *update, bool upsert, int64_t *matched, bool *modified, const char *doing)
{
	bson_t filter, opts = BSON_INITIALIZER, reply;
	bson_error_t e;
	enum reg_rc rc = REG_OK;

	username_filter(reg, &filter, username);
	if(upsert) BSON_APPEND_BOOL(&opts, "upsert", true);
	if(!mongoc_collection_update_one(coll, &filter, update, &opts, &reply, &e)){
		rc = fail(reg, &e, doing);
	}else{
		if(matched) *matched = reply_count(&reply, "matchedCount") + reply_count(&reply, "upsertedCount");
		if(modified){
			*modified = *modified || reply_count(&reply, "modifiedCount") > 0
					|| reply_count(&reply, "upsertedCount") > 0;
		}
	}
	bson_destroy(&reply);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return rc;
}

enum reg_rc reg_device_update(struct ctl_registry *reg, const char *username, const bson_t *update,
		bool *modified)
{
	int64_t matched = 0;
	enum reg_rc rc;

	*modified = false;
	rc = update_one(reg, reg->devices, username, update, false, &matched, modified, "updating the device");
	if(rc == REG_OK && matched == 0){
		snprintf(reg->err, sizeof(reg->err), "device %s not found", username);
		rc = REG_NOT_FOUND;
	}
	return rc;
}

enum reg_rc reg_device_modify(struct ctl_registry *reg, const char *username, const bson_t *update,
		bson_t *after)
{
	bson_t filter, reply;
	bson_iter_t it;
	bson_error_t e;
	mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
	enum reg_rc rc = REG_OK;

	username_filter(reg, &filter, username);
	mongoc_find_and_modify_opts_set_update(opts, update);
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	if(!mongoc_collection_find_and_modify_with_opts(reg->devices, &filter, opts, &reply, &e)){
		rc = fail(reg, &e, "updating the device");
	}else if(bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)){
		const uint8_t *data;
		uint32_t len;
		bson_t value;
		bson_iter_document(&it, &len, &data);
		if(bson_init_static(&value, data, len)){
			/* `after` must outlive `reply`: take a copy. */
			bson_destroy(after);
			bson_copy_to(&value, after);
		}else{
			rc = REG_FAIL;
			snprintf(reg->err, sizeof(reg->err), "MongoDB returned a malformed document");
		}
	}else{
		snprintf(reg->err, sizeof(reg->err), "device %s not found", username);
		rc = REG_NOT_FOUND;
	}
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(opts);
	bson_destroy(&filter);
	return rc;
}

enum reg_rc reg_device_delete(struct ctl_registry *reg, const char *username)
{
	bson_t filter, reply;
	bson_error_t e;
	enum reg_rc rc = REG_OK;

	username_filter(reg, &filter, username);
	if(!mongoc_collection_delete_one(reg->devices, &filter, NULL, &reply, &e)){
		rc = fail(reg, &e, "deleting the device document");
	}else if(reply_count(&reply, "deletedCount") == 0){
		snprintf(reg->err, sizeof(reg->err), "device %s not found", username);
		rc = REG_NOT_FOUND;
	}
	bson_destroy(&reply);
	bson_destroy(&filter);
	return rc;
}

enum reg_rc reg_device_list(struct ctl_registry *reg, const char *product, reg_list_cb cb, void *ud)
{
	const struct ih_config *cfg = reg->cfg;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, proj;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t e;
	enum reg_rc rc = REG_OK;

	if(product) BSON_APPEND_UTF8(&filter, cfg->field.product, product);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, cfg->field.username, 1);
	bson_append_document_end(&opts, &sort);
	/* Secrets never leave the server for a listing. */
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, cfg->field.secret, 0);
	BSON_APPEND_INT32(&proj, cfg->field.password_hash, 0);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(reg->devices, &filter, &opts, NULL);
	while(mongoc_cursor_next(cur, &doc)){
		if(cb(doc, ud)) break;
	}
	if(mongoc_cursor_error(cur, &e)) rc = fail(reg, &e, "listing devices");
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	bson_destroy(&filter);
	return rc;
}

/* ------------------------------------------------------------------ */
/* ACL                                                                  */

bool reg_acl_inline(const struct ctl_registry *reg)
{
	return reg->acl == NULL;
}

/* The configured field name of the list the CLI calls `list`. */
static const char *acl_field(const struct ih_config *cfg, const char *list)
{
	int i = ih_acl_list_find(list);

	return i < 0 ? NULL : cfg->acl_field[i];
}

enum reg_rc reg_acl_set(struct ctl_registry *reg, const char *username, const bson_t *lists)
{
	bson_t update = BSON_INITIALIZER, set, renamed;
	bson_iter_t it;
	int64_t matched = 0;
	enum reg_rc rc;

	/* `lists` uses the CLI's names; the registry may rename them. */
	bson_init(&renamed);
	if(bson_iter_init(&it, lists)){
		while(bson_iter_next(&it)){
			const char *f = acl_field(reg->cfg, bson_iter_key(&it));
			if(f) bson_append_iter(&renamed, f, -1, &it);
		}
	}
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	if(reg->acl){
		bson_concat(&set, &renamed);
	}else{
		BSON_APPEND_DOCUMENT(&set, reg->cfg->field.acl, &renamed);
	}
	bson_append_document_end(&update, &set);
	rc = update_one(reg, reg->acl ? reg->acl : reg->devices, username, &update, reg->acl != NULL,
			&matched, NULL, "writing the ACL document");
	if(rc == REG_OK && matched == 0){
		snprintf(reg->err, sizeof(reg->err), "device %s not found", username);
		rc = REG_NOT_FOUND;
	}
	bson_destroy(&update);
	bson_destroy(&renamed);
	return rc;
}

/* The distinct strings of several arrays, in order. Items point into the
 * documents they came from, which outlive the set. */
struct strset {
	const char **items;
	size_t count;
};

static void strset_add_array(struct strset *set, const bson_t *doc, const char *field)
{
	bson_iter_t it, child;

	if(doc == NULL || !bson_iter_init_find(&it, doc, field) || !BSON_ITER_HOLDS_ARRAY(&it)) return;
	if(!bson_iter_recurse(&it, &child)) return;
	while(bson_iter_next(&child)){
		const char *s;
		bool dup = false;
		if(!BSON_ITER_HOLDS_UTF8(&child)) continue;
		s = bson_iter_utf8(&child, NULL);
		for(size_t i = 0; i < set->count && !dup; i++) dup = !strcmp(set->items[i], s);
		if(dup) continue;
		set->items = bson_realloc(set->items, (set->count + 1) * sizeof(*set->items));
		set->items[set->count++] = s;
	}
}

enum reg_rc reg_acl_get(struct ctl_registry *reg, const char *username, const bson_t *device, bson_t *out)
{
	bson_t acl_doc = BSON_INITIALIZER, inline_doc;
	bool have_acl = false, have_inline = false;
	bson_iter_t it;
	enum reg_rc rc = REG_OK;

	if(reg->acl){
		bson_t filter, opts = BSON_INITIALIZER;
		mongoc_cursor_t *cur;
		const bson_t *doc;
		bson_error_t e;
		username_filter(reg, &filter, username);
		BSON_APPEND_INT64(&opts, "limit", 1);
		cur = mongoc_collection_find_with_opts(reg->acl, &filter, &opts, NULL);
		if(mongoc_cursor_next(cur, &doc)){
			bson_destroy(&acl_doc);
			bson_copy_to(doc, &acl_doc);
			have_acl = true;
		}else if(mongoc_cursor_error(cur, &e)){
			rc = fail(reg, &e, "reading the ACL document");
		}
		mongoc_cursor_destroy(cur);
		bson_destroy(&opts);
		bson_destroy(&filter);
		if(rc != REG_OK) goto done;
	}
	if(device && bson_iter_init_find(&it, device, reg->cfg->field.acl) && BSON_ITER_HOLDS_DOCUMENT(&it)){
		const uint8_t *data;
		uint32_t len;
		bson_iter_document(&it, &len, &data);
		have_inline = bson_init_static(&inline_doc, data, len);
	}
	for(int i = 0; i < IH_ACL_LIST_COUNT; i++){
		const char *f = reg->cfg->acl_field[i];
		struct strset set = {NULL, 0};
		bson_t arr;
		strset_add_array(&set, have_acl ? &acl_doc : NULL, f);
		strset_add_array(&set, have_inline ? &inline_doc : NULL, f);
		/* Allow lists always; deny lists only when used. */
		if(set.count > 0 || !ih_acl_list_is_deny(i)){
			bson_append_array_begin(out, ih_acl_list_names[i], -1, &arr);
			for(size_t j = 0; j < set.count; j++){
				char key[16];
				const char *k;
				bson_uint32_to_string((uint32_t)j, &k, key, sizeof(key));
				BSON_APPEND_UTF8(&arr, k, set.items[j]);
			}
			bson_append_array_end(out, &arr);
		}
		bson_free(set.items);
	}
done:
	bson_destroy(&acl_doc);
	return rc;
}

enum reg_rc reg_acl_change(struct ctl_registry *reg, const char *username, const char *list,
		const char *filter, bool add, bool *modified)
{
	const char *f = acl_field(reg->cfg, list);
	char path[512];
	bson_t update = BSON_INITIALIZER, op;
	enum reg_rc rc = REG_OK;

	*modified = false;
	if(f == NULL){
		snprintf(reg->err, sizeof(reg->err), "unknown ACL list %s", list);
		rc = REG_FAIL;
		goto done;
	}
	if(reg->acl){
		BSON_APPEND_DOCUMENT_BEGIN(&update, add ? "$addToSet" : "$pull", &op);
		BSON_APPEND_UTF8(&op, f, filter);
		bson_append_document_end(&update, &op);
		rc = update_one(reg, reg->acl, username, &update, add, NULL, modified, "writing the ACL document");
		if(rc != REG_OK || add) goto done;
		bson_reinit(&update);
	}
	/* Inline lists: the only place in inline mode, and on removal also the
	 * place a filter may come from besides the ACL document. */
	snprintf(path, sizeof(path), "%s.%s", reg->cfg->field.acl, f);
	BSON_APPEND_DOCUMENT_BEGIN(&update, add ? "$addToSet" : "$pull", &op);
	BSON_APPEND_UTF8(&op, path, filter);
	bson_append_document_end(&update, &op);
	rc = update_one(reg, reg->devices, username, &update, false, NULL, modified, "updating the device's ACL");
done:
	bson_destroy(&update);
	return rc;
}

enum reg_rc reg_acl_delete(struct ctl_registry *reg, const char *username)
{
	bson_t filter, reply;
	bson_error_t e;
	enum reg_rc rc = REG_OK;

	if(reg->acl == NULL) return REG_OK;
	username_filter(reg, &filter, username);
	if(!mongoc_collection_delete_many(reg->acl, &filter, NULL, &reply, &e)){
		rc = fail(reg, &e, "deleting the ACL document");
	}
	bson_destroy(&reply);
	bson_destroy(&filter);
	return rc;
}
