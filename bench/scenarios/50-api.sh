# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# The HTTP management API (issue 12) against MQTT, in one run
# (bench/api_latency.py, its own broker + plugin + Mongo stand-in):
#   - publish -> device receipt latency, p50/p99, of a command sent one at a
#     time to an idle broker, through POST /api/v4/mqtt/publish and, message
#     by message alternately, as a superuser's MQTT QoS 1 publish; the
#     device only auto-subscribes. Aim: API within 1.2x of MQTT;
#   - API publishes per second with keep-alive (1 and 4 connections), next to
#     the superuser's MQTT QoS 1 publishes/s one at a time.
SCENARIO_ID=api
SCENARIO_KIND=standalone
SCENARIO_TITLE="HTTP management API vs MQTT superuser publish"
metric_def api_p50 "API publish -> device, p50" ms lower
metric_def mqtt_p50 "MQTT superuser publish -> device, p50" ms lower
metric_def api_p99 "API publish -> device, p99" ms lower
metric_def mqtt_p99 "MQTT superuser publish -> device, p99" ms lower
metric_def api_ratio_p50 "API / MQTT latency, p50" "x" lower
metric_def api_ratio_p99 "API / MQTT latency, p99" "x" lower
metric_def api_sent_p50 "API request sent -> device, p50" ms lower
metric_def mqtt_sent_p50 "MQTT PUBLISH sent -> device, p50" ms lower
metric_def api_ratio_sent_p50 "API / MQTT latency from the sent request, p50" "x" lower
metric_def api_ratio_sent_p99 "API / MQTT latency from the sent request, p99" "x" lower
metric_def api_rate_1 "API publishes/s, 1 keep-alive connection" "/s" higher
metric_def api_rate_4 "API publishes/s, 4 keep-alive connections" "/s" higher
metric_def mqtt_rate_1 "MQTT QoS 1 publishes/s, one at a time" "/s" higher

scenario_run() {
	local count=1000 dur=5
	[ "${QUICK:-0}" = 1 ] && { count=200; dur=2; }
	/usr/bin/python3 "$BENCH_ROOT/bench/api_latency.py" --count $count --duration $dur \
		--out "$RAW.d" >"$RAW.txt" 2>"$RAW.err" || { cat "$RAW.err" >&2; return 0; }

	v() { awk -v k="$1" '$1 == k {print $2}' "$RAW.txt"; }
	metric api_p50 "$(awk -v x="$(v api_p50_us)" 'BEGIN{printf "%.3f", x/1000}')"
	metric mqtt_p50 "$(awk -v x="$(v mqtt_p50_us)" 'BEGIN{printf "%.3f", x/1000}')"
	metric api_p99 "$(awk -v x="$(v api_p99_us)" 'BEGIN{printf "%.3f", x/1000}')"
	metric mqtt_p99 "$(awk -v x="$(v mqtt_p99_us)" 'BEGIN{printf "%.3f", x/1000}')"
	metric api_ratio_p50 "$(v ratio_p50)"
	metric api_ratio_p99 "$(v ratio_p99)"
	metric api_sent_p50 "$(awk -v x="$(v api_sent_p50_us)" 'BEGIN{printf "%.3f", x/1000}')"
	metric mqtt_sent_p50 "$(awk -v x="$(v mqtt_sent_p50_us)" 'BEGIN{printf "%.3f", x/1000}')"
	metric api_ratio_sent_p50 "$(v ratio_sent_p50)"
	metric api_ratio_sent_p99 "$(v ratio_sent_p99)"
	metric api_rate_1 "$(v api_per_s_1conn)"
	metric api_rate_4 "$(v api_per_s_4conn)"
	metric mqtt_rate_1 "$(v mqtt_q1_per_s_1)"
}
