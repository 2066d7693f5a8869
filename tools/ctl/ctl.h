/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * iothubctl: the command-line tool that manages devices in the registry the
 * plugin reads. This header holds what every part of the tool shares: exit
 * codes, the resolved options and the per-run context.
 *
 * The tool is one short-lived, single-threaded process per command.
 */
#ifndef IH_CTL_H
#define IH_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "core/config.h"

/* Exit codes: part of the CLI contract (README, docs/PROTOCOL.md §7). */
enum ctl_exit {
	CTL_OK = 0,
	CTL_ERR = 1,          /* anything else */
	CTL_USAGE = 2,        /* usage, invalid name, invalid filter, bad config */
	CTL_NOT_FOUND = 3,
	CTL_EXISTS = 4,
	CTL_MONGO = 5,        /* MongoDB unreachable or timed out */
	CTL_BROKER = 6,       /* control channel failed (the registry was still changed) */
};

enum ctl_secret_mode {
	CTL_SECRET_DEFAULT = 0,   /* register: hash; rotate-secret: as the device stored it */
	CTL_SECRET_CLEAR,
	CTL_SECRET_HASH,
};

/* mosquitto_passwd's default; see README ("Secrets") for why it stays. */
#define CTL_HASH_ITERATIONS_DEFAULT 101
#define CTL_TIMEOUT_MS_DEFAULT 3000
/* 32 URL-safe characters from OpenSSL's RNG: 192 bits. */
#define CTL_SECRET_CHARS 32
#define CTL_GENERATED_NAME_CHARS 16

struct ctl_opts {
	const char *mongo_uri;      /* --mongo-uri, or NULL */
	const char *mongo_db;       /* --mongo-db, or NULL */
	const char *config_path;    /* --config, or NULL */
	bool json;
	bool verbose;
	uint32_t timeout_ms;
	const char *broker;         /* --broker HOST:PORT, or NULL */
	const char *broker_user;
	const char *broker_pass;
	/* subcommand options */
	enum ctl_secret_mode secret_mode;
	int hash_iterations;
	bool superuser;
	const char *tags;           /* --tags a,b */
	const char *secret_file;    /* token --secret-file */
	const char *ttl;            /* token --ttl */
	const char *acl;            /* token --acl JSON */
	/* HTTP management API (publish, kick) */
	const char *api_url;        /* --api URL, or NULL ($IOTHUBCTL_API) */
	const char *api_key;        /* --api-key ID:SECRET, or NULL ($IOTHUBCTL_API_KEY) */
	int qos;                    /* publish --qos */
	bool retain;                /* publish --retain */
};

struct ctl_registry;

struct ctl {
	struct ctl_opts opt;
	struct ih_config cfg;       /* the plugin's options: collection and field names */
	bool cfg_parsed;
	const char *mongo_uri;      /* resolved: flag, env, config, default */
	const char *mongo_db;
	char broker_host[256];
	int broker_port;
	struct ctl_registry *reg;   /* opened by ctl_registry_get() */
};

/* A device name as given on the command line, checked and split. */
struct ctl_device {
	char username[512];
	char product[256];
	char device[256];
};

/* ---- ctl_conf.c ---- */
/* Collect the plugin_opt_* lines of a mosquitto.conf (following include_dir)
 * and parse them with the plugin's own option table. CTL_OK or CTL_USAGE. */
int ctl_conf_load(struct ctl *c, const char *path);

/* ---- ctl_names.c ---- */
int ctl_device_parse(const struct ctl *c, const char *arg, struct ctl_device *out);
int ctl_device_from_parts(const struct ctl *c, const char *product, const char *device, struct ctl_device *out);
int ctl_product_check(const char *product);
/* Split a comma-separated or argv tag list into `tags` (an array in the
 * given BSON document, key `key`), checking each. CTL_OK or CTL_USAGE. */
int ctl_tags_append(bson_t *doc, const char *key, char **tags, int ntags, const char *csv);

/* ---- ctl_filter.c ---- */
/* NULL when `filter` is a valid ACL filter, otherwise a static reason. */
const char *ctl_filter_check(const char *filter);

/* ---- ctl_common.c ---- */
/* Common start of a device subcommand: check the P/D argument (when `arg`
 * is not NULL), open the registry and, for writes, make sure the unique
 * indexes exist. CTL_OK or an exit code (error reported). */
int ctl_begin(struct ctl *c, const char *arg, bool write, struct ctl_device *dev, struct ctl_registry **reg);
/* Copy src[src_key] to dst[dst_key] when present. */
void ctl_copy_field(bson_t *dst, const char *dst_key, const bson_t *src, const char *src_key);
/* Open the registry on first use; CTL_OK or an exit code (error reported). */
int ctl_registry_get(struct ctl *c, struct ctl_registry **out);
/* Report a registry error with the right exit code; returns that code. */
int ctl_registry_fail(struct ctl *c, int rc, const struct ctl_device *dev);
/* After a registry write: tell the broker (when --broker is given) with
 * invalidateDevice, plus kickDevice when `kick`. Adds the outcome to
 * `result`. Returns CTL_OK or CTL_BROKER (warning already printed). */
int ctl_notify_broker(struct ctl *c, const char *username, bool kick, bson_t *result);
struct ctl_control_target;
void ctl_broker_target(const struct ctl *c, struct ctl_control_target *t);

/* ---- subcommands (ctl_cmd_*.c); each returns an exit code ---- */
int ctl_cmd_register(struct ctl *c, int argc, char **argv);
int ctl_cmd_list(struct ctl *c, int argc, char **argv);
int ctl_cmd_show(struct ctl *c, int argc, char **argv);
int ctl_cmd_suspend(struct ctl *c, int argc, char **argv);
int ctl_cmd_resume(struct ctl *c, int argc, char **argv);
int ctl_cmd_delete(struct ctl *c, int argc, char **argv);
int ctl_cmd_rotate(struct ctl *c, int argc, char **argv);
int ctl_cmd_tags(struct ctl *c, int argc, char **argv);
int ctl_cmd_acl(struct ctl *c, int argc, char **argv);
int ctl_cmd_stats(struct ctl *c, int argc, char **argv);
int ctl_cmd_token(struct ctl *c, int argc, char **argv);
int ctl_cmd_publish(struct ctl *c, int argc, char **argv);   /* ctl_cmd_api.c */
int ctl_cmd_kick(struct ctl *c, int argc, char **argv);

#endif
