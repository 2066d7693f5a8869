/*
 * In-flight window bookkeeping (see forwarder_ring.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hooks/forwarder_ring.h"

int hooks_fwd_ring_init(struct hooks_fwd_ring *r, uint32_t window)
{
	uint32_t size = 1;

	while(size < window) size <<= 1;
	memset(r, 0, sizeof(*r));
	r->e = calloc(size, sizeof(*r->e));
	if(r->e == NULL) return -ENOMEM;
	r->mask = size - 1;
	return 0;
}

uint32_t hooks_fwd_ring_cleanup(struct hooks_fwd_ring *r)
{
	uint32_t lost = 0;

	for(uint32_t i = 0; r->e && i < r->count; i++){
		struct hooks_fwd_entry *e = hooks_fwd_ring_at(r, i);
		if(e->mem){
			if(e->state != HOOKS_FWD_ACKED) lost++;
			free(e->mem);
		}
	}
	free(r->e);
	memset(r, 0, sizeof(*r));
	return lost;
}

struct hooks_fwd_entry *hooks_fwd_ring_push(struct hooks_fwd_ring *r)
{
	struct hooks_fwd_entry *e = hooks_fwd_ring_at(r, r->count);

	memset(e, 0, sizeof(*e));
	r->count++;
	return e;
}

static bool in_flight(const struct hooks_fwd_entry *e)
{
	return e->state == HOOKS_FWD_SENT || e->state == HOOKS_FWD_RETURNED;
}

void hooks_fwd_ring_confirm(struct hooks_fwd_ring *r, uint64_t tag, bool multiple, bool ok, struct hooks_fwd_settle *out)
{
	/* Tags of in-flight entries grow along the ring: acks mostly hit near the head. */
	for(uint32_t i = 0; i < r->next_send; i++){
		struct hooks_fwd_entry *e = hooks_fwd_ring_at(r, i);

		if(!in_flight(e)) continue;
		if(e->tag > tag) break;
		if(!multiple && e->tag != tag) continue;
		if(!ok){
			e->state = HOOKS_FWD_FAILED;
			out->nacked++;
		}else if(e->state == HOOKS_FWD_RETURNED){
			/* A returned message is acked too: it still counts as failed. */
			e->state = HOOKS_FWD_FAILED;
			out->failed_returns++;
		}else{
			e->state = HOOKS_FWD_ACKED;
			out->acked++;
		}
		if(!multiple) break;
	}
}

bool hooks_fwd_ring_returned(struct hooks_fwd_ring *r, uint64_t id_hi, uint64_t id_lo)
{
	for(uint32_t i = 0; i < r->next_send; i++){
		struct hooks_fwd_entry *e = hooks_fwd_ring_at(r, i);

		if(e->state == HOOKS_FWD_SENT && e->hdr->id_hi == id_hi && e->hdr->id_lo == id_lo){
			e->state = HOOKS_FWD_RETURNED;
			return true;
		}
	}
	return false;
}

uint32_t hooks_fwd_ring_settle(struct hooks_fwd_ring *r, struct hooks_spool_pos *pos, bool *pos_moved)
{
	uint32_t n = 0;

	while(r->count){
		struct hooks_fwd_entry *e = hooks_fwd_ring_at(r, 0);

		if(e->state != HOOKS_FWD_ACKED) break;
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

void hooks_fwd_ring_rewind(struct hooks_fwd_ring *r)
{
	for(uint32_t i = 0; i < r->count; i++){
		struct hooks_fwd_entry *e = hooks_fwd_ring_at(r, i);
		if(e->state != HOOKS_FWD_ACKED) e->state = HOOKS_FWD_PENDING;
	}
	r->next_send = 0;
}
