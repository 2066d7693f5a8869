# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Instructions per message in the broker process (callgrind), per
# configuration: the repeatable counterpart of the timed scenarios. Each
# configuration's broker runs under callgrind for a few short lives, with a
# small and a large amount of the same work; the difference divided by the
# extra work is what one connect, message or delivery costs, start-up and
# connects of the clients cancelling out. Instruction counts do not depend
# on the machine's load, so all configurations run at once.
#
# User space only: the kernel's share (TCP, epoll; about 80 % of the
# broker's CPU in perf, the same syscalls per message in every
# configuration) is not counted, so these ratios magnify every
# configuration's own cost. "plugin" is the inclusive cost of
# mosquitto-iothub's callbacks and threads (dynamic security's callbacks
# for dynsec).
SCENARIO_ID=instr
SCENARIO_KIND=standalone
SCENARIO_TITLE="Instructions per operation in the broker (callgrind, user space)"
metric_def cold_connect "cold connect" "instr" lower
metric_def warm_connect "warm connect + disconnect" "instr" lower
metric_def jwt_connect "JWT connect + disconnect (the server's HS256 token)" "instr" lower
metric_def uplink "uplink message, QoS 1" "instr" lower
metric_def uplink_plugin "  of which the plugin / dynsec" "instr" lower
metric_def fanout "fan-out delivery, QoS 1" "instr" lower
metric_def fanout_plugin "  of which the plugin / dynsec" "instr" lower

# One life of the broker of $cfg under callgrind: start, one loadgen run
# (or none), stop. Prints "total plugin dynsec".
_instr_life() {
	local cfg=$1 name=$2
	shift 2
	local out=$WORK/instr/$cfg.$name.cg rc=0 f
	rm -f "$out" "$out".*
	# One file per process (%p): the plugin's registry worker process
	# (registry/helper.h) is a fork of the broker, under callgrind too.
	BROKER_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$out.%p"
	# 50 times slower: a 1 s registry timeout would read as an outage.
	PLUGIN_EXTRA_CONF="plugin_opt_mongo_timeout 20000ms
plugin_opt_jwt_secret $INSTR_JWT_SECRET"
	launch_broker "$cfg" || return 1
	await_broker "$cfg" || return 1
	if [ $# -gt 0 ]; then
		"$LG" --port "${B_PORT[$cfg]}" --json --quiet --connect-timeout 60 "$@" >"$WORK/instr/$cfg.$name.json" || rc=$?
	fi
	# Under valgrind the plugin's shutdown (threads, libmongoc) is slow:
	# give it time, or callgrind never writes its file.
	stop_pid "${B_PID[$cfg]}" 120
	# Its child exits with it; give callgrind a moment to write the file.
	sleep 0.5
	[ -s "$out.${B_PID[$cfg]}" ] && mv "$out.${B_PID[$cfg]}" "$out"
	unset "B_PID[$cfg]"
	if [ $rc != 0 ] || [ ! -s "$out" ]; then
		echo "bench: instr $cfg $name: loadgen exit $rc, callgrind output $(ls -s "$out" 2>&1)" >&2
		return 1
	fi
	# The broker and its children: the worker's instructions are the plugin's.
	for f in "$out" "$out".*; do
		[ -s "$f" ] || continue
		"$PY" "$BENCH_ROOT/bench/lib/cg_sum.py" "$f"
	done | awk '{t += $2; p += $3; d += $4} END {print t, p, d}'
}

_instr_config() {
	local cfg=$1 z ca cb ua ub fa fb
	local up=(--mode pub --publishers 20 --subscribers 20 --qos 1 --user "$DEV_USER" --pass "$DEV_PASS"
		--sub-user "$SVC_USER" --sub-pass "$SVC_PASS" --topic 'upload_data/%p/%d/temp/%n'
		--sub-topic "upload_data/$PRODUCT/d%i/#")
	local fan=(--mode pub --publishers 1 --subscribers 20 --qos 1 --user "$SVC_USER" --pass "$SVC_PASS"
		--sub-user "$DEV_USER" --sub-pass "$DEV_PASS" --topic "tags/$PRODUCT/floor1/cmd/reboot/plain/%n"
		--sub-topic 'tags/%p/+/cmd/+/+/+/#')
	local conn=(--mode conn --clients 200 --conn-window 16 --user "$DEV_USER" --pass "$DEV_PASS")
	# The IotHub server's internal clients: one token (iothubctl token), any
	# username without '/'. Plugin configurations only.
	local jwt=(--mode conn --clients 200 --conn-window 16 --user 'svc%i' --pass "$INSTR_JWT_TOKEN")
	local ja="" jb=""
	z=$(_instr_life "$cfg" z) || return
	ca=$(_instr_life "$cfg" ca "${conn[@]}") || return
	cb=$(_instr_life "$cfg" cb "${conn[@]}" --repeat 3 --round-pause 0.2) || return
	ua=$(_instr_life "$cfg" ua "${up[@]}" --count 50) || return
	ub=$(_instr_life "$cfg" ub "${up[@]}" --count 250) || return
	fa=$(_instr_life "$cfg" fa "${fan[@]}" --count 50) || return
	fb=$(_instr_life "$cfg" fb "${fan[@]}" --count 250) || return
	case $cfg in bare* | dynsec) ;; *)
		ja=$(_instr_life "$cfg" ja "${jwt[@]}") || return
		jb=$(_instr_life "$cfg" jb "${jwt[@]}" --repeat 3 --round-pause 0.2) || return
		;;
	esac
	echo "$cfg|$z|$ca|$cb|$ua|$ub|$fa|$fb|$ja|$jb" >"$WORK/instr/$cfg.result"
}

