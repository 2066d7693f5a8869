/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Lowercase hex digits, for the ids the plugin prints per event and per
 * connection (event ids, connection ids). One implementation for both.
 */
#ifndef IH_CORE_HEX_H
#define IH_CORE_HEX_H

#include <stdint.h>
#include <string.h>

/* Eight lowercase hex digits of v, most significant first, without a loop
 * or a table: one nibble per byte, then '0'-'9' / 'a'-'f' in every byte at
 * once. Runs for every event, so it is worth the bit tricks. No NUL. */
static inline void ih_hex8(char *out, uint32_t v)
{
	uint64_t x = v;

	x = ((x & 0xffff0000u) << 16) | (x & 0xffffu);
	x = ((x & 0x0000ff000000ff00ull) << 8) | (x & 0x000000ff000000ffull);
	x = ((x & 0x00f000f000f000f0ull) << 4) | (x & 0x000f000f000f000full);
	/* byte k holds nibble k (k = 0 least significant): reverse for text order */
	x = __builtin_bswap64(x);
	x += 0x3030303030303030ull + (((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull) * ('a' - '0' - 10);
	memcpy(out, &x, 8);
}

/* Sixteen digits of v (no NUL). */
static inline void ih_hex16(char *out, uint64_t v)
{
	ih_hex8(out, (uint32_t)(v >> 32));
	ih_hex8(out + 8, (uint32_t)v);
}

#endif
