/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Replace a file atomically: write a temporary file next to it, fsync it,
 * rename it over the target, fsync the directory. A reader (or the next
 * start after a crash) sees the old content or the new one, never a mix.
 * Used for stats_file and the preload state file.
 */
#ifndef IH_CORE_ATOMIC_FILE_H
#define IH_CORE_ATOMIC_FILE_H

#include <stddef.h>

/* 0, or -1 with a one-line reason (naming the file) in err; the temporary
 * file is removed on failure. */
int ih_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
