/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Glue shared by the subcommands: opening the registry, turning registry
 * errors into exit codes and messages, and telling the broker.
 */
#include <stdio.h>
#include <string.h>

#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_control.h"
#include "tools/ctl/ctl_output.h"
#include "tools/ctl/ctl_registry.h"

int ctl_registry_get(struct ctl *c, struct ctl_registry **out)
{
	char err[1024];
	enum reg_rc rc;

	if(c->reg == NULL){
		rc = reg_open(&c->reg, c->mongo_uri, c->mongo_db, &c->cfg, c->opt.timeout_ms, err, sizeof(err));
		if(rc != REG_OK) return out_fail(rc == REG_INVALID ? CTL_USAGE : CTL_ERR, NULL, "%s", err);
	}
	*out = c->reg;
	return CTL_OK;
}

int ctl_registry_fail(struct ctl *c, int rc, const struct ctl_device *dev)
{
	const char *who = dev ? dev->username : "?";

	switch((enum reg_rc)rc){
		case REG_OK: return CTL_OK;
		case REG_NOT_FOUND: return out_fail(CTL_NOT_FOUND, NULL, "device %s not found", who);
		case REG_EXISTS: return out_fail(CTL_EXISTS, NULL, "device %s exists", who);
		case REG_DOWN: return out_fail(CTL_MONGO, NULL, "%s", reg_error(c->reg));
		case REG_INVALID: return out_fail(CTL_USAGE, NULL, "%s", reg_error(c->reg));
		case REG_FAIL: break;
	}
	return out_fail(CTL_ERR, NULL, "%s", reg_error(c->reg));
}

void ctl_broker_target(const struct ctl *c, struct ctl_control_target *t)
{
	t->host = c->broker_host;
	t->port = c->broker_port;
	t->user = c->opt.broker_user;
	t->pass = c->opt.broker_pass;
	t->timeout_ms = c->opt.timeout_ms;
	t->verbose = c->opt.verbose;
}

int ctl_notify_broker(struct ctl *c, const char *username, bool kick, bson_t *result)
{
	struct ctl_control_cmd cmds[2];
	struct ctl_control_target t;
	size_t n = kick ? 2 : 1;
	char err[1024];
	int rc = CTL_OK;

	if(c->opt.broker == NULL) return CTL_OK;
	memset(cmds, 0, sizeof(cmds));
	cmds[0].command = "invalidateDevice";
	cmds[0].username = username;
	cmds[1].command = "kickDevice";
	cmds[1].username = username;
	ctl_broker_target(c, &t);
	if(ctl_control_run(&t, cmds, n, err, sizeof(err)) == 0){
		bson_t control;
		BSON_APPEND_DOCUMENT_BEGIN(result, "control", &control);
		for(size_t i = 0; i < n; i++) BSON_APPEND_DOCUMENT(&control, cmds[i].command, &cmds[i].data);
		bson_append_document_end(result, &control);
	}else{
		/* The registry is the source of truth and already changed: say so,
		 * and fail with the control channel's own exit code. */
		out_warn("%s; the registry was updated, and live connections will pick up the change "
				"at the plugin's next revalidation", err);
		if(out_json_mode()){
			BSON_APPEND_UTF8(result, "error", err);
			BSON_APPEND_UTF8(result, "code", out_code_name(CTL_BROKER));
		}
		rc = CTL_BROKER;
	}
	ctl_control_cleanup(cmds, n);
	return rc;
}

int ctl_begin(struct ctl *c, const char *arg, bool write, struct ctl_device *dev, struct ctl_registry **reg)
{
	int rc = CTL_OK;

	if(arg) rc = ctl_device_parse(c, arg, dev);
	if(rc == CTL_OK) rc = ctl_registry_get(c, reg);
	/* Every write re-asserts the unique indexes: they are what makes
	 * concurrent registrations safe, and someone may have dropped them. */
	if(rc == CTL_OK && write) rc = ctl_registry_fail(c, reg_ensure_indexes(*reg), dev);
	return rc;
}

void ctl_copy_field(bson_t *dst, const char *dst_key, const bson_t *src, const char *src_key)
{
	bson_iter_t it;

	if(bson_iter_init_find(&it, src, src_key)) bson_append_iter(dst, dst_key, -1, &it);
}
