/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Shared filter shapes: interning and reference counting (design in
 * autosub_shape.h). Not on the per-message path: only bind and unbind
 * come here.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "autosub/autosub_shape.h"

const unsigned char autosub_level_stop[256] = {['\0'] = 1, ['/'] = 1};

size_t autosub_shape_desc_len(size_t headlen, const char *tail)
{
	return 1 + headlen + 1 + strlen(tail) + 1;
}

size_t autosub_shape_desc_write(char *dst, const char *head, size_t headlen, const char *tail, int qos)
{
	size_t tlen = strlen(tail);

	dst[0] = (char)('0' + qos);
	memcpy(dst + 1, head, headlen);
	dst[1 + headlen] = '\0';
	memcpy(dst + 2 + headlen, tail, tlen + 1);
	return 1 + headlen + 1 + tlen + 1;
}

/* Parse a description back into the set's triples; it is well formed
 * (autosub_shape_desc_write made it). */
static uint32_t shapes_parse(struct autosub_shapes *s, const char *desc, size_t len)
{
	uint32_t n = 0;

	for(size_t off = 0; off < len; ){
		const char *head = desc + off + 1;
		size_t headlen = strlen(head);
		const char *tail = head + headlen + 1;

		if(s){
			struct autosub_shape *sh = &s->shape[n];
			const char *p = tail;

			*sh = (struct autosub_shape){.word = autosub_head_word(head, headlen), .head = head,
					.tail = tail, .headlen = (uint32_t)headlen, .qos = (uint8_t)(desc[off] - '0')};
			while(p[0] == '/' && p[1] == '+' && (p[2] == '/' || p[2] == '\0')){
				sh->plus++;
				p += 2;
			}
			sh->kind = p[0] == '\0' ? AUTOSUB_TAIL_PLUS
					: !strcmp(p, "/#") ? AUTOSUB_TAIL_PLUS_HASH : AUTOSUB_TAIL_OTHER;
		}
		n++;
		off += 1 + headlen + 1 + strlen(tail) + 1;
	}
	return n;
}

struct autosub_shapes *autosub_shapes_get(struct ih_strmap *map, const char *desc, size_t len, size_t *bytes)
{
	struct ih_strmap_node *node = ih_strmap_find(map, desc, len);
	struct autosub_shapes *s;
	uint32_t n;
	size_t size;
	char *copy;

	if(node){
		s = ih_container_of(node, struct autosub_shapes, node);
		s->refs++;
		return s;
	}
	n = shapes_parse(NULL, desc, len);
	size = sizeof(*s) + n * sizeof(struct autosub_shape) + len;
	s = mosquitto_malloc(size);
	if(s == NULL) return NULL;
	*bytes += size;
	memset(s, 0, sizeof(*s));
	s->refs = 1;
	s->bytes = size;
	s->n = n;
	copy = (char *)&s->shape[n];
	memcpy(copy, desc, len);
	shapes_parse(s, copy, len);
	ih_strmap_insert(map, &s->node, copy, len);   /* the map links s; autosub_shapes_put frees it */
	return s;
}

void autosub_shapes_put(struct ih_strmap *map, struct autosub_shapes *s, size_t *bytes)
{
	if(s == NULL || --s->refs > 0) return;
	ih_strmap_remove(map, &s->node);
	*bytes -= s->bytes;
	mosquitto_free(s);
}

void autosub_shapes_free_node(struct ih_strmap_node *n, void *ud)
{
	(void)ud;
	mosquitto_free(ih_container_of(n, struct autosub_shapes, node));
}
