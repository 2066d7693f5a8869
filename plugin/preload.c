/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Restart preload glue: at start-up read the usernames the last run saved
 * and hand them to auth_preload(); every auth_preload_save_interval and at
 * shutdown save the usernames of the conn table (online devices and
 * offline persistent sessions), so a crash loses at most one interval.
 * At cleanup the table still holds every connection: Mosquitto 2.0.11
 * frees the contexts of connected clients without a DISCONNECT event
 * (see session_shutdown).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth/auth.h"
#include "auth/preload_state.h"
#include "core/errstr.h"
#include "plugin/conn.h"
#include "plugin/iothub.h"

struct name_list {
	const char **names;   /* borrowed from the conn table, or owned copies (owned) */
	size_t count, cap;
	bool owned;
};

static void add_borrowed(const char *username, void *ud)
{
	struct name_list *l = ud;

	if(l->count < l->cap) l->names[l->count++] = username;
}

static void add_copy(void *ud, const char *name, size_t len)
{
	struct name_list *l = ud;
	char *copy;

	if(l->count == l->cap){
		size_t cap = l->cap ? l->cap * 2 : 256;
		const char **n = mosquitto_realloc(l->names, cap * sizeof(*n));
		if(n == NULL) return;
		l->names = n;
		l->cap = cap;
	}
	copy = mosquitto_malloc(len + 1);
	if(copy == NULL) return;
	memcpy(copy, name, len + 1);
	l->names[l->count++] = copy; /* the list owns it */
}

static void list_free(struct name_list *l)
{
	for(size_t i = 0; l->owned && i < l->count; i++) mosquitto_free((char *)l->names[i]);
	mosquitto_free(l->names);
}

static void save(struct iothub *ih)
{
	struct name_list l = {NULL, 0, 0, false};
	char err[512];
	size_t max = ih->cfg.auth_preload_max;

	l.cap = conn_table_usernames(ih->conns);
	if(l.cap > max) l.cap = max;
	if(l.cap && (l.names = mosquitto_malloc(l.cap * sizeof(*l.names))) == NULL) return;
	conn_table_foreach_username(ih->conns, add_borrowed, &l);
	if(auth_preload_state_write(ih->preload_path, l.names, l.count, err, sizeof(err))){
		if(!ih->preload_save_failing){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: auth preload: cannot save the connected devices: %s", err);
		}
		ih->preload_save_failing = true;
	}else{
		if(ih->preload_save_failing){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: auth preload: saving the connected devices works again");
		}
		ih->preload_save_failing = false;
	}
	mosquitto_free(l.names);
}

int preload_start(struct iothub *ih)
{
	const struct ih_config *cfg = &ih->cfg;
	const char *dir = cfg->state_dir[0] ? cfg->state_dir : cfg->spool_dir;
	struct name_list l = {NULL, 0, 0, true};
	char err[512], *path;
	size_t plen;
	long n;

	if(cfg->auth_preload == IH_PRELOAD_OFF) return MOSQ_ERR_SUCCESS;
	if(dir[0] == '\0') dir = ".";
	plen = strlen(dir) + sizeof(AUTH_PRELOAD_STATE_FILE) + 1;
	path = mosquitto_malloc(plen);
	if(path == NULL) return MOSQ_ERR_NOMEM;
	snprintf(path, plen, "%s/%s", dir, AUTH_PRELOAD_STATE_FILE);
	ih->preload_path = path; /* owned by ih, freed in preload_stop */
	if(mkdir(dir, 0700) && errno != EEXIST){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: auth preload: cannot create %s: %s", dir, ih_strerror(errno));
	}
	n = auth_preload_state_read(path, cfg->username_max_len, add_copy, &l, err, sizeof(err));
	if(n == -2){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: auth preload: no state file %s yet, starting cold", path);
	}else if(n < 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: auth preload: ignoring state file %s (%s), starting cold",
				path, err);
	}
	if(n > 0 || cfg->auth_preload == IH_PRELOAD_ALL){
		mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: auth preload: loading %s (%zu devices connected at the last stop)",
				cfg->auth_preload == IH_PRELOAD_ALL ? "the whole registry" : "their records", l.count);
		auth_preload(ih->auth, l.names, l.count, cfg->auth_preload == IH_PRELOAD_ALL);
	}
	list_free(&l);
	ih->next_preload_save = 0;
	return MOSQ_ERR_SUCCESS;
}

void preload_tick(struct iothub *ih, time_t now)
{
	if(ih->preload_path == NULL) return;
	if(ih->next_preload_save == 0){
		ih->next_preload_save = now + ih->cfg.auth_preload_save_interval_s;
		return;
	}
	if(now < ih->next_preload_save) return;
	ih->next_preload_save = now + ih->cfg.auth_preload_save_interval_s;
	save(ih);
}

void preload_stop(struct iothub *ih)
{
	if(ih->preload_path == NULL) return;
	if(ih->conns) save(ih);
	mosquitto_free(ih->preload_path);
	ih->preload_path = NULL;
}
