/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The per-process hash seed (see keyhash.h).
 */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/keyhash.h"

static uint64_t seed;
static int seeded;

uint64_t ih_keyhash_seed(void)
{
	if(!seeded){
		if(getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)){
			/* Early boot without entropy: weaker, but the hash only ever
			 * picks a bucket, so correctness does not depend on it. */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 16);
		}
		seed |= 1;
		seeded = 1;
	}
	return seed;
}
