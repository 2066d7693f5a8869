/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The events boundary (see events.h): encode on the broker thread straight
 * into the spool, fall back to a bounded memory queue when the spool cannot
 * take a record, drop only when that is full too. The forwarder thread does
 * everything that talks to RabbitMQ.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "acl/topic.h"
#include "events/event_encode.h"
#include "events/event_queue.h"
#include "events/event_stats.h"
#include "events/events.h"
#include "events/forwarder.h"
#include "events/spool.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/errstr.h"
#include "core/logq.h"

#define DROP_LOG_S 10          /* drops are summarised at most this often */
#define STOP_DRAIN_MAX_MS 2000 /* broker shutdown waits at most this for confirms */
#define SCRATCH_BYTES 2048     /* events up to this size are encoded once, then copied */

/* An event_publish_topic, compiled for the test every publish runs. */
struct topic_sel {
	size_t lit;       /* length of its literal prefix (literal_prefix) */
	unsigned plus;    /* > 0: the rest is exactly this many "+" levels */
};

struct events {
	const struct ih_config *cfg;   /* outlives us: the glue cleans events up first */
	struct ih_logq log;
	struct events_spool *spool;
	struct events_queue memq;
	struct events_counters ctr;
	struct events_fwd fwd;
	bool log_ready, fwd_ready;
	uint64_t boot_id;
	uint64_t next_id;
	char id_text[EVENTS_ID_LEN + 1]; /* boot_id's 16 digits, then the last counter's */
	bool json;
	struct topic_sel *topic_sel;   /* per event_publish_topic, compiled */
	/* broker thread state */
	bool degraded;
	/* Wake-ups are batched per broker loop iteration (see wake()). */
	bool tick_driven;              /* events_tick has run: it will deliver pending wake-ups */
	bool wake_pending;             /* a record was handed over since the last wake-up */
	uint64_t drops_unlogged;
	time_t last_drop_log_s;
	time_t last_stats_s;
	int prev_connected, prev_blocked;
};

static uint64_t make_boot_id(void)
{
	uint64_t v = 0;
	struct timespec ts;

	/* Random, so ids from different nodes and restarts never collide. */
	if(getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v) && v) return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */

/* Length of the filter's leading whole literal levels ("upload_data/" of
 * "upload_data/+/+/+/+"; all of a filter without wildcards; "x" of "x/#",
 * which matches "x" too): topics that do not start with it are rejected
 * with a compare, and the match resumes after it. */
static size_t literal_prefix(const char *f)
{
	size_t lit = 0;

	for(const char *p = f;; p++){
		if((p == f || p[-1] == '/') && *p == '+') return lit;
		if((p == f || p[-1] == '/') && *p == '#') return lit ? lit - 1 : 0;
		if(*p == '\0') return (size_t)(p - f);
		if(*p == '/') lit = (size_t)(p - f) + 1;
	}
}

static int compile_topics(struct events *ev, const struct ih_config *cfg)
{
	const struct ih_strlist *l = &cfg->event_publish_topics;

	for(size_t i = 0; i < l->count; i++){
		if(!acl_filter_valid(l->items[i])){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option event_publish_topic: invalid topic filter \"%s\"",
					l->items[i]);
			return MOSQ_ERR_INVAL;
		}
	}
	ev->topic_sel = mosquitto_calloc(l->count ? l->count : 1, sizeof(*ev->topic_sel));
	if(ev->topic_sel == NULL) return MOSQ_ERR_NOMEM;
	for(size_t i = 0; i < l->count; i++){
		ev->topic_sel[i].lit = literal_prefix(l->items[i]);
		/* The default filters ("upload_data/+/+/+/+", ...) have that
		 * shape: counting levels costs a third of the general walk. */
		ev->topic_sel[i].plus = acl_topic_plus_levels(l->items[i], ev->topic_sel[i].lit);
	}
	return MOSQ_ERR_SUCCESS;
}

