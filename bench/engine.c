/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* engine.c - the event loop of the load generator.
 *
 * Each worker thread owns a disjoint set of clients and one epoll instance.
 * libmosquitto is driven through its external-loop API only:
 *   mosquitto_connect_async()  nonblocking TCP connect + queued CONNECT
 *   mosquitto_socket()         the fd we register in epoll
 *   mosquitto_loop_read()      on EPOLLIN/ERR/HUP
 *   mosquitto_loop_write()     on EPOLLOUT, or right after a read queued data
 *   mosquitto_want_write()     decides whether EPOLLOUT is in the interest set
 *   mosquitto_loop_misc()      keepalive, every 250 ms per connected client
 * Callbacks run on the worker that owns the client, so per-worker statistics
 * need no locks.  The main thread drives phases ("ops") through G.op_gen and
 * reads the per-worker progress atomics.
 */
#define _GNU_SOURCE
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <mqtt_protocol.h>

lg_global_t G;

#define SWEEP_NS 250000000ull
#define MAX_WAIT_NS 100000000ull
#define CONNECT_BATCH 32      /* connects started per loop turn at --conn-rate 0 */
#define PUB_BURST 64          /* messages per publisher per turn */
#define READ_BUDGET 128       /* packets read per client per readiness event */
#define PAIR_MAX_SEQ (1u << 28)

/* --------------------------------------------------------------------
 * libmosquitto pitfall: every mosquitto_new() opens a socketpair (two fds)
 * that is only used to wake the select() of mosquitto_loop()/loop_start(),
 * and every queued packet writes a byte into it.  With the external loop it
 * is dead weight: 3 fds per client instead of 1, plus one extra write(2) per
 * packet.  libmosquitto treats a failing socketpair() as a warning only, so
 * while we create our clients we make it fail.  --keep-sockpair disables it.
 * ------------------------------------------------------------------ */
static volatile int g_block_sockpair;

int socketpair(int domain, int type, int protocol, int sv[2])
{
	if (g_block_sockpair) {
		errno = EMFILE;
		return -1;
	}
	return (int)syscall(SYS_socketpair, domain, type, protocol, sv);
}

/* --------------------------------------------------------------------
 * libmosquitto pitfall #2: packet__read() read(2)s the fixed header one
 * byte at a time, then the remaining-length bytes one at a time, then the
 * body: three or more syscalls per received packet.  For the client sockets
 * we register, read() below serves libmosquitto from a per-fd buffer filled
 * by one 16 KB read(2).  Data left in that buffer is invisible to epoll, so
 * handle_io() puts such clients on the worker's pending list.  Every other
 * fd (eventfd, files) goes straight to the syscall.  --no-read-buffer
 * disables it.
 * ------------------------------------------------------------------ */
#define RB_SCRATCH 16384

/* fd -> client whose socket it is; the buffer itself lives in the client
 * and is only touched by the worker thread that owns the client. */
static _Atomic(lg_client_t *) *g_rbo;
static int g_rb_n;
static __thread unsigned char rb_scratch[RB_SCRATCH];

static inline unsigned char *rb_data(lg_client_t *c)
{
	return c->rb_heap ? c->rb_heap : c->rb_inl;
}

static void rb_attach(int fd, lg_client_t *c)
{
	if (!g_rbo || fd < 0 || fd >= g_rb_n)
		return;
	c->rb_pos = c->rb_len = 0;
	c->rb_drained = false;
	atomic_store_explicit(&g_rbo[fd], c, memory_order_release);
}

static void rb_detach(int fd, lg_client_t *c)
{
	lg_client_t *exp = c;

	c->rb_pos = c->rb_len = 0;
	c->rb_drained = false;
	free(c->rb_heap);
	c->rb_heap = NULL;
	if (!g_rbo || fd < 0 || fd >= g_rb_n)
		return;
	/* the fd number may already belong to a new socket of another worker */
	atomic_compare_exchange_strong(&g_rbo[fd], &exp, NULL);
}

static inline uint32_t rb_pending(const lg_client_t *c)
{
	return c->rb_len - c->rb_pos;
}

