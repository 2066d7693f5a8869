/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * api/api_request (routes, publish and subscribe bodies) and api/api_metrics.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_metrics.h"
#include "api/api_request.h"
#include "test/unit/unit_run.h"

struct route_case {
	const char *method;
	const char *path;
	enum api_route route;
	int status;
	const char *client_id;
};

static const struct route_case routes[] = {
	{"POST", "/api/v3//mqtt/publish", API_ROUTE_PUBLISH, 0, NULL},
	{"POST", "/api/v4/mqtt/publish", API_ROUTE_PUBLISH, 0, NULL},
	{"POST", "//api//v4///mqtt//publish/", API_ROUTE_PUBLISH, 0, NULL},
	{"POST", "/api/v4/mqtt/publish_batch", API_ROUTE_PUBLISH_BATCH, 0, NULL},
	{"POST", "/api/v4/mqtt/subscribe", API_ROUTE_SUBSCRIBE, 0, NULL},
	{"POST", "/api/v4/mqtt/unsubscribe", API_ROUTE_UNSUBSCRIBE, 0, NULL},
	{"GET", "/api/v4/stats", API_ROUTE_STATS, 0, NULL},
	{"GET", "/metrics", API_ROUTE_METRICS, 0, NULL},
	{"DELETE", "/api/v3//connections/p1/d1/x", API_ROUTE_CLIENT_KICK, 0, "p1/d1/x"},
	{"DELETE", "/api/v4/clients/p1//d1", API_ROUTE_CLIENT_KICK, 0, "p1//d1"},
	{"GET", "/api/v4/clients/a%20b%2Fc", API_ROUTE_CLIENT_GET, 0, "a b/c"},
	{"GET", "/api/v4/clients//lead", API_ROUTE_CLIENT_GET, 0, "lead"},
	{"GET", "/api/v4/mqtt/publish", API_ROUTE_NONE, 405, NULL},
	{"PUT", "/api/v4/clients/x", API_ROUTE_NONE, 405, NULL},
	{"POST", "/api/v4/stats", API_ROUTE_NONE, 405, NULL},
	{"GET", "/api/v4/clients/", API_ROUTE_NONE, 404, NULL},
	{"GET", "/api/v4/clients/bad%zz", API_ROUTE_NONE, 404, NULL},
	{"GET", "/api/v4/clients/nul%00x", API_ROUTE_NONE, 404, NULL},
	{"GET", "/api/v4/clients/short%4", API_ROUTE_NONE, 404, NULL},
	{"GET", "/api/v5/stats", API_ROUTE_NONE, 404, NULL},
	{"GET", "/api/v4/stats/more", API_ROUTE_NONE, 404, NULL},
	{"GET", "/api/v4/mqtt/publishx", API_ROUTE_NONE, 404, NULL},
	{"GET", "/", API_ROUTE_NONE, 404, NULL},
	{"GET", "", API_ROUTE_NONE, 404, NULL},
};

START_TEST(test_routes)
{
	for(size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++){
		const struct route_case *c = &routes[i];
		struct api_route_result r;

		api_route_parse(c->method, c->path, &r);
		ck_assert_msg(r.status == c->status, "%s %s: status %d", c->method, c->path, r.status);
		if(c->status == 0) ck_assert_msg(r.route == c->route, "%s %s: route %d", c->method, c->path, r.route);
		if(c->client_id){
			ck_assert_ptr_nonnull(r.client_id);
			ck_assert_str_eq(r.client_id, c->client_id);
		}else{
			ck_assert_ptr_null(r.client_id);
		}
		api_route_result_free(&r);
	}
}
END_TEST

static int pub(const char *body, bool batch, struct api_msgs *m, char *err)
{
	return api_parse_publish(body, strlen(body), batch, m, err, 256);
}

