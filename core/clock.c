/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Identifiers (see clock.h).
 */
#include <inttypes.h>
#include <stdio.h>

#include <openssl/rand.h>

#include "core/clock.h"

static uint64_t boot_id;
static uint64_t conn_counter;
static int64_t last_seq;

int ih_ids_init(void)
{
	if(RAND_bytes((unsigned char *)&boot_id, sizeof(boot_id)) != 1) return -1;
	conn_counter = 0;
	return 0;
}

void ih_conn_id_next(char *out, size_t len)
{
	snprintf(out, len, "%016" PRIx64 "%08" PRIx64, boot_id, ++conn_counter);
}

int64_t ih_seq_next(void)
{
	struct timespec ts;
	int64_t us;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	last_seq = us > last_seq ? us : last_seq + 1;
	return last_seq;
}
