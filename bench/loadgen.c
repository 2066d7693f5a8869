/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* loadgen.c - MQTT load generator for mosquitto-iothub (command line, phases,
 * results).  The event loop lives in engine.c; see README.md. */
#define _GNU_SOURCE
#include "loadgen.h"
#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#define LOADGEN_VERSION "1.0"

#define EXIT_OK 0
#define EXIT_USAGE 1
#define EXIT_LIMITS 2
#define EXIT_CONNFAIL 3

static const char *usage_text =
"usage: loadgen --mode conn|pub|sub|cmd [options]\n"
"\n"
"MQTT load generator: thousands of clients from one process, one epoll loop\n"
"per thread, libmosquitto external-loop API.\n"
"\n"
"connection\n"
"  --host H                 broker address (127.0.0.1)\n"
"  --port P                 broker port (1883)\n"
"  --protocol 311|5         MQTT version (311)\n"
"  --threads N              worker threads, each with its own epoll (1)\n"
"  --clean 0|1              clean session / clean start (1)\n"
"  --keepalive S            keepalive seconds (60)\n"
"  --client-id-prefix S     client ids are S<i> (devices), S p<i>, S s<i>, S cmd\n"
"                           (default lg<pid>-)\n"
"  --nodelay 0|1            TCP_NODELAY on client sockets (1)\n"
"  --receive-max N          MQTT 5 receive maximum the clients announce (65535,\n"
"                           the protocol's default; libmosquitto's own is 20)\n"
"  --connect-timeout S      a connect not acknowledged (CONNACK, and SUBACK when\n"
"                           subscribing) within S seconds is a failure (30)\n"
"  --max-fail-pct X         exit 3 when more than X%% of connects fail (1)\n"
"  --keep-sockpair          keep libmosquitto's per-client socketpair (3 fds per\n"
"                           client instead of 1; see README)\n"
"  --no-read-buffer         let libmosquitto read(2) each packet byte by byte\n"
"                           (default: served from a 16 KB buffer per socket)\n"
"\n"
"credentials (client i uses line i modulo the number of lines)\n"
"  --creds FILE             'username password' or 'username:password' per line\n"
"  --user U --pass P        one pair for all; %%i expands to the client index\n"
"  --sub-user U --sub-pass P  subscribers' pair (pub/sub modes; %%i allowed)\n"
"  --cmd-user U --cmd-pass P  the business client's pair (cmd mode)\n"
"\n"
"load\n"
"  --mode M                 conn | pub | sub | cmd (conn)\n"
"  --clients N              conn/cmd: devices; pub: default --publishers;\n"
"                           sub: default --subscribers (10)\n"
"  --publishers N           pub mode publishers\n"
"  --subscribers N          pub/sub mode subscribers (pub: 0)\n"
"  --conn-rate R            connections started per second, 0 = at once (0)\n"
"  --conn-window W          at most W connects in flight (started, not yet settled), 0 = no limit (0)\n"
"  --duration S             publish for S seconds (pub: 10 unless --count);\n"
"                           sub: run S seconds (0 = until SIGINT/--count)\n"
"  --count N                pub: messages per publisher; cmd: commands (1000);\n"
"                           sub: stop when every subscriber got N on average\n"
"  --pub-rate R             messages/s per publisher, 0 = as fast as possible (0)\n"
"  --qos 0|1|2              publish QoS (0)\n"
"  --sub-qos 0|1|2          subscription QoS (= --qos)\n"
"  --inflight W             max unacknowledged QoS>0 messages per publisher (20;\n"
"                           above the broker's max_inflight_messages, mosquitto\n"
"                           silently drops QoS 2 from MQTT 3.1.1 publishers)\n"
"  --e2e-window W           pub mode, one thread: a publisher waits while W of its\n"
"                           messages are not yet delivered (closed loop through the\n"
"                           broker, also at QoS 0; 0 = off) (0)\n"
"  --payload-size B         payload bytes, at least 16 (64)\n"
"  --retain                 publish with the retain flag\n"
"  --topic T                publish topic template (pub: bench/%%r/%%i;\n"
"                           cmd: cmd/%%p/%%d/reboot/plain/%%n)\n"
"  --sub-topic T            subscription template of subscribers (pub:\n"
"                           bench/%%r/#, sub: bench/#)\n"
"  --subscribe-self T       cmd mode: devices subscribe to T themselves (baseline\n"
"                           without the plugin's server-side subscription)\n"
"  --target I               cmd mode: send every command to device I (default:\n"
"                           round-robin over the devices that connected)\n"
"  --drain S                after publishing, wait up to S seconds for acks and\n"
"                           deliveries (5)\n"
"\n"
"  template placeholders: %%u username (client id if anonymous), %%p and %%d the\n"
"  halves of a P/D username, %%i client index in its role, %%c client id,\n"
"  %%n message sequence number (publish topics only), %%r this run's id\n"
"  ('r' + 3 hex digits, keeps runs apart on a shared broker), %%%% a '%%'.\n"
"\n"
"conn mode\n"
"  --hold S                 stay connected S seconds; prints 'READY <n>' on stdout\n"
"                           once all connects settled\n"
"  --repeat K               connect/disconnect all clients K times (1)\n"
"  --round-pause S          pause between rounds (0.5)\n"
"\n"
"output\n"
"  --json                   print one JSON object with the results on stdout\n"
"  --quiet                  no progress lines on stderr\n"
"  --help, --version\n"
"\n"
"exit codes: 0 ok, 1 usage, 2 fd limits, 3 connection failures above\n"
"--max-fail-pct (or no business client in cmd mode)\n";

