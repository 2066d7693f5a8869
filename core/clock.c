/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Identifiers (see clock.h).
 */

#include <string.h>

#include <openssl/rand.h>

#include "core/clock.h"
#include "core/hex.h"

static uint64_t boot_id;
static uint64_t conn_counter;
static int64_t last_seq;

int ih_ids_init(void)
{
	if(RAND_bytes((unsigned char *)&boot_id, sizeof(boot_id)) != 1) return -1;
	conn_counter = 0;
	return 0;
}

uint64_t ih_conn_seq_next(void)
{
	return ++conn_counter;
}

/* "%016" PRIx64 "%08" PRIx64 of (boot_id, seq), without printf: an event
 * for a forwarded publish formats one per message. */
void ih_conn_id_format(uint64_t seq, char out[IH_CONN_ID_LEN])
{
	char s[16];
	int n = 8;

	while(n < 16 && (seq >> (4 * n)) != 0) n++;
	ih_hex16(out, boot_id);
	ih_hex16(s, seq);
	memcpy(out + 16, s + 16 - n, (size_t)n);
	out[16 + n] = '\0';
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
