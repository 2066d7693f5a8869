/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The forwarder's confirm bookkeeping: single and multiple acks, nacks,
 * returns matched by message id, the settled prefix, and go-back-N rewind.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "events/forwarder_ring.h"
#include "test/unit/unit_run.h"

static struct events_spool_rec_hdr hdrs[64];

/* Push n entries and mark them sent with tags 1..n. */
static void fill(struct events_fwd_ring *r, uint32_t n)
{
	for(uint32_t i = 0; i < n; i++){
		struct events_fwd_entry *e = events_fwd_ring_push(r);
		hdrs[i].id_hi = 7;
		hdrs[i].id_lo = i + 1;
		e->hdr = &hdrs[i];
		e->end.off = 1000 + i;
		e->tag = i + 1;
		e->state = EVENTS_FWD_SENT;
		r->next_send = r->count;
	}
}

START_TEST(multiple_ack_settles_prefix)
{
	struct events_fwd_ring r;
	struct events_fwd_settle s = {0, 0, 0};
	struct events_spool_pos pos = {0};
	bool moved = false;

	ck_assert_int_eq(events_fwd_ring_init(&r, 16), 0);
	fill(&r, 10);
	events_fwd_ring_confirm(&r, 4, true, true, &s);
	ck_assert_uint_eq(s.acked, 4);
	ck_assert_uint_eq(events_fwd_ring_settle(&r, &pos, &moved), 4);
	ck_assert(moved);
	ck_assert_uint_eq(pos.off, 1003);
	ck_assert_uint_eq(r.count, 6);
	ck_assert_uint_eq(r.next_send, 6);
	events_fwd_ring_cleanup(&r);
}
END_TEST

START_TEST(out_of_order_single_acks)
{
	struct events_fwd_ring r;
	struct events_fwd_settle s = {0, 0, 0};
	struct events_spool_pos pos = {0};
	bool moved = false;

	ck_assert_int_eq(events_fwd_ring_init(&r, 16), 0);
	fill(&r, 5);
	events_fwd_ring_confirm(&r, 3, false, true, &s);
	events_fwd_ring_confirm(&r, 2, false, true, &s);
	ck_assert_uint_eq(events_fwd_ring_settle(&r, &pos, &moved), 0); /* 1 still open */
	events_fwd_ring_confirm(&r, 1, false, true, &s);
	ck_assert_uint_eq(events_fwd_ring_settle(&r, &pos, &moved), 3);
	ck_assert_uint_eq(pos.off, 1002);
	ck_assert_uint_eq(s.acked, 3);
	events_fwd_ring_cleanup(&r);
}
END_TEST

START_TEST(nack_fails_and_rewind_resends_only_unacked)
{
	struct events_fwd_ring r;
	struct events_fwd_settle s = {0, 0, 0};
	struct events_spool_pos pos = {0};
	bool moved = false;

	ck_assert_int_eq(events_fwd_ring_init(&r, 16), 0);
	fill(&r, 6);
	events_fwd_ring_confirm(&r, 2, false, false, &s);  /* nack 2 */
	events_fwd_ring_confirm(&r, 6, true, true, &s);    /* ack the rest */
	ck_assert_uint_eq(s.nacked, 1);
	ck_assert_uint_eq(s.acked, 5);
	ck_assert_uint_eq(events_fwd_ring_settle(&r, &pos, &moved), 1);
	events_fwd_ring_rewind(&r);
	ck_assert_uint_eq(r.next_send, 0);
	ck_assert_int_eq(events_fwd_ring_at(&r, 0)->state, EVENTS_FWD_PENDING);
	for(uint32_t i = 1; i < r.count; i++) ck_assert_int_eq(events_fwd_ring_at(&r, i)->state, EVENTS_FWD_ACKED);
	events_fwd_ring_cleanup(&r);
}
END_TEST

START_TEST(return_then_ack_counts_as_failed)
{
	struct events_fwd_ring r;
	struct events_fwd_settle s = {0, 0, 0};
	struct events_spool_pos pos = {0};
	bool moved = false;

	ck_assert_int_eq(events_fwd_ring_init(&r, 16), 0);
	fill(&r, 3);
	ck_assert(events_fwd_ring_returned(&r, 7, 2));
	ck_assert(!events_fwd_ring_returned(&r, 8, 2));
	events_fwd_ring_confirm(&r, 3, true, true, &s);
	ck_assert_uint_eq(s.acked, 2);
	ck_assert_uint_eq(s.failed_returns, 1);
	ck_assert_uint_eq(events_fwd_ring_settle(&r, &pos, &moved), 1);
	ck_assert_int_eq(events_fwd_ring_at(&r, 0)->state, EVENTS_FWD_FAILED);
	events_fwd_ring_cleanup(&r);
}
END_TEST

START_TEST(memory_items_are_freed)
{
	struct events_fwd_ring r;
	struct events_fwd_entry *e;

	ck_assert_int_eq(events_fwd_ring_init(&r, 4), 0);
	e = events_fwd_ring_push(&r);
	e->mem = calloc(1, sizeof(struct events_spool_rec_hdr));
	e->hdr = e->mem;
	e->state = EVENTS_FWD_SENT;
	ck_assert_uint_eq(events_fwd_ring_cleanup(&r), 1); /* lost: never acked */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("amqp_ring");
	TCase *tc = tcase_create("ring");

	tcase_add_test(tc, multiple_ack_settles_prefix);
	tcase_add_test(tc, out_of_order_single_acks);
	tcase_add_test(tc, nack_fails_and_rewind_resends_only_unacked);
	tcase_add_test(tc, return_then_ack_counts_as_failed);
	tcase_add_test(tc, memory_items_are_freed);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