ssize_t read(int fd, void *buf, size_t n)
{
	lg_client_t *c;
	ssize_t r;
	size_t k, rest;

	if (!g_rbo || fd < 0 || fd >= g_rb_n ||
	    !(c = atomic_load_explicit(&g_rbo[fd], memory_order_acquire)))
		return syscall(SYS_read, fd, buf, n);
	if (c->rb_pos < c->rb_len) {
		k = c->rb_len - c->rb_pos;
		if (k > n)
			k = n;
		memcpy(buf, rb_data(c) + c->rb_pos, k);
		c->rb_pos += (uint32_t)k;
		return (ssize_t)k;
	}
	if (c->rb_drained) {
		/* The socket was empty a moment ago: report EAGAIN without a
		 * syscall.  Safe with level-triggered epoll: if bytes arrived
		 * since, the next epoll_wait reports the fd again. */
		c->rb_drained = false;
		errno = EAGAIN;
		return -1;
	}
	if (n >= RB_SCRATCH)
		return syscall(SYS_read, fd, buf, n);
	r = syscall(SYS_read, fd, rb_scratch, RB_SCRATCH);
	if (r <= 0)
		return r;
	c->rb_drained = r < RB_SCRATCH;
	k = (size_t)r < n ? (size_t)r : n;
	memcpy(buf, rb_scratch, k);
	rest = (size_t)r - k;
	if (rest) {
		if (rest > LG_RB_INLINE && !c->rb_heap) {
			c->rb_heap = malloc(RB_SCRATCH);
			if (!c->rb_heap) {
				errno = ENOMEM;
				return -1;
			}
		}
		memcpy(rb_data(c), rb_scratch + k, rest);
		c->rb_pos = 0;
		c->rb_len = (uint32_t)rest;
	}
	return (ssize_t)k;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *role_name(int role)
{
	switch (role) {
	case ROLE_DEV: return "device";
	case ROLE_PUB: return "publisher";
	case ROLE_SUB: return "subscriber";
	case ROLE_BIZ: return "business";
	}
	return "?";
}

static inline void wr32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline void wr64(unsigned char *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

#define AINC(x) atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)
#define ADEC(x) atomic_fetch_sub_explicit(&(x), 1, memory_order_relaxed)

/* ---------------- publisher heap (min on next_due) ---------------- */

static void heap_swap(lg_worker_t *w, int a, int b)
{
	lg_client_t *t = w->heap[a];

	w->heap[a] = w->heap[b];
	w->heap[b] = t;
	w->heap[a]->heap_pos = a;
	w->heap[b]->heap_pos = b;
}

static void heap_up(lg_worker_t *w, int i)
{
	while (i > 0) {
		int p = (i - 1) / 2;

		if (w->heap[p]->next_due <= w->heap[i]->next_due)
			break;
		heap_swap(w, p, i);
		i = p;
	}
}

static void heap_down(lg_worker_t *w, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;

		if (l < w->heap_n && w->heap[l]->next_due < w->heap[m]->next_due)
			m = l;
		if (r < w->heap_n && w->heap[r]->next_due < w->heap[m]->next_due)
			m = r;
		if (m == i)
			break;
		heap_swap(w, m, i);
		i = m;
	}
}

static void heap_push(lg_worker_t *w, lg_client_t *c)
{
	if (c->heap_pos >= 0)
		return;
	c->heap_pos = w->heap_n;
	w->heap[w->heap_n++] = c;
	heap_up(w, c->heap_pos);
}

static void heap_remove(lg_worker_t *w, lg_client_t *c)
{
	int i = c->heap_pos;

	if (i < 0)
		return;
	w->heap_n--;
	if (i != w->heap_n) {
		w->heap[i] = w->heap[w->heap_n];
		w->heap[i]->heap_pos = i;
		heap_down(w, i);
		heap_up(w, i);
	}
	c->heap_pos = -1;
}

/* ---------------- helpers ---------------- */

static void errkind_add(lg_connstats_t *cs, const char *name)
{
	int i;

	for (i = 0; i < LG_MAX_ERRKINDS; i++) {
		if (cs->err[i].n && !strcmp(cs->err[i].name, name)) {
			cs->err[i].n++;
			return;
		}
		if (!cs->err[i].n) {
			snprintf(cs->err[i].name, sizeof(cs->err[i].name), "%s", name);
			cs->err[i].n = 1;
			return;
		}
	}
	cs->err[LG_MAX_ERRKINDS - 1].n++;
}

static const char *rc_kind(int rc, int err)
{
	static __thread char buf[32];
	const char *en;

	switch (rc) {
	case MOSQ_ERR_CONN_LOST: return "connection_lost";
	case MOSQ_ERR_PROTOCOL: return "protocol_error";
	case MOSQ_ERR_KEEPALIVE: return "keepalive_timeout";
	case MOSQ_ERR_NOMEM: return "out_of_memory";
	case MOSQ_ERR_EAI: return "address_lookup";
	case MOSQ_ERR_SUCCESS: return "closed_by_client";
	case MOSQ_ERR_ERRNO:
		en = err ? strerrorname_np(err) : NULL;
		snprintf(buf, sizeof(buf), "%s", en ? en : "errno");
		return buf;
	default:
		snprintf(buf, sizeof(buf), "mosq_err_%d:%s", rc, mosquitto_strerror(rc));
		return buf;
	}
}

static void update_interest(lg_worker_t *w, lg_client_t *c)
{
	struct epoll_event ev;
	bool want;

	if (c->fd < 0)
		return;
	want = mosquitto_want_write(c->m);
	if (want == c->out_reg)
		return;
	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->out_reg = want;
}

static void settle_ready(lg_worker_t *w, lg_client_t *c)
{
	uint64_t now = now_ns();

	c->state = CS_READY;
	c->ever_ok = true;
	if (c->cs) {
		c->cs->ready++;
		if (now > c->cs->last_ready)
			c->cs->last_ready = now;
	}
	AINC(w->a_ready);
	AINC(w->a_settled);
}

static void settle_fail(lg_worker_t *w, lg_client_t *c)
{
	c->state = CS_FAILED;
	AINC(w->a_settled);
}

static bool is_publisher(const lg_client_t *c)
{
	return c->role == ROLE_PUB || c->role == ROLE_BIZ;
}

static void pub_mark_done(lg_worker_t *w, lg_client_t *c)
{
	if (c->pub_done)
		return;
	c->pub_done = true;
	c->send_done = true;
	heap_remove(w, c);
	AINC(w->a_pubdone);
}

/* ---------------- callbacks ---------------- */

static void pub_resume(lg_worker_t *w, lg_client_t *c);

static const char *sub_filter(lg_client_t *c, char *buf, size_t cap)
{
	const tmpl_t *t = NULL;

	if (c->role == ROLE_SUB)
		t = &G.cfg.t_sub;
	else if (c->role == ROLE_DEV && G.cfg.subscribe_self)
		t = &G.cfg.t_self;
	if (!t || !t->src)
		return NULL;
	if (tmpl_expand(t, c, 0, buf, cap) < 0)
		return NULL;
	return buf;
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	lg_client_t *c = obj;
	lg_worker_t *w = c->w;
	lg_connstats_t *cs = c->cs;
	uint64_t now = now_ns();
	char filt[1024];
	const char *f;

	(void)m;
	if (c->state != CS_CONNECTING || !cs)
		return; /* late CONNACK after a timeout */
	if (rc != 0) {
		cs->refused++;
		cs->refused_code[rc & 0xff]++;
		settle_fail(w, c);
		return; /* libmosquitto closes the socket after this callback */
	}
	cs->accepted++;
	hist_add(&cs->lat, now - c->t_start);
	if (now > cs->last_ack)
		cs->last_ack = now;
	f = sub_filter(c, filt, sizeof(filt));
	if (f) {
		int src = mosquitto_subscribe(c->m, &c->sub_mid, f, G.cfg.sub_qos);

		if (src == MOSQ_ERR_SUCCESS) {
			c->state = CS_SUBSCRIBING;
			return;
		}
		cs->errors++;
		errkind_add(cs, "subscribe_call_failed");
		settle_fail(w, c);
		return;
	}
	settle_ready(w, c);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count, const int *granted)
{
	lg_client_t *c = obj;
	lg_worker_t *w = c->w;

	(void)m;
	(void)mid;
	if (c->state != CS_SUBSCRIBING)
		return;
	if (qos_count < 1 || granted[0] >= 0x80) {
		if (c->cs) {
			c->cs->errors++;
			errkind_add(c->cs, "suback_refused");
		}
		settle_fail(w, c);
		return;
	}
	settle_ready(w, c);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	lg_client_t *c = obj;
	lg_worker_t *w = c->w;
	int err = errno;

	(void)m;
	if (c->fd >= 0) {
		/* libmosquitto has already closed the socket, which removed it
		 * from the epoll set. */
		rb_detach(c->fd, c);
		c->fd = -1;
		c->out_reg = false;
		ADEC(w->a_open);
	}
	if (is_publisher(c) && w->publishing)
		pub_mark_done(w, c);
	switch (c->state) {
	case CS_CONNECTING:
	case CS_SUBSCRIBING:
		if (c->cs) {
			c->cs->errors++;
			errkind_add(c->cs, rc_kind(rc, err));
		}
		settle_fail(w, c);
		c->state = CS_IDLE;
		break;
	case CS_READY:
		w->disc_unexpected++;
		c->state = CS_IDLE;
		break;
	case CS_FAILED:
		break; /* keep: the cmd target list must not pick it */
	default:
		c->state = CS_IDLE;
		break;
	}
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason, const mosquitto_property *props)
{
	lg_client_t *c = obj;
	lg_worker_t *w = c->w;
	uint32_t slot;

	(void)m;
	(void)props;
	if (G.cfg.qos == 0)
		return; /* QoS 0: called when the packet was written; nothing to do */
	slot = (uint32_t)mid & G.cfg.ack_mask;
	if (c->ack_ts && c->ack_mid[slot] == (uint16_t)mid && c->ack_ts[slot]) {
		hist_add(&w->ack_lat, now_ns() - c->ack_ts[slot]);
		c->ack_ts[slot] = 0;
	}
	if (c->inflight)
		c->inflight--;
	c->acked++;
	w->acked++;
	AINC(w->a_acked);
	if (reason >= 0x80) {
		c->nacked++;
		w->nacked++;
	}
	if (c->send_done) {
		if (c->inflight == 0)
			pub_mark_done(w, c);
		return;
	}
	if (c->blk_inflight && c->inflight < (uint32_t)G.cfg.inflight) {
		c->blk_inflight = false;
		pub_resume(w, c);
	}
}

static lg_pair_t *pairs_get(lg_pairs_t *ps, uint32_t pub)
{
	uint32_t h, i;

	if (ps->last && ps->last->pub == pub)
		return ps->last;
	if (!ps->slot || (ps->n + 1) * 2 > ps->cap) {
		uint32_t ncap = ps->cap ? ps->cap * 2 : 8;
		lg_pair_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return NULL;
		for (i = 0; i < ps->cap; i++) {
			if (!ps->slot[i].used)
				continue;
			h = (ps->slot[i].pub * 2654435761u) & (ncap - 1);
			while (ns[h].used)
				h = (h + 1) & (ncap - 1);
			ns[h] = ps->slot[i];
		}
		free(ps->slot);
		ps->slot = ns;
		ps->cap = ncap;
	}
	h = (pub * 2654435761u) & (ps->cap - 1);
	while (ps->slot[h].used && ps->slot[h].pub != pub)
		h = (h + 1) & (ps->cap - 1);
	if (!ps->slot[h].used) {
		ps->slot[h].used = true;
		ps->slot[h].pub = pub;
		ps->n++;
	}
	ps->last = &ps->slot[h];
	return ps->last;
}

static void pair_track(lg_worker_t *w, lg_client_t *c, uint32_t pub, uint32_t seq)
{
	lg_pair_t *p;
	uint32_t word = seq >> 6;
	uint64_t bit = 1ull << (seq & 63);

	if (seq >= PAIR_MAX_SEQ) {
		w->untracked++;
		return;
	}
	p = pairs_get(&c->pairs, pub);
	if (!p) {
		w->untracked++;
		return;
	}
	if (word >= p->nwords) {
		uint32_t nw = p->nwords ? p->nwords : 16;
		uint64_t *nb;

		while (nw <= word)
			nw *= 2;
		nb = realloc(p->bits, (size_t)nw * sizeof(uint64_t));
		if (!nb) {
			w->untracked++;
			return;
		}
		memset(nb + p->nwords, 0, (size_t)(nw - p->nwords) * sizeof(uint64_t));
		p->bits = nb;
		p->nwords = nw;
	}
	if (p->bits[word] & bit) {
		p->dup++;
		w->dup++;
		return;
	}
	p->bits[word] |= bit;
	p->unique++;
	if (seq > p->max_seq)
		p->max_seq = seq;
}

static void pub_resume(lg_worker_t *w, lg_client_t *c);

/* --e2e-window: the publisher with index idx (publishers follow the
 * subscribers and devices in G.clients, see engine_setup). */
static void e2e_delivered(lg_worker_t *w, uint32_t idx, uint32_t seq)
{
	lg_client_t *p;

	if (idx >= (uint32_t)G.nrole[ROLE_PUB])
		return;
	p = &G.clients[G.nrole[ROLE_SUB] + G.nrole[ROLE_DEV] + (int)idx];
	if (seq + 1 > p->e2e_next)
		p->e2e_next = seq + 1;
	if (p->blk_e2e && p->sent - p->e2e_next < (uint32_t)G.cfg.e2e_window) {
		p->blk_e2e = false;
		pub_resume(w, p);
	}
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	lg_client_t *c = obj;
	lg_worker_t *w = c->w;
	uint64_t now = now_ns(), ts;
	const unsigned char *pl = msg->payload;
	uint32_t pub, seq;

	(void)m;
	c->received++;
	w->received++;
	AINC(w->a_recv);
	if (!w->first_recv)
		w->first_recv = now;
	w->last_recv = now;
	if (msg->payloadlen < LG_HDR_LEN || !pl) {
		w->foreign++;
		return;
	}
	ts = rd64(pl);
	pub = rd32(pl + 8);
	seq = rd32(pl + 12);
	if (ts == 0 || ts > now || now - ts > 3600ull * 1000000000ull ||
	    (G.cfg.mode != MODE_SUB && (pub >> LG_PUB_BITS) != G.run_tag)) {
		/* not ours: other format, other machine, or another run
		 * (e.g. a backlog the broker still delivers) */
		w->foreign++;
		return;
	}
	hist_add(&w->e2e, now - ts);
	if (now - ts > atomic_load_explicit(&w->a_latmax, memory_order_relaxed))
		atomic_store_explicit(&w->a_latmax, now - ts, memory_order_relaxed);
	if (G.cfg.mode == MODE_CMD) {
		if (G.ntargets > 0) {
			int t = G.cfg.target >= 0 ? 0 : (int)(seq % (uint32_t)G.ntargets);

			if (G.targets[t] != c)
				w->misrouted++;
		}
		if (seq < G.cmd_nbits) {
			uint64_t b = 1ull << (seq & 63);
			uint64_t old = atomic_fetch_or_explicit(&G.cmd_bits[seq >> 6], b, memory_order_relaxed);

			if (old & b)
				atomic_fetch_add_explicit(&G.cmd_dup, 1, memory_order_relaxed);
			else
				atomic_fetch_add_explicit(&G.cmd_delivered, 1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&G.cmd_delivered, 1, memory_order_relaxed);
			w->untracked++;
		}
		return;
	}
	pair_track(w, c, pub, seq);
	if (G.cfg.e2e_window)
		e2e_delivered(w, pub & LG_PUB_MASK, seq);
}

/* ---------------- connecting ---------------- */

static void start_connect(lg_worker_t *w, lg_client_t *c)
{
	struct epoll_event ev;
	int rc, err;

	c->cs = w->cs;
	c->cs->attempted++;
	AINC(w->a_started);
	c->state = CS_CONNECTING;
	c->t_start = now_ns();
	if (!c->cs->first_start || c->t_start < c->cs->first_start)
		c->cs->first_start = c->t_start;
	errno = 0;
	rc = mosquitto_connect_async(c->m, G.cfg.host, G.cfg.port, G.cfg.keepalive);
	err = errno;
	c->fd = mosquitto_socket(c->m);
	if (c->fd >= 0) {
		rb_attach(c->fd, c);
		AINC(w->a_open);
		ev.events = EPOLLIN | (mosquitto_want_write(c->m) ? EPOLLOUT : 0);
		ev.data.ptr = c;
		c->out_reg = (ev.events & EPOLLOUT) != 0;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
			/* should not happen; make libmosquitto drop it */
			err = errno;
			shutdown(c->fd, SHUT_RDWR);
			rc = MOSQ_ERR_ERRNO;
		}
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		c->cs->errors++;
		errkind_add(c->cs, rc_kind(rc, err));
		settle_fail(w, c);
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR); /* epoll reports HUP; the read closes it */
	}
}

