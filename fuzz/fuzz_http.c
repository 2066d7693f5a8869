/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The HTTP management API's request decoding (api/api_request.c) and the
 * metrics rendering (api/api_metrics.c): everything the API derives from
 * what a client sends, minus libmicrohttpd itself.
 *
 * Input: selector byte, then data.
 *   selector % 6: 0 route (data = "METHOD PATH"), 1 publish body,
 *   2 publish_batch body, 3 subscribe body, 4 stats JSON -> metrics,
 *   5 all of route, publish and subscribe on the same data.
 * Properties:
 *  - a matched route has status 0, a client id exactly for clients/{id},
 *    and that id holds no NUL; an unmatched one is 404 or 405;
 *  - a decoded publish has 1..API_BATCH_MAX messages, each with a valid
 *    topic name (no wildcard), QoS 0..2, and the payload length it claims;
 *    a refused one carries a message and leaves the list empty;
 *  - a decoded subscription has a valid filter, a client id and QoS 0..2;
 *  - nothing leaks.
 */
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "api/api_metrics.h"
#include "api/api_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every payload byte, so ASan sees a length that overstates it. */
static void touch(const uint8_t *p, size_t n)
{
	volatile uint8_t sink = 0;

	for(size_t i = 0; i < n; i++) sink ^= p[i];
	(void)sink;
}

static void check_route(const char *s)
{
	static const char *const methods[] = {"GET", "POST", "DELETE", "PUT"};
	const char *sp = strchr(s, ' ');
	char method[16] = "GET";
	struct api_route_result r;

	if(sp && (size_t)(sp - s) < sizeof(method)){
		memcpy(method, s, (size_t)(sp - s));
		method[sp - s] = '\0';
		s = sp + 1;
	}else if(s[0]){
		strcpy(method, methods[(unsigned char)s[0] % 4]);
	}
	api_route_parse(method, s, &r);
	if(r.status == 0){
		bool client = r.route == API_ROUTE_CLIENT_GET || r.route == API_ROUTE_CLIENT_KICK;
		if(r.route == API_ROUTE_NONE) abort();
		if(client != (r.client_id != NULL)) abort();
		if(client && (r.client_id[0] == '\0' || strlen(r.client_id) > API_CLIENT_ID_MAX)) abort();
	}else{
		if(r.status != 404 && r.status != 405) abort();
		if(r.client_id) abort();
	}
	api_route_result_free(&r);
}

static void check_publish(const char *body, size_t len, bool batch)
{
	struct api_msgs m;
	char err[256] = "";
	int rc = api_parse_publish(body, len, batch, &m, err, sizeof(err));

	if(rc == API_CODE_OK){
		if(m.count == 0 || m.count > API_BATCH_MAX) abort();
		for(size_t i = 0; i < m.count; i++){
			const struct api_msg *x = &m.items[i];
			if(!api_topic_name_valid(x->topic)) abort();
			if(x->qos < 0 || x->qos > 2) abort();
			if((x->payloadlen == 0) != (x->payload == NULL)) abort();
			if(x->payloadlen) touch(x->payload, x->payloadlen);
		}
	}else{
		if(err[0] == '\0' || m.count != 0 || m.items != NULL) abort();
	}
	api_msgs_free(&m);
}

static void check_subscribe(const char *body, size_t len)
{
	struct api_sub s;
	char err[256] = "";
	int rc = api_parse_subscribe(body, len, &s, err, sizeof(err));

	if(rc == API_CODE_OK){
		if(!api_topic_filter_valid(s.topic) || s.client_id == NULL || s.qos < 0 || s.qos > 2) abort();
	}else if(err[0] == '\0' || s.topic || s.client_id){
		abort();
	}
	api_sub_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t n;

	if(size < 1) return 0;
	n = size - 1;
	s = malloc(n + 1);
	if(s == NULL) return 0;
	memcpy(s, data + 1, n);
	s[n] = '\0';
	switch(data[0] % 6){
	case 0:
		check_route(s);
		break;
	case 1:
		check_publish(s, n, false);
		break;
	case 2:
		check_publish(s, n, true);
		break;
	case 3:
		check_subscribe(s, n);
		break;
	case 4: {
		size_t outlen;
		char *text = api_metrics_from_stats(s, n, &outlen);
		if(text){
			if(strlen(text) != outlen) abort();
			free(text);
		}
		break;
	}
	default:
		check_route(s);
		check_publish(s, n, false);
		check_subscribe(s, n);
		break;
	}
	free(s);
	return 0;
}
