/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * iothubctl entry point: options, configuration, dispatch.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>
#include <mosquitto.h>

#include "core/config.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"
#include "tools/ctl/ctl_registry.h"

#define CTL_VERSION "0.1.0"
#define USAGE_INDENT "                                 "

static const char usage_text[] =
"Usage: iothubctl [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Manage mosquitto-iothub devices in the MongoDB registry. Devices are named\n"
"ProductName/DeviceName (P/D).\n"
"\n"
"Commands:\n"
"  register P [D]                 register a device (D generated when omitted);\n"
"                                 prints its username and secret, once\n"
"  list [P]                       list devices, all or of one product\n"
"  show P/D                       status, tags, ACL (never the secret)\n"
"  suspend P/D                    refuse the device; with --broker also kick it\n"
"  resume P/D                     let the device connect again\n"
"  delete P/D                     delete the device and its ACL document\n"
"  rotate-secret P/D              issue a new secret (printed once); with --broker\n"
"                                 kick connections that used the old one\n"
"  tags set P/D [TAG...]          replace the tags (bumps tags_version)\n"
"  tags add|remove P/D TAG...     add or remove tags (bumps tags_version)\n"
"  acl add|remove LIST P/D FILTER change an ACL list; LIST is one of\n";
/* ... the list names (core/acl_lists.h), printed by usage(), then: */
static const char usage_tail[] =
"  acl show P/D                   the device's ACL lists\n"
"  stats                          the plugin's counters (needs --broker)\n"
"  token --secret-file F [--ttl 10s] [--acl JSON] USERNAME\n"
"                                 mint an HS256 JWT for a JWT client (claims\n"
"                                 username, exp = now + ttl, iat; --acl adds an\n"
"                                 EMQX 4.3 acl claim {\"pub\":[..],\"sub\":[..],\"all\":[..]});\n"
"                                 F holds plugin_opt_jwt_secret on its first line\n"
"  publish TOPIC PAYLOAD          publish through the HTTP API (needs --api, --api-key)\n"
"  kick CLIENTID                  disconnect a client through the HTTP API; its\n"
"                                 next CONNECT reads the registry\n"
"\n"
"Registry options:\n"
"  --mongo-uri URI       MongoDB URI; default $MONGO_URI, then plugin_opt_mongo_uri\n"
"                        of --config, then mongodb://127.0.0.1:27017\n"
"  --mongo-db DB         database; default plugin_opt_mongo_db of --config, then iothub\n"
"  --config FILE         a mosquitto.conf: its iothub plugin_opt_* lines set the\n"
"                        database, collections and field names\n"
"  --timeout MS          MongoDB and broker timeout in milliseconds (default 3000)\n"
"\n"
"Broker control channel ($CONTROL/iothub/v1), used after each change:\n"
"  --broker HOST:PORT    the broker running the plugin\n"
"  --broker-user USER    a superuser of the plugin\n"
"  --broker-pass PASS    its password (default $IOTHUBCTL_BROKER_PASS)\n"
"\n"
"HTTP management API (publish, kick):\n"
"  --api URL             the API's base URL, e.g. http://127.0.0.1:8081\n"
"                        (default $IOTHUBCTL_API)\n"
"  --api-key ID:SECRET   an http_api_key of the plugin (default $IOTHUBCTL_API_KEY)\n"
"  --qos N               publish: QoS 0, 1 or 2 (default 1)\n"
"  --retain              publish: set the retain flag\n"
"\n"
"register and rotate-secret:\n"
"  --clear-secret        store the secret in clear in `secret` (IotHub-compatible)\n"
"  --hash                store it as a $7$ PBKDF2-SHA512 hash in `password_hash`\n"
"                        (register's default; rotate-secret keeps the device's way)\n"
"  --hash-iterations N   PBKDF2 iterations, 1..1000000 (default 101)\n"
"register:\n"
"  --superuser           mark the device as a superuser (platform service clients)\n"
"  --tags TAG,TAG        initial tags\n"
"\n"
"Output:\n"
"  --json                one JSON object per result on stdout; errors as\n"
"                        {\"error\":...,\"code\":...}\n"
"  -v, --verbose         MongoDB driver and MQTT client messages on stderr\n"
"  -h, --help            this text\n"
"  --version             the version\n"
"\n"
"Exit codes: 0 ok, 1 other error, 2 usage or invalid name/filter, 3 device not\n"
"found (kick: client not connected), 4 device exists, 5 MongoDB unreachable or\n"
"timed out, 6 broker/control channel/HTTP API failure (the registry change was\n"
"still made).\n";

static void usage(void)
{
	size_t col = 0;

	fputs(usage_text, stdout);
	for(int i = 0; i < IH_ACL_LIST_COUNT; i++){
		const char *comma = i + 1 < IH_ACL_LIST_COUNT ? "," : "";
		size_t w = strlen(ih_acl_list_names[i]) + strlen(comma);

		if(i == 0 || col + 1 + w > 80){
			printf("%s" USAGE_INDENT, i ? "\n" : "");
			col = sizeof(USAGE_INDENT) - 1;
		}else{
			putchar(' ');
			col++;
		}
		printf("%s%s", ih_acl_list_names[i], comma);
		col += w;
	}
	putchar('\n');
	fputs(usage_tail, stdout);
}

