/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * MOSQ_EVT_TICK (plugin/tick.c). Only the callback registration includes
 * this: tick calls down into the other plugin modules, never the reverse.
 */
#ifndef IH_PLUGIN_TICK_H
#define IH_PLUGIN_TICK_H

struct iothub;

void tick_run(struct iothub *ih);

#endif
