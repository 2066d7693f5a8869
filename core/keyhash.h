/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Keyed hash for the ACL cache and the auto-subscription index.
 *
 * Topics and client ids come from devices, so a fixed hash would let a
 * client pick keys that all land in one bucket. The per-process random
 * seed makes that guesswork. The hash only picks a bucket: every user
 * compares the full key bytes before believing a hit.
 *
 * Eight bytes a step with a multiply and a shift, because a topic is
 * typically 20..60 bytes and this is on the hot path; the final mix
 * spreads every input bit over the high half, which picks the bucket.
 */
#ifndef IH_CORE_KEYHASH_H
#define IH_CORE_KEYHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The process's seed; drawn from getrandom() on first use. Broker thread. */
uint64_t ih_keyhash_seed(void);

static inline uint64_t ih_keyhash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL);
	uint64_t w;

	if(len >= 8){
		/* Whole words, then one last word overlapping the previous: no byte loop. */
		const unsigned char *last = p + len - 8;
		for(; p < last; p += 8){
			memcpy(&w, p, 8);
			h = (h ^ w) * 0xa0761d6478bd642fULL;
			h ^= h >> 31;
		}
		memcpy(&w, last, 8);
	}else if(len >= 4){
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + len - 4, 4);
		w = ((uint64_t)hi << 32) | lo;
	}else if(len > 0){
		w = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
	}else{
		w = 0;
	}
	h = (h ^ w) * 0xe7037ed1a0b428dbULL;
	h ^= h >> 29;
	h *= 0x8ebc6af09c88c6e3ULL;
	return h ^ (h >> 32);
}

#endif
