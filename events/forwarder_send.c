/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The forwarder's publishing (see forwarder_send.h): what goes out in a
 * round, in which order, and how: one hand-encoded batch per round over
 * plain TCP (events/amqp_batch.h), rabbitmq-c's amqp_basic_publish over
 * TLS. Forwarder thread only.
 */
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "events/amqp_batch.h"
#include "events/event_encode.h"
#include "events/event_queue.h"
#include "events/event_stats.h"
#include "events/forwarder.h"
#include "events/forwarder_send.h"
#include "core/clock.h"

static const char *const content_types[2] = {"application/bson", "application/json"};
#define APP_ID "mosquitto-iothub"

/* The entry is on its way (sent, or queued in the batch that goes next). */
static void mark_sent(struct events_fwd *f, struct events_fwd_entry *e)
{
	e->tag = ++f->next_tag;
	e->state = EVENTS_FWD_SENT;
	e->sends++;
	f->batch_published++;
	if(e->sends > 1 || e->recovered) f->batch_redelivered++;
}

/* Counted once they are out, so a batch lost with its connection is not. */
static void count_sent(struct events_fwd *f)
{
	if(f->batch_published) atomic_fetch_add_explicit(&f->ctr->published, f->batch_published, memory_order_relaxed);
	if(f->batch_redelivered) atomic_fetch_add_explicit(&f->ctr->redelivered, f->batch_redelivered, memory_order_relaxed);
	f->batch_published = f->batch_redelivered = 0;
}

/* rabbitmq-c's way: five send()s per event. amqps:// and messages too
 * large for a batch. */
static int publish(struct events_fwd *f, struct events_fwd_entry *e)
{
	const struct events_spool_rec_hdr *h = e->hdr;
	const char *rk = events_routing_key((enum events_type)h->type);
	amqp_basic_properties_t p;
	char id[EVENTS_ID_LEN + 1];
	int rc;

	/* The same properties as the batch's kinds (events_fwd_send_kinds). */
	events_id_format(id, h->id_hi, h->id_lo);
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG
		| AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG;
	p.content_type = amqp_cstring_bytes(content_types[(h->flags & EVENTS_SPOOL_F_JSON) ? 1 : 0]);
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p.message_id.bytes = id;
	p.message_id.len = EVENTS_ID_LEN;
	p.timestamp = (uint64_t)(h->at_ms / 1000);
	p.type = amqp_cstring_bytes(rk);
	p.app_id = amqp_cstring_bytes(APP_ID);

	events_amqp_watchdog_arm(&f->wd, ih_mono_ms(), f->timeout_ms);
	/* mandatory: an unroutable event comes back as basic.return instead of vanishing */
	rc = amqp_basic_publish(f->conn, EVENTS_AMQP_CHANNEL, amqp_cstring_bytes(f->target.exchange),
			amqp_cstring_bytes(rk), 1, 0, &p, (amqp_bytes_t){h->len, (void *)(h + 1)});
	events_amqp_watchdog_disarm(&f->wd);
	if(rc != AMQP_STATUS_OK){
		char err[256];
		snprintf(err, sizeof(err), "publish: %s%s", amqp_error_string2(rc),
				events_amqp_watchdog_fired(&f->wd) ? " (timed out)" : "");
		events_fwd_drop_connection(f, err, false);
		return -1;
	}
	mark_sent(f, e);
	count_sent(f);
	return 0;
}

/* Next event: the degraded-mode memory queue first, because those are the
 * events a crash would lose, then the spool. */
static bool take_next(struct events_fwd *f, struct events_fwd_entry *e)
{
	struct events_spool_rec rec;
	struct events_spool_rec_hdr *m;

	if((m = events_queue_pop(f->memq)) != NULL){
		e->hdr = m;
		e->mem = m;
		return true;
	}
	if(events_spool_next(f->spool, &f->rd, &rec)){
		e->hdr = rec.hdr;
		e->end = rec.end;
		e->recovered = rec.recovered;
		return true;
	}
	return false;
}

/*
 * The library path (amqps://) sends every publish as its own TCP segment
 * (five send()s, the last without MSG_MORE). From the second event of a
 * batch on, the socket is corked until the batch is out, so a batch leaves
 * in as few segments as fit: on loopback the sender's thread also pays for
 * the receiving side's TCP processing, per segment.
 */
