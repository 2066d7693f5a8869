/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * SipHash-2-4 and SipHash-1-3 (see keyhash.h), and the keys.
 */
#include <endian.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/keyhash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while(0)

static inline uint64_t load64_le(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));   /* one load on x86 */
	return le64toh(v);
}

/* Both variants from one body: the compiler unrolls the constant loops. */
static inline __attribute__((always_inline)) uint64_t siphash(const uint8_t key[IH_SIPKEY_LEN],
		const void *data, size_t len, int c_rounds, int d_rounds)
{
	const uint8_t *in = data;
	const uint8_t *end = in + len - (len % 8);
	uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = ((uint64_t)len) << 56;
	uint64_t m;

	for(; in != end; in += 8){
		m = load64_le(in);
		v3 ^= m;
		for(int i = 0; i < c_rounds; i++) SIPROUND;
		v0 ^= m;
	}
	switch(len % 8){
	case 7: b |= ((uint64_t)in[6]) << 48; /* fall through */
	case 6: b |= ((uint64_t)in[5]) << 40; /* fall through */
	case 5: b |= ((uint64_t)in[4]) << 32; /* fall through */
	case 4: b |= ((uint64_t)in[3]) << 24; /* fall through */
	case 3: b |= ((uint64_t)in[2]) << 16; /* fall through */
	case 2: b |= ((uint64_t)in[1]) << 8;  /* fall through */
	case 1: b |= ((uint64_t)in[0]); break;
	default: break;
	}
	v3 ^= b;
	for(int i = 0; i < c_rounds; i++) SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for(int i = 0; i < d_rounds; i++) SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t ih_siphash24(const uint8_t key[IH_SIPKEY_LEN], const void *data, size_t len)
{
	return siphash(key, data, len, 2, 4);
}

uint64_t ih_siphash13(const uint8_t key[IH_SIPKEY_LEN], const void *data, size_t len)
{
	return siphash(key, data, len, 1, 3);
}

int ih_keyhash_random_key(uint8_t key[IH_SIPKEY_LEN])
{
	return getrandom(key, IH_SIPKEY_LEN, 0) == (ssize_t)IH_SIPKEY_LEN ? 0 : -1;
}

static uint8_t process_key[IH_SIPKEY_LEN];
static int process_keyed;

const uint8_t *ih_keyhash_process_key(void)
{
	if(!process_keyed){
		if(getrandom(process_key, sizeof(process_key), GRND_NONBLOCK) != (ssize_t)sizeof(process_key)){
			/* Early boot without entropy: weaker, but the key only ever
			 * picks a bucket, so correctness does not depend on it. */
			struct timespec ts;
			uint64_t w[2];

			clock_gettime(CLOCK_MONOTONIC, &ts);
			w[0] = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec;
			w[1] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
			memcpy(process_key, w, sizeof(process_key));
		}
		process_keyed = 1;
	}
	return process_key;
}
