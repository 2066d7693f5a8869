/* Registration of the broker callbacks (plugin/callbacks.c). */
#ifndef IH_CALLBACKS_H
#define IH_CALLBACKS_H

struct iothub;

int callbacks_register(struct iothub *ih);
void callbacks_unregister(struct iothub *ih);

#endif
