/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* report.h - results of a run and their human / JSON rendering. */
#ifndef LOADGEN_REPORT_H
#define LOADGEN_REPORT_H

#include <stdio.h>

#include "loadgen.h"

typedef struct lg_results {
	int nentries;
	lg_connstats_t *entry[64];  /* merged per connect entry */
	int entry_clients[64];

	/* publishing (pub, cmd) */
	int have_pub;
	int publishers;
	uint64_t sent, acked, nacked, pub_errors, e2e_stalls;
	double pub_elapsed;
	hist_t ack_lat;

	/* receiving (pub with subscribers, sub, cmd) */
	int have_recv;
	int subscribers;
	uint64_t received, foreign, dup, untracked;
	uint64_t lost;
	int lost_known;
	uint64_t pairs;
	uint64_t per_sub_min, per_sub_max;
	double per_sub_mean;
	double recv_elapsed;
	hist_t e2e;

	/* cmd */
	int ntargets;
	uint64_t delivered, misrouted;

	uint64_t disc_unexpected;
	double failed_pct;
	int interrupted;
	int exit_code;
} lg_results_t;

void report_human(FILE *f, const lg_results_t *r);
void report_json(FILE *f, const lg_results_t *r);

#endif
