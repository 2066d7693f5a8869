# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Restart storms and fleets behind NAT (issue 13, items 1 and 2).

* The auth preload: devices connected when the broker stopped (SIGTERM)
  reconnect after the restart without a registry query each; the preloaded
  records follow a suspension within the revalidation interval; a missing
  or corrupt state file is logged and the broker starts cold.
* Throttling behind one address: 200 devices share 127.0.0.1, 5 of them
  retry a wrong secret every 200 ms; the 195 good ones all get in, the 5
  are blocked.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_preload.py -q
"""

import re
import threading

import pytest

import harness
import hardening as H
from hardening import raw_connect
from plugin_helpers import MARGIN, QUIET, Admin, add_admin

pytestmark = pytest.mark.needs_plugin

RC_REFUSED = 5      # MQTT 3.1.1 CONNACK "not authorised"
STATE = ('iothub-spool', 'iothub-preload.state')


def opts(**kw):
    d = dict(QUIET)
    d.update({k: str(v) for k, v in kw.items()})
    return d


def state_path(b):
    return b.dir.joinpath(*STATE)


def connect(b, dev, client_id):
    return raw_connect(b.port, client_id.encode(), dev.username.encode(), dev.secret.encode())


# ----------------------------------------------------------------------
# preload
# ----------------------------------------------------------------------
def test_restart_reconnects_without_registry_queries(mongo, broker, mqtt):
    admin_dev = add_admin(mongo)
    devs = H.add_devices(mongo, 20, prefix='pl')
    b = broker(options=opts())
    admin = Admin(mqtt, b, admin_dev, watch=None)
    # Half of them with persistent sessions, as a fleet would.
    clients = [mqtt(b, d.username, d.secret, client_id='pl-%d' % i, clean=(i % 2 == 0))
               for i, d in enumerate(devs)]
    assert [c.connack for c in clients] == [0] * len(devs)

    assert b.stop(), 'broker did not exit cleanly on SIGTERM'
    lines = state_path(b).read_text().split('\n')
    assert lines[0] == 'iothub-preload 1' and lines[-2] == 'end %d' % (len(lines) - 3), lines[:3]
    assert {d.username for d in devs} | {admin_dev.username} == set(lines[1:-2])
    for c in clients:
        c.disconnect()
    admin.ctl.disconnect()

    mark = b.log_mark()
    b.start()
    b.wait_log(r'iothub: auth preload: 21 device records loaded in \d+ ms \(0 usernames not in the registry or unusable; 0 records fetched along',
               since=mark)
    admin = Admin(mqtt, b, admin_dev, watch=None)
    before = admin.stats()['auth']
    assert before['preloaded'] == 21
    for i, d in enumerate(devs):
        c = mqtt(b, d.username, d.secret, client_id='pl-%d' % i, clean=(i % 2 == 0))
        assert c.connack == 0, (d.username, c.connack)
    after = admin.stats()['auth']
    # Every reconnect was answered from the preloaded cache.
    assert after['cache_misses'] == before['cache_misses'], (before, after)
    assert after['registry_queries'] == before['registry_queries'], (before, after)
    assert after['cache_hits'] - before['cache_hits'] == len(devs)


def test_preload_follows_suspension(mongo, broker, mqtt):
    dev = mongo.add_device('p1', 'susp')
    keep = mongo.add_device('p1', 'keep')
    # The cache TTL is long: only the revalidation bound ends the stale record.
    b = broker(options=opts(revalidate_interval='2s', auth_cache_ttl='600s'))
    c1 = mqtt(b, dev.username, dev.secret, client_id='susp-1')
    c2 = mqtt(b, keep.username, keep.secret, client_id='keep-1')
    assert (c1.connack, c2.connack) == (0, 0)
    assert b.stop()
    c1.disconnect()
    c2.disconnect()

    mark = b.log_mark()
    b.start()
    b.wait_log(r'auth preload: 2 device records loaded', since=mark)
    mongo.set_status(dev.username, 'suspended')
    # Admitted from the stale preload for at most revalidate_interval.
    harness.wait_until(lambda: connect(b, dev, 'susp-2') == RC_REFUSED, 2 + 5 * MARGIN,
                       what='the suspended device refused')
    b.wait_log(r'refused client "susp-2" \(username "p1/susp"\) from 127\.0\.0\.1: device suspended', since=mark)
    assert connect(b, keep, 'keep-2') == 0


def test_connect_before_its_record_fetches_the_queued_rest(mongo, broker, mqtt):
    """A device that reconnects before the preload reached it is looked up
    on the broker thread, and that one query also fetches the end of the
    preload queue: those devices then connect from the cache, without a
    registry query each, and the done line counts them."""
    admin_dev = add_admin(mongo)
    devs = H.add_devices(mongo, 150, prefix='pf')
    by_name = {d.username: d for d in devs}
    # Preload batches of 10 (revalidate_batch), each answered 1 s late
    # below: the preload is still queued for many seconds after the start.
    b = broker(options=opts(revalidate_batch=10, mongo_timeout='5s'))
    clients = [mqtt(b, d.username, d.secret, client_id='pf-%d' % i) for i, d in enumerate(devs)]
    assert [c.connack for c in clients] == [0] * len(devs)
    assert b.stop()
    for c in clients:
        c.disconnect()
    names = state_path(b).read_text().split('\n')[1:-2]
    assert set(names) == set(by_name)
    first, tail = by_name[names[len(names) // 2]], [by_name[n] for n in names[-64:]]

    mongo.set_delay(1000, only=['aggregate'])
    try:
        mark = b.log_mark()
        b.start()
        b.wait_log(r'auth preload: loading their records \(150 devices', since=mark)
        # The middle of the queue: about 7 s away for the worker.
        assert connect(b, first, 'pf-first') == 0
        admin = Admin(mqtt, b, admin_dev, watch=None)
        before = admin.stats()['auth']
        assert before['preload_folded'] >= 64, before
        for i, d in enumerate(tail):
            assert connect(b, d, 'pf-tail-%d' % i) == 0, d.username
        after = admin.stats()['auth']
        assert after['cache_misses'] == before['cache_misses'], (before, after)
        # 149: the first device's record came with its own lookup.
        b.wait_log(r'auth preload: 149 device records loaded in \d+ ms \(0 usernames not in the registry or '
                   r'unusable; (6[4-9]|[7-9]\d|1[0-4]\d) records fetched along with a connecting device', since=mark,
                   timeout=60)
    finally:
        mongo.set_delay(0)
    admin.ctl.disconnect()


def test_missing_or_corrupt_state_file_starts_cold(mongo, broker):
    dev = mongo.add_device('p1', 'cold')
    b = broker(options=opts())
    b.wait_log(r'auth preload: no state file \S+iothub-preload\.state yet, starting cold')
    assert connect(b, dev, 'cold-1') == 0
    # The broker must have seen the client go before it is stopped.
    b.wait_log(r'Client cold-1 (disconnected|closed its connection)')
    assert b.stop()
    # Nobody connected at the stop: an empty list, still well formed.
    assert state_path(b).read_text() == 'iothub-preload 1\nend 0\n'

    for content, reason in ((b'iothub-preload 1\np1/cold\n', r'truncated \(no end line\)'),
                            (b'\x00\xffgarbage\n', r'bad first line'),
                            (b'iothub-preload 1\np1/cold\nend 7\n', r'end line says 7 usernames, the file holds 1'),
                            (b'iothub-preload 1\nno-slash\nend 1\n', r'line 2: not a valid username')):
        state_path(b).write_bytes(content)
        mark = b.log_mark()
        b.start()
        b.wait_log(r'auth preload: ignoring state file \S+ \(.*%s.*\), starting cold' % reason, since=mark)
        assert connect(b, dev, 'cold-2') == 0
        assert b.stop()



# ----------------------------------------------------------------------
# throttling behind one address
# ----------------------------------------------------------------------
@pytest.mark.timeout(240)
def test_nat_wrong_secrets_do_not_lock_out_good_devices(mongo, broker):
    good = H.add_devices(mongo, 195, prefix='nat')
    bad = H.add_devices(mongo, 5, prefix='natbad')
    b = broker(options=opts())     # default throttle: 10 failures in 60 s
    mark = b.log_mark()
    stop = threading.Event()
    codes = []

    def retry(i, d):
        while not stop.is_set():
            codes.append(raw_connect(b.port, b'natbad-%d' % i, d.username.encode(), b'wrong-secret'))
            stop.wait(0.2)

    threads = [threading.Thread(target=retry, args=(i, d), daemon=True) for i, d in enumerate(bad)]
    for t in threads:
        t.start()
    try:
        # The shared address has failed enough to be blocked...
        b.wait_log(r'10 failed logins for address "127\.0\.0\.1"', since=mark, timeout=30)
        # ...and still every good device behind it gets in, twice (cold, then warm).
        first = [connect(b, d, 'nat-%d' % i) for i, d in enumerate(good)]
        second = [connect(b, d, 'nat-%d' % i) for i, d in enumerate(good)]
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert first.count(0) == len(good), [(g.username, rc) for g, rc in zip(good, first) if rc != 0][:5]
    assert second.count(0) == len(good)
    assert 0 not in codes
    text = b.log_text()[mark:]
    for i, d in enumerate(bad):
        # Per-username blocking stays: even the right secret is refused now.
        assert re.search(r'failed logins? for username "%s"' % re.escape(d.username), text), d.username
        assert connect(b, d, 'natbad-right-%d' % i) == RC_REFUSED
    assert len(re.findall(r'too many failed logins for this username', text)) > 0


def test_preload_all_loads_the_whole_registry(mongo, broker, mqtt):
    admin_dev = add_admin(mongo)
    devs = H.add_devices(mongo, 12, prefix='all')
    b = broker(options=opts(auth_preload='all'))
    b.wait_log(r'auth preload: 13 device records loaded in \d+ ms')
    admin = Admin(mqtt, b, admin_dev, watch=None)
    before = admin.stats()['auth']
    for i, d in enumerate(devs):
        assert connect(b, d, 'all-%d' % i) == 0
    after = admin.stats()['auth']
    assert after['cache_misses'] == before['cache_misses'], (before, after)
    assert after['preloaded'] == 13

    # Larger than auth_preload_max: the devices connected at the stop instead.
    assert b.stop()
    b.options.update(auth_preload='all', auth_preload_max='5')
    b.write_conf()
    mark = b.log_mark()
    b.start()
    b.wait_log(r'auth_preload all: the registry holds more than auth_preload_max \(5\) devices; '
               r'preloading the 1 devices connected at the last stop instead', since=mark)
    b.wait_log(r'auth preload: 1 device records loaded', since=mark)
