# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Uplink throughput, QoS 0: 100 devices publish telemetry
# (upload_data/bench/d<i>/temp/<n>) for 3 s; 100 service clients each
# subscribe to one device's uplink. Closed loop through the broker: a device
# keeps at most 20 messages on their way to its subscriber (loadgen
# --e2e-window), so the broker runs flat out without a backlog in the socket
# buffers.
#
# Headline: messages per CPU-second of the broker thread (the capacity of
# the single-threaded broker with a core to itself). The wall-clock rate is
# recorded too; on a shared 2-core machine it mostly measures the CPU share
# the broker got.
SCENARIO_ID=uplink_q0
SCENARIO_TITLE="Uplink QoS 0, 100 devices"
# A perf profile run too: the per-message goals of issue 13 are read here.
SCENARIO_PROFILE=1
# A round's ratio to the bare broker varies by about +-10 % on a shared
# machine (bare2 shows it), and the goals sit 10 % from 1.00: many short
# rounds, so the median's 95 % interval (report.md, Goals) is narrow enough
# to tell. 15 rounds of 2 s.
SCENARIO_ROUNDS=15
metric_def msg_per_cpu_s "messages per broker CPU-second" "msg/s" higher
metric_def msgs_per_s "messages/s delivered (wall clock)" "msg/s" higher
metric_def msg_cpu_us "broker CPU per message (all threads)" "µs" lower
metric_def msg_thr_us "  of which the plugin's own threads and processes (AMQP forwarder, registry worker)" "µs" lower

scenario_run() {
	UPLINK_SECONDS=2 uplink_run 0 --e2e-window 20
}
