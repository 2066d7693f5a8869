/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The HTTP management API's request decoding, as pure functions: a method
 * and a raw URL path become a route, a JSON body becomes a list of
 * publishes or a subscription. No I/O, no broker calls, no globals: the
 * fuzz target (fuzz/fuzz_http.c) and the unit tests drive exactly what the
 * server runs.
 *
 * Paths (docs in README "HTTP management API"): everything lives under
 * /api/v4/ and the v3 alias /api/v3/; empty segments before the client id
 * are skipped, because the IotHub server's base URL ends in '/' and it asks
 * for /api/v3//connections/ID. The client id is the whole rest of the path,
 * raw '/' included, with %XX decoded.
 */
#ifndef IH_API_REQUEST_H
#define IH_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum api_route {
	API_ROUTE_NONE = 0,
	API_ROUTE_PUBLISH,
	API_ROUTE_PUBLISH_BATCH,
	API_ROUTE_SUBSCRIBE,
	API_ROUTE_UNSUBSCRIBE,
	API_ROUTE_CLIENT_GET,
	API_ROUTE_CLIENT_KICK,
	API_ROUTE_STATS,
	API_ROUTE_METRICS,
};

/* EMQX 4 error codes, used in {"code":N,"message":"..."}. */
#define API_CODE_OK 0
#define API_CODE_INTERNAL 101
#define API_CODE_BAD_JSON 102
#define API_CODE_BAD_PARAM 103
#define API_CODE_NO_AUTH 106
#define API_CODE_NOT_FOUND 112

#define API_CLIENT_ID_MAX 65535
#define API_TOPIC_MAX 65535
#define API_BATCH_MAX 1000

/* Longest accepted path; longer ones are a 404 rather than a copy. */
#define API_PATH_MAX (API_CLIENT_ID_MAX + 64)

struct api_route_result {
	enum api_route route;
	int status;         /* 0 when a route matched, else 404 or 405 */
	char *client_id;    /* decoded, owned (libc malloc: the HTTP thread makes it); clients/{id} only */
};

/* method: "GET", "POST", ...; path: raw (not unescaped), without query. */
void api_route_parse(const char *method, const char *path, struct api_route_result *out);
void api_route_result_free(struct api_route_result *r);

/* One message to publish. */
struct api_msg {
	char *topic;        /* owned */
	uint8_t *payload;   /* owned; NULL when payloadlen is 0 */
	uint32_t payloadlen;
	int qos;
	bool retain;
	char *client_id;    /* owned, may be NULL: the "sender" EMQX would name */
};

struct api_msgs {
	struct api_msg *items;
	size_t count;
};

/*
 * Decode a mqtt/publish body (batch false: one object, which may name
 * several comma-separated `topics`) or a mqtt/publish_batch body (an array
 * of such objects). Returns API_CODE_OK, or an error code with a message in
 * err. On error *out is empty.
 */
int api_parse_publish(const char *body, size_t len, bool batch, struct api_msgs *out, char *err, size_t errlen);
void api_msgs_free(struct api_msgs *m);

struct api_sub {
	char *topic;        /* owned: a topic filter, wildcards allowed */
	char *client_id;    /* owned */
	int qos;
};

/* mqtt/subscribe and mqtt/unsubscribe bodies ({topic, qos, clientid}). */
int api_parse_subscribe(const char *body, size_t len, struct api_sub *out, char *err, size_t errlen);
void api_sub_free(struct api_sub *s);

/* acl_topic_valid / acl_filter_valid (acl/topic.h), and valid UTF-8. */
bool api_topic_name_valid(const char *t);
bool api_topic_filter_valid(const char *t);

#endif