/* ---------------- publishing ---------------- */

static void publish_one(lg_worker_t *w, lg_client_t *c)
{
	const char *topic = c->topic;
	uint32_t seq = c->sent;
	uint64_t t;
	int mid = 0, rc;

	if (!topic) {
		const lg_client_t *who = c;

		if (c->role == ROLE_BIZ && G.ntargets > 0)
			who = G.targets[G.cfg.target >= 0 ? 0 : (int)(seq % (uint32_t)G.ntargets)];
		if (tmpl_expand(&G.cfg.t_topic, who, seq, w->topic, sizeof(w->topic)) < 0) {
			w->pub_errors++;
			c->send_done = true;
			return;
		}
		topic = w->topic;
	}
	t = now_ns();
	wr64((unsigned char *)w->payload, t);
	wr32((unsigned char *)w->payload + 8, G.run_tag << LG_PUB_BITS | ((uint32_t)c->idx & LG_PUB_MASK));
	wr32((unsigned char *)w->payload + 12, seq);
	rc = mosquitto_publish(c->m, &mid, topic, G.cfg.payload_size, w->payload, G.cfg.qos, G.cfg.retain);
	if (rc != MOSQ_ERR_SUCCESS) {
		/* MOSQ_ERR_NO_CONN etc.: on_disconnect has run or will run */
		w->pub_errors++;
		c->send_done = true;
		return;
	}
	c->sent++;
	w->sent++;
	AINC(w->a_sent);
	if (!w->first_send)
		w->first_send = t;
	w->last_send = t;
	if (G.cfg.qos > 0) {
		uint32_t slot = (uint32_t)mid & G.cfg.ack_mask;

		c->inflight++;
		c->ack_mid[slot] = (uint16_t)mid;
		c->ack_ts[slot] = t;
	}
}