static void usage_exit(const char *msg)
{
	if (msg)
		fprintf(stderr, "loadgen: %s\n(see loadgen --help)\n", msg);
	exit(EXIT_USAGE);
}

static double parse_num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "loadgen: bad value for --%s: '%s' (expected %g..%g)\n", opt, s, lo, hi);
		exit(EXIT_USAGE);
	}
	return v;
}

static void on_signal(int sig)
{
	(void)sig;
	if (G.interrupted) {
		static const char m[] = "loadgen: second interrupt, exiting now\n";

		if (write(2, m, sizeof(m) - 1) < 0) {
			/* nothing */
		}
		_exit(130);
	}
	G.interrupted = 1;
}

static int load_creds(lg_config_t *cfg)
{
	FILE *f = fopen(cfg->creds_file, "r");
	char *line = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	ssize_t len;

	if (!f) {
		fprintf(stderr, "loadgen: cannot open --creds %s: %s\n", cfg->creds_file, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *s = line, *e, *sep;

		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			cfg->creds = realloc(cfg->creds, alloc * sizeof(*cfg->creds));
			if (!cfg->creds)
				return -1;
		}
		sep = strpbrk(s, " \t");
		if (!sep)
			sep = strchr(s, ':');
		cfg->creds[n].pass = NULL;
		if (sep) {
			*sep++ = '\0';
			while (*sep == ' ' || *sep == '\t')
				sep++;
			cfg->creds[n].pass = strdup(sep);
		}
		cfg->creds[n].user = strdup(s);
		n++;
	}
	free(line);
	fclose(f);
	if (!n) {
		fprintf(stderr, "loadgen: --creds %s has no credentials\n", cfg->creds_file);
		return -1;
	}
	cfg->ncreds = (int)n;
	return 0;
}

static int check_limits(long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("loadgen: getrlimit");
		return -1;
	}
	if (rl.rlim_cur != rl.rlim_max) {
		struct rlimit nr = { rl.rlim_max, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &nr) == 0)
			rl = nr;
	}
	if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < need) {
		fprintf(stderr,
			"loadgen: need %ld file descriptors for %d clients (%s per client + margin), but\n"
			"  RLIMIT_NOFILE is soft %llu / hard %llu. Raise the hard limit, e.g.\n"
			"    ulimit -Hn %ld && ulimit -n %ld     (root, in the launching shell)\n"
			"    prlimit --nofile=%ld:%ld --pid $$   (needs CAP_SYS_RESOURCE)\n"
			"  or set 'nofile' in /etc/security/limits.conf / LimitNOFILE= for services.\n",
			need, G.nclients, G.cfg.keep_sockpair ? "3" : "1",
			(unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
			need, need, need, need);
		return -1;
	}
	return 0;
}

/* ---------------- progress helpers ---------------- */

#define SUM(field) sum_field(offsetof(lg_worker_t, field))

static uint64_t sum_field(size_t off)
{
	uint64_t s = 0;
	int i;

	for (i = 0; i < G.nw; i++)
		s += atomic_load((_Atomic uint64_t *)((char *)&G.w[i] + off));
	return s;
}

static void sleep_s(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static uint64_t g_last_progress;
static uint64_t g_t_start;

static void progress(const char *phase, int force)
{
	uint64_t now = now_ns();

	if (G.cfg.quiet || (!force && now - g_last_progress < 1000000000ull))
		return;
	uint64_t lmax = 0;
	int i;

	for (i = 0; i < G.nw; i++) {
		uint64_t v = atomic_exchange(&G.w[i].a_latmax, 0);

		if (v > lmax)
			lmax = v;
	}
	g_last_progress = now;
	fprintf(stderr, "[%7.1fs] %-10s started %llu settled %llu ready %llu open %llu | sent %llu acked %llu recv %llu | max latency %.1f ms\n",
		(now - g_t_start) / 1e9, phase,
		(unsigned long long)SUM(a_started), (unsigned long long)SUM(a_settled),
		(unsigned long long)SUM(a_ready), (unsigned long long)SUM(a_open),
		(unsigned long long)SUM(a_sent), (unsigned long long)SUM(a_acked),
		(unsigned long long)SUM(a_recv), lmax / 1e6);
}

/* ---------------- phases ---------------- */

static int g_nentries;
static int g_entry_role[64];

static void connect_role(int role, int round)
{
	uint64_t base = SUM(a_settled);
	char label[32];

	if (G.nrole[role] == 0)
		return;
	snprintf(label, sizeof(label), "conn:%s", role_name(role));
	g_entry_role[g_nentries] = role;
	engine_op(OP_CONNECT, role, g_nentries++, round);
	while (!G.interrupted && SUM(a_settled) - base < (uint64_t)G.nrole[role]) {
		sleep_s(0.005);
		progress(label, 0);
	}
	progress(label, 1);
}

static void disconnect_all(void)
{
	uint64_t t0 = now_ns();

	engine_op(OP_DISCONNECT, 0, 0, 0);
	while (SUM(a_open) > 0 && now_ns() - t0 < 7000000000ull) {
		sleep_s(0.005);
		progress("disconnect", 0);
	}
}

static void hold_for(double secs, const char *label)
{
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9);

	while (!G.interrupted && now_ns() < end) {
		sleep_s(0.02);
		progress(label, 0);
	}
}

