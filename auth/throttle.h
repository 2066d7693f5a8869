/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Brute-force protection for BASIC_AUTH: failed logins counted per
 * username and per client address within auth_fail_window, and a block of
 * auth_fail_block once either count reaches auth_fail_max.
 *
 * The policy (what counts as a failure, what clears a count, why an
 * address block alone refuses nobody, the memory bound and the trade-off
 * operators must know) has one home: README.md, section "Authentication",
 * step 2. What the code must keep true for it:
 *  - a blocked username costs no registry query and no hash work;
 *  - an address block alone refuses nobody (carrier-grade NAT): from a
 *    blocked address, a cached "unknown" is refused without a query, one
 *    failure blocks that username at once, and a username whose cached
 *    record verifies still gets in;
 *  - refusals while blocked never extend the block;
 *  - success clears the username's count only (auth_throttle_success);
 *  - at most auth_fail_track_max names are kept, the least recently
 *    touched forgotten first, so a flood can shorten blocks, never
 *    lengthen them.
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