static uint64_t pub_limit(const lg_client_t *c)
{
	(void)c;
	return G.cfg.count > 0 ? (uint64_t)G.cfg.count : UINT64_MAX;
}

/* Sends what is due for c; leaves c in the heap if it has more to send. */
static void pub_send(lg_worker_t *w, lg_client_t *c, uint64_t now)
{
	uint64_t end = atomic_load_explicit(&G.run_end, memory_order_relaxed);
	uint64_t period = G.cfg.pub_rate > 0 ? (uint64_t)(1e9 / G.cfg.pub_rate) : 0;
	int burst = 0;

	for (;;) {
		if (c->fd < 0 || c->state != CS_READY) {
			pub_mark_done(w, c);
			return;
		}
		if (c->send_done || c->sent >= pub_limit(c) || now >= end ||
		    (period && c->next_due >= end)) {
			c->send_done = true;
			if (c->inflight == 0 || G.cfg.qos == 0)
				pub_mark_done(w, c);
			return;
		}
		if (G.cfg.qos > 0 && c->inflight >= (uint32_t)G.cfg.inflight) {
			c->blk_inflight = true;
			return;
		}
		if (G.cfg.e2e_window && c->sent - c->e2e_next >= (uint32_t)G.cfg.e2e_window) {
			c->blk_e2e = true;
			c->blk_e2e_t = now;
			return;
		}
		if (mosquitto_want_write(c->m)) {
			c->blk_write = true;
			update_interest(w, c);
			return;
		}
		if (period && c->next_due > now) {
			heap_push(w, c);
			return;
		}
		if (burst >= PUB_BURST) {
			if (!period)
				c->next_due = now;
			heap_push(w, c);
			return;
		}
		publish_one(w, c);
		burst++;
		if (period)
			c->next_due += period;
	}
}

