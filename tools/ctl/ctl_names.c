/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Device names and tags from the command line. Every check goes through
 * registry/username.h, the code the plugin runs at CONNECT, so the tool can
 * never write a device the plugin would refuse (or the reverse).
 */
#include <stdio.h>
#include <string.h>

#include "registry/username.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"

/* Names in messages: bounded, never raw control bytes on a terminal, and
 * bytes of invalid UTF-8 shown as \xHH so the message says what was typed. */
static void printable(const char *s, char *out, size_t outlen)
{
	bool utf8 = bson_utf8_validate(s, strlen(s), false);
	size_t j = 0;

	for(size_t i = 0; s[i] && j + 5 < outlen; i++){
		unsigned char ch = (unsigned char)s[i];
		if(i >= 64 && (ch & 0xC0) != 0x80){   /* cut between characters */
			memcpy(out + j, "...", 3);
			j += 3;
			break;
		}
		if(ch < 0x20 || ch == 0x7F || (ch >= 0x80 && !utf8)){
			snprintf(out + j, outlen - j, "\\x%02X", ch);
			j += 4;
		}else{
			out[j++] = (char)ch;
		}
	}
	out[j] = '\0';
}

static int name_fail(const char *what, const char *name, const char *why)
{
	char shown[300];

	printable(name, shown, sizeof(shown));
	return out_fail(CTL_USAGE, "invalid_name", "invalid %s \"%s\": %s", what, shown, why);
}

int ctl_product_check(const char *product)
{
	const char *why = registry_name_check(product, strlen(product), IH_NAME_MAX);

	return why ? name_fail("ProductName", product, why) : CTL_OK;
}

int ctl_device_from_parts(const struct ctl *c, const char *product, const char *device, struct ctl_device *out)
{
	const char *why;
	size_t plen = 0;

	why = registry_name_check(product, strlen(product), IH_NAME_MAX);
	if(why) return name_fail("ProductName", product, why);
	why = registry_name_check(device, strlen(device), IH_NAME_MAX);
	if(why) return name_fail("DeviceName", device, why);
	snprintf(out->username, sizeof(out->username), "%s/%s", product, device);
	/* The plugin also bounds the whole username (plugin_opt_username_max_len). */
	why = registry_username_check(out->username, c->cfg.username_max_len, &plen);
	if(why) return name_fail("device name", out->username, why);
	snprintf(out->product, sizeof(out->product), "%s", product);
	snprintf(out->device, sizeof(out->device), "%s", device);
	return CTL_OK;
}

int ctl_device_parse(const struct ctl *c, const char *arg, struct ctl_device *out)
{
	char product[IH_NAME_MAX + 1];
	size_t plen = 0;
	const char *why = registry_username_check(arg, c->cfg.username_max_len, &plen);

	if(why) return name_fail("device name", arg, why);
	/* registry_username_check bounds each half by the username limit only. */
	if(plen > IH_NAME_MAX) return name_fail("ProductName", arg, "name too long");
	memcpy(product, arg, plen);
	product[plen] = '\0';
	return ctl_device_from_parts(c, product, arg + plen + 1, out);
}

static int tag_append(bson_t *arr, uint32_t *n, const char *tag, size_t len)
{
	char key[16];
	const char *k;
	const char *why = registry_name_check(tag, len, IH_NAME_MAX);

	if(why){
		char copy[IH_NAME_MAX + 8];
		snprintf(copy, sizeof(copy), "%.*s", (int)(len < IH_NAME_MAX ? len : IH_NAME_MAX), tag);
		return name_fail("tag", copy, why);
	}
	bson_uint32_to_string((*n)++, &k, key, sizeof(key));
	bson_append_utf8(arr, k, -1, tag, (int)len);
	return CTL_OK;
}

int ctl_tags_append(bson_t *doc, const char *key, char **tags, int ntags, const char *csv)
{
	bson_t arr;
	uint32_t n = 0;
	int rc = CTL_OK;

	/* Tags become a topic level (tags/P/TAG/cmd/...): same rules as names. */
	bson_append_array_begin(doc, key, -1, &arr);
	for(int i = 0; rc == CTL_OK && i < ntags; i++){
		rc = tag_append(&arr, &n, tags[i], strlen(tags[i]));
	}
	while(rc == CTL_OK && csv && *csv){
		size_t len = strcspn(csv, ",");
		if(len > 0) rc = tag_append(&arr, &n, csv, len);
		csv += len;
		if(*csv == ',') csv++;
	}
	bson_append_array_end(doc, &arr);
	return rc;
}
