/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * publish and kick: through the plugin's HTTP management API (README, "HTTP
 * management API"), with libcurl, exactly as the IotHub server calls it.
 *
 *   iothubctl --api URL --api-key ID:SECRET [--qos N] [--retain] publish TOPIC PAYLOAD
 *   iothubctl --api URL --api-key ID:SECRET kick CLIENTID
 *
 * URL is the API's base (http://HOST:PORT); --api and --api-key default to
 * $IOTHUBCTL_API and $IOTHUBCTL_API_KEY.
 */
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>
#include <curl/curl.h>

#include "tools/ctl/ctl.h"
#include "tools/ctl/ctl_output.h"

#define MAX_ANSWER (1024 * 1024)

struct answer {
	char *buf;
	size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct answer *a = ud;
	size_t n = size * nmemb;
	char *b;

	if(a->len + n > MAX_ANSWER) return 0; /* aborts the transfer */
	b = realloc(a->buf, a->len + n + 1);
	if(b == NULL) return 0;
	memcpy(b + a->len, ptr, n);
	a->buf = b;
	a->len += n;
	a->buf[a->len] = '\0';
	return n;
}

/* One request; CTL_OK with the HTTP status and body, or an exit code
 * (error reported). */
static int request(struct ctl *c, const char *method, const char *path, const char *body,
		long *status, struct answer *a)
{
	const char *base = c->opt.api_url ? c->opt.api_url : getenv("IOTHUBCTL_API");
	const char *key = c->opt.api_key ? c->opt.api_key : getenv("IOTHUBCTL_API_KEY");
	struct curl_slist *hdr = NULL;
	char *url;
	size_t blen;
	CURL *h;
	CURLcode rc;

	if(base == NULL || base[0] == '\0') return out_fail(CTL_USAGE, NULL, "needs --api URL (or $IOTHUBCTL_API)");
	if(key == NULL || strchr(key, ':') == NULL) return out_fail(CTL_USAGE, NULL, "needs --api-key ID:SECRET (or $IOTHUBCTL_API_KEY)");
	blen = strlen(base);
	while(blen > 0 && base[blen - 1] == '/') blen--;
	url = malloc(blen + strlen(path) + 1);
	h = curl_easy_init();
	if(url == NULL || h == NULL){
		free(url);
		if(h) curl_easy_cleanup(h);
		return out_fail(CTL_ERR, NULL, "out of memory");
	}
	memcpy(url, base, blen);
	strcpy(url + blen, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(h, CURLOPT_USERPWD, key);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->opt.timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if(body){
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	if(c->opt.verbose) curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	rc = curl_easy_perform(h);
	if(rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if(rc != CURLE_OK){
		int ret = out_fail(CTL_BROKER, NULL, "%s %s: %s", method, url, curl_easy_strerror(rc));
		free(url);
		return ret;
	}
	free(url);
	return CTL_OK;
}

/* Map the API's answer to the result or an error with the right exit code. */
static int finish(long status, const struct answer *a, const char *what)
{
	bson_error_t e;
	bson_t *doc = a->buf ? bson_new_from_json((const uint8_t *)a->buf, (ssize_t)a->len, &e) : NULL;
	const char *msg = NULL;
	bson_iter_t it;
	int rc;

	if(doc && bson_iter_init_find(&it, doc, "message") && BSON_ITER_HOLDS_UTF8(&it)) msg = bson_iter_utf8(&it, NULL);
	if(status == 200){
		bson_t empty = BSON_INITIALIZER;

		out_result(what, doc ? doc : &empty, NULL);
		rc = CTL_OK;
	}else if(status == 404){
		rc = out_fail(CTL_NOT_FOUND, NULL, "%s: %s", what, msg ? msg : "not found");
	}else if(status == 400 || status == 413){
		rc = out_fail(CTL_USAGE, NULL, "%s: %s", what, msg ? msg : "refused");
	}else{
		rc = out_fail(CTL_BROKER, NULL, "%s: HTTP %ld%s%s", what, status, msg ? ": " : "", msg ? msg : "");
	}
	if(doc) bson_destroy(doc);
	return rc;
}

int ctl_cmd_publish(struct ctl *c, int argc, char **argv)
{
	bson_t req = BSON_INITIALIZER;
	struct answer a = {0};
	long status = 0;
	char *body;
	int rc;

	if(argc != 2) return out_fail(CTL_USAGE, NULL, "usage: iothubctl --api URL --api-key ID:SECRET publish TOPIC PAYLOAD");
	BSON_APPEND_UTF8(&req, "topic", argv[0]);
	BSON_APPEND_UTF8(&req, "payload", argv[1]);
	BSON_APPEND_INT32(&req, "qos", c->opt.qos);
	BSON_APPEND_BOOL(&req, "retain", c->opt.retain);
	BSON_APPEND_UTF8(&req, "client_id", "iothubctl");
	body = bson_as_relaxed_extended_json(&req, NULL);
	bson_destroy(&req);
	if(body == NULL) return out_fail(CTL_ERR, NULL, "out of memory");
	rc = request(c, "POST", "/api/v4/mqtt/publish", body, &status, &a);
	bson_free(body);
	if(rc == CTL_OK) rc = finish(status, &a, "published");
	free(a.buf);
	return rc;
}

int ctl_cmd_kick(struct ctl *c, int argc, char **argv)
{
	struct answer a = {0};
	long status = 0;
	char *id, *path;
	int rc;

	if(argc != 1 || argv[0][0] == '\0') return out_fail(CTL_USAGE, NULL, "usage: iothubctl --api URL --api-key ID:SECRET kick CLIENTID");
	id = curl_easy_escape(NULL, argv[0], 0);
	if(id == NULL) return out_fail(CTL_ERR, NULL, "out of memory");
	path = malloc(strlen(id) + 32);
	if(path == NULL){
		curl_free(id);
		return out_fail(CTL_ERR, NULL, "out of memory");
	}
	strcpy(path, "/api/v4/clients/");
	strcat(path, id);
	curl_free(id);
	rc = request(c, "DELETE", path, NULL, &status, &a);
	free(path);
	if(rc == CTL_OK) rc = finish(status, &a, "kicked");
	free(a.buf);
	return rc;
}
