/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The forwarder thread (see forwarder.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <mosquitto.h>

#include "events/amqp_batch.h"
#include "events/event_encode.h"
#include "events/event_queue.h"
#include "events/event_stats.h"
#include "events/forwarder.h"
#include "events/forwarder_send.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/errstr.h"
#include "core/logq.h"

#define HOUSEKEEP_MS 500      /* checkpoint / unlink cadence */
#define IDLE_POLL_MS 500
#define PUMP_MS 2             /* incoming frames are read at least this often while busy */
#define TLS_POLL_MS 5         /* OpenSSL may hold decrypted bytes poll() cannot see */
#define ERR_REPEAT_MS 30000   /* the same connection error is logged at most this often */


/* ------------------------------------------------------------------ */
/* helpers                                                             */

static void set_connected(struct events_fwd *f, bool on)
{
	atomic_store(&f->ctr->amqp_connected, on ? 1 : 0);
}

static void set_blocked(struct events_fwd *f, bool on)
{
	f->blocked = on;
	atomic_store(&f->ctr->blocked, on ? 1 : 0);
}

/* Log connection problems once per distinct message, or again after a while. */
static void log_conn_error(struct events_fwd *f, const char *what, const char *err)
{
	int64_t now = ih_mono_ms();

	if(strcmp(err, f->last_err) || now - f->last_err_ms >= ERR_REPEAT_MS){
		ih_logq_push(f->log, MOSQ_LOG_WARNING, "iothub: events: RabbitMQ %s: %s", what, err);
		snprintf(f->last_err, sizeof(f->last_err), "%s", err);
		f->last_err_ms = now;
	}
}

/* Exponential backoff with jitter in [base/2, base]. */
static void schedule_reconnect(struct events_fwd *f, int64_t now)
{
	uint64_t base = f->reconnect_min_ms;
	uint32_t shift = f->fail_streak < 20 ? f->fail_streak : 20;

	base <<= shift;
	if(base > f->reconnect_max_ms) base = f->reconnect_max_ms;
	f->next_attempt_ms = now + (int64_t)(base / 2 + (uint64_t)rand_r(&f->rand_state) % (base / 2 + 1));
}

void events_fwd_drop_connection(struct events_fwd *f, const char *why, bool graceful)
{
	int64_t now = ih_mono_ms();

	if(why) log_conn_error(f, "connection lost", why);
	events_amqp_watchdog_set_fd(&f->wd, -1);
	if(graceful) events_amqp_watchdog_arm(&f->wd, now, f->timeout_ms);
	events_amqp_disconnect(f->conn, graceful);
	events_amqp_watchdog_disarm(&f->wd);
	f->conn = NULL;
	set_connected(f, false);
	set_blocked(f, false);
	events_fwd_ring_rewind(&f->ring);
	schedule_reconnect(f, now);
}

static void try_connect(struct events_fwd *f)
{
	char err[512];
	int64_t now;

	err[0] = '\0';
	f->conn = events_amqp_connect(&f->target, err, sizeof(err));
	now = ih_mono_ms();
	if(f->conn == NULL){
		log_conn_error(f, "connect", err);
		if(f->fail_streak < 64) f->fail_streak++;
		schedule_reconnect(f, now);
		return;
	}
	events_amqp_watchdog_set_fd(&f->wd, events_amqp_fd(f->conn));
	if(f->ever_connected) atomic_fetch_add(&f->ctr->reconnects, 1);
	f->ever_connected = true;
	f->last_err[0] = '\0';
	f->next_tag = 0;
	f->need_reset = false;
	f->input_due = true;
	events_amqp_batch_reset(&f->batch, (uint32_t)amqp_get_frame_max(f->conn));
	set_blocked(f, false);
	set_connected(f, true);
	/* Go-back-N: whatever was not confirmed is published again, in order. */
	events_fwd_ring_rewind(&f->ring);
}

/* ------------------------------------------------------------------ */
/* incoming frames                                                     */

static int wait_frame(struct events_fwd *f, amqp_frame_t *fr, uint32_t timeout_ms)
{
	struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
	int rc;

	events_amqp_watchdog_arm(&f->wd, ih_mono_ms(), f->timeout_ms + timeout_ms);
	rc = amqp_simple_wait_frame_noblock(f->conn, fr, &tv);
	events_amqp_watchdog_disarm(&f->wd);
	return rc;
}

static bool parse_hex64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	for(int i = 0; i < 16; i++){
		char c = s[i];
		int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
		if(d < 0) return false;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return true;
}

/* basic.return: content header and body follow; the header carries the
 * message_id we match on (a return has no delivery tag). */
static int on_return(struct events_fwd *f, const amqp_basic_return_t *ret)
{
	char id[EVENTS_ID_LEN + 1] = "";
	amqp_frame_t fr;
	uint64_t body_size = 0, got = 0, hi, lo;
	int rc;

	ih_logq_push(f->log, MOSQ_LOG_WARNING,
			"iothub: events: RabbitMQ returned an event (exchange %.*s, routing key %.*s): %u %.*s; will retry",
			(int)ret->exchange.len, (const char *)ret->exchange.bytes,
			(int)ret->routing_key.len, (const char *)ret->routing_key.bytes,
			ret->reply_code, (int)ret->reply_text.len, (const char *)ret->reply_text.bytes);
	rc = wait_frame(f, &fr, f->timeout_ms);
	if(rc != AMQP_STATUS_OK) return rc;
	if(fr.frame_type != AMQP_FRAME_HEADER) return AMQP_STATUS_UNEXPECTED_STATE;
	body_size = fr.payload.properties.body_size;
	{
		amqp_basic_properties_t *p = fr.payload.properties.decoded;
		if((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len == EVENTS_ID_LEN){
			memcpy(id, p->message_id.bytes, EVENTS_ID_LEN);
			id[EVENTS_ID_LEN] = '\0';
		}
	}
	while(got < body_size){
		rc = wait_frame(f, &fr, f->timeout_ms);
		if(rc != AMQP_STATUS_OK) return rc;
		if(fr.frame_type != AMQP_FRAME_BODY) return AMQP_STATUS_UNEXPECTED_STATE;
		got += fr.payload.body_fragment.len;
	}
	atomic_fetch_add(&f->ctr->returned, 1);
	if(id[0] && parse_hex64(id, &hi) && parse_hex64(id + 16, &lo)){
		events_fwd_ring_returned(&f->ring, hi, lo);
	}
	return AMQP_STATUS_OK;
}

static void on_confirm(struct events_fwd *f, uint64_t tag, bool multiple, bool ok)
{
	struct events_fwd_settle s = {0, 0, 0};

	events_fwd_ring_confirm(&f->ring, tag, multiple, ok, &s);
	if(s.acked) atomic_fetch_add_explicit(&f->ctr->confirmed, s.acked, memory_order_relaxed);
	if(s.nacked){
		atomic_fetch_add(&f->ctr->nacked, s.nacked);
		ih_logq_push(f->log, MOSQ_LOG_WARNING,
				"iothub: events: RabbitMQ nacked %" PRIu64 " event(s); will retry", s.nacked);
	}
	if(s.nacked || s.failed_returns) f->need_reset = true;
}

/* <0: the connection is unusable (err set). */
static int handle_frame(struct events_fwd *f, amqp_frame_t *fr, char *err, size_t errlen)
{
	if(fr->frame_type != AMQP_FRAME_METHOD) return 0;
	switch(fr->payload.method.id){
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *a = fr->payload.method.decoded;
			on_confirm(f, a->delivery_tag, a->multiple, true);
			return 0;
		}
		case AMQP_BASIC_NACK_METHOD: {
			amqp_basic_nack_t *n = fr->payload.method.decoded;
			on_confirm(f, n->delivery_tag, n->multiple, false);
			return 0;
		}
		case AMQP_BASIC_RETURN_METHOD: {
			int rc = on_return(f, fr->payload.method.decoded);
			if(rc != AMQP_STATUS_OK){
				snprintf(err, errlen, "reading a returned message: %s", amqp_error_string2(rc));
				return -1;
			}
			return 0;
		}
		case AMQP_CONNECTION_BLOCKED_METHOD: {
			amqp_connection_blocked_t *b = fr->payload.method.decoded;
			ih_logq_push(f->log, MOSQ_LOG_WARNING,
					"iothub: events: RabbitMQ blocked publishing: %.*s", (int)b->reason.len, (const char *)b->reason.bytes);
			set_blocked(f, true);
			return 0;
		}
		case AMQP_CONNECTION_UNBLOCKED_METHOD:
			set_blocked(f, false);
			return 0;
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD:
			return events_amqp_server_close(f->conn, fr, err, errlen);
		default:
			return 0;
	}
}

/* Read every frame already available. <0: connection dropped. */
static int pump_input(struct events_fwd *f)
{
	char err[512];
	amqp_frame_t fr;
	int rc;

	for(;;){
		rc = wait_frame(f, &fr, 0);
		if(rc == AMQP_STATUS_TIMEOUT) break;
		if(rc != AMQP_STATUS_OK){
			snprintf(err, sizeof(err), "%s%s", amqp_error_string2(rc),
					events_amqp_watchdog_fired(&f->wd) ? " (timed out)" : "");
			events_fwd_drop_connection(f, err, false);
			return -1;
		}
		err[0] = '\0';
		if(handle_frame(f, &fr, err, sizeof(err))){
			events_fwd_drop_connection(f, err, false);
			return -1;
		}
	}
	amqp_maybe_release_buffers(f->conn);
	return 0;
}

/* ------------------------------------------------------------------ */
/* housekeeping and sleeping                                           */

static void settle(struct events_fwd *f)
{
	struct events_spool_pos pos;
	bool moved = false;

	if(events_fwd_ring_settle(&f->ring, &pos, &moved)){
		/* The head of the line got through: the backoff can start over. */
		f->fail_streak = 0;
	}
	if(moved) events_spool_confirm(f->spool, &pos);
}

static void housekeeping(struct events_fwd *f, int64_t now)
{
	events_spool_prepare(f->spool);
	if(now - f->last_ckpt_ms >= HOUSEKEEP_MS){
		events_spool_release(f->spool);
		events_spool_checkpoint(f->spool);
		f->last_ckpt_ms = now;
	}
	if(f->sync_ms && now - f->last_sync_ms >= (int64_t)f->sync_ms){
		int rc = events_spool_sync(f->spool);
		if(rc){
			ih_logq_push(f->log, MOSQ_LOG_ERR, "iothub: events: msync of the spool failed: %s", ih_strerror(-rc));
		}
		f->last_sync_ms = now;
	}
}

static bool source_has_data(struct events_fwd *f)
{
	return events_spool_has_data(f->spool, &f->rd) || events_queue_count(f->memq) > 0;
}

static void drain_eventfd(struct events_fwd *f)
{
	uint64_t v;
	ssize_t n = read(f->efd, &v, sizeof(v));
	(void)n;
}

/* Nothing to do right now: sleep until RabbitMQ talks, an event arrives,
 * or housekeeping (heartbeats included) is due. */
static void wait_for_work(struct events_fwd *f)
{
	struct pollfd p[2];
	int n = 0, timeout = IDLE_POLL_MS, rc;
	bool can_send = f->conn && !f->blocked && !f->need_reset && f->ring.count < f->window;
	bool want_events = can_send || f->conn == NULL;

	if(f->conn){
		if(amqp_frames_enqueued(f->conn) || amqp_data_in_buffer(f->conn)){
			f->input_due = true;
			return;
		}
		if(f->target.heartbeat_s > 0 && timeout > f->target.heartbeat_s * 500) timeout = f->target.heartbeat_s * 500;
		if(f->target.ci.ssl && f->ring.count) timeout = TLS_POLL_MS;
		p[n].fd = events_amqp_fd(f->conn);
		p[n].events = POLLIN;
		n++;
	}else{
		int64_t left = f->next_attempt_ms - ih_mono_ms();
		if(left < timeout) timeout = left > 0 ? (int)left : 0;
	}
	if(can_send && f->sent_since_wait && f->linger_ms){
		/* Events are flowing: let them gather for linger_ms instead of
		 * sleeping on the eventfd. Lingering, `sleeping` stays 0, so the
		 * broker writes no eventfd (it only loads the flag) and this
		 * thread is not switched in for a handful of records; the next
		 * round sends what the pause gathered, in fewer, larger batches
		 * (bench/README.md: the forwarder's CPU per event fell by 7 %).
		 * Nothing cuts the pause short, by design: the window has room
		 * (can_send), and RabbitMQ's confirms are read right after it
		 * (input_due). */
		f->sent_since_wait = false;
		rc = poll(NULL, 0, (int)f->linger_ms);
		(void)rc;
		f->input_due = true;
		return;
	}
	f->sent_since_wait = false;
	p[n].fd = f->efd;
	p[n].events = POLLIN;
	n++;
	if(can_send){
		atomic_store(&f->sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst);
		if(source_has_data(f)){
			atomic_store(&f->sleeping, 0);
			return;
		}
	}
	(void)want_events;
	if(atomic_load(&f->stop)) timeout = timeout > 10 ? 10 : timeout;
	rc = poll(p, (nfds_t)n, timeout);
	atomic_store(&f->sleeping, 0);
	/* Read what RabbitMQ sent, or on a timeout (heartbeats) or an error.
	 * Woken by the broker alone, reading would cost a recv() and a
	 * poll() inside rabbitmq-c for no frame. */
	if(f->conn && (rc <= 0 || p[0].revents)) f->input_due = true;
	if(rc > 0 && (p[n - 1].revents & POLLIN)) drain_eventfd(f);
}

static bool all_delivered(struct events_fwd *f)
{
	return f->ring.count == 0 && !source_has_data(f);
}

static void *run(void *arg)
{
	struct events_fwd *f = arg;
	int64_t stop_at = 0;

	events_spool_read_start(f->spool, &f->rd);
	for(;;){
		int64_t now = ih_mono_ms();
		int sent = 0;

		if(atomic_load(&f->stop)){
			if(stop_at == 0) stop_at = now + f->drain_ms;
			if(f->conn == NULL || now >= stop_at || all_delivered(f)) break;
		}
		housekeeping(f, now);
		if(f->conn == NULL){
			if(now >= f->next_attempt_ms) try_connect(f);
			if(f->conn == NULL){
				wait_for_work(f);
				continue;
			}
		}
		/* Read when the last poll() saw input (TLS: always, OpenSSL may
		 * hold bytes poll() cannot see), and at least every PUMP_MS while
		 * busy sending: not after every batch, where a recv() and a
		 * poll() in rabbitmq-c mostly found nothing. */
		if(f->input_due || f->target.ci.ssl || now - f->last_pump_ms >= PUMP_MS){
			f->input_due = false;
			f->last_pump_ms = now;
			if(pump_input(f)) continue;
		}
		settle(f);
		if(f->need_reset){
			/* Redeclare the topology and retry; the backoff grows until the
			 * head of the line gets through, so an unroutable event cannot spin. */
			if(f->fail_streak < 64) f->fail_streak++;
			events_fwd_drop_connection(f, NULL, true);
			continue;
		}
		if(!f->blocked){
			sent = events_fwd_fill_and_send(f);
			if(sent < 0) continue;
		}
		if(sent > 0) f->sent_since_wait = true;
		else wait_for_work(f);
	}
	if(f->conn) events_fwd_drop_connection(f, NULL, true);
	settle(f);
	events_spool_release(f->spool);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* lifecycle (broker thread)                                           */

void events_fwd_wake_slow(struct events_fwd *f)
{
	uint64_t one = 1;

	if(atomic_exchange(&f->sleeping, 0)){
		ssize_t n = write(f->efd, &one, sizeof(one));
		(void)n; /* an eventfd write only fails when the counter would overflow */
	}
}

int events_fwd_init(struct events_fwd *f, const struct ih_config *cfg, struct events_spool *spool,
		struct events_queue *memq, struct ih_logq *log, struct events_counters *ctr,
		char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	f->efd = -1;
	if(events_amqp_target_init(&f->target, cfg, err, errlen)) goto fail;
	f->window = cfg->amqp_window;
	f->linger_ms = cfg->amqp_linger_ms;
	f->reconnect_min_ms = cfg->amqp_reconnect_min_ms;
	f->reconnect_max_ms = cfg->amqp_reconnect_max_ms;
	f->sync_ms = cfg->spool_sync_ms;
	f->timeout_ms = cfg->amqp_timeout_ms;
	f->spool = spool;
	f->memq = memq;
	f->log = log;
	f->ctr = ctr;
	f->rand_state = (unsigned)ih_mono_ms() ^ (unsigned)getpid();
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if(f->efd < 0){
		snprintf(err, errlen, "eventfd: %s", ih_strerror(errno));
		goto fail;
	}
	if(events_fwd_ring_init(&f->ring, f->window) || events_amqp_batch_init(&f->batch, EVENTS_AMQP_CHANNEL)){
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	events_fwd_send_kinds(f);
	return 0;
fail:
	events_fwd_cleanup(f);
	return -1;
}

int events_fwd_start(struct events_fwd *f)
{
	int rc;

	rc = events_amqp_watchdog_start(&f->wd);
	if(rc) return rc;
	rc = pthread_create(&f->thread, NULL, run, f);
	if(rc){
		events_amqp_watchdog_stop(&f->wd);
		return -rc;
	}
	f->started = true;
	return 0;
}

void events_fwd_stop(struct events_fwd *f, uint32_t drain_ms)
{
	uint64_t one = 1;
	ssize_t n;

	if(!f->started) return;
	f->drain_ms = drain_ms;
	atomic_store(&f->stop, 1);
	n = write(f->efd, &one, sizeof(one));
	(void)n;
	/* Bounded: every blocking call in the thread is under the watchdog. */
	pthread_join(f->thread, NULL);
	events_amqp_watchdog_stop(&f->wd);
	f->started = false;
}

void events_fwd_cleanup(struct events_fwd *f)
{
	uint32_t lost = events_fwd_ring_cleanup(&f->ring);

	if(lost) atomic_fetch_add(&f->ctr->memory_lost, lost);
	events_amqp_batch_cleanup(&f->batch);
	if(f->efd >= 0) close(f->efd);
	f->efd = -1;
	events_amqp_target_cleanup(&f->target);
}
