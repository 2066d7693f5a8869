#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Private RabbitMQ node for development and tests (no systemd, no root
# switch, nothing shared with a system RabbitMQ).
#
#   tools/rabbitmq_node.sh start  DIR PORT   start (or restart) the node, wait until ready
#   tools/rabbitmq_node.sh stop   DIR        stop the node and its private epmd
#   tools/rabbitmq_node.sh kill   DIR        SIGKILL everything (crash simulation)
#   tools/rabbitmq_node.sh status DIR        exit 0 if the node answers
#   tools/rabbitmq_node.sh env    DIR        print the environment (sh syntax)
#   tools/rabbitmq_node.sh ctl    DIR ARGS…  rabbitmqctl -n NODE ARGS… with that env
#   tools/rabbitmq_node.sh join   DIR PORT PEERDIR
#                                            start a node in DIR and cluster it with
#                                            the running node of PEERDIR
#
# Everything lives in DIR: config, Mnesia (queues and messages), logs, the
# Erlang cookie (HOME) and the chosen ports (DIR/node.env).  The node name
# is derived from DIR, so nodes in different directories never clash.
#
# Ports: PORT is the AMQP listener on 127.0.0.1.  The Erlang distribution
# port and a private epmd port are picked once, on the first start, and
# remembered in DIR/node.env; we start our own epmd on that port (loopback
# only) so a system epmd on 4369 is never touched.
#
# Restart semantics: "stop" then "start" with the same DIR and PORT brings
# back the same node (same name, same Mnesia directory): durable queues and
# the persistent messages in them survive, as with a real server restart.
# Transient queues and non-persistent messages do not.  "kill" simulates a
# crash; persistent messages that RabbitMQ had confirmed survive it too.
#
# Fault injection for tests, e.g.:
#   tools/rabbitmq_node.sh ctl DIR set_vm_memory_high_watermark 0   # publishers blocked
#   tools/rabbitmq_node.sh ctl DIR set_vm_memory_high_watermark 0.4 # unblocked
#   tools/rabbitmq_node.sh ctl DIR stop_app / start_app
#   tools/rabbitmq_node.sh ctl DIR list_queues name messages durable
set -u
set +m  # no job control: "setsid cmd &" must exec, so $! is the node's pid

RABBIT_BIN=/usr/lib/rabbitmq/bin
START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-60}

die() { echo "rabbitmq_node: $*" >&2; exit 1; }

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# A free TCP port on 127.0.0.1 in [lo, hi).  Distribution ports must stay
# low enough that the CLI's own dist range (default 35672-35682) and
# port + 10000 style derivations never overflow.
free_port() {
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import random, socket, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
for _ in range(200):
    port = random.randrange(lo, hi)
    if 35600 <= port <= 35700:      # rabbitmqctl's own distribution range
        continue
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit(1)
EOF
}

# Absolute DIR, created if needed.
abs_dir() {
    mkdir -p "$1" || die "cannot create $1"
    (cd "$1" && pwd -P)
}

# Load (or on first use create) DIR/node.env and export it.
load_env() {
    local dir=$1 port=${2:-}
    local envfile=$dir/node.env
    if [ ! -f "$envfile" ]; then
        [ -n "$port" ] || die "$dir has no node.env; run start first"
        local hash dist epmd
        hash=$(printf '%s' "$dir" | cksum | cut -d' ' -f1)
        dist=$(free_port 20000 30000) || die "no free distribution port"
        # Nodes of one cluster must find each other through one epmd.
        epmd=${JOIN_EPMD_PORT:-$(free_port 30000 32700)} || die "no free epmd port"
        mkdir -p "$dir/mnesia" "$dir/log" "$dir/home"
        echo '[].' > "$dir/enabled_plugins"
        : > "$dir/rabbitmq-env.conf"
        cat > "$envfile" <<EOF
export RABBITMQ_NODENAME=rmq$hash@localhost
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=$dist
export ERL_EPMD_PORT=$epmd
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE=$dir/mnesia
export RABBITMQ_LOG_BASE=$dir/log
export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
export RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
export RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
export HOME=$dir/home
EOF
    fi
    # shellcheck disable=SC1090
    . "$envfile"
    if [ -n "$port" ] && [ "$port" != "$RABBITMQ_NODE_PORT" ]; then
        # Same node, new AMQP port: keep everything else.
        sed -i "s/^export RABBITMQ_NODE_PORT=.*/export RABBITMQ_NODE_PORT=$port/" "$envfile"
        export RABBITMQ_NODE_PORT=$port
    fi
    # The listener is pinned to loopback.  A generous disk_free_limit floor
    # would raise a disk alarm on small CI disks and block publishers;
    # tests that want an alarm raise one explicitly.
    cat > "$dir/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_NODE_PORT
disk_free_limit.absolute = 1MB
log.file.level = info
EOF
    NODE=$RABBITMQ_NODENAME
}

