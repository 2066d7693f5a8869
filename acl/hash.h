/*
 * Keyed hash for the ACL cache and the auto-subscription index.
 *
 * Topics and client ids come from devices, so a fixed hash would let a
 * client pick keys that all land in one bucket. The per-process random
 * seed makes that guesswork. The hash only picks a bucket: every user
 * compares the full key bytes before believing a hit.
 *
 * The mixing is wyhash's 64x64->128 multiply-fold, eight bytes a step,
 * because a topic is typically 20..60 bytes and this is on the hot path.
 */
#ifndef IH_ACL_HASH_H
#define IH_ACL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The process's seed; drawn from getrandom() on first use. Broker thread. */
uint64_t acl_hash_seed(void);

static inline uint64_t acl_hash_mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t acl_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL);
	uint64_t w;
	size_t n = len;

	while(n > 8){
		memcpy(&w, p, 8);
		h = acl_hash_mum(h ^ w, 0xa0761d6478bd642fULL);
		p += 8;
		n -= 8;
	}
	if(n >= 4){
		uint32_t lo, hi;
		memcpy(&hi, p, 4);
		memcpy(&lo, p + n - 4, 4);
		w = ((uint64_t)hi << 32) | lo;
	}else if(n > 0){
		w = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
	}else{
		w = 0;
	}
	h = acl_hash_mum(h ^ w, 0xe7037ed1a0b428dbULL);
	return acl_hash_mum(h, seed ^ 0x8ebc6af09c88c6e3ULL);
}

#endif
