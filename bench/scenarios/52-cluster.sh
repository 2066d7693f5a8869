# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Cluster mode, in one run (bench/cluster_e2e.py: its own 1, 3 and 5 broker
# nodes with `cluster true`, one private RabbitMQ node, the Mongo stand-in):
#   - command latency p50/p99 to a device on another node against the same
#     node, QoS 1, one command at a time;
#   - AMQP messages per routed command at 1, 3 and 5 nodes (must stay 1);
#   - broker CPU per routed command against a local one.
SCENARIO_ID=cluster
SCENARIO_KIND=standalone
SCENARIO_TITLE="Cluster: routed commands across nodes"
metric_def same_p50 "same-node command latency, p50" ms lower
metric_def same_p99 "same-node command latency, p99" ms lower
metric_def cross_p50 "cross-node command latency, p50" ms lower
metric_def cross_p99 "cross-node command latency, p99" ms lower
metric_def amqp_3 "AMQP publishes per routed command, 3 nodes" "" lower
metric_def amqp_5 "AMQP publishes per routed command, 5 nodes" "" lower
metric_def cpu_same "broker CPU per local command (both nodes, all threads)" us lower
metric_def cpu_cross "broker CPU per routed command (both nodes, all threads)" us lower
metric_def main_same "broker main thread per local command" us lower
metric_def main_cross "broker main thread per routed command" us lower

scenario_run() {
	local count=300
	[ "${QUICK:-0}" = 1 ] && count=100
	/usr/bin/python3 "$BENCH_ROOT/bench/cluster_e2e.py" --commands $count --nodes 1,3,5 \
		--out "$RAW.d" >"$RAW.txt" 2>"$RAW.err" || { cat "$RAW.err" >&2; return 0; }

	v() {
		/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
x = r
for k in sys.argv[2].split("."):
    x = x[k]
print("%.3f" % x if x is not None else "")' "$RAW.d/results.json" "$1"
	}
	metric same_p50 "$(v latency_ms.same_node.p50)"
	metric same_p99 "$(v latency_ms.same_node.p99)"
	metric cross_p50 "$(v latency_ms.cross_node.p50)"
	metric cross_p99 "$(v latency_ms.cross_node.p99)"
	metric amqp_3 "$(v amqp_per_routed_command.3.publishes_per_routed)"
	metric amqp_5 "$(v amqp_per_routed_command.5.publishes_per_routed)"
	metric cpu_same "$(v broker_cpu_us_per_command.same_node)"
	metric cpu_cross "$(v broker_cpu_us_per_command.cross_node)"
	metric main_same "$(v broker_main_thread_us_per_command.same_node)"
	metric main_cross "$(v broker_main_thread_us_per_command.cross_node)"
}
