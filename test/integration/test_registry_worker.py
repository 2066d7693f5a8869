# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Where the registry worker runs (registry/helper.h, option registry_worker).

* By default in a child process ``iothub-registry``: the broker itself stays
  single-threaded, the child keeps none of the broker's sockets, and it
  dies with the broker, by SIGTERM and by SIGKILL.
* A child killed on its own is replaced, with a log line, and registry
  changes still reach the devices.
* ``registry_worker thread`` keeps the old way: a thread, no child.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_registry_worker.py -q
"""

import os
import signal

import pytest

import harness
from plugin_helpers import MARGIN, QUIET

pytestmark = pytest.mark.needs_plugin

RC_REFUSED = 5


def opts(**kw):
    d = dict(QUIET)
    d.update({k: str(v) for k, v in kw.items()})
    return d


def children(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def comm(pid):
    with open('/proc/%d/comm' % pid) as fh:
        return fh.read().strip()


def threads(pid):
    with open('/proc/%d/status' % pid) as fh:
        for line in fh:
            if line.startswith('Threads:'):
                return int(line.split()[1])
    return 0


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as fh:
            return fh.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def socket_inodes(pid):
    out = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            out.add(target[8:-1])
    return out


def listening_inodes(port):
    out = set()
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(path) as fh:
            for line in fh.readlines()[1:]:
                f = line.split()
                if f[3] == '0A' and int(f[1].rsplit(':', 1)[1], 16) == port:
                    out.add(f[9])
    return out


def registry_child(b):
    harness.wait_until(lambda: any(comm(p) == 'iothub-registry' for p in children(b.pid)), 5 * MARGIN,
                       what='the iothub-registry child of the broker')
    return [p for p in children(b.pid) if comm(p) == 'iothub-registry'][0]


@pytest.mark.skipif(os.environ.get('IOTHUB_BROKER_WRAPPER'), reason='the wrapper (valgrind) is the broker\'s parent')
def test_worker_runs_in_a_child_and_the_broker_stays_single_threaded(mongo, broker, mqtt):
    dev = mongo.add_device('p1', 'w1')
    b = broker(options=opts())
    assert mqtt(b, dev.username, dev.secret, client_id='w1').connack == 0
    child = registry_child(b)
    # No event forwarding, no HTTP API: nothing else brings a thread.
    assert threads(b.pid) == 1
    # The broker's listener is not among the child's sockets.
    assert listening_inodes(b.port) and not listening_inodes(b.port) & socket_inodes(child)
    b.wait_log(r'iothub: registry worker process %d started' % child)

    assert b.stop()
    harness.wait_until(lambda: not alive(child), 5 * MARGIN, what='the child gone after SIGTERM')

    b.start()
    child = registry_child(b)
    b.kill()
    harness.wait_until(lambda: not alive(child), 5 * MARGIN, what='the child gone after SIGKILL')
    # Its port is free again at once: the child held no copy of the listener.
    b.start()
    assert mqtt(b, dev.username, dev.secret, client_id='w1b').connack == 0


@pytest.mark.skipif(os.environ.get('IOTHUB_BROKER_WRAPPER'), reason='the wrapper (valgrind) is the broker\'s parent')
def test_a_killed_child_is_replaced_and_changes_still_arrive(mongo, broker, mqtt):
    dev = mongo.add_device('p1', 'w2')
    b = broker(options=opts(revalidate_interval='2s', auth_cache_ttl='600s'))
    c = mqtt(b, dev.username, dev.secret, client_id='w2')
    assert c.connack == 0
    child = registry_child(b)
    mark = b.log_mark()
    os.kill(child, signal.SIGKILL)
    b.wait_log(r'iothub: the registry worker process (exited|closed its socket); a new one starts in 1000 ms',
               since=mark, timeout=5 * MARGIN)
    b.wait_log(r'iothub: registry worker process \d+ started', since=mark, timeout=5 * MARGIN)
    assert registry_child(b) != child
    # Revalidation runs in the new child: a suspension still disconnects
    # the live connection and refuses the next connect.
    mongo.set_status(dev.username, 'suspended')
    harness.wait_until(lambda: not c.connected, 2 + 6 * MARGIN, what='the suspended device disconnected')
    assert mqtt(b, dev.username, dev.secret, client_id='w2b').connack == RC_REFUSED


def test_thread_mode_has_no_child(mongo, broker, mqtt):
    dev = mongo.add_device('p1', 'w3')
    b = broker(options=opts(registry_worker='thread'))
    assert mqtt(b, dev.username, dev.secret, client_id='w3').connack == 0
    assert not [p for p in children(b.pid) if comm(p) == 'iothub-registry']
    assert threads(b.pid) >= 2
    assert b.stop()
