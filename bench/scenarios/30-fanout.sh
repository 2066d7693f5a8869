# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Fan-out: the service client publishes group commands
# (tags/bench/floor1/cmd/reboot/plain/<n>, QoS 1, 20 in flight) to 100
# devices subscribed to tags/bench/+/cmd/+/+/+/# (the subscription every
# configuration grants a device). Each delivery is a read check for a
# device: with the plugin a rules check (the request id makes every topic
# new, so the ACL cache never hits), with dynamic security a walk over the
# device's roles.
SCENARIO_ID=fanout
SCENARIO_TITLE="Fan-out, 1 publisher to 100 devices"
SCENARIO_PROFILE=1
metric_def msg_per_cpu_s "deliveries per broker CPU-second" "msg/s" higher
metric_def deliveries_per_s "deliveries/s (wall clock)" "msg/s" higher
metric_def msg_cpu_us "broker CPU per delivery (all threads)" "µs" lower

scenario_run() {
	local d=3
	[ "${QUICK:-0}" = 1 ] && d=2
	cpu_begin
	lg --mode pub --publishers 1 --subscribers 100 --qos 1 --duration $d \
		--user "$SVC_USER" --pass "$SVC_PASS" --sub-user "$DEV_USER" --sub-pass "$DEV_PASS" \
		--topic "tags/$PRODUCT/floor1/cmd/reboot/plain/%n" --sub-topic 'tags/%p/+/cmd/+/+/+/#' >"$RAW.json"
	lg_ok "$RAW.json" || return 0
	cpu_end "$(jget "$RAW.json" receive.received)" msg
	metric deliveries_per_s "$(jget "$RAW.json" receive.received_per_s)"
}
