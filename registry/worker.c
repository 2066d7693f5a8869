/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The registry worker thread (see worker.h).
 *
 * Memory here is libc/libbson, never mosquitto_malloc: requests are
 * allocated on the broker thread but freed on the worker, results the
 * other way round, and the worker may not call broker functions. The state
 * is shared by two references (broker side, thread) so that a thread stuck
 * in the driver at shutdown can be detached and clean up after itself.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "registry/worker.h"
#include "core/strmap.h"
#include "registry/username.h"
#include "core/clock.h"
#include "core/logq.h"

struct refetch_req {
	struct ih_strmap_node node;
	struct refetch_req *next;
	bool forced;
	bool preload;                 /* counted in preload_outstanding */
	char username[];
};

struct registry_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;          /* new work, probe request or stop */
	pthread_cond_t space;         /* results taken, or stop */
	int refs;
	bool stop;

	/* probing: set while the registry is (or may be) down */
	bool probing;
	bool episode_reported;        /* this failure episode is in health.err already */
	int64_t next_probe_real_ms;
	uint64_t tickets;             /* last ticket handed out (see registry_worker_health) */

	struct ih_strmap pending;   /* username -> refetch_req */
	struct refetch_req *head, *tail;
	size_t pending_max;

	struct registry_worker_result *res_head, *res_tail;
	size_t res_count, res_max;

	struct registry_worker_health health;
	struct ih_logq logq;

	/* start-up preload (registry_worker_preload) */
	bool preload_requested;
	bool scan_pending;            /* "auth_preload all": scan before anything else */
	size_t scan_max;
	const char **fallback;        /* libc copies: the usernames to fetch if the scan cannot serve */
	size_t fallback_n;
	size_t preload_outstanding;   /* preload requests not answered yet */

	/* read-only after start */
	struct auth_source_factory factory;
	int64_t (*now_ms)(void);
	int64_t probe_ms;
	int64_t probe_budget_ms;
	size_t batch;
	int64_t join_ms;
	char *field_username;
	atomic_int notify_fd;         /* eventfd written when there is news; -1: none */
};

