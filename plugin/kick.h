/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The kick queue. A kick re-enters our DISCONNECT callback, so whoever
 * decides one (the ACL check, a control command, a registry refresh) queues
 * it here, and the next MOSQ_EVT_TICK performs it from a detached list,
 * outside any client's callback. Broker thread only.
 */
#ifndef IH_PLUGIN_KICK_H
#define IH_PLUGIN_KICK_H

#include <stdbool.h>

struct iothub;

/* A kick the broker thread performs at the next TICK. */
struct ih_kick {
	struct ih_kick *next;
	char *name;                 /* owned: a username or a client id */
	bool by_username;
	const char *reason;         /* static string, becomes the event's reason */
};

/* Queue a kick of every connection of username `name` (by_username) or of
 * client id `name`; a kick already queued for it is kept. `reason` must be
 * a static string. Out of memory drops the kick (logged). */
void kick_queue(struct iothub *ih, const char *name, bool by_username, const char *reason);
/* TICK: perform and free every queued kick. */
void kick_run(struct iothub *ih);
/* Free the queue without kicking (plugin cleanup). */
void kick_free(struct iothub *ih);

#endif
