# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# bench/lib/common.sh - helpers for bench/run.sh and the scenario files.
# Sourced, not executed. Everything a scenario may use is documented in
# bench/README.md ("Writing a scenario").
#
# Set by run.sh before a scenario runs:
#   BENCH_ROOT  repository root          BENCH_OUT  results directory
#   LG          bench/build/loadgen      PY         /usr/bin/python3
#   CONFIG      bare|dynsec|plugin|autosub|events
#   AUTOSUB     1 when the broker subscribes devices itself (autosub, events)
#   PORT        the broker's port        BROKER_PID its pid
#   RAW         prefix for this run's raw files: raw/<scenario>.<config>.r<rep>
#   REP         repetition number (1..)
#   DEV_USER DEV_PASS  loadgen templates of the devices ('bench/d%i', 'pw%i')
#   SVC_USER SVC_PASS  the business/service client (superuser / allow-all)
#   PRODUCT     'bench'

# ---- ports and processes ----------------------------------------------------

port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

# A free port from a range no other part of the project uses by default.
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 9000))
		port_free "$p" && { echo "$p"; return 0; }
	done
	return 1
}

# Stops a process we started, by pid: TERM, then KILL after $2 s (default 10).
stop_pid() {
	local pid=$1 t=${2:-10} n=0
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt $((t * 10)) ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# ---- broker configuration ----------------------------------------------------

# conf_base DIR PORT : the mosquitto.conf lines every benchmarked broker
# shares (loopback listener, no connection limit, no persistence, Nagle off,
# errors and warnings to DIR/broker.log).
conf_base() {
	echo "listener $2 127.0.0.1"
	echo "max_connections -1"
	echo "persistence false"
	echo "set_tcp_nodelay true"
	echo "log_dest file $1/broker.log"
	echo "log_type error"
	echo "log_type warning"
	if [ "$(id -u)" = 0 ]; then echo "user root"; fi
}

# ---- broker measurements ------------------------------------------------------

# CPU seconds of the whole broker process (all threads: the plugin's AMQP
# forwarder included; clock ticks) and of its main thread, the one that
# handles every MQTT packet (schedstat, nanoseconds). The broker's child
# processes (the plugin's registry worker, registry/helper.h) count as the
# broker: their CPU is the plugin's work.
broker_kids() { cat /proc/"$BROKER_PID"/task/*/children 2>/dev/null; }
cpu_s() {
	local k files="/proc/$BROKER_PID/stat"
	for k in $(broker_kids); do files="$files /proc/$k/stat"; done
	# shellcheck disable=SC2086
	cat $files 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{s += $14 + $15} END {printf "%.2f", s / hz}'
}
# cpu_threads_s: the same as cpu_s to the nanosecond (schedstat of every
# live thread) instead of in 10 ms ticks, which over a 3 s run are 1-2 % of
# the figure. Threads that already exited are not in it: for a piece of
# work the plugin's threads outlive (cpu_begin/cpu_end), not for totals
# since start-up (the restart scenario uses cpu_s).
cpu_threads_s() {
	local k files="/proc/$BROKER_PID/task/*/schedstat"
	for k in $(broker_kids); do files="$files /proc/$k/task/*/schedstat"; done
	# shellcheck disable=SC2086
	cat $files 2>/dev/null | awk '{s += $1} END {printf "%.6f", s / 1e9}'
}
cpu_main_s() { awk '{printf "%.6f", $1 / 1e9}' "/proc/$BROKER_PID/task/$BROKER_PID/schedstat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$BROKER_PID/status"; }
# heap_trim: make the broker's malloc give its free pages back (malloc_trim(0)
# through gdb) before an RSS reading. Without it, memory freed at start-up
# stays resident and new connections fill it without moving RSS: dynamic
# security frees about 78 MB after loading its 13 MB JSON file of 10,001
# clients (RSS 139 MB, 62 MB after the trim), and 5,000 devices then read as
# 0 bytes each (67 measured; 855 with the trim). Needs gdb (tools/deps.sh).
heap_trim() {
	command -v gdb >/dev/null || { echo "bench: gdb missing: RSS readings include freed memory" >&2; return 0; }
	gdb -p "$BROKER_PID" -batch -nx -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
}

# held_rss OUT LG_ARGS... : runs `lg LG_ARGS` (which should --hold) into OUT
# and prints the broker's RSS in kB, read (after heap_trim) once loadgen
# reports READY, i.e. with every client connected; empty if it never did.
held_rss() {
	local out=$1 pid rss=""
	shift
	lg "$@" >"$out" &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		if [ -z "$rss" ] && grep -q '^READY' "$out" 2>/dev/null; then
			heap_trim
			rss=$(rss_kb)
		fi
		sleep 0.05
	done
	wait $pid || true
	echo "$rss"
}

# Waits until the broker has been idle (< 2 % of a core) for 0.5 s: a QoS 0
# flood leaves a backlog in its socket buffers that it keeps processing.
settle() {
	local a b n=0 hz
	hz=$(getconf CLK_TCK)
	while [ $n -lt 120 ]; do
		a=$(awk '{print $14 + $15}' "/proc/$BROKER_PID/stat")
		sleep 0.5
		b=$(awk '{print $14 + $15}' "/proc/$BROKER_PID/stat")
		[ $((b - a)) -le $((hz / 100)) ] && return 0
		n=$((n + 1))
	done
	echo "bench: broker still busy after 60 s" >&2
}

# ---- loadgen --------------------------------------------------------------------

# lg ARGS... : loadgen against the broker under test, JSON on stdout.
lg() { "$LG" --port "$PORT" --json --quiet "$@"; }

# jget FILE PATH : a value from a loadgen JSON result (the last line of FILE
# that starts with '{'). PATH is dotted, list indexes are numbers:
#   jget "$RAW.json" connect.0.latency_us.p99
jget() {
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
doc = None
for line in open(sys.argv[1]):
    if line.startswith('{'):
        doc = json.loads(line)
v = doc
for k in sys.argv[2].split('.'):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)
EOF
}

