/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The registry worker's process (helper.h): the child side.
 *
 * The child is a copy of the broker at start-up. It must never run broker
 * code, so it never calls a mosquitto_* function (log lines go to the
 * broker as messages) and leaves with _exit, skipping the broker's atexit
 * work. Its main thread only moves messages; the worker thread, started
 * here, does the registry I/O. So a request the broker waits for (a take
 * of the preload, a probe ticket) is answered at once, even while a query
 * is stuck in the driver.
 *
 * Memory is libc's, as on the worker's side.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <mosquitto.h>

#include "registry/helper_proto.h"
#include "registry/mongo_lib.h"

#define RESULTS_PER_TAKE 256
#define TAKE_PRELOAD_MAX 64

struct child {
	int fd;
	struct helper_shm *shm;
	struct registry_worker *w;
	char *buf;
	bool sent;                          /* something went out since the last bump */
	bool health_sent;
	struct registry_worker_health last; /* as last sent */
	const char **preload;               /* HM_PRELOAD_NAMES so far (libc copies) */
	size_t preload_n, preload_cap;
	const char **names;                 /* scratch for parsing, HELPER_MSG_MAX / 2 entries */
};

int helper_send(int fd, const struct helper_hdr *h, const void *a, size_t alen, const void *b, size_t blen,
		bool dontwait)
{
	struct iovec iov[3] = {{(void *)h, sizeof(*h)}, {(void *)a, alen}, {(void *)b, blen}};
	struct msghdr m;

	memset(&m, 0, sizeof(m));
	m.msg_iov = iov;
	m.msg_iovlen = 3;
	for(;;){
		if(sendmsg(fd, &m, MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0)) >= 0) return 0;
		if(errno != EINTR) return -1;
	}
}

size_t helper_names_parse(const char *p, size_t len, const char **names, size_t max)
{
	size_t n = 0;
	const char *end = p + len;

	while(p < end && n < max){
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		if(nul == NULL) break;   /* a truncated last name: not one */
		names[n++] = p;
		p = nul + 1;
	}
	return n;
}

static void child_send(struct child *c, const struct helper_hdr *h, const void *a, size_t alen, const void *b,
		size_t blen)
{
	/* Blocking: the broker reads without ever blocking on us, so a full
	 * socket drains. A broker that is gone ends the loop at the next recv. */
	if(helper_send(c->fd, h, a, alen, b, blen, false) == 0) c->sent = true;
}

static void child_log(void *ud, int level, const char *text)
{
	struct helper_hdr h = {HM_LOG, 0, 0, (uint32_t)level, 0};

	child_send(ud, &h, text, strlen(text) + 1, NULL, 0);
}

