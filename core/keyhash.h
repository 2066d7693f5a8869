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
 * Measured cost (callgrind instructions, x86-64, gcc -O2; bench/acl_micro.sh
 * reports them as siphash13_27B, siphash24_27B, siphash13_9B):
 *   SipHash-1-3, 27-byte topic   190     SipHash-2-4, 27 bytes   289
 *   SipHash-1-3, 9-byte prefix   144
 * The multiply/xorshift mix these replaced was inline and cost about 50 on
 * 27 bytes (cache_hit grew by 141 with SipHash-1-3), so a
 * cached ACL decision went from 202 to 343 instructions, about what the
 * default rules cost to evaluate (rules_write 324, rules_read 361), and an
 * auto-subscription match that finds a prefix from 502 to 595. Messages
 * whose topic starts like no auto-subscription prefix skip the hash
 * (autosub_index.c), so telemetry does not pay it at all.
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
