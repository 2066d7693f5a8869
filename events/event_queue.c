/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Bounded SPSC ring (see event_queue.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "events/event_queue.h"

int events_queue_init(struct events_queue *q, uint32_t limit)
{
	uint32_t size = 1;

	while(size < limit) size <<= 1;
	q->slots = calloc(size, sizeof(*q->slots));
	if(q->slots == NULL) return -ENOMEM;
	q->mask = size - 1;
	q->limit = limit;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	return 0;
}

uint32_t events_queue_cleanup(struct events_queue *q)
{
	struct events_spool_rec_hdr *item;
	uint32_t n = 0;

	if(q->slots == NULL) return 0;
	while((item = events_queue_pop(q)) != NULL){
		free(item);
		n++;
	}
	free(q->slots);
	q->slots = NULL;
	return n;
}

bool events_queue_push(struct events_queue *q, struct events_spool_rec_hdr *item)
{
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	if(tail - head >= q->limit) return false;
	q->slots[tail & q->mask] = item;
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	return true;
}

struct events_spool_rec_hdr *events_queue_pop(struct events_queue *q)
{
	uint32_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	struct events_spool_rec_hdr *item;

	if(head == tail) return NULL;
	item = q->slots[head & q->mask];
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	return item;
}

uint32_t events_queue_count(const struct events_queue *q)
{
	struct events_queue *m = (struct events_queue *)q;

	return atomic_load_explicit(&m->tail, memory_order_acquire) - atomic_load_explicit(&m->head, memory_order_acquire);
}
