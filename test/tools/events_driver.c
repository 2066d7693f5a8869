/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/*
 * Drives the events boundary the way the plugin glue will, without a
 * broker: events_init, N x events_*, events_tick every 100 ms, wait for
 * confirms, events_cleanup. Broker functions come from test/stubs.
 *
 *   events_driver [--count N] [--rate EPS] [--type publish|connected|disconnected|mixed]
 *                 [--payload BYTES] [--client ID] [--seq-start N] [--hold S] [--drain S]
 *                 [--print-appended] [--log] [plugin_opt=value ...]
 *
 * Prints one JSON object on the last line of stdout: counters and the cost
 * of each events_* call per second of the run (the append rate check).
 * With --print-appended, "A <seq>" is written (unbuffered) after every
 * accepted event, so a test that SIGKILLs the driver knows what was handed over.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "events/events.h"
#include "core/config.h"
#include "core/clock.h"
#include "test/stubs/broker_stubs.h"

#define MAX_SECONDS 600

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct bucket {
	uint64_t n, sum_ns, max_ns;
};

static struct bucket buckets[MAX_SECONDS];
static int64_t last_tick_ns;

static void maybe_tick(struct events *ev)
{
	int64_t t = now_ns();
	if(t - last_tick_ns >= 100000000LL){
		events_tick(ev, ih_mono_s());
		last_tick_ns = t;
	}
}

static void print_stats(const struct events_stats *s)
{
	printf("\"queued\":%" PRIu64 ",\"spooled\":%" PRIu64 ",\"spool_bytes\":%" PRIu64 ",\"memory_queued\":%" PRIu64
			",\"published\":%" PRIu64 ",\"confirmed\":%" PRIu64 ",\"returned\":%" PRIu64 ",\"nacked\":%" PRIu64
			",\"dropped\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"redelivered\":%" PRIu64 ",\"backlog\":%" PRIu64
			",\"amqp_connected\":%s,\"blocked\":%s",
			s->queued, s->spooled, s->spool_bytes, s->memory_queued, s->published, s->confirmed, s->returned,
			s->nacked, s->dropped, s->reconnects, s->redelivered, s->backlog,
			s->amqp_connected ? "true" : "false", s->blocked ? "true" : "false");
}

int main(int argc, char **argv)
{
	struct mosquitto_opt opts[64];
	int nopts = 0;
	long count = 1000, payload_size = 32, seq_start = 1;
	double rate = 0, hold_s = 0, drain_s = 30;
	const char *type = "publish", *client = "drv";
	bool print_appended = false, bench = false;
	struct ih_config cfg;
	struct events *ev = NULL;
	struct events_stats st;
	struct events_client c;
	char *payload;
	long accepted = 0, rejected = 0;
	int64_t t0, t_end, t_confirmed = 0;
	int rc;

	for(int i = 1; i < argc; i++){
		const char *a = argv[i];
		if(!strcmp(a, "--count") && i + 1 < argc) count = atol(argv[++i]);
		else if(!strcmp(a, "--rate") && i + 1 < argc) rate = atof(argv[++i]);
		else if(!strcmp(a, "--type") && i + 1 < argc) type = argv[++i];
		else if(!strcmp(a, "--payload") && i + 1 < argc) payload_size = atol(argv[++i]);
		else if(!strcmp(a, "--client") && i + 1 < argc) client = argv[++i];
		else if(!strcmp(a, "--seq-start") && i + 1 < argc) seq_start = atol(argv[++i]);
		else if(!strcmp(a, "--hold") && i + 1 < argc) hold_s = atof(argv[++i]);
		else if(!strcmp(a, "--drain") && i + 1 < argc) drain_s = atof(argv[++i]);
		else if(!strcmp(a, "--print-appended")) print_appended = true;
		else if(!strcmp(a, "--bench")) bench = true;
		else if(!strcmp(a, "--log")) stub_log_echo(true);
		else if(strchr(a, '=') && nopts < 64){
			char *kv = strdup(a), *eq = strchr(kv, '=');
			*eq = '\0';
			opts[nopts].key = kv;
			opts[nopts].value = eq + 1;
			nopts++;
		}else{
			fprintf(stderr, "events_driver: bad argument %s\n", a);
			return 2;
		}
	}
	stub_log_echo(true);
	if(ih_config_parse(&cfg, opts, nopts)) return 2;
	if(events_init(&ev, &cfg) || ev == NULL){
		fprintf(stderr, "events_driver: events_init failed\n");
		return 3;
	}
	payload = malloc((size_t)payload_size + 64);
	memset(&c, 0, sizeof(c));
	c.client_id = client;
	c.username = "p1/d1";
	c.product_len = 2;
	c.conn_id = "drv-conn-1";
	c.address = "127.0.0.1";
	c.keepalive = 60;
	c.proto_ver = 4;
	c.clean_session = true;

	t0 = now_ns();
	if(bench){
		/* Only the events_publish calls: payload prepared once, no per-event clocks. */
		int64_t at = wall_ms();
		memset(payload, 'x', (size_t)payload_size);
		for(long i = 0; i < count; i++){
			if(events_publish(ev, &c, seq_start + i, at, "upload_data/p1/d1/temp/m1", payload,
					(uint32_t)payload_size, 1, false) == 0) accepted++;
			else rejected++;
		}
		count = 0;
	}
	for(long i = 0; i < count; i++){
		long seq = seq_start + i;
		const char *kind = type;
		int64_t a, b;
		int sec;

		if(rate > 0){
			int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
			while(now_ns() < due){
				maybe_tick(ev);
				usleep(200);
			}
		}
		if(!strcmp(type, "mixed")) kind = (i % 3 == 0) ? "connected" : (i % 3 == 1) ? "publish" : "disconnected";
		int plen = snprintf(payload, 64, "{\"seq\":%ld}", seq);
		if(payload_size > plen) memset(payload + plen, ' ', (size_t)(payload_size - plen));
		if(payload_size > plen) plen = (int)payload_size;

		a = now_ns();
		if(!strcmp(kind, "connected")) rc = events_connected(ev, &c, seq, wall_ms());
		else if(!strcmp(kind, "disconnected")) rc = events_disconnected(ev, &c, seq, wall_ms(), "normal");
		else rc = events_publish(ev, &c, seq, wall_ms(), "upload_data/p1/d1/temp/m1", payload, (uint32_t)plen, 1, false);
		b = now_ns();
		sec = (int)((b - t0) / 1000000000LL);
		if(sec >= MAX_SECONDS) sec = MAX_SECONDS - 1;
		buckets[sec].n++;
		buckets[sec].sum_ns += (uint64_t)(b - a);
		if((uint64_t)(b - a) > buckets[sec].max_ns) buckets[sec].max_ns = (uint64_t)(b - a);
		if(rc == 0){
			accepted++;
			if(print_appended){
				char line[32];
				int n = snprintf(line, sizeof(line), "A %ld\n", seq);
				if(write(1, line, (size_t)n) != n) return 4;
			}
		}else{
			rejected++;
		}
		if((i & 255) == 0) maybe_tick(ev);
	}
	t_end = now_ns();

	/* Let the test act on RabbitMQ, then wait for everything to be confirmed. */
	{
		int64_t until = now_ns() + (int64_t)(hold_s * 1e9);
		while(now_ns() < until){
			maybe_tick(ev);
			usleep(10000);
		}
		until = now_ns() + (int64_t)(drain_s * 1e9);
		do{
			maybe_tick(ev);
			events_get_stats(ev, &st);
			if(st.backlog == 0){
				t_confirmed = now_ns();
				break;
			}
			usleep(10000);
		}while(now_ns() < until);
	}
	events_get_stats(ev, &st);
	fflush(stdout);
	printf("{\"accepted\":%ld,\"rejected\":%ld,\"append_s\":%.6f,\"confirm_s\":%.6f,", accepted, rejected,
			(double)(t_end - t0) / 1e9, t_confirmed ? (double)(t_confirmed - t0) / 1e9 : -1.0);
	print_stats(&st);
	printf(",\"per_second\":[");
	for(int s = 0, first = 1; s < MAX_SECONDS; s++){
		if(!buckets[s].n) continue;
		printf("%s{\"s\":%d,\"n\":%" PRIu64 ",\"mean_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 "}", first ? "" : ",", s,
				buckets[s].n, buckets[s].sum_ns / buckets[s].n, buckets[s].max_ns);
		first = 0;
	}
	printf("]}\n");
	fflush(stdout);
	events_cleanup(ev);
	ih_config_cleanup(&cfg);
	for(int i = 0; i < nopts; i++) free(opts[i].key);
	free(payload);
	return 0;
}
