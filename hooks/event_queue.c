/*
 * Bounded SPSC ring (see event_queue.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "hooks/event_queue.h"

int hooks_event_queue_init(struct hooks_event_queue *q, uint32_t limit)
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

uint32_t hooks_event_queue_cleanup(struct hooks_event_queue *q)
{
	struct hooks_spool_rec_hdr *item;
	uint32_t n = 0;

	if(q->slots == NULL) return 0;
	while((item = hooks_event_queue_pop(q)) != NULL){
		free(item);
		n++;
	}
	free(q->slots);
	q->slots = NULL;
	return n;
}

bool hooks_event_queue_push(struct hooks_event_queue *q, struct hooks_spool_rec_hdr *item)
{
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	if(tail - head >= q->limit) return false;
	q->slots[tail & q->mask] = item;
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	return true;
}

struct hooks_spool_rec_hdr *hooks_event_queue_pop(struct hooks_event_queue *q)
{
	uint32_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	struct hooks_spool_rec_hdr *item;

	if(head == tail) return NULL;
	item = q->slots[head & q->mask];
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	return item;
}

uint32_t hooks_event_queue_count(const struct hooks_event_queue *q)
{
	struct hooks_event_queue *m = (struct hooks_event_queue *)q;

	return atomic_load_explicit(&m->tail, memory_order_acquire) - atomic_load_explicit(&m->head, memory_order_acquire);
}
