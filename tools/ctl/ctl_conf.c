/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * --config FILE: read the plugin's options from the broker's own
 * mosquitto.conf, so the tool and the plugin agree on the database,
 * collections and field names without the operator repeating them.
 *
 * The reader follows mosquitto 2.0's rules (src/conf.c): lines starting
 * with '#' are comments, the key ends at the first space, the value is the
 * rest of the line after blanks; `plugin_opt_*` / `auth_opt_*` lines belong
 * to the last `plugin` / `auth_plugin` line of the same file; `include_dir`
 * in the main file reads the DIR/NAME.conf files in sorted order.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"

struct conf_block {
	char *plugin_path;
	struct mosquitto_opt *opts;
	int count;
};

struct conf_state {
	struct conf_block *blocks;
	size_t nblocks;
};

static int block_add(struct conf_state *st, const char *path)
{
	struct conf_block *b = realloc(st->blocks, (st->nblocks + 1) * sizeof(*b));

	if(b == NULL) return -1;
	st->blocks = b;
	b = &st->blocks[st->nblocks];
	memset(b, 0, sizeof(*b));
	b->plugin_path = strdup(path);
	if(b->plugin_path == NULL) return -1;
	st->nblocks++;
	return 0;
}

static int opt_add(struct conf_block *b, const char *key, const char *value)
{
	struct mosquitto_opt *o = realloc(b->opts, ((size_t)b->count + 1) * sizeof(*o));

	if(o == NULL) return -1;
	b->opts = o;
	o[b->count].key = strdup(key);
	o[b->count].value = strdup(value);
	b->count++;   /* counted even on strdup failure, so cleanup frees what exists */
	return o[b->count - 1].key && o[b->count - 1].value ? 0 : -1;
}

static void state_free(struct conf_state *st)
{
	for(size_t i = 0; i < st->nblocks; i++){
		for(int j = 0; j < st->blocks[i].count; j++){
			free(st->blocks[i].opts[j].key);
			free(st->blocks[i].opts[j].value);
		}
		free(st->blocks[i].opts);
		free(st->blocks[i].plugin_path);
	}
	free(st->blocks);
}

static int read_file(struct conf_state *st, const char *path, int level);

static int dot_conf(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return n > 5 && !strcmp(e->d_name + n - 5, ".conf");
}

static int read_dir(struct conf_state *st, const char *dir, int level)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, dot_conf, alphasort);
	int rc = 0;

	if(n < 0){
		return out_fail(CTL_USAGE, NULL, "config: include_dir %s: %s", dir, strerror(errno));
	}
	for(int i = 0; i < n; i++){
		char path[4096];
		if(rc == 0){
			snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
			rc = read_file(st, path, level + 1);
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

/* One line: CR/LF already stripped. Returns 0 or an exit code. */
static int read_line(struct conf_state *st, char *line, int level, long *cur,
		const char *path, int lineno)
{
	char *key = line, *value;
	bool is_opt;

	while(*key == ' ') key++;   /* strtok(" ") in mosquitto skips leading spaces */
	if(line[0] == '#' || *key == '\0') return 0;
	value = key + strcspn(key, " ");
	if(*value){
		*value++ = '\0';
		while(*value == ' ' || *value == '\t') value++;
	}
	if(!strcmp(key, "plugin") || !strcmp(key, "auth_plugin")){
		if(block_add(st, value)) return out_fail(CTL_ERR, NULL, "out of memory");
		*cur = (long)st->nblocks - 1;
		return 0;
	}
	if(!strcmp(key, "include_dir") && level == 0 && *value){
		/* Blocks in included files are separate, as in mosquitto. */
		return read_dir(st, value, level);
	}
	is_opt = !strncmp(key, "plugin_opt_", 11) || !strncmp(key, "auth_opt_", 9);
	if(!is_opt || *value == '\0') return 0;
	if(*cur < 0){
		return out_fail(CTL_USAGE, NULL, "config: %s:%d: %s without a plugin line", path, lineno, key);
	}
	if(opt_add(&st->blocks[*cur], key + (key[0] == 'p' ? 11 : 9), value)) return out_fail(CTL_ERR, NULL, "out of memory");
	return 0;
}

static int read_file(struct conf_state *st, const char *path, int level)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;
	long cur = -1;   /* index, not pointer: blocks is realloc'ed */

	if(f == NULL){
		return out_fail(CTL_USAGE, NULL, "config: cannot read %s: %s", path, strerror(errno));
	}
	while(rc == 0 && (n = getline(&line, &cap, f)) >= 0){
		lineno++;
		while(n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
		rc = read_line(st, line, level, &cur, path, lineno);
	}
	free(line);
	fclose(f);
	return rc;
}

/* The block of the iothub plugin: the one whose path names it, else the
 * only plugin of the file. */
static const struct conf_block *pick_block(const struct conf_state *st)
{
	const struct conf_block *found = NULL;

	for(size_t i = 0; i < st->nblocks; i++){
		const char *base = strrchr(st->blocks[i].plugin_path, '/');
		base = base ? base + 1 : st->blocks[i].plugin_path;
		if(strstr(base, "iothub")) found = &st->blocks[i];
	}
	if(found == NULL && st->nblocks == 1) found = &st->blocks[0];
	return found;
}

int ctl_conf_load(struct ctl *c, const char *path)
{
	struct conf_state st = {NULL, 0};
	const struct conf_block *b;
	int rc = read_file(&st, path, 0);

	if(rc) goto done;
	b = pick_block(&st);
	if(b == NULL && st.nblocks > 0){
		rc = out_fail(CTL_USAGE, NULL, "config: %s has several plugins and none named *iothub*", path);
		goto done;
	}
	if(c->cfg_parsed) ih_config_cleanup(&c->cfg);
	c->cfg_parsed = true;   /* parse leaves cfg owning its allocations even on failure */
	if(ih_config_parse(&c->cfg, b ? b->opts : NULL, b ? b->count : 0) != MOSQ_ERR_SUCCESS){
		rc = out_fail(CTL_USAGE, NULL, "config: %s: invalid plugin options (see above)", path);
	}
done:
	state_free(&st);
	return rc;
}
