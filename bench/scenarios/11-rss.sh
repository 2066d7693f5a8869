# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Memory per device: 10,000 devices connect (closed loop, 32 in flight) and
# stay connected; the broker's RSS is read before and while they are all
# online, each time after malloc_trim (heap_trim, lib/common.sh), so that
# memory freed at start-up (dynamic security's JSON) does not hide the
# devices' cost. Reported per device, and as the configuration's share above
# the bare broker (what the plugin, or dynamic security, adds per device).
#
# A configuration that loads its whole fleet at start-up (dynamic security
# reads its JSON file of 10,001 clients) pays for its devices before any
# connects, so its per-connection figures read about 0; fleet_per_dev
# counts that too: the broker's RSS with every device connected, above the
# bare broker's with the same devices connected, per device.
#
# RSS_DEVICES=N overrides the fleet size (the registry holds 10,000
# devices). 100,000 is out of reach on the machine the committed report
# comes from: its fd hard limit is 20,000 and cannot be raised there.
SCENARIO_ID=rss
SCENARIO_TITLE="Memory per connected device, 10,000 devices"
SCENARIO_FRESH=1
SCENARIO_ROUNDS=1
metric_def rss_per_dev "broker RSS per connected device" "bytes" lower
metric_def share_per_dev "  above the bare broker's" "bytes" lower
metric_def fleet_per_dev "  held for the fleet, above the bare broker's (start-up state included)" "bytes" lower

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
	echo "$per $rss1 $n" >"$WORK/rss_per_dev.$CONFIG"
	if [ "$CONFIG" = bare ]; then
		for f in "$WORK"/rss_per_dev.*; do
			cfg=${f##*.}
			[ "$cfg" = bare ] && continue
			rss_shares "$cfg" "$f" "$per" "$rss1"
		done
		CONFIG=bare metric share_per_dev 0
		CONFIG=bare metric fleet_per_dev 0
	elif [ -f "$WORK/rss_per_dev.bare" ]; then
		read -r bper brss _ <"$WORK/rss_per_dev.bare"
		rss_shares "$CONFIG" "$WORK/rss_per_dev.$CONFIG" "$bper" "$brss"
	fi
}

# rss_shares CONFIG FILE BARE_PER BARE_RSS1: CONFIG's two figures against bare's.
rss_shares() {
	local cper crss cn
	read -r cper crss cn <"$2"
	CONFIG=$1 metric share_per_dev $((cper - $3))
	CONFIG=$1 metric fleet_per_dev $(((crss - $4) * 1024 / cn))
}
