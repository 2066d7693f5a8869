# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Device authentication end to end: what a device and an operator see.

The real broker with the plugin and the MongoDB stand-in, driven with
mosquitto_pub (paho only where a live connection is needed).  Every refusal
is checked for both MQTT 3.1.1 (CONNACK 5) and MQTT 5 (reason 0x87 = 135),
and for the plugin's one-line explanation in the broker log.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_auth.py -q
"""

import re
import time

import pytest

import harness
from plugin_helpers import (MARGIN, PROTOS, PUBACK_OK, QUIET,
                            RC_ADMINISTRATIVE_ACTION, RC_NOT_AUTHORIZED, Admin,
                            add_admin, assert_accepted, assert_refused,
                            refusal_regex, unique_id)

pytestmark = pytest.mark.needs_plugin


def opts(**kw):
    d = dict(QUIET)
    d.update({k: str(v) for k, v in kw.items()})
    return d


def pub(b, user=None, pw=None, proto='mqttv311', client_id=None,
        topic=None, extra=()):
    """One mosquitto_pub of a device's telemetry; returns (rc, stderr)."""
    if topic is None:
        topic = 'upload_data/p/d/t/m1'
    return harness.pub(b.port, topic, 'hello', user=user, pw=pw,
                       proto=proto, client_id=client_id, extra=extra)


def timed_pub(*args, **kw):
    start = time.monotonic()
    res = pub(*args, **kw)
    return res, time.monotonic() - start


def refused_both(b, user, pw, reason, client_prefix='c', username_re=None):
    """Refused with MQTT 3.1.1 and MQTT 5, each with its log line."""
    for proto in PROTOS:
        cid = unique_id(client_prefix)
        mark = b.log_mark()
        assert_refused(pub(b, user, pw, proto=proto, client_id=cid), proto)
        b.wait_log(refusal_regex(cid, username_re if username_re is not None
                                 else re.escape(user or ''), reason),
                   since=mark, timeout=5)


# ----------------------------------------------------------------------
# accepted
# ----------------------------------------------------------------------
def test_accepts_clear_secret(mongo, broker):
    dev = mongo.add_device('p1', 'd1', secret='s3cret')
    b = broker(options=opts())
    for proto in PROTOS:
        assert_accepted(pub(b, dev.username, 's3cret', proto=proto))


def test_accepts_pbkdf2_hash_without_clear_secret(mongo, broker):
    dev = mongo.add_device('p1', 'd1', secret='hashed-secret',
                           password_hash=True, store_secret=False)
    assert dev.doc['password_hash'].startswith('$7$')
    assert 'secret' not in mongo.device('p1/d1')
    b = broker(options=opts())
    assert_accepted(pub(b, dev.username, 'hashed-secret'))
    refused_both(b, dev.username, 'hashed-secreT', 'wrong password')


def test_accepts_sha512_hash(mongo, broker):
    h = harness.mosquitto_passwd_hash('old-style', algorithm='sha512')
    assert h.startswith('$6$')
    dev = mongo.add_device('p1', 'd1', secret='old-style', password_hash=h,
                           store_secret=False)
    b = broker(options=opts())
    assert_accepted(pub(b, dev.username, 'old-style'))
    refused_both(b, dev.username, 'old-stylE', 'wrong password')


def test_hash_wins_over_clear_secret(mongo, broker):
    """When both are stored the hash decides: a stale clear secret left
    next to it must not open the door."""
    dev = mongo.add_device('p1', 'd1', secret='stale-clear',
                           password_hash=harness.mosquitto_passwd_hash('new'))
    b = broker(options=opts())
    assert_accepted(pub(b, dev.username, 'new'))
    refused_both(b, dev.username, 'stale-clear', 'wrong password')


