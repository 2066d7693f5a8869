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
#   CLUSTER            number of broker nodes (default 1); with 2 or more
#                      (`make run CLUSTER=3`) the nodes listen on
#                      IOTHUB_MQTT_PORT+1.. with `cluster true`, and HAProxy
#                      (tools/haproxy.cfg) on IOTHUB_MQTT_PORT balances them
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${IOTHUB_RUN_DIR:-$ROOT/run}
MQTT_PORT=${IOTHUB_MQTT_PORT:-11883}
AMQP_PORT=${IOTHUB_AMQP_PORT:-15673}
MONGO_PORT=${IOTHUB_MONGO_PORT:-17017}
CLUSTER=${CLUSTER:-1}
API_PORT=${IOTHUB_API_PORT:-18081}
PY=/usr/bin/python3
CTL=$ROOT/build/iothubctl
PIDS=()

mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)

say() { printf '%s\n' "$*"; }

# shellcheck source=tools/stack_lib.sh
. "$ROOT/tools/stack_lib.sh"

cleanup() {
    stack_stop "$RUN/rabbitmq"
    say "iothub: stopped."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# ---- 4. the broker(s) -----------------------------------------------------
# The HTTP API's key, as the IotHub server's EMQX_APP_ID:EMQX_APP_SECRET.
API_KEY="iothub-server:$("$PY" -c 'import secrets; print(secrets.token_urlsafe(18))')"
# The JWT secret (the IotHub server's JWT_SECRET), fresh for each run; the
# file is what `iothubctl token --secret-file` reads.
JWT_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf '%s\n' "$JWT_SECRET" >"$RUN/jwt.secret")

write_conf() {  # conf port node [extra lines...]
    local conf=$1 port=$2 node=$3; shift 3
    {
        echo "# Written by tools/run.sh; see mosquitto.conf.example for every option."
        echo "listener $port 127.0.0.1"
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
        echo "plugin_opt_node_name $node"
        echo "plugin_opt_spool_dir $RUN/spool-$node"
        echo "plugin_opt_autosub_tags true"
        echo "plugin_opt_stats_file $RUN/stats-$node.json"
        echo "plugin_opt_stats_interval 10s"
        echo "plugin_opt_jwt_secret $JWT_SECRET"
        echo "plugin_opt_jwt_acl_pubsub svc/%u/#"
        local line
        for line in "$@"; do echo "$line"; done
    } >"$conf"
}

if [ "$CLUSTER" -gt 1 ]; then
    command -v haproxy >/dev/null || { say "iothub: CLUSTER=$CLUSTER needs haproxy (tools/deps.sh)"; exit 1; }
    SERVERS=""
    for i in $(seq 1 "$CLUSTER"); do
        port=$((MQTT_PORT + i))
        write_conf "$RUN/mosquitto-node$i.conf" "$port" "node$i" "plugin_opt_cluster true"
        mosquitto -c "$RUN/mosquitto-node$i.conf" >"$RUN/node$i.log" 2>&1 &
        PIDS+=($!)
        wait_port 127.0.0.1 "$port" 20 "mosquitto node$i"
        SERVERS+="    server node$i 127.0.0.1:$port check inter 1s fall 2 rise 2"$'\n'
    done
    CONF="$RUN/mosquitto-node1.conf"
    # tools/haproxy.cfg with our listener and one server line per node.
    sed -e "s/bind 127.0.0.1:1883/bind 127.0.0.1:$MQTT_PORT/" -e '/^    server /d' \
        "$ROOT/tools/haproxy.cfg" >"$RUN/haproxy.cfg"
    printf '%s' "$SERVERS" >>"$RUN/haproxy.cfg"
    haproxy -db -f "$RUN/haproxy.cfg" >"$RUN/haproxy.log" 2>&1 &
    BROKER=$!
    PIDS+=("$BROKER")
    wait_port 127.0.0.1 "$MQTT_PORT" 10 haproxy
else
    CONF="$RUN/mosquitto.conf"
    write_conf "$CONF" "$MQTT_PORT" "$(hostname)" \
        "plugin_opt_http_api_listen 127.0.0.1:$API_PORT" "plugin_opt_http_api_key $API_KEY"
    mosquitto -c "$CONF" &
    BROKER=$!
    PIDS+=("$BROKER")
    wait_port 127.0.0.1 "$MQTT_PORT" 20 mosquitto
    wait_port 127.0.0.1 "$API_PORT" 20 "the HTTP API"
