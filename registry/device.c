/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Device records: decoding one registry document into a struct ih_device,
 * and the record's reference counting.
 *
 * The decoder is the boundary between registry data and the broker: it
 * takes arbitrary BSON (operators edit these documents by hand, and the
 * decoder is fuzzed), so every field is type-checked and a document that
 * could describe the device wrongly is refused as a whole rather than
 * half-trusted.
 *
 * Field rules (names from the config):
 *  - broker_username: required, a valid ProductName/DeviceName. When
 *    product_name / device_name are present they must equal its halves.
 *  - password_hash: preferred when present and non-empty; otherwise the
 *    clear `secret`. No usable secret refuses the document. Only the one
 *    that is used is kept in memory.
 *  - status: a missing (or null) status means active. IotHub server
 *    versions before suspend/resume never wrote the field, and their
 *    devices must keep connecting. A value equal to status_active means
 *    active; anything else, including a non-string, means not active.
 *  - superuser: a boolean. Anything else is logged and read as false.
 *  - tags / tags_version: see device_lists.c; tags_version may be stored
 *    as int32, int64 or double (JavaScript clients write doubles).
 *  - ACL lists: see device_lists.c.
 * A null value counts as absent for every optional field.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "core/slab.h"
#include "registry/device.h"
#include "registry/device_internal.h"
#include "registry/username.h"

