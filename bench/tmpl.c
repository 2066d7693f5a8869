/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* tmpl.c - topic / credential templates with %-placeholders.
 *
 *   %u username (the client id when anonymous)
 *   %p %d  the two halves of a "P/D" username (both the client id when
 *          anonymous; %d is empty when the username has no '/')
 *   %i index of the client within its role (0-based)
 *   %c client id
 *   %n per-message sequence number (topics of publishers only)
 *   %r run id: 'r' + 3 hex digits, different for every loadgen run
 *   %% a literal '%'
 */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tmpl_compile(tmpl_t *t, const char *src, const char *allowed)
{
	const char *s = src, *lit = src;
	int n = 0;

	memset(t, 0, sizeof(*t));
	t->src = src;
	if (!src)
		return 0;
	t->seg = calloc(strlen(src) + 1, sizeof(*t->seg));
	if (!t->seg)
		return -1;
	while (*s) {
		if (*s != '%') {
			s++;
			continue;
		}
		if (s > lit) {
			t->seg[n].kind = 0;
			t->seg[n].lit = lit;
			t->seg[n++].len = (size_t)(s - lit);
		}
		if (s[1] == '%') {
			t->seg[n].kind = 0;
			t->seg[n].lit = s;
			t->seg[n++].len = 1;
		} else if (s[1] && strchr(allowed, s[1])) {
			t->seg[n++].kind = s[1];
			if (s[1] == 'n')
				t->has_seq = true;
			else if (s[1] != 'r')
				t->per_client = true;
		} else {
			fprintf(stderr, "loadgen: template '%s': placeholder '%%%c' is not allowed here (allowed: %s)\n",
				src, s[1] ? s[1] : ' ', allowed);
			return -1;
		}
		s += 2;
		lit = s;
	}
	if (s > lit) {
		t->seg[n].kind = 0;
		t->seg[n].lit = lit;
		t->seg[n++].len = (size_t)(s - lit);
	}
	t->nseg = n;
	return 0;
}

static int put(char *out, size_t cap, size_t *pos, const char *s, size_t len)
{
	if (*pos + len >= cap)
		return -1;
	memcpy(out + *pos, s, len);
	*pos += len;
	return 0;
}

static size_t utoa(uint64_t v, char *buf)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

int tmpl_expand(const tmpl_t *t, const lg_client_t *c, uint32_t seq, char *out, size_t cap)
{
	size_t pos = 0, l;
	char num[24];
	int i;
	const char *s;

	for (i = 0; i < t->nseg; i++) {
		const tmpl_seg_t *g = &t->seg[i];
		int rc = 0;

		switch (g->kind) {
		case 0:
			rc = put(out, cap, &pos, g->lit, g->len);
			break;
		case 'n':
			l = utoa(seq, num);
			rc = put(out, cap, &pos, num, l);
			break;
		case 'r':
			rc = put(out, cap, &pos, G.run_id, strlen(G.run_id));
			break;
		case 'i':
			l = utoa(c ? (uint64_t)c->idx : 0, num);
			rc = put(out, cap, &pos, num, l);
			break;
		case 'c':
			s = c && c->id ? c->id : "";
			rc = put(out, cap, &pos, s, strlen(s));
			break;
		case 'u':
			s = c ? (c->user ? c->user : c->id) : "";
			rc = put(out, cap, &pos, s ? s : "", s ? strlen(s) : 0);
			break;
		case 'p':
			if (c && c->p)
				rc = put(out, cap, &pos, c->p, c->plen);
			break;
		case 'd':
			if (c && c->d)
				rc = put(out, cap, &pos, c->d, c->dlen);
			break;
		}
		if (rc)
			return -1;
	}
	if (pos >= cap)
		return -1;
	out[pos] = '\0';
	return (int)pos;
}