int events_init(struct events **out, const struct ih_config *cfg)
{
	struct events *ev;
	struct events_spool_opts so;
	char err[512];
	int rc = MOSQ_ERR_SUCCESS;

	*out = NULL;
	if(cfg->amqp_uri == NULL){
		mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: events: amqp_uri not set, event forwarding is off");
		return MOSQ_ERR_SUCCESS;
	}
	ev = mosquitto_calloc(1, sizeof(*ev));
	if(ev == NULL) return MOSQ_ERR_NOMEM;
	ev->cfg = cfg;
	ev->json = cfg->event_format == IH_FORMAT_JSON;
	ev->boot_id = make_boot_id();
	events_id_format(ev->id_text, ev->boot_id, 0);
	ev->last_stats_s = ih_mono_s();
	rc = compile_topics(ev, cfg);
	if(rc) goto fail;
	if(ih_logq_init(&ev->log, "the event forwarder")){
		rc = MOSQ_ERR_UNKNOWN;
		goto fail;
	}
	ev->log_ready = true;
	if(events_fwd_init(&ev->fwd, cfg, NULL, &ev->memq, &ev->log, &ev->ctr, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: events: %s", err);
		rc = MOSQ_ERR_INVAL;
		goto fail;
	}
	ev->fwd_ready = true;
	memset(&so, 0, sizeof(so));
	so.dir = cfg->spool_dir;
	so.max_bytes = cfg->spool_max_bytes;
	so.segment_bytes = cfg->spool_segment_bytes;
	so.boot_id = ev->boot_id;
	so.log = &ev->log;
	if(events_spool_open(&ev->spool, &so)){
		rc = MOSQ_ERR_INVAL;
		goto fail;
	}
	ev->fwd.spool = ev->spool;
	if(events_queue_init(&ev->memq, cfg->queue_max_events)){
		rc = MOSQ_ERR_NOMEM;
		goto fail;
	}
	if(events_fwd_start(&ev->fwd)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: events: cannot start the forwarder thread");
		rc = MOSQ_ERR_UNKNOWN;
		goto fail;
	}
	ih_logq_drain(&ev->log);
	mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: events: forwarding to %s:%d (exchange %s, %s), spool %s",
			ev->fwd.target.ci.host, ev->fwd.target.ci.port, cfg->amqp_exchange, ev->json ? "json" : "bson",
			cfg->spool_dir);
	*out = ev;
	return MOSQ_ERR_SUCCESS;
fail:
	events_cleanup(ev);
	return rc;
}

void events_cleanup(struct events *ev)
{
	uint64_t lost;

	if(ev == NULL) return;
	if(ev->fwd_ready){
		uint32_t drain = ev->cfg->amqp_timeout_ms < STOP_DRAIN_MAX_MS ? ev->cfg->amqp_timeout_ms : STOP_DRAIN_MAX_MS;
		events_fwd_stop(&ev->fwd, drain);
	}
	if(ev->spool){
		/* The forwarder has stopped: the broker thread owns the reader side now. */
		events_spool_release(ev->spool);
		events_spool_checkpoint(ev->spool);
	}
	if(ev->fwd_ready) events_fwd_cleanup(&ev->fwd);
	lost = events_queue_cleanup(&ev->memq) + atomic_load(&ev->ctr.memory_lost);
	events_spool_close(ev->spool);
	mosquitto_free(ev->topic_sel);
	if(ev->log_ready){
		ih_logq_drain(&ev->log);
		if(lost){
			mosquitto_log_printf(MOSQ_LOG_WARNING,
					"iothub: events: %" PRIu64 " events held in memory (degraded mode) were not delivered before shutdown and are lost",
					lost);
		}
		ih_logq_cleanup(&ev->log);
	}
	mosquitto_free(ev);
}

/* ------------------------------------------------------------------ */
/* the append path                                                     */

static size_t encode(const struct events *ev, const struct events_event *e, uint8_t *buf, size_t cap)
{
	return ev->json ? events_encode_json(e, buf, cap) : events_encode_bson(e, buf, cap);
}

