# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# Instruction counts (callgrind), repeatable on a noisy machine: the ACL
# check on the broker thread (cached, and on a miss: rules + cache store),
# the auto-subscription index lookup with 10 and 10,000 bound clients
# (bench/acl_micro.sh), and what BASIC_AUTH costs on a warm connect (cache
# hit + one HMAC-SHA256) next to the PBKDF2-SHA512 (101 iterations) that
# dynamic security computes on every connect, a cold connect (no cache) and
# a JWT connect with the IotHub server's token (bench/auth_micro.sh).
SCENARIO_ID=micro
SCENARIO_KIND=standalone
SCENARIO_TITLE="Hot paths, instructions per operation (callgrind)"
metric_def acl_cache_hit "ACL check, cache hit" "instr" lower
metric_def acl_miss_write "ACL check, miss, publish (rules + store)" "instr" lower
metric_def acl_miss_read "ACL check, miss, delivery (rules + store)" "instr" lower
metric_def index_match_10 "auto-subscription index match, 10 clients" "instr" lower
metric_def index_match_10000 "auto-subscription index match, 10,000 clients" "instr" lower
metric_def auth_warm "BASIC_AUTH, warm cache (auth_check)" "instr" lower
metric_def auth_pbkdf2 "PBKDF2-SHA512 x101 (dynsec's per-connect hash)" "instr" lower
metric_def auth_cold "BASIC_AUTH, cold (no cache: stub registry + decode + PBKDF2)" "instr" lower
metric_def auth_jwt "BASIC_AUTH, JWT (the server's HS256 token)" "instr" lower

scenario_run() {
	command -v valgrind >/dev/null || { echo "bench: valgrind missing: no micro-benchmarks" >&2; return 0; }
	(cd "$BENCH_ROOT" && bench/acl_micro.sh) >"$RAW.acl.txt" 2>&1 || { cat "$RAW.acl.txt" >&2; return 0; }
	(cd "$BENCH_ROOT" && bench/auth_micro.sh) >"$RAW.auth.txt" 2>&1 || { cat "$RAW.auth.txt" >&2; return 0; }
	local op v
	for op in cache_hit miss_write miss_read index_match_10 index_match_10000; do
		v=$(awk -v o=$op '$1 == o {print $2}' "$RAW.acl.txt")
		case $op in index_*) metric $op "$v" ;; *) metric acl_$op "$v" ;; esac
	done
	metric auth_warm "$(awk '$1 == "warm:" && /instructions/ {print $2}' "$RAW.auth.txt")"
	metric auth_pbkdf2 "$(awk '$1 == "pbkdf2:" && /instructions/ {print $2}' "$RAW.auth.txt")"
	metric auth_cold "$(awk '$1 == "cold:" && /instructions/ {print $2}' "$RAW.auth.txt")"
	metric auth_jwt "$(awk '$1 == "jwt:" && /instructions/ {print $2}' "$RAW.auth.txt")"
}