/* Publishing phase of pub and cmd modes. */
static void run_publish(int npub)
{
	lg_config_t *cfg = &G.cfg;
	uint64_t deadline = 0, now;

	G.run_t0 = now_ns() + 1000000;
	atomic_store(&G.run_end, cfg->duration > 0 ? G.run_t0 + (uint64_t)(cfg->duration * 1e9) : UINT64_MAX);
	engine_op(OP_PUBLISH, 0, 0, 0);
	for (;;) {
		now = now_ns();
		if (SUM(a_pubdone) >= (uint64_t)npub)
			break;
		if (G.interrupted && atomic_load(&G.run_end) > now) {
			atomic_store(&G.run_end, now);
			deadline = now + (uint64_t)(cfg->drain * 1e9);
		}
		if (!deadline && atomic_load(&G.run_end) <= now)
			deadline = atomic_load(&G.run_end) + (uint64_t)(cfg->drain * 1e9);
		if (deadline && now > deadline)
			break;
		sleep_s(0.002);
		progress("publish", 0);
	}
}

/* Waits for deliveries to stop (or all commands delivered). */
static void drain_receivers(void)
{
	lg_config_t *cfg = &G.cfg;
	uint64_t t0 = now_ns(), last = SUM(a_recv), last_change = t0, now;

	for (;;) {
		uint64_t rc = SUM(a_recv);

		now = now_ns();
		if (cfg->mode == MODE_CMD &&
		    atomic_load(&G.cmd_delivered) + atomic_load(&G.cmd_dup) >= SUM(a_sent))
			break;
		if (rc != last) {
			last = rc;
			last_change = now;
		}
		if (now - last_change > 500000000ull)
			break;
		if (now - t0 > (uint64_t)(cfg->drain * 1e9))
			break;
		if (G.interrupted && now - t0 > 1000000000ull)
			break;
		sleep_s(0.005);
		progress("drain", 0);
	}
}

static void run_sub(void)
{
	lg_config_t *cfg = &G.cfg;
	uint64_t t0 = now_ns();
	uint64_t want = cfg->count > 0 ? (uint64_t)cfg->count * (uint64_t)G.nrole[ROLE_SUB] : 0;

	G.run_t0 = t0;
	while (!G.interrupted) {
		if (cfg->duration > 0 && now_ns() - t0 >= (uint64_t)(cfg->duration * 1e9))
			break;
		if (want && SUM(a_recv) >= want)
			break;
		sleep_s(0.01);
		progress("subscribe", 0);
	}
}

/* ---------------- results ---------------- */