START_TEST(test_publish_server_shape)
{
	struct api_msgs m;
	char err[256];

	ck_assert_int_eq(pub("{\"topic\":\"cmd/p1/d1/x/plain/r1\",\"payload\":\"{\\\"a\\\":1}\",\"qos\":1,"
			"\"retained\":false,\"client_id\":\"srv\"}", false, &m, err), API_CODE_OK);
	ck_assert_uint_eq(m.count, 1);
	ck_assert_str_eq(m.items[0].topic, "cmd/p1/d1/x/plain/r1");
	ck_assert_uint_eq(m.items[0].payloadlen, 7);
	ck_assert(memcmp(m.items[0].payload, "{\"a\":1}", 7) == 0);
	ck_assert_int_eq(m.items[0].qos, 1);
	ck_assert(!m.items[0].retain);
	ck_assert_str_eq(m.items[0].client_id, "srv");
	api_msgs_free(&m);
}
END_TEST

START_TEST(test_publish_topics_base64_retain)
{
	struct api_msgs m;
	char err[256];

	ck_assert_int_eq(pub("{\"topics\":\"a/b,c\",\"topic\":\"t\",\"encoding\":\"base64\",\"payload\":\"AAFi\","
			"\"qos\":\"2\",\"retain\":true,\"clientid\":\"x\"}", false, &m, err), API_CODE_OK);
	ck_assert_uint_eq(m.count, 3);
	ck_assert_str_eq(m.items[0].topic, "t");
	ck_assert_str_eq(m.items[1].topic, "a/b");
	ck_assert_str_eq(m.items[2].topic, "c");
	for(size_t i = 0; i < 3; i++){
		ck_assert_uint_eq(m.items[i].payloadlen, 3);
		ck_assert(memcmp(m.items[i].payload, "\x00\x01" "b", 3) == 0);
		ck_assert_int_eq(m.items[i].qos, 2);
		ck_assert(m.items[i].retain);
		ck_assert_str_eq(m.items[i].client_id, "x");
	}
	api_msgs_free(&m);
	ck_assert_int_eq(pub("{\"topic\":\"e\"}", false, &m, err), API_CODE_OK);
	ck_assert_uint_eq(m.items[0].payloadlen, 0);
	ck_assert_ptr_null(m.items[0].payload);
	api_msgs_free(&m);
}
END_TEST

START_TEST(test_publish_batch)
{
	struct api_msgs m;
	char err[256];

	ck_assert_int_eq(pub(" [{\"topic\":\"a\",\"payload\":\"1\"},{\"topic\":\"b\",\"qos\":1}]", true, &m, err), API_CODE_OK);
	ck_assert_uint_eq(m.count, 2);
	ck_assert_str_eq(m.items[1].topic, "b");
	api_msgs_free(&m);
	ck_assert_int_eq(pub("[]", true, &m, err), API_CODE_BAD_PARAM);
	ck_assert_int_eq(pub("{\"topic\":\"a\"}", true, &m, err), API_CODE_BAD_JSON);
	ck_assert_int_eq(pub("[{\"topic\":\"a\"},\"x\"]", true, &m, err), API_CODE_BAD_PARAM);
	ck_assert_uint_eq(m.count, 0);
}
END_TEST

struct bad { const char *body; int code; const char *msg; };

