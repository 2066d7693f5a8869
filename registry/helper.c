/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Where the registry worker runs (helper.h): the broker side.
 *
 * Thread mode passes every call through to worker.c. Process mode keeps
 * the broker's view here: the results, health and log lines the child has
 * sent, read from the socket only when the shared counter moved. The
 * broker never blocks on the child: sends are non-blocking (a full socket
 * is drained, waited on for at most SEND_WAIT_MS, then the request is
 * dropped with a log line), and the two questions that need an answer
 * (take_preload, probe) wait at most RPC_WAIT_MS for the child's main
 * thread, which never waits on the registry.
 *
 * A replacement child starts with its own tickets and counters at zero:
 * the broker's view adds those of the earlier lives (base), so tickets
 * keep growing and counters keep counting.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "registry/helper.h"
#include "registry/helper_proto.h"
#include "core/clock.h"

#define SEND_WAIT_MS 100
#define RPC_WAIT_MS 500
#define STOP_WAIT_MS 1000
#define RESPAWN_MS 1000
#define ALIVE_CHECK_MS 1000

struct registry_helper {
	struct registry_worker *w;          /* thread mode; NULL in process mode */

	/* process mode; read-only after start */
	const struct ih_config *cfg;
	struct auth_source_factory factory;
	int64_t (*now_ms)(void);
	struct helper_shm *shm;             /* MAP_SHARED, reused by every life */
	char *buf;                          /* HELPER_MSG_MAX, libc */

	pid_t pid;                          /* 0: none, a replacement is due at respawn_at_ms;
	                                     * -1: reaped (stopping), or none ever (detached) */
	int fd;
	uint64_t seen;                      /* shm->posted when the socket was last read dry */
	int64_t respawn_at_ms, alive_check_ms;
	bool stopping;

	struct registry_worker_result *res_head, *res_tail;
	struct registry_worker_health health;   /* the broker's view */
	struct registry_worker_health base;     /* what earlier lives counted */
	uint64_t ticket_base;                   /* at least every ticket the broker got from earlier lives */
	uint64_t preload_received;              /* preload results read, every life */
	uint64_t preload_lost;                  /* of this life: HF_LOST */
	bool preload_orphaned;                  /* a child died: nobody will finish the preload */

	/* the answer rpc() waits for */
	int want;                               /* HM_NAMES, HM_TICKET or 0 */
	bool answered;
	char **names;                           /* HM_NAMES: libc copies, up to names_max */
	size_t names_n, names_max;
	uint64_t ticket;
};

static void child_gone(struct registry_helper *h, const char *why);

/* ------------------------------------------------------------------ */
/* reading the child                                                    */

static void on_health(struct registry_helper *h, const struct registry_worker_health *c)
{
	struct registry_worker_health *v = &h->health;

	v->last_ok_probe = c->last_ok_probe ? h->ticket_base + c->last_ok_probe : h->base.last_ok_probe;
	v->err_seq = h->base.err_seq + c->err_seq;
	if(c->err_seq) memcpy(v->err, c->err, sizeof(v->err));
	v->err[sizeof(v->err) - 1] = '\0';
	v->queries = h->base.queries + c->queries;
	v->errors = h->base.errors + c->errors;
	v->dropped_requests = h->base.dropped_requests + c->dropped_requests;
	v->preload_posted = h->base.preload_posted + c->preload_posted - h->preload_lost;
	v->preload_done = c->preload_done || h->preload_orphaned;
}

