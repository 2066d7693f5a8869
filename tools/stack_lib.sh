# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Sourced by tools/run.sh and tools/iothub_server_trial.sh: the pieces both
# need to run a local stack. The caller sets ROOT (the repository) and keeps
# the pid of every process it starts in the array PIDS.

# Stop every process in PIDS, newest first (the broker goes while its
# registry is still there), then the private RabbitMQ node in DIR.
stack_stop() {  # DIR
    set +e
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill "${PIDS[i]}" 2>/dev/null
        wait "${PIDS[i]}" 2>/dev/null
    done
    "$ROOT/tools/rabbitmq_node.sh" stop "$1" >/dev/null 2>&1
}

# Wait until HOST:PORT accepts a TCP connection; after SECONDS, say that WHAT
# did not start and exit.
wait_port() {  # HOST PORT SECONDS WHAT
    local _
    for _ in $(seq 1 $(($3 * 10))); do
        if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    printf 'iothub: %s did not start on %s:%s\n' "$4" "$1" "$2" >&2
    exit 1
}