enum {
	OPT_MONGO_URI = 1000, OPT_MONGO_DB, OPT_CONFIG, OPT_JSON, OPT_TIMEOUT, OPT_BROKER, OPT_BROKER_USER,
	OPT_BROKER_PASS, OPT_CLEAR, OPT_HASH, OPT_ITER, OPT_SUPERUSER, OPT_TAGS, OPT_VERSION,
	OPT_SECRET_FILE, OPT_TTL, OPT_ACL,
	OPT_API, OPT_API_KEY, OPT_QOS, OPT_RETAIN,
};

static const struct option long_opts[] = {
	{"mongo-uri", required_argument, NULL, OPT_MONGO_URI},
	{"mongo-db", required_argument, NULL, OPT_MONGO_DB},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"json", no_argument, NULL, OPT_JSON},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"broker", required_argument, NULL, OPT_BROKER},
	{"broker-user", required_argument, NULL, OPT_BROKER_USER},
	{"broker-pass", required_argument, NULL, OPT_BROKER_PASS},
	{"clear-secret", no_argument, NULL, OPT_CLEAR},
	{"hash", no_argument, NULL, OPT_HASH},
	{"hash-iterations", required_argument, NULL, OPT_ITER},
	{"superuser", no_argument, NULL, OPT_SUPERUSER},
	{"tags", required_argument, NULL, OPT_TAGS},
	{"secret-file", required_argument, NULL, OPT_SECRET_FILE},
	{"ttl", required_argument, NULL, OPT_TTL},
	{"acl", required_argument, NULL, OPT_ACL},
	{"api", required_argument, NULL, OPT_API},
	{"api-key", required_argument, NULL, OPT_API_KEY},
	{"qos", required_argument, NULL, OPT_QOS},
	{"retain", no_argument, NULL, OPT_RETAIN},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

struct subcommand {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
};

static const struct subcommand subcommands[] = {
	{"register", ctl_cmd_register},
	{"list", ctl_cmd_list},
	{"show", ctl_cmd_show},
	{"suspend", ctl_cmd_suspend},
	{"resume", ctl_cmd_resume},
	{"delete", ctl_cmd_delete},
	{"rotate-secret", ctl_cmd_rotate},
	{"tags", ctl_cmd_tags},
	{"acl", ctl_cmd_acl},
	{"stats", ctl_cmd_stats},
	{"token", ctl_cmd_token},
	{"publish", ctl_cmd_publish},
	{"kick", ctl_cmd_kick},
};

/* The driver's own log lines would clutter the one-line-per-result output;
 * its errors reach the user through the error messages instead. */
static void quiet_log(mongoc_log_level_t level, const char *domain, const char *message, void *ud)
{
	(void)level;
	(void)domain;
	(void)message;
	(void)ud;
}

/* HOST:PORT, [V6]:PORT or HOST (port 1883). */
static int parse_broker(struct ctl *c, const char *arg)
{
	const char *host = arg, *colon;
	size_t hlen;
	uint64_t port = 1883;

	if(arg[0] == '['){
		const char *close = strchr(arg, ']');
		if(close == NULL) return -1;
		host = arg + 1;
		hlen = (size_t)(close - host);
		colon = close[1] == ':' ? close + 1 : NULL;
		if(close[1] && !colon) return -1;
	}else{
		colon = strrchr(arg, ':');
		hlen = colon ? (size_t)(colon - arg) : strlen(arg);
	}
	if(colon && (ih_parse_uint(colon + 1, 65535, &port) || port == 0)) return -1;
	if(hlen == 0 || hlen >= sizeof(c->broker_host)) return -1;
	memcpy(c->broker_host, host, hlen);
	c->broker_host[hlen] = '\0';
	c->broker_port = (int)port;
	return 0;
}

