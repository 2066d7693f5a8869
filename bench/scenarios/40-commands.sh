# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Commands: 10,000 devices connected; the service client sends 2,000
# commands (cmd/bench/d<i>/reboot/plain/<n>, QoS 1) at 1,000/s, round robin.
# With auto-subscription the broker delivers them itself (the devices
# subscribe to nothing); the other configurations have every device
# subscribe to cmd/bench/d<i>/+/+/+/# at connect (--subscribe-self).
# Latency = publish -> the device's on_message.
SCENARIO_ID=commands
SCENARIO_TITLE="Commands to 10,000 devices"
SCENARIO_ROUNDS=3
metric_def cmd_p50 "command latency p50" ms lower
metric_def cmd_p99 "command latency p99" ms lower
metric_def cmd_cpu_us "broker CPU per command (all threads)" "µs" lower

scenario_run() {
	local self=() count=2000
	[ "${QUICK:-0}" = 1 ] && count=500
	[ "$AUTOSUB" = 1 ] || self=(--subscribe-self 'cmd/%p/%d/+/+/+/#')
	lg --mode cmd --clients 10000 --conn-window 64 --user "$DEV_USER" --pass "$DEV_PASS" "${self[@]}" \
		--cmd-user "$SVC_USER" --cmd-pass "$SVC_PASS" --count $count --pub-rate 1000 --qos 1 \
		--topic 'cmd/%p/%d/reboot/plain/%n' >"$RAW.json.tmp" &
	local pid=$!
	# CPU per command: from the first command on (the connects are not
	# part of it); loadgen prints nothing before the end, so wait until the
	# broker has all 10,001 clients.
	wait_clients 10001 $pid
	cpu_begin
	wait $pid
	mv "$RAW.json.tmp" "$RAW.json"
	lg_ok "$RAW.json" || return 0
	metric cmd_p50 "$(ms "$RAW.json" cmd.latency_us.p50)"
	metric cmd_p99 "$(ms "$RAW.json" cmd.latency_us.p99)"
	cpu_end "$(jget "$RAW.json" cmd.delivered)" cmd
	[ "$(jget "$RAW.json" cmd.misrouted)" = 0 ] || echo "bench: commands misrouted on $CONFIG" >&2
}
