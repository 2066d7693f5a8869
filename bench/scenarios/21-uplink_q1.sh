# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Uplink throughput, QoS 1: as uplink_q0, but acknowledged: every device
# keeps up to 20 unacknowledged messages in flight. With event forwarding
# each of these messages is also spooled before the PUBACK and sent to
# RabbitMQ (which runs on the same two cores) by the plugin's own thread.
SCENARIO_ID=uplink_q1
SCENARIO_TITLE="Uplink QoS 1, 100 devices"
SCENARIO_PROFILE=1
metric_def msg_per_cpu_s "messages per broker CPU-second" "msg/s" higher
metric_def msgs_per_s "messages/s delivered (wall clock)" "msg/s" higher
metric_def msg_cpu_us "broker CPU per message (all threads)" "µs" lower
metric_def msg_thr_us "  of which the plugin's own threads and processes (AMQP forwarder, registry worker)" "µs" lower

scenario_run() {
	uplink_run 1
}
