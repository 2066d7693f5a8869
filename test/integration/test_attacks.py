# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""The attack matrix: a hostile device against the real broker and plugin.

Every attempt must be refused AND logged (the operator has to see an
attack): cross-device and cross-product topics of docs/PROTOCOL.md §4 in
both directions, wildcard and `$` subscriptions, hostile client ids and
usernames sent over a raw socket (NUL, invalid UTF-8, wildcards, oversize),
`$CONTROL/iothub/v1` commands from a device, and 1,000 wrong passwords in a
row, with the effect of the brute-force throttle (auth/throttle.c) measured.

A superuser monitor subscribed to `#` proves that nothing refused was
forwarded; positive controls prove the refusals are not vacuous.
"""

import re
import time
import uuid

import pytest

import hardening as H
from hardening import raw_connect
from plugin_helpers import PUBACK_OK, RC_NOT_AUTHORIZED

P, D = 'p1', 'd1'                 # the attacker
VICTIM = ('p1', 'd2')             # same product
FOREIGN = ('p2', 'd1')            # other product, same device name

NO_THROTTLE = {'auth_fail_max': '0'}


def topics_of(p, d):
    """Every docs/PROTOCOL.md §4 topic of device {P}/{D}, both directions."""
    return {
        'upload_data': 'upload_data/%s/%s/temp/m1' % (p, d),
        'update_status': 'update_status/%s/%s/m1' % (p, d),
        'update_ota_status': 'update_ota_status/%s/%s/m1' % (p, d),
        'cmd_resp': 'cmd_resp/%s/%s/reboot/r1/m1' % (p, d),
        'rpc_resp': 'rpc_resp/%s/%s/reboot/r1/m1' % (p, d),
        'get': 'get/%s/%s/config/m1' % (p, d),
        'cmd': 'cmd/%s/%s/reboot/json/r1' % (p, d),
        'cmd_expiring': 'cmd/%s/%s/reboot/json/r1/1700000000' % (p, d),
        'rpc': 'rpc/%s/%s/reboot/json/r1' % (p, d),
        'm2m_to': 'm2m/%s/%s/%s/m1' % (p, d, d),
        'tags': 'tags/%s/t1/cmd/reboot/json/r1' % p,
    }


@pytest.fixture
def world(mongo, broker, mqtt):
    """Attacker p1/d1, victim p1/d2, foreign p2/d1, a superuser monitor
    subscribed to everything, on a broker without the brute-force throttle
    (the matrix fails logins on purpose, all from 127.0.0.1)."""
    me = mongo.add_device(P, D, tags=['t1'])
    victim = mongo.add_device(*VICTIM, tags=['t1'])
    foreign = mongo.add_device(*FOREIGN, tags=['t1'])
    admin = mongo.add_device('ops', 'monitor', superuser=True)
    b = broker(options=NO_THROTTLE)
    monitor = mqtt(b, admin.username, admin.secret, 'monitor', proto=5)
    assert monitor.connack == 0
    assert monitor.subscribe([('#', 1)]) == [1]
    attacker = mqtt(b, me.username, me.secret, 'attacker', proto=5)
    assert attacker.connack == 0
    return dict(broker=b, me=me, victim=victim, foreign=foreign, admin=admin,
                monitor=monitor, attacker=attacker)


# ----------------------------------------------------------------------
# Topics
# ----------------------------------------------------------------------
def test_cross_device_and_cross_product_publish_refused(world):
    b, a, monitor = world['broker'], world['attacker'], world['monitor']
    mark = b.log_mark()
    # Positive control: the attacker's own uplinks go through.
    own = topics_of(P, D)
    for kind in ('upload_data', 'update_status', 'cmd_resp', 'get'):
        assert a.publish(own[kind], b'ok', 1) in PUBACK_OK, kind
    assert a.publish('m2m/%s/%s/%s/m1' % (P, VICTIM[1], D), b'ok', 1) in PUBACK_OK
    monitor.wait_for(5)

    attempts = []
    for who in (VICTIM, FOREIGN):
        attempts += list(topics_of(*who).values())
    attempts += [
        # downlink topics of its own: a device may not command itself
        own['cmd'], own['rpc'], own['tags'],
        # m2m impersonation: FromD must be the sender
        'm2m/%s/%s/%s/m1' % (P, D, VICTIM[1]),
        'm2m/%s/%s/%s/m1' % (P, VICTIM[1], VICTIM[1]),
        'm2m/%s/%s/%s/m1' % (FOREIGN[0], FOREIGN[1], D),
        # shape games around its own prefix
        'upload_data/%s/%s' % (P, D),
        'upload_data/%s/%s/temp/m1/extra' % (P, D),
        'upload_data/%s/%s/temp' % (P, D),
        'upload_data/%s/%s%s/temp/m1' % (P, D, VICTIM[1]),
        'upload_data/%s/%s/temp/m1' % (P.upper(), D),
        'upload_data//%s/temp/m1' % D,
        # $ topics
        '$SYS/broker/x', '$CONTROL/iothub/v1', '$CONTROL/dynamic-security/v1',
        '$share/g/upload_data/p1/d1/temp/m1',
    ]
    for topic in attempts:
        rc = a.publish(topic, b'evil', 1)
        assert rc == RC_NOT_AUTHORIZED, 'publish to %r: PUBACK %r' % (topic, rc)
    monitor.expect_no_message(0.5)
    assert a.connected
    for topic in attempts:
        # $SYS and $share are refused by the broker core before any plugin
        # is asked; it logs them itself.
        logged = (r'denied publish of "%s" to p1/d1 \(client attacker\)' % re.escape(topic)
                  if not topic.startswith(('$SYS', '$share')) else
                  r"Denied PUBLISH from attacker \(d0, q1, r0, m\d+, '%s'" % re.escape(topic))
        b.wait_log(logged, since=mark, timeout=5)
    H.report('attacks-publish', refused=len(attempts), logged=len(attempts))


def test_cross_device_and_wildcard_subscriptions_refused(world, mqtt):
    b, a = world['broker'], world['attacker']
    mark = b.log_mark()
    # Positive control: its own auto-subscribed topics may be subscribed.
    assert a.subscribe([('cmd/%s/%s/+/+/+/#' % (P, D), 1)]) == [1]

    v, f = VICTIM, FOREIGN
    filters = [
        '#', '+/#', '+', '+/+/+/+/+', '$SYS/#', '$SYS/broker/clients/connected', '$CONTROL/#',
        '$CONTROL/iothub/v1', '$CONTROL/iothub/v1/response', '$share/g/#',
        '$share/g/cmd/%s/%s/#' % v, '$share/g/cmd/%s/%s/+/+/+/#' % v,
        'cmd/#', 'cmd/%s/#' % P, 'cmd/%s/+/+/+/+/#' % P, 'cmd/+/%s/+/+/+/#' % D,
        'cmd/%s/%s/+/+/+/#' % v, 'rpc/%s/%s/+/+/+/#' % v, 'm2m/%s/%s/+/+' % v,
        'cmd/%s/%s/+/+/+/#' % f, 'm2m/%s/#' % P, 'm2m/%s/+/+/+' % P,
        'upload_data/%s/%s/+/+' % v, 'upload_data/#', 'cmd_resp/%s/%s/#' % v,
        'tags/%s/+/cmd/+/+/+/#' % f[0], 'tags/#', 'tags/+/+/cmd/#',
        '+/%s/%s/#' % v, '+/+/%s/#' % v[1],
    ]
    for flt in filters:
        codes = a.subscribe([(flt, 1)])
        assert codes == [RC_NOT_AUTHORIZED], 'subscribe %r granted %r' % (flt, codes)
    for flt in filters:
        b.wait_log(r'denied subscribe of "%s" to p1/d1 \(client attacker\)' % re.escape(flt),
                   since=mark, timeout=5)

    # Nothing addressed to others reaches the attacker.
    victim = mqtt(b, world['victim'].username, world['victim'].secret, 'victim', proto=5)
    assert victim.connack == 0
    admin = mqtt(b, world['admin'].username, world['admin'].secret, 'admin2', proto=5)
    for topic in (topics_of(*v)['cmd'], topics_of(*v)['rpc'], topics_of(*f)['cmd'],
                  'm2m/%s/%s/d9/m1' % v, 'tags/%s/t1/cmd/reboot/json/r9' % f[0]):
        assert admin.publish(topic, b'secret', 1) in PUBACK_OK
    victim.wait_for(3)              # the victim's own cmd, rpc and m2m arrived
    a.expect_no_message(0.5)
    H.report('attacks-subscribe', refused=len(filters), logged=len(filters))


# ----------------------------------------------------------------------
# Identities
# ----------------------------------------------------------------------
HOSTILE_CLIENT_IDS = [
    (b'+', 'wildcard'), (b'#', 'wildcard'), (b'dev+1', 'wildcard'), (b'a/#', 'wildcard'),
    (b'bad\x00id', 'malformed'), (b'\xff\xfe', 'malformed'), (b'\xc0\xaf', 'malformed'),
    (b'\xed\xa0\x80', 'malformed'), (b'ctl\x01', 'malformed'),
]

HOSTILE_USERNAMES = [
    b'p1/+', b'p1/#', b'#/d1', b'+/+', b'p1', b'p1/d1/x', b'/d1', b'p1/', b'%u', b'p1/%d',
    b'P1/D1', b'p1/d1 ', b'p1/ d1', b'p1/d1\x00', b'p1\x00/d1', b'p1/\xff', b'p1/\xc0\xaf',
    b'p1/\xed\xa0\x80', b'p1/\xef\xbf\xbf', b'p1/d1\x7f', b'p1/' + b'd' * 65000,
    b'p1/' + b'd' * 300, b'$SYS/d1', b'p1/d1/../d2',
]


def test_hostile_client_ids_and_usernames_refused(world):
    b, me = world['broker'], world['me']
    mark = b.log_mark()
    results = []
    for cid, kind in HOSTILE_CLIENT_IDS:
        for proto in (4, 5):
            rc = raw_connect(b.port, cid, me.username.encode(), me.secret.encode(), proto)
            assert rc not in (0,), 'client id %r accepted (proto %d)' % (cid, proto)
            results.append((cid, proto, rc))
    for user in HOSTILE_USERNAMES:
        for proto in (4, 5):
            rc = raw_connect(b.port, b'hostile-' + uuid.uuid4().hex[:6].encode(), user,
                             me.secret.encode(), proto)
            assert rc != 0, 'username %r accepted (proto %d)' % (user[:40], proto)
            results.append((user[:20], proto, rc))
    # Oversize client id (the MQTT maximum) with the right credentials of
    # someone else's username: refused, and the broker stays up.
    rc = raw_connect(b.port, b'x' * 65535, world['victim'].username.encode(), b'wrong')
    assert rc != 0
    # No password, empty password, a password of the wrong device.
    for pw in (None, b'', world['victim'].secret.encode(), b'x' * 65535):
        rc = raw_connect(b.port, b'nopw', me.username.encode(), pw)
        assert rc != 0, 'password %r accepted' % (pw[:10] if pw else pw)

    text = b.log_text()[mark:]
    # Logged: the plugin names every refusal it makes; what the broker
    # itself refuses (invalid UTF-8 and NUL in strings) it logs as a
    # dropped connection.
    n_wild = sum(1 for _, k in HOSTILE_CLIENT_IDS if k == 'wildcard') * 2
    assert len(re.findall(r'client id contains an MQTT wildcard', text)) >= n_wild, text[-3000:]
    n_malformed = sum(1 for _, k in HOSTILE_CLIENT_IDS if k == 'malformed') * 2
    dropped = re.findall(r'Client <unknown> disconnected due to malformed packet'
                         r'|Bad socket read/write on client <unknown>'
                         r'|Client <unknown> disconnected due to protocol error', text)
    refused = re.findall(r'iothub: refused client "[^"]*" \(username "[^"]*"\)', text)
    assert len(dropped) + len(refused) >= n_malformed + len(HOSTILE_USERNAMES) * 2 + 5, \
        (len(dropped), len(refused), text[-3000:])
    # Control characters never reach the log as such.
    assert '\x01' not in text and '\x7f' not in text
    assert b.running and world['attacker'].connected
    H.report('attacks-identities', attempts=len(results) + 5, plugin_refusals_logged=len(refused),
             broker_drops_logged=len(dropped))


def test_client_id_cannot_widen_a_placeholder_rule(mongo, broker, mqtt):
    """%c in a rule: a client id with '/' or '%' gets no share of anyone
    else's subtree (the rule is dropped for it: placeholder.h)."""
    me = mongo.add_device(P, D)
    admin = mongo.add_device('ops', 'monitor', superuser=True)
    b = broker(options=dict(NO_THROTTLE, acl_pubsub='inbox/%c/#'))
    monitor = mqtt(b, admin.username, admin.secret, 'monitor', proto=5)
    monitor.subscribe([('inbox/#', 1)])
    ok = mqtt(b, me.username, me.secret, 'mine', proto=5)
    assert ok.publish('inbox/mine/x', b'ok', 1) in PUBACK_OK       # control
    monitor.wait_for(1)
    mark = b.log_mark()
    cases = {'victim/x': 'inbox/victim/x/y', '%u': 'inbox/p1/d1/y', '%c': 'inbox/x/y',
             'mine/..': 'inbox/mine/x'}
    for cid, topic in cases.items():
        c = mqtt(b, me.username, me.secret, cid, proto=5)
        assert c.connack == 0, cid
        assert c.publish(topic, b'evil', 1) == RC_NOT_AUTHORIZED, (cid, topic)
        assert c.subscribe([('inbox/victim/#', 1)]) == [RC_NOT_AUTHORIZED], cid
        c.disconnect()
    monitor.expect_no_message(0.3)
    for cid, topic in cases.items():
        b.wait_log(r'denied publish of "%s" to p1/d1 \(client %s\)' % (
            re.escape(topic), re.escape(cid)), since=mark, timeout=5)


