/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The forwarder thread's publishing, shared by forwarder.c (the loop) and
 * forwarder_send.c (the rounds). Private to those two files.
 */
#ifndef IH_EVENTS_FORWARDER_SEND_H
#define IH_EVENTS_FORWARDER_SEND_H

#include <stdbool.h>

struct events_fwd;

/* Encode the batch's message kinds (events_fwd_init). */
void events_fwd_send_kinds(struct events_fwd *f);
/* Publish retries first, then new events, up to the window: how many
 * went out, or <0 when the connection was lost (and dropped). */
int events_fwd_fill_and_send(struct events_fwd *f);
/* forwarder.c: forget the connection (politely when `graceful`), rewind
 * the window and schedule the reconnect. */
void events_fwd_drop_connection(struct events_fwd *f, const char *why, bool graceful);

#endif
