/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Routing keys (see cluster_key.h).
 */
#include <stdbool.h>
#include <string.h>

#include "cluster/cluster_key.h"

struct kbuf {
	char *p;
	size_t len;
	bool full;
};

static void put(struct kbuf *b, char c)
{
	if(b->len >= CLUSTER_KEY_MAX){
		b->full = true;
		return;
	}
	b->p[b->len++] = c;
}

static void put_str(struct kbuf *b, const char *s)
{
	while(*s) put(b, *s++);
}

static bool needs_escape(unsigned char c)
{
	return c < 0x21 || c == '.' || c == '*' || c == '#' || c == '%' || c == 0x7f;
}

/* One level (or one whole name): [s, s+n) escaped. */
static void put_word(struct kbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	if(n == 0){
		put(b, '%');
		return;
	}
	for(size_t i = 0; i < n; i++){
		unsigned char c = (unsigned char)s[i];

		if(needs_escape(c)){
			put(b, '%');
			put(b, hex[c >> 4]);
			put(b, hex[c & 15]);
		}else{
			put(b, (char)c);
		}
	}
}

static int finish(struct kbuf *b)
{
	if(b->full) return -1;
	b->p[b->len] = '\0';
	return (int)b->len;
}

/* Levels of `s` up to (not including) the first wildcard level; *wild set
 * when one was found. Returns the number of levels written. */
static size_t put_levels(struct kbuf *b, const char *s, bool stop_at_wildcard, bool *wild)
{
	size_t levels = 0;

	*wild = false;
	for(;;){
		const char *end = strchr(s, '/');
		size_t n = end ? (size_t)(end - s) : strlen(s);

		if(stop_at_wildcard && ((n == 1 && (s[0] == '+' || s[0] == '#')))){
			*wild = true;
			return levels;
		}
		put(b, '.');
		put_word(b, s, n);
		levels++;
		if(end == NULL) return levels;
		s = end + 1;
	}
}

int cluster_key_topic(const char *topic, char *buf)
{
	struct kbuf b = {buf, 0, false};
	bool wild;

	put(&b, 't');
	put_levels(&b, topic, false, &wild);
	return finish(&b);
}

int cluster_key_filter(const char *filter, char *buf)
{
	struct kbuf b = {buf, 0, false};
	bool wild;

	put(&b, 't');
	if(put_levels(&b, filter, true, &wild) == 0) return -1;
	if(wild) put_str(&b, ".#");
	return finish(&b);
}

static int named(char kind, const char *name, char *buf)
{
	struct kbuf b = {buf, 0, false};

	put(&b, kind);
	put(&b, '.');
	put_word(&b, name, strlen(name));
	return finish(&b);
}

int cluster_key_client(const char *client_id, char *buf)
{
	return named('c', client_id, buf);
}

int cluster_key_node(const char *node, char *buf)
{
	return named('n', node, buf);
}