static void pub_resume(lg_worker_t *w, lg_client_t *c)
{
	if (!w->publishing || c->send_done || c->blk_write || c->blk_inflight || c->blk_e2e)
		return;
	if (G.cfg.pub_rate <= 0)
		c->next_due = now_ns();
	heap_push(w, c);
}

/* ---------------- I/O ---------------- */

static void handle_io(lg_worker_t *w, lg_client_t *c, uint32_t events)
{
	int i, rc;

	if (c->fd < 0)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		for (i = 0; i < READ_BUDGET; i++) {
			errno = 0;
			rc = mosquitto_loop_read(c->m, 1);
			if (rc != MOSQ_ERR_SUCCESS || c->fd < 0)
				break; /* on_disconnect has run */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
		}
		if (c->fd < 0)
			return;
		/* bytes buffered by read() wake no epoll: come back next turn */
		if (!c->in_pend && rb_pending(c)) {
			c->in_pend = true;
			w->pend[w->npend++] = c;
		}
	}
	/* Packets queued from inside callbacks (SUBSCRIBE after CONNACK, acks)
	 * are not written by libmosquitto: write them now. */
	if ((events & EPOLLOUT) || mosquitto_want_write(c->m)) {
		mosquitto_loop_write(c->m, 1);
		if (c->fd < 0)
			return;
	}
	if (c->blk_write && !mosquitto_want_write(c->m)) {
		c->blk_write = false;
		pub_resume(w, c);
	}
	update_interest(w, c);
}

static void sweep(lg_worker_t *w, uint64_t now)
{
	uint64_t tmo = (uint64_t)(G.cfg.connect_timeout * 1e9);
	int r, i;

	for (r = 0; r < ROLE_COUNT; r++) {
		for (i = 0; i < w->rn[r]; i++) {
			lg_client_t *c = w->rl[r][i];

			if ((c->state == CS_CONNECTING || c->state == CS_SUBSCRIBING) &&
			    now > c->t_start + tmo) {
				if (c->cs) {
					c->cs->timeouts++;
				}
				settle_fail(w, c);
				if (c->fd >= 0)
					shutdown(c->fd, SHUT_RDWR);
			} else if (c->fd >= 0 && c->state == CS_READY) {
				mosquitto_loop_misc(c->m);
				update_interest(w, c);
			}
			if (w->disconnecting && c->fd >= 0 && now - w->disc_t0 > 5000000000ull)
				shutdown(c->fd, SHUT_RDWR);
			/* --e2e-window: nothing delivered for 200 ms means the window's
			 * messages are lost (QoS 0); at the end, stop waiting. */
			if (c->blk_e2e && (now - c->blk_e2e_t > 200000000ull ||
					   now >= atomic_load_explicit(&G.run_end, memory_order_relaxed))) {
				if (now < atomic_load_explicit(&G.run_end, memory_order_relaxed))
					w->e2e_stalls++;
				c->e2e_next = c->sent;
				c->blk_e2e = false;
				pub_resume(w, c);
			}
		}
	}
}