static void child_logf(struct child *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void child_logf(struct child *c, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	child_log(c, level, line);
}

static bool health_same(const struct registry_worker_health *a, const struct registry_worker_health *b)
{
	return a->last_ok_probe == b->last_ok_probe && a->err_seq == b->err_seq && a->queries == b->queries
			&& a->errors == b->errors && a->dropped_requests == b->dropped_requests
			&& a->preload_posted == b->preload_posted && a->preload_done == b->preload_done
			&& strcmp(a->err, b->err) == 0;
}

static void send_result(struct child *c, const struct registry_worker_result *r)
{
	size_t ulen = strlen(r->username);
	struct helper_hdr h = {HM_RESULT, 0, 0, (uint32_t)ulen, r->fetched_ms};
	const uint8_t *doc = r->doc ? bson_get_data(r->doc) : NULL;
	size_t dlen = r->doc ? r->doc->len : 0;

	h.flags = (uint8_t)((r->forced ? HF_FORCED : 0) | (r->preload ? HF_PRELOAD : 0) | (doc ? HF_DOC : 0));
	if(sizeof(h) + ulen + 1 + dlen > HELPER_MSG_MAX){
		/* Not "no such device", which would disconnect it: nothing. */
		child_logf(c, MOSQ_LOG_ERR, "iothub: registry record of %s is %zu bytes, over the %u the registry worker "
				"can pass on: not refreshed", r->username, dlen, (unsigned)HELPER_MSG_MAX);
		h.flags = (uint8_t)((h.flags & ~HF_DOC) | HF_LOST);
		dlen = 0;
		doc = NULL;
	}
	child_send(c, &h, r->username, ulen + 1, doc, dlen);
}

/* What the worker has for the broker: log lines, results, health. */
static void child_forward(struct child *c)
{
	struct registry_worker_result *list, *next;
	struct registry_worker_health now;

	registry_worker_drain_log_with(c->w, child_log, c);
	registry_mongo_lib_drain_log_with(child_log, c);
	while((list = registry_worker_take(c->w, RESULTS_PER_TAKE)) != NULL){
		for(; list; list = next){
			next = list->next;
			send_result(c, list);
			registry_worker_result_free(list);
		}
	}
	/* After the results: a preload reported done is then never ahead of
	 * its last record. */
	registry_worker_health(c->w, &now);
	if(!c->health_sent || !health_same(&now, &c->last)){
		struct helper_hdr h = {HM_HEALTH, 0, 0, 0, 0};
		child_send(c, &h, &now, sizeof(now), NULL, 0);
		c->last = now;
		c->health_sent = true;
	}
	if(c->sent){
		atomic_fetch_add(&c->shm->posted, 1);
		c->sent = false;
	}
}

static void preload_append(struct child *c, const char *const *names, size_t n)
{
	for(size_t i = 0; i < n; i++){
		char *copy;
		if(c->preload_n == c->preload_cap){
			size_t cap = c->preload_cap ? c->preload_cap * 2 : 1024;
			const char **p = realloc(c->preload, cap * sizeof(*p));
			if(p == NULL) break;
			c->preload = p;
			c->preload_cap = cap;
		}
		if((copy = strdup(names[i])) == NULL) break;
		c->preload[c->preload_n++] = copy;
	}
}

/* One message from the broker; true: stop. */
static bool child_handle(struct child *c, size_t len)
{
	struct helper_hdr h;
	const char *p = c->buf + sizeof(h);
	size_t plen = len - sizeof(h), n, dropped;
	char *taken[TAKE_PRELOAD_MAX];

	if(len < sizeof(h)) return false;
	memcpy(&h, c->buf, sizeof(h));
	switch(h.type){
		case HM_REFETCH:
			n = helper_names_parse(p, plen, c->names, HELPER_MSG_MAX / 2);
			dropped = registry_worker_refetch(c->w, c->names, n, h.flags & HF_FORCED, (size_t)h.value);
			if(dropped){
				child_logf(c, MOSQ_LOG_WARNING, "iothub: refetch queue full (auth_refetch_queue_max): %zu %s dropped",
						dropped, h.flags & HF_FORCED ? "invalidations" : "revalidations");
			}
			return false;
		case HM_PRELOAD_NAMES:
			n = helper_names_parse(p, plen, c->names, HELPER_MSG_MAX / 2);
			preload_append(c, c->names, n);
			return false;
		case HM_PRELOAD_GO:
			dropped = registry_worker_preload(c->w, c->preload, c->preload_n, (size_t)h.value, h.count);
			if(dropped){
				child_logf(c, MOSQ_LOG_WARNING, "iothub: auth preload: out of memory, %zu usernames dropped", dropped);
			}
			for(size_t i = 0; i < c->preload_n; i++) free((char *)c->preload[i]);
			c->preload_n = 0;
			return false;
		case HM_TAKE_PRELOAD: {
			struct helper_hdr r = {HM_NAMES, 0, 0, 0, 0};
			size_t off = 0;
			n = registry_worker_take_preload(c->w, taken, h.count < TAKE_PRELOAD_MAX ? h.count : TAKE_PRELOAD_MAX);
			for(size_t i = 0; i < n; i++){
				size_t l = strlen(taken[i]) + 1;
				if(off + l > HELPER_MSG_MAX - sizeof(r)) break;   /* usernames are short: never */
				memcpy(c->buf + off, taken[i], l);
				off += l;
				r.count++;
			}
			child_send(c, &r, c->buf, off, NULL, 0);
			registry_worker_names_free(taken, n);
			return false;
		}
		case HM_PROBE: {
			struct helper_hdr r = {HM_TICKET, 0, 0, 0, (int64_t)registry_worker_probe(c->w)};
			child_send(c, &r, NULL, 0, NULL, 0);
			return false;
		}
		case HM_STOP:
			return true;
		default:
			return false;
	}
}

/* Only our socket, as HELPER_CHILD_FD; 0-2 on /dev/null. The broker's
 * listeners must not outlive it in us (a restart could not bind them). */
static int child_fds(int fd)
{
	int nul;

	if(fd != HELPER_CHILD_FD && dup2(fd, HELPER_CHILD_FD) < 0) return -1;
	if(close_range(HELPER_CHILD_FD + 1, ~0U, 0)){
		for(long i = HELPER_CHILD_FD + 1, max = sysconf(_SC_OPEN_MAX); i < max; i++) close((int)i);
	}
	nul = open("/dev/null", O_RDWR);
	if(nul >= 0){
		for(int i = 0; i < 3; i++){
			if(i != nul) dup2(nul, i);
		}
		if(nul > 2) close(nul);
	}
	return fcntl(HELPER_CHILD_FD, F_SETFD, 0) < 0 ? -1 : HELPER_CHILD_FD;
}

void helper_child_main(int fd, struct helper_shm *shm, const struct ih_config *cfg,
		const struct auth_source_factory *factory, int64_t (*now_ms)(void), pid_t parent)
{
	struct child c;
	sigset_t none;
	int efd;

	/* Die with the broker, even by SIGKILL; it may be gone already. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if(getppid() != parent) _exit(0);
	prctl(PR_SET_NAME, "iothub-registry");
	/* The broker's handlers would only set flags nobody reads here: a
	 * SIGTERM to the process group must end us. */
	for(int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	memset(&c, 0, sizeof(c));
	c.fd = child_fds(fd);
	c.shm = shm;
	c.buf = malloc(HELPER_MSG_MAX);
	c.names = malloc(HELPER_MSG_MAX / 2 * sizeof(*c.names));
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if(c.fd < 0 || c.buf == NULL || c.names == NULL || efd < 0) _exit(1);
	if(registry_worker_start(&c.w, cfg, factory, now_ms)){
		child_logf(&c, MOSQ_LOG_ERR, "iothub: registry worker process: cannot start its thread");
		atomic_fetch_add(&shm->posted, 1);
		_exit(1);
	}
	registry_worker_set_notify(c.w, efd);

	for(;;){
		struct pollfd p[2] = {{c.fd, POLLIN, 0}, {efd, POLLIN, 0}};
		uint64_t v;
		ssize_t n;

		/* The timeout is only a safety net: the worker writes efd. */
		if(poll(p, 2, 1000) < 0 && errno != EINTR) break;
		if(p[1].revents & POLLIN && read(efd, &v, sizeof(v)) < 0){
			/* EAGAIN: already read */
		}
		for(;;){
			n = recv(c.fd, c.buf, HELPER_MSG_MAX, MSG_DONTWAIT);
			if(n < 0 && errno == EINTR) continue;
			if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
			if(n <= 0) goto out;   /* the broker is gone */
			if(child_handle(&c, (size_t)n)) goto out;
		}
		child_forward(&c);
	}
out:
	/* No cleanup: the worker thread may be inside the driver, and the
	 * process's memory goes with it. */
	child_forward(&c);
	_exit(0);
}
