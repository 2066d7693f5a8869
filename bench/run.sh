#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# bench/run.sh - the benchmark suite behind `make bench`.
#
# Every scenario (bench/scenarios/*.sh) runs against every broker
# configuration (bench/lib/configs.sh: bare, dynsec, plugin, autosub,
# events). For each scenario all configurations are started fresh, each on
# its own port, and run side by side; the scenario then visits them in
# rounds (a rotated order each round), so that a busy shared machine
# disturbs all of them alike. The report shows medians over the rounds and
# ratios to the bare broker paired per round.
#
#   bench/run.sh [-r ROUNDS] [-s "SCENARIO..."] [-c "CONFIG..."] [-o DIR]
#                [-P] [-M] [-q]
#     -r N      rounds of every scenario (default: the scenario's
#               SCENARIO_ROUNDS, else 5); the report uses medians
#     -s LIST   scenario ids to run (default: every file in bench/scenarios)
#     -c LIST   configurations (default: bare bare2 barethr dynsec plugin autosub
#               events; bare is always added: it is the ratios' baseline;
#               bare2 is bare again, to show the method's noise)
#     -o DIR    results directory (default bench/results)
#     -P        skip the perf profile pass        -M  skip the callgrind scenarios (micro, instr)
#     -q        quick smoke run: 1 repetition, 2 s phases (not for reports)
#   Environment: PLUGIN_SO (default build/mosquitto_iothub.so), DYNSEC_SO;
#   BENCH_KEEP_WORK=1 keeps the work directory (callgrind files, broker
#   configs and logs) for profiling by hand.
#
# Output: DIR/report.md, report.png, machine.md, SUMMARY.md, ratios.json,
# raw/ (loadgen JSON per run, metrics.tsv, profiles). The previous run's
# ratios.json becomes previous-ratios.json, and the report compares the two
# (repeatability).
set -u
set -o pipefail

BENCH_ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$BENCH_ROOT/bench
PY=/usr/bin/python3
LG=$BENCH/build/loadgen
ROUNDS=5
FORCE_ROUNDS=""
ONLY_SCENARIOS=""
CONFIGS=""
BENCH_OUT=$BENCH/results
PROFILE=1
MICRO=1
QUICK=0

while getopts "r:s:c:o:PMqh" o; do
	case $o in
	r) FORCE_ROUNDS=$OPTARG ;;
	s) ONLY_SCENARIOS=$OPTARG ;;
	c) CONFIGS=$OPTARG ;;
	o) BENCH_OUT=$OPTARG ;;
	P) PROFILE=0 ;;
	M) MICRO=0 ;;
	q) QUICK=1 ;;
	*) sed -n '2,25p' "$0"; exit 1 ;;
	esac
done
export QUICK

# shellcheck source=bench/lib/common.sh
. "$BENCH/lib/common.sh"
# shellcheck source=bench/lib/configs.sh
. "$BENCH/lib/configs.sh"

[ -n "$CONFIGS" ] || CONFIGS=$ALL_CONFIGS
case " $CONFIGS " in *" bare "*) ;; *) CONFIGS="bare $CONFIGS" ;; esac

T_START=$(date +%s)
log() { printf '[%4ds] %s\n' $(($(date +%s) - T_START)) "$*"; }
die() { echo "bench: $*" >&2; exit 1; }

# ---- preflight -------------------------------------------------------------------
PLUGIN_SO=${PLUGIN_SO:-$BENCH_ROOT/build/mosquitto_iothub.so}
DYNSEC_SO=${DYNSEC_SO:-/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so}
command -v mosquitto >/dev/null || die "mosquitto not installed (tools/deps.sh)"
[ -f "$PLUGIN_SO" ] || die "$PLUGIN_SO missing: run make"
[ -f "$DYNSEC_SO" ] || die "$DYNSEC_SO missing (Debian package mosquitto)"
make -s -C "$BENCH" >/dev/null || die "cannot build loadgen"
"$PY" -c 'import pymongo, mockupdb, mongomock' 2>/dev/null || die "python3-pymongo/mockupdb/mongomock missing (tools/deps.sh)"
"$PY" -c 'import bson, sys; sys.exit(not bson.has_c())' 2>/dev/null ||
	echo "bench: python3-bson-ext missing: the Mongo stand-in is several times slower (restart preload figures suffer; tools/deps.sh)" >&2
