/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The broker control channel: iothubctl's side of the plugin's
 * `$CONTROL/iothub/v1` protocol, in the style of mosquitto's dynamic
 * security plugin. One exchange = connect, subscribe to the response topic,
 * publish one request holding every command, wait for the responses whose
 * correlationData match, disconnect.
 */
#ifndef IH_CTL_CONTROL_H
#define IH_CTL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#define CTL_CONTROL_TOPIC "$CONTROL/iothub/v1"
#define CTL_CONTROL_RESPONSE_TOPIC "$CONTROL/iothub/v1/response"

struct ctl_control_cmd {
	const char *command;        /* invalidateDevice, kickDevice, getStats */
	const char *username;       /* NULL: no "username" member */
	char correlation[24];       /* filled by ctl_control_run */
	bool answered;
	bson_t data;                /* the response's "data" (empty if none) */
	char error[512];            /* the response's "error", or "" */
};

struct ctl_control_target {
	const char *host;
	int port;
	const char *user;
	const char *pass;
	uint32_t timeout_ms;        /* bounds the whole exchange */
	bool verbose;
};

/* Run one exchange. 0 when every command was answered without error;
 * otherwise -1 and a message in err. Always call ctl_control_cleanup. */
int ctl_control_run(const struct ctl_control_target *t, struct ctl_control_cmd *cmds, size_t n,
		char *err, size_t errlen);
void ctl_control_cleanup(struct ctl_control_cmd *cmds, size_t n);

#endif
