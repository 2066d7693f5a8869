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
 *                 cost. Used where a lookup runs per message: the ACL
 *                 decision cache and the auto-subscription prefix table.
 *
 * Measured cost (callgrind, x86-64, gcc -O2, bench/acl_micro.sh):
 *   a 27-byte topic: SipHash-1-3 about 90 instructions, SipHash-2-4
 *   about 130; the mix they replace about 30 (see docs/ARCHITECTURE.md
 *   "Hashing" for the figures of the hot paths that use them).
 */
#ifndef IH_CORE_KEYHASH_H
#define IH_CORE_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

#define IH_SIPKEY_LEN 16

uint64_t ih_siphash24(const uint8_t key[IH_SIPKEY_LEN], const void *data, size_t len);
uint64_t ih_siphash13(const uint8_t key[IH_SIPKEY_LEN], const void *data, size_t len);

/* Fill a fresh random key. 0, or -1 when no randomness is available. */
int ih_keyhash_random_key(uint8_t key[IH_SIPKEY_LEN]);

/* The process's key, for tables too many and small to carry their own
 * (one ACL cache per connection): drawn on first use. Broker thread only. */
const uint8_t *ih_keyhash_process_key(void);

#endif