static void abs_deadline(clockid_t clk, int64_t in_ms, struct timespec *ts)
{
	clock_gettime(clk, ts);
	ts->tv_sec += in_ms / 1000;
	ts->tv_nsec += (in_ms % 1000) * 1000000;
	if(ts->tv_nsec >= 1000000000){
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void free_results(struct registry_worker_result *r)
{
	while(r){
		struct registry_worker_result *next = r->next;
		registry_worker_result_free(r);
		r = next;
	}
}

void registry_worker_result_free(struct registry_worker_result *r)
{
	if(r == NULL) return;
	free(r->username);
	if(r->doc) bson_destroy(r->doc);
	free(r);
}

static void free_fallback(struct registry_worker *w)
{
	for(size_t i = 0; i < w->fallback_n; i++) free((char *)w->fallback[i]);
	free(w->fallback);
	w->fallback = NULL;
	w->fallback_n = 0;
}

static void worker_free(struct registry_worker *w)
{
	struct refetch_req *q, *next;

	for(q = w->head; q; q = next){
		next = q->next;
		free(q);
	}
	free_fallback(w);
	free_results(w->res_head);
	ih_strmap_cleanup(&w->pending);
	ih_logq_cleanup(&w->logq);
	pthread_cond_destroy(&w->space);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->field_username);
	free(w);
}

/* Drop one reference; the last one frees. */
static void worker_release(struct registry_worker *w)
{
	bool last;

	pthread_mutex_lock(&w->lock);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if(last) worker_free(w);
}

/* ------------------------------------------------------------------ */
/* worker thread                                                        */

/* Tell the process that carries this worker (registry/helper.c) that
 * results, health or log lines are waiting. A full eventfd counter is
 * news already: the write's result does not matter. */
static void notify(struct registry_worker *w)
{
	uint64_t one = 1;
	int fd = atomic_load(&w->notify_fd);

	if(fd >= 0 && write(fd, &one, sizeof(one)) < 0){
		/* EAGAIN: the counter is saturated, the reader is woken anyway */
	}
}

/* Called with the lock held. */
static void note_failure(struct registry_worker *w, const char *err)
{
	w->probing = true;
	w->next_probe_real_ms = ih_mono_ms() + w->probe_ms;
	if(w->episode_reported) return;
	w->episode_reported = true;
	w->health.err_seq++;
	snprintf(w->health.err, sizeof(w->health.err), "%s", err);
}

static uint64_t take_ticket(struct registry_worker *w)
{
	uint64_t t;

	pthread_mutex_lock(&w->lock);
	t = ++w->tickets;
	pthread_mutex_unlock(&w->lock);
	return t;
}

static void probe_once(struct registry_worker *w, struct auth_source **src)
{
	char err[512] = "";
	uint64_t ticket = take_ticket(w);
	int64_t started = ih_mono_ms(), took;
	int rc = 0;

	if(*src == NULL) rc = w->factory.create(w->factory.ctx, false, src, err, sizeof(err));
	if(rc == 0) rc = (*src)->ops->probe(*src, err, sizeof(err));
	took = ih_mono_ms() - started;
	/* The worker's client waits longer than the broker thread's; a probe
	 * answered only after mongo_timeout would bring the registry "up" for
	 * lookups that then time out, over and over. */
	if(rc == 0 && took > w->probe_budget_ms){
		snprintf(err, sizeof(err), "registry answers too slowly (probe took %lld ms, mongo_timeout is %lld ms)",
				(long long)took, (long long)w->probe_budget_ms);
		rc = -1;
	}
	pthread_mutex_lock(&w->lock);
	if(rc == 0){
		w->probing = false;
		w->episode_reported = false;
		w->health.last_ok_probe = ticket;
	}else{
		note_failure(w, err);
	}
	pthread_mutex_unlock(&w->lock);
	notify(w);
	if(rc && *src){
		/* A fresh client next time: the old one would sit out the
		 * driver's reconnect cool-down. */
		(*src)->ops->destroy(*src);
		*src = NULL;
	}
}

/* Called with the lock held: up to `batch` requests, removed from the queue. */
static struct refetch_req *take_batch(struct registry_worker *w, size_t *n)
{
	struct refetch_req *first = w->head, *q = w->head, *last = NULL;
	size_t count = 0;

	while(q && count < w->batch){
		ih_strmap_remove(&w->pending, &q->node);
		last = q;
		q = q->next;
		count++;
	}
	if(last) last->next = NULL;
	w->head = q;
	if(q == NULL) w->tail = NULL;
	*n = count;
	return first;
}

/* Called with the lock held: put a failed batch back at the front, merging
 * with anything queued for the same usernames meanwhile. */
static void requeue(struct registry_worker *w, struct refetch_req *list)
{
	struct refetch_req *q, *next, *front = NULL, *front_tail = NULL;

	for(q = list; q; q = next){
		struct ih_strmap_node *dup;
		next = q->next;
		q->next = NULL;
		dup = ih_strmap_find(&w->pending, q->username, strlen(q->username));
		if(dup){
			struct refetch_req *d = ih_container_of(dup, struct refetch_req, node);
			d->forced |= q->forced;
			/* The outstanding preload count moves with the request. */
			if(q->preload && d->preload) w->preload_outstanding--;
			d->preload |= q->preload;
			free(q);
			continue;
		}
		ih_strmap_insert(&w->pending, &q->node, q->username, strlen(q->username));
		if(front_tail) front_tail->next = q;
		else front = q;
		front_tail = q;
	}
	if(front == NULL) return;
	front_tail->next = w->head;
	w->head = front;
	if(w->tail == NULL) w->tail = front_tail;
}

struct batch_item {
	struct ih_strmap_node node;
	struct refetch_req *req;
	bson_t *doc;
};

struct batch_ctx {
	struct ih_strmap map;
	const char *field_username;
};

static void collect_doc(void *ud, const bson_t *doc)
{
	struct batch_ctx *ctx = ud;
	struct ih_strmap_node *n;
	struct batch_item *item;
	bson_iter_t it;
	const char *u;
	uint32_t len;

	if(!bson_iter_init_find(&it, doc, ctx->field_username) || !BSON_ITER_HOLDS_UTF8(&it)) return;
	u = bson_iter_utf8(&it, &len);
	n = ih_strmap_find(&ctx->map, u, len);
	if(n == NULL) return;
	item = ih_container_of(n, struct batch_item, node);
	/* Duplicate registrations: the first document wins, as for lookups. */
	if(item->doc == NULL) item->doc = bson_copy(doc);
}

/* Called with the lock held; may wait for room. false when stopping.
 * *doc passes to the result (and is set to NULL) when one is posted. */
static bool post_result(struct registry_worker *w, const char *username, bson_t **doc, bool forced, bool preload,
		int64_t fetched_ms)
{
	struct registry_worker_result *r;

	while(w->res_count >= w->res_max && !w->stop){
		pthread_cond_wait(&w->space, &w->lock);
	}
	if(w->stop) return false;
	if(preload) w->health.preload_posted++;
	r = calloc(1, sizeof(*r));
	if(r == NULL || (r->username = strdup(username)) == NULL){
		free(r);
		/* Still counted as posted: the broker side must not wait for it. */
		if(preload) w->health.preload_posted--;
		ih_logq_push(&w->logq, MOSQ_LOG_ERR, "iothub: registry worker: out of memory, refetch of %s lost", username);
		return true;
	}
	r->doc = *doc; /* ownership passes to the result */
	*doc = NULL;
	r->forced = forced;
	r->preload = preload;
	r->fetched_ms = fetched_ms;
	if(w->res_tail) w->res_tail->next = r;
	else w->res_head = r;
	w->res_tail = r;
	if(w->res_count++ == 0) notify(w);
	return true;
}

static void run_batch(struct registry_worker *w, struct auth_source **src, struct refetch_req *list, size_t n)
{
	struct batch_ctx ctx;
	struct batch_item *items = calloc(n, sizeof(*items));
	const char **names = calloc(n, sizeof(*names));
	struct refetch_req *q;
	char err[512] = "";
	int64_t started = w->now_ms();
	size_t i = 0;
	int rc = -1;

	ctx.field_username = w->field_username;
	if(items == NULL || names == NULL || ih_strmap_init(&ctx.map, calloc, free)){
		snprintf(err, sizeof(err), "out of memory");
		ctx.map.buckets = NULL;
		goto failed;
	}
	for(q = list; q; q = q->next, i++){
		items[i].req = q;
		names[i] = q->username;
		ih_strmap_insert(&ctx.map, &items[i].node, q->username, strlen(q->username));
	}
	if(*src == NULL && w->factory.create(w->factory.ctx, false, src, err, sizeof(err))) goto failed;
	rc = (*src)->ops->fetch(*src, names, n, collect_doc, &ctx, err, sizeof(err));
failed:
	pthread_mutex_lock(&w->lock);
	w->health.queries++;
	if(rc){
		w->health.errors++;
		note_failure(w, err);
		requeue(w, list);
		list = NULL;
	}else{
		for(i = 0; i < n; i++){
			struct refetch_req *req = items[i].req;
			if(req->preload) w->preload_outstanding--;
			if(!post_result(w, req->username, &items[i].doc, req->forced, req->preload, started)) break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	notify(w);

	if(rc && *src){
		(*src)->ops->destroy(*src);
		*src = NULL;
	}
	for(i = 0; items && i < n; i++){
		if(items[i].doc) bson_destroy(items[i].doc);
	}
	while(list){
		q = list->next;
		free(list);
		list = q;
	}
	if(ctx.map.buckets) ih_strmap_cleanup(&ctx.map);
	free(names);
	free(items);
}

/* Called with the lock held: queue the fallback usernames as preload requests. */
static size_t enqueue_fallback(struct registry_worker *w);

struct scan_ctx {
	bson_t **docs;
	size_t n, cap;
	bool oom;
};

static void collect_scan(void *ud, const bson_t *doc)
{
	struct scan_ctx *ctx = ud;

	if(ctx->n == ctx->cap){
		size_t cap = ctx->cap ? ctx->cap * 2 : 1024;
		bson_t **d = realloc(ctx->docs, cap * sizeof(*d));
		if(d == NULL){
			ctx->oom = true;
			return;
		}
		ctx->docs = d;
		ctx->cap = cap;
	}
	ctx->docs[ctx->n++] = bson_copy(doc);
}

/* "auth_preload all": the whole collection through one cursor, when it
 * holds at most scan_max devices; otherwise the connected list. */
static void run_scan(struct registry_worker *w, struct auth_source **src)
{
	struct scan_ctx ctx = {NULL, 0, 0, false};
	char err[512] = "";
	int64_t started = w->now_ms();
	int rc = -1;
	bool use_fallback = true;
	bson_iter_t it;

	if(*src == NULL && w->factory.create(w->factory.ctx, false, src, err, sizeof(err))) goto done;
	if((*src)->ops->scan == NULL){
		snprintf(err, sizeof(err), "this registry source cannot list every device");
		goto done;
	}
	rc = (*src)->ops->scan(*src, w->scan_max + 1, collect_scan, &ctx, err, sizeof(err));
	if(rc == 0 && ctx.oom){
		snprintf(err, sizeof(err), "out of memory");
		rc = -1;
	}
	if(rc == 0 && ctx.n > w->scan_max){
		snprintf(err, sizeof(err), "the registry holds more than auth_preload_max (%zu) devices", w->scan_max);
		rc = -1;
	}else if(rc == 0){
		use_fallback = false;
	}
done:
	pthread_mutex_lock(&w->lock);
	w->health.queries++;
	if(use_fallback){
		ih_logq_push(&w->logq, MOSQ_LOG_NOTICE,
				"iothub: auth_preload all: %s; preloading the %zu devices connected at the last stop instead",
				err, w->fallback_n);
		enqueue_fallback(w);
	}else{
		for(size_t i = 0; i < ctx.n; i++){
			const char *u;
			if(!bson_iter_init_find(&it, ctx.docs[i], w->field_username) || !BSON_ITER_HOLDS_UTF8(&it)) continue;
			u = bson_iter_utf8(&it, NULL);
			if(ih_strmap_find(&w->pending, u, strlen(u))) continue; /* a refetch asked meanwhile answers it */
			if(!post_result(w, u, &ctx.docs[i], false, true, started)) break;
		}
	}
	free_fallback(w);
	w->scan_pending = false;
	pthread_mutex_unlock(&w->lock);
	notify(w);
	for(size_t i = 0; i < ctx.n; i++){
		if(ctx.docs[i]) bson_destroy(ctx.docs[i]);
	}
	free(ctx.docs);
}

static void *worker_main(void *arg)
{
	struct registry_worker *w = arg;
	struct auth_source *src = NULL;
	struct refetch_req *batch;
	struct timespec ts;
	size_t n;

	pthread_mutex_lock(&w->lock);
	while(!w->stop){
		if(w->probing){
			int64_t wait_ms = w->next_probe_real_ms - ih_mono_ms();
			if(wait_ms > 0){
				abs_deadline(CLOCK_MONOTONIC, wait_ms, &ts);
				pthread_cond_timedwait(&w->wake, &w->lock, &ts);
				continue;
			}
			pthread_mutex_unlock(&w->lock);
			probe_once(w, &src);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		if(w->scan_pending){
			pthread_mutex_unlock(&w->lock);
			run_scan(w, &src);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		if(w->head == NULL){
			pthread_cond_wait(&w->wake, &w->lock);
			continue;
		}
		batch = take_batch(w, &n);
		pthread_mutex_unlock(&w->lock);
		run_batch(w, &src, batch, n);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	if(src) src->ops->destroy(src);
	worker_release(w);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* broker side                                                          */

int registry_worker_start(struct registry_worker **out, const struct ih_config *cfg,
		const struct auth_source_factory *factory, int64_t (*now_ms)(void))
{
	struct registry_worker *w;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	/* libc: the thread may be the one to free it (see the file comment). */
	w = calloc(1, sizeof(*w));
	if(w == NULL) return -1;
	w->factory = *factory;
	w->now_ms = now_ms;
	w->probe_ms = cfg->mongo_probe_ms;
	w->probe_budget_ms = cfg->mongo_timeout_ms;
	w->batch = cfg->revalidate_batch ? cfg->revalidate_batch : 1;
	w->pending_max = cfg->auth_refetch_queue_max;
	/* Room for several batches: the broker takes results only when it
	 * ticks (about every 100 ms when idle), and a preload streams them. */
	w->res_max = 8 * w->batch < 4096 ? 4096 : 8 * w->batch;
	/* Longest a worker query can take: connect, then the worker's socket
	 * timeout (4x mongo_timeout, see source_mongo.c), plus slack. */
	w->join_ms = 6 * (int64_t)cfg->mongo_timeout_ms + 1000;
	/* Start-up probe: report an unreachable registry before a device waits on it. */
	w->probing = true;
	w->next_probe_real_ms = 0;
	w->refs = 2;
	atomic_init(&w->notify_fd, -1);
	w->field_username = strdup(cfg->field.username);
	if(w->field_username == NULL || ih_strmap_init(&w->pending, calloc, free) || ih_logq_init(&w->logq, "the registry worker")){
		ih_strmap_cleanup(&w->pending);
		free(w->field_username);
		free(w);
		return -1;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_cond_init(&w->space, &ca);
	pthread_condattr_destroy(&ca);

	/* Signals belong to the broker's main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if(rc){
		worker_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

bool registry_worker_stop(struct registry_worker *w)
{
	struct timespec ts;
	int rc;

	if(w == NULL) return true;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->wake);
	pthread_cond_broadcast(&w->space);
	pthread_mutex_unlock(&w->lock);

	abs_deadline(CLOCK_REALTIME, w->join_ms, &ts);
	rc = pthread_timedjoin_np(w->thread, NULL, &ts);
	if(rc == 0){
		ih_logq_drain(&w->logq);
		worker_release(w);
		return true;
	}
	mosquitto_log_printf(MOSQ_LOG_WARNING,
			"iothub: registry worker did not stop within %lldms (stuck in a registry call); leaving it behind",
			(long long)w->join_ms);
	pthread_detach(w->thread);
	worker_release(w);
	return false;
}

/* Called with the lock held. 0 queued or merged, -1 dropped. Preload
 * requests are bounded by auth_preload_max instead of the queue limit. */
static int enqueue(struct registry_worker *w, const char *username, size_t len, bool forced, bool preload)
{
	struct ih_strmap_node *n = ih_strmap_find(&w->pending, username, len);
	struct refetch_req *q;

	if(n){
		ih_container_of(n, struct refetch_req, node)->forced |= forced;
		return 0;
	}
	if(!preload && w->pending.count >= w->pending_max){
		w->health.dropped_requests++;
		return -1;
	}
	/* libc: the worker frees it. */
	q = malloc(sizeof(*q) + len + 1);
	if(q == NULL) return -1;
	memcpy(q->username, username, len + 1);
	q->forced = forced;
	q->preload = preload;
	if(preload) w->preload_outstanding++;
	q->next = NULL;
	ih_strmap_insert(&w->pending, &q->node, q->username, len);
	if(w->tail) w->tail->next = q;
	else w->head = q;
	w->tail = q;
	return 0;
}

size_t registry_worker_refetch(struct registry_worker *w, const char *const *usernames, size_t n, bool forced, size_t max_len)
{
	size_t dropped = 0, plen;

	pthread_mutex_lock(&w->lock);
	for(size_t i = 0; i < n; i++){
		if(usernames[i] == NULL || registry_username_check(usernames[i], max_len, &plen)) continue;
		if(enqueue(w, usernames[i], strlen(usernames[i]), forced, false)) dropped++;
	}
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return dropped;
}

static size_t enqueue_fallback(struct registry_worker *w)
{
	size_t dropped = 0;

	for(size_t i = 0; i < w->fallback_n; i++){
		if(enqueue(w, w->fallback[i], strlen(w->fallback[i]), false, true)) dropped++;
	}
	pthread_cond_signal(&w->wake);
	return dropped;
}

size_t registry_worker_preload(struct registry_worker *w, const char *const *usernames, size_t n, size_t scan_max,
		size_t max_len)
{
	size_t plen, kept = 0;
	const char **copy = calloc(n ? n : 1, sizeof(*copy));
	size_t dropped = 0;

	if(copy == NULL) return n;
	/* libc copies: the worker frees them (see the file comment). */
	for(size_t i = 0; i < n; i++){
		if(usernames[i] == NULL || registry_username_check(usernames[i], max_len, &plen)) continue;
		if((copy[kept] = strdup(usernames[i])) == NULL){
			dropped++;
			continue;
		}
		kept++;
	}
	pthread_mutex_lock(&w->lock);
	free_fallback(w);
	w->fallback = copy;
	w->fallback_n = kept;
	w->preload_requested = true;
	if(scan_max > 0){
		w->scan_max = scan_max;
		w->scan_pending = true;
		pthread_cond_signal(&w->wake);
	}else{
		dropped += enqueue_fallback(w);
		free_fallback(w);
	}
	pthread_mutex_unlock(&w->lock);
	return dropped;
}

size_t registry_worker_take_preload(struct registry_worker *w, char **out, size_t max)
{
	struct refetch_req *q, *prev = NULL, *next;
	size_t queued = 0, skip, n = 0;

	if(max == 0) return 0;
	pthread_mutex_lock(&w->lock);
	for(q = w->head; q; q = q->next){
		if(q->preload && !q->forced) queued++;
	}
	/* The tail: the worker reaches it last, so those devices are the
	 * likeliest to connect before their record arrives. */
	skip = queued > max ? queued - max : 0;
	for(q = w->head; q && n < max; q = next){
		next = q->next;
		if(!q->preload || q->forced || skip){
			if(q->preload && !q->forced) skip--;
			prev = q;
			continue;
		}
		if(prev) prev->next = next;
		else w->head = next;
		if(w->tail == q) w->tail = prev;
		ih_strmap_remove(&w->pending, &q->node);
		w->preload_outstanding--;
		/* The request's own block: the caller frees it with
		 * registry_worker_names_free (libc, see the file comment). */
		memmove(q, q->username, strlen(q->username) + 1);
		out[n++] = (char *)q;
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}

void registry_worker_names_free(char **names, size_t n)
{
	for(size_t i = 0; i < n; i++) free(names[i]);
}

uint64_t registry_worker_probe(struct registry_worker *w)
{
	uint64_t t;

	pthread_mutex_lock(&w->lock);
	if(!w->probing){
		w->probing = true;
		/* The broker just saw a failure; probing at once would see it too. */
		w->next_probe_real_ms = ih_mono_ms() + w->probe_ms;
		pthread_cond_signal(&w->wake);
	}
	t = w->tickets;
	pthread_mutex_unlock(&w->lock);
	return t;
}

struct registry_worker_result *registry_worker_results_detach(struct registry_worker_result **head,
		struct registry_worker_result **tail, size_t max, size_t *n)
{
	struct registry_worker_result *first = *head, *last = NULL, *r = *head;

	*n = 0;
	while(r && *n < max){
		last = r;
		r = r->next;
		(*n)++;
	}
	if(last) last->next = NULL;
	*head = r;
	if(r == NULL) *tail = NULL;
	return *n ? first : NULL;
}

struct registry_worker_result *registry_worker_take(struct registry_worker *w, size_t max)
{
	struct registry_worker_result *first;
	size_t n;

	pthread_mutex_lock(&w->lock);
	first = registry_worker_results_detach(&w->res_head, &w->res_tail, max, &n);
	w->res_count -= n;
	if(n) pthread_cond_signal(&w->space);
	pthread_mutex_unlock(&w->lock);
	return first;
}

void registry_worker_health(struct registry_worker *w, struct registry_worker_health *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->health;
	out->preload_done = w->preload_requested && !w->scan_pending && w->preload_outstanding == 0;
	pthread_mutex_unlock(&w->lock);
}

void registry_worker_drain_log(struct registry_worker *w)
{
	ih_logq_drain(&w->logq);
}

void registry_worker_drain_log_with(struct registry_worker *w, ih_logq_print_fn print, void *ud)
{
	ih_logq_drain_with(&w->logq, print, ud);
}

void registry_worker_set_notify(struct registry_worker *w, int fd)
{
	atomic_store(&w->notify_fd, fd);
}
