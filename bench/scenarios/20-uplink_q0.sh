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
metric_def msg_per_cpu_s "messages per broker CPU-second" "msg/s" higher
metric_def msgs_per_s "messages/s delivered (wall clock)" "msg/s" higher
metric_def msg_cpu_us "broker CPU per message (all threads)" "µs" lower

scenario_run() {
	local d=3
	[ "${QUICK:-0}" = 1 ] && d=2
	cpu_begin
	lg --mode pub --publishers 100 --subscribers 100 --qos 0 --e2e-window 20 --duration $d \
		--user "$DEV_USER" --pass "$DEV_PASS" --sub-user "$SVC_USER" --sub-pass "$SVC_PASS" \
		--topic 'upload_data/%p/%d/temp/%n' --sub-topic "upload_data/$PRODUCT/d%i/#" >"$RAW.json"
	lg_ok "$RAW.json" || return 0
	cpu_end "$(jget "$RAW.json" receive.received)" msg
	metric msgs_per_s "$(jget "$RAW.json" receive.received_per_s)"
}