def test_superuser_flag_honoured(mongo, broker, mqtt):
    admin = add_admin(mongo)
    dev = mongo.add_device('p1', 'd1')
    b = broker(options=opts())
    su = mqtt(b, admin.username, admin.secret, client_id='ops1', proto=5)
    assert su.connack == 0
    # Anything a device may not touch: another product's topics, '#'.
    assert su.subscribe('#', qos=1) == [1]
    assert su.publish('cmd/p1/d1/reboot/json/r1', 'x', qos=1) in PUBACK_OK
    assert su.publish('anything/at/all', 'x', qos=1) in PUBACK_OK
    plain = mqtt(b, dev.username, dev.secret, client_id='dev1', proto=5)
    assert plain.connack == 0
    assert plain.subscribe('#', qos=1) == [RC_NOT_AUTHORIZED]
    assert plain.publish('anything/at/all', 'x', qos=1) == RC_NOT_AUTHORIZED


def test_device_without_status_is_active(mongo, broker):
    """IotHub servers before suspend/resume wrote no status field."""
    dev = mongo.add_device('p1', 'd1')
    mongo.db.devices.update_one({'broker_username': 'p1/d1'},
                                {'$unset': {'status': ''}})
    b = broker(options=opts())
    assert_accepted(pub(b, dev.username, dev.secret))


# ----------------------------------------------------------------------
# refused
# ----------------------------------------------------------------------
def test_refuses_wrong_secret(mongo, broker):
    dev = mongo.add_device('p1', 'd1')
    b = broker(options=opts())
    refused_both(b, dev.username, dev.secret + 'x', 'wrong password')
    # a prefix of the secret is just as wrong
    refused_both(b, dev.username, dev.secret[:-1], 'wrong password')


def test_refuses_unknown_device(mongo, broker, mqtt):
    mongo.add_device('p1', 'd1')
    b = broker(options=opts())
    admin = Admin(mqtt, b, add_admin(mongo), watch=None)
    before = admin.stats()['auth']['registry_queries']
    refused_both(b, 'p1/nobody', 'whatever', 'unknown device')
    # An unknown device is looked up (once: the "no such device" answer
    # is cached for auth_cache_negative_ttl); the malformed-username tests
    # rely on this counter.
    assert admin.stats()['auth']['registry_queries'] == before + 1


def test_refuses_suspended_device(mongo, broker):
    dev = mongo.add_device('p1', 'd1', status='suspended')
    b = broker(options=opts())
    refused_both(b, dev.username, dev.secret,
                 r'device suspended \(status "suspended"\)')


@pytest.mark.parametrize('username,reason', [
    ('nouser', r"invalid username: username is not ProductName/DeviceName \(no '/'\)"),
    ('a/b/c', r"invalid username: username is not ProductName/DeviceName \(more than one '/'\)"),
    ('a/', 'invalid username: empty DeviceName'),
    ('/b', 'invalid username: empty ProductName'),
    ('a/+', r"invalid username: name contains an MQTT wildcard \('\+' or '#'\)"),
    ('a/#', r"invalid username: name contains an MQTT wildcard \('\+' or '#'\)"),
    ('p/' + 'x' * 10240, 'invalid username: username too long'),
], ids=['nouser', 'a-b-c', 'a-', '-b', 'a-plus', 'a-hash', '10KB'])
def test_refuses_malformed_username_without_query(mongo, broker, mqtt,
                                                  username, reason):
    b = broker(options=opts())
    admin = Admin(mqtt, b, add_admin(mongo), watch=None)
    before = admin.stats()['auth']
    # Log lines cut client-supplied names short; match the start.
    refused_both(b, username, 'secret', reason,
                 username_re=re.escape(username[:60]) + '[^"]*')
    after = admin.stats()['auth']
    assert after['registry_queries'] == before['registry_queries'], (before, after)
    assert after['refused'] == before['refused'] + 2


def test_refuses_empty_password(mongo, broker):
    dev = mongo.add_device('p1', 'd1')
    b = broker(options=opts())
    refused_both(b, dev.username, '', 'no password')


def test_refuses_missing_password(mongo, broker):
    dev = mongo.add_device('p1', 'd1')
    b = broker(options=opts())
    refused_both(b, dev.username, None, 'no password')


def test_refuses_empty_secret_in_registry(mongo, broker):
    """A record with an empty secret is unusable: nothing matches it."""
    dev = mongo.add_device('p1', 'd1', secret='')
    b = broker(options=opts())
    # (the unusable record is cached like a missing one, so the second
    # refusal says "unknown device")
    refused_both(b, dev.username, 'x',
                 r'(registry record unusable \(see above\)|unknown device)')
    b.wait_log(r'iothub: device p1/d1: registry record unusable: no usable secret')


