/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The one keyed hash: SipHash (Aumasson and Bernstein, 2012), a PRF under a
 * secret 128-bit key. Every table whose keys a client can choose (client
 * ids, usernames, addresses, topics) picks its buckets with it, so that
 * nobody who does not know the key can aim a flood of keys at one bucket.
 * A multiply/xorshift mix under a random seed does not give that: its
 * collisions can be found without knowing the seed.
 *
 * Two round counts:
 *   ih_siphash24  SipHash-2-4, the conservative original. Tables touched
 *                 per connection or per registry request (core/strmap).
 *   ih_siphash13  SipHash-1-3: one compression round per 8 bytes and three
 *                 at the end, the variant Redis uses for its dict; still
 *                 a keyed PRF as far as known attacks go, at about half the
 *                 cost. Used where a chained lookup runs per message: the
 *                 auto-subscription prefix table.
 * And one mix that is not a PRF, ih_keyhash_spread below, for the one
 * structure whose layout bounds its lookups whatever the hash does (the
 * ACL decision cache).
 *
 * Measured cost (callgrind instructions, x86-64, gcc -O2; bench/acl_micro.sh
 * reports them as siphash13_27B, siphash24_27B, siphash13_9B):
 *   SipHash-1-3, 27-byte topic   190     SipHash-2-4, 27 bytes   289
 *   SipHash-1-3, 9-byte prefix   144
 * An auto-subscription match that finds a prefix went from 502 to 595 with
 * SipHash-1-3 (the mix it replaced cost about 50): that is the price of a
 * prefix table that a client id in an autosub template (%c) could
 * otherwise flood. Messages whose topic starts like no auto-subscription
 * prefix skip the hash (autosub_index.c), so telemetry does not pay it.
 */
#ifndef IH_CORE_KEYHASH_H
#define IH_CORE_KEYHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IH_SIPKEY_LEN 16

uint64_t ih_siphash24(const uint8_t key[IH_SIPKEY_LEN], const void *data, size_t len);
uint64_t ih_siphash13(const uint8_t key[IH_SIPKEY_LEN], const void *data, size_t len);

/* Fill a fresh random key. 0, or -1 when no randomness is available. */
int ih_keyhash_random_key(uint8_t key[IH_SIPKEY_LEN]);

/* The process's key, for tables too many and small to carry their own
 * (one ACL cache per connection): drawn on first use. Broker thread only. */
const uint8_t *ih_keyhash_process_key(void);

/*
 * ih_keyhash_spread: NOT a keyed PRF. A multiply/xorshift mix, under a
 * per-process seed, that spreads a key's bytes over the bits of the result;
 * its collisions can be found without knowing the seed. So it is allowed in
 * one kind of structure only: one whose lookup work is bounded by its
 * layout whatever the hash does, where a forged collision costs an eviction
 * and nothing else. The ACL decision cache is one (acl/acl_cache.h: four
 * ways per set, full key bytes compared; a flood of colliding topics can
 * only make its hits misses, i.e. cost what having no cache costs). Any
 * chained table (core/strmap) must use SipHash. Cost: about 50 instructions
 * on a 27-byte topic, against 190 for SipHash-1-3 (bench/acl_micro.sh), on
 * the one check that runs per delivery.
 */
static inline uint64_t ih_keyhash_spread(const void *data, size_t len, uint64_t seed)
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

/* The seed of ih_keyhash_spread: eight bytes of the process key. */
static inline uint64_t ih_keyhash_spread_seed(void)
{
	uint64_t seed;

	memcpy(&seed, ih_keyhash_process_key(), sizeof(seed));
	return seed;
}

#endif
