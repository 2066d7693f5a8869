/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The degraded-mode queue: a bounded single-producer (broker thread),
 * single-consumer (forwarder) ring of records that could not go to the
 * spool. Lock-free, so the broker thread never waits for the forwarder.
 *
 * Items are records laid out like spool records (a struct
 * events_spool_rec_hdr followed by the body) allocated with libc malloc:
 * the broker thread allocates them and the forwarder frees them, and the
 * forwarder may not use the broker's allocator.
 */
#ifndef IH_EVENTS_EVENT_QUEUE_H
#define IH_EVENTS_EVENT_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct events_spool_rec_hdr;

struct events_queue {
	struct events_spool_rec_hdr **slots;
	uint32_t mask;
	uint32_t limit;               /* queue_max_events */
	_Atomic uint32_t head;        /* consumer */
	_Atomic uint32_t tail;        /* producer */
};

int events_queue_init(struct events_queue *q, uint32_t limit);
/* Frees the items still queued; returns how many there were. */
uint32_t events_queue_cleanup(struct events_queue *q);
/* Producer. False when full. */
bool events_queue_push(struct events_queue *q, struct events_spool_rec_hdr *item);
/* Consumer. NULL when empty. */
struct events_spool_rec_hdr *events_queue_pop(struct events_queue *q);
uint32_t events_queue_count(const struct events_queue *q);

#endif
