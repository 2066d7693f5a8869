/* SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause */
/* report.c - human summary and single-object JSON output. */
#include "report.h"

#include <math.h>
#include <string.h>

static const char *mode_name(int m)
{
	switch (m) {
	case MODE_CONN: return "conn";
	case MODE_PUB: return "pub";
	case MODE_SUB: return "sub";
	case MODE_CMD: return "cmd";
	}
	return "?";
}

static const char *refusal_string(int code)
{
	if (G.cfg.protocol == MQTT_PROTOCOL_V5)
		return mosquitto_reason_string(code);
	return mosquitto_connack_string(code);
}

static double per_s(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0.0;
}

/* ---------------- human ---------------- */

static void human_lat(FILE *f, const char *label, const hist_t *h)
{
	if (!h->count) {
		fprintf(f, "  %-22s no samples\n", label);
		return;
	}
	fprintf(f, "  %-22s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (min %.3f mean %.3f, n=%llu)\n",
		label,
		hist_pct(h, 50) / 1e6, hist_pct(h, 90) / 1e6, hist_pct(h, 99) / 1e6,
		hist_pct(h, 99.9) / 1e6, h->max / 1e6, h->min / 1e6, hist_mean(h) / 1e6,
		(unsigned long long)h->count);
}

void report_human(FILE *f, const lg_results_t *r)
{
	const lg_config_t *cfg = &G.cfg;
	int i, k;

	fprintf(f, "== loadgen %s: %s:%d MQTT %s, %d thread%s%s ==\n", mode_name(cfg->mode), cfg->host, cfg->port,
		cfg->protocol == MQTT_PROTOCOL_V5 ? "5" : "3.1.1", cfg->threads, cfg->threads == 1 ? "" : "s",
		r->interrupted ? " (interrupted)" : "");
	for (i = 0; i < r->nentries; i++) {
		const lg_connstats_t *e = r->entry[i];
		double el = e->last_ack > e->first_start ? (e->last_ack - e->first_start) / 1e9 : 0;

		fprintf(f, "connect %s%s round %d: %d clients, attempted %llu, accepted %llu, ready %llu, refused %llu, errors %llu, timeouts %llu\n",
			role_name(e->role), "", e->round + 1, r->entry_clients[i],
			(unsigned long long)e->attempted, (unsigned long long)e->accepted,
			(unsigned long long)e->ready, (unsigned long long)e->refused,
			(unsigned long long)e->errors, (unsigned long long)e->timeouts);
		fprintf(f, "  %.3f s first connect -> last CONNACK, %.1f connects/s\n", el, per_s(e->accepted, el));
		human_lat(f, "connect latency ms", &e->lat);
		for (k = 0; k < 256; k++)
			if (e->refused_code[k])
				fprintf(f, "  refused code %d (%s): %llu\n", k, refusal_string(k),
					(unsigned long long)e->refused_code[k]);
		for (k = 0; k < LG_MAX_ERRKINDS; k++)
			if (e->err[k].n)
				fprintf(f, "  error %s: %llu\n", e->err[k].name, (unsigned long long)e->err[k].n);
	}
	if (r->have_pub) {
		fprintf(f, "publish: %d publisher%s, sent %llu in %.3f s = %.1f msg/s", r->publishers,
			r->publishers == 1 ? "" : "s", (unsigned long long)r->sent, r->pub_elapsed,
			per_s(r->sent, r->pub_elapsed));
		if (cfg->qos > 0)
			fprintf(f, ", acked %llu (negative %llu)", (unsigned long long)r->acked,
				(unsigned long long)r->nacked);
		if (r->pub_errors)
			fprintf(f, ", publish errors %llu", (unsigned long long)r->pub_errors);
		fprintf(f, "\n");
		if (cfg->qos > 0)
			human_lat(f, cfg->qos == 1 ? "PUBACK latency ms" : "PUBCOMP latency ms", &r->ack_lat);
	}
	if (r->have_recv) {
		fprintf(f, "receive: %d %s, received %llu in %.3f s = %.1f msg/s", r->subscribers,
			cfg->mode == MODE_CMD ? "devices" : "subscribers", (unsigned long long)r->received,
			r->recv_elapsed, per_s(r->received, r->recv_elapsed));
		if (r->subscribers > 0)
			fprintf(f, "; per subscriber min %llu mean %.1f max %llu (%.1f msg/s each)",
				(unsigned long long)r->per_sub_min, r->per_sub_mean,
				(unsigned long long)r->per_sub_max,
				r->recv_elapsed > 0 ? r->per_sub_mean / r->recv_elapsed : 0.0);
		fprintf(f, "\n");
		if (cfg->mode == MODE_CMD)
			fprintf(f, "commands: %d targets, sent %llu, delivered %llu, lost %llu, duplicates %llu, misrouted %llu\n",
				r->ntargets, (unsigned long long)r->sent, (unsigned long long)r->delivered,
				(unsigned long long)r->lost, (unsigned long long)r->dup,
				(unsigned long long)r->misrouted);
		else
			fprintf(f, "  sequence: %llu publisher/subscriber pairs, lost %s%llu, duplicates %llu, foreign %llu\n",
				(unsigned long long)r->pairs, r->lost_known ? "" : "~",
				(unsigned long long)r->lost, (unsigned long long)r->dup,
				(unsigned long long)r->foreign);
		human_lat(f, cfg->mode == MODE_CMD ? "command latency ms" : "end-to-end latency ms", &r->e2e);
	}
	if (r->disc_unexpected)
		fprintf(f, "unexpected disconnects: %llu\n", (unsigned long long)r->disc_unexpected);
	fprintf(f, "connection failures: %.2f%% (limit %.2f%%), exit code %d\n", r->failed_pct, cfg->max_fail_pct,
		r->exit_code);
}