def test_refuses_anonymous(mongo, broker):
    b = broker(options=opts())
    for proto in PROTOS:
        cid = unique_id('anon')
        mark = b.log_mark()
        assert_refused(pub(b, proto=proto, client_id=cid,
                           topic='upload_data/a/b/c/d'), proto)
        b.wait_log(r'iothub: refused client "%s" \(username "\(none\)"\) from '
                   r'127\.0\.0\.1: no username \(allow_anonymous is false\)'
                   % cid, since=mark, timeout=5)


@pytest.mark.parametrize('client_id', ['dev#1', 'dev+1', '#', '+'])
def test_refuses_wildcard_client_id(mongo, broker, client_id):
    dev = mongo.add_device('p1', 'd1')
    b = broker(options=opts())
    for proto in PROTOS:
        mark = b.log_mark()
        assert_refused(pub(b, dev.username, dev.secret, proto=proto,
                           client_id=client_id), proto)
        b.wait_log(r'iothub: refusing client "%s" from 127\.0\.0\.1: client id '
                   r'contains an MQTT wildcard' % re.escape(client_id),
                   since=mark, timeout=5)
    # the same device with a plain client id is fine
    assert_accepted(pub(b, dev.username, dev.secret, client_id='dev1'))


# ----------------------------------------------------------------------
# cache TTLs: registry changes reach new connections
# ----------------------------------------------------------------------
TTL = 2            # auth_cache_ttl
NEG_TTL = 1        # auth_cache_negative_ttl


def ttl_opts():
    return opts(auth_cache_ttl='%ds' % TTL, auth_cache_negative_ttl='%ds' % NEG_TTL,
                auth_fail_max=0)


def wait_refused(b, user, pw, limit):
    """Connect until refused, for at most ``limit`` seconds."""
    def refusal():
        res = pub(b, user, pw)
        return res if res[0] != 0 else None
    assert_refused(harness.wait_until(refusal, limit, interval=0.1,
                                      what='%s refused' % user), 'mqttv311')


def wait_admitted(b, user, pw, limit):
    """Connect until admitted, for at most ``limit`` seconds."""
    harness.wait_until(lambda: pub(b, user, pw)[0] == 0, limit, interval=0.1,
                       what='%s admitted' % user)


def test_suspension_applies_within_cache_ttl(mongo, broker):
    dev = mongo.add_device('p1', 'd1')
    b = broker(options=ttl_opts())
    assert_accepted(pub(b, dev.username, dev.secret))      # cached now
    mongo.set_status('p1/d1', 'suspended')
    # Until the TTL runs out the cached answer may still admit it ...
    assert pub(b, dev.username, dev.secret)[0] in (0, 5)
    # ... but never longer.
    wait_refused(b, dev.username, dev.secret, TTL + MARGIN)
    b.wait_log(r'refused client .* \(username "p1/d1"\) .*device suspended')
    assert pub(b, dev.username, dev.secret)[0] == 5
    # and resuming it works the same way
    mongo.set_status('p1/d1', 'active')
    wait_admitted(b, dev.username, dev.secret, TTL + MARGIN)


def test_changed_secret_applies_within_cache_ttl(mongo, broker):
    dev = mongo.add_device('p1', 'd1', secret='old-secret')
    b = broker(options=ttl_opts())
    assert_accepted(pub(b, dev.username, 'old-secret'))
    mongo.db.devices.update_one({'broker_username': 'p1/d1'},
                                {'$set': {'secret': 'new-secret'}})
    wait_refused(b, dev.username, 'old-secret', TTL + MARGIN)
    assert_accepted(pub(b, dev.username, 'new-secret'))


def test_registered_device_admitted_within_negative_ttl(mongo, broker):
    b = broker(options=ttl_opts())
    refused_both(b, 'p1/late', 'late-secret', 'unknown device')
    mongo.add_device('p1', 'late', secret='late-secret')
    wait_admitted(b, 'p1/late', 'late-secret', NEG_TTL + MARGIN)