static void collect(lg_results_t *r)
{
	lg_config_t *cfg = &G.cfg;
	int i, e, prole = cfg->mode == MODE_CMD ? ROLE_BIZ : ROLE_PUB;
	int srole = cfg->mode == MODE_CMD ? ROLE_DEV : ROLE_SUB;
	uint64_t first_send = 0, last_send = 0, first_recv = 0, last_recv = 0;
	uint64_t attempted = 0, ready = 0;

	hist_init(&r->ack_lat);
	hist_init(&r->e2e);
	r->nentries = g_nentries;
	for (e = 0; e < g_nentries; e++) {
		lg_connstats_t *m = calloc(1, sizeof(*m));

		if (!m)
			exit(1);
		hist_init(&m->lat);
		m->role = g_entry_role[e];
		for (i = 0; i < G.nw; i++) {
			lg_connstats_t *s = G.w[i].cst[e];
			int k;

			if (!s)
				continue;
			m->round = s->round;
			m->attempted += s->attempted;
			m->accepted += s->accepted;
			m->ready += s->ready;
			m->refused += s->refused;
			m->errors += s->errors;
			m->timeouts += s->timeouts;
			if (s->first_start && (!m->first_start || s->first_start < m->first_start))
				m->first_start = s->first_start;
			if (s->last_ack > m->last_ack)
				m->last_ack = s->last_ack;
			if (s->last_ready > m->last_ready)
				m->last_ready = s->last_ready;
			for (k = 0; k < 256; k++)
				m->refused_code[k] += s->refused_code[k];
			for (k = 0; k < LG_MAX_ERRKINDS; k++) {
				int x;

				if (!s->err[k].n)
					continue;
				for (x = 0; x < LG_MAX_ERRKINDS; x++) {
					if (!m->err[x].n) {
						m->err[x] = s->err[k];
						break;
					}
					if (!strcmp(m->err[x].name, s->err[k].name)) {
						m->err[x].n += s->err[k].n;
						break;
					}
				}
			}
			hist_merge(&m->lat, &s->lat);
		}
		r->entry[e] = m;
		r->entry_clients[e] = G.nrole[m->role];
		attempted += m->attempted;
		ready += m->ready;
	}

	for (i = 0; i < G.nw; i++) {
		lg_worker_t *w = &G.w[i];

		r->sent += w->sent;
		r->acked += w->acked;
		r->nacked += w->nacked;
		r->pub_errors += w->pub_errors;
		r->e2e_stalls += w->e2e_stalls;
		r->received += w->received;
		r->foreign += w->foreign;
		r->dup += w->dup;
		r->untracked += w->untracked;
		r->misrouted += w->misrouted;
		r->disc_unexpected += w->disc_unexpected;
		hist_merge(&r->ack_lat, &w->ack_lat);
		hist_merge(&r->e2e, &w->e2e);
		if (w->first_send && (!first_send || w->first_send < first_send))
			first_send = w->first_send;
		if (w->last_send > last_send)
			last_send = w->last_send;
		if (w->first_recv && (!first_recv || w->first_recv < first_recv))
			first_recv = w->first_recv;
		if (w->last_recv > last_recv)
			last_recv = w->last_recv;
	}
	(void)first_send;

	if (cfg->mode == MODE_PUB || cfg->mode == MODE_CMD) {
		r->have_pub = 1;
		r->publishers = G.nrole[prole];
		r->pub_elapsed = last_send > G.run_t0 ? (last_send - G.run_t0) / 1e9 : 0;
	}
	if (cfg->mode == MODE_SUB || cfg->mode == MODE_CMD || (cfg->mode == MODE_PUB && G.nrole[ROLE_SUB] > 0)) {
		uint64_t sum = 0, mn = UINT64_MAX, mx = 0;
		int n = 0;

		uint64_t *pub_sent = calloc((size_t)G.nrole[ROLE_PUB] + 1, sizeof(uint64_t));

		if (!pub_sent)
			exit(1);
		for (i = 0; i < G.nclients; i++)
			if (G.clients[i].role == ROLE_PUB)
				pub_sent[G.clients[i].idx] = G.clients[i].sent;
		r->have_recv = 1;
		r->subscribers = G.nrole[srole];
		if (cfg->mode == MODE_SUB)
			r->recv_elapsed = last_recv > first_recv ? (last_recv - first_recv) / 1e9 : 0;
		else
			r->recv_elapsed = last_recv > G.run_t0 ? (last_recv - G.run_t0) / 1e9 : 0;
		r->lost_known = cfg->mode != MODE_SUB;
		for (i = 0; i < G.nclients; i++) {
			lg_client_t *c = &G.clients[i];
			uint32_t s;

			if (c->role != srole)
				continue;
			n++;
			sum += c->received;
			if (c->received < mn)
				mn = c->received;
			if (c->received > mx)
				mx = c->received;
			for (s = 0; s < c->pairs.cap; s++) {
				lg_pair_t *p = &c->pairs.slot[s];
				uint64_t expect;

				if (!p->used)
					continue;
				r->pairs++;
				if (cfg->mode == MODE_PUB)
					expect = (p->pub & LG_PUB_MASK) < (uint32_t)G.nrole[ROLE_PUB] ?
						pub_sent[p->pub & LG_PUB_MASK] : 0;
				else
					expect = (uint64_t)p->max_seq + 1;
				if (expect > p->unique)
					r->lost += expect - p->unique;
			}
		}
		free(pub_sent);
		r->per_sub_min = n ? mn : 0;
		r->per_sub_max = mx;
		r->per_sub_mean = n ? (double)sum / n : 0;
	}
	if (cfg->mode == MODE_CMD) {
		r->ntargets = G.ntargets;
		r->delivered = atomic_load(&G.cmd_delivered);
		r->dup = atomic_load(&G.cmd_dup);
		r->lost = r->sent > r->delivered ? r->sent - r->delivered : 0;
		r->lost_known = 1;
	}
	r->failed_pct = attempted ? 100.0 * (double)(attempted - (ready < attempted ? ready : attempted)) / (double)attempted : 0;
	r->interrupted = G.interrupted != 0;
	r->exit_code = r->failed_pct > cfg->max_fail_pct ? EXIT_CONNFAIL : EXIT_OK;
	if (cfg->mode == MODE_CMD && G.nrole[ROLE_BIZ] > 0 && G.clients[G.nclients - 1].ever_ok == false)
		r->exit_code = EXIT_CONNFAIL;
}

/* ---------------- options ---------------- */