# ----------------------------------------------------------------------
# $CONTROL
# ----------------------------------------------------------------------
def test_control_commands_from_a_device_refused(world, mqtt):
    b, a = world['broker'], world['attacker']
    victim = mqtt(b, world['victim'].username, world['victim'].secret, 'victim', proto=5)
    assert victim.connack == 0
    mark = b.log_mark()
    commands = [
        {'command': 'kickDevice', 'username': 'p1/d2'},
        {'command': 'kickClient', 'clientid': 'victim'},
        {'command': 'kickClient', 'clientid': 'monitor'},
        {'command': 'invalidateDevice', 'username': 'p1/d2'},
        {'command': 'getStats'},
    ]
    import json
    for cmd in commands:
        rc = a.publish('$CONTROL/iothub/v1', json.dumps({'commands': [cmd]}).encode(), 1)
        assert rc == RC_NOT_AUTHORIZED, (cmd, rc)
    # QoS 0 too: no PUBACK to refuse with, but the command must still not run.
    a.publish('$CONTROL/iothub/v1', json.dumps({'commands': commands}).encode(), 0)
    assert a.subscribe([('$CONTROL/iothub/v1/response', 1)]) == [RC_NOT_AUTHORIZED]
    time.sleep(1.0)                 # kicks would run at the next TICK (100 ms)
    assert victim.connected and world['monitor'].connected and a.connected
    b.wait_log(r'denied publish of "\$CONTROL/iothub/v1" to p1/d1', since=mark, timeout=5)
    assert len(re.findall(r'denied publish of "\$CONTROL/iothub/v1" to p1/d1',
                          b.log_text()[mark:])) >= len(commands) + 1
    b.assert_no_log(r'kicked|iothub: device p1/d2 is', since=mark)
    a.expect_no_message(0.3)
    # Control: the superuser's command works on the same broker.
    admin = mqtt(b, world['admin'].username, world['admin'].secret, 'admin-ctl', proto=5)
    assert admin.subscribe([('$CONTROL/iothub/v1/response', 1)]) == [1]
    assert admin.publish('$CONTROL/iothub/v1', json.dumps(
        {'commands': [{'command': 'kickClient', 'clientid': 'victim'}]}).encode(), 1) in PUBACK_OK
    assert victim.wait_disconnect(5)


