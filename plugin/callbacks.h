/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* Registration of the broker callbacks (plugin/callbacks.c). */
#ifndef IH_PLUGIN_CALLBACKS_H
#define IH_PLUGIN_CALLBACKS_H

struct iothub;

int callbacks_register(struct iothub *ih);
void callbacks_unregister(struct iothub *ih);

#endif
