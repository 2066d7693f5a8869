/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Time and identifiers for the broker thread.
 *
 * TTLs use the monotonic clock so a wall-clock step cannot extend or cut a
 * cache entry; event timestamps use the wall clock because consumers compare
 * them with their own.
 */
#ifndef IH_CORE_CLOCK_H
#define IH_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline time_t ih_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* Precise monotonic milliseconds, for deadlines shorter than a second. */
static inline int64_t ih_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t ih_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Per-process identity for connection ids; call once at init. */
int ih_ids_init(void);

/* Connection ids: boot id + counter, hex. A connection keeps only its
 * counter value (8 bytes, not the 25-byte string: one per device) and the
 * string is formatted when an event or a peer needs it. */
#define IH_CONN_ID_LEN 33   /* 16 + up to 16 hex digits + NUL */
uint64_t ih_conn_seq_next(void);
/* The id of connection `seq`, NUL-terminated, into out[IH_CONN_ID_LEN]. */
void ih_conn_id_format(uint64_t seq, char out[IH_CONN_ID_LEN]);

/*
 * Event sequence numbers: strictly increasing for the life of the node and,
 * because they are wall-clock microseconds when the clock allows, across
 * restarts too. A consumer orders a client's events by (seq) and so never
 * lets a late disconnect of an old connection override a newer connect.
 */
int64_t ih_seq_next(void);

#endif