int device_fail(struct device_decode *d, const char *fmt, ...)
{
	va_list ap;

	if(d->err && d->errlen){
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void device_skip(struct device_decode *d, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	d->skipped++;
	if(d->skipped > DEVICE_DECODE_LOG_MAX) return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: device %s: %s%s", d->who, buf,
			d->skipped == DEVICE_DECODE_LOG_MAX ? " (further problems in this document are not logged)" : "");
}

bool device_utf8_ok(const char *s, uint32_t len)
{
	return bson_utf8_validate(s, len, false);
}

const char *device_bson_type_name(bson_type_t t)
{
	switch(t){
		case BSON_TYPE_DOUBLE: return "double";
		case BSON_TYPE_UTF8: return "string";
		case BSON_TYPE_DOCUMENT: return "document";
		case BSON_TYPE_ARRAY: return "array";
		case BSON_TYPE_BINARY: return "binary";
		case BSON_TYPE_OID: return "objectId";
		case BSON_TYPE_BOOL: return "bool";
		case BSON_TYPE_DATE_TIME: return "date";
		case BSON_TYPE_NULL: return "null";
		case BSON_TYPE_INT32: return "int32";
		case BSON_TYPE_INT64: return "int64";
		case BSON_TYPE_DECIMAL128: return "decimal128";
		default: return "other";
	}
}

/* Optional string field: 0 absent or null, 1 present (s/len set), -1 wrong
 * type, or not UTF-8, or a NUL inside (so strlen(s) == len when 1). */
static int find_string(const bson_t *doc, const char *field, const char **s, uint32_t *len, bson_type_t *type)
{
	bson_iter_t it;

	*s = NULL;
	*len = 0;
	if(!bson_iter_init_find(&it, doc, field)) return 0;
	*type = bson_iter_type(&it);
	if(*type == BSON_TYPE_NULL) return 0;
	if(*type != BSON_TYPE_UTF8) return -1;
	*s = bson_iter_utf8(&it, len);
	return device_utf8_ok(*s, *len) ? 1 : -1;
}

static int decode_identity(struct device_decode *d, const bson_t *doc)
{
	const struct ih_config *cfg = d->cfg;
	const char *s, *why;
	uint32_t len;
	bson_type_t type = BSON_TYPE_EOD;
	size_t plen = 0;
	int rc;

	rc = find_string(doc, cfg->field.username, &s, &len, &type);
	if(rc == 0) return device_fail(d, "no %s field", cfg->field.username);
	if(rc < 0) return device_fail(d, "%s is not a valid string (%s)", cfg->field.username, device_bson_type_name(type));
	why = registry_username_check(s, cfg->username_max_len, &plen);
	if(why) return device_fail(d, "%s is not a valid username: %s", cfg->field.username, why);
	d->dev->username = (char *)s; /* borrowed from the document until device_pack */
	d->dev->product_len = plen;
	d->who = d->dev->username;

	/* The halves, when stored separately, must name the same device: a
	 * mismatch means the document was edited inconsistently, and the ACL
	 * templates would otherwise see a different device than auth did. */
	rc = find_string(doc, cfg->field.product, &s, &len, &type);
	if(rc < 0) return device_fail(d, "%s is not a valid string (%s)", cfg->field.product, device_bson_type_name(type));
	if(rc > 0 && (len != plen || memcmp(s, d->dev->username, plen) != 0)){
		return device_fail(d, "%s does not match %s", cfg->field.product, cfg->field.username);
	}
	rc = find_string(doc, cfg->field.device, &s, &len, &type);
	if(rc < 0) return device_fail(d, "%s is not a valid string (%s)", cfg->field.device, device_bson_type_name(type));
	if(rc > 0 && (len != strlen(d->dev->username) - plen - 1 || memcmp(s, d->dev->username + plen + 1, len) != 0)){
		return device_fail(d, "%s does not match %s", cfg->field.device, cfg->field.username);
	}
	return 0;
}

static int decode_secret(struct device_decode *d, const bson_t *doc)
{
	const struct ih_config *cfg = d->cfg;
	const char *s;
	uint32_t len;
	bson_type_t type = BSON_TYPE_EOD;
	int rc;

	/* An empty hash or secret counts as absent: an empty password is never
	 * accepted anyway, and "" is what a cleared form field stores. */
	rc = find_string(doc, cfg->field.password_hash, &s, &len, &type);
	if(rc < 0) return device_fail(d, "%s is not a valid string (%s)", cfg->field.password_hash, device_bson_type_name(type));
	if(rc > 0 && len > 0){
		d->dev->password_hash = (char *)s; /* borrowed until device_pack */
		return 0;
	}
	rc = find_string(doc, cfg->field.secret, &s, &len, &type);
	if(rc < 0) return device_fail(d, "%s is not a valid string (%s)", cfg->field.secret, device_bson_type_name(type));
	if(rc == 0 || len == 0){
		return device_fail(d, "no usable secret (neither %s nor %s)", cfg->field.password_hash, cfg->field.secret);
	}
	d->dev->secret = (char *)s; /* borrowed until device_pack */
	return 0;
}

static int decode_status(struct device_decode *d, const bson_t *doc)
{
	const struct ih_config *cfg = d->cfg;
	const char *s;
	uint32_t len;
	bson_type_t type = BSON_TYPE_EOD;
	int rc;

	rc = find_string(doc, cfg->field.status, &s, &len, &type);
	if(rc == 0){
		d->dev->active = true;
		return 0;
	}
	if(rc < 0){
		/* Not a string we can compare: fail closed, but keep the record so
		 * the refusal says why instead of "unknown device". */
		d->dev->active = false;
		d->dev->status = (char *)device_bson_type_name(type); /* static; copied by device_pack */
		return 0;
	}
	d->dev->active = strcmp(s, cfg->status_active) == 0;
	d->dev->status = (char *)s; /* borrowed until device_pack */
	return 0;
}

static void decode_superuser(struct device_decode *d, const bson_t *doc)
{
	bson_iter_t it;

	d->dev->superuser = false;
	if(!bson_iter_init_find(&it, doc, d->cfg->field.superuser)) return;
	if(BSON_ITER_HOLDS_BOOL(&it)){
		d->dev->superuser = bson_iter_bool(&it);
	}else if(!BSON_ITER_HOLDS_NULL(&it)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: device %s: %s is a %s, not a boolean; treated as false",
				d->who, d->cfg->field.superuser, device_bson_type_name(bson_iter_type(&it)));
	}
}

