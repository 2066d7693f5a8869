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

scenario_run() {
	local d=3
	[ "${QUICK:-0}" = 1 ] && d=2
	cpu_begin
	lg --mode pub --publishers 100 --subscribers 100 --qos 1 --duration $d \
		--user "$DEV_USER" --pass "$DEV_PASS" --sub-user "$SVC_USER" --sub-pass "$SVC_PASS" \
		--topic 'upload_data/%p/%d/temp/%n' --sub-topic "upload_data/$PRODUCT/d%i/#" >"$RAW.json"
	lg_ok "$RAW.json" || return 0
	cpu_end "$(jget "$RAW.json" receive.received)" msg
	metric msgs_per_s "$(jget "$RAW.json" receive.received_per_s)"
}