static void on_result(struct registry_helper *h, const struct helper_hdr *m, const char *p, size_t plen)
{
	struct registry_worker_result *r;
	size_t ulen = m->count;

	if(ulen + 1 > plen || p[ulen] != '\0') return;   /* our own child: never */
	if(m->flags & HF_PRELOAD) h->preload_received++;
	if(m->flags & HF_LOST){
		if(m->flags & HF_PRELOAD){
			h->preload_received--;
			h->preload_lost++;
		}
		return;
	}
	/* libc/libbson: freed by registry_worker_result_free, as the thread's. */
	r = calloc(1, sizeof(*r));
	if(r == NULL || (r->username = strdup(p)) == NULL
			|| ((m->flags & HF_DOC) && (r->doc = bson_new_from_data((const uint8_t *)p + ulen + 1, plen - ulen - 1)) == NULL)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: registry worker: out of memory, refetch of %s lost", p);
		registry_worker_result_free(r);
		if(m->flags & HF_PRELOAD){
			h->preload_received--;
			h->preload_lost++;
		}
		return;
	}
	r->forced = m->flags & HF_FORCED;
	r->preload = m->flags & HF_PRELOAD;
	r->fetched_ms = m->value;
	if(h->res_tail) h->res_tail->next = r;
	else h->res_head = r;
	h->res_tail = r;
}

static void on_names(struct registry_helper *h, const struct helper_hdr *m, const char *p, size_t plen)
{
	const char *names[64];
	size_t n = helper_names_parse(p, plen, names, sizeof(names) / sizeof(names[0]));

	(void)m;
	for(size_t i = 0; i < n && h->names_n < h->names_max; i++){
		char *copy = strdup(names[i]);   /* libc: registry_worker_names_free */
		if(copy) h->names[h->names_n++] = copy;
	}
}

static void dispatch(struct registry_helper *h, size_t len)
{
	struct helper_hdr m;
	const char *p = h->buf + sizeof(m);
	size_t plen = len - sizeof(m);

	if(len < sizeof(m)) return;
	memcpy(&m, h->buf, sizeof(m));
	switch(m.type){
		case HM_RESULT:
			on_result(h, &m, p, plen);
			break;
		case HM_HEALTH:
			if(plen == sizeof(struct registry_worker_health)){
				struct registry_worker_health c;
				unsigned char done;
				memcpy(&c, p, sizeof(c));
				/* A bool's byte is read as a byte: any value but 0 or 1
				 * would be undefined as a bool. */
				memcpy(&done, p + offsetof(struct registry_worker_health, preload_done), 1);
				c.preload_done = done != 0;
				on_health(h, &c);
			}
			break;
		case HM_LOG:
			if(plen > 0 && p[plen - 1] == '\0') mosquitto_log_printf((int)m.count, "%s", p);
			break;
		case HM_NAMES:
			if(h->want == HM_NAMES){
				on_names(h, &m, p, plen);
				h->answered = true;
			}
			break;
		case HM_TICKET:
			if(h->want == HM_TICKET){
				h->ticket = h->ticket_base + (uint64_t)m.value;
				h->answered = true;
			}
			break;
		default:
			break;
	}
}

/* Everything the socket holds now. */
static void read_dry(struct registry_helper *h)
{
	ssize_t n;

	while(h->fd >= 0){
		n = recv(h->fd, h->buf, HELPER_MSG_MAX, MSG_DONTWAIT);
		if(n > 0){
			dispatch(h, (size_t)n);
			continue;
		}
		if(n < 0 && errno == EINTR) continue;
		if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
		child_gone(h, n == 0 ? "closed its socket" : strerror(errno));
	}
}

static bool spawn(struct registry_helper *h);

/* The broker's entry to everything above: cheap when nothing is new. */
static void pump(struct registry_helper *h)
{
	uint64_t posted;
	int64_t now;

	if(h->shm == NULL) return;   /* registry_helper_detached */
	if(h->pid == 0){
		now = ih_mono_ms();
		if(now >= h->respawn_at_ms && !spawn(h)) h->respawn_at_ms = now + RESPAWN_MS;
		return;
	}
	posted = atomic_load(&h->shm->posted);
	if(posted != h->seen){
		h->seen = posted;
		read_dry(h);
		return;
	}
	/* A child that died without a word (killed) leaves no message to read. */
	now = ih_mono_ms();
	if(now >= h->alive_check_ms){
		h->alive_check_ms = now + ALIVE_CHECK_MS;
		if(waitpid(h->pid, NULL, WNOHANG) == h->pid){
			h->pid = -1;   /* reaped: child_gone must not wait for it */
			child_gone(h, "exited");
		}
	}
}

