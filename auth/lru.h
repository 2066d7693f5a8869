/*
 * Intrusive doubly-linked list used as an LRU order: the head is the most
 * recently used element, the tail the first to evict.
 */
#ifndef IH_AUTH_LRU_H
#define IH_AUTH_LRU_H

#include <stddef.h>

struct auth_lru_link {
	struct auth_lru_link *prev;
	struct auth_lru_link *next;
};

struct auth_lru {
	struct auth_lru_link *head;
	struct auth_lru_link *tail;
};

static inline void auth_lru_unlink(struct auth_lru *l, struct auth_lru_link *e)
{
	if(e->prev) e->prev->next = e->next;
	else l->head = e->next;
	if(e->next) e->next->prev = e->prev;
	else l->tail = e->prev;
	e->prev = e->next = NULL;
}

static inline void auth_lru_push_head(struct auth_lru *l, struct auth_lru_link *e)
{
	e->prev = NULL;
	e->next = l->head;
	if(l->head) l->head->prev = e;
	l->head = e;
	if(l->tail == NULL) l->tail = e;
}

static inline void auth_lru_touch(struct auth_lru *l, struct auth_lru_link *e)
{
	if(l->head == e) return;
	auth_lru_unlink(l, e);
	auth_lru_push_head(l, e);
}

#endif
