/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* hist.c - see hist.h */
#include "hist.h"

#include <string.h>

void hist_init(hist_t *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb > HIST_MAX_MSB)
		return HIST_NBUCKETS - 1;
	shift = msb - HIST_SUB_BITS;
	return HIST_SUB * (shift + 1) + (unsigned)((v >> shift) - HIST_SUB);
}

/* highest value that maps to bucket i */
static uint64_t hist_upper(unsigned i)
{
	unsigned shift;
	uint64_t mant;

	if (i < 2 * HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	mant = (uint64_t)(i % HIST_SUB) + HIST_SUB;
	return ((mant + 1) << shift) - 1;
}

void hist_add(hist_t *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(hist_t *dst, const hist_t *src)
{
	unsigned i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_NBUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_pct(const hist_t *h, double p)
{
	uint64_t want, seen = 0, v;
	unsigned i;

	if (!h->count)
		return 0;
	if (p <= 0)
		return h->min;
	if (p >= 100)
		return h->max;
	want = (uint64_t)((p / 100.0) * (double)h->count + 0.9999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			v = hist_upper(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const hist_t *h)
{
	return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}
