/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Brute-force protection for BASIC_AUTH.
 *
 * Failed logins are counted per username and per client address within
 * auth_fail_window. Once a username's count reaches auth_fail_max, every
 * further attempt for it is refused for auth_fail_block without a
 * registry query or any hash work; refusals made while blocked do not
 * extend the block. A successful login clears the username's count (not
 * the address's: one valid device behind an address must not launder an
 * attack from it). auth_fail_max = 0 turns this off.
 *
 * An address whose count reaches auth_fail_max is blocked too, but an
 * address block alone refuses nobody: thousands of devices share one
 * carrier-grade NAT address, and one misconfigured device must not lock
 * them all out. What a blocked address loses is the cheap path for names
 * that fail or are unknown:
 *  - a username the registry does not know (cached "not found") is
 *    refused at once, without a registry query;
 *  - one failure from a blocked address blocks that username at once
 *    (instead of after auth_fail_max), so each name costs at most one
 *    registry query and one password hash per block;
 *  - a username whose cached record verifies (digest or hash) gets in.
 *
 * Trade-off, to document for operators:
 *  - the per-username block lets anyone who knows a device's username lock
 *    that device out for auth_fail_block, by failing auth_fail_max times;
 *  - from a blocked address, an attacker can still make one registry query
 *    per fresh username it tries (the answer is then cached, and the name
 *    blocked); what it can no longer do is try auth_fail_max passwords per
 *    name. A host cycling through many fresh names therefore costs a
 *    registry query each, which a whole-address block would have saved,
 *    at the price of locking out every honest device behind the address.
 * Memory is bounded by auth_fail_track_max tracked names; past that the
 * least recently touched one is forgotten (a flood of fresh names can thus
 * shorten old blocks, never lengthen them).
 *
 * One log line when a block starts. Broker thread only.
 */
#ifndef IH_AUTH_THROTTLE_H
#define IH_AUTH_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct auth_throttle;

int auth_throttle_init(struct auth_throttle **out, const struct ih_config *cfg);
void auth_throttle_cleanup(struct auth_throttle *t);

/* NULL: go ahead. Otherwise a static reason to refuse now (the username
 * is blocked). Either argument may be NULL (not checked). */
const char *auth_throttle_check(struct auth_throttle *t, const char *username, const char *address, int64_t now_ms);
/* True while address is blocked: the caller refuses unknown usernames
 * without asking the registry (see above). */
bool auth_throttle_address_blocked(struct auth_throttle *t, const char *address, int64_t now_ms);
void auth_throttle_failure(struct auth_throttle *t, const char *username, const char *address, int64_t now_ms);
void auth_throttle_success(struct auth_throttle *t, const char *username);
size_t auth_throttle_tracked(const struct auth_throttle *t);

#endif