static void set_cork(struct events_fwd *f, int on)
{
	int fd = events_amqp_fd(f->conn);

	/* Best effort: an uncorkable socket just sends more segments. */
	if(fd >= 0) (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

/* The batch's message kind of a record: its type (0: unknown), its format. */
static unsigned batch_kind(const struct events_spool_rec_hdr *h)
{
	unsigned t = h->type >= EVENTS_CONNECTED && h->type <= EVENTS_PUBLISH ? h->type : 0;

	return t * 2 + ((h->flags & EVENTS_SPOOL_F_JSON) ? 1 : 0);
}

/* Encode the kinds once: what publish() sets for every event but the id
 * and the timestamp. */
void events_fwd_send_kinds(struct events_fwd *f)
{
	for(unsigned t = 0; t <= EVENTS_PUBLISH; t++){
		for(unsigned json = 0; json < 2; json++){
			struct events_amqp_kind_def d;
			d.exchange = f->target.exchange;
			d.routing_key = events_routing_key((enum events_type)t);
			d.content_type = content_types[json];
			d.type = d.routing_key;
			d.app_id = APP_ID;
			d.message_id_len = EVENTS_ID_LEN;
			/* A name too long for AMQP leaves the kind unset: such an
			 * event takes rabbitmq-c's path, which reports the error. */
			(void)events_amqp_batch_kind(&f->batch, t * 2 + json, &d);
		}
	}
}

/* Write the batch out. `more`: the rest of this round follows at once. */
static int flush_batch(struct events_fwd *f, bool more)
{
	char err[256];

	if(f->batch.count == 0) return 0;
	if(events_amqp_batch_send(&f->batch, events_amqp_fd(f->conn), f->timeout_ms, more, err, sizeof(err))){
		/* Not out, or not known to be: the replay after the reconnect
		 * counts them, not this batch. */
		f->batch_published = f->batch_redelivered = 0;
		events_fwd_drop_connection(f, err, false);
		return -1;
	}
	count_sent(f);
	return 0;
}

/* Plain TCP: frames of the whole round go into one batch, written with
 * one sendmsg (events/amqp_batch.h); TLS: rabbitmq-c, corked. */
static int send_entry(struct events_fwd *f, struct events_fwd_entry *e, int *sent)
{
	const struct events_spool_rec_hdr *h;
	char id[EVENTS_ID_LEN + 1];
	unsigned idx;
	int rc;

	if(f->target.ci.ssl){
		if(*sent == 1) set_cork(f, 1);
		if(publish(f, e)) return -1;   /* the connection is gone, cork and all */
		(*sent)++;
		return 0;
	}
	h = e->hdr;
	events_id_format(id, h->id_hi, h->id_lo);
	idx = batch_kind(h);
	rc = events_amqp_batch_add(&f->batch, idx, id, (uint64_t)(h->at_ms / 1000), h + 1, h->len);
	if(rc > 0){
		if(flush_batch(f, true)) return -1;
		rc = events_amqp_batch_add(&f->batch, idx, id, (uint64_t)(h->at_ms / 1000), h + 1, h->len);
	}
	if(rc < 0){
		/* Too large for any batch: rabbitmq-c sends it, after the queued
		 * ones, so the order (and the delivery tags) stay the same. */
		if(flush_batch(f, true) || publish(f, e)) return -1;
	}else{
		mark_sent(f, e);
	}
	(*sent)++;
	return 0;
}

/* Publish retries first, then new events, up to the window. <0: connection lost. */
int events_fwd_fill_and_send(struct events_fwd *f)
{
	struct events_fwd_ring *r = &f->ring;
	int sent = 0;

	while(r->next_send < r->count){
		struct events_fwd_entry *e = events_fwd_ring_at(r, r->next_send);
		if(e->state == EVENTS_FWD_PENDING && send_entry(f, e, &sent)) return -1;
		r->next_send++;
	}
	while(r->count <= r->mask && r->count < f->window){
		struct events_fwd_entry tmp;

		memset(&tmp, 0, sizeof(tmp));
		if(!take_next(f, &tmp)) break;
		*events_fwd_ring_push(r) = tmp;
		if(send_entry(f, events_fwd_ring_at(r, r->count - 1), &sent)) return -1;
		r->next_send = r->count;
	}
	if(flush_batch(f, false)) return -1;
	if(sent > 1 && f->target.ci.ssl) set_cork(f, 0);   /* uncorking sends what is held */
	return sent;
}