/* ------------------------------------------------------------------ */
/* writing to the child                                                 */

static bool send_to_child(struct registry_helper *h, const struct helper_hdr *m, const void *p, size_t len)
{
	int64_t deadline = ih_mono_ms() + SEND_WAIT_MS;

	while(h->fd >= 0){
		struct pollfd pf = {h->fd, POLLOUT, 0};
		int64_t left;

		if(helper_send(h->fd, m, p, len, NULL, 0, true) == 0) return true;
		if(errno != EAGAIN && errno != EWOULDBLOCK){
			child_gone(h, strerror(errno));
			return false;
		}
		/* The child may be blocked writing to us: read, then wait a little. */
		read_dry(h);
		left = deadline - ih_mono_ms();
		if(left <= 0) break;
		poll(&pf, 1, (int)left);
	}
	return false;
}

/* Names in chunks of HELPER_NAMES_CHUNK; returns how many were not sent. */
static size_t send_names(struct registry_helper *h, struct helper_hdr m, const char *const *names, size_t n)
{
	size_t i = 0;

	while(i < n){
		size_t start = i, off = 0;
		m.count = 0;
		for(; i < n; i++){
			size_t l = names[i] ? strlen(names[i]) + 1 : 0;
			if(l == 0) continue;
			if(l > HELPER_NAMES_CHUNK) continue;   /* no username is that long: the worker would skip it */
			if(off + l > HELPER_NAMES_CHUNK) break;
			memcpy(h->buf + off, names[i], l);
			off += l;
			m.count++;
		}
		if(!send_to_child(h, &m, h->buf, off)) return n - start;
	}
	return 0;
}

/* Ask, and wait for the answer (reading whatever comes before it). */
static bool rpc(struct registry_helper *h, const struct helper_hdr *m, int want)
{
	int64_t deadline = ih_mono_ms() + RPC_WAIT_MS;

	h->want = want;
	h->answered = false;
	if(!send_to_child(h, m, NULL, 0)) goto done;
	while(!h->answered && h->fd >= 0){
		struct pollfd pf = {h->fd, POLLIN, 0};
		int64_t left = deadline - ih_mono_ms();
		if(left <= 0){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: registry worker process %d did not answer within %d ms",
					(int)h->pid, RPC_WAIT_MS);
			break;
		}
		poll(&pf, 1, (int)left);
		read_dry(h);
	}
done:
	h->want = 0;
	return h->answered;
}

/* ------------------------------------------------------------------ */
/* the child's lives                                                    */

