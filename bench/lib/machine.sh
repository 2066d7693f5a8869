#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# machine.sh RESULTS_DIR : Markdown description of the machine and the
# software the benchmark ran on (bench/results/machine.md).
set -u
out=$1
pkgs="mosquitto libmongoc-1.0-0 libbson-1.0-0 librabbitmq4 rabbitmq-server erlang-base libssl3 python3-mongomock python3-mockupdb python3-pymongo valgrind linux-perf gnuplot-nox"
root=$(cd "$(dirname "$0")/../.." && pwd)
echo "# Benchmark machine"
echo
echo "| | |"
echo "|---|---|"
echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
echo "| commit | $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)') |"
echo "| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores online$(lscpu | sed -n 's/^Hypervisor vendor: */, under /p' | head -1) |"
echo "| RAM | $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) |"
echo "| kernel | $(uname -sr) |"
echo "| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |"
echo "| fd limit (hard) | $(ulimit -Hn) |"
echo
echo "## Packages"
echo
echo "| package | version |"
echo "|---|---|"
for p in $pkgs; do
	v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
	[ -n "$v" ] || v=$(dpkg-query -W -f='${Version}' "$p:amd64" 2>/dev/null || echo "not installed")
	echo "| $p | $v |"
done
echo
echo "## Load during the run"
echo
echo "1-minute load average read before every scenario run (the machine is shared;"
echo "other jobs ran at the same time). Two cores: a load above 2 means queued work."
echo
if [ -s "$out/loadavg.tsv" ]; then
	sort -t"$(printf '\t')" -k4,4n "$out/loadavg.tsv" | awk -F'\t' '{split($4, a, " "); v[NR] = a[1]} END {
		if (NR == 0) exit
		printf "| runs | min | median | max |\n|---|---|---|---|\n| %d | %.2f | %.2f | %.2f |\n", NR, v[1], v[int((NR + 1) / 2)], v[NR] }'
fi
