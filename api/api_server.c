/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * libmicrohttpd glue for the management API (see api_server.h): the
 * daemon, HTTP Basic authentication, body collection with a size bound,
 * and the hand-off of decoded requests to the broker thread.
 *
 * Threading: MHD's internal epoll thread pool (API_THREADS threads); each
 * request blocks its pool thread only while the broker performs it, which
 * is bounded by API_JOB_WAIT_MS. Slow clients are cut by
 * API_CONN_TIMEOUT_S; past API_CONN_LIMIT connections MHD refuses new ones.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <bson/bson.h>
#include <microhttpd.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/api_metrics.h"
#include "api/api_server.h"
#include "core/config.h"
#include "core/errstr.h"
#include "core/wake.h"

#define API_THREADS 4
#define API_CONN_LIMIT 512
#define API_CONN_TIMEOUT_S 10
#define KEY_HASH_LEN 32
#define API_AUTH_CACHE_MAX 1024 /* longer Authorization headers are checked every time */

struct api_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	struct api_job *head, *tail; /* waiting for the broker thread */
	bool stopping;
	size_t max_body;
	bool metrics_public;
	unsigned char (*keys)[KEY_HASH_LEN]; /* SHA-256 of each "APPID:SECRET" */
	size_t n_keys;
	char *cert_pem;
	char *key_pem;
	struct ih_logq log;
};

/* Per request, kept in MHD's con_cls between the calls of one request. */
struct req_state {
	char *body;
	size_t len;
	bool too_big;
	bool answered;      /* a response is queued already */
};

/* Per TCP connection, in MHD's socket context (conn_notify). */
struct conn_state {
	char *auth;         /* the last Authorization header that passed; owned */
	size_t auth_len;
};

static void conn_state_forget(struct conn_state *cs)
{
	if(cs->auth) OPENSSL_cleanse(cs->auth, cs->auth_len);
	free(cs->auth);
	cs->auth = NULL;
	cs->auth_len = 0;
}

/* ------------------------------------------------------------------ */
/* jobs                                                                 */

void api_job_free(struct api_job *j)
{
	if(j == NULL) return;
	free(j->client_id);
	api_msgs_free(&j->msgs);
	api_sub_free(&j->sub);
	free(j->body);
	free(j);
}

void api_job_set_json(struct api_job *j, int status, const char *json, size_t len)
{
	free(j->body);
	j->body = NULL;
	j->body_len = 0;
	j->status = 500;
	if(json == NULL) return;
	j->body = malloc(len + 1);
	if(j->body){
		memcpy(j->body, json, len);
		j->body[len] = '\0'; /* j owns this libc copy */
		j->body_len = len;
		j->status = status;
	}
}

void api_job_set_doc(struct api_job *j, int status, const bson_t *doc)
{
	size_t len = 0;
	char *json = bson_as_relaxed_extended_json(doc, &len);

	api_job_set_json(j, status, json, len);
	bson_free(json);
}

void api_job_set_error(struct api_job *j, int status, int code, const char *msg)
{
	bson_t doc = BSON_INITIALIZER;

	BSON_APPEND_INT32(&doc, "code", code);
	if(msg) BSON_APPEND_UTF8(&doc, "message", msg);
	api_job_set_doc(j, status, &doc);
	bson_destroy(&doc);
}

struct api_job *api_server_take(struct api_server *s)
{
	struct api_job *list;

	pthread_mutex_lock(&s->lock);
	list = s->head;
	s->head = s->tail = NULL;
	for(struct api_job *j = list; j; j = j->next) j->taken = true;
	pthread_mutex_unlock(&s->lock);
	return list;
}

void api_server_answer(struct api_server *s, struct api_job *j)
{
	bool free_it;
	sem_t *waiter;

	pthread_mutex_lock(&s->lock);
	j->done = true;
	free_it = j->abandoned;
	waiter = j->waiter;
	pthread_mutex_unlock(&s->lock);
	/* From here j belongs to its HTTP thread, unless abandoned; the
	 * semaphore is the thread's own (waiter_sem). */
	if(free_it) api_job_free(j);
	else sem_post(waiter);
}

struct ih_logq *api_server_log(struct api_server *s)
{
	return &s->log;
}

static void add_ms(struct timespec *ts, long ms)
{
	ts->tv_nsec += ms * 1000000L;
	while(ts->tv_nsec >= 1000000000L){
		ts->tv_nsec -= 1000000000L;
		ts->tv_sec++;
	}
}

