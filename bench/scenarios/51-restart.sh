# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Restart storm: RESTART_DEVICES (default 10,000) devices are connected,
# half of them with persistent sessions (clean session 0); the broker is
# stopped with SIGTERM and started again with the same configuration, and
# every device reconnects at once (closed loop, at most RESTART_WINDOW = 100
# connects in flight: the broker's listen backlog, so that the kernel's SYN
# retry timer does not decide the result).
#
# Headline: seconds from the restart (the new broker process launched) to
# every device online again, the broker CPU used in that time (all
# threads: for the plugin, the preload on the registry worker included),
# and the wrong refusals (devices with the right secret refused: must be
# 0). For the plugin the storm is run a second time with a registry that
# answers every query 1 ms late (the stand-in's standinSetDelay), to show
# that the preload keeps registry latency out of the storm. Three rounds
# (fresh brokers each): one storm on a shared machine varies by 30 %.
SCENARIO_ID=restart
SCENARIO_TITLE="Restart storm, 10,000 devices (half persistent; RESTART_DEVICES sets another size)"
SCENARIO_FRESH=1
SCENARIO_ROUNDS=3
metric_def online_s "all devices online after the restart" s lower
metric_def listen_s "of which: until the broker listens again" s lower
metric_def cpu_s "broker CPU, restart to all online (all threads)" s lower
metric_def refused "wrong refusals (must be 0)" count lower
metric_def online_1ms_s "registry +1 ms per query: all online after the restart" s lower
metric_def listen_1ms_s "registry +1 ms per query: until the broker listens again" s lower
metric_def cpu_1ms_s "registry +1 ms per query: broker CPU (all threads)" s lower
metric_def refused_1ms "registry +1 ms per query: wrong refusals" count lower

# restart_creds N DIR : DIR/clean.creds and DIR/persist.creds, half of the
# fleet each (bench/d<i> pw<i>, as bench/lib/fleet.py registers them).
restart_creds() {
	awk -v n="$1" -v d="$2" 'BEGIN {
		for (i = 0; i < n; i++) printf "bench/d%d pw%d\n", i, i > (d "/" (i % 2 ? "persist" : "clean") ".creds")
	}'
}

# restart_fleet SECS OUT : both halves connect; SECS > 0 holds them.
restart_fleet() {
	local hold=$1 out=$2 half=$((RESTART_N / 2)) p1 p2 h=()
	[ "$hold" -gt 0 ] && h=(--hold "$hold")
	# loadgen itself in the background, not the lg function: $! must be its
	# pid, or the kill below stops a subshell and leaves loadgen holding
	# its 5,000 connections for the hour.
	"$LG" --port "$PORT" --json --quiet --mode conn --clients $half --creds "$RESTART_DIR/clean.creds" --clean 1 --client-id-prefix rc \
		--conn-window "$RESTART_WINDOW" --connect-timeout 60 --max-fail-pct 100 "${h[@]}" >"$out.clean.json" &
	p1=$!
	"$LG" --port "$PORT" --json --quiet --mode conn --clients $half --creds "$RESTART_DIR/persist.creds" --clean 0 --client-id-prefix rp \
		--conn-window "$RESTART_WINDOW" --connect-timeout 60 --max-fail-pct 100 "${h[@]}" >"$out.persist.json" &
	p2=$!
	RESTART_LG="$p1 $p2"
	[ "$hold" -gt 0 ] && return 0
	wait $p1 $p2
}

# The broker this subshell measures, stopped (SIGTERM) and started again
# with the same command line, port and directory (its preload state file).
restart_broker() {
	stop_pid "$BROKER_PID" 60
	RESTART_T0=$(date +%s.%N)
	# shellcheck disable=SC2086
	(cd "$BROKER_DIR" && ulimit -n "$(ulimit -Hn)" && exec mosquitto -c "$BROKER_DIR/mosquitto.conf") \
		>>"$BROKER_DIR/stdout.log" 2>&1 &
	BROKER_PID=$!
	echo "$BROKER_PID" >"$BROKER_DIR/pid"
	for _ in $(seq 600); do
		port_free "$PORT" || break
		sleep 0.01
	done
	RESTART_TL=$(date +%s.%N)
}

# restart_storm SUFFIX : connect, hold, restart, reconnect; records the metrics.
restart_storm() {
	local sfx=$1 t1 r=0 f
	restart_fleet 3600 "$RAW.hold$sfx"
	for f in clean persist; do
		for _ in $(seq 1200); do grep -q '^READY' "$RAW.hold$sfx.$f.json" 2>/dev/null && break; sleep 0.1; done
	done
	settle
	restart_broker
	# The held clients saw the broker go; they are not part of the storm.
	for p in $RESTART_LG; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	restart_fleet 0 "$RAW.storm$sfx"
	t1=$(date +%s.%N)
	for f in clean persist; do
		lg_ok "$RAW.storm$sfx.$f.json" || return 1
		r=$((r + $(jget "$RAW.storm$sfx.$f.json" connect.0.refused)))
	done
	metric "online${sfx}_s" "$(awk -v a="$RESTART_T0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}')"
	metric "listen${sfx}_s" "$(awk -v a="$RESTART_T0" -v b="$RESTART_TL" 'BEGIN{printf "%.2f", b - a}')"
	metric "cpu${sfx}_s" "$(cpu_s)"
	metric "refused${sfx}" "$r"
}

standin_delay() {
	"$PY" -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1]).admin.command("standinSetDelay", int(sys.argv[2]))' \
		"$MONGO_URI" "$1" >/dev/null
}

scenario_run() {
	RESTART_N=${RESTART_DEVICES:-10000}
	[ "${QUICK:-0}" = 1 ] && RESTART_N=1000
	RESTART_WINDOW=${RESTART_WINDOW:-100}
	RESTART_DIR=$(mktemp -d "$WORK/restart-XXXXXX")
	restart_creds "$RESTART_N" "$RESTART_DIR"
	restart_storm ""
	if [ "$CONFIG" = plugin ]; then
		standin_delay 1
		restart_storm _1ms
		standin_delay 0
	fi
	# run.sh stops the broker it started; this one is ours.
	stop_pid "$BROKER_PID" 30
	rm -rf "$RESTART_DIR"
}
