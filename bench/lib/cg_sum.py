#!/usr/bin/python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""cg_sum.py CALLGRIND_OUT... : per file, "total plugin dynsec" instruction
counts: the whole broker process, the inclusive cost of mosquitto-iothub's
entry points (broker callbacks, its own threads, the main of the
registry worker's process), and of dynamic security's callbacks."""
import re
import subprocess
import sys

PLUGIN = re.compile(r'/plugin/callbacks\.c:cb_\w+ |/events/forwarder\.c:run |'
                    r'/registry/worker\.c:worker_main |/events/amqp_watchdog\.c:watch |'
                    r'/registry/helper_child\.c:helper_child_main ')
DYNSEC = re.compile(r':dynsec_\w*callback |:dynsec__acl_check_callback |'
                    r':dynsec_auth__basic_auth_callback |:dynsec_control_callback ')


def summarize(path):
    total = 0
    with open(path, errors='replace') as fh:
        for line in fh:
            if line.startswith('summary:') or line.startswith('totals:'):
                total = int(line.split()[1])
                break
    out = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--threshold=100', path],
                         capture_output=True, text=True).stdout
    plugin = dynsec = 0
    seen = set()
    for line in out.splitlines():
        m = re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+(\S+)', line)
        if not m:
            continue
        n, fn = int(m.group(1).replace(',', '')), m.group(2) + ' '
        key = fn.split(':')[-1]
        if key in seen:
            continue
        # Our objects have debug info: take the file-qualified line. Debian's
        # dynamic security has symbols only ("???:function").
        if PLUGIN.search(fn) and not fn.startswith('???'):
            plugin += n
            seen.add(key)
        elif DYNSEC.search(fn):
            dynsec += n
            seen.add(key)
    return total, plugin, dynsec


for p in sys.argv[1:]:
    print('%s %d %d %d' % ((p,) + summarize(p)))