enum {
	O_HOST = 256, O_PORT, O_PROTOCOL, O_THREADS, O_MODE, O_CLIENTS, O_CONN_RATE, O_CONN_WINDOW, O_DURATION, O_COUNT,
	O_PUB_RATE, O_QOS, O_SUB_QOS, O_PAYLOAD, O_TOPIC, O_SUB_TOPIC, O_SUB_SELF, O_PUBLISHERS,
	O_SUBSCRIBERS, O_CREDS, O_USER, O_PASS, O_SUB_USER, O_SUB_PASS, O_CMD_USER, O_CMD_PASS,
	O_PREFIX, O_CLEAN, O_KEEPALIVE, O_HOLD, O_REPEAT, O_ROUND_PAUSE, O_TARGET, O_INFLIGHT, O_E2E_WINDOW,
	O_MAX_FAIL, O_CONN_TIMEOUT, O_DRAIN, O_NODELAY, O_JSON, O_QUIET, O_KEEP_SOCKPAIR, O_NO_READ_BUFFER, O_RETAIN, O_RECEIVE_MAX,
	O_HELP, O_VERSION
};

static const struct option long_opts[] = {
	{ "host", required_argument, NULL, O_HOST },
	{ "port", required_argument, NULL, O_PORT },
	{ "protocol", required_argument, NULL, O_PROTOCOL },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "mode", required_argument, NULL, O_MODE },
	{ "clients", required_argument, NULL, O_CLIENTS },
	{ "conn-rate", required_argument, NULL, O_CONN_RATE },
	{ "conn-window", required_argument, NULL, O_CONN_WINDOW },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "count", required_argument, NULL, O_COUNT },
	{ "pub-rate", required_argument, NULL, O_PUB_RATE },
	{ "qos", required_argument, NULL, O_QOS },
	{ "sub-qos", required_argument, NULL, O_SUB_QOS },
	{ "payload-size", required_argument, NULL, O_PAYLOAD },
	{ "topic", required_argument, NULL, O_TOPIC },
	{ "sub-topic", required_argument, NULL, O_SUB_TOPIC },
	{ "subscribe-self", required_argument, NULL, O_SUB_SELF },
	{ "publishers", required_argument, NULL, O_PUBLISHERS },
	{ "subscribers", required_argument, NULL, O_SUBSCRIBERS },
	{ "creds", required_argument, NULL, O_CREDS },
	{ "user", required_argument, NULL, O_USER },
	{ "pass", required_argument, NULL, O_PASS },
	{ "sub-user", required_argument, NULL, O_SUB_USER },
	{ "sub-pass", required_argument, NULL, O_SUB_PASS },
	{ "cmd-user", required_argument, NULL, O_CMD_USER },
	{ "cmd-pass", required_argument, NULL, O_CMD_PASS },
	{ "client-id-prefix", required_argument, NULL, O_PREFIX },
	{ "clean", required_argument, NULL, O_CLEAN },
	{ "keepalive", required_argument, NULL, O_KEEPALIVE },
	{ "hold", required_argument, NULL, O_HOLD },
	{ "repeat", required_argument, NULL, O_REPEAT },
	{ "round-pause", required_argument, NULL, O_ROUND_PAUSE },
	{ "target", required_argument, NULL, O_TARGET },
	{ "inflight", required_argument, NULL, O_INFLIGHT },
	{ "e2e-window", required_argument, NULL, O_E2E_WINDOW },
	{ "max-fail-pct", required_argument, NULL, O_MAX_FAIL },
	{ "connect-timeout", required_argument, NULL, O_CONN_TIMEOUT },
	{ "drain", required_argument, NULL, O_DRAIN },
	{ "nodelay", required_argument, NULL, O_NODELAY },
	{ "json", no_argument, NULL, O_JSON },
	{ "quiet", no_argument, NULL, O_QUIET },
	{ "keep-sockpair", no_argument, NULL, O_KEEP_SOCKPAIR },
	{ "no-read-buffer", no_argument, NULL, O_NO_READ_BUFFER },
	{ "retain", no_argument, NULL, O_RETAIN },
	{ "receive-max", required_argument, NULL, O_RECEIVE_MAX },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void parse_args(int argc, char **argv)
{
	lg_config_t *cfg = &G.cfg;
	static char prefix[64];
	int opt, have_pubs = 0, have_subs = 0, have_clients = 0, have_subqos = 0, have_dur = 0;

	cfg->host = "127.0.0.1";
	cfg->port = 1883;
	cfg->protocol = MQTT_PROTOCOL_V311;
	cfg->threads = 1;
	cfg->mode = MODE_CONN;
	cfg->clients = 10;
	cfg->payload_size = 64;
	cfg->clean = 1;
	cfg->keepalive = 60;
	cfg->repeat = 1;
	cfg->round_pause = 0.5;
	cfg->target = -1;
	cfg->inflight = 20;
	cfg->receive_max = 65535;
	cfg->max_fail_pct = 1;
	cfg->connect_timeout = 30;
	cfg->drain = 5;
	cfg->nodelay = 1;
	cfg->read_buffer = 1;
	snprintf(prefix, sizeof(prefix), "lg%d-", (int)getpid());
	cfg->client_id_prefix = prefix;

	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case O_HOST: cfg->host = optarg; break;
		case O_PORT: cfg->port = (int)parse_num("port", optarg, 1, 65535); break;
		case O_PROTOCOL:
			if (!strcmp(optarg, "311") || !strcmp(optarg, "3.1.1") || !strcmp(optarg, "4"))
				cfg->protocol = MQTT_PROTOCOL_V311;
			else if (!strcmp(optarg, "5") || !strcmp(optarg, "50"))
				cfg->protocol = MQTT_PROTOCOL_V5;
			else
				usage_exit("--protocol must be 311 or 5");
			break;
		case O_THREADS: cfg->threads = (int)parse_num("threads", optarg, 1, 256); break;
		case O_MODE:
			if (!strcmp(optarg, "conn")) cfg->mode = MODE_CONN;
			else if (!strcmp(optarg, "pub")) cfg->mode = MODE_PUB;
			else if (!strcmp(optarg, "sub")) cfg->mode = MODE_SUB;
			else if (!strcmp(optarg, "cmd")) cfg->mode = MODE_CMD;
			else usage_exit("--mode must be conn, pub, sub or cmd");
			break;
		case O_CLIENTS: cfg->clients = (int)parse_num("clients", optarg, 0, 10000000); have_clients = 1; break;
		case O_CONN_RATE: cfg->conn_rate = parse_num("conn-rate", optarg, 0, 1e9); break;
		case O_CONN_WINDOW: cfg->conn_window = (int)parse_num("conn-window", optarg, 0, 1e6); break;
		case O_DURATION: cfg->duration = parse_num("duration", optarg, 0, 1e7); have_dur = 1; break;
		case O_COUNT: cfg->count = (long long)parse_num("count", optarg, 0, 4e9); break;
		case O_PUB_RATE: cfg->pub_rate = parse_num("pub-rate", optarg, 0, 1e9); break;
		case O_QOS: cfg->qos = (int)parse_num("qos", optarg, 0, 2); break;
		case O_SUB_QOS: cfg->sub_qos = (int)parse_num("sub-qos", optarg, 0, 2); have_subqos = 1; break;
		case O_PAYLOAD: cfg->payload_size = (int)parse_num("payload-size", optarg, 0, 256 * 1024 * 1024); break;
		case O_TOPIC: cfg->topic = optarg; break;
		case O_SUB_TOPIC: cfg->sub_topic = optarg; break;
		case O_SUB_SELF: cfg->subscribe_self = optarg; break;
		case O_PUBLISHERS: cfg->publishers = (int)parse_num("publishers", optarg, 0, 10000000); have_pubs = 1; break;
		case O_SUBSCRIBERS: cfg->subscribers = (int)parse_num("subscribers", optarg, 0, 10000000); have_subs = 1; break;
		case O_CREDS: cfg->creds_file = optarg; break;
		case O_USER: cfg->user = optarg; break;
		case O_PASS: cfg->pass = optarg; break;
		case O_SUB_USER: cfg->sub_user = optarg; break;
		case O_SUB_PASS: cfg->sub_pass = optarg; break;
		case O_CMD_USER: cfg->cmd_user = optarg; break;
		case O_CMD_PASS: cfg->cmd_pass = optarg; break;
		case O_PREFIX: cfg->client_id_prefix = optarg; break;
		case O_CLEAN: cfg->clean = (int)parse_num("clean", optarg, 0, 1); break;
		case O_KEEPALIVE: cfg->keepalive = (int)parse_num("keepalive", optarg, 0, 65535); break;
		case O_HOLD: cfg->hold = parse_num("hold", optarg, 0, 1e7); break;
		case O_REPEAT: cfg->repeat = (int)parse_num("repeat", optarg, 1, 60); break;
		case O_ROUND_PAUSE: cfg->round_pause = parse_num("round-pause", optarg, 0, 1e6); break;
		case O_TARGET: cfg->target = (int)parse_num("target", optarg, 0, 10000000); break;
		case O_INFLIGHT: cfg->inflight = (int)parse_num("inflight", optarg, 1, 65535); break;
		case O_E2E_WINDOW: cfg->e2e_window = (int)parse_num("e2e-window", optarg, 0, 1e6); break;
		case O_MAX_FAIL: cfg->max_fail_pct = parse_num("max-fail-pct", optarg, 0, 100); break;
		case O_CONN_TIMEOUT: cfg->connect_timeout = parse_num("connect-timeout", optarg, 0.001, 1e6); break;
		case O_DRAIN: cfg->drain = parse_num("drain", optarg, 0, 1e6); break;
		case O_NODELAY: cfg->nodelay = (int)parse_num("nodelay", optarg, 0, 1); break;
		case O_JSON: cfg->json = 1; break;
		case O_QUIET: cfg->quiet = 1; break;
		case O_KEEP_SOCKPAIR: cfg->keep_sockpair = 1; break;
		case O_NO_READ_BUFFER: cfg->read_buffer = 0; break;
		case O_RETAIN: cfg->retain = 1; break;
		case O_RECEIVE_MAX: cfg->receive_max = (int)parse_num("receive-max", optarg, 1, 65535); break;
		case 'h':
		case O_HELP: fputs(usage_text, stdout); exit(EXIT_OK);
		case O_VERSION: printf("loadgen %s (libmosquitto %d)\n", LOADGEN_VERSION, mosquitto_lib_version(NULL, NULL, NULL)); exit(EXIT_OK);
		default: usage_exit(NULL);
		}
	}
	if (optind < argc)
		usage_exit("unexpected positional argument");
	if (!have_subqos)
		cfg->sub_qos = cfg->qos;
	if (cfg->keepalive > 0 && cfg->keepalive < 5)
		usage_exit("--keepalive must be 0 or at least 5 (libmosquitto refuses 1..4)");
	if (cfg->pass && !cfg->user)
		usage_exit("--pass needs --user");
	if (cfg->creds_file && cfg->user)
		usage_exit("--creds and --user are exclusive");
	if (cfg->target >= 0 && cfg->mode != MODE_CMD)
		usage_exit("--target is for cmd mode");
	if (cfg->e2e_window && (cfg->mode != MODE_PUB || cfg->threads != 1))
		usage_exit("--e2e-window is for pub mode with one thread");

	switch (cfg->mode) {
	case MODE_CONN:
		G.nrole[ROLE_DEV] = cfg->clients;
		break;
	case MODE_PUB:
		G.nrole[ROLE_PUB] = have_pubs ? cfg->publishers : cfg->clients;
		G.nrole[ROLE_SUB] = have_subs ? cfg->subscribers : 0;
		if (!G.nrole[ROLE_PUB])
			usage_exit("pub mode needs at least one publisher");
		if (!have_dur && cfg->count == 0)
			cfg->duration = 10;
		if (!cfg->topic)
			cfg->topic = "bench/%r/%i";
		if (!cfg->sub_topic)
			cfg->sub_topic = "bench/%r/#";
		break;
	case MODE_SUB:
		G.nrole[ROLE_SUB] = have_subs ? cfg->subscribers : cfg->clients;
		if (!G.nrole[ROLE_SUB])
			usage_exit("sub mode needs at least one subscriber");
		if (!cfg->sub_topic)
			cfg->sub_topic = "bench/#";
		break;
	case MODE_CMD:
		G.nrole[ROLE_DEV] = cfg->clients;
		G.nrole[ROLE_BIZ] = 1;
		if (!cfg->clients)
			usage_exit("cmd mode needs at least one device (--clients)");
		if (cfg->count == 0 && !have_dur)
			cfg->count = 1000;
		if (!cfg->topic)
			cfg->topic = "cmd/%p/%d/reboot/plain/%n";
		if (cfg->target >= cfg->clients)
			usage_exit("--target must be below --clients");
		break;
	}
	if (have_clients && cfg->mode == MODE_PUB && have_pubs && have_subs)
		fprintf(stderr, "loadgen: note: --clients is ignored when --publishers and --subscribers are given\n");
	cfg->clients = G.nrole[ROLE_DEV] + G.nrole[ROLE_PUB] + G.nrole[ROLE_SUB];
	if (cfg->payload_size < LG_HDR_LEN) {
		if (cfg->mode == MODE_PUB || cfg->mode == MODE_CMD)
			fprintf(stderr, "loadgen: --payload-size raised to %d (timestamp + sequence header)\n", LG_HDR_LEN);
		cfg->payload_size = LG_HDR_LEN;
	}
	{
		uint32_t sz = 1;

		while (sz < (uint32_t)cfg->inflight * 4)
			sz <<= 1;
		cfg->ack_mask = sz - 1;
	}
	if (cfg->mode == MODE_CONN && cfg->repeat > 60)
		usage_exit("--repeat is at most 60");

	G.run_tag = (uint32_t)(((unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL)) % 4095u) + 1;
	snprintf(G.run_id, sizeof(G.run_id), "r%03x", G.run_tag);
	if (tmpl_compile(&cfg->t_topic, cfg->topic, "updicnr") ||
	    tmpl_compile(&cfg->t_sub, cfg->sub_topic, "updicr") ||
	    tmpl_compile(&cfg->t_self, cfg->subscribe_self, "updicr") ||
	    tmpl_compile(&cfg->t_user, cfg->user, "i") ||
	    tmpl_compile(&cfg->t_pass, cfg->pass, "i") ||
	    tmpl_compile(&cfg->t_subuser, cfg->sub_user, "i") ||
	    tmpl_compile(&cfg->t_subpass, cfg->sub_pass, "i"))
		exit(EXIT_USAGE);
}

