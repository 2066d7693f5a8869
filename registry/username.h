/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Device identity names: `ProductName/DeviceName` broker usernames and their
 * two halves. Shared by the plugin and iothubctl, so both refuse exactly the
 * same names. Nothing here allocates or calls the broker.
 */
#ifndef IH_REGISTRY_USERNAME_H
#define IH_REGISTRY_USERNAME_H

#include <stddef.h>
#include <stdint.h>

/* Longest ProductName or DeviceName accepted by default (bytes). */
#define IH_NAME_MAX 128

/*
 * Decode the UTF-8 sequence at s (at most `left` bytes, left > 0): its
 * length, with the code point in *cp, or 0 if it is not valid UTF-8 as
 * MQTT defines it (overlong forms, surrogates and values beyond U+10FFFF
 * are invalid). iothubctl's JSON writer uses it too.
 */
size_t registry_utf8_decode(const unsigned char *s, size_t left, uint32_t *cp);

/*
 * Check one name (a ProductName or a DeviceName) of `len` bytes.
 * Returns NULL when valid, otherwise a static, human-readable reason.
 * A valid name is 1..max_len bytes of valid UTF-8 with no '/', '+', '#',
 * NUL or control characters.
 */
const char *registry_name_check(const char *name, size_t len, size_t max_len);

/*
 * Check a broker username `ProductName/DeviceName`: exactly one '/', both
 * halves valid names, total length <= max_len bytes.
 * On success returns NULL and stores the length of ProductName in
 * *product_len (DeviceName starts at username + *product_len + 1).
 * Otherwise returns a static reason and leaves *product_len alone.
 */
const char *registry_username_check(const char *username, size_t max_len, size_t *product_len);

#endif
