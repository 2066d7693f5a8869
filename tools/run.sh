#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# `make run`: Mosquitto with the plugin, its registry and RabbitMQ, and demo
# devices, all on loopback. Prints the commands that show each capability,
# then runs the broker in the foreground; Ctrl-C stops everything it started.
#
# Environment (all optional):
#   IOTHUB_RUN_DIR     state directory            (default ./run)
#   IOTHUB_MQTT_PORT   broker listener            (default 11883)
#   IOTHUB_AMQP_PORT   private RabbitMQ node      (default 15673)
#   IOTHUB_MONGO_PORT  local registry             (default 17017)
#   IOTHUB_API_PORT    HTTP management API        (default 18081)
#   MONGO_URI          use this MongoDB instead of starting one
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${IOTHUB_RUN_DIR:-$ROOT/run}
MQTT_PORT=${IOTHUB_MQTT_PORT:-11883}
AMQP_PORT=${IOTHUB_AMQP_PORT:-15673}
MONGO_PORT=${IOTHUB_MONGO_PORT:-17017}
API_PORT=${IOTHUB_API_PORT:-18081}
PY=/usr/bin/python3
CTL=$ROOT/build/iothubctl
PIDS=()

mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)

say() { printf '%s\n' "$*"; }

cleanup() {
    set +e
    # Newest first: the broker goes while its registry is still there.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill "${PIDS[i]}" 2>/dev/null
        wait "${PIDS[i]}" 2>/dev/null
    done
    "$ROOT/tools/rabbitmq_node.sh" stop "$RUN/rabbitmq" >/dev/null 2>&1
    say "iothub: stopped."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {  # host port seconds what
    for _ in $(seq 1 $(($3 * 10))); do
        if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    say "iothub: $4 did not start on $1:$2" >&2
    exit 1
}

# ---- 1. the registry -------------------------------------------------------
if [ -n "${MONGO_URI:-}" ]; then
    say "Registry: MongoDB at \$MONGO_URI."
elif command -v mongod >/dev/null 2>&1; then
    mkdir -p "$RUN/mongod"
    mongod --bind_ip 127.0.0.1 --port "$MONGO_PORT" --dbpath "$RUN/mongod" --quiet \
        >"$RUN/mongod.log" 2>&1 &
    PIDS+=($!)
    wait_port 127.0.0.1 "$MONGO_PORT" 30 mongod
    MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT"
    say "Registry: MongoDB (mongod) on 127.0.0.1:$MONGO_PORT, data in $RUN/mongod."
else
    "$PY" "$ROOT/tools/mongo_standin.py" --port "$MONGO_PORT" --data "$RUN/registry.json" \
        >"$RUN/mongo-standin.log" 2>&1 &
    PIDS+=($!)
    wait_port 127.0.0.1 "$MONGO_PORT" 30 "the Mongo stand-in"
    MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT"
    say "Registry: no mongod is installed (Debian ships none), so the development"
    say "          stand-in tools/mongo_standin.py serves it on 127.0.0.1:$MONGO_PORT,"
    say "          data kept in $RUN/registry.json."
fi
export MONGO_URI

# ---- 2. RabbitMQ -----------------------------------------------------------
say "RabbitMQ: starting a private node on 127.0.0.1:$AMQP_PORT (takes ~10 s)..."
"$ROOT/tools/rabbitmq_node.sh" start "$RUN/rabbitmq" "$AMQP_PORT" >/dev/null
AMQP_URI="amqp://guest:guest@127.0.0.1:$AMQP_PORT/"

# ---- 3. demo devices -------------------------------------------------------
# Register, or issue a fresh secret when the device survives from a previous
# run: secrets are printed once and never stored in clear.
credentials() {  # P/D [extra register flags]
    local name=$1; shift
    local out
    if out=$("$CTL" --json register "$name" "$@" 2>/dev/null); then :
    else out=$("$CTL" --json rotate-secret "$name"); fi
    "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["secret"])' <<<"$out"
}
DEV1_SECRET=$(credentials demo/device1 --tags floor1)
DEV2_SECRET=$(credentials demo/device2)
ADMIN_SECRET=$(credentials iothub/server --superuser)

# ---- 4. the broker ---------------------------------------------------------
# The HTTP API's key, as the IotHub server's EMQX_APP_ID:EMQX_APP_SECRET.
API_KEY="iothub-server:$("$PY" -c 'import secrets; print(secrets.token_urlsafe(18))')"
CONF="$RUN/mosquitto.conf"
{
    echo "# Written by tools/run.sh; see mosquitto.conf.example for every option."
    echo "listener $MQTT_PORT 127.0.0.1"
    echo "allow_anonymous false"
    echo "persistence false"
    echo "log_dest stdout"
    echo "log_type error"
    echo "log_type warning"
    echo "log_type notice"
    echo "log_type information"
    [ "$(id -u)" = 0 ] && echo "user root"
    echo "plugin $ROOT/build/mosquitto_iothub.so"
    echo "plugin_opt_mongo_uri $MONGO_URI"
    echo "plugin_opt_amqp_uri $AMQP_URI"
    echo "plugin_opt_spool_dir $RUN/spool"
    echo "plugin_opt_autosub_tags true"
    echo "plugin_opt_stats_file $RUN/stats.json"
    echo "plugin_opt_stats_interval 10s"
    echo "plugin_opt_http_api_listen 127.0.0.1:$API_PORT"
    echo "plugin_opt_http_api_key $API_KEY"
} >"$CONF"

mosquitto -c "$CONF" &
BROKER=$!
PIDS+=("$BROKER")
wait_port 127.0.0.1 "$MQTT_PORT" 20 mosquitto
wait_port 127.0.0.1 "$API_PORT" 20 "the HTTP API"

P=$MQTT_PORT
cat <<EOF

================================================================================
 mosquitto-iothub is running on 127.0.0.1:$P   (Ctrl-C stops everything)
================================================================================
Demo devices (secrets are shown once; a new run issues new ones):
  demo/device1   $DEV1_SECRET   (tag: floor1)
  demo/device2   $DEV2_SECRET
  iothub/server  $ADMIN_SECRET   (superuser: the platform's own service client)

In another terminal:

1. Authentication: the device connects with its secret; a wrong one is refused.
   mosquitto_pub -p $P -u demo/device1 -P '$DEV1_SECRET' -t upload_data/demo/device1/temperature/m1 -m '{"t":21.5}' -q 1
   mosquitto_pub -p $P -u demo/device1 -P wrong -t upload_data/demo/device1/temperature/m2 -m x
       -> Connection Refused: not authorised.

2. ACL: a device may not publish on another device's topics (MQTT 5 shows the reason).
   mosquitto_pub -p $P -V mqttv5 -u demo/device1 -P '$DEV1_SECRET' -t upload_data/demo/device2/temperature/m3 -m x -q 1
       -> Warning: Publish 1 failed: Not authorized.

3. Auto-subscription: device1 subscribes only to a topic of its own choosing, yet
   receives its commands, RPCs, peer messages and tag commands.
   mosquitto_sub -p $P -u demo/device1 -P '$DEV1_SECRET' -i device1 -c -q 1 -v -t 'tags/demo/+/cmd/+/+/+/#'
   then:
   mosquitto_pub -p $P -u iothub/server -P '$ADMIN_SECRET' -t cmd/demo/device1/reboot/plain/req1 -m now -q 1
   mosquitto_pub -p $P -u demo/device2 -P '$DEV2_SECRET' -t m2m/demo/device1/device2/msg1 -m hello -q 1
   mosquitto_pub -p $P -u iothub/server -P '$ADMIN_SECRET' -t tags/demo/floor1/cmd/lights/plain/req2 -m off -q 1

4. Events: connects, disconnects and uplink publishes wait in durable RabbitMQ
   queues; the viewer prints them decoded (and consumes them).
   $ROOT/tools/rabbitmq_node.sh ctl $RUN/rabbitmq list_queues name messages
   /usr/bin/python3 $ROOT/tools/iothub_events.py --amqp $AMQP_URI

5. Administration: suspend the device; its live mosquitto_sub is disconnected
   and cannot reconnect. Resume lets it back in at once (run step 1 again).
   $CTL --config $CONF --broker 127.0.0.1:$P --broker-user iothub/server --broker-pass '$ADMIN_SECRET' suspend demo/device1
   $CTL --config $CONF --broker 127.0.0.1:$P --broker-user iothub/server --broker-pass '$ADMIN_SECRET' resume demo/device1
   $CTL --config $CONF list

6. HTTP management API, as the IotHub server uses it (EMQX_API_URL=http://127.0.0.1:$API_PORT/api/v3/):
   start the mosquitto_sub of step 3 again; this command reaches it through its
   auto-subscription, then iothubctl kicks it (it reconnects by itself).
   curl -sS -u '$API_KEY' -H 'Content-Type: application/json' -d '{"topic":"cmd/demo/device1/reboot/plain/req3","payload":"api","qos":1}' http://127.0.0.1:$API_PORT/api/v3//mqtt/publish
       -> {"code":0}
   $CTL --api http://127.0.0.1:$API_PORT --api-key '$API_KEY' kick device1
   Also: GET /api/v4/clients/device1, GET /api/v4/stats, GET /metrics (README "HTTP management API").

Counters: $RUN/stats.json (every 10 s)   Spool: $RUN/spool
================================================================================

EOF

wait "$BROKER"
