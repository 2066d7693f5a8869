/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * In-flight window bookkeeping (see forwarder_ring.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "events/forwarder_ring.h"

int events_fwd_ring_init(struct events_fwd_ring *r, uint32_t window)
{
	uint32_t size = 1;

	while(size < window) size <<= 1;
	memset(r, 0, sizeof(*r));
	r->e = calloc(size, sizeof(*r->e));
	if(r->e == NULL) return -ENOMEM;
	r->mask = size - 1;
	return 0;
}

uint32_t events_fwd_ring_cleanup(struct events_fwd_ring *r)
{
	uint32_t lost = 0;

	for(uint32_t i = 0; r->e && i < r->count; i++){
		struct events_fwd_entry *e = events_fwd_ring_at(r, i);
		if(e->mem){
			if(e->state != EVENTS_FWD_ACKED) lost++;
			free(e->mem);
		}
	}
	free(r->e);
	memset(r, 0, sizeof(*r));
	return lost;
}

struct events_fwd_entry *events_fwd_ring_push(struct events_fwd_ring *r)
{
	struct events_fwd_entry *e = events_fwd_ring_at(r, r->count);

	memset(e, 0, sizeof(*e));
	r->count++;
	return e;
}

static bool in_flight(const struct events_fwd_entry *e)
{
	return e->state == EVENTS_FWD_SENT || e->state == EVENTS_FWD_RETURNED;
}

void events_fwd_ring_confirm(struct events_fwd_ring *r, uint64_t tag, bool multiple, bool ok, struct events_fwd_settle *out)
{
	/* Tags of in-flight entries grow along the ring: acks mostly hit near the head. */
	for(uint32_t i = 0; i < r->next_send; i++){
		struct events_fwd_entry *e = events_fwd_ring_at(r, i);

		if(!in_flight(e)) continue;
		if(e->tag > tag) break;
		if(!multiple && e->tag != tag) continue;
		if(!ok){
			e->state = EVENTS_FWD_FAILED;
			out->nacked++;
		}else if(e->state == EVENTS_FWD_RETURNED){
			/* A returned message is acked too: it still counts as failed. */
			e->state = EVENTS_FWD_FAILED;
			out->failed_returns++;
		}else{
			e->state = EVENTS_FWD_ACKED;
			out->acked++;
		}
		if(!multiple) break;
	}
}

bool events_fwd_ring_returned(struct events_fwd_ring *r, uint64_t id_hi, uint64_t id_lo)
{
	for(uint32_t i = 0; i < r->next_send; i++){
		struct events_fwd_entry *e = events_fwd_ring_at(r, i);

		if(e->state == EVENTS_FWD_SENT && e->hdr->id_hi == id_hi && e->hdr->id_lo == id_lo){
			e->state = EVENTS_FWD_RETURNED;
			return true;
		}
	}
	return false;
}

uint32_t events_fwd_ring_settle(struct events_fwd_ring *r, struct events_spool_pos *pos, bool *pos_moved)
{
	uint32_t n = 0;

	while(r->count){
		struct events_fwd_entry *e = events_fwd_ring_at(r, 0);

		if(e->state != EVENTS_FWD_ACKED) break;
		if(e->mem){
			free(e->mem); /* libc: allocated by the broker thread with malloc */
		}else{
			*pos = e->end;
			*pos_moved = true;
		}
		r->head++;
		r->count--;
		if(r->next_send) r->next_send--;
		n++;
	}
	return n;
}

void events_fwd_ring_rewind(struct events_fwd_ring *r)
{
	for(uint32_t i = 0; i < r->count; i++){
		struct events_fwd_entry *e = events_fwd_ring_at(r, i);
		if(e->state != EVENTS_FWD_ACKED) e->state = EVENTS_FWD_PENDING;
	}
	r->next_send = 0;
}
