#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Event forwarding benchmark, in one run against one private RabbitMQ node:
#   1. confirmed events/s: the forwarder (spool -> RabbitMQ, via the test
#      driver) vs a plain rabbitmq-c confirm-mode publisher (bench/amqp_baseline.c),
#      same window, same body (one event from the plugin's encoder), same node;
#      printed as a ratio;
#   2. append cost on the broker thread: ns per events_publish, and
#      instructions per events_publish under callgrind.
#
#   bench/amqp_events.sh [COUNT] [WINDOW] [PAYLOAD_BYTES] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
COUNT=${1:-100000}
WINDOW=${2:-1024}
PAYLOAD=${3:-64}
ROUNDS=${4:-3}
PY=/usr/bin/python3
RABBIT_BIN=/usr/lib/rabbitmq/bin

work=$(mktemp -d /tmp/ih-amqp-bench-XXXXXX)
mkdir -p build
test/tools/build_events_driver.sh build/events_driver
make -s -C bench build/amqp_baseline > /dev/null

port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AMQP_PORT=$(port); DIST_PORT=$(port); EPMD_PORT=$(port)
export RABBITMQ_NODENAME=ihbench$$@localhost RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_DIST_PORT=$DIST_PORT
export ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE=$work/mnesia RABBITMQ_LOG_BASE=$work/log
export RABBITMQ_ENABLED_PLUGINS_FILE=$work/enabled_plugins RABBITMQ_CONFIG_FILE=$work/rabbitmq.conf
export RABBITMQ_CONF_ENV_FILE=$work/rabbitmq-env.conf
mkdir -p "$work/mnesia" "$work/log" "$work/home"
echo '[].' > "$work/enabled_plugins"
: > "$work/rabbitmq-env.conf"
printf 'listeners.tcp.default = 127.0.0.1:%s\ndisk_free_limit.absolute = 1MB\n' "$AMQP_PORT" > "$work/rabbitmq.conf"
ctl() { HOME=$work/home "$RABBIT_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"; }

cleanup() {
    ctl shutdown > /dev/null 2>&1 || true
    [ -n "${srv:-}" ] && kill -KILL -- "-$srv" 2> /dev/null || true
    [ -n "${epmd:-}" ] && kill "$epmd" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
setsid /usr/bin/epmd -port "$EPMD_PORT" -address 127.0.0.1 > /dev/null 2>&1 &
epmd=$!
HOME=$work/home setsid "$RABBIT_BIN/rabbitmq-server" > "$work/log/startup.log" 2>&1 < /dev/null &
srv=$!
for _ in $(seq 1 300); do
    ctl await_startup --timeout 5 > /dev/null 2>&1 && break
    sleep 0.3
done
ctl await_startup --timeout 5 > /dev/null

json() { $PY -c "import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])['$1'])"; }
purge() { ctl purge_queue iothub_message_publish > /dev/null 2>&1 || true; }

best_base=0; best_fwd=0
for r in $(seq 1 "$ROUNDS"); do
    purge
    b=$(bench/build/amqp_baseline 127.0.0.1 "$AMQP_PORT" "$COUNT" "$WINDOW" "$PAYLOAD" | json events_per_s)
    purge
    rm -rf "$work/spool"
    out=$(build/events_driver --count "$COUNT" --payload "$PAYLOAD" --drain 300 \
        "amqp_uri=amqp://guest:guest@127.0.0.1:$AMQP_PORT/" "spool_dir=$work/spool" "amqp_window=$WINDOW" \
        stats_interval=0 2> "$work/driver.log")
    cs=$(echo "$out" | json confirm_s)
    f=$($PY -c "print(round($COUNT / $cs))")
    echo "round $r: baseline $b events/s, forwarder $f events/s"
    best_base=$($PY -c "print(max($best_base, $b))")
    best_fwd=$($PY -c "print(max($best_fwd, $f))")
done
ratio=$($PY -c "print('%.3f' % ($best_fwd / $best_base))")

# Append cost with RabbitMQ out of the way (nothing to connect to): the
# broker-thread path only. 200k events of PAYLOAD bytes.
# --bench: a tight loop of events_publish calls, no per-event clocks; median of 5 runs.
samples=""
for r in 1 2 3 4 5; do
    rm -rf "$work/spool2"
    out=$(build/events_driver --bench --count 100000 --payload "$PAYLOAD" --drain 0 \
        "amqp_uri=amqp://guest:guest@127.0.0.1:1/" "spool_dir=$work/spool2" stats_interval=0 2> /dev/null)
    samples="$samples $($PY -c "import json,sys; d=json.loads(sys.argv[1]); print(round(d['append_s']*1e9/d['accepted']))" "$(echo "$out" | tail -1)")"
done
append_ns=$($PY -c "import statistics,sys; print(int(statistics.median(int(x) for x in sys.argv[1].split())))" "$samples")

ir="n/a"
if command -v valgrind > /dev/null; then
    rm -rf "$work/spool3"
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --toggle-collect=events_publish \
        build/events_driver --bench --count 20000 --payload "$PAYLOAD" --drain 0 \
        "amqp_uri=amqp://guest:guest@127.0.0.1:1/" "spool_dir=$work/spool3" stats_interval=0 > /dev/null 2>&1 || true
    total=$(callgrind_annotate "$work/cg.out" 2> /dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1; exit}')
    [ -n "$total" ] && ir=$((total / 20000))
fi

echo
echo "== event forwarding benchmark (count $COUNT, window $WINDOW, payload $PAYLOAD B) =="
echo "baseline rabbitmq-c confirm publisher : $best_base events/s"
echo "forwarder (spool -> RabbitMQ)         : $best_fwd events/s"
echo "ratio forwarder/baseline              : $ratio"
echo "append cost on the broker thread      : $append_ns ns/event (median of:$samples)"
echo "instructions per events_publish       : $ir (callgrind)"
