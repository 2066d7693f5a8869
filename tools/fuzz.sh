#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# libFuzzer targets of fuzz/ (see fuzz/README.md).
#
#   tools/fuzz.sh [TARGET...]            build, fuzz each target for FUZZ_SECONDS
#                                        (default 60), then replay the corpus
#   tools/fuzz.sh --replay [TARGET...]   build, run every committed corpus
#                                        input once (seconds; part of make test)
#
# Fuzzing starts from fuzz/corpus/<target> (the committed seeds) in a
# working copy under build-fuzz/corpus/<target>; new inputs stay there.
# Crashes go to build-fuzz/crashes/<target>/ and fail the run. To keep a
# crashing input as a regression seed, copy it into fuzz/corpus/<target>/.
#
# Environment: FUZZ_SECONDS (per target), FUZZ_BUILD (default build-fuzz),
# FUZZ_JOBS (make -j, default 2).
set -u
cd "$(dirname "$0")/.."

mode=fuzz
case ${1:-} in
-h | --help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
if [ "${1:-}" = "--replay" ]; then
    mode=replay
    shift
fi
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}

if ! command -v clang-14 > /dev/null; then
    echo "fuzz: clang-14 is missing (tools/deps.sh installs clang and libclang-rt-14-dev)" >&2
    exit 1
fi
make -s -f fuzz/Makefile FUZZ_BUILD="$build" -j"${FUZZ_JOBS:-2}" all || exit 1

read -r -a known <<< "$(make -s -f fuzz/Makefile FUZZ_BUILD="$build" list)"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${known[@]}")
fi
for bin in "${targets[@]}"; do
    if [ ! -x "$build/fuzz_${bin#fuzz_}" ]; then
        echo "fuzz: no target '$bin' (targets: ${known[*]#fuzz_})" >&2
        exit 2
    fi
done

failed=0
summary=()
for bin in "${targets[@]}"; do
    t=${bin#fuzz_}
    exe=$build/fuzz_$t
    seeds=fuzz/corpus/$t
    log=$build/logs/$t.$mode.log
    mkdir -p "$build/logs" "$build/crashes/$t" "$seeds"
    if [ "$mode" = replay ]; then
        # -runs=0: load (= execute) every input once, then stop.
        if "$exe" -runs=0 -rss_limit_mb=4096 -artifact_prefix="$build/crashes/$t/" "$seeds" > "$log" 2>&1; then
            n=$(ls "$seeds" | wc -l)
            summary+=("$(printf '%-14s replay ok   %4d inputs' "$t" "$n")")
        else
            summary+=("$(printf '%-14s replay FAIL (see %s)' "$t" "$log")")
            tail -30 "$log" >&2
            failed=1
        fi
        continue
    fi
    work=$build/corpus/$t
    rm -rf "$build/crashes/$t"
    mkdir -p "$work" "$build/crashes/$t"
    cp -n "$seeds"/* "$work"/ 2> /dev/null
    "$exe" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 -timeout=10 \
        -artifact_prefix="$build/crashes/$t/" "$work" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    covft=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
    crashes=$(ls "$build/crashes/$t" | wc -l)
    if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        grep -E 'ERROR|property failed|runtime error|SUMMARY' "$log" | head -5 >&2
    fi
    # Replay the committed corpus (regression inputs included) as well.
    if ! "$exe" -runs=0 -rss_limit_mb=4096 -artifact_prefix="$build/crashes/$t/replay-" "$seeds" > "$log.replay" 2>&1; then
        failed=1
        tail -20 "$log.replay" >&2
    fi
    summary+=("$(printf '%-14s %3ss  execs %-10s %-20s crashes %s  corpus %s' "$t" "$seconds" "${execs:-?}" \
        "${covft:-cov ?}" "$crashes" "$(ls "$work" | wc -l)")")
done

echo "fuzz ($mode):"
printf '  %s\n' "${summary[@]}"
if [ $failed -ne 0 ]; then
    echo "fuzz: FAILED (logs in $build/logs, crashing inputs in $build/crashes)" >&2
    exit 1
fi