def test_deleted_device_refused_within_cache_ttl(mongo, broker):
    dev = mongo.add_device('p1', 'd1')
    b = broker(options=ttl_opts())
    assert_accepted(pub(b, dev.username, dev.secret))
    mongo.db.devices.delete_one({'broker_username': 'p1/d1'})
    wait_refused(b, dev.username, dev.secret, TTL + MARGIN)
    b.wait_log(r'refused client .* \(username "p1/d1"\) .*unknown device')


# ----------------------------------------------------------------------
# registry outage
# ----------------------------------------------------------------------
MONGO_TIMEOUT_MS = 500
OUTAGE = {'mongo_timeout': '%dms' % MONGO_TIMEOUT_MS,
          'mongo_probe_interval': '200ms',
          # every connect asks the registry, so the outage rule (not the
          # TTL) is what admits a cached device below
          'auth_cache_ttl': '0s', 'auth_fail_max': '0'}
UNAVAILABLE = r'iothub: device registry unavailable:'


@pytest.mark.fault
@pytest.mark.slow
def test_registry_killed(mongo, broker, mqtt):
    cached = mongo.add_device('p1', 'cached', secret='cached-secret')
    uncached = mongo.add_device('p1', 'uncached', secret='uncached-secret')
    b = broker(options=opts(**OUTAGE))
    admin = Admin(mqtt, b, add_admin(mongo), watch='upload_data/#')
    assert_accepted(pub(b, cached.username, 'cached-secret'))
    mark = b.log_mark()

    mongo.kill()
    # An uncached device: refused, and promptly.
    (rc, err), took = timed_pub(b, uncached.username, 'uncached-secret',
                                client_id='uncached-1')
    assert_refused((rc, err), 'mqttv311')
    assert took < MONGO_TIMEOUT_MS / 1000 + MARGIN, took
    b.wait_log(refusal_regex('uncached-1', 'p1/uncached',
                             'device registry unavailable'), since=mark)
    # The cached device still gets in (same password only), and the
    # broker keeps routing its messages.
    (rc, err), took = timed_pub(b, cached.username, 'cached-secret',
                                topic='upload_data/p1/cached/t/outage')
    assert_accepted((rc, err))
    assert took < MONGO_TIMEOUT_MS / 1000 + MARGIN, took
    assert admin.seen('upload_data/p1/cached/t/outage')
    assert_refused(pub(b, cached.username, 'not-the-secret'), 'mqttv311')
    # Many refused clients, each answered at once, one log line in all.
    for i in range(8):
        (rc, err), took = timed_pub(b, 'p1/other%d' % i, 'x', proto=PROTOS[i % 2])
        assert_refused((rc, err), PROTOS[i % 2])
        assert took < MONGO_TIMEOUT_MS / 1000 + MARGIN, took
    assert b.running
    log = b.log_text()[mark:]
    assert len(re.findall(UNAVAILABLE, log)) == 1, log
    assert admin.stats()['auth']['registry_up'] is False

    mongo.restart()
    b.wait_log(r'iothub: device registry available again after [0-9.]+s; '
               r'\d+ connects were refused meanwhile', since=mark, timeout=15)
    # New devices are admitted again, and the uncached one too.
    fresh = mongo.add_device('p1', 'fresh')
    wait_admitted(b, fresh.username, fresh.secret, 5)
    assert_accepted(pub(b, uncached.username, 'uncached-secret'))
    assert len(re.findall(UNAVAILABLE, b.log_text()[mark:])) == 1


@pytest.mark.fault
def test_registry_killed_before_start(mongo, broker):
    """A broker started while the registry is down runs, refuses devices
    at once (nothing is cached yet) and recovers when it comes back."""
    dev = mongo.add_device('p1', 'd1')
    mongo.kill()
    b = broker(options=opts(**OUTAGE))
    b.wait_log(UNAVAILABLE, timeout=10)
    (rc, err), took = timed_pub(b, dev.username, dev.secret)
    assert_refused((rc, err), 'mqttv311')
    assert took < MONGO_TIMEOUT_MS / 1000 + MARGIN, took
    mongo.restart()
    wait_admitted(b, dev.username, dev.secret, 10)


