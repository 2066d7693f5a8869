/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * The preload state file: the usernames of the devices connected when the
 * broker last saved it, so the next start can load their records in bulk
 * (auth_preload). Never a secret: a username is what every device sends in
 * the clear anyway.
 *
 * Format (text, one username per line, '\n' only):
 *     iothub-preload 1
 *     <username>
 *     ...
 *     end <count>
 * The end line makes a truncated file (a crash mid-write on a filesystem
 * without rename ordering, a full disk) detectable: such a file, or any
 * other malformed one, is rejected whole and the broker starts cold.
 *
 * Written atomically (temporary file, fsync, rename, fsync of the
 * directory), so a reader sees the previous or the new list, never a mix.
 */
#ifndef IH_AUTH_PRELOAD_STATE_H
#define IH_AUTH_PRELOAD_STATE_H

#include <stddef.h>

#define AUTH_PRELOAD_STATE_FILE "iothub-preload.state"

/* Called for each username, in file order; name is NUL-terminated and valid
 * during the call only. */
typedef void (*auth_preload_name_fn)(void *ud, const char *name, size_t len);

/*
 * Check buf[0..len) as a whole, then report every username (each passes
 * registry_username_check with max_len). Returns the count, or -1 with a
 * one-line reason in err, having reported nothing.
 */
long auth_preload_state_parse(const char *buf, size_t len, size_t max_len, auth_preload_name_fn fn, void *ud,
		char *err, size_t errlen);

/* Read and parse path. Returns the count, -1 with err (malformed,
 * unreadable), or -2 when the file does not exist. */
long auth_preload_state_read(const char *path, size_t max_len, auth_preload_name_fn fn, void *ud,
		char *err, size_t errlen);

/* Write names[0..n) to path atomically. 0, or -1 with err. */
int auth_preload_state_write(const char *path, const char *const *names, size_t n, char *err, size_t errlen);

#endif
