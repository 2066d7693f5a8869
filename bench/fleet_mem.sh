#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# The plugin's memory per connected device at 10,000 and 100,000 devices,
# without a socket per device (bench/fleet_mem.c says how). Starts its own
# Mongo stand-in (or uses MONGO_URI), loads the fleet, and runs the two
# plugin configurations of the benchmark: auth+ACL ("plugin") and the
# defaults ("autosub"). Run from the repository root after `make`.
#
#   bench/fleet_mem.sh [N...]      (default: 10000 100000)
#
# Prints one line per configuration and size:
#   <config> devices N heap_per_dev B rss_per_dev B refused 0
set -euo pipefail
BUILD=${BUILD:-build}
PY=/usr/bin/python3
OUT=$BUILD/bench
SIZES=${*:-10000 100000}
mkdir -p "$OUT"
make -s "$BUILD/obj/test/stubs/broker_stubs.o" >/dev/null
PKGS="libmongoc-1.0 librabbitmq openssl libmicrohttpd"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -I. -D_GNU_SOURCE $(pkg-config --cflags $PKGS) -o "$OUT/fleet_mem" bench/fleet_mem.c \
	$(ls "$BUILD"/obj/*/*.o | grep -v "/obj/tools/") "$BUILD/obj/test/stubs/broker_stubs.o" \
	$(pkg-config --libs $PKGS) -lmosquitto -lpthread

WORK=$(mktemp -d /tmp/fleet-mem-XXXXXX)
STANDIN=
cleanup() {
	[ -n "$STANDIN" ] && kill "$STANDIN" 2>/dev/null && wait "$STANDIN" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
max=0
for n in $SIZES; do [ "$n" -gt "$max" ] && max=$n; done
if [ -z "${MONGO_URI:-}" ]; then
	"$PY" tools/mongo_standin.py --port 0 >"$WORK/standin.out" 2>"$WORK/standin.err" &
	STANDIN=$!
	for _ in $(seq 100); do grep -q listening "$WORK/standin.out" 2>/dev/null && break; sleep 0.1; done
	MONGO_URI="mongodb://127.0.0.1:$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$WORK/standin.out")"
fi
DB=iothub_fleet_mem
"$PY" bench/lib/fleet.py registry "$MONGO_URI" "$DB" --devices "$max"

common=("mongo_uri=$MONGO_URI" "mongo_db=$DB" "stats_interval=0" "spool_dir=$WORK/spool")
# The same options as bench/lib/configs.sh gives the two configurations.
plugin=("autosub=none" "acl_subscribe=tags/%p/+/cmd/+/+/+/#" "acl_subscribe=cmd/%u/+/+/+/#"
	"acl_subscribe=rpc/%u/+/+/+/#" "acl_subscribe=m2m/%u/+/+")
for n in $SIZES; do
	echo "plugin $("$OUT/fleet_mem" "$n" 'bench/d%d' 'pw%d' "${common[@]}" "${plugin[@]}")"
	echo "autosub $("$OUT/fleet_mem" "$n" 'bench/d%d' 'pw%d' "${common[@]}")"
done
