/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Intrusive doubly-linked list used as an LRU order: the head is the most
 * recently used element, the tail the first to evict.
 */
#ifndef IH_CORE_LRU_H
#define IH_CORE_LRU_H

#include <stddef.h>

struct ih_lru_link {
	struct ih_lru_link *prev;
	struct ih_lru_link *next;
};

struct ih_lru {
	struct ih_lru_link *head;
	struct ih_lru_link *tail;
};

static inline void ih_lru_unlink(struct ih_lru *l, struct ih_lru_link *e)
{
	if(e->prev) e->prev->next = e->next;
	else l->head = e->next;
	if(e->next) e->next->prev = e->prev;
	else l->tail = e->prev;
	e->prev = e->next = NULL;
}

static inline void ih_lru_push_head(struct ih_lru *l, struct ih_lru_link *e)
{
	e->prev = NULL;
	e->next = l->head;
	if(l->head) l->head->prev = e;
	l->head = e;
	if(l->tail == NULL) l->tail = e;
}

static inline void ih_lru_touch(struct ih_lru *l, struct ih_lru_link *e)
{
	if(l->head == e) return;
	ih_lru_unlink(l, e);
	ih_lru_push_head(l, e);
}

#endif
