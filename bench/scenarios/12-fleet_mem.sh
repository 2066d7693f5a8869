# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# The plugin's memory per connected device at 10,000 and 100,000 devices,
# measured in-process (bench/fleet_mem.sh): the whole plugin against the
# real registry (the Mongo stand-in) with the broker played by the unit
# tests' stubs, so that no socket is needed per device. This is how the
# 100,000-device figure is read where the fd hard limit (20,000 on the
# machine of the committed report) keeps a real broker from holding that
# many connections. The heap figure counts malloc's headers and rounding;
# at 10,000 devices it can be checked against the rss scenario's "above the
# bare broker's".
SCENARIO_ID=fleet_mem
SCENARIO_KIND=standalone
SCENARIO_TITLE="Plugin memory per connected device, in-process (no sockets)"
metric_def heap_10k "plugin heap per device, 10,000 devices" "bytes" lower
metric_def heap_100k "plugin heap per device, 100,000 devices" "bytes" lower

scenario_run() {
	local sizes="10000 100000" cfg n v
	[ "$QUICK" = 1 ] && sizes="2000"
	(cd "$BENCH_ROOT" && bench/fleet_mem.sh $sizes) >"$RAW.txt" 2>&1 || { cat "$RAW.txt" >&2; return 0; }
	while read -r cfg _ n _ v _; do
		case $cfg in plugin | autosub) ;; *) continue ;; esac
		case $n in 10000) CONFIG=$cfg metric heap_10k "$v" ;; 100000) CONFIG=$cfg metric heap_100k "$v" ;; esac
	done <"$RAW.txt"
}
