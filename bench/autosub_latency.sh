#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# bench/autosub_latency.sh - the auto-subscription figures, in one run:
#
#   * the latency of a command to ONE device while 10 devices are connected
#     (A) and while 10,000 are (B), through the same broker + plugin, as a
#     ratio B/A of p50 and p99 (aim: <= 1.2). Rounds alternate A B A B so
#     drift on this shared machine hits both sides.
#   * the broker's memory per connected device: RSS with the 9,990 extra
#     devices connected minus RSS before, per device, with the plugin and
#     with a bare broker (no plugin, devices subscribe themselves), and the
#     auto-subscription index's own autosub.memory_bytes (stats_file).
#
#   bench/autosub_latency.sh [-n DEVICES] [-c COMMANDS] [-r RATE] [-k ROUNDS] [-o DIR]
#     -n  devices connected in B            (default 10000; at most ~19900 here)
#     -c  commands per measurement round    (default 2000)
#     -r  commands per second               (default 200; 0 = as fast as acks allow)
#     -k  A/B round pairs; figures are medians over them (default 3)
#     -o  results directory                 (default bench/out/autosub-<time>)
#     -b  only the plugin broker (skip the bare one)
#     -p  NICE: run the brokers and loadgen at this nice value (e.g. -10, as
#         root) so other jobs on a shared machine disturb the p99 less
#
# Each measurement: loadgen --mode cmd, 10 devices, every command to device 0
# (--target 0), QoS 1, from a superuser business client. The B rounds add
# DEVICES-10 idle devices held by a second loadgen (--mode conn --hold).
# Devices are registered in a MongoDB stand-in (tools/mongo_standin.py, in
# memory) with one insert_many (timed). A cold connect is a registry lookup
# on the broker thread, 10-30 ms with the stand-in: 10,000 unpaced cold
# connects overflow the listen backlog. So the auth cache (auth_cache_ttl
# 1d) is warmed first, in batches, through the control channel:
# invalidateDevice for every device, 100 per request, which the plugin's
# worker re-reads as $in queries of revalidate_batch (timed too). Every
# figure is then measured warm. Results: DIR/summary.txt and the loadgen JSON.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
lg="$here/build/loadgen"
plugin_so="$root/build/mosquitto_iothub.so"
PY=/usr/bin/python3
N=10000
COUNT=2000
RATE=200
ROUNDS=3
out=""
variants=(bare plugin)
NICE=0

while getopts "n:c:r:k:o:p:bh" o; do
	case $o in
	n) N=$OPTARG ;;
	c) COUNT=$OPTARG ;;
	r) RATE=$OPTARG ;;
	k) ROUNDS=$OPTARG ;;
	o) out=$OPTARG ;;
	b) variants=(plugin) ;;
	p) NICE=$OPTARG ;;
	*) sed -n '2,30p' "$0"; exit 1 ;;
	esac
done
MEAS=10
HOLD=$((N - MEAS))
[ -n "$out" ] || out="$here/out/autosub-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -x "$lg" ] || make -C "$here" >/dev/null || exit 1
[ -f "$plugin_so" ] || { echo "build the plugin first (make)" >&2; exit 1; }

# free_port, port_free, stop_pid, conf_base, settle and rss_kb (of $BROKER_PID)
# shellcheck source=bench/lib/common.sh
. "$here/lib/common.sh"
wait_port() { for _ in $(seq 100); do port_free "$1" || return 0; sleep 0.1; done; echo "nothing listens on $1" >&2; exit 1; }
say() { echo "$*" | tee -a "$out/summary.txt"; }

PIDS=()
bpid=""
cleanup() {
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}" 60; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- registry ----------------------------------------------------------------
mport=$(free_port)
"$PY" "$root/tools/mongo_standin.py" --port "$mport" >"$out/standin.log" 2>&1 &
PIDS+=($!)
wait_port "$mport"
ADMIN_PASS=bench-admin-secret
"$PY" - "$mport" "$N" "$out" "$ADMIN_PASS" <<'EOF' | tee -a "$out/summary.txt"
import sys, time, pymongo
port, n, out, admin_pass = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
db = pymongo.MongoClient('mongodb://127.0.0.1:%s' % port).bench
docs = [{'product_name': 'p1', 'device_name': 'dev%d' % i,
         'broker_username': 'p1/dev%d' % i, 'secret': 'secret-%d' % i,
         'status': 'active', 'tags': [], 'tags_version': 1} for i in range(n)]
docs.append({'product_name': 'bench', 'device_name': 'admin',
             'broker_username': 'bench/admin', 'secret': admin_pass,
             'status': 'active', 'superuser': True})