@pytest.mark.fault
def test_registry_slow(mongo, broker):
    """A registry that answers after mongo_timeout counts as down; the
    CONNACK still comes within the timeout."""
    slow = mongo.add_device('p1', 'slow')
    b = broker(options=opts(**OUTAGE))
    b.wait_log(r'iothub: ready')
    mongo.set_delay(MONGO_TIMEOUT_MS * 6, only=['aggregate', 'find'])
    for i in range(3):
        (rc, err), took = timed_pub(b, slow.username, slow.secret,
                                    client_id='slow-%d' % i)
        assert_refused((rc, err), 'mqttv311')
        assert took < MONGO_TIMEOUT_MS / 1000 + MARGIN, took
    assert len(re.findall(UNAVAILABLE, b.log_text())) == 1
    mongo.set_delay(0)
    wait_admitted(b, slow.username, slow.secret, 10)


# ----------------------------------------------------------------------
# start-up refuses bad options
# ----------------------------------------------------------------------
@pytest.mark.parametrize('options,line', [
    ({'no_such_option': '1'},
     r'iothub: unknown option plugin_opt_no_such_option'),
    ({'mongo_timeout': 'soon'},
     r'iothub: option plugin_opt_mongo_timeout: invalid value "soon"'),
    ({'mongo_timeout': '10ms'},
     r'iothub: option plugin_opt_mongo_timeout: invalid value "10ms"'),
    ({'auth_cache_ttl': '5x'},
     r'iothub: option plugin_opt_auth_cache_ttl: invalid value "5x"'),
    ({'allow_anonymous': 'perhaps'},
     r'iothub: option plugin_opt_allow_anonymous: invalid value "perhaps"'),
    ({'acl_nomatch': 'maybe'},
     r'iothub: option plugin_opt_acl_nomatch: invalid value "maybe"'),
    ({'username_max_len': '-1'},
     r'iothub: option plugin_opt_username_max_len: invalid value "-1"'),
    ({'autosub': '+/%u/# 1'},
     r'iothub: option plugin_opt_autosub "\+/%u/#": wildcard at level 1'),
    ({'autosub': 'cmd/%u/# 3'},
     r'iothub: option plugin_opt_autosub: invalid value "cmd/%u/# 3"'),
    ({'acl_publish': 'up/%x'},
     r'iothub: option plugin_opt_acl_publish "up/%x": unknown placeholder %x'),
    ({'acl_subscribe': 'a%c/#'},
     r'iothub: option plugin_opt_acl_subscribe "a%c/#": '),
    ({'mongo_uri': 'http://nope'},
     r'iothub: .*mongo_uri'),
], ids=['unknown', 'timeout-word', 'timeout-range', 'ttl-suffix', 'bool',
        'enum', 'negative', 'autosub-wildcard', 'autosub-qos', 'acl-placeholder',
        'acl-partial-level', 'mongo-uri'])
def test_startup_refuses_bad_option(mongo, broker, options, line):
    b = broker(options=options, expect_fail=True)
    assert b.start_failed and b.exit_code not in (0, None), b.exit_code
    text = b.log_text()
    assert re.search(line, text), text[-3000:]
    assert 'iothub: plugin not started' in text


# ----------------------------------------------------------------------
# throttling
# ----------------------------------------------------------------------
def test_throttle_blocks_after_failures(mongo, broker, mqtt):
    dev = mongo.add_device('p1', 'd1', secret='right')
    b = broker(options=opts(auth_fail_max=3, auth_fail_window='60s',
                            auth_fail_block='2s'))
    admin = Admin(mqtt, b, add_admin(mongo), watch=None)  # before any block
    mark = b.log_mark()
    for _ in range(3):
        assert_refused(pub(b, dev.username, 'wrong'), 'mqttv311')
    blocked_at = time.monotonic()       # just after the block started
    b.wait_log(r'iothub: 3 failed logins for username "p1/d1" within 60s: '
               r'refusing it for 2s', since=mark)
    before = admin.stats()['auth']
    (rc, err), took = timed_pub(b, dev.username, 'right', client_id='blocked1')
    assert_refused((rc, err), 'mqttv311')
    assert took < MARGIN
    b.wait_log(refusal_regex('blocked1', 'p1/d1', 'too many failed logins'),
               since=mark)
    after = admin.stats()['auth']
    # no registry query, no password check: just the throttle
    assert after['registry_queries'] == before['registry_queries']
    assert after['throttled'] == before['throttled'] + 1
    # the block expires
    wait_admitted(b, dev.username, 'right', 2 + MARGIN)
    assert time.monotonic() - blocked_at >= 1.5, 'block ended too early'