# ----------------------------------------------------------------------
# Brute force
# ----------------------------------------------------------------------
def _hammer(port, user, n, pw=b'wrong'):
    codes = {}
    t = time.monotonic()
    for i in range(n):
        rc = raw_connect(port, b'bf-%d' % (i % 10), user, pw + str(i).encode())
        codes[rc] = codes.get(rc, 0) + 1
    return time.monotonic() - t, codes


@pytest.mark.slow
def test_thousand_wrong_passwords_throttled(mongo, broker):
    # A hashed secret ($7$, PBKDF2-SHA512 as mosquitto_passwd writes it):
    # what a wrong password costs is then a real hash computation.
    dev = mongo.add_device('p1', 'bf', password_hash=True, store_secret=False)
    other = mongo.add_device('p1', 'bystander')
    n = 1000

    # Throttled (defaults: 10 failures per 60 s window -> 60 s block, per
    # username; the address only loses the cheap path for failing names).
    b = broker()
    mark = b.log_mark()
    secs_on, codes_on = _hammer(b.port, dev.username.encode(), n)
    right_on = raw_connect(b.port, b'bf-right', dev.username.encode(), dev.secret.encode())
    bystander_on = raw_connect(b.port, b'bystander', other.username.encode(), other.secret.encode())
    text = b.log_text()[mark:]
    checked_on = len(re.findall(r'username "p1/bf"\) from [^:]*: wrong password', text))
    throttled_on = len(re.findall(r'too many failed logins', text))
    assert codes_on.get(0, 0) == 0
    assert right_on not in (0, None), 'the right password got through during the block (CONNACK %r)' % right_on
    # The address is blocked too, but that alone refuses nobody: a device
    # with the right secret behind the same (NAT) address gets in.
    assert bystander_on == 0, 'another device from the same address was refused (CONNACK %r)' % bystander_on
    assert checked_on == 10, checked_on
    assert throttled_on >= n - 10 + 1
    assert re.search(r'10 failed logins for username "p1/bf" within 60s: refusing it for 60s', text)
    assert re.search(r'10 failed logins for address "127\.0\.0\.1"', text)
    b.stop()

    # Unthrottled (auth_fail_max 0): every attempt reaches the password check.
    b2 = broker(options=NO_THROTTLE)
    mark = b2.log_mark()
    secs_off, codes_off = _hammer(b2.port, dev.username.encode(), n)
    right_off = raw_connect(b2.port, b'bf-right', dev.username.encode(), dev.secret.encode())
    checked_off = len(re.findall(r'username "p1/bf"\) from [^:]*: wrong password', b2.log_text()[mark:]))
    assert codes_off.get(0, 0) == 0
    assert right_off == 0
    assert checked_off == n

    H.report('brute-force', attempts=n,
             throttled_seconds=round(secs_on, 2), throttled_attempts_per_s=round(n / secs_on),
             throttled_reaching_password_check=checked_on,
             throttled_refused_by_throttle=throttled_on,
             unthrottled_seconds=round(secs_off, 2), unthrottled_attempts_per_s=round(n / secs_off),
             unthrottled_reaching_password_check=checked_off,
             right_password_after_1000_throttled=right_on, right_password_unthrottled=right_off,
             bystander_same_address=bystander_on)
