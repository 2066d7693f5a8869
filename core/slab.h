/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Small-object pool for what the plugin keeps per device: the connection
 * entry (plugin/session.c), the device record (registry/device.c) and the
 * auth cache entry (auth/auth_cache.c).
 *
 * Why not mosquitto_malloc: those blocks are made while the broker handles
 * a CONNECT, between its own short-lived blocks (libwrap's FILE and its
 * 4 KB buffer at every accept), and malloc carves them out of the holes
 * those (and the registry client's and OpenSSL's, on a cache miss) leave.
 * The pieces left over are too small for the next round of short-lived
 * blocks and stay free but resident: 221 bytes per device at 10,000
 * devices, measured with malloc_stats, against 0 for the bare broker, and
 * 101 with this pool. Here the blocks come from 16 KB chunks instead,
 * without malloc's 8-byte header, in 16-byte size classes.
 *
 * A freed block goes on its class's free list for the next one of its
 * size; the chunks are given back when the last block is (plugin unload,
 * or the unit tests' leak checks), not one by one. Blocks above
 * IH_SLAB_MAX bytes come from mosquitto_malloc. The caller passes the
 * block's size to ih_slab_free, the same it asked ih_slab_alloc for.
 * Under AddressSanitizer every block is a malloc block of its own. Broker
 * thread only.
 */
#ifndef IH_CORE_SLAB_H
#define IH_CORE_SLAB_H

#include <stddef.h>

#define IH_SLAB_MAX 512

/* n bytes, zeroed (as mosquitto_calloc), or NULL when out of memory. */
void *ih_slab_alloc(size_t n);
/* Give back a block of ih_slab_alloc(n); NULL is fine. */
void ih_slab_free(void *p, size_t n);

/* Blocks handed out and not given back; bytes the pool holds from malloc. */
size_t ih_slab_live(void);
size_t ih_slab_reserved(void);

#endif
