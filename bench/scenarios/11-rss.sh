# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Memory per device: 10,000 devices connect (closed loop, 32 in flight) and
# stay connected; the broker's RSS is read before and while they are all
# online, each time after malloc_trim (heap_trim, lib/common.sh), so that
# memory freed at start-up (dynamic security's JSON) does not hide the
# devices' cost. Reported per device, and as the configuration's share above
# the bare broker (what the plugin, or dynamic security, adds per device).
#
# RSS_DEVICES=N overrides the fleet size (the registry holds 10,000
# devices; more than that needs a bigger fleet and the fd limit raised).
SCENARIO_ID=rss
SCENARIO_TITLE="Memory per connected device, 10,000 devices"
SCENARIO_FRESH=1
SCENARIO_ROUNDS=1
metric_def rss_per_dev "broker RSS per connected device" "bytes" lower
metric_def share_per_dev "  above the bare broker's" "bytes" lower

scenario_run() {
	local n=${RSS_DEVICES:-10000} rss0 rss1 per cfg
	[ "$QUICK" = 1 ] && n=2000
	heap_trim
	rss0=$(rss_kb)
	rss1=$(held_rss "$RAW.json" --mode conn --clients "$n" --conn-window 32 --hold 5 --connect-timeout 60 \
		--user "$DEV_USER" --pass "$DEV_PASS")
	lg_ok "$RAW.json" || return 0
	[ -n "$rss1" ] || return 0
	per=$(((rss1 - rss0) * 1024 / n))
	metric rss_per_dev "$per"
	# The share needs bare's figure; whichever of the two runs last records it.
	echo "$per" >"$WORK/rss_per_dev.$CONFIG"
	if [ "$CONFIG" = bare ]; then
		for f in "$WORK"/rss_per_dev.*; do
			cfg=${f##*.}
			[ "$cfg" = bare ] && continue
			CONFIG=$cfg metric share_per_dev $(($(cat "$f") - per))
		done
		CONFIG=bare metric share_per_dev 0
	elif [ -f "$WORK/rss_per_dev.bare" ]; then
		metric share_per_dev $((per - $(cat "$WORK/rss_per_dev.bare")))
	fi
}