t = time.monotonic()
db.devices.insert_many(docs, ordered=False)
took = time.monotonic() - t
print('registry: insert_many of %d device documents into the stand-in: %.2f s (%.0f docs/s)'
      % (len(docs), took, len(docs) / took))
with open(out + '/meas.txt', 'w') as f:
    for i in range(10):
        f.write('p1/dev%d secret-%d\n' % (i, i))
with open(out + '/hold.txt', 'w') as f:
    for i in range(10, n):
        f.write('p1/dev%d secret-%d\n' % (i, i))
EOF

# ---- helpers -----------------------------------------------------------------
start_broker() {  # variant
	local v=$1 dir="$out/$1"
	mkdir -p "$dir"
	port=$(free_port)
	{
		conf_base "$dir" "$port"
		echo "log_type notice"
		if [ "$v" = plugin ]; then
			echo "allow_anonymous false"
			echo "plugin $plugin_so"
			echo "plugin_opt_mongo_uri mongodb://127.0.0.1:$mport"
			echo "plugin_opt_mongo_db bench"
			echo "plugin_opt_mongo_timeout 5000ms"
			echo "plugin_opt_auth_cache_ttl 1d"
			echo "plugin_opt_revalidate_interval 0"
			echo "plugin_opt_stats_file $dir/stats.json"
			echo "plugin_opt_stats_interval 1s"
		else
			echo "allow_anonymous true"
		fi
	} >"$dir/mosquitto.conf"
	# ~10,000 clients need ~10,000 fds: raise the soft limit to the hard one.
	(ulimit -n "$(ulimit -Hn)"; cd "$dir" && exec nice -n "$NICE" mosquitto -c "$dir/mosquitto.conf") >"$dir/stdout.log" 2>&1 &
	bpid=$!
	BROKER_PID=$bpid
	PIDS+=("$bpid")
	wait_port "$port"
}

stop_broker() {
	stop_pid "$bpid" 60
	unset 'PIDS[${#PIDS[@]}-1]'
}

dev_args() {  # variant role -> loadgen credential arguments
	if [ "$1" = plugin ]; then
		echo "--creds $out/$2.txt"
	elif [ "$2" = meas ]; then
		echo "--user p1/dev%i --subscribe-self cmd/%p/%d/+/+/+/#"
	else
		echo "--user p1/hold%i"
	fi
}

measure() {  # variant name connected
	local v=$1 name=$2 biz=""
	[ "$v" = plugin ] && biz="--cmd-user bench/admin --cmd-pass $ADMIN_PASS"
	settle
	set -f
	nice -n "$NICE" "$lg" --port "$port" --mode cmd --clients $MEAS $(dev_args "$v" meas) $biz \
		--target 0 --count "$COUNT" --pub-rate "$RATE" --qos 1 \
		--client-id-prefix "$name-" --json --quiet >"$out/$v/$name.json" 2>"$out/$v/$name.err"
	set +f
	"$PY" - "$out/$v/$name.json" "$v" "$name" "$(cut -d' ' -f1 /proc/loadavg)" "$3" <<'EOF' | tee -a "$out/summary.txt"
import json, sys
d = json.load(open(sys.argv[1]))
c = d['cmd']
l = c['latency_us']
print('  %-6s %-3s %5d connected: p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.2f ms'
      '  (sent %d delivered %d lost %d dup %d misrouted %d, load %s)'
      % (sys.argv[2], sys.argv[3], int(sys.argv[5]), l['p50'] / 1e3, l['p99'] / 1e3, l['p999'] / 1e3,
         l['max'] / 1e3, c['sent'], c['delivered'], c['lost'], c['duplicates'],
         c['misrouted'], sys.argv[4]))
EOF
}

hold_start() {  # variant name
	local v=$1 name=$2 t0
	t0=$(date +%s.%N)
	set -f
	"$lg" --port "$port" --mode conn --clients "$HOLD" $(dev_args "$v" hold) \
		--conn-rate 0 --connect-timeout 600 --max-fail-pct 0 --hold 86400 \
		--client-id-prefix "$name-" --json --quiet >"$out/$v/$name.json" 2>"$out/$v/$name.err" &
	set +f
	hpid=$!
	PIDS+=("$hpid")
	until grep -q '^READY' "$out/$v/$name.json" 2>/dev/null; do
		kill -0 "$hpid" 2>/dev/null || { echo "holder failed: $(cat "$out/$v/$name.err")" >&2; exit 1; }
		sleep 0.2
	done
	hold_s=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
}

hold_stop() {
	kill -INT "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	unset 'PIDS[${#PIDS[@]}-1]'
}