static const struct bad bad_bodies[] = {
	{"", API_CODE_BAD_JSON, "empty"},
	{"   ", API_CODE_BAD_JSON, "empty"},
	{"{\"topic\":", API_CODE_BAD_JSON, "malformed"},
	{"[1]", API_CODE_BAD_JSON, "object"},
	{"{}", API_CODE_BAD_PARAM, "missing topic"},
	{"{\"topic\":\"\"}", API_CODE_BAD_PARAM, "invalid topic"},
	{"{\"topic\":1}", API_CODE_BAD_PARAM, "string"},
	{"{\"topic\":\"a\\u0000b\"}", API_CODE_BAD_PARAM, "string"},
	{"{\"topic\":\"a/+\"}", API_CODE_BAD_PARAM, "wildcards"},
	{"{\"topic\":\"a/#\"}", API_CODE_BAD_PARAM, "wildcards"},
	{"{\"topics\":\"a,,b\"}", API_CODE_BAD_PARAM, "invalid topic"},
	{"{\"topic\":\"a\",\"qos\":3}", API_CODE_BAD_PARAM, "qos"},
	{"{\"topic\":\"a\",\"qos\":-1}", API_CODE_BAD_PARAM, "qos"},
	{"{\"topic\":\"a\",\"qos\":1.5}", API_CODE_BAD_PARAM, "qos"},
	{"{\"topic\":\"a\",\"qos\":\"x\"}", API_CODE_BAD_PARAM, "qos"},
	{"{\"topic\":\"a\",\"retain\":1}", API_CODE_BAD_PARAM, "retain"},
	{"{\"topic\":\"a\",\"payload\":5}", API_CODE_BAD_PARAM, "payload"},
	{"{\"topic\":\"a\",\"encoding\":\"hex\"}", API_CODE_BAD_PARAM, "encoding"},
	{"{\"topic\":\"a\",\"encoding\":\"base64\",\"payload\":\"@@@@\"}", API_CODE_BAD_PARAM, "base64"},
	{"{\"topic\":\"a\",\"client_id\":7}", API_CODE_BAD_PARAM, "client_id"},
};

START_TEST(test_publish_bad)
{
	for(size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++){
		struct api_msgs m;
		char err[256] = "";
		int rc = pub(bad_bodies[i].body, false, &m, err);

		ck_assert_msg(rc == bad_bodies[i].code, "%s: code %d (%s)", bad_bodies[i].body, rc, err);
		ck_assert_msg(strstr(err, bad_bodies[i].msg) != NULL, "%s: message \"%s\"", bad_bodies[i].body, err);
		ck_assert_uint_eq(m.count, 0);
		ck_assert_ptr_null(m.items);
	}
}
END_TEST

START_TEST(test_subscribe)
{
	struct api_sub s;
	char err[256];
	const char *ok = "{\"topic\":\"tags/p1/+/cmd/#\",\"qos\":1,\"clientid\":\"c1\"}";

	ck_assert_int_eq(api_parse_subscribe(ok, strlen(ok), &s, err, sizeof(err)), API_CODE_OK);
	ck_assert_str_eq(s.topic, "tags/p1/+/cmd/#");
	ck_assert_str_eq(s.client_id, "c1");
	ck_assert_int_eq(s.qos, 1);
	api_sub_free(&s);
	const char *bad[] = {"{\"topic\":\"a/#/b\",\"clientid\":\"c\"}", "{\"topic\":\"a\"}",
		"{\"topic\":\"a\",\"clientid\":\"\"}", "{\"topic\":\"a\",\"clientid\":\"c\",\"qos\":9}", "{\"clientid\":\"c\"}"};
	for(size_t i = 0; i < 5; i++){
		ck_assert_int_eq(api_parse_subscribe(bad[i], strlen(bad[i]), &s, err, sizeof(err)), API_CODE_BAD_PARAM);
		ck_assert_ptr_null(s.topic);
	}
}
END_TEST

START_TEST(test_metrics)
{
	const char *json = "{\"node\":\"n\",\"connections\":{\"online\":3},\"auth\":{\"registry_up\":true},"
		"\"events\":null,\"kicks\":2,\"odd-name\":{\"x.y\":1}}";
	size_t len;
	char *t = api_metrics_from_stats(json, strlen(json), &len);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), len);
	ck_assert_ptr_nonnull(strstr(t, "\niothub_connections_online 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "\niothub_auth_registry_up 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\niothub_kicks 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "\niothub_odd_name_x_y 1\n"));
	ck_assert_ptr_null(strstr(t, "node"));
	free(t);
	ck_assert_ptr_null(api_metrics_from_stats("{", 1, &len));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_request");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_routes);
	tcase_add_test(tc, test_publish_server_shape);
	tcase_add_test(tc, test_publish_topics_base64_retain);
	tcase_add_test(tc, test_publish_batch);
	tcase_add_test(tc, test_publish_bad);
	tcase_add_test(tc, test_subscribe);
	tcase_add_test(tc, test_metrics);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
