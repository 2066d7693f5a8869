/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* The connection table (plugin/conn.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "plugin/conn.h"
#include "test/stubs/broker_stubs.h"
#include "test/unit/unit_run.h"

static struct ih_conn *mk(struct mosquitto *client, const char *id, const char *user)
{
	struct ih_conn *c = mosquitto_calloc(1, sizeof(*c));

	c->client = client;
	c->client_id = mosquitto_strdup(id);
	c->username = user ? mosquitto_strdup(user) : NULL;
	return c;
}

static void release(struct ih_conn *c, void *ud)
{
	(void)ud;
	if(c == NULL) return;
	mosquitto_free(c->client_id);
	mosquitto_free(c->username);
	mosquitto_free(c);
}

START_TEST(add_find_remove)
{
	struct conn_table *t;
	struct mosquitto *a = stub_client_new("c1", "p1/d1", NULL, 4, true);
	struct mosquitto *b = stub_client_new("c2", "p1/d1", NULL, 4, true);
	struct ih_conn *ca = mk(a, "c1", "p1/d1"), *cb = mk(b, "c2", "p1/d1"), *stale;
	int n = 0;

	ck_assert_int_eq(conn_table_new(&t), 0);
	ck_assert_int_eq(conn_table_add(t, ca, &stale), 0);
	ck_assert_ptr_null(stale);
	ck_assert_int_eq(conn_table_add(t, cb, &stale), 0);
	ck_assert_ptr_eq(conn_table_find(t, a), ca);
	ck_assert_ptr_eq(conn_table_find(t, b), cb);
	ck_assert_ptr_eq(conn_table_find_client_id(t, "c2"), cb);
	for(struct ih_conn *c = conn_table_by_username(t, "p1/d1"); c; c = c->next_by_user) n++;
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(conn_table_usernames(t), 1);
	ck_assert_uint_eq(conn_table_online(t), 2);
	conn_table_set_offline(t, ca);
	ck_assert_uint_eq(conn_table_online(t), 1);
	conn_table_remove(t, ca);
	release(ca, NULL);
	ck_assert_ptr_null(conn_table_find(t, a));
	ck_assert_uint_eq(conn_table_count(t), 1);
	conn_table_free(t, release, NULL);
	stub_client_free(a);
	stub_client_free(b);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

START_TEST(takeover_keeps_both_until_disconnect)
{
	struct conn_table *t;
	struct mosquitto *old = stub_client_new("same", "p1/d1", NULL, 4, false);
	struct mosquitto *neu = stub_client_new("same", "p1/d1", NULL, 4, false);
	struct ih_conn *co = mk(old, "same", "p1/d1"), *cn = mk(neu, "same", "p1/d1"), *stale;

	ck_assert_int_eq(conn_table_new(&t), 0);
	conn_table_add(t, co, &stale);
	conn_table_add(t, cn, &stale);
	ck_assert_ptr_eq(conn_table_find_client_id(t, "same"), cn);
	/* the late DISCONNECT of the old context finds the old entry, not the new */
	ck_assert_ptr_eq(conn_table_find_raw(t, old), co);
	conn_table_remove(t, co);
	release(co, NULL);
	ck_assert_ptr_eq(conn_table_find_client_id(t, "same"), cn);
	conn_table_free(t, release, NULL);
	stub_client_free(old);
	stub_client_free(neu);
}
END_TEST

START_TEST(stale_pointer_is_rejected_and_replaced)
{
	struct conn_table *t;
	struct mosquitto *a = stub_client_new("dev-a", "p1/d1", NULL, 4, false);
	struct ih_conn *c1 = mk(a, "dev-a", "p1/d1"), *c2, *stale;

	ck_assert_int_eq(conn_table_new(&t), 0);
	conn_table_add(t, c1, &stale);
	/* The broker freed the context silently and reused its address for a
	 * client that never reached our BASIC_AUTH. */
	stub_client_set_id(a, "intruder");
	ck_assert_ptr_null(conn_table_find(t, a));
	ck_assert_ptr_eq(conn_table_find_raw(t, a), c1);
	c2 = mk(a, "intruder", NULL);
	ck_assert_int_eq(conn_table_add(t, c2, &stale), 0);
	ck_assert_ptr_eq(stale, c1);
	release(stale, NULL);
	ck_assert_ptr_eq(conn_table_find(t, a), c2);
	ck_assert_ptr_null(conn_table_find_client_id(t, "dev-a"));
	conn_table_free(t, release, NULL);
	stub_client_free(a);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

START_TEST(username_view_survives_head_removal)
{
	struct conn_table *t;
	struct mosquitto *cl[3];
	struct ih_conn *c[3], *stale;
	char id[16];
	int n = 0;

	ck_assert_int_eq(conn_table_new(&t), 0);
	for(int i = 0; i < 3; i++){
		snprintf(id, sizeof(id), "u%d", i);
		cl[i] = stub_client_new(id, "p1/d1", NULL, 4, true);
		c[i] = mk(cl[i], id, "p1/d1");
		ck_assert_int_eq(conn_table_add(t, c[i], &stale), 0);
	}
	/* The newest is the head; removing it hands the view to the next. */
	ck_assert_ptr_eq(conn_table_by_username(t, "p1/d1"), c[2]);
	conn_table_remove(t, c[2]);
	ck_assert_ptr_eq(conn_table_by_username(t, "p1/d1"), c[1]);
	/* A middle-or-tail entry leaves the head alone. */
	conn_table_remove(t, c[0]);
	for(struct ih_conn *e = conn_table_by_username(t, "p1/d1"); e; e = e->next_by_user) n++;
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(conn_table_usernames(t), 1);
	conn_table_remove(t, c[1]);
	ck_assert_ptr_null(conn_table_by_username(t, "p1/d1"));
	ck_assert_uint_eq(conn_table_usernames(t), 0);
	for(int i = 0; i < 3; i++){
		release(c[i], NULL);
		stub_client_free(cl[i]);
	}
	conn_table_free(t, release, NULL);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

START_TEST(many_entries_grow)
{
	struct conn_table *t;
	enum { N = 5000 };
	struct mosquitto **cl = malloc(N * sizeof(*cl));
	struct ih_conn *stale;
	char id[32];

	ck_assert_int_eq(conn_table_new(&t), 0);
	for(int i = 0; i < N; i++){
		snprintf(id, sizeof(id), "c%d", i);
		cl[i] = stub_client_new(id, "p/d", NULL, 4, true);
		ck_assert_int_eq(conn_table_add(t, mk(cl[i], id, i % 2 ? "p/d" : NULL), &stale), 0);
	}
	for(int i = 0; i < N; i++){
		ck_assert_ptr_nonnull(conn_table_find(t, cl[i]));
	}
	ck_assert_uint_eq(conn_table_count(t), N);
	conn_table_free(t, release, NULL);
	for(int i = 0; i < N; i++) stub_client_free(cl[i]);
	free(cl);
	ck_assert_int_eq(stub_mem_live_blocks(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, add_find_remove);
	tcase_add_test(tc, takeover_keeps_both_until_disconnect);
	tcase_add_test(tc, stale_pointer_is_rejected_and_replaced);
	tcase_add_test(tc, username_view_survives_head_removal);
	tcase_add_test(tc, many_entries_grow);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
