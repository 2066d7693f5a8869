/*
 * The forwarder's in-flight window: every event published and not yet
 * settled, in publish order. Confirms settle entries by delivery tag; the
 * settled prefix advances the spool's confirmed position. After a
 * reconnect every unsettled entry is published again, in order (go-back-N
 * that skips what RabbitMQ already confirmed). Forwarder thread only.
 */
#ifndef HOOKS_FORWARDER_RING_H
#define HOOKS_FORWARDER_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "hooks/spool.h"

enum hooks_fwd_state {
	HOOKS_FWD_PENDING = 0,   /* to be published (again) */
	HOOKS_FWD_SENT,          /* awaiting basic.ack / basic.nack */
	HOOKS_FWD_RETURNED,      /* basic.return seen, its ack still to come */
	HOOKS_FWD_FAILED,        /* nacked or returned: retry after reconnect */
	HOOKS_FWD_ACKED,
};

struct hooks_fwd_entry {
	const struct hooks_spool_rec_hdr *hdr;
	struct hooks_spool_rec_hdr *mem;   /* owned memory-queue item, or NULL */
	struct hooks_spool_pos end;        /* spool position after it (when !mem) */
	uint64_t tag;
	uint32_t sends;
	uint8_t state;
	bool recovered;
};

struct hooks_fwd_ring {
	struct hooks_fwd_entry *e;
	uint32_t mask;
	uint32_t head, count;
	uint32_t next_send;   /* relative to head: entries before it were sent in this connection */
};

struct hooks_fwd_settle {
	uint64_t acked, nacked, failed_returns;
};

int hooks_fwd_ring_init(struct hooks_fwd_ring *r, uint32_t window);
/* Frees the memory-queue items still held; returns how many. */
uint32_t hooks_fwd_ring_cleanup(struct hooks_fwd_ring *r);

static inline struct hooks_fwd_entry *hooks_fwd_ring_at(struct hooks_fwd_ring *r, uint32_t i)
{
	return &r->e[(r->head + i) & r->mask];
}

struct hooks_fwd_entry *hooks_fwd_ring_push(struct hooks_fwd_ring *r);
/* Apply basic.ack (ok) or basic.nack to tag (and everything before it when multiple). */
void hooks_fwd_ring_confirm(struct hooks_fwd_ring *r, uint64_t tag, bool multiple, bool ok, struct hooks_fwd_settle *out);
/* basic.return for the message with this id: true when found. */
bool hooks_fwd_ring_returned(struct hooks_fwd_ring *r, uint64_t id_hi, uint64_t id_lo);
/* Pop the acked prefix. Frees memory items; *pos gets the spool position
 * after the last popped spool record. Returns how many were popped. */
uint32_t hooks_fwd_ring_settle(struct hooks_fwd_ring *r, struct hooks_spool_pos *pos, bool *pos_moved);
/* Connection gone: everything not acked must be published again. */
void hooks_fwd_ring_rewind(struct hooks_fwd_ring *r);

#endif
