/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * README.md against the code it documents:
 *  - every option of core/config.c's table has a row in one of the README's
 *    option tables (header "| option | default | meaning |") with its
 *    default, and every option named there exists;
 *  - the ACL list names the README spells (iothubctl's usage) are the table
 *    of core/acl_lists.h, in its order.
 *
 * Rows name options in backticks: "`a`", "`a`, `b`", or a range in table
 * order "`a` … `b`". The default cell holds, in backticks, either one value
 * for every option of the row, one value per option, or (a repeatable
 * option) every default value in order. An option without a default has no
 * backticked value there ("none", "host name").
 *
 * Runs from the repository root (make unit).
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/acl_lists.h"
#include "core/config.h"
#include "test/unit/unit_run.h"

#define MAXTOK 16
#define ELLIPSIS "\xe2\x80\xa6"
#define TABLE_HEAD "| option | default | meaning |"

struct row {
	char *names[MAXTOK * 4];   /* range expanded */
	size_t n_names;
	char *defs[MAXTOK];
	size_t n_defs;
	int line;
};

static char *readme;

static void load_readme(void)
{
	FILE *f;
	long len;

	if(readme) return;
	f = fopen("README.md", "rb");

	ck_assert_msg(f != NULL, "README.md not found (run from the repository root)");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	readme = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(readme);
	ck_assert_uint_eq(fread(readme, 1, (size_t)len, f), (size_t)len);
	readme[len] = '\0';
	fclose(f);
}

static long option_index(const char *name)
{
	struct ih_option_info info;

	for(size_t i = 0; i < ih_config_option_count(); i++){
		ih_config_option_info(i, &info);
		if(!strcmp(info.name, name)) return (long)i;
	}
	return -1;
}

/* The backticked spans of [p, end), malloc'd; *range when "…" follows one. */
static size_t spans(const char *p, const char *end, char **out, size_t max, bool *range_after_first)
{
	size_t n = 0;

	*range_after_first = false;
	while(p < end && n < max){
		const char *a = memchr(p, '`', (size_t)(end - p)), *b;
		if(a == NULL) break;
		b = memchr(a + 1, '`', (size_t)(end - a - 1));
		if(b == NULL) break;
		out[n] = strndup(a + 1, (size_t)(b - a - 1));
		n++;
		p = b + 1;
		if(n == 1){
			const char *next = memchr(p, '`', (size_t)(end - p));
			const char *dots = strstr(p, ELLIPSIS);
			if(dots && next && dots < next) *range_after_first = true;
		}
	}
	return n;
}

/* One table row: | names | defaults | meaning | */
static bool parse_row(const char *line, const char *eol, struct row *r)
{
	const char *c1 = memchr(line + 1, '|', (size_t)(eol - line - 1));
	const char *c2 = c1 ? memchr(c1 + 1, '|', (size_t)(eol - c1 - 1)) : NULL;
	char *names[MAXTOK];
	bool range, ignored;
	size_t n;

	if(c2 == NULL) return false;
	n = spans(line + 1, c1, names, MAXTOK, &range);
	r->n_names = 0;
	if(range && n == 2){
		long a = option_index(names[0]), b = option_index(names[1]);
		ck_assert_msg(a >= 0 && b >= a, "README line %d: range %s ... %s is not in the option table's order",
				r->line, names[0], names[1]);
		for(long i = a; i <= b; i++){
			struct ih_option_info info;
			ih_config_option_info((size_t)i, &info);
			r->names[r->n_names++] = strdup(info.name);
		}
		free(names[0]);
		free(names[1]);
	}else{
		for(size_t i = 0; i < n; i++) r->names[r->n_names++] = names[i];
	}
	r->n_defs = spans(c1 + 1, c2, r->defs, MAXTOK, &ignored);
	return r->n_names > 0;
}

static void free_row(struct row *r)
{
	for(size_t i = 0; i < r->n_names; i++) free(r->names[i]);
	for(size_t i = 0; i < r->n_defs; i++) free(r->defs[i]);
}

/* Appends to `bad` why option `k` (position k of row r) is not documented right. */
static void check_default(const struct row *r, size_t k, const struct ih_option_info *info, char *bad, size_t len)
{
	char why[512] = "";
	size_t listed = 0;

	if(info->deflist){
		while(info->deflist[listed]) listed++;
	}
	if(info->deflist && listed > 0){
		bool same = r->n_defs == listed;
		for(size_t i = 0; same && i < listed; i++) same = !strcmp(r->defs[i], info->deflist[i]);
		if(!same) snprintf(why, sizeof(why), "%s: README default is not its %zu default values in order", info->name, listed);
	}else if(info->def && info->def[0]){
		const char *doc = r->n_defs == 1 ? r->defs[0] : r->n_defs == r->n_names ? r->defs[k] : NULL;
		if(doc == NULL || strcmp(doc, info->def)){
			snprintf(why, sizeof(why), "%s: README default %s%s%s, table default `%s`", info->name,
					doc ? "`" : "", doc ? doc : "missing", doc ? "`" : "", info->def);
		}
	}else if(r->n_defs > 0){
		snprintf(why, sizeof(why), "%s: has no default, README shows `%s`", info->name, r->defs[0]);
	}
	if(why[0]){
		size_t used = strlen(bad);
		snprintf(bad + used, len - used, "\n  line %d: %s", r->line, why);
	}
}

START_TEST(every_option_documented_with_its_default)
{
	size_t count = ih_config_option_count();
	bool *seen = calloc(count, sizeof(bool));
	static char bad[16384];
	const char *p;
	bool in_table = false;
	int lineno = 0;

	load_readme();
	p = readme;
	bad[0] = '\0';
	while(*p){
		const char *eol = strchr(p, '\n');
		if(eol == NULL) eol = p + strlen(p);
		lineno++;
		if(!strncmp(p, TABLE_HEAD, strlen(TABLE_HEAD))){
			in_table = true;
		}else if(in_table && p[0] != '|'){
			in_table = false;
		}else if(in_table && strncmp(p, "|---", 4)){
			struct row r = {.line = lineno};
			if(parse_row(p, eol, &r)){
				for(size_t k = 0; k < r.n_names; k++){
					long i = option_index(r.names[k]);
					struct ih_option_info info;
					size_t used = strlen(bad);
					if(i < 0){
						snprintf(bad + used, sizeof(bad) - used, "\n  line %d: %s is not an option of core/config.c",
								lineno, r.names[k]);
						continue;
					}
					if(seen[i]){
						snprintf(bad + used, sizeof(bad) - used, "\n  line %d: %s documented twice", lineno, r.names[k]);
					}
					seen[i] = true;
					ih_config_option_info((size_t)i, &info);
					check_default(&r, k, &info, bad, sizeof(bad));
				}
			}
			free_row(&r);
		}
		p = *eol ? eol + 1 : eol;
	}
	for(size_t i = 0; i < count; i++){
		struct ih_option_info info;
		size_t used = strlen(bad);
		if(seen[i]) continue;
		ih_config_option_info(i, &info);
		snprintf(bad + used, sizeof(bad) - used, "\n  %s is missing from README.md's option tables", info.name);
	}
	free(seen);
	ck_assert_msg(bad[0] == '\0', "README.md option tables vs core/config.c:%s", bad);
}
END_TEST

START_TEST(acl_list_names_as_in_the_table)
{
	const char *start, *end;
	char word[64];
	size_t n = 0, w = 0;

	load_readme();
	/* iothubctl's usage, as the README shows it. */
	start = strstr(readme, "LIST is one of");
	end = start ? strstr(start, "acl show") : NULL;
	ck_assert_msg(start && end, "README.md: iothubctl usage without \"LIST is one of ... acl show\"");
	for(const char *p = start + strlen("LIST is one of"); p <= end; p++){
		if(p < end && ((*p >= 'a' && *p <= 'z') || *p == '_')){
			if(w + 1 < sizeof(word)) word[w++] = *p;
			continue;
		}
		if(w == 0) continue;
		word[w] = '\0';
		w = 0;
		if(p == end) break;
		ck_assert_msg(n < IH_ACL_LIST_COUNT, "README.md lists more ACL lists than core/acl_lists.h: %s", word);
		ck_assert_msg(!strcmp(word, ih_acl_list_names[n]), "README.md ACL list %zu is \"%s\", core/acl_lists.h says \"%s\"",
				n, word, ih_acl_list_names[n]);
		n++;
	}
	ck_assert_msg(n == IH_ACL_LIST_COUNT, "README.md lists %zu ACL lists, core/acl_lists.h %d", n, IH_ACL_LIST_COUNT);
}
END_TEST

START_TEST(acl_list_table)
{
	ck_assert_int_eq(IH_ACL_LIST_COUNT, 6);
	ck_assert_str_eq(ih_acl_list_names[IH_ACL_PUBLISH], "publish");
	ck_assert_str_eq(ih_acl_list_names[IH_ACL_DENY_SUBSCRIBE], "deny_subscribe");
	ck_assert_int_eq(ih_acl_list_find("pubsub"), IH_ACL_PUBSUB);
	ck_assert_int_eq(ih_acl_list_find("nope"), -1);
	ck_assert_int_eq(ih_acl_list_find(NULL), -1);
	ck_assert(!ih_acl_list_is_deny(IH_ACL_PUBSUB));
	ck_assert(ih_acl_list_is_deny(IH_ACL_DENY_PUBLISH));
	for(int i = 0; i < IH_ACL_LIST_COUNT; i++){
		char opt[64];
		snprintf(opt, sizeof(opt), "acl_%s", ih_acl_list_names[i]);
		ck_assert_msg(option_index(opt) >= 0, "no option %s", opt);
		snprintf(opt, sizeof(opt), "field_acl_%s", ih_acl_list_names[i]);
		ck_assert_msg(option_index(opt) >= 0, "no option %s", opt);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("readme");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_option_documented_with_its_default);
	tcase_add_test(tc, acl_list_names_as_in_the_table);
	tcase_add_test(tc, acl_list_table);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
