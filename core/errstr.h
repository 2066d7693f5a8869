/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * ih_strerror: the English text of an errno value, for log lines.
 *
 * Why not strerror. glibc's strerror translates its message (dcgettext),
 * which read-locks the process-wide __libc_setlocale_lock. In `make asan`
 * (ASan runtime and the plugin preloaded into an unsanitized mosquitto),
 * brokers whose spool went through degraded mode, logging strerror from
 * the broker and the forwarder threads, ended with that lock's reader count
 * underflowed: at exit, libp11-kit's destructor (loaded through
 * libmicrohttpd and GnuTLS) blocked forever in freelocale() on it, and the
 * broker never exited. strerrordesc_np (glibc 2.32) returns the untranslated
 * description from a static table, without any lock; with it the same
 * tests exit cleanly. It is NULL for an unknown value.
 */
#ifndef IH_CORE_ERRSTR_H
#define IH_CORE_ERRSTR_H

#include <string.h>

static inline const char *ih_strerror(int err)
{
	const char *s = strerrordesc_np(err);

	return s ? s : "unknown error";
}

#endif
