#!/bin/sh
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Build bench/auth_micro.c against the plugin objects and print ns/call and,
# when valgrind is installed, instructions/call (callgrind, collecting only
# inside each bench_* function). Run from the repository root after `make`.
set -eu
BUILD=${BUILD:-build}
OUT=$BUILD/bench
mkdir -p "$OUT"
make -s "$BUILD/obj/test/stubs/broker_stubs.o" "$BUILD/obj/test/stubs/stub_registry.o" >/dev/null
PKGS="libmongoc-1.0 librabbitmq openssl libmicrohttpd"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -I. -D_GNU_SOURCE $(pkg-config --cflags $PKGS) -o "$OUT/auth_micro" bench/auth_micro.c \
	$(ls "$BUILD"/obj/*/*.o 2>/dev/null | grep -v "/obj/tools/" | grep -v '/plugin/plugin.o$') \
	"$BUILD/obj/test/stubs/broker_stubs.o" "$BUILD/obj/test/stubs/stub_registry.o" $(pkg-config --libs $PKGS) -lmosquitto -lpthread

"$OUT/auth_micro" 20000

if command -v valgrind >/dev/null 2>&1; then
	CALLS=200
	for fn in warm digest pbkdf2 clear cold jwt; do
		n=$CALLS
		# the program runs n/10 PBKDF2 and cold calls
		case $fn in pbkdf2 | cold) n=$((CALLS * 10)) ;; esac
		valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$fn" \
			--toggle-collect="bench_$fn" "$OUT/auth_micro" "$n" "$fn" >/dev/null 2>&1
		ir=$(callgrind_annotate "$OUT/callgrind.$fn" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
		echo "$fn: $((ir / CALLS)) instructions/call (callgrind, $CALLS calls)"
	done
fi
