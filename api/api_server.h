/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The HTTP management API's server: libmicrohttpd on its own threads.
 *
 * The HTTP threads never touch the broker. Each authenticated, decoded
 * request becomes an api_job on a locked queue; the server wakes the
 * broker thread (core/wake.h, which interrupts its epoll_wait) and
 * waits, bounded by API_JOB_WAIT_MS, for the broker thread to take the job
 * (api_server_take), perform it and answer it (api_server_answer). A job
 * the HTTP side gave up on is still answered by the broker thread, which
 * then frees it: whichever side finishes last frees, decided under the lock.
 *
 * Memory that crosses the threads (jobs, their payloads, answers) is libc
 * malloc/free: the HTTP threads must not call mosquitto_malloc.
 */
#ifndef IH_API_SERVER_H
#define IH_API_SERVER_H

#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

#include "api/api_request.h"
#include "core/logq.h"

struct ih_config;
struct api_server;

/* How long an HTTP thread waits for the broker before answering 503. */
#define API_JOB_WAIT_MS 5000
/* While waiting, until the broker thread took the job, the wake-up is
 * repeated this often (ih_wake_broker_again):
 * a wake that lands just before the broker enters epoll_wait would
 * otherwise wait a tick (core/wake.h, "The one gap"). */
#define API_JOB_REWAKE_MS 2
/* Before sleeping, an HTTP thread yields this long for the answer
 * (api_server.c, spin_for_answer). */
#define API_JOB_SPIN_US 200

struct api_job {
	struct api_job *next;
	enum api_route route;
	char *client_id;            /* clients/{id}; owned */
	struct api_msgs msgs;       /* publish, publish_batch */
	struct api_sub sub;         /* subscribe, unsubscribe */
	/* The answer, set by the broker thread before api_server_answer. */
	int status;                 /* HTTP status */
	char *body;                 /* owned (libc malloc); JSON, or the stats JSON for metrics */
	size_t body_len;
	/* Under the server lock. */
	sem_t *waiter;              /* the waiting HTTP thread's (not owned) */
	bool taken;                 /* the broker thread took it: no more wake-ups */
	bool done;
	bool abandoned;
};

/* Start listening (cfg->http_api_listen must be set; ih_wake_init done).
 * Logs with mosquitto_log_printf: called on the broker thread. */
int api_server_start(struct api_server **out, const struct ih_config *cfg);
/* Stop the daemon (waits for its threads), then free every job left. */
void api_server_stop(struct api_server *s);

/* Broker thread: every queued job, oldest first (walk ->next); each must
 * be passed to api_server_answer exactly once. */
struct api_job *api_server_take(struct api_server *s);
void api_server_answer(struct api_server *s, struct api_job *j);
/* Set j's answer: {"code":code,"message":msg} (just {"code":code} when msg
 * is NULL), or any document as JSON; status 500 if it cannot be built. */
void api_job_set_error(struct api_job *j, int status, int code, const char *msg);
void api_job_set_doc(struct api_job *j, int status, const bson_t *doc);
/* The same with JSON text (len bytes, copied); status 500 if json is NULL
 * or cannot be copied. */
void api_job_set_json(struct api_job *j, int status, const char *json, size_t len);

/* The HTTP threads' log lines, printed by the broker thread. */
struct ih_logq *api_server_log(struct api_server *s);

void api_job_free(struct api_job *j);

#endif