# ---- the runs ----------------------------------------------------------------
say "autosub latency: $N devices, $COUNT commands/round at ${RATE}/s, QoS 1, nice $NICE, machine load $(cut -d' ' -f1-3 /proc/loadavg)"
for v in "${variants[@]}"; do
	start_broker "$v"
	say "== $v broker (pid $bpid, port $port)"
	if [ "$v" = plugin ]; then
		settle
		rss_cold=$(rss_kb)
		"$PY" - "$port" "$N" "$ADMIN_PASS" <<'EOF' | tee -a "$out/summary.txt"
import json, sys, threading, time
import paho.mqtt.client as mqtt
port, n, admin_pass = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cond, state = threading.Condition(), {'answers': 0, 'errors': 0, 'suback': False}
def on_message(client, userdata, msg):
    answers = json.loads(msg.payload)['responses']
    with cond:
        state['answers'] += len(answers)
        state['errors'] += sum(1 for a in answers if 'error' in a)
        cond.notify_all()
def on_subscribe(*args):
    with cond:
        state['suback'] = True
        cond.notify_all()
c = mqtt.Client(client_id='bench-warmup', protocol=mqtt.MQTTv5)
c.username_pw_set('bench/admin', admin_pass)
c.on_message, c.on_subscribe = on_message, on_subscribe
c.connect('127.0.0.1', port)
c.loop_start()
c.subscribe('$CONTROL/iothub/v1/response', qos=1)
with cond:
    cond.wait_for(lambda: state['suback'], 10)
t = time.monotonic()
users = ['p1/dev%d' % i for i in range(n)]
for i in range(0, n, 100):
    c.publish('$CONTROL/iothub/v1', json.dumps({'commands': [
        {'command': 'invalidateDevice', 'username': u} for u in users[i:i + 100]]}), qos=1)
with cond:
    cond.wait_for(lambda: state['answers'] >= n, 600)
took = time.monotonic() - t
c.loop_stop()
c.disconnect()
print('  auth cache warmed through the control channel: %d devices re-read in %.1f s (%.0f/s), %d errors'
      % (state['answers'], took, state['answers'] / took, state['errors']))
EOF
		settle
		say "  memory: RSS $rss_cold kB -> $(rss_kb) kB with $N devices' records cached: $(( ($(rss_kb) - rss_cold) * 1024 / N )) bytes per cached device (auth cache; not in the figure below)"
	fi
	measure "$v" w0 $MEAS >/dev/null          # warm-up: 10 devices, business client
	settle
	rss0=$(rss_kb)
	hold_start "$v" h1
	settle
	rss1=$(rss_kb)
	say "  $HOLD devices connected in ${hold_s} s ($([ "$v" = plugin ] && echo 'first connect of each: warm auth cache, secret verified' || echo 'no auth'))"
	say "  memory: RSS $rss0 kB -> $rss1 kB: $(( (rss1 - rss0) * 1024 / HOLD )) bytes per connected device"
	if [ "$v" = plugin ]; then
		sleep 1.2
		"$PY" - "$out/$v/stats.json" "$HOLD" <<'EOF' | tee -a "$out/summary.txt"
import json, sys
s = json.load(open(sys.argv[1]))
a = s['autosub']
print('  autosub index: %d clients, memory_bytes %d = %.0f bytes per client; auth cache %d entries'
      % (a['clients'], a['memory_bytes'], a['memory_bytes'] / max(a['clients'], 1),
         s['auth']['cache_entries']))
EOF
	fi
	eval "rss_$v=$(( (rss1 - rss0) * 1024 / HOLD ))"
	for k in $(seq "$ROUNDS"); do
		if [ "$k" -gt 1 ]; then
			hold_start "$v" "h$k"
			say "  $HOLD devices connected again in ${hold_s} s (warm)"
		fi
		measure "$v" "B$k" $N
		hold_stop
		measure "$v" "A$k" $MEAS
	done
	stop_broker
done

"$PY" - "$out" "$ROUNDS" "$N" "$MEAS" "${variants[@]}" <<'EOF' | tee -a "$out/summary.txt"
import json, statistics, sys
out, rounds, n, meas, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
print('== ratios, median over %d rounds: B = %s connected, A = %s' % (rounds, n, meas))
for v in variants:
    def lat(name, q):
        return json.load(open('%s/%s/%s.json' % (out, v, name)))['cmd']['latency_us'][q]
    for q in ('p50', 'p99'):
        a = statistics.median([lat('A%d' % k, q) for k in range(1, rounds + 1)])
        b = statistics.median([lat('B%d' % k, q) for k in range(1, rounds + 1)])
        print('  %-6s %s: A %.3f ms, B %.3f ms, B/A = %.2f' % (v, q, a / 1e3, b / 1e3, b / a))
EOF
if [ ${#variants[@]} -eq 2 ]; then
	say "== plugin memory per connected device: $((rss_plugin - rss_bare)) bytes (plugin $rss_plugin - bare $rss_bare, RSS deltas)"
fi
say "results in $out"