static bool spawn(struct registry_helper *h)
{
	int sv[2], size = 2 * HELPER_MSG_MAX;
	pid_t pid, parent = getpid();

	if(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: registry worker process: socketpair: %s", strerror(errno));
		return false;
	}
	for(int i = 0; i < 2; i++){
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	atomic_store(&h->shm->posted, 0);
	h->seen = 0;
	pid = fork();
	if(pid == 0){
		close(sv[0]);
		helper_child_main(sv[1], h->shm, h->cfg, &h->factory, h->now_ms, parent);
	}
	close(sv[1]);
	if(pid < 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cannot start the registry worker process: %s", strerror(errno));
		close(sv[0]);
		return false;
	}
	h->pid = pid;
	h->fd = sv[0];
	h->alive_check_ms = ih_mono_ms() + ALIVE_CHECK_MS;
	mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: registry worker process %d started", (int)pid);
	return true;
}

/* Reap (killing it if need be) and fold its counters into the base. */
static void reap(struct registry_helper *h, int64_t wait_ms)
{
	int64_t deadline = ih_mono_ms() + wait_ms;
	const struct timespec step = {0, 5 * 1000000};

	if(h->pid <= 0) return;
	while(waitpid(h->pid, NULL, WNOHANG) == 0){
		if(ih_mono_ms() >= deadline){
			kill(h->pid, SIGKILL);
			waitpid(h->pid, NULL, 0);
			break;
		}
		nanosleep(&step, NULL);
	}
}

static void child_gone(struct registry_helper *h, const char *why)
{
	if(h->fd >= 0) close(h->fd);
	h->fd = -1;
	if(h->stopping) return;   /* registry_helper_stop reaps */
	if(h->pid > 0){
		kill(h->pid, SIGKILL);
		reap(h, STOP_WAIT_MS);
	}
	h->pid = 0;
	mosquitto_log_printf(MOSQ_LOG_ERR,
			"iothub: the registry worker process %s; a new one starts in %d ms (its queued refetches are lost: "
			"the next revalidation repeats them)", why, RESPAWN_MS);
	h->base = h->health;
	h->base.preload_posted = h->preload_received;
	/* Every ticket the broker holds (probe answers, the last good probe)
	 * is at most this, and the new life's start at base + 1. */
	h->ticket_base = h->health.last_ok_probe > h->ticket ? h->health.last_ok_probe : h->ticket;
	h->preload_lost = 0;
	h->preload_orphaned = true;
	h->health.preload_done = true;
	h->health.preload_posted = h->preload_received;
	h->respawn_at_ms = ih_mono_ms() + RESPAWN_MS;
}

/* ------------------------------------------------------------------ */
/* the calls of helper.h                                                */

int registry_helper_start(struct registry_helper **out, const struct ih_config *cfg,
		const struct auth_source_factory *factory, int64_t (*now_ms)(void), bool process)
{
	struct registry_helper *h = calloc(1, sizeof(*h));   /* libc, like the worker's */

	*out = NULL;
	if(h == NULL) return -1;
	h->fd = -1;
	if(!process){
		if(registry_worker_start(&h->w, cfg, factory, now_ms)){
			free(h);
			return -1;
		}
		*out = h;
		return 0;
	}
	h->cfg = cfg;
	h->factory = *factory;
	h->now_ms = now_ms;
	h->buf = malloc(HELPER_MSG_MAX);
	h->shm = mmap(NULL, sizeof(*h->shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if(h->buf == NULL || h->shm == MAP_FAILED || !spawn(h)){
		if(h->shm != MAP_FAILED && h->shm) munmap(h->shm, sizeof(*h->shm));
		free(h->buf);
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

bool registry_helper_stop(struct registry_helper *h)
{
	struct registry_worker_result *r, *next;
	bool joined = true;

	if(h == NULL) return true;
	if(h->w){
		joined = registry_worker_stop(h->w);
	}else{
		struct helper_hdr m = {HM_STOP, 0, 0, 0, 0};
		h->stopping = true;
		if(h->fd >= 0 && helper_send(h->fd, &m, NULL, 0, NULL, 0, true) == 0){
			reap(h, STOP_WAIT_MS);
			h->pid = -1;
			read_dry(h);   /* its last log lines, then the end of the socket */
		}
		if(h->fd >= 0) close(h->fd);
		if(h->pid > 0){
			kill(h->pid, SIGKILL);
			waitpid(h->pid, NULL, 0);
		}
		if(h->shm) munmap(h->shm, sizeof(*h->shm));
		free(h->buf);
	}
	for(r = h->res_head; r; r = next){
		next = r->next;
		registry_worker_result_free(r);
	}
	free(h);
	return joined;
}

size_t registry_helper_refetch(struct registry_helper *h, const char *const *usernames, size_t n, bool forced,
		size_t max_len)
{
	struct helper_hdr m = {HM_REFETCH, forced ? HF_FORCED : 0, 0, 0, (int64_t)max_len};
	size_t lost;

	if(h->w) return registry_worker_refetch(h->w, usernames, n, forced, max_len);
	pump(h);
	lost = h->fd >= 0 ? send_names(h, m, usernames, n) : n;
	/* Not "queue full", which is what the caller would log for a count. */
	if(lost){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: registry worker process %s: %zu %s dropped",
				h->fd >= 0 ? "not reading" : "not running", lost, forced ? "invalidations" : "revalidations");
	}
	return 0;
}

size_t registry_helper_preload(struct registry_helper *h, const char *const *usernames, size_t n, size_t scan_max,
		size_t max_len)
{
	struct helper_hdr names = {HM_PRELOAD_NAMES, 0, 0, 0, 0};
	struct helper_hdr go = {HM_PRELOAD_GO, 0, 0, (uint32_t)max_len, (int64_t)scan_max};

	if(h->w) return registry_worker_preload(h->w, usernames, n, scan_max, max_len);
	pump(h);
	if(h->fd < 0 || send_names(h, names, usernames, n) || !send_to_child(h, &go, NULL, 0)){
		/* Nobody will preload: the devices are queried as they connect. */
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: auth preload: the registry worker process is %s; "
				"no records preloaded", h->fd >= 0 ? "not reading" : "not running");
		h->preload_orphaned = true;
		h->health.preload_done = true;
		h->health.preload_posted = h->preload_received;
	}
	return 0;
}

size_t registry_helper_take_preload(struct registry_helper *h, char **out, size_t max)
{
	struct helper_hdr m = {HM_TAKE_PRELOAD, 0, 0, (uint32_t)max, 0};

	if(h->w) return registry_worker_take_preload(h->w, out, max);
	pump(h);
	if(max == 0 || h->fd < 0) return 0;
	h->names = out;   /* filled by on_names, for the caller */
	h->names_n = 0;
	h->names_max = max;
	rpc(h, &m, HM_NAMES);
	h->names = NULL;
	return h->names_n;
}

uint64_t registry_helper_probe(struct registry_helper *h)
{
	struct helper_hdr m = {HM_PROBE, 0, 0, 0, 0};

	if(h->w) return registry_worker_probe(h->w);
	pump(h);
	/* Unanswered: the last ticket known, so any later probe counts. */
	if(h->fd >= 0) rpc(h, &m, HM_TICKET);
	return h->ticket > h->health.last_ok_probe ? h->ticket : h->health.last_ok_probe;
}

struct registry_worker_result *registry_helper_take(struct registry_helper *h, size_t max)
{
	size_t n;

	if(h->w) return registry_worker_take(h->w, max);
	pump(h);
	/* ownership passes to the caller */
	return registry_worker_results_detach(&h->res_head, &h->res_tail, max, &n);
}

void registry_helper_health(struct registry_helper *h, struct registry_worker_health *out)
{
	if(h->w){
		registry_worker_health(h->w, out);
		return;
	}
	pump(h);
	*out = h->health;
}

void registry_helper_drain_log(struct registry_helper *h)
{
	if(h->w) registry_worker_drain_log(h->w);
	else pump(h);   /* the child's lines are printed as they are read */
}

struct registry_helper *registry_helper_detached(void)
{
	struct registry_helper *h = calloc(1, sizeof(*h));

	if(h == NULL) return NULL;
	h->fd = -1;
	h->pid = -1;
	return h;
}

void registry_helper_feed(struct registry_helper *h, const void *msg, size_t len)
{
	if(len > HELPER_MSG_MAX) len = HELPER_MSG_MAX;   /* what recv would have kept */
	if(h->buf == NULL && (h->buf = malloc(HELPER_MSG_MAX)) == NULL) return;
	memcpy(h->buf, msg, len);
	dispatch(h, len);
}