def test_throttle_off(mongo, broker):
    dev = mongo.add_device('p1', 'd1', secret='right')
    b = broker(options=opts(auth_fail_max=0))
    for _ in range(12):
        assert_refused(pub(b, dev.username, 'wrong'), 'mqttv311')
    assert_accepted(pub(b, dev.username, 'right'))
    b.assert_no_log('failed logins')


# ----------------------------------------------------------------------
# registry layout and lifecycle
# ----------------------------------------------------------------------
def test_acl_collection_none_uses_inline_acl(mongo, broker, mqtt):
    dev = mongo.add_device('p1', 'd1', acl={'acl': {'publish': ['inline/%u/#']}},
                           acl_inline=True)
    # A device_acl document is not read at all with acl_collection none.
    mongo.db.device_acl.insert_one({'broker_username': 'p1/d1',
                                    'publish': ['collection/p1/d1/#']})
    b = broker(options=opts(acl_collection='none'))
    admin = Admin(mqtt, b, add_admin(mongo), watch=None)
    c = mqtt(b, dev.username, dev.secret, client_id='inline1', proto=5)
    assert c.connack == 0
    assert c.publish('inline/p1/d1/x', 'x', qos=1) in PUBACK_OK
    assert c.publish('collection/p1/d1/x', 'x', qos=1) == RC_NOT_AUTHORIZED
    # the default templates still apply
    assert c.publish('upload_data/p1/d1/t/m1', 'x', qos=1) in PUBACK_OK
    assert admin.stats()['auth']['registry_errors'] == 0


def test_sigterm_with_live_clients_exits_cleanly(mongo, broker, mqtt, sub):
    devs = [mongo.add_device('p1', 'd%d' % i) for i in range(3)]
    b = broker(options=opts())
    clients = [mqtt(b, d.username, d.secret, client_id='live%d' % i,
                    proto=5 if i % 2 else 4, clean=i != 2, session_expiry=60)
               for i, d in enumerate(devs)]
    assert [c.connack for c in clients] == [0, 0, 0]
    s = sub(b, 'cmd/p1/d0/+/+/+/#', user=devs[0].username, pw=devs[0].secret,
            client_id='live-sub', qos=1)
    assert s.wait_subscribed() == [1]
    assert b.stop(), 'broker exit status %s' % b.exit_code
    assert b.exit_code == 0
    # cleanup ran (mosquitto logs plugin cleanup after our last line)
    assert 'mosquitto version 2.0.11 terminating' in b.log_text()


@pytest.mark.parametrize('change', ['suspend', 'delete'])
def test_live_connection_dropped_by_revalidation(mongo, broker, mqtt, change):
    """Without anybody telling the broker, the periodic re-read of
    connected devices (revalidate_interval) finds the change and
    disconnects the device (docs/PROTOCOL.md §2)."""
    dev = mongo.add_device('p1', 'd1')
    keep = mongo.add_device('p1', 'd2')
    b = broker(options={'revalidate_interval': '1s', 'stats_interval': '0'})
    c = mqtt(b, dev.username, dev.secret, client_id='reval-1', proto=5)
    other = mqtt(b, keep.username, keep.secret, client_id='reval-2', proto=5)
    assert (c.connack, other.connack) == (0, 0)
    if change == 'suspend':
        mongo.set_status('p1/d1', 'suspended')
    else:
        mongo.db.devices.delete_one({'broker_username': 'p1/d1'})
    assert c.wait_disconnect(1 + 1 + MARGIN), 'not disconnected'
    assert c.server_disconnect_reason == RC_ADMINISTRATIVE_ACTION
    b.wait_log(r'iothub: device p1/d1 is %s: disconnecting its connections'
               % ('suspended' if change == 'suspend' else 'deleted'))
    assert other.connected
    assert_refused(pub(b, dev.username, dev.secret), 'mqttv311')