static void decode_tags_version(struct device_decode *d, const bson_t *doc)
{
	static const char *const field = "tags_version";   /* IotHub's name; not configurable */
	bson_iter_t it;
	double v;

	d->dev->tags_version = 0;
	if(!bson_iter_init_find(&it, doc, field)) return;
	switch(bson_iter_type(&it)){
		case BSON_TYPE_INT32:
			d->dev->tags_version = bson_iter_int32(&it);
			return;
		case BSON_TYPE_INT64:
			d->dev->tags_version = bson_iter_int64(&it);
			return;
		case BSON_TYPE_DOUBLE:
			v = bson_iter_double(&it);
			/* 2^63 is exactly representable; anything at or beyond it is not an int64. */
			if(isfinite(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0){
				d->dev->tags_version = (int64_t)v;
			}else{
				device_skip(d, "%s is not a finite integer; read as 0", field);
			}
			return;
		case BSON_TYPE_NULL:
			return;
		default:
			device_skip(d, "%s is a %s, not a number; read as 0", field, device_bson_type_name(bson_iter_type(&it)));
			return;
	}
}

/*
 * The record as decoded borrows its strings from the BSON document (and
 * its tag array from the decoder); device_pack then copies all of it into
 * the one block that outlives the document. Decoding into separate blocks
 * and packing them afterwards freed six small blocks per record between
 * the record's and the connection's allocations, and the holes they left
 * cost more than the packing saved (~170 bytes per device, measured).
 */

/* Bytes of s with its NUL, 0 for NULL. */
static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copy s to *p (advancing it); NULL stays NULL. */
static char *pack_str(char **p, const char *s)
{
	size_t n = str_size(s);
	char *copy;

	if(n == 0) return NULL;
	copy = memcpy(*p, s, n);
	*p += n;
	return copy;
}

/* The size device_pack asked the pool for. */
static size_t packed_size(const struct ih_device *dev)
{
	size_t bytes = sizeof(*dev) + dev->tags.count * sizeof(char *);

	bytes += str_size(dev->username) + str_size(dev->secret) + str_size(dev->password_hash) + str_size(dev->status);
	for(size_t i = 0; i < dev->tags.count; i++) bytes += str_size(dev->tags.items[i]);
	return bytes;
}

/*
 * The decoded record `dev` (borrowed strings) as one block (see struct
 * ih_device): the struct, the tag array, then the strings. Its ACL lists,
 * which almost no device has, move to the block as they are. NULL when out
 * of memory (dev is unchanged then).
 */
static struct ih_device *device_pack(struct ih_device *dev)
{
	size_t bytes = packed_size(dev);
	struct ih_device *p;
	char *s;

	p = ih_slab_alloc(bytes); /* see core/slab.h */
	if(p == NULL) return NULL;
	*p = *dev;
	p->packed = true;
	p->tags.items = dev->tags.count ? (char **)(void *)(p + 1) : NULL;
	s = (char *)(p + 1) + dev->tags.count * sizeof(char *);
	p->username = pack_str(&s, dev->username);
	p->secret = pack_str(&s, dev->secret);
	p->password_hash = pack_str(&s, dev->password_hash);
	p->status = pack_str(&s, dev->status);
	for(size_t i = 0; i < dev->tags.count; i++) p->tags.items[i] = pack_str(&s, dev->tags.items[i]);
	dev->acl = NULL; /* moved to p */
	return p; /* the caller's reference */
}

int registry_device_decode(const bson_t *device_doc, const bson_t *acl_doc,
		const struct ih_config *cfg, struct ih_device **out, char *err, size_t errlen)
{
	struct device_decode d;
	struct ih_device dev;   /* as decoded, borrowing from the documents */
	size_t off = 0;
	int rc = -1;

	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.err = err;
	d.errlen = errlen;
	d.who = "(unnamed)";
	if(err && errlen) err[0] = '\0';
	*out = NULL;

	/* Walk the whole document once up front: every later lookup can then
	 * rely on well-formed lengths, and a corrupt document gets one clear
	 * reason instead of fields that silently look absent. */
	if(device_doc == NULL || !bson_validate(device_doc, BSON_VALIDATE_NONE, &off)){
		device_fail(&d, "corrupt BSON document (at byte %zu)", off);
		goto done;
	}
	if(acl_doc && !bson_validate(acl_doc, BSON_VALIDATE_NONE, &off)){
		device_fail(&d, "corrupt ACL BSON document (at byte %zu)", off);
		goto done;
	}
	memset(&dev, 0, sizeof(dev));
	dev.refcount = 1;
	d.dev = &dev;

	if(decode_identity(&d, device_doc)) goto done;
	if(decode_secret(&d, device_doc)) goto done;
	if(decode_status(&d, device_doc)) goto done;
	decode_superuser(&d, device_doc);
	if(device_decode_tags(&d, device_doc)) goto done;
	decode_tags_version(&d, device_doc);
	if(device_decode_acl(&d, device_doc, acl_doc)) goto done;
	device_fingerprint(&dev);

	*out = device_pack(&dev); /* ownership of the first reference passes to the caller */
	if(*out == NULL){
		device_fail(&d, "out of memory");
		goto done;
	}
	rc = 0;
done:
	if(d.dev){
		device_tags_release(&d);
		device_acl_free(&dev); /* NULL already when it moved to *out */
	}
	return rc;
}

struct ih_device *registry_device_new_token(const char *username)
{
	struct ih_device *dev = mosquitto_calloc(1, sizeof(*dev));

	if(dev == NULL) return NULL;
	dev->refcount = 1;
	dev->active = true;
	dev->token = true;
	if(username){
		dev->username = mosquitto_strdup(username);
		if(dev->username == NULL){
			mosquitto_free(dev);
			return NULL;
		}
	}
	return dev; /* the caller owns the reference */
}

int registry_device_list_add(struct ih_strlist *l, const char *s, size_t len)
{
	struct device_list_builder b = {l, l->count};

	return device_list_append(&b, s, len);
}

void registry_device_ref(struct ih_device *dev)
{
	if(dev) dev->refcount++;
}

static void free_secret_string(char *s)
{
	if(s == NULL) return;
	OPENSSL_cleanse(s, strlen(s));
	mosquitto_free(s);
}

void registry_device_unref(struct ih_device *dev)
{
	if(dev == NULL) return;
	if(--dev->refcount > 0) return;
	device_acl_free(dev);
	if(dev->packed){
		/* One block: only the secrets need wiping first. */
		size_t bytes = packed_size(dev);

		if(dev->secret) OPENSSL_cleanse(dev->secret, strlen(dev->secret));
		if(dev->password_hash) OPENSSL_cleanse(dev->password_hash, strlen(dev->password_hash));
		ih_slab_free(dev, bytes);
		return;
	}
	mosquitto_free(dev->username);
	free_secret_string(dev->secret);
	free_secret_string(dev->password_hash);
	mosquitto_free(dev->status);
	device_strlist_free(&dev->tags);
	mosquitto_free(dev);
}

const struct ih_acl_lists *registry_device_acl(const struct ih_device *dev)
{
	static const struct ih_acl_lists none;

	return dev && dev->acl ? dev->acl : &none;
}

struct ih_acl_lists *registry_device_acl_edit(struct ih_device *dev)
{
	if(dev->acl == NULL) dev->acl = mosquitto_calloc(1, sizeof(*dev->acl)); /* dev owns it */
	return dev->acl;
}

void device_acl_free(struct ih_device *dev)
{
	if(dev->acl == NULL) return;
	for(int i = 0; i < IH_ACL_LIST_COUNT; i++) device_strlist_free(&dev->acl->list[i]);
	mosquitto_free(dev->acl);
	dev->acl = NULL;
}