/*
 * The semaphore an HTTP thread sleeps on while the broker performs its
 * request: one per thread, not per job, so api_server_answer can post it
 * after the unlock, when the job may be gone already, and a thread that
 * waits is the only one woken (a condition variable shared by the pool
 * woke every waiting thread for each answer, and a waiter woken under the
 * lock went back to sleep on the mutex at once). HTTP threads live until
 * MHD_stop_daemon, which the broker thread calls itself, so the semaphore
 * outlives every post. A Linux semaphore holds no resource: it needs no
 * sem_destroy when its thread ends.
 */
static __thread sem_t thread_sem;
static __thread bool thread_sem_ready;

static sem_t *waiter_sem(void)
{
	if(!thread_sem_ready){
		if(sem_init(&thread_sem, 0, 0)) return NULL;
		thread_sem_ready = true;
	}
	/* A post that came after a wait ran out is stale: drop it. */
	while(sem_trywait(&thread_sem) == 0){
	}
	return &thread_sem;
}

static bool passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/*
 * The first API_JOB_SPIN_US of the wait yield instead of sleeping. An idle
 * broker performs a publish in a few tens of microseconds, and the message
 * leaves at the top of its next loop iteration, right after the tick that
 * answered. A thread asleep on the semaphore is woken by that answer and,
 * on a busy machine, runs on the broker's CPU ahead of the delivery, its
 * HTTP response first. A thread still yielding has no sleep to be woken
 * from: the answer is an atomic increment for the broker, no system call,
 * and when both share a CPU each sched_yield hands it back to the broker.
 */
static void spin_for_answer(sem_t *waiter)
{
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_nsec += API_JOB_SPIN_US * 1000L;
	if(end.tv_nsec >= 1000000000L){
		end.tv_nsec -= 1000000000L;
		end.tv_sec++;
	}
	while(sem_trywait(waiter) != 0 && !passed(&end)) sched_yield();
}

/* Queue j, wake the broker and wait for its answer. Returns true when j
 * was answered (the caller then owns and frees it); false when the wait
 * ran out or the server is stopping (whoever holds j last frees it). */
static bool run_job(struct api_server *s, struct api_job *j)
{
	struct timespec deadline, slice;
	bool done;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	add_ms(&deadline, API_JOB_WAIT_MS);
	j->waiter = waiter_sem();
	pthread_mutex_lock(&s->lock);
	if(s->stopping || j->waiter == NULL){
		pthread_mutex_unlock(&s->lock);
		api_job_free(j); /* never queued: still ours */
		return false;
	}
	if(s->tail) s->tail->next = j;
	else s->head = j;
	s->tail = j; /* the queue holds j until the broker takes it */
	pthread_mutex_unlock(&s->lock);

	ih_wake_broker();
	spin_for_answer(j->waiter); /* a post it took is checked below, under the lock */
	pthread_mutex_lock(&s->lock);
	while(!j->done && !s->stopping && !passed(&deadline)){
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &slice);
		add_ms(&slice, API_JOB_REWAKE_MS);
		pthread_mutex_unlock(&s->lock);
		rc = sem_clockwait(j->waiter, CLOCK_MONOTONIC, &slice);
		pthread_mutex_lock(&s->lock);
		/* Once taken, the broker thread has it (a fleet lookup may still
		 * wait for another node, whose answer wakes the broker itself):
		 * repeating the signal would only spin the tick. */
		if(rc && errno == ETIMEDOUT && !j->done && !j->taken){
			pthread_mutex_unlock(&s->lock);
			ih_wake_broker_again(); /* the first landed outside epoll_wait (core/wake.h) */
			pthread_mutex_lock(&s->lock);
		}
	}
	done = j->done;
	/* Not answered: the broker thread (or api_server_stop) frees j. */
	if(!done) j->abandoned = true;
	pthread_mutex_unlock(&s->lock);
	return done;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */

static enum MHD_Result send_json(struct MHD_Connection *conn, int status, const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if(r == NULL) return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if(status == MHD_HTTP_UNAUTHORIZED) MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"iothub\"");
	rc = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result send_error(struct api_server *s, struct MHD_Connection *conn, int status, int code,
		const char *method, const char *url, const char *msg)
{
	char body[512];
	bson_t doc = BSON_INITIALIZER;
	char *json;
	size_t len;
	enum MHD_Result rc;

	ih_logq_push(&s->log, MOSQ_LOG_NOTICE, "iothub: http api: %s %.200s: %d %s", method, url, status, msg);
	BSON_APPEND_INT32(&doc, "code", code);
	BSON_APPEND_UTF8(&doc, "message", msg);
	json = bson_as_relaxed_extended_json(&doc, &len);
	bson_destroy(&doc);
	if(json == NULL){
		snprintf(body, sizeof(body), "{\"code\":%d}", code);
		return send_json(conn, status, body, strlen(body));
	}
	rc = send_json(conn, status, json, len);
	bson_free(json);
	return rc;
}

static void key_hash(const char *id, const char *secret, unsigned char out[KEY_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	memset(out, 0, KEY_HASH_LEN);
	if(ctx == NULL) return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, id, strlen(id));
	EVP_DigestUpdate(ctx, ":", 1);
	EVP_DigestUpdate(ctx, secret, strlen(secret));
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

/* HTTP Basic against every key, in constant time: the digests have one
 * length whatever was sent, and every key is compared. */
static bool key_matches(struct api_server *s, struct MHD_Connection *conn)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);
	unsigned char h[KEY_HASH_LEN];
	int ok = 0;

	if(user == NULL || pass == NULL){
		if(user) MHD_free(user);
		if(pass) MHD_free(pass);
		return false;
	}
	key_hash(user, pass, h);
	OPENSSL_cleanse(pass, strlen(pass));
	MHD_free(user);
	MHD_free(pass);
	for(size_t i = 0; i < s->n_keys; i++) ok |= CRYPTO_memcmp(h, s->keys[i], KEY_HASH_LEN) == 0;
	return ok != 0;
}

/*
 * The IotHub server sends every request of a keep-alive connection with
 * the same Authorization header. The connection keeps the last header
 * that passed (conn_state), and a request carrying exactly that header
 * skips the decoding and the digest: work that sits between a publish's
 * arrival and the broker's wake-up. Comparing against it reveals nothing
 * new: only this connection's client sent it. The keys never change while
 * the server runs, so a header that passed once stays valid.
 */
static bool authorised(struct api_server *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_state *cs = ci ? ci->socket_context : NULL;
	const char *hdr = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	size_t n = hdr ? strlen(hdr) : 0;

	if(hdr == NULL) return false;
	if(cs && cs->auth && cs->auth_len == n && CRYPTO_memcmp(cs->auth, hdr, n) == 0) return true;
	if(!key_matches(s, conn)) return false;
	if(cs && n <= API_AUTH_CACHE_MAX){
		char *copy = malloc(n + 1);

		if(copy){
			memcpy(copy, hdr, n + 1);
			conn_state_forget(cs);
			cs->auth = copy; /* cs owns it */
			cs->auth_len = n;
		}
	}
	return true;
}

static bool needs_body(enum api_route r)
{
	return r == API_ROUTE_PUBLISH || r == API_ROUTE_PUBLISH_BATCH
		|| r == API_ROUTE_SUBSCRIBE || r == API_ROUTE_UNSUBSCRIBE;
}

/* Decode the body into j; 0, or an error already sent. */
static int decode(struct api_server *s, struct MHD_Connection *conn, const char *method, const char *url,
		struct req_state *st, struct api_job *j, enum MHD_Result *sent)
{
	char err[256] = "";
	int code = API_CODE_OK;

	switch(j->route){
	case API_ROUTE_PUBLISH:
	case API_ROUTE_PUBLISH_BATCH:
		code = api_parse_publish(st->body, st->len, j->route == API_ROUTE_PUBLISH_BATCH, &j->msgs, err, sizeof(err));
		break;
	case API_ROUTE_SUBSCRIBE:
	case API_ROUTE_UNSUBSCRIBE:
		code = api_parse_subscribe(st->body, st->len, &j->sub, err, sizeof(err));
		break;
	default:
		break;
	}
	if(code == API_CODE_OK) return 0;
	*sent = send_error(s, conn, code == API_CODE_INTERNAL ? 500 : 400, code, method, url, err);
	return -1;
}

static enum MHD_Result answer(struct api_server *s, struct MHD_Connection *conn, struct api_job *j)
{
	enum MHD_Result rc;

