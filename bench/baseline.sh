#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# bench/baseline.sh - run the reference scenarios of bench/README.md against a
# broker this script starts (plain mosquitto, or one with extra config lines).
#
#   bench/baseline.sh [-p PORT] [-o OUTDIR] [-c EXTRA.conf] [-n] [SCENARIO...]
#     -p PORT   listener port (default: first free port from 18830)
#     -o DIR    where results go (default: bench/out/baseline-<timestamp>)
#     -c FILE   appended to the generated mosquitto.conf (e.g. the plugin lines)
#     -n        add 'set_tcp_nodelay true' to the broker config
#     -b BIN    mosquitto binary (default: mosquitto from PATH)
#   CMD_AUTH (environment): device credentials/subscription arguments of the
#   cmd scenarios, word-split; default "--user p/d%i --subscribe-self
#   cmd/%p/%d/+/+/#" (no plugin).  With the plugin, e.g.
#   CMD_AUTH="--creds devices.txt --cmd-user biz --cmd-pass secret".
#   SCENARIO: conn5000 conn5000paced pub100q0 pub100q1 pub100q0max pub100q1max
#             fanout100 fanout100max cmd10000 cmd10000paced   (default: all)
#
# Every scenario writes DIR/NAME.json (loadgen --json) and a line to
# DIR/summary.txt.  The broker is started with the fd limit raised to the hard
# limit and is stopped on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
lg="$here/build/loadgen"
port=""
out=""
extra=""
nodelay=0
mosq=mosquitto

while getopts "p:o:c:nb:h" o; do
	case $o in
	p) port=$OPTARG ;;
	o) out=$OPTARG ;;
	c) extra=$OPTARG ;;
	n) nodelay=1 ;;
	b) mosq=$OPTARG ;;
	*) sed -n '2,22p' "$0"; exit 1 ;;
	esac
done
shift $((OPTIND - 1))
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(conn5000 conn5000paced pub100q0 pub100q1 pub100q0max pub100q1max fanout100 fanout100max cmd10000 cmd10000paced)