static void note_drop(struct events *ev, const char *why)
{
	time_t now = ih_mono_s();

	events_ctr_inc1(&ev->ctr.dropped);
	ev->drops_unlogged++;
	if(now - ev->last_drop_log_s >= DROP_LOG_S){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: events: dropped %" PRIu64 " event(s): %s",
				ev->drops_unlogged, why);
		ev->drops_unlogged = 0;
		ev->last_drop_log_s = now;
	}
}

static void enter_degraded(struct events *ev)
{
	int err = events_spool_last_error(ev->spool);

	if(ev->degraded) return;
	ev->degraded = true;
	mosquitto_log_printf(MOSQ_LOG_WARNING,
			"iothub: events: spool cannot take events (%s): degraded mode, events wait in memory"
			" (up to queue_max_events=%u) and are lost if the broker dies",
			err == EFBIG ? "spool_max_bytes reached" : ih_strerror(err), ev->cfg->queue_max_events);
}

static void leave_degraded(struct events *ev)
{
	ev->degraded = false;
	mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: events: spool writable again, degraded mode over");
}

/* Tell the forwarder a record is there. The broker runs MOSQ_EVT_TICK once
 * per loop iteration, after handling every ready socket, so once ticks are
 * seen the wake-up waits for the end of the iteration: one fence and at
 * most one eventfd write per batch of publishes instead of per publish
 * (the write is a syscall on the broker thread that also wakes the
 * forwarder for a single record). Durability does not depend on it: the
 * record is committed before submit returns. Without ticks
 * (per_listener_settings true, unit tests) every record wakes at once. */
static void wake(struct events *ev)
{
	if(ev->tick_driven){
		ev->wake_pending = true;
		return;
	}
	events_fwd_wake(&ev->fwd);
}

/* The body is in place in the spool: make it a record. */
static int spooled(struct events *ev, const struct events_spool_meta *meta)
{
	events_spool_commit(ev->spool, meta);
	events_ctr_inc1(&ev->ctr.spooled);
	events_ctr_inc1(&ev->ctr.queued);
	if(ev->degraded) leave_degraded(ev);
	wake(ev);
	return MOSQ_ERR_SUCCESS;
}

static int submit(struct events *ev, struct events_event *e)
{
	struct events_spool_meta meta;
	struct events_spool_rec_hdr *item;
	uint8_t scratch[SCRATCH_BYTES];
	uint32_t room;
	size_t len;
	void *dst;

	meta.type = (uint16_t)e->type;
	meta.flags = ev->json ? EVENTS_SPOOL_F_JSON : 0;
	meta.at_ms = e->at_ms;
	meta.id_hi = ev->boot_id;
	meta.id_lo = ++ev->next_id;
	/* The same text as events_id_format(meta.id_hi, meta.id_lo). */
	events_id_format_lo(ev->id_text + EVENTS_ID_LEN / 2, meta.id_lo);
	memcpy(e->event_id, ev->id_text, sizeof(e->event_id));

	/* Encode once, in place: straight into the segment being written
	 * when it fits there (every event but the last of a segment). */
	dst = events_spool_room(ev->spool, &room);
	if(dst){
		len = encode(ev, e, dst, room);
		if(len <= room && events_spool_reserve(ev->spool, (uint32_t)len) == dst) return spooled(ev, &meta);
		/* Did not fit: leave the unused tail as it was (zero) and go the
		 * long way, with the next segment. */
		memset(dst, 0, len < room ? len : room);
	}
	/* One encoding pass into a stack buffer serves typical events; only
	 * larger ones are measured first and then encoded in place. */
	len = encode(ev, e, scratch, sizeof(scratch));
	if(len > UINT32_MAX - 4096){
		note_drop(ev, "event too large");
		return MOSQ_ERR_INVAL;
	}
	/* Durability first: the spool whenever it can take the record. */
	dst = events_spool_reserve(ev->spool, (uint32_t)len);
	if(dst){
		if(len <= sizeof(scratch)) memcpy(dst, scratch, len);
		else encode(ev, e, dst, len);
		return spooled(ev, &meta);
	}
	enter_degraded(ev);
	if(events_queue_count(&ev->memq) >= ev->cfg->queue_max_events){
		note_drop(ev, "spool unavailable and memory queue full (queue_max_events)");
		return MOSQ_ERR_NOMEM;
	}
	/* libc malloc: the forwarder thread frees it. */
	item = malloc(sizeof(*item) + len);
	if(item == NULL){
		note_drop(ev, "out of memory");
		return MOSQ_ERR_NOMEM;
	}
	if(len <= sizeof(scratch)) memcpy(item + 1, scratch, len);
	else encode(ev, e, (uint8_t *)(item + 1), len);
	item->commit = EVENTS_SPOOL_REC_COMMIT;
	item->crc = 0;
	item->len = (uint32_t)len;
	item->type = meta.type;
	item->flags = meta.flags;
	item->at_ms = meta.at_ms;
	item->id_hi = meta.id_hi;
	item->id_lo = meta.id_lo;
	if(!events_queue_push(&ev->memq, item)){
		free(item);
		note_drop(ev, "spool unavailable and memory queue full (queue_max_events)");
		return MOSQ_ERR_NOMEM;
	}
	events_ctr_inc1(&ev->ctr.memory_queued);
	events_ctr_inc1(&ev->ctr.queued);
	wake(ev);
	return MOSQ_ERR_SUCCESS;
}