fi

devices_banner() {
    cat <<EOF
Demo devices (secrets are shown once; a new run issues new ones):
  demo/device1   $DEV1_SECRET   (tag: floor1)
  demo/device2   $DEV2_SECRET
  iothub/server  $ADMIN_SECRET   (superuser: the platform's own service client)
EOF
}

if [ "$CLUSTER" -gt 1 ]; then
    P1=$((MQTT_PORT + 1)); P2=$((MQTT_PORT + 2)); PN=$((MQTT_PORT + CLUSTER))
    cat <<EOF

================================================================================
 mosquitto-iothub cluster: $CLUSTER nodes on 127.0.0.1:$P1..$PN, HAProxy on 127.0.0.1:$MQTT_PORT,
 RabbitMQ on 127.0.0.1:$AMQP_PORT routing between them   (Ctrl-C stops everything)
================================================================================
$(devices_banner)

In another terminal:

1. A command crossing nodes: device1 is on node1, the platform publishes on node$CLUSTER.
   mosquitto_sub -p $P1 -u demo/device1 -P '$DEV1_SECRET' -i device1 -c -q 1 -v -t 'tags/demo/+/cmd/+/+/+/#'
   then:
   mosquitto_pub -p $PN -u iothub/server -P '$ADMIN_SECRET' -t cmd/demo/device1/reboot/plain/req1 -m now -q 1
   mosquitto_pub -p $PN -u iothub/server -P '$ADMIN_SECRET' -t tags/demo/floor1/cmd/lights/plain/req2 -m off -q 1
       -> device1 prints both; node$CLUSTER published each once to RabbitMQ ("routed_out"):
   grep -o '"routed_out" : [0-9]*' $RUN/stats-node$CLUSTER.json      (written every 10 s)
   The bindings node1 holds for device1:
   $ROOT/tools/rabbitmq_node.sh ctl $RUN/rabbitmq list_bindings destination_name routing_key | grep node1

2. Through HAProxy (balanced and stuck by client id), a command from node1:
   mosquitto_sub -p $MQTT_PORT -u demo/device2 -P '$DEV2_SECRET' -i device2 -c -q 1 -v -t 'tags/demo/+/cmd/+/+/+/#'
   mosquitto_pub -p $P1 -u iothub/server -P '$ADMIN_SECRET' -t cmd/demo/device2/ping/plain/req3 -m hi -q 1

3. Takeover: the same client id on node2 disconnects the one on node1 (event reason takeover):
   mosquitto_sub -p $P2 -u demo/device1 -P '$DEV1_SECRET' -i device1 -c -q 1 -v -t 'tags/demo/+/cmd/+/+/+/#'
   /usr/bin/python3 $ROOT/tools/iothub_events.py --amqp $AMQP_URI

4. Fleet-wide administration, sent to node1, applies wherever device2 is:
   $CTL --config $CONF --broker 127.0.0.1:$P1 --broker-user iothub/server --broker-pass '$ADMIN_SECRET' suspend demo/device2
   $CTL --config $CONF --broker 127.0.0.1:$P1 --broker-user iothub/server --broker-pass '$ADMIN_SECRET' resume demo/device2

Logs: $RUN/node*.log, $RUN/haproxy.log   Counters: $RUN/stats-node*.json (every 10 s)
================================================================================

EOF
    wait "$BROKER"
    exit 0
fi

P=$MQTT_PORT
cat <<EOF

================================================================================
 mosquitto-iothub is running on 127.0.0.1:$P   (Ctrl-C stops everything)
================================================================================
$(devices_banner)

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

6. JWT clients (the IotHub server's internal clients): mint a token with
   iothubctl and use it as the password, with a username without '/'; the
   token's client may use svc/<username>/# (plugin_opt_jwt_acl_pubsub).
   mosquitto_sub -p $P -u svc1 -P "\$($CTL token --secret-file $RUN/jwt.secret --ttl 1h svc1)" -t 'svc/svc1/#' -v
   mosquitto_pub -p $P -u svc1 -P "\$($CTL token --secret-file $RUN/jwt.secret svc1)" -t svc/svc1/hello -m hi -q 1

7. HTTP management API, as the IotHub server uses it (EMQX_API_URL=http://127.0.0.1:$API_PORT/api/v3/):
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
