/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* hist.h - fixed-memory HDR-style log-linear latency histogram.
 *
 * Values (nanoseconds) below 2*HIST_SUB are counted exactly; above, every
 * power of two is split into HIST_SUB linear sub-buckets, so a reported
 * value is within 1/HIST_SUB (0.8%) of the true one.  Memory is fixed
 * (~39 KB) whatever the number of samples, and histograms merge by adding.
 */
#ifndef LOADGEN_HIST_H
#define LOADGEN_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)          /* 128 sub-buckets per octave */
#define HIST_MAX_MSB 44                         /* 2^45 ns ~ 9.7 h: clamp above */
#define HIST_NBUCKETS (HIST_SUB * (HIST_MAX_MSB - HIST_SUB_BITS + 2))

typedef struct hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	long double sum;
	uint64_t b[HIST_NBUCKETS];
} hist_t;

void hist_init(hist_t *h);
void hist_add(hist_t *h, uint64_t v);
void hist_merge(hist_t *dst, const hist_t *src);
/* p in [0,100]; returns the highest value equivalent to the bucket holding
 * the p-th percentile sample, clamped to [min,max]; 0 when empty. */
uint64_t hist_pct(const hist_t *h, double p);
double hist_mean(const hist_t *h);

#endif