# lg_ok FILE : loadgen's exit code in FILE was 0 (else the metrics are not
# recorded and the run is marked failed in the report).
lg_ok() {
	local rc
	rc=$(jget "$1" exit_code 2>/dev/null) || rc=missing
	[ "$rc" = 0 ] && return 0
	echo "bench: $SCENARIO_ID/$CONFIG rep $REP: loadgen exit code $rc (see $1)" >&2
	echo "$REP	$SCENARIO_ID	$CONFIG	loadgen exit $rc" >>"$BENCH_OUT/failures.tsv"
	return 1
}

# ---- metrics ----------------------------------------------------------------------

# metric_def ID LABEL UNIT higher|lower
#   declares a metric of the current scenario (at file level of a scenario).
metric_def() {
	SCENARIO_METRICS+=("$1	$2	$3	$4")
}

# metric ID VALUE : records one measurement of the current run.
metric() {
	[ -n "$2" ] || return 0
	printf '%s\t%s\t%s\t%s\t%s\n' "$REP" "$SCENARIO_ID" "$CONFIG" "$1" "$2" >>"$BENCH_OUT/metrics.tsv"
}

# Broker CPU around a piece of work: cpu_begin; <run>; cpu_end N PREFIX
# records PREFIX_per_cpu_s (N per CPU-second of the broker thread: what the
# single-threaded broker could do with a core to itself) and PREFIX_cpu_us
# (CPU microseconds per item, all threads of the broker process, to the
# nanosecond: cpu_threads_s).
cpu_begin() { _cpu0=$(cpu_threads_s); _cpum0=$(cpu_main_s); }
cpu_end() {
	local n=$1 pfx=$2
	[ "${n%.*}" -gt 0 ] 2>/dev/null || return 0
	metric "${pfx}_per_cpu_s" "$(awk -v a="$_cpum0" -v b="$(cpu_main_s)" -v n="$n" 'BEGIN{if (b > a) printf "%.1f", n / (b - a)}')"
	metric "${pfx}_cpu_us" "$(awk -v a="$_cpu0" -v b="$(cpu_threads_s)" -v n="$n" 'BEGIN{printf "%.3f", (b - a) * 1e6 / n}')"
}

# ms FILE PATH : a latency from loadgen JSON (microseconds) in milliseconds.
ms() { awk -v v="$(jget "$1" "$2")" 'BEGIN{printf "%.3f", v / 1000}'; }

# wait_clients N PID : until the broker holds N open fds (about N clients)
# or PID (the loadgen) has exited.
wait_clients() {
	while kill -0 "$2" 2>/dev/null; do
		[ "$(ls "/proc/$BROKER_PID/fd" 2>/dev/null | wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
}

# ---- shared scenario bodies -------------------------------------------------------

# uplink_run QOS [LOADGEN ARGS...] : 100 devices publish telemetry
# (upload_data/<product>/d<i>/temp/<n>) for UPLINK_SECONDS (default 3; 2
# with -q), 100 service clients each subscribed to one device's uplink;
# records msg_per_cpu_s, msg_cpu_us and msgs_per_s (the uplink scenarios).
uplink_run() {
	local qos=$1 d=${UPLINK_SECONDS:-3}
	shift
	[ "${QUICK:-0}" = 1 ] && d=2
	cpu_begin
	lg --mode pub --publishers 100 --subscribers 100 --qos "$qos" "$@" --duration $d \
		--user "$DEV_USER" --pass "$DEV_PASS" --sub-user "$SVC_USER" --sub-pass "$SVC_PASS" \
		--topic 'upload_data/%p/%d/temp/%n' --sub-topic "upload_data/$PRODUCT/d%i/#" >"$RAW.json"
	lg_ok "$RAW.json" || return 0
	cpu_end "$(jget "$RAW.json" receive.received)" msg
	metric msg_thr_us "$(awk -v a="$_cpu0" -v b="$(cpu_threads_s)" -v ma="$_cpum0" -v mb="$(cpu_main_s)" -v n="$(jget "$RAW.json" receive.received)" \
		'BEGIN{t = (b - a) - (mb - ma); if (n > 0) printf "%.3f", (t > 0 ? t : 0) * 1e6 / n}')"
	metric msgs_per_s "$(jget "$RAW.json" receive.received_per_s)"
}