/* Checks the expanded topics of the first client of each role. */
static void check_topics(void)
{
	lg_config_t *cfg = &G.cfg;
	char buf[1024];
	int i;

	for (i = 0; i < G.nclients; i++) {
		lg_client_t *c = &G.clients[i];

		if (c->idx != 0)
			continue;
		if ((c->role == ROLE_PUB) || (c->role == ROLE_DEV && cfg->mode == MODE_CMD)) {
			if (tmpl_expand(&cfg->t_topic, c, 0, buf, sizeof(buf)) < 0 ||
			    mosquitto_pub_topic_check(buf) != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "loadgen: --topic '%s' gives invalid publish topic '%s'\n", cfg->topic, buf);
				exit(EXIT_USAGE);
			}
		}
		if (c->role == ROLE_SUB || (c->role == ROLE_DEV && cfg->subscribe_self)) {
			const tmpl_t *t = c->role == ROLE_SUB ? &cfg->t_sub : &cfg->t_self;

			if (tmpl_expand(t, c, 0, buf, sizeof(buf)) < 0 ||
			    mosquitto_sub_topic_check(buf) != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "loadgen: subscription template '%s' gives invalid filter '%s'\n", t->src, buf);
				exit(EXIT_USAGE);
			}
		}
	}
}