	if(j->route == API_ROUTE_METRICS && j->status == 200){
		size_t len = 0;
		char *text = api_metrics_from_stats(j->body, j->body_len, &len);
		struct MHD_Response *r;

		if(text == NULL) return send_error(s, conn, 500, API_CODE_INTERNAL, "GET", "/metrics", "cannot render the metrics");
		r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE); /* MHD owns text */
		if(r == NULL){
			free(text);
			return MHD_NO;
		}
		MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
		rc = MHD_queue_response(conn, 200, r);
		MHD_destroy_response(r);
		return rc;
	}
	return send_json(conn, j->status, j->body ? j->body : "{\"code\":101}", j->body ? j->body_len : 12);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
		const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct api_server *s = cls;
	struct req_state *st = *con_cls;
	struct api_route_result route;
	struct api_job *j;
	enum MHD_Result rc = MHD_NO;

	(void)version;
	if(st == NULL){
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		st = calloc(1, sizeof(*st));
		if(st == NULL) return MHD_NO;
		*con_cls = st; /* freed by request_done */
		/* Refused before the body is read: MHD then closes the connection
		 * instead of reading what follows. */
		if(cl && strtoull(cl, NULL, 10) > s->max_body){
			st->too_big = st->answered = true;
			return send_error(s, conn, 413, API_CODE_BAD_PARAM, method, url, "body larger than http_api_max_body");
		}
		return MHD_YES;
	}
	if(*upload_data_size){
		if(st->answered){
			*upload_data_size = 0; /* the 413 is queued; discard the rest */
			return MHD_YES;
		}
		if(st->len + *upload_data_size <= s->max_body){
			char *b = realloc(st->body, st->len + *upload_data_size + 1);
			if(b == NULL){
				st->too_big = true;
			}else{
				memcpy(b + st->len, upload_data, *upload_data_size);
				st->body = b;
				st->len += *upload_data_size;
				st->body[st->len] = '\0';
			}
		}else{
			st->too_big = true;
		}
		*upload_data_size = 0; /* consumed (or discarded) */
		if(st->too_big){
			/* A (chunked) body that outgrew the limit: answer now. */
			st->answered = true;
			return send_error(s, conn, 413, API_CODE_BAD_PARAM, method, url, "body larger than http_api_max_body");
		}
		return MHD_YES;
	}

	if(st->answered) return MHD_YES;
	api_route_parse(method, url, &route);
	if(route.status == 404) return send_error(s, conn, 404, API_CODE_NOT_FOUND, method, url, "not found");
	if(route.status == 405) return send_error(s, conn, 405, API_CODE_BAD_PARAM, method, url, "method not allowed");
	if(!(route.route == API_ROUTE_METRICS && s->metrics_public) && !authorised(s, conn)){
		api_route_result_free(&route);
		return send_error(s, conn, 401, API_CODE_NO_AUTH, method, url, "missing or wrong API key");
	}
	if(st->too_big){
		api_route_result_free(&route);
		return send_error(s, conn, 413, API_CODE_BAD_PARAM, method, url, "body larger than http_api_max_body");
	}
	j = calloc(1, sizeof(*j));
	if(j == NULL){
		api_route_result_free(&route);
		return send_error(s, conn, 500, API_CODE_INTERNAL, method, url, "out of memory");
	}
	j->route = route.route;
	j->client_id = route.client_id; /* j owns it */
	if(needs_body(j->route) && decode(s, conn, method, url, st, j, &rc)){
		api_job_free(j);
		return rc;
	}
	if(!run_job(s, j)){
		/* j now belongs to the broker thread or to api_server_stop. */
		return send_error(s, conn, 503, API_CODE_INTERNAL, method, url, "the broker did not answer in time");
	}
	rc = answer(s, conn, j);
	api_job_free(j);
	return rc;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if(st){
		free(st->body);
		free(st);
		*con_cls = NULL;
	}
}

static void conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)conn;
	if(toe == MHD_CONNECTION_NOTIFY_STARTED){
		*socket_context = calloc(1, sizeof(struct conn_state)); /* NULL: no cache, still served */
	}else if(*socket_context){
		conn_state_forget(*socket_context);
		free(*socket_context);
		*socket_context = NULL;
	}
}

