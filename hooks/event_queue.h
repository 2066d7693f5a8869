/*
 * The degraded-mode queue: a bounded single-producer (broker thread),
 * single-consumer (forwarder) ring of records that could not go to the
 * spool. Lock-free, so the broker thread never waits for the forwarder.
 *
 * Items are records laid out like spool records (a struct
 * hooks_spool_rec_hdr followed by the body) allocated with libc malloc:
 * the broker thread allocates them and the forwarder frees them, and the
 * forwarder may not use the broker's allocator.
 */
#ifndef HOOKS_EVENT_QUEUE_H
#define HOOKS_EVENT_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct hooks_spool_rec_hdr;

struct hooks_event_queue {
	struct hooks_spool_rec_hdr **slots;
	uint32_t mask;
	uint32_t limit;               /* queue_max_events */
	_Atomic uint32_t head;        /* consumer */
	_Atomic uint32_t tail;        /* producer */
};

int hooks_event_queue_init(struct hooks_event_queue *q, uint32_t limit);
/* Frees the items still queued; returns how many there were. */
uint32_t hooks_event_queue_cleanup(struct hooks_event_queue *q);
/* Producer. False when full. */
bool hooks_event_queue_push(struct hooks_event_queue *q, struct hooks_spool_rec_hdr *item);
/* Consumer. NULL when empty. */
struct hooks_spool_rec_hdr *hooks_event_queue_pop(struct hooks_event_queue *q);
uint32_t hooks_event_queue_count(const struct hooks_event_queue *q);

#endif