/* Executes the op the main thread published; returns false on OP_EXIT. */
static bool start_op(lg_worker_t *w)
{
	int r, i, kind = G.op_kind;
	uint64_t now = now_ns();

	switch (kind) {
	case OP_CONNECT:
		w->disconnecting = false;
		w->conn_role = G.op_role;
		w->conn_next = 0;
		w->conn_t0 = G.op_t0;
		w->entry = G.op_entry;
		w->cs = calloc(1, sizeof(*w->cs));
		if (!w->cs) {
			fprintf(stderr, "loadgen: out of memory\n");
			exit(1);
		}
		hist_init(&w->cs->lat);
		w->cs->role = G.op_role;
		w->cs->round = G.op_round;
		w->cst[w->entry] = w->cs;
		w->conn_active = w->rn[w->conn_role] > 0;
		break;
	case OP_PUBLISH: {
		int role = G.cfg.mode == MODE_CMD ? ROLE_BIZ : ROLE_PUB;
		uint64_t period = G.cfg.pub_rate > 0 ? (uint64_t)(1e9 / G.cfg.pub_rate) : 0;
		int np = G.nrole[role] > 0 ? G.nrole[role] : 1;

		w->publishing = true;
		for (i = 0; i < w->rn[role]; i++) {
			lg_client_t *c = w->rl[role][i];

			c->sent = 0;
			c->inflight = 0;
			c->send_done = c->pub_done = c->blk_write = c->blk_inflight = c->blk_e2e = false;
			c->e2e_next = 0;
			if (c->state != CS_READY || c->fd < 0) {
				pub_mark_done(w, c);
				continue;
			}
			/* spread paced publishers over one period */
			c->next_due = G.run_t0 + (period ? period * (uint64_t)c->idx / (uint64_t)np : 0);
			heap_push(w, c);
		}
		break;
	}
	case OP_DISCONNECT:
		w->publishing = false;
		w->conn_active = false;
		w->disconnecting = true;
		w->disc_t0 = now;
		w->heap_n = 0;
		for (r = 0; r < ROLE_COUNT; r++) {
			for (i = 0; i < w->rn[r]; i++) {
				lg_client_t *c = w->rl[r][i];

				c->heap_pos = -1;
				if (c->fd < 0)
					continue;
				if (c->state == CS_READY) {
					c->state = CS_CLOSING;
					if (mosquitto_disconnect(c->m) != MOSQ_ERR_SUCCESS && c->fd >= 0)
						shutdown(c->fd, SHUT_RDWR);
					update_interest(w, c);
				} else {
					if (c->state != CS_FAILED)
						c->state = CS_CLOSING;
					shutdown(c->fd, SHUT_RDWR);
				}
			}
		}
		break;
	case OP_EXIT:
		return false;
	}
	atomic_store_explicit(&w->a_opack, w->op_gen, memory_order_release);
	return true;
}

static int wait_events(lg_worker_t *w, struct epoll_event *ev, int max, uint64_t wait_ns)
{
	static _Atomic int no_pwait2;
	struct timespec ts;
	int n;

	if (!no_pwait2) {
		ts.tv_sec = (time_t)(wait_ns / 1000000000ull);
		ts.tv_nsec = (long)(wait_ns % 1000000000ull);
		n = epoll_pwait2(w->ep, ev, max, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		no_pwait2 = 1;
	}
	return epoll_wait(w->ep, ev, max, (int)((wait_ns + 999999) / 1000000));
}

static void *worker_main(void *arg)
{
	lg_worker_t *w = arg;
	struct epoll_event ev[512];
	int n, i;

	for (;;) {
		int gen = atomic_load_explicit(&G.op_gen, memory_order_acquire);
		uint64_t now, wait = MAX_WAIT_NS;

		if (gen != w->op_gen) {
			w->op_gen = gen;
			if (!start_op(w))
				break;
		}
		now = now_ns();

		/* connect schedule */
		if (w->conn_active) {
			int role = w->conn_role, batch = 0;
			double rate = role == ROLE_BIZ ? 0 : G.cfg.conn_rate;
			/* Closed loop: the window is split over the threads, and a
			 * settle (CONNACK, SUBACK, failure, timeout) reopens a slot. */
			uint64_t window = G.cfg.conn_window > 0
				? (uint64_t)((G.cfg.conn_window + G.cfg.threads - 1) / G.cfg.threads) : 0;

			while (w->conn_next < w->rn[role]) {
				lg_client_t *c = w->rl[role][w->conn_next];

				if (window && atomic_load_explicit(&w->a_started, memory_order_relaxed)
						- atomic_load_explicit(&w->a_settled, memory_order_relaxed) >= window)
					break;

				if (rate > 0) {
					uint64_t due = w->conn_t0 + (uint64_t)((double)c->idx * 1e9 / rate);

					if (due > now) {
						if (due - now < wait)
							wait = due - now;
						break;
					}
				} else if (batch >= CONNECT_BATCH) {
					wait = 0;
					break;
				}
				start_connect(w, c);
				w->conn_next++;
				batch++;
			}
			if (w->conn_next >= w->rn[role])
				w->conn_active = false;
			now = now_ns();
		}

		if (now >= w->next_sweep) {
			sweep(w, now);
			w->next_sweep = now + SWEEP_NS;
		}

		/* publishers that are due */
		if (w->publishing) {
			int turns = 0;

			while (w->heap_n > 0 && w->heap[0]->next_due <= now && turns < 256) {
				lg_client_t *c = w->heap[0];

				heap_remove(w, c);
				pub_send(w, c, now);
				turns++;
			}
			if (w->heap_n > 0) {
				uint64_t d = w->heap[0]->next_due;

				wait = d <= now ? 0 : (d - now < wait ? d - now : wait);
			}
		}

		if (w->npend)
			wait = 0;
		n = wait_events(w, ev, 512, wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("loadgen: epoll_wait");
			exit(1);
		}
		for (i = 0; i < n; i++) {
			if (!ev[i].data.ptr) {
				uint64_t v;

				if (read(w->evfd, &v, sizeof(v)) < 0) {
					/* nothing: the op generation is what matters */
				}
				continue;
			}
			handle_io(w, ev[i].data.ptr, ev[i].events);
		}
		if (w->npend) {
			int np = w->npend;

			for (i = 0; i < np; i++) {
				lg_client_t *c = w->pend[i];

				c->in_pend = false;
				handle_io(w, c, EPOLLIN);
			}
			memmove(w->pend, w->pend + np, (size_t)(w->npend - np) * sizeof(*w->pend));
			w->npend -= np;
		}
	}
	return NULL;
}

/* ---------------- setup / ops ---------------- */

static char *xstrdup(const char *s)
{
	char *r = strdup(s ? s : "");

	if (!r) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(1);
	}
	return r;
}

