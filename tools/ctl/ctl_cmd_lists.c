/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Subcommands that edit a device's lists: tags and ACL filters.
 */
#include <stdio.h>
#include <string.h>

#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"
#include "tools/ctl/ctl_registry.h"

/* {$set|$addToSet|$pull: {tags: ...}, $inc: {tags_version: 1}}: one update,
 * so a reader never sees new tags with an old version or the reverse. */
static int tags_update(const struct ctl *c, const char *op, char **tags, int ntags, bson_t *update)
{
	bson_t list = BSON_INITIALIZER, doc, inner, inc;
	bson_iter_t it;
	int rc = ctl_tags_append(&list, "t", tags, ntags, NULL);

	if(rc != CTL_OK || !bson_iter_init_find(&it, &list, "t")) goto done;
	if(!strcmp(op, "set")){
		BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &doc);
		bson_append_iter(&doc, c->cfg.field.tags, -1, &it);
	}else if(!strcmp(op, "add")){
		BSON_APPEND_DOCUMENT_BEGIN(update, "$addToSet", &doc);
		BSON_APPEND_DOCUMENT_BEGIN(&doc, c->cfg.field.tags, &inner);
		bson_append_iter(&inner, "$each", -1, &it);
		bson_append_document_end(&doc, &inner);
	}else{
		BSON_APPEND_DOCUMENT_BEGIN(update, "$pull", &doc);
		BSON_APPEND_DOCUMENT_BEGIN(&doc, c->cfg.field.tags, &inner);
		bson_append_iter(&inner, "$in", -1, &it);
		bson_append_document_end(&doc, &inner);
	}
	bson_append_document_end(update, &doc);
	BSON_APPEND_DOCUMENT_BEGIN(update, "$inc", &inc);
	BSON_APPEND_INT32(&inc, "tags_version", 1);
	bson_append_document_end(update, &inc);
done:
	bson_destroy(&list);
	return rc;
}

int ctl_cmd_tags(struct ctl *c, int argc, char **argv)
{
	struct ctl_device dev;
	struct ctl_registry *reg = NULL;
	bson_t update = BSON_INITIALIZER, after = BSON_INITIALIZER, result = BSON_INITIALIZER;
	const char *op = argc > 0 ? argv[0] : "";
	bool is_set = !strcmp(op, "set");
	int rc;

	if((!is_set && strcmp(op, "add") && strcmp(op, "remove")) || argc < (is_set ? 2 : 3)){
		rc = out_fail(CTL_USAGE, NULL, "usage: iothubctl tags set P/D [TAG...] | tags add|remove P/D TAG...");
		goto done;
	}
	rc = ctl_device_parse(c, argv[1], &dev);
	if(rc == CTL_OK) rc = tags_update(c, op, argv + 2, argc - 2, &update);
	if(rc == CTL_OK) rc = ctl_begin(c, NULL, true, &dev, &reg);
	if(rc == CTL_OK) rc = ctl_registry_fail(c, reg_device_modify(reg, dev.username, &update, &after), &dev);
	if(rc != CTL_OK) goto done;

	BSON_APPEND_UTF8(&result, "username", dev.username);
	ctl_copy_field(&result, "tags", &after, c->cfg.field.tags);
	ctl_copy_field(&result, "tags_version", &after, "tags_version");
	rc = ctl_notify_broker(c, dev.username, false, &result);
	out_result(NULL, &result, NULL);
done:
	bson_destroy(&result);
	bson_destroy(&after);
	bson_destroy(&update);
	return rc;
}

static int acl_show(struct ctl *c, int argc, char **argv)
{
	struct ctl_device dev;
	struct ctl_registry *reg = NULL;
	bson_t doc = BSON_INITIALIZER, result = BSON_INITIALIZER;
	int rc;

	if(argc != 1) return out_fail(CTL_USAGE, NULL, "usage: iothubctl acl show P/D");
	rc = ctl_begin(c, argv[0], false, &dev, &reg);
	if(rc == CTL_OK) rc = ctl_registry_fail(c, reg_device_get(reg, dev.username, &doc), &dev);
	if(rc == CTL_OK){
		BSON_APPEND_UTF8(&result, "username", dev.username);
		rc = ctl_registry_fail(c, reg_acl_get(reg, dev.username, &doc, &result), &dev);
	}
	if(rc == CTL_OK) out_result(NULL, &result, NULL);
	bson_destroy(&result);
	bson_destroy(&doc);
	return rc;
}

int ctl_cmd_acl(struct ctl *c, int argc, char **argv)
{
	struct ctl_device dev;
	struct ctl_registry *reg = NULL;
	bson_t doc = BSON_INITIALIZER, result = BSON_INITIALIZER;
	const char *why;
	char names[128];
	bool add, modified = false;
	int rc;

	if(argc >= 1 && !strcmp(argv[0], "show")) return acl_show(c, argc - 1, argv + 1);
	if(argc != 4 || (strcmp(argv[0], "add") && strcmp(argv[0], "remove"))){
		ih_acl_list_join(names, sizeof(names), "|", "|");
		rc = out_fail(CTL_USAGE, NULL, "usage: iothubctl acl add|remove %s P/D FILTER | acl show P/D", names);
		goto done;
	}
	add = !strcmp(argv[0], "add");
	if(ih_acl_list_find(argv[1]) < 0){
		ih_acl_list_join(names, sizeof(names), ", ", " or ");
		rc = out_fail(CTL_USAGE, NULL, "unknown ACL list \"%s\": use %s", argv[1], names);
		goto done;
	}
	rc = ctl_device_parse(c, argv[2], &dev);
	if(rc != CTL_OK) goto done;
	why = ctl_filter_check(argv[3]);
	if(why){
		rc = out_fail(CTL_USAGE, "invalid_filter", "invalid filter \"%.200s\": %s", argv[3], why);
		goto done;
	}
	rc = ctl_begin(c, NULL, true, &dev, &reg);
	/* The device must exist: an ACL document alone would be an orphan. */
	if(rc == CTL_OK) rc = ctl_registry_fail(c, reg_device_get(reg, dev.username, &doc), &dev);
	if(rc == CTL_OK){
		rc = ctl_registry_fail(c, reg_acl_change(reg, dev.username, argv[1], argv[3], add, &modified), &dev);
	}
	if(rc != CTL_OK) goto done;

	BSON_APPEND_UTF8(&result, "username", dev.username);
	BSON_APPEND_UTF8(&result, "list", argv[1]);
	BSON_APPEND_UTF8(&result, "filter", argv[3]);
	BSON_APPEND_UTF8(&result, "action", add ? "add" : "remove");
	BSON_APPEND_BOOL(&result, "changed", modified);
	rc = ctl_notify_broker(c, dev.username, false, &result);
	out_result(NULL, &result, NULL);
done:
	bson_destroy(&result);
	bson_destroy(&doc);
	return rc;
}
