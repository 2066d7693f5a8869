# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Connect storm: 5,000 devices connect (cold: the plugin asks the registry
# for every device; dynamic security hashes every password with PBKDF2),
# disconnect, and connect again (warm: the plugin checks an HMAC of the
# password it verified before). Closed loop: at most 32 connects in flight,
# well below the broker's listen backlog of 100, so the kernel's SYN retry
# timer stays out of it.
#
# Headline: connects per CPU-second of the broker thread. The wall-clock
# rate is also recorded, but on a shared 2-core machine it mostly measures
# the CPU share the broker got. The broker's RSS is read while the 5,000
# devices of the cold round are connected (loadgen --hold, READY).
SCENARIO_ID=conn
SCENARIO_TITLE="Connect storm, 5,000 devices"
SCENARIO_FRESH=1    # a cold cache needs fresh brokers every round
SCENARIO_ROUNDS=3
metric_def cold_per_cpu_s "cold: connects per broker CPU-second" "conn/s" higher
metric_def warm_per_cpu_s "warm: connects per broker CPU-second" "conn/s" higher
metric_def cold_per_s "cold: connects/s (wall clock)" "conn/s" higher
metric_def warm_per_s "warm: connects/s (wall clock)" "conn/s" higher
metric_def cold_p50 "cold: connect latency p50" ms lower
metric_def cold_p99 "cold: connect latency p99" ms lower
metric_def warm_p50 "warm: connect latency p50" ms lower
metric_def warm_p99 "warm: connect latency p99" ms lower
metric_def cold_cpu_us "cold: broker CPU per connect (all threads)" "µs" lower
metric_def warm_cpu_us "warm: broker CPU per connect (all threads)" "µs" lower
metric_def rss_per_dev "broker RSS per connected device" "bytes" lower

scenario_run() {
	local n=5000 rss0 rss1
	# cold, held for the RSS reading (heap_trim: see lib/common.sh)
	heap_trim
	rss0=$(rss_kb)
	cpu_begin
	rss1=$(held_rss "$RAW.cold.json" --mode conn --clients $n --conn-window 32 --hold 1 \
		--user "$DEV_USER" --pass "$DEV_PASS")
	lg_ok "$RAW.cold.json" || return 0
	cpu_end $n cold
	metric cold_per_s "$(jget "$RAW.cold.json" connect.0.connects_per_s)"
	metric cold_p50 "$(ms "$RAW.cold.json" connect.0.latency_us.p50)"
	metric cold_p99 "$(ms "$RAW.cold.json" connect.0.latency_us.p99)"
	[ -n "$rss1" ] && metric rss_per_dev $(((rss1 - rss0) * 1024 / n))
	# warm
	settle
	cpu_begin
	lg --mode conn --clients $n --conn-window 32 --user "$DEV_USER" --pass "$DEV_PASS" >"$RAW.warm.json"
	lg_ok "$RAW.warm.json" || return 0
	cpu_end $n warm
	metric warm_per_s "$(jget "$RAW.warm.json" connect.0.connects_per_s)"
	metric warm_p50 "$(ms "$RAW.warm.json" connect.0.latency_us.p50)"
	metric warm_p99 "$(ms "$RAW.warm.json" connect.0.latency_us.p99)"
}