static void event_base(struct events *ev, struct events_event *e, enum events_type type,
		const struct events_client *c, int64_t seq, int64_t at_ms)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->client = c;
	e->seq = seq;
	e->at_ms = at_ms;
	e->node = ev->cfg->node_name;
}

int events_connected(struct events *ev, const struct events_client *c, int64_t seq, int64_t at_ms)
{
	struct events_event e;

	if(ev == NULL || !ev->cfg->event_connected) return MOSQ_ERR_SUCCESS;
	event_base(ev, &e, EVENTS_CONNECTED, c, seq, at_ms);
	return submit(ev, &e);
}

int events_disconnected(struct events *ev, const struct events_client *c, int64_t seq, int64_t at_ms,
		const char *reason)
{
	struct events_event e;

	if(ev == NULL || !ev->cfg->event_disconnected) return MOSQ_ERR_SUCCESS;
	event_base(ev, &e, EVENTS_DISCONNECTED, c, seq, at_ms);
	e.reason = reason;
	return submit(ev, &e);
}

bool events_publish_wanted(const struct events *ev, const char *topic)
{
	const struct ih_strlist *l;

	if(ev == NULL || !ev->cfg->event_publish || topic == NULL) return false;
	l = &ev->cfg->event_publish_topics;
	for(size_t i = 0; i < l->count; i++){
		const char *f = l->items[i];
		const struct topic_sel *sel = &ev->topic_sel[i];
		size_t n = sel->lit;

		/* Runs for every publish: reject on the literal prefix first. */
		if(n && (topic[0] != f[0] || strncmp(topic, f, n) != 0)) continue;
		if(sel->plus){
			if(acl_topic_plus_rest_matches(topic + n, sel->plus)) return true;
			continue;
		}
		if(acl_topic_matches_from(f, topic, n)) return true;
	}
	return false;
}

int events_publish(struct events *ev, const struct events_client *c, int64_t seq, int64_t at_ms,
		const char *topic, const void *payload, uint32_t payloadlen, int qos, bool retain)
{
	struct events_event e;

	if(ev == NULL || !ev->cfg->event_publish) return MOSQ_ERR_SUCCESS;
	event_base(ev, &e, EVENTS_PUBLISH, c, seq, at_ms);
	e.topic = topic;
	e.payload = payloadlen ? payload : "";
	e.payloadlen = payloadlen;
	e.qos = qos;
	e.retain = retain;
	return submit(ev, &e);
}