static int parse_options(struct ctl *c, int argc, char **argv, bool *done)
{
	uint64_t v;
	int ch;

	*done = false;
	c->opt.timeout_ms = CTL_TIMEOUT_MS_DEFAULT;
	c->opt.hash_iterations = CTL_HASH_ITERATIONS_DEFAULT;
	c->opt.qos = 1;
	opterr = 0;
	while((ch = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1){
		switch(ch){
			case OPT_MONGO_URI: c->opt.mongo_uri = optarg; break;
			case OPT_MONGO_DB: c->opt.mongo_db = optarg; break;
			case OPT_CONFIG: c->opt.config_path = optarg; break;
			case OPT_JSON: c->opt.json = true; out_init(true); break;
			case OPT_TIMEOUT:
				if(ih_parse_uint(optarg, 600000, &v) || v == 0){
					return out_fail(CTL_USAGE, NULL, "--timeout: expected milliseconds, 1..600000");
				}
				c->opt.timeout_ms = (uint32_t)v;
				break;
			case OPT_BROKER:
				c->opt.broker = optarg;
				if(parse_broker(c, optarg)) return out_fail(CTL_USAGE, NULL, "--broker: expected HOST:PORT");
				break;
			case OPT_BROKER_USER: c->opt.broker_user = optarg; break;
			case OPT_BROKER_PASS: c->opt.broker_pass = optarg; break;
			case OPT_CLEAR: c->opt.secret_mode = CTL_SECRET_CLEAR; break;
			case OPT_HASH: c->opt.secret_mode = CTL_SECRET_HASH; break;
			case OPT_ITER:
				/* The plugin refuses hashes above 1000000 iterations. */
				if(ih_parse_uint(optarg, 1000000, &v) || v == 0){
					return out_fail(CTL_USAGE, NULL, "--hash-iterations: expected 1..1000000");
				}
				c->opt.hash_iterations = (int)v;
				break;
			case OPT_SUPERUSER: c->opt.superuser = true; break;
			case OPT_TAGS: c->opt.tags = optarg; break;
			case OPT_SECRET_FILE: c->opt.secret_file = optarg; break;
			case OPT_TTL: c->opt.ttl = optarg; break;
			case OPT_ACL: c->opt.acl = optarg; break;
			case OPT_API: c->opt.api_url = optarg; break;
			case OPT_API_KEY: c->opt.api_key = optarg; break;
			case OPT_QOS:
				if(ih_parse_uint(optarg, 2, &v)) return out_fail(CTL_USAGE, NULL, "--qos: expected 0, 1 or 2");
				c->opt.qos = (int)v;
				break;
			case OPT_RETAIN: c->opt.retain = true; break;
			case 'v': c->opt.verbose = true; break;
			case 'h':
				usage();
				*done = true;
				return CTL_OK;
			case OPT_VERSION:
				printf("iothubctl %s\n", CTL_VERSION);
				*done = true;
				return CTL_OK;
			default:
				return out_fail(CTL_USAGE, NULL, "unknown or incomplete option %s (see iothubctl --help)",
						argv[optind - 1]);
		}
	}
	return CTL_OK;
}

/* Flag, then environment, then --config, then the option table's default. */
static int resolve(struct ctl *c)
{
	const char *env = getenv("MONGO_URI");
	int rc = CTL_OK;

	if(c->opt.config_path){
		rc = ctl_conf_load(c, c->opt.config_path);
	}else{
		c->cfg_parsed = true;
		if(ih_config_parse(&c->cfg, NULL, 0) != MOSQ_ERR_SUCCESS) rc = out_fail(CTL_ERR, NULL, "out of memory");
	}
	if(rc != CTL_OK) return rc;
	c->mongo_uri = c->opt.mongo_uri ? c->opt.mongo_uri : (env && env[0]) ? env : c->cfg.mongo_uri;
	c->mongo_db = c->opt.mongo_db ? c->opt.mongo_db : c->cfg.mongo_db;
	if(c->mongo_db[0] == '\0') return out_fail(CTL_USAGE, NULL, "--mongo-db: empty database name");
	if(c->opt.broker_pass == NULL) c->opt.broker_pass = getenv("IOTHUBCTL_BROKER_PASS");
	if(c->opt.broker_pass && c->opt.broker_user == NULL){
		return out_fail(CTL_USAGE, NULL, "a broker password needs --broker-user");
	}
	return CTL_OK;
}

static int dispatch(struct ctl *c, int argc, char **argv)
{
	if(argc < 1) return out_fail(CTL_USAGE, NULL, "no command given (see iothubctl --help)");
	for(size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++){
		if(!strcmp(argv[0], subcommands[i].name)) return subcommands[i].fn(c, argc - 1, argv + 1);
	}
	return out_fail(CTL_USAGE, NULL, "unknown command \"%.64s\" (see iothubctl --help)", argv[0]);
}

int main(int argc, char **argv)
{
	struct ctl c;
	bool done = false;
	int rc;

	memset(&c, 0, sizeof(c));
	/* --json may come after a failing option: look for it first so even
	 * that failure is reported in the chosen format. */
	for(int i = 1; i < argc && strcmp(argv[i], "--"); i++){
		if(!strcmp(argv[i], "--json")) out_init(true);
	}
	mongoc_init();
	mosquitto_lib_init();
	rc = parse_options(&c, argc, argv, &done);
	if(rc != CTL_OK || done) goto cleanup;
	if(!c.opt.verbose) mongoc_log_set_handler(quiet_log, NULL);
	rc = resolve(&c);
	if(rc == CTL_OK) rc = dispatch(&c, argc - optind, argv + optind);
cleanup:
	reg_close(c.reg);
	if(c.cfg_parsed) ih_config_cleanup(&c.cfg);
	mosquitto_lib_cleanup();
	mongoc_cleanup();
	return rc;
}