int main(int argc, char **argv)
{
	lg_config_t *cfg = &G.cfg;
	lg_results_t res;
	struct sigaction sa;
	long need;
	int i, round;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	G.nw = cfg->threads;
	G.nclients = G.nrole[ROLE_DEV] + G.nrole[ROLE_PUB] + G.nrole[ROLE_SUB] + G.nrole[ROLE_BIZ];

	need = (long)G.nclients * (cfg->keep_sockpair ? 3 : 1) + 64 + 4L * cfg->threads;
	if (check_limits(need) < 0)
		return EXIT_LIMITS;
	if (cfg->creds_file && load_creds(cfg) < 0)
		return EXIT_USAGE;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* libmosquitto write()s without MSG_NOSIGNAL */
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	mosquitto_lib_init();
	if (engine_setup() < 0) {
		fprintf(stderr, "loadgen: setup failed\n");
		return EXIT_USAGE;
	}
	check_topics();
	g_t_start = now_ns();
	engine_start();

	switch (cfg->mode) {
	case MODE_CONN:
		for (round = 0; round < cfg->repeat && !G.interrupted; round++) {
			uint64_t r0 = SUM(a_ready);

			connect_role(ROLE_DEV, round);
			if (cfg->hold > 0 && !G.interrupted) {
				printf("READY %llu\n", (unsigned long long)(SUM(a_ready) - r0));
				fflush(stdout);
				hold_for(cfg->hold, "hold");
			}
			disconnect_all();
			if (round + 1 < cfg->repeat && !G.interrupted)
				sleep_s(cfg->round_pause);
		}
		break;
	case MODE_PUB:
		connect_role(ROLE_SUB, 0);
		if (!G.interrupted)
			connect_role(ROLE_PUB, 0);
		if (!G.interrupted) {
			run_publish(G.nrole[ROLE_PUB]);
			if (G.nrole[ROLE_SUB])
				drain_receivers();
		}
		disconnect_all();
		break;
	case MODE_SUB:
		connect_role(ROLE_SUB, 0);
		if (!G.interrupted)
			run_sub();
		disconnect_all();
		break;
	case MODE_CMD: {
		int n = 0;

		connect_role(ROLE_DEV, 0);
		G.targets = calloc((size_t)G.nrole[ROLE_DEV] + 1, sizeof(*G.targets));
		for (i = 0; i < G.nclients; i++) {
			lg_client_t *c = &G.clients[i];

			if (c->role != ROLE_DEV || c->state != CS_READY)
				continue;
			if (cfg->target >= 0 && c->idx != cfg->target)
				continue;
			G.targets[n++] = c;
		}
		G.ntargets = n;
		G.cmd_nbits = cfg->count > 0 ? (uint64_t)cfg->count : (1ull << 26);
		G.cmd_bits = calloc((size_t)(G.cmd_nbits / 64 + 1), sizeof(uint64_t));
		if (!G.cmd_bits)
			return 1;
		if (!n)
			fprintf(stderr, "loadgen: no device connected%s; no commands sent\n",
				cfg->target >= 0 ? " (or the --target device failed)" : "");
		if (!G.interrupted)
			connect_role(ROLE_BIZ, 0);
		if (!G.interrupted && n && G.clients[G.nclients - 1].state == CS_READY) {
			run_publish(1);
			drain_receivers();
		} else if (G.clients[G.nclients - 1].state != CS_READY) {
			fprintf(stderr, "loadgen: the business client did not connect\n");
		}
		disconnect_all();
		break;
	}
	}
	engine_op(OP_EXIT, 0, 0, 0);
	engine_join();

	memset(&res, 0, sizeof(res));
	collect(&res);
	if (cfg->json)
		report_json(stdout, &res);
	else
		report_human(stdout, &res);
	for (i = 0; i < res.nentries; i++)
		free(res.entry[i]);
	engine_cleanup();
	free(G.targets);
	free(G.cmd_bits);
	mosquitto_lib_cleanup();
	return res.exit_code;
}