static char *expand_cred(const tmpl_t *t, const lg_client_t *c)
{
	char buf[512];

	if (!t->src)
		return NULL;
	if (tmpl_expand(t, c, 0, buf, sizeof(buf)) < 0) {
		fprintf(stderr, "loadgen: credential template too long\n");
		exit(1);
	}
	return xstrdup(buf);
}

static void set_identity(lg_client_t *c, int cred_index)
{
	lg_config_t *cfg = &G.cfg;
	char id[256];
	const char *rc = "";
	const char *slash;

	switch (c->role) {
	case ROLE_PUB: rc = "p"; break;
	case ROLE_SUB: rc = "s"; break;
	case ROLE_BIZ: rc = "cmd"; break;
	default: rc = ""; break;
	}
	if (c->role == ROLE_BIZ)
		snprintf(id, sizeof(id), "%s%s", cfg->client_id_prefix, rc);
	else
		snprintf(id, sizeof(id), "%s%s%d", cfg->client_id_prefix, rc, c->idx);
	c->id = xstrdup(id);

	if (c->role == ROLE_BIZ) {
		c->user = cfg->cmd_user ? xstrdup(cfg->cmd_user) : NULL;
		c->pass = cfg->cmd_pass ? xstrdup(cfg->cmd_pass) : NULL;
	} else if (c->role == ROLE_SUB && cfg->sub_user) {
		c->user = expand_cred(&cfg->t_subuser, c);
		c->pass = expand_cred(&cfg->t_subpass, c);
	} else if (cfg->ncreds > 0) {
		lg_cred_t *cr = &cfg->creds[cred_index % cfg->ncreds];

		c->user = xstrdup(cr->user);
		c->pass = cr->pass ? xstrdup(cr->pass) : NULL;
	} else if (cfg->user) {
		c->user = expand_cred(&cfg->t_user, c);
		c->pass = expand_cred(&cfg->t_pass, c);
	}
	if (c->user) {
		slash = strchr(c->user, '/');
		c->p = c->user;
		if (slash) {
			c->plen = (uint16_t)(slash - c->user);
			c->d = slash + 1;
			c->dlen = (uint16_t)strlen(slash + 1);
		} else {
			c->plen = (uint16_t)strlen(c->user);
			c->d = "";
			c->dlen = 0;
		}
	} else {
		c->p = c->d = c->id;
		c->plen = c->dlen = (uint16_t)strlen(c->id);
	}
}

static int make_mosq(lg_client_t *c)
{
	lg_config_t *cfg = &G.cfg;

	c->m = mosquitto_new(c->id, cfg->clean ? true : false, c);
	if (!c->m) {
		fprintf(stderr, "loadgen: mosquitto_new(%s) failed: %s\n", c->id, strerror(errno));
		return -1;
	}
	mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, cfg->protocol);
	mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, cfg->nodelay ? 1 : 0);
	if (cfg->receive_max > 0)
		mosquitto_int_option(c->m, MOSQ_OPT_RECEIVE_MAXIMUM, cfg->receive_max);
	if (is_publisher(c) && cfg->qos > 0)
		mosquitto_int_option(c->m, MOSQ_OPT_SEND_MAXIMUM, cfg->inflight > 65535 ? 65535 : cfg->inflight);
	if (c->user && mosquitto_username_pw_set(c->m, c->user, c->pass) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "loadgen: bad username for client %s\n", c->id);
		return -1;
	}
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_disconnect_callback_set(c->m, on_disconnect);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_message_callback_set(c->m, on_message);
	mosquitto_publish_v5_callback_set(c->m, on_publish);
	return 0;
}

