/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Brute-force protection for BASIC_AUTH.
 *
 * Failed logins are counted per username and per client address within
 * auth_fail_window. Once either count reaches auth_fail_max, every further
 * attempt for that username, or from that address, is refused for
 * auth_fail_block without a registry query or any hash work; refusals made
 * while blocked do not extend the block. A successful login clears the
 * username's count (not the address's: one valid device behind an address
 * must not launder an attack from it). auth_fail_max = 0 turns this off.
 *
 * Trade-off, to document for operators:
 *  - the per-username block lets anyone who knows a device's username lock
 *    that device out for auth_fail_block, by failing auth_fail_max times;
 *  - the per-address block stops a single host trying many usernames, but
 *    also blocks every honest device behind the same NAT address.
 * Memory is bounded by auth_fail_track_max tracked names; past that the
 * least recently touched one is forgotten (a flood of fresh names can thus
 * shorten old blocks, never lengthen them).
 *
 * One log line when a block starts. Broker thread only.
 */
#ifndef IH_AUTH_THROTTLE_H
#define IH_AUTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct auth_throttle;

int auth_throttle_init(struct auth_throttle **out, const struct ih_config *cfg);
void auth_throttle_cleanup(struct auth_throttle *t);

/* NULL: go ahead. Otherwise a static reason to refuse now. Either
 * argument may be NULL (not checked). */
const char *auth_throttle_check(struct auth_throttle *t, const char *username, const char *address, int64_t now_ms);
void auth_throttle_failure(struct auth_throttle *t, const char *username, const char *address, int64_t now_ms);
void auth_throttle_success(struct auth_throttle *t, const char *username);
size_t auth_throttle_tracked(const struct auth_throttle *t);

#endif
