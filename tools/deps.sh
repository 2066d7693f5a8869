#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Install the Debian 12 packages needed to build, test and benchmark
# mosquitto-iothub.  Idempotent: when everything is present it only runs
# dpkg-query and exits.
#
#   tools/deps.sh           install what is missing (apt-get, sudo if not root)
#   tools/deps.sh --check   only report what is missing (exit 1 if anything is)
#
# About rabbitmq-server and mosquitto: their postinst scripts may try to
# start system services (systemd or init scripts).  In containers without
# an init system that is a no-op; we additionally install with a
# policy-rc.d that forbids service starts.  Even if a system broker, RabbitMQ
# or epmd were running, the tests would not care: every test service
# (tools/rabbitmq_node.sh, tools/mongo_standin.py, the test brokers) runs on
# its own free loopback port with its own epmd, never on 1883/5672/4369/27017.
set -eu

PACKAGES=(
    build-essential pkg-config
    mosquitto mosquitto-dev libmosquitto-dev mosquitto-clients
    librabbitmq-dev libmongoc-dev libbson-dev libssl-dev
    libmicrohttpd-dev libjwt-dev haproxy curl libcurl4-openssl-dev
    check valgrind gdb clang libclang-rt-14-dev gnuplot-nox
    rabbitmq-server
    python3-mockupdb python3-mongomock python3-pymongo
    python3-bson-ext    # the C BSON codec: the stand-in encodes a 10,000-record preload in tens of ms, not 1 s
    python3-paho-mqtt python3-pika python3-pytest python3-cryptography
    redis-server    # only tools/iothub_server_trial.sh: the IotHub server's RPC path uses Redis
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ "${1:-}" = "--check" ]; then
    if [ ${#missing[@]} -eq 0 ]; then
        echo "deps: all ${#PACKAGES[@]} packages installed"
        exit 0
    fi
    echo "deps: missing: ${missing[*]}"
    exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PACKAGES[@]} packages installed"
    exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || { echo "deps: need root or sudo" >&2; exit 1; }
    SUDO=sudo
fi

echo "deps: installing: ${missing[*]}"
# Forbid invoke-rc.d from starting services during this install (exit 101
# is "action forbidden"); restore whatever policy was there before.
policy=/usr/sbin/policy-rc.d
saved=
if [ -e "$policy" ]; then
    saved=$(mktemp)
    $SUDO cp -p "$policy" "$saved"
fi
restore_policy() {
    if [ -n "$saved" ]; then
        $SUDO cp -p "$saved" "$policy"
        rm -f "$saved"
    else
        $SUDO rm -f "$policy"
    fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" > /dev/null
$SUDO chmod 755 "$policy"

$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "deps: done"
