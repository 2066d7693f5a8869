/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * fleet_mem: the plugin's memory per connected device, for fleets larger
 * than one process can hold sockets for.
 *
 * A broker with 100,000 devices needs 100,000 file descriptors; where the
 * fd hard limit is lower (and cannot be raised), bench/scenarios/11-rss.sh
 * cannot measure it. This program loads the whole plugin (its entry points,
 * with the unit tests' broker stubs standing in for mosquitto) and plays the
 * broker: N fake clients authenticate through MOSQ_EVT_BASIC_AUTH against
 * the real registry (a MongoDB or the stand-in), with ticks in between as
 * the broker's loop would run them. No socket per device, so N is only
 * bounded by memory.
 *
 * It prints the growth of the heap (mallinfo2: bytes in use, malloc's own
 * headers and rounding included) and of the process RSS (after
 * malloc_trim, as the rss scenario reads the broker's), per device. The
 * broker's own per-connection memory is not in these figures: that is what
 * the bare broker's column of the rss scenario shows.
 *
 *   fleet_mem N USERNAME_FMT PASSWORD_FMT key=value...
 *     USERNAME_FMT / PASSWORD_FMT: printf formats taking the device number
 *     (bench/d%d, pw%d); key=value: plugin_opt_ options without the prefix
 *
 * Output, one line: "devices N heap_per_dev B rss_per_dev B refused R".
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "test/stubs/broker_stubs.h"

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if(f == NULL) return -1;
	while(fgets(line, sizeof(line), f)){
		if(!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
	return kb;
}

static void tick(void)
{
	struct mosquitto_evt_tick ed;

	memset(&ed, 0, sizeof(ed));
	stub_callback_fire(MOSQ_EVT_TICK, &ed);
}

int main(int argc, char **argv)
{
	struct mosquitto_opt *opts;
	struct mosquitto **clients;
	void *ud = NULL;
	int n, nopt, refused = 0;
	size_t h0, h1;
	long r0, r1;
	char user[128], pass[128], cid[32];

	if(argc < 4 || (n = atoi(argv[1])) <= 0){
		fprintf(stderr, "usage: fleet_mem N USERNAME_FMT PASSWORD_FMT key=value...\n");
		return 2;
	}
	nopt = argc - 4;
	opts = calloc((size_t)(nopt ? nopt : 1), sizeof(*opts));
	for(int i = 0; i < nopt; i++){
		char *eq = strchr(argv[4 + i], '=');
		if(eq == NULL){
			fprintf(stderr, "fleet_mem: option \"%s\" is not key=value\n", argv[4 + i]);
			return 2;
		}
		*eq = '\0';
		opts[i].key = argv[4 + i];
		opts[i].value = eq + 1;
	}
	/* The fake clients are the broker's memory, not the plugin's: made
	 * before the first reading. */
	clients = calloc((size_t)n, sizeof(*clients));
	for(int i = 0; i < n; i++){
		snprintf(cid, sizeof(cid), "d%d", i);
		snprintf(user, sizeof(user), argv[2], i);
		clients[i] = stub_client_new(cid, user, "127.0.0.1", 4, true);
	}
	if(mosquitto_plugin_init((mosquitto_plugin_id_t *)&ud, &ud, opts, nopt) != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "fleet_mem: the plugin did not start\n");
		return 1;
	}
	/* Let its threads settle (registry connection, preload of nobody). */
	for(int i = 0; i < 50; i++) tick();
	malloc_trim(0);
	h0 = heap_bytes();
	r0 = rss_kb();
	for(int i = 0; i < n; i++){
		struct mosquitto_evt_basic_auth ed;

		snprintf(user, sizeof(user), argv[2], i);
		snprintf(pass, sizeof(pass), argv[3], i);
		memset(&ed, 0, sizeof(ed));
		ed.client = clients[i];
		ed.username = user;
		ed.password = pass;
		if(stub_callback_fire(MOSQ_EVT_BASIC_AUTH, &ed) != MOSQ_ERR_SUCCESS) refused++;
		if(i % 64 == 63) tick();
	}
	for(int i = 0; i < 50; i++) tick();
	malloc_trim(0);
	h1 = heap_bytes();
	r1 = rss_kb();
	printf("devices %d heap_per_dev %.0f rss_per_dev %.0f refused %d\n", n, ((double)h1 - (double)h0) / n,
			((double)r1 - (double)r0) * 1024.0 / n, refused);
	fflush(stdout);

	for(int i = 0; i < n; i++){
		struct mosquitto_evt_disconnect ed;

		memset(&ed, 0, sizeof(ed));
		ed.client = clients[i];
		stub_callback_fire(MOSQ_EVT_DISCONNECT, &ed);
		if(i % 64 == 63) tick();
	}
	mosquitto_plugin_cleanup(ud, opts, nopt);
	for(int i = 0; i < n; i++) stub_client_free(clients[i]);
	free(clients);
	free(opts);
	return refused ? 1 : 0;
}
