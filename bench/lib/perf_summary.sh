#!/bin/bash
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
# perf_summary.sh PERF_DATA : where the broker's CPU went, as text.
# Lines "share PCT DSO" (self time per shared object, % of the broker's
# samples, all threads) are read by report.py; the rest is for people:
# the top symbols overall and the top symbols of the plugin.
set -u
data=$1
echo "# perf record -e cpu-clock -F 1999 -g on the broker, all threads"
echo "# self time per object (share PCT OBJECT)"
perf report -i "$data" --no-children --sort dso --stdio -q 2>/dev/null |
	awk 'NF >= 2 && $1 ~ /%$/ {p = $1; sub("%", "", p); $1 = ""; sub(/^ +/, ""); printf "share %s %s\n", p, $0}'
echo
echo "# top symbols (self)"
perf report -i "$data" --no-children --sort dso,sym --stdio -q -g none 2>/dev/null | grep -v '^$' | head -30
echo
echo "# the plugin's symbols (self, % of all samples)"
perf report -i "$data" --no-children --dsos mosquitto_iothub.so --sort sym --stdio -q -g none 2>/dev/null | grep -v '^$' | head -25
echo
echo "# inclusive time of the plugin's callbacks (children, where the call chains resolve)"
perf report -i "$data" --children --sort sym --stdio -q -g none 2>/dev/null |
	grep -E ' (cb_[a-z_]+|authorize_check|session_accept|session_close|auth_check|autosub_deliver|emit_publish|tick_run|events_publish)$' | head -20