int engine_setup(void)
{
	lg_config_t *cfg = &G.cfg;
	int total = 0, r, i, k = 0, wi;
	int order[ROLE_COUNT] = { ROLE_SUB, ROLE_DEV, ROLE_PUB, ROLE_BIZ };

	for (r = 0; r < ROLE_COUNT; r++)
		total += G.nrole[r];
	G.nclients = total;
	G.clients = calloc((size_t)total, sizeof(lg_client_t));
	G.w = calloc((size_t)G.nw, sizeof(lg_worker_t));
	if (!G.clients || !G.w)
		return -1;
	for (wi = 0; wi < G.nw; wi++) {
		lg_worker_t *w = &G.w[wi];
		struct epoll_event ev;

		w->id = wi;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->ep < 0 || w->evfd < 0) {
			perror("loadgen: epoll/eventfd");
			return -1;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = NULL;
		epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &ev);
		w->payload = calloc(1, (size_t)cfg->payload_size + 1);
		if (!w->payload)
			return -1;
		for (i = LG_HDR_LEN; i < cfg->payload_size; i++)
			w->payload[i] = (char)('a' + i % 26);
		hist_init(&w->ack_lat);
		hist_init(&w->e2e);
		for (r = 0; r < ROLE_COUNT; r++) {
			w->rl[r] = calloc((size_t)G.nrole[r] / (size_t)G.nw + 2, sizeof(lg_client_t *));
			if (!w->rl[r])
				return -1;
		}
	}

	g_block_sockpair = !cfg->keep_sockpair;
	for (r = 0; r < ROLE_COUNT; r++) {
		int role = order[r];

		for (i = 0; i < G.nrole[role]; i++) {
			lg_client_t *c = &G.clients[k++];
			lg_worker_t *w = &G.w[i % G.nw];
			int cred_index = i;

			c->role = role;
			c->idx = i;
			c->fd = -1;
			c->heap_pos = -1;
			c->w = w;
			/* in pub mode, subscribers without --sub-user take the
			 * credential lines after the publishers' */
			if (role == ROLE_SUB && cfg->mode == MODE_PUB)
				cred_index = G.nrole[ROLE_PUB] + i;
			set_identity(c, cred_index);
			if (make_mosq(c) < 0) {
				g_block_sockpair = 0;
				return -1;
			}
			if (is_publisher(c)) {
				if (!cfg->t_topic.has_seq && !(role == ROLE_BIZ && cfg->t_topic.per_client)) {
					char buf[1024];

					if (tmpl_expand(&cfg->t_topic, c, 0, buf, sizeof(buf)) < 0)
						return -1;
					c->topic = xstrdup(buf);
				}
				if (cfg->qos > 0) {
					c->ack_ts = calloc(cfg->ack_mask + 1, sizeof(uint64_t));
					c->ack_mid = calloc(cfg->ack_mask + 1, sizeof(uint16_t));
					if (!c->ack_ts || !c->ack_mid)
						return -1;
				}
			}
			w->rl[role][w->rn[role]++] = c;
		}
	}
	g_block_sockpair = 0;
	if (cfg->read_buffer) {
		struct rlimit rl;
		long n = (long)total * 4 + 1024;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < n)
			n = (long)rl.rlim_cur;
		g_rbo = calloc((size_t)n, sizeof(*g_rbo));
		if (!g_rbo)
			return -1;
		g_rb_n = (int)n;
	}
	for (wi = 0; wi < G.nw; wi++) {
		lg_worker_t *w = &G.w[wi];
		int np = w->rn[ROLE_PUB] + w->rn[ROLE_BIZ];

		int nc = 0;

		for (r = 0; r < ROLE_COUNT; r++)
			nc += w->rn[r];
		w->heap = calloc((size_t)np + 1, sizeof(lg_client_t *));
		w->pend = calloc(2 * (size_t)nc + 1, sizeof(lg_client_t *));
		if (!w->heap || !w->pend)
			return -1;
	}
	return 0;
}

void engine_start(void)
{
	sigset_t all, old;
	int i;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < G.nw; i++) {
		if (pthread_create(&G.w[i].thr, NULL, worker_main, &G.w[i]) != 0) {
			perror("loadgen: pthread_create");
			exit(1);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void engine_op(int kind, int role, int entry, int round)
{
	int gen = atomic_load(&G.op_gen) + 1, i;
	uint64_t one = 1;

	G.op_kind = kind;
	G.op_role = role;
	G.op_entry = entry;
	G.op_round = round;
	G.op_t0 = now_ns();
	atomic_store_explicit(&G.op_gen, gen, memory_order_release);
	for (i = 0; i < G.nw; i++) {
		if (write(G.w[i].evfd, &one, sizeof(one)) < 0) {
			/* the worker wakes up within 100 ms anyway */
		}
	}
	if (kind == OP_EXIT)
		return;
	/* ops must not overtake each other: wait until every worker took it */
	for (i = 0; i < G.nw; i++) {
		while (atomic_load_explicit(&G.w[i].a_opack, memory_order_acquire) != gen) {
			struct timespec ts = { 0, 200000 };

			nanosleep(&ts, NULL);
		}
	}
}

void engine_join(void)
{
	int i;

	for (i = 0; i < G.nw; i++)
		pthread_join(G.w[i].thr, NULL);
}

void engine_cleanup(void)
{
	int i;

	for (i = 0; i < G.nclients; i++) {
		lg_client_t *c = &G.clients[i];
		uint32_t s;

		if (c->m)
			mosquitto_destroy(c->m);
		free(c->id);
		free(c->user);
		free(c->pass);
		free(c->topic);
		free(c->ack_ts);
		free(c->ack_mid);
		for (s = 0; s < c->pairs.cap; s++)
			free(c->pairs.slot[s].bits);
		free(c->pairs.slot);
		free(c->rb_heap);
	}
	free(G.clients);
	for (i = 0; i < G.nw; i++) {
		int r;

		for (r = 0; r < ROLE_COUNT; r++)
			free(G.w[i].rl[r]);
		for (r = 0; r < 64; r++)
			free(G.w[i].cst[r]);
		free(G.w[i].heap);
		free(G.w[i].pend);
		free(G.w[i].payload);
		close(G.w[i].ep);
		close(G.w[i].evfd);
	}
	free(G.w);
	if (g_rbo) {
		void *p = (void *)g_rbo;

		g_rbo = NULL;
		free(p);
	}
}