/* ------------------------------------------------------------------ */
/* observability                                                       */

void events_get_stats(const struct events *ev, struct events_stats *out)
{
	struct events_counters *c;
	struct events_spool_stats ss;
	uint64_t in, done;

	memset(out, 0, sizeof(*out));
	if(ev == NULL) return;
	c = &((struct events *)ev)->ctr;
	out->queued = atomic_load(&c->queued);
	out->spooled = atomic_load(&c->spooled);
	out->memory_queued = atomic_load(&c->memory_queued);
	out->dropped = atomic_load(&c->dropped);
	out->published = atomic_load(&c->published);
	out->confirmed = atomic_load(&c->confirmed);
	out->returned = atomic_load(&c->returned);
	out->nacked = atomic_load(&c->nacked);
	out->reconnects = atomic_load(&c->reconnects);
	out->redelivered = atomic_load(&c->redelivered);
	out->amqp_connected = atomic_load(&c->amqp_connected) != 0;
	out->blocked = atomic_load(&c->blocked) != 0;
	out->spool_bytes = events_spool_bytes(ev->spool);
	events_spool_get_stats(ev->spool, &ss);
	in = out->queued + ss.recovered_records;
	done = out->confirmed + atomic_load(&c->memory_lost);
	out->backlog = in > done ? in - done : 0;
}

static void log_state_changes(struct events *ev)
{
	int connected = atomic_load(&ev->ctr.amqp_connected);
	int blocked = atomic_load(&ev->ctr.blocked);

	if(connected != ev->prev_connected){
		if(connected){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: events: connected to RabbitMQ at %s:%d",
					ev->fwd.target.ci.host, ev->fwd.target.ci.port);
		}else{
			mosquitto_log_printf(MOSQ_LOG_WARNING,
					"iothub: events: disconnected from RabbitMQ at %s:%d; events stay in the spool until it is back",
					ev->fwd.target.ci.host, ev->fwd.target.ci.port);
		}
		ev->prev_connected = connected;
	}
	if(blocked != ev->prev_blocked){
		mosquitto_log_printf(blocked ? MOSQ_LOG_WARNING : MOSQ_LOG_NOTICE,
				blocked ? "iothub: events: RabbitMQ blocked the connection (resource alarm); publishing paused"
				: "iothub: events: RabbitMQ unblocked the connection; publishing resumed");
		ev->prev_blocked = blocked;
	}
}

void events_tick(struct events *ev, time_t now_s)
{
	struct events_stats s;

	if(ev == NULL) return;
	if(ev->wake_pending){
		ev->wake_pending = false;
		events_fwd_wake(&ev->fwd);
	}
	ev->tick_driven = true;
	ih_logq_drain(&ev->log);
	log_state_changes(ev);
	if(ev->drops_unlogged && now_s - ev->last_drop_log_s >= DROP_LOG_S){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: events: dropped %" PRIu64 " more event(s)", ev->drops_unlogged);
		ev->drops_unlogged = 0;
		ev->last_drop_log_s = now_s;
	}
	if(ev->cfg->stats_interval_s && now_s - ev->last_stats_s >= (time_t)ev->cfg->stats_interval_s){
		events_get_stats(ev, &s);
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"iothub: events: queued=%" PRIu64 " spooled=%" PRIu64 " memory_queued=%" PRIu64
				" published=%" PRIu64 " confirmed=%" PRIu64 " returned=%" PRIu64 " nacked=%" PRIu64
				" dropped=%" PRIu64 " reconnects=%" PRIu64 " redelivered=%" PRIu64 " backlog=%" PRIu64
				" spool_bytes=%" PRIu64 " amqp=%s%s",
				s.queued, s.spooled, s.memory_queued, s.published, s.confirmed, s.returned, s.nacked,
				s.dropped, s.reconnects, s.redelivered, s.backlog, s.spool_bytes,
				s.amqp_connected ? "up" : "down", s.blocked ? " blocked" : "");
		ev->last_stats_s = now_s;
	}
}