scenario_run() {
	local cfg pids=() line
	command -v valgrind >/dev/null || { echo "bench: valgrind missing: no instruction counts" >&2; return 0; }
	mkdir -p "$WORK/instr"
	INSTR_JWT_SECRET=bench-jwt-$$
	printf '%s\n' "$INSTR_JWT_SECRET" >"$WORK/instr/jwt.secret"
	INSTR_JWT_TOKEN=$("$BENCH_ROOT/build/iothubctl" token --secret-file "$WORK/instr/jwt.secret" --ttl 2h svc) || return 0
	# A small dynamic-security file: its checks do not depend on the number
	# of clients (hash lookups), and 10,000 take minutes to load under valgrind.
	DYNSEC_JSON=$WORK/instr/dynamic-security.json
	"$PY" "$BENCH_ROOT/bench/lib/fleet.py" dynsec "$DYNSEC_JSON" --devices 200 || return 0
	for cfg in ${CONFIGS//bare2/}; do
		_instr_config "$cfg" >"$WORK/instr/$cfg.log" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	for cfg in ${CONFIGS//bare2/}; do
		cp "$WORK/instr/$cfg.log" "$RAW.$cfg.log" 2>/dev/null
		[ -s "$RAW.$cfg.log" ] || rm -f "$RAW.$cfg.log"
		if [ ! -f "$WORK/instr/$cfg.result" ]; then
			echo "bench: instr $cfg failed, see $RAW.$cfg.log" >&2
			echo "1	instr	$cfg	callgrind run failed" >>"$BENCH_OUT/failures.tsv"
			continue
		fi
		cp "$WORK/instr/$cfg.result" "$RAW.$cfg.txt"
		IFS='|' read -r _ z ca cb ua ub fa fb ja jb <"$WORK/instr/$cfg.result"
		line=$(echo "$z|$ca|$cb|$ua|$ub|$fa|$fb" | awk -F'|' '{
			split($1, z, " "); split($2, ca, " "); split($3, cb, " "); split($4, ua, " ")
			split($5, ub, " "); split($6, fa, " "); split($7, fb, " ")
			printf "%.0f %.0f %.0f %.0f %.0f %.0f",
				(ca[1] - z[1]) / 200, (cb[1] - ca[1]) / 400,
				(ub[1] - ua[1]) / 4000, (ub[2] + ub[3] - ua[2] - ua[3]) / 4000,
				(fb[1] - fa[1]) / 4000, (fb[2] + fb[3] - fa[2] - fa[3]) / 4000 }')
		read -r c_cold c_warm c_up c_upp c_fan c_fanp <<<"$line"
		CONFIG=$cfg
		metric cold_connect "$c_cold"
		metric warm_connect "$c_warm"
		if [ -n "$jb" ]; then
			metric jwt_connect "$(echo "$ja|$jb" | awk -F'|' '{split($1, a, " "); split($2, b, " "); printf "%.0f", (b[1] - a[1]) / 400}')"
		fi
		metric uplink "$c_up"
		metric uplink_plugin "$c_upp"
		metric fanout "$c_fan"
		metric fanout_plugin "$c_fanp"
	done
}
