# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""The plugin exports only its entry points (plugin/exports.map).

Anything else in the dynamic symbol table could clash with the broker's or
another plugin's symbols, and would become an interface nobody meant to
keep. Run from the repository root:
/usr/bin/python3 -m pytest test/integration/test_exports.py -q
"""

import subprocess

import pytest

import harness

SO = harness.REPO / 'build' / 'mosquitto_iothub.so'
ENTRY_POINTS = {'mosquitto_plugin_version', 'mosquitto_plugin_init',
                'mosquitto_plugin_cleanup'}


def test_only_the_plugin_entry_points_are_exported():
    if not SO.exists():
        pytest.skip('%s not built (run make)' % SO)
    out = subprocess.run(['nm', '-D', '--defined-only', str(SO)],
                         capture_output=True, text=True, check=True).stdout
    # "ADDRESS TYPE NAME"; a versioned name reads NAME@@VERSION.
    names = {line.split()[-1].split('@')[0]
             for line in out.splitlines() if line.strip()}
    assert names == ENTRY_POINTS, (
        'exported besides the entry points: %s; missing: %s'
        % (sorted(names - ENTRY_POINTS) or 'nothing',
           sorted(ENTRY_POINTS - names) or 'nothing'))
