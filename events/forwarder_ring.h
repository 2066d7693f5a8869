/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The forwarder's in-flight window: every event published and not yet
 * settled, in publish order. Confirms settle entries by delivery tag; the
 * settled prefix advances the spool's confirmed position. After a
 * reconnect every unsettled entry is published again, in order (go-back-N
 * that skips what RabbitMQ already confirmed). Forwarder thread only.
 */
#ifndef IH_EVENTS_FORWARDER_RING_H
#define IH_EVENTS_FORWARDER_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "events/spool.h"

enum events_fwd_state {
	EVENTS_FWD_PENDING = 0,   /* to be published (again) */
	EVENTS_FWD_SENT,          /* awaiting basic.ack / basic.nack */
	EVENTS_FWD_RETURNED,      /* basic.return seen, its ack still to come */
	EVENTS_FWD_FAILED,        /* nacked or returned: retry after reconnect */
	EVENTS_FWD_ACKED,
};

struct events_fwd_entry {
	const struct events_spool_rec_hdr *hdr;
	struct events_spool_rec_hdr *mem;   /* owned memory-queue item, or NULL */
	struct events_spool_pos end;        /* spool position after it (when !mem) */
	uint64_t tag;
	uint32_t sends;
	uint8_t state;
	bool recovered;
};

struct events_fwd_ring {
	struct events_fwd_entry *e;
	uint32_t mask;
	uint32_t head, count;
	uint32_t next_send;   /* relative to head: entries before it were sent in this connection */
};

struct events_fwd_settle {
	uint64_t acked, nacked, failed_returns;
};

int events_fwd_ring_init(struct events_fwd_ring *r, uint32_t window);
/* Frees the memory-queue items still held; returns how many. */
uint32_t events_fwd_ring_cleanup(struct events_fwd_ring *r);

static inline struct events_fwd_entry *events_fwd_ring_at(struct events_fwd_ring *r, uint32_t i)
{
	return &r->e[(r->head + i) & r->mask];
}

struct events_fwd_entry *events_fwd_ring_push(struct events_fwd_ring *r);
/* Apply basic.ack (ok) or basic.nack to tag (and everything before it when multiple). */
void events_fwd_ring_confirm(struct events_fwd_ring *r, uint64_t tag, bool multiple, bool ok, struct events_fwd_settle *out);
/* basic.return for the message with this id: true when found. */
bool events_fwd_ring_returned(struct events_fwd_ring *r, uint64_t id_hi, uint64_t id_lo);
/* Pop the acked prefix. Frees memory items; *pos gets the spool position
 * after the last popped spool record. Returns how many were popped. */
uint32_t events_fwd_ring_settle(struct events_fwd_ring *r, struct events_spool_pos *pos, bool *pos_moved);
/* Connection gone: everything not acked must be published again. */
void events_fwd_ring_rewind(struct events_fwd_ring *r);

#endif
