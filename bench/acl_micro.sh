#!/bin/sh
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Callgrind micro-benchmark of the ACL hot path and the auto-subscription
# index: builds bench/acl_micro.c at -O2 against the module sources and the
# broker stubs, runs it under callgrind, and prints instructions per
# operation (dump total / iterations).
#
#   bench/acl_micro.sh            # table on stdout
#   KEEP=1 bench/acl_micro.sh     # keep the callgrind dumps in bench/out/acl_micro
set -eu

cd "$(dirname "$0")/.."
CC=${CC:-cc}
OUT=bench/build/acl_micro
DUMPS=bench/out/acl_micro
mkdir -p "$(dirname "$OUT")" "$DUMPS"
rm -f "$DUMPS"/callgrind.out.*

command -v valgrind >/dev/null || { echo "acl_micro: valgrind not installed (apt-get install valgrind)" >&2; exit 1; }

# shellcheck disable=SC2046
$CC -std=gnu11 -O2 -g -D_GNU_SOURCE -I. $(pkg-config --cflags libmongoc-1.0) \
	-Wall -Wextra -Werror \
	-o "$OUT" bench/acl_micro.c acl/*.c core/keyhash.c core/strmap.c autosub/autosub_template.c autosub/autosub_index.c autosub/autosub_prefix.c autosub/autosub_shape.c autosub/autosub_track.c \
	core/config.c core/acl_lists.c test/stubs/broker_stubs.c -lmosquitto

valgrind --tool=callgrind --collect-atstart=no \
	--callgrind-out-file="$DUMPS/callgrind.out.%p" \
	"$OUT" > "$DUMPS/stdout.txt" 2> "$DUMPS/valgrind.txt" || {
	cat "$DUMPS/valgrind.txt" >&2
	exit 1
}

printf '%-22s %12s %10s\n' "operation" "instr/op" "iterations"
for f in "$DUMPS"/callgrind.out.*; do
	name=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
	[ -n "$name" ] || continue
	total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p;s/^summary: *\([0-9]*\).*/\1/p' "$f" | head -n 1)
	iter=$(awk -v n="$name" '$1 == "op" && $2 == n {print $3}' "$DUMPS/stdout.txt")
	[ -n "$iter" ] || continue
	awk -v n="$name" -v t="$total" -v i="$iter" 'BEGIN { printf "%-22s %12.1f %10d\n", n, t / i, i }'
done | sort -t' ' -k1,1 -s
echo
echo "memory (bytes, without malloc overhead):"
awk '$1 == "mem" { printf "  %-40s %s\n", $2, $3 }' "$DUMPS/stdout.txt"
[ -n "${KEEP:-}" ] || rm -f "$DUMPS"/callgrind.out.*
