/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * stats: ask the plugin for its counters over the control channel.
 */
#include <string.h>

#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_control.h"
#include "tools/ctl/ctl_output.h"

int ctl_cmd_stats(struct ctl *c, int argc, char **argv)
{
	struct ctl_control_cmd cmd;
	struct ctl_control_target t;
	char err[1024];
	int rc = CTL_OK;

	(void)argv;
	if(argc != 0) return out_fail(CTL_USAGE, NULL, "usage: iothubctl --broker HOST:PORT stats");
	if(c->opt.broker == NULL) return out_fail(CTL_USAGE, NULL, "stats needs --broker HOST:PORT");
	memset(&cmd, 0, sizeof(cmd));
	cmd.command = "getStats";
	ctl_broker_target(c, &t);
	if(ctl_control_run(&t, &cmd, 1, err, sizeof(err)) == 0){
		out_result(NULL, &cmd.data, NULL);
	}else{
		rc = out_fail(CTL_BROKER, NULL, "%s", err);
	}
	ctl_control_cleanup(&cmd, 1);
	return rc;
}