command -v gnuplot >/dev/null || echo "bench: gnuplot missing: no report.png (apt-get install gnuplot-nox)" >&2
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 10300 ] || die "fd hard limit $hard < 10300: the commands scenario needs 10,000 connections"
[ "$PROFILE" = 1 ] && ! perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1 && {
	echo "bench: perf unusable here: no profile pass (apt-get install linux-perf)" >&2
	PROFILE=0
}

SCENARIO_FILES=()
for f in "$BENCH"/scenarios/*.sh; do
	id=$(sed -n 's/^SCENARIO_ID=\([A-Za-z0-9_]*\).*/\1/p' "$f" | head -1)
	[ -n "$id" ] || die "$f: no SCENARIO_ID= line"
	if [ -z "$ONLY_SCENARIOS" ] || [[ " $ONLY_SCENARIOS " == *" $id "* ]]; then
		SCENARIO_FILES+=("$f")
	fi
done
[ ${#SCENARIO_FILES[@]} -gt 0 ] || die "no scenario selected"

# ---- state and cleanup --------------------------------------------------------------
WORK=$(mktemp -d /tmp/iothub-bench-XXXXXX)
STANDIN_PID=
RABBIT_DIR=
BROKER_PID=
cleanup() {
	set +e
	# Brokers run inside the per-run subshells; their pid files are here.
	for f in "$WORK"/broker-*/pid; do
		[ -f "$f" ] && stop_pid "$(cat "$f")" 5
	done
	[ -n "$STANDIN_PID" ] && stop_pid "$STANDIN_PID"
	[ -n "$RABBIT_DIR" ] && "$BENCH_ROOT/tools/rabbitmq_node.sh" stop "$RABBIT_DIR" >/dev/null 2>&1
	if [ -n "${BENCH_KEEP_WORK:-}" ]; then
		echo "bench: work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$BENCH_OUT/raw"
[ -f "$BENCH_OUT/ratios.json" ] && mv "$BENCH_OUT/ratios.json" "$BENCH_OUT/previous-ratios.json"
rm -f "$BENCH_OUT"/raw/*
: >"$BENCH_OUT/metrics.tsv"
: >"$BENCH_OUT/failures.tsv"
: >"$BENCH_OUT/scenarios.tsv"
: >"$BENCH_OUT/loadavg.tsv"
export BENCH_ROOT BENCH_OUT LG PY

PRODUCT=bench
DEV_USER='bench/d%i'
DEV_PASS='pw%i'
SVC_USER='svc/biz'
SVC_PASS='bizpw'
NDEV=10000

# ---- shared services: registry, dynamic-security file, RabbitMQ --------------------
log "registry: Mongo stand-in with $NDEV devices"
"$PY" "$BENCH_ROOT/tools/mongo_standin.py" --port 0 >"$WORK/standin.out" 2>"$WORK/standin.err" &
STANDIN_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/standin.out" 2>/dev/null && break; sleep 0.1; done
MONGO_PORT=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$WORK/standin.out")
[ -n "$MONGO_PORT" ] || die "Mongo stand-in did not start: $(cat "$WORK/standin.err")"
MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT"
MONGO_DB=iothub_bench
"$PY" "$BENCH/lib/fleet.py" registry "$MONGO_URI" "$MONGO_DB" --devices $NDEV || die "cannot load the registry"

if [[ " $CONFIGS " == *" dynsec "* ]]; then
	log "dynamic-security.json: $NDEV clients, one role each"
	DYNSEC_JSON=$WORK/dynamic-security.json
	"$PY" "$BENCH/lib/fleet.py" dynsec "$DYNSEC_JSON" --devices $NDEV || die "cannot write dynamic-security.json"
fi

if [[ " $CONFIGS " == *" events "* ]]; then
	log "RabbitMQ: private node"
	RABBIT_DIR=$WORK/rabbitmq
	AMQP_PORT=$(free_port)
	"$BENCH_ROOT/tools/rabbitmq_node.sh" start "$RABBIT_DIR" "$AMQP_PORT" >"$WORK/rabbit.out" 2>&1 ||
		die "RabbitMQ did not start: $(tail -5 "$WORK/rabbit.out")"
	# The queues only need to exist; cap them so a long run cannot fill
	# RabbitMQ's memory or disk (drop-head never refuses a publish).
	"$BENCH_ROOT/tools/rabbitmq_node.sh" ctl "$RABBIT_DIR" set_policy bench-cap '^iothub_' \
		'{"max-length":200000,"overflow":"drop-head"}' --apply-to queues >/dev/null 2>&1
	AMQP_URI="amqp://guest:guest@127.0.0.1:$AMQP_PORT/"
fi

# ---- scenario runs -------------------------------------------------------------------------
# Scenario metadata for the report, once per scenario file.
for f in "${SCENARIO_FILES[@]}"; do
	(
		SCENARIO_METRICS=()
		# shellcheck disable=SC1090
		. "$f"
		for m in "${SCENARIO_METRICS[@]}"; do
			printf '%s\t%s\t%s\t%s\n' "$SCENARIO_ID" "${SCENARIO_KIND:-broker}" "$SCENARIO_TITLE" "$m" >>"$BENCH_OUT/scenarios.tsv"
		done
	)
done

# scenario_var FILE NAME DEFAULT : a SCENARIO_* setting of a scenario file.
scenario_var() {
	local v
	v=$(sed -n "s/^$2=\([A-Za-z0-9_]*\).*/\1/p" "$1" | head -1)
	echo "${v:-$3}"
}

# run_one FILE CONFIG ROUND [WRAP] : the scenario against the running broker
# of CONFIG, in a subshell (scenario files cannot disturb each other).
run_one() {
	local file=$1 cfg=$2 round=$3 wrap=${4:-}
	(
		SCENARIO_METRICS=()
		# shellcheck disable=SC1090
		. "$file"
		CONFIG=$cfg
		REP=$round
		PORT=${B_PORT[$cfg]}
		BROKER_PID=${B_PID[$cfg]}
		BROKER_DIR=${B_DIR[$cfg]}
		AUTOSUB=0
		case $cfg in autosub | events) AUTOSUB=1 ;; esac
		RAW=$BENCH_OUT/raw/$SCENARIO_ID.$cfg.r$round
		settle
		printf '%s\t%s\t%s\t%s\n' "$round" "$SCENARIO_ID" "$cfg" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_OUT/loadavg.tsv"
		[ -n "$wrap" ] && "$wrap" start
		scenario_run
		[ -n "$wrap" ] && "$wrap" stop
		true
	)
}

# start_all CONFIG... : fresh brokers for every configuration, side by side.
start_all() {
	local cfg ok=()
	for cfg in "$@"; do launch_broker "$cfg" || return 1; done
	for cfg in "$@"; do
		if await_broker "$cfg"; then
			ok+=("$cfg")
		else
			echo "-	$SCENARIO	$cfg	broker did not start" >>"$BENCH_OUT/failures.tsv"
		fi
	done
	UP=("${ok[@]}")
}

stop_all() {
	local cfg
	for cfg in "${!B_PID[@]}"; do
		cp "${B_DIR[$cfg]}/broker.log" "$BENCH_OUT/raw/$SCENARIO.$cfg.broker.log" 2>/dev/null
		stop_broker "$cfg"
	done
	find "$BENCH_OUT/raw" -name '*.broker.log' -empty -delete
}

# Round r visits the configurations in a rotated order, reversed every other
# round, so that no configuration always comes first or after the same one.
order_for_round() {
	local r=$1 n=${#cfg_list[@]} i k out=()
	for ((i = 0; i < n; i++)); do out+=("${cfg_list[$(((i + r - 1) % n))]}"); done
	if [ $((r % 2)) = 0 ]; then
		local rev=()
		for ((k = n - 1; k >= 0; k--)); do rev+=("${out[$k]}"); done
		out=("${rev[@]}")
	fi
	echo "${out[@]}"
}

read -r -a cfg_list <<<"$CONFIGS"
for f in "${SCENARIO_FILES[@]}"; do
	SCENARIO=$(scenario_var "$f" SCENARIO_ID "")
	if [ "$(scenario_var "$f" SCENARIO_KIND broker)" = standalone ]; then
		[ "$MICRO" = 1 ] || continue
		log "$SCENARIO (standalone)"
		(
			SCENARIO_METRICS=()
			# shellcheck disable=SC1090
			. "$f"
			CONFIG=-
			REP=1
			RAW=$BENCH_OUT/raw/$SCENARIO_ID
			scenario_run
		)
		continue
	fi
	rounds=$(scenario_var "$f" SCENARIO_ROUNDS "$ROUNDS")
	[ "$QUICK" = 1 ] && rounds=1
	[ -n "$FORCE_ROUNDS" ] && rounds=$FORCE_ROUNDS
	fresh=$(scenario_var "$f" SCENARIO_FRESH 0)
	for round in $(seq "$rounds"); do
		if [ "$round" = 1 ] || [ "$fresh" = 1 ]; then
			stop_all
			log "$SCENARIO: starting ${cfg_list[*]}"
			start_all "${cfg_list[@]}" || die "cannot start the brokers"
		fi
		for cfg in $(order_for_round "$round"); do
			[[ " ${UP[*]} " == *" $cfg "* ]] || continue
			log "$SCENARIO round $round/$rounds: $cfg"
			run_one "$f" "$cfg" "$round"
		done
	done
	stop_all
done

# ---- profile pass: where the broker's CPU goes, per configuration --------------------------
perf_wrap() {
	case $1 in
	start)
		perf record -e cpu-clock -F 1999 -g -p "$BROKER_PID" -o "$RAW.perf.data" >/dev/null 2>&1 &
		PERF_PID=$!
		sleep 0.3
		;;
	stop)
		kill -INT "$PERF_PID" 2>/dev/null
		wait "$PERF_PID" 2>/dev/null
		"$BENCH/lib/perf_summary.sh" "$RAW.perf.data" >"$RAW.perf.txt" 2>/dev/null
		rm -f "$RAW.perf.data"
		;;
	esac
}
if [ "$PROFILE" = 1 ]; then
	for f in "${SCENARIO_FILES[@]}"; do
		[ "$(scenario_var "$f" SCENARIO_PROFILE 0)" = 1 ] || continue
		SCENARIO=$(scenario_var "$f" SCENARIO_ID "")
		log "$SCENARIO: profile (perf)"
		start_all $(printf '%s\n' "${cfg_list[@]}" | grep -vx bare2) || die "cannot start the brokers"
		for cfg in "${UP[@]}"; do
			log "$SCENARIO profile: $cfg"
			run_one "$f" "$cfg" profile perf_wrap
		done
		stop_all
	done
fi

# ---- report ------------------------------------------------------------------------------
log "machine description and report"
"$BENCH/lib/machine.sh" "$BENCH_OUT" >"$BENCH_OUT/machine.md"
"$PY" "$BENCH/lib/report.py" "$BENCH_OUT" --configs "$CONFIGS" --reps "${FORCE_ROUNDS:-$ROUNDS}" --elapsed $(($(date +%s) - T_START)) ||
	die "report failed"
mv "$BENCH_OUT/metrics.tsv" "$BENCH_OUT/failures.tsv" "$BENCH_OUT/scenarios.tsv" "$BENCH_OUT/loadavg.tsv" "$BENCH_OUT/raw/"
log "done: $BENCH_OUT/report.md"
if [ -s "$BENCH_OUT/raw/failures.tsv" ]; then
	echo "bench: some runs failed, see $BENCH_OUT/raw/failures.tsv" >&2
	exit 2
fi