cmd_auth=${CMD_AUTH:---user p/d%i --subscribe-self cmd/%p/%d/+/+/#}
set -f # keep the templates in $cmd_auth from globbing

[ -x "$lg" ] || make -C "$here" >/dev/null || exit 1

# port_free, settle (of $BROKER_PID)
# shellcheck source=bench/lib/common.sh
. "$here/lib/common.sh"
if [ -z "$port" ]; then
	port=18830
	while ! port_free $port; do port=$((port + 1)); done
fi
[ -n "$out" ] || out="$here/out/baseline-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"

conf="$out/mosquitto.conf"
{
	echo "listener $port 127.0.0.1"
	echo "allow_anonymous true"
	echo "max_connections -1"
	echo "persistence false"
	echo "log_dest stderr"
	echo "log_type error"
	echo "log_type warning"
	[ $nodelay = 1 ] && echo "set_tcp_nodelay true"
	[ -n "$extra" ] && cat "$extra"
} >"$conf"

# 10000 clients need ~10000 fds in the broker: raise the soft limit to the
# hard one in the subshell that execs mosquitto.
(ulimit -n "$(ulimit -Hn)"; exec "$mosq" -c "$conf") >"$out/broker.log" 2>&1 &
bpid=$!
BROKER_PID=$bpid
trap 'kill $bpid 2>/dev/null; wait $bpid 2>/dev/null' EXIT
for _ in $(seq 50); do port_free $port || break; sleep 0.1; done
if port_free $port; then
	echo "broker did not start, see $out/broker.log" >&2
	exit 1
fi
echo "broker pid $bpid on port $port, fd limit $(awk '/open files/{print $4}' /proc/$bpid/limits), results in $out"

cpu_ticks() { awk '{print $14 + $15}' /proc/$bpid/stat; }

run() {
	local name=$1
	shift
	local t0 t1 rc
	local lcpu
	t0=$(cpu_ticks)
	lcpu=$( { TIMEFORMAT='%U %S %R'; time "$lg" --port "$port" --json --quiet "$@" >"$out/$name.json" 2>"$out/$name.err"; } 2>&1 )
	rc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["exit_code"])' "$out/$name.json" 2>/dev/null || echo "?")
	t1=$(cpu_ticks)
	echo "$name exit=$rc loadavg=$(cut -d' ' -f1 /proc/loadavg) wall_s=$(echo "$lcpu" | awk '{print $3}') loadgen_cpu_s=$(echo "$lcpu" | awk '{printf "%.2f", $1+$2}') broker_cpu_s=$(echo "$t0 $t1" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($2-$1)/hz}') args: $*" | tee -a "$out/summary.txt"
	if command -v python3 >/dev/null; then
		python3 - "$out/$name.json" "$name" <<'EOF' | tee -a "$out/summary.txt"
import json, sys
d = json.load(open(sys.argv[1]))
n = sys.argv[2]
def lat(x):
    return "p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms" % (x["p50"]/1e3, x["p99"]/1e3, x["p999"]/1e3, x["max"]/1e3)
for c in d["connect"]:
    if d["mode"] == "conn" or c["clients"] > 1:
        print("  %-14s connect %s r%d: %d/%d ok, %.0f conn/s, %s" % (n, c["role"], c["round"], c["ready"], c["clients"], c["connects_per_s"], lat(c["latency_us"])))
if "publish" in d:
    p = d["publish"]
    s = "  %-14s publish: %d msgs, %.0f msg/s" % (n, p["sent"], p["sent_per_s"])
    if d["config"]["qos"] > 0:
        s += ", ack " + lat(p["ack_latency_us"])
    print(s)
if "receive" in d:
    r = d["receive"]
    print("  %-14s receive: %d msgs, %.0f msg/s, per sub %.0f msg/s, lost %d dup %d, e2e %s" % (n, r["received"], r["received_per_s"], r["per_subscriber"]["mean_per_s"], r["lost"], r["duplicates"], lat(r["latency_us"])))
if "cmd" in d:
    c = d["cmd"]
    print("  %-14s cmd: sent %d delivered %d lost %d misrouted %d" % (n, c["sent"], c["delivered"], c["lost"], c["misrouted"]))
EOF
	fi
}

for s in "${scenarios[@]}"; do
	settle
	case $s in
	conn5000) run $s --mode conn --clients 5000 --repeat 2 ;;
	conn5000paced) run $s --mode conn --clients 5000 --conn-rate 2000 --repeat 2 ;;
	pub100q0) run $s --mode pub --publishers 100 --subscribers 100 --sub-topic 'bench/%r/%i' --pub-rate 100 --duration 10 --qos 0 ;;
	pub100q1) run $s --mode pub --publishers 100 --subscribers 100 --sub-topic 'bench/%r/%i' --pub-rate 100 --duration 10 --qos 1 ;;
	pub100q0max) run $s --mode pub --publishers 100 --subscribers 100 --sub-topic 'bench/%r/%i' --duration 5 --qos 0 ;;
	pub100q1max) run $s --mode pub --publishers 100 --subscribers 100 --sub-topic 'bench/%r/%i' --duration 5 --qos 1 ;;
	fanout100) run $s --mode pub --publishers 1 --subscribers 100 --pub-rate 100 --duration 10 --qos 1 ;;
	fanout100max) run $s --mode pub --publishers 1 --subscribers 100 --duration 5 --qos 1 ;;
	cmd10000) run $s --mode cmd --clients 10000 --conn-rate 2000 $cmd_auth --count 2000 --qos 1 ;;
	cmd10000paced) run $s --mode cmd --clients 10000 --conn-rate 2000 $cmd_auth --count 2000 --pub-rate 200 --qos 1 ;;
	*) echo "unknown scenario $s" >&2 ;;
	esac
done