/* Keep the URL raw: api_route_parse decodes %XX in the client id itself,
 * after the path was split, so an encoded '/' cannot change the route. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api_server *s = cls;
	char line[IH_LOGQ_LINE_MAX];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	ih_logq_push(&s->log, MOSQ_LOG_WARNING, "iothub: http api: %s", line);
}

/* ------------------------------------------------------------------ */
/* lifecycle (broker thread)                                            */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if(f == NULL) return NULL;
	if(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0){
		buf = malloc((size_t)n + 1);
		if(buf && fread(buf, 1, (size_t)n, f) != (size_t)n){
			free(buf);
			buf = NULL;
		}
		if(buf) buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/* HOST:PORT, HOST may be [v6]. */
static int resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = {0}, *ai = NULL;
	size_t hl;

	if(colon == NULL || colon == listen || colon[1] == '\0') return -1;
	hl = (size_t)(colon - listen);
	if(listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']'){
		listen++;
		hl -= 2;
	}
	if(hl >= sizeof(host)) return -1;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if(getaddrinfo(host, colon + 1, &hints, &ai) || ai == NULL) return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sl = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

void api_server_stop(struct api_server *s)
{
	struct api_job *j;

	if(s == NULL) return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for(j = s->head; j; j = j->next) sem_post(j->waiter); /* their threads give up */
	pthread_mutex_unlock(&s->lock);
	if(s->daemon) MHD_stop_daemon(s->daemon);
	/* Every HTTP thread has returned: the jobs left are ours. */
	j = api_server_take(s);
	while(j){
		struct api_job *next = j->next;
		api_job_free(j);
		j = next;
	}
	ih_logq_drain(&s->log);
	ih_logq_cleanup(&s->log);
	pthread_mutex_destroy(&s->lock);
	free(s->keys);
	free(s->cert_pem);
	free(s->key_pem);
	free(s);
}

int api_server_start(struct api_server **out, const struct ih_config *cfg)
{
	struct api_server *s;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	*out = NULL;
	if(resolve(cfg->http_api_listen, &ss, &sl)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: option http_api_listen: cannot resolve \"%s\" (expected HOST:PORT)",
				cfg->http_api_listen);
		return MOSQ_ERR_INVAL;
	}
	s = calloc(1, sizeof(*s));
	if(s == NULL) return MOSQ_ERR_NOMEM;
	pthread_mutex_init(&s->lock, NULL);
	ih_logq_init(&s->log, "the HTTP API");
	s->max_body = (size_t)cfg->http_api_max_body;
	s->metrics_public = cfg->http_api_metrics_public;
	s->keys = calloc(cfg->http_api_keys.count ? cfg->http_api_keys.count : 1, KEY_HASH_LEN);
	if(s->keys == NULL) goto nomem;
	for(size_t i = 0; i < cfg->http_api_keys.count; i++){
		char *k = strdup(cfg->http_api_keys.items[i]), *colon;

		if(k == NULL) goto nomem;
		colon = strchr(k, ':'); /* checked by the config parser */
		if(colon){
			*colon = '\0';
			key_hash(k, colon + 1, s->keys[s->n_keys++]);
		}
		OPENSSL_cleanse(k, strlen(cfg->http_api_keys.items[i]));
		free(k);
	}
	if(cfg->http_api_certfile){
		s->cert_pem = read_file(cfg->http_api_certfile);
		s->key_pem = read_file(cfg->http_api_keyfile);
		if(s->cert_pem == NULL || s->key_pem == NULL){
			mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: options http_api_certfile/http_api_keyfile: cannot read %s",
					s->cert_pem ? cfg->http_api_keyfile : cfg->http_api_certfile);
			api_server_stop(s);
			return MOSQ_ERR_INVAL;
		}
		flags |= MHD_USE_TLS;
	}
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			MHD_OPTION_THREAD_POOL_SIZE, (unsigned)API_THREADS,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONN_LIMIT,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT_S,
			MHD_OPTION_NOTIFY_COMPLETED, request_done, s,
			MHD_OPTION_NOTIFY_CONNECTION, conn_notify, s,
			MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, s,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
			s->cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert_pem,
			MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
			MHD_OPTION_END);
	if(s->daemon == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: http api: cannot listen on %s: %s",
				cfg->http_api_listen, ih_strerror(errno));
		api_server_stop(s);
		return MOSQ_ERR_UNKNOWN;
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: http api listening on %s (%s, %zu key%s)", cfg->http_api_listen,
			s->cert_pem ? "https" : "http", s->n_keys, s->n_keys == 1 ? "" : "s");
	*out = s;
	return MOSQ_ERR_SUCCESS;
nomem:
	api_server_stop(s);
	return MOSQ_ERR_NOMEM;
}