ctl() {
    "$RABBIT_BIN/rabbitmqctl" -n "$NODE" "$@"
}

# True if the pid in file $1 runs.  The node is orphaned once this script
# exits, and a container's PID 1 may never reap it: a zombie counts as gone.
pid_alive() {
    local pid state
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    kill -0 "$pid" 2>/dev/null || return 1
    state=$(sed 's/^.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}

# Kill a whole process group (the node runs in its own session).
kill_group() {
    local pidfile=$1 sig=$2
    if [ -f "$pidfile" ]; then
        kill "-$sig" -- "-$(cat "$pidfile")" 2>/dev/null
    fi
}

wait_gone() {
    local pidfile=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        pid_alive "$pidfile" || return 0
        sleep 0.1
    done
    return 1
}

start_epmd() {
    local dir=$1 i
    if pid_alive "$dir/epmd.pid"; then
        return 0
    fi
    setsid /usr/bin/epmd -port "$ERL_EPMD_PORT" -address 127.0.0.1 \
        > "$dir/log/epmd.log" 2>&1 < /dev/null &
    echo $! > "$dir/epmd.pid"
    for ((i = 0; i < 50; i++)); do
        /usr/bin/epmd -port "$ERL_EPMD_PORT" -names > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "private epmd on port $ERL_EPMD_PORT did not come up"
}

cmd_start() {
    local dir port deadline
    dir=$(abs_dir "$1")
    port=$2
    load_env "$dir" "$port"
    if pid_alive "$dir/pid" && ctl status > /dev/null 2>&1; then
        echo "rabbitmq_node: $NODE already running on 127.0.0.1:$RABBITMQ_NODE_PORT"
        return 0
    fi
    start_epmd "$dir"
    # setsid: the node gets its own process group, so stop/kill can take
    # down the wrapper script, beam.smp and its helpers in one go.
    setsid "$RABBIT_BIN/rabbitmq-server" \
        > "$dir/log/startup.log" 2>&1 < /dev/null &
    echo $! > "$dir/pid"

    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! pid_alive "$dir/pid"; then
            echo "rabbitmq_node: node $NODE exited during startup" >&2
            tail -n 40 "$dir/log/startup.log" "$dir/log/$NODE.log" 2>/dev/null >&2
            cmd_stop "$dir" > /dev/null 2>&1
            return 1
        fi
        # await_startup fails at once while the node is not yet registered
        # with epmd, so poll it with a short timeout.
        if ctl await_startup --timeout 5 > /dev/null 2>&1; then
            echo "rabbitmq_node: $NODE ready on 127.0.0.1:$RABBITMQ_NODE_PORT"
            return 0
        fi
        sleep 0.2
    done
    echo "rabbitmq_node: $NODE not ready after ${START_TIMEOUT}s" >&2
    tail -n 40 "$dir/log/startup.log" "$dir/log/$NODE.log" 2>/dev/null >&2
    cmd_stop "$dir" > /dev/null 2>&1
    return 1
}

# A second node for a two-node cluster (the peer keeps running): same epmd,
# same Erlang cookie, then join_cluster. Restart it later with `start`.
cmd_join() {
    local dir port peer peer_node peer_epmd
    dir=$(abs_dir "$1")
    port=$2
    peer=$(abs_dir "$3")
    [ -f "$peer/node.env" ] || die "no node in $peer"
    peer_node=$(. "$peer/node.env"; echo "$RABBITMQ_NODENAME")
    peer_epmd=$(. "$peer/node.env"; echo "$ERL_EPMD_PORT")
    [ -f "$peer/home/.erlang.cookie" ] || die "$peer has no Erlang cookie (start it first)"
    JOIN_EPMD_PORT=$peer_epmd load_env "$dir" "$port"
    mkdir -p "$dir/home"
    install -m 400 "$peer/home/.erlang.cookie" "$dir/home/.erlang.cookie"
    cmd_start "$dir" "$port" || return 1
    load_env "$dir"
    ctl stop_app > /dev/null || die "stop_app failed on $NODE"
    ctl join_cluster "$peer_node" > /dev/null || die "$NODE could not join $peer_node"
    ctl start_app > /dev/null || die "start_app failed on $NODE"
    ctl await_startup --timeout 30 > /dev/null || die "$NODE did not come back after joining"
    echo "rabbitmq_node: $NODE joined $peer_node"
}

cmd_stop() {
    local dir
    dir=$(abs_dir "$1")
    [ -f "$dir/node.env" ] || return 0
    load_env "$dir"
    if pid_alive "$dir/pid"; then
        # SIGTERM to the rabbitmq-server wrapper is a graceful stop (it
        # forwards the signal and RabbitMQ's own handler shuts down cleanly,
        # flushing the message stores); about 3 s, against ~5 s for
        # "rabbitmqctl shutdown", which first has to boot the CLI.
        kill -TERM "$(cat "$dir/pid")" 2>/dev/null
        if ! wait_gone "$dir/pid" 30; then
            echo "rabbitmq_node: $NODE ignored SIGTERM for 30 s; killing" >&2
            kill_group "$dir/pid" KILL
            wait_gone "$dir/pid" 5
        fi
        # Nothing of the group may survive the wrapper.
        kill_group "$dir/pid" KILL
    fi
    rm -f "$dir/pid"
    if pid_alive "$dir/epmd.pid"; then
        kill "$(cat "$dir/epmd.pid")" 2>/dev/null
        wait_gone "$dir/epmd.pid" 5 || kill -KILL "$(cat "$dir/epmd.pid")" 2>/dev/null
    fi
    rm -f "$dir/epmd.pid"
    return 0
}

cmd_kill() {
    local dir
    dir=$(abs_dir "$1")
    [ -f "$dir/node.env" ] || return 0
    kill_group "$dir/pid" KILL
    wait_gone "$dir/pid" 5
    rm -f "$dir/pid"
    # epmd stays up, as it would on a real host after a broker crash;
    # "start" reuses it and "stop" removes it.
    return 0
}

cmd_status() {
    local dir
    dir=$(abs_dir "$1")
    [ -f "$dir/node.env" ] || { echo "not configured"; return 1; }
    load_env "$dir"
    if pid_alive "$dir/pid" && ctl status > /dev/null 2>&1; then
        echo "running $NODE 127.0.0.1:$RABBITMQ_NODE_PORT"
        return 0
    fi
    echo "stopped $NODE"
    return 1
}

[ $# -ge 2 ] || usage
action=$1
shift
case $action in
    start)  [ $# -eq 2 ] || usage; cmd_start "$1" "$2" ;;
    join)   [ $# -eq 3 ] || usage; cmd_join "$1" "$2" "$3" ;;
    stop)   cmd_stop "$1" ;;
    kill)   cmd_kill "$1" ;;
    status) cmd_status "$1" ;;
    env)    dir=$(abs_dir "$1"); [ -f "$dir/node.env" ] || die "no node in $dir"
            cat "$dir/node.env" ;;
    ctl)    dir=$(abs_dir "$1"); shift; load_env "$dir"; ctl "$@" ;;
    *)      usage ;;
esac