/* ---------------- JSON ---------------- */

typedef struct jw {
	FILE *f;
	int depth;
	int first[32];
} jw_t;

static void jw_sep(jw_t *j)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
}

static void jw_str_raw(jw_t *j, const char *s)
{
	fputc('"', j->f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(j->f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(j->f, "\\u%04x", ch);
		else
			fputc(ch, j->f);
	}
	fputc('"', j->f);
}

static void jw_key(jw_t *j, const char *k)
{
	jw_sep(j);
	if (k) {
		jw_str_raw(j, k);
		fputc(':', j->f);
	}
}

static void jw_open(jw_t *j, const char *k, char c)
{
	jw_key(j, k);
	fputc(c, j->f);
	j->first[++j->depth] = 1;
}

static void jw_close(jw_t *j, char c)
{
	fputc(c, j->f);
	j->depth--;
}

static void jw_u64(jw_t *j, const char *k, uint64_t v)
{
	jw_key(j, k);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

static void jw_int(jw_t *j, const char *k, long long v)
{
	jw_key(j, k);
	fprintf(j->f, "%lld", v);
}

static void jw_num(jw_t *j, const char *k, double v)
{
	jw_key(j, k);
	if (!isfinite(v))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.3f", v);
}

static void jw_str(jw_t *j, const char *k, const char *s)
{
	jw_key(j, k);
	if (s)
		jw_str_raw(j, s);
	else
		fputs("null", j->f);
}

static void jw_bool(jw_t *j, const char *k, int b)
{
	jw_key(j, k);
	fputs(b ? "true" : "false", j->f);
}

static void jw_lat(jw_t *j, const char *k, const hist_t *h)
{
	jw_open(j, k, '{');
	jw_u64(j, "count", h->count);
	jw_num(j, "min", h->count ? h->min / 1e3 : 0);
	jw_num(j, "mean", hist_mean(h) / 1e3);
	jw_num(j, "p50", hist_pct(h, 50) / 1e3);
	jw_num(j, "p90", hist_pct(h, 90) / 1e3);
	jw_num(j, "p99", hist_pct(h, 99) / 1e3);
	jw_num(j, "p999", hist_pct(h, 99.9) / 1e3);
	jw_num(j, "max", h->count ? h->max / 1e3 : 0);
	jw_close(j, '}');
}

void report_json(FILE *f, const lg_results_t *r)
{
	const lg_config_t *cfg = &G.cfg;
	jw_t j;
	int i, k;

	memset(&j, 0, sizeof(j));
	j.f = f;
	j.first[0] = 1;
	jw_open(&j, NULL, '{');
	jw_str(&j, "tool", "loadgen");
	jw_int(&j, "schema", 1);
	jw_str(&j, "mode", mode_name(cfg->mode));

	jw_open(&j, "config", '{');
	jw_str(&j, "host", cfg->host);
	jw_int(&j, "port", cfg->port);
	jw_int(&j, "protocol", cfg->protocol == MQTT_PROTOCOL_V5 ? 5 : 311);
	jw_int(&j, "threads", cfg->threads);
	jw_int(&j, "clients", cfg->clients);
	jw_int(&j, "publishers", G.nrole[ROLE_PUB] + G.nrole[ROLE_BIZ]);
	jw_int(&j, "subscribers", cfg->mode == MODE_CMD ? G.nrole[ROLE_DEV] : G.nrole[ROLE_SUB]);
	jw_num(&j, "conn_rate", cfg->conn_rate);
	jw_int(&j, "conn_window", cfg->conn_window);
	jw_num(&j, "pub_rate", cfg->pub_rate);
	jw_num(&j, "duration", cfg->duration);
	jw_int(&j, "count", cfg->count);
	jw_int(&j, "qos", cfg->qos);
	jw_int(&j, "sub_qos", cfg->sub_qos);
	jw_int(&j, "payload_size", cfg->payload_size);
	jw_int(&j, "inflight", cfg->inflight);
	jw_int(&j, "e2e_window", cfg->e2e_window);
	jw_str(&j, "topic", cfg->topic);
	jw_str(&j, "sub_topic", cfg->mode == MODE_CMD ? cfg->subscribe_self : cfg->sub_topic);
	jw_int(&j, "clean", cfg->clean);
	jw_int(&j, "keepalive", cfg->keepalive);
	jw_num(&j, "hold", cfg->hold);
	jw_int(&j, "repeat", cfg->repeat);
	jw_int(&j, "receive_max", cfg->receive_max);
	jw_int(&j, "nodelay", cfg->nodelay);
	jw_str(&j, "run_id", G.run_id);
	jw_close(&j, '}');

	jw_open(&j, "connect", '[');
	for (i = 0; i < r->nentries; i++) {
		const lg_connstats_t *e = r->entry[i];
		double el = e->last_ack > e->first_start ? (e->last_ack - e->first_start) / 1e9 : 0;

		jw_open(&j, NULL, '{');
		jw_str(&j, "role", role_name(e->role));
		jw_int(&j, "round", e->round + 1);
		jw_int(&j, "clients", r->entry_clients[i]);
		jw_u64(&j, "attempted", e->attempted);
		jw_u64(&j, "accepted", e->accepted);
		jw_u64(&j, "ready", e->ready);
		jw_u64(&j, "refused", e->refused);
		jw_u64(&j, "errors", e->errors);
		jw_u64(&j, "timeouts", e->timeouts);
		jw_open(&j, "refused_reasons", '[');
		for (k = 0; k < 256; k++) {
			if (!e->refused_code[k])
				continue;
			jw_open(&j, NULL, '{');
			jw_int(&j, "code", k);
			jw_str(&j, "reason", refusal_string(k));
			jw_u64(&j, "count", e->refused_code[k]);
			jw_close(&j, '}');
		}
		jw_close(&j, ']');
		jw_open(&j, "error_kinds", '[');
		for (k = 0; k < LG_MAX_ERRKINDS; k++) {
			if (!e->err[k].n)
				continue;
			jw_open(&j, NULL, '{');
			jw_str(&j, "kind", e->err[k].name);
			jw_u64(&j, "count", e->err[k].n);
			jw_close(&j, '}');
		}
		jw_close(&j, ']');
		jw_num(&j, "elapsed_s", el);
		jw_num(&j, "connects_per_s", per_s(e->accepted, el));
		jw_lat(&j, "latency_us", &e->lat);
		jw_close(&j, '}');
	}
	jw_close(&j, ']');

	if (r->have_pub) {
		jw_open(&j, "publish", '{');
		jw_int(&j, "publishers", r->publishers);
		jw_u64(&j, "sent", r->sent);
		jw_u64(&j, "acked", r->acked);
		jw_u64(&j, "nacked", r->nacked);
		jw_u64(&j, "errors", r->pub_errors);
		jw_u64(&j, "window_stalls", r->e2e_stalls);
		jw_num(&j, "elapsed_s", r->pub_elapsed);
		jw_num(&j, "sent_per_s", per_s(r->sent, r->pub_elapsed));
		jw_lat(&j, "ack_latency_us", &r->ack_lat);
		jw_close(&j, '}');
	}
	if (r->have_recv) {
		jw_open(&j, "receive", '{');
		jw_int(&j, "subscribers", r->subscribers);
		jw_u64(&j, "received", r->received);
		jw_num(&j, "elapsed_s", r->recv_elapsed);
		jw_num(&j, "received_per_s", per_s(r->received, r->recv_elapsed));
		jw_open(&j, "per_subscriber", '{');
		jw_u64(&j, "min", r->per_sub_min);
		jw_num(&j, "mean", r->per_sub_mean);
		jw_u64(&j, "max", r->per_sub_max);
		jw_num(&j, "mean_per_s", r->recv_elapsed > 0 ? r->per_sub_mean / r->recv_elapsed : 0.0);
		jw_close(&j, '}');
		jw_u64(&j, "pairs", r->pairs);
		jw_u64(&j, "lost", r->lost);
		jw_bool(&j, "lost_exact", r->lost_known);
		jw_u64(&j, "duplicates", r->dup);
		jw_u64(&j, "foreign", r->foreign);
		jw_u64(&j, "untracked", r->untracked);
		jw_lat(&j, "latency_us", &r->e2e);
		jw_close(&j, '}');
	}
	if (cfg->mode == MODE_CMD) {
		jw_open(&j, "cmd", '{');
		jw_int(&j, "devices", G.nrole[ROLE_DEV]);
		jw_int(&j, "targets", r->ntargets);
		jw_u64(&j, "sent", r->sent);
		jw_u64(&j, "delivered", r->delivered);
		jw_u64(&j, "lost", r->lost);
		jw_u64(&j, "duplicates", r->dup);
		jw_u64(&j, "misrouted", r->misrouted);
		jw_lat(&j, "latency_us", &r->e2e);
		jw_close(&j, '}');
	}
	jw_u64(&j, "disconnects_unexpected", r->disc_unexpected);
	jw_num(&j, "failed_pct", r->failed_pct);
	jw_bool(&j, "interrupted", r->interrupted);
	jw_int(&j, "exit_code", r->exit_code);
	jw_close(&j, '}');
	fputc('\n', f);
	fflush(f);
}
