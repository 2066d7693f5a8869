# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Per-device ACL end to end: what a device and an operator see.

Two devices of one product (p1/d1, p1/d2) and one of another (p2/d1), with
the IotHub defaults (docs/PROTOCOL.md §4), driven with paho (MQTT 3.1.1 and
5: SUBACK 0x80 / 0x87, PUBACK 0x87) and with mosquitto_pub/mosquitto_sub.
A superuser watcher subscribed to '#' tells whether a publish went through.

Negative checks avoid fixed sleeps: messages from one publisher reach one
subscriber in order, so after a refused publish the publisher sends an
allowed sentinel, and the first message the watcher sees must be it.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_acl.py -q
"""

import json
import re
import subprocess
import time

import pytest

import harness
from plugin_helpers import (MARGIN, PUBACK_OK, QUIET,
                            RC_ADMINISTRATIVE_ACTION, RC_NOT_AUTHORIZED,
                            SUBACK_FAILURE_311, Admin, add_admin,
                            assert_refused, run_ctl, unique_id)

pytestmark = pytest.mark.needs_plugin


# Device p1/d1's own uplinks, one per row of docs/PROTOCOL.md §4.
UPLINKS = [
    'upload_data/p1/d1/temperature/m1',
    'update_status/p1/d1/m2',
    'update_ota_status/p1/d1/m3',
    'cmd_resp/p1/d1/reboot/req1/m4',
    'rpc_resp/p1/d1/getconf/req2/m5',
    'get/p1/d1/firmware/m6',
    'm2m/p1/d2/d1/m7',                  # to a peer, FromD = itself
]
FORBIDDEN_PUBLISH = [
    'upload_data/p1/d2/temperature/m1',  # a peer's uplink
    'update_status/p2/d1/m2',            # same DeviceName, other product
    'cmd_resp/p1/d2/reboot/req1/m3',
    'get/p1/d2/firmware/m4',
    'm2m/p1/d2/d3/m5',                   # impersonating sender d3
    'm2m/p1/d2/d2/m6',                   # impersonating the recipient
    'm2m/p2/d1/d1/m7',                   # another product
    'cmd/p1/d1/reboot/json/req9',        # commands come from the platform
    'upload_data/p1/d1/temperature',     # too short for the template
    'upload_data/p1/d1/t/m/extra',       # too long
    'anything/else',
]
ALLOWED_SUBSCRIBE = [
    'tags/p1/floor1/cmd/+/+/+/#',        # its tag's group commands
    'tags/p1/+/cmd/+/+/+/#',
    'tags/p1/floor1/cmd/reboot/json/+',
    'cmd/p1/d1/+/+/+/#',                 # its own auto-subscriptions
    'rpc/p1/d1/+/+/+/#',
    'm2m/p1/d1/+/+',
    'cmd/p1/d1/reboot/+/+',
]
FORBIDDEN_SUBSCRIBE = [
    'cmd/p1/d2/+/+/+/#',                 # a peer's commands
    'cmd/p2/d1/+/+/+/#',
    'cmd/p1/+/+/+/+/#',
    'm2m/p1/d2/+/+',
    '#',
    '+/p1/#',
    '+/p1/d1/#',
    'tags/#',
    'tags/p1/floor1/cmd/#',              # wider than the template
    'tags/p2/+/cmd/+/+/+/#',
    '+/p1/+/cmd/#',
    '$SYS/#',
    '$SYS/broker/clients/connected',
    '$CONTROL/#',
    'upload_data/p1/d1/+/+',             # publish rights are not read rights
]


def ok_puback(code):
    return code in PUBACK_OK


@pytest.fixture
def fleet(mongo, broker, mqtt):
    """The three devices, a broker with the defaults, the watcher."""
    class Fleet:
        pass
    f = Fleet()
    f.d1 = mongo.add_device('p1', 'd1', tags=['floor1'])
    f.d2 = mongo.add_device('p1', 'd2', tags=['floor2'])
    f.p2d1 = mongo.add_device('p2', 'd1', tags=['floor1'])
    f.admin_dev = add_admin(mongo)
    f.broker = broker(options=dict(QUIET))
    f.admin = Admin(mqtt, f.broker, f.admin_dev)

    def connect(dev, proto=5, client_id=None, **kw):
        c = mqtt(f.broker, dev.username, dev.secret,
                 client_id=client_id or unique_id(dev.device), proto=proto,
                 **kw)
        assert c.connack == 0, c.connack
        return c
    f.connect = connect
    return f


def first_topic(client, within=5.0):
    return client.wait_for(1, within)[0].topic


# ----------------------------------------------------------------------
# the matrix, with paho
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', [4, 5])
def test_publish_own_uplinks(fleet, proto):
    c = fleet.connect(fleet.d1, proto)
    d2 = fleet.connect(fleet.d2)
    for topic in UPLINKS:
        code = c.publish(topic, 'x', qos=1)
        assert ok_puback(code), (topic, code)
        assert fleet.admin.seen(topic), topic
    # the m2m message reached its recipient through its auto-subscription
    assert first_topic(d2) == 'm2m/p1/d2/d1/m7'


@pytest.mark.parametrize('proto', [4, 5])
def test_publish_forbidden(fleet, proto):
    c = fleet.connect(fleet.d1, proto, client_id='d1-forbidden-%d' % proto)
    d2 = fleet.connect(fleet.d2)
    p2 = fleet.connect(fleet.p2d1)
    b = fleet.broker
    for topic in FORBIDDEN_PUBLISH:
        mark = b.log_mark()
        code = c.publish(topic, 'x', qos=1)
        if proto == 5:
            assert code == RC_NOT_AUTHORIZED, (topic, code)
        b.wait_log(r'iothub: denied publish of "%s" to p1/d1 \(client d1-forbidden-%d\)'
                   % (re.escape(topic), proto), since=mark, timeout=5)
        # dropped: the watcher's next message from d1 is the sentinel
        assert ok_puback(c.publish('upload_data/p1/d1/t/after', topic, qos=1))
        msg = fleet.admin.watch.wait_for(1, 5)[0]
        assert (msg.topic, msg.payload.decode()) == ('upload_data/p1/d1/t/after', topic)
    # the peers never got the impersonated / cross-product m2m messages
    assert ok_puback(c.publish('m2m/p1/d2/d1/sentinel', 'x', qos=1))
    assert first_topic(d2) == 'm2m/p1/d2/d1/sentinel'
    p2.expect_no_message(0.2)
    assert b.running


@pytest.mark.parametrize('proto', [4, 5])
def test_subscribe_own_filters(fleet, proto):
    c = fleet.connect(fleet.d1, proto)
    for f in ALLOWED_SUBSCRIBE:
        assert c.subscribe(f, qos=1) == [1], f
    # tag commands arrive through the explicit subscription
    fleet.admin.publish('tags/p1/floor1/cmd/reboot/json/r1')
    assert first_topic(c) == 'tags/p1/floor1/cmd/reboot/json/r1'


@pytest.mark.parametrize('proto', [4, 5])
def test_subscribe_forbidden(fleet, proto):
    c = fleet.connect(fleet.d1, proto, client_id='d1-sub-%d' % proto)
    fail = RC_NOT_AUTHORIZED if proto == 5 else SUBACK_FAILURE_311
    b = fleet.broker
    for f in FORBIDDEN_SUBSCRIBE:
        mark = b.log_mark()
        assert c.subscribe(f, qos=1) == [fail], f
        b.wait_log(r'iothub: denied subscribe of "%s" to p1/d1 \(client d1-sub-%d\)'
                   % (re.escape(f), proto), since=mark, timeout=5)
    # one SUBSCRIBE with a mix gets a code per filter
    assert c.subscribe(['cmd/p1/d1/+/+/+/#', '#', 'tags/p1/floor1/cmd/+/+/+/#'],
                       qos=1) == [1, fail, 1]
    # nothing from the refused filters arrives: a peer's command and a
    # $SYS update are not delivered, its own command is
    fleet.admin.publish('cmd/p1/d2/reboot/json/r1')
    fleet.admin.publish('cmd/p1/d1/reboot/json/r2')
    assert first_topic(c) == 'cmd/p1/d1/reboot/json/r2'


def test_receive_own_commands_only(fleet):
    d1 = fleet.connect(fleet.d1, 4)
    d2 = fleet.connect(fleet.d2, 5)
    p2 = fleet.connect(fleet.p2d1, 5)
    # no SUBSCRIBE: the plugin auto-subscribed them
    fleet.admin.publish('cmd/p1/d1/reboot/json/r1')
    fleet.admin.publish('rpc/p1/d1/getconf/json/r2/1999999999')
    fleet.admin.publish('cmd/p2/d1/reboot/json/r3')
    fleet.admin.publish('cmd/p1/d2/reboot/json/r4')
    assert [m.topic for m in d1.wait_for(2)] == [
        'cmd/p1/d1/reboot/json/r1', 'rpc/p1/d1/getconf/json/r2/1999999999']
    assert first_topic(p2) == 'cmd/p2/d1/reboot/json/r3'
    assert first_topic(d2) == 'cmd/p1/d2/reboot/json/r4'
    d1.expect_no_message(0.2)


def test_m2m_between_peers(fleet):
    d1 = fleet.connect(fleet.d1, 5)
    d2 = fleet.connect(fleet.d2, 4)
    assert ok_puback(d1.publish('m2m/p1/d2/d1/hello', 'hi', qos=1))
    msg = d2.wait_for(1)[0]
    assert (msg.topic, msg.payload) == ('m2m/p1/d2/d1/hello', b'hi')
    assert d2.publish('m2m/p1/d1/d2/reply', 'yo', qos=1) == 0
    assert first_topic(d1) == 'm2m/p1/d1/d2/reply'
    # d1 does not get d2's inbox
    d1.expect_no_message(0.2)


@pytest.mark.parametrize('client_id', ['d1#', 'd1+x', '+', '#'])
def test_wildcard_client_id_refused(fleet, mqtt, client_id):
    for proto in (4, 5):
        c = mqtt(fleet.broker, fleet.d1.username, fleet.d1.secret,
                 client_id=client_id, proto=proto)
        assert c.connack == (5 if proto == 4 else RC_NOT_AUTHORIZED)


def test_device_cannot_use_control_channel(fleet):
    d1 = fleet.connect(fleet.d1, 5, client_id='d1-ctl')
    d2 = fleet.connect(fleet.d2, 5)
    mark = fleet.broker.log_mark()
    payload = json.dumps({'commands': [{'command': 'kickDevice',
                                        'username': 'p1/d2'}]})
    assert d1.publish('$CONTROL/iothub/v1', payload, qos=1) == RC_NOT_AUTHORIZED
    fleet.broker.wait_log(r'iothub: denied publish of "\$CONTROL/iothub/v1" to '
                          r'p1/d1 \(client d1-ctl\)', since=mark)
    d1.expect_no_message(0.3)       # no response either
    # the command never ran: d2 is still there and gets its commands
    fleet.admin.publish('cmd/p1/d2/ping/json/r1')
    assert first_topic(d2) == 'cmd/p1/d2/ping/json/r1'
    assert d2.connected
    assert fleet.admin.stats()['kicks'] == 0


def test_superuser_bypasses_acl(fleet, mqtt):
    su = mqtt(fleet.broker, fleet.admin_dev.username, fleet.admin_dev.secret,
              client_id='su-1', proto=5)
    assert su.connack == 0
    assert su.subscribe(['#', '$SYS/#', 'cmd/+/+/+/+/+/#'], qos=1) == [1, 1, 1]
    assert ok_puback(su.publish('upload_data/p1/d2/t/m1', 'x', qos=1))
    assert ok_puback(su.publish('whatever/else', 'x', qos=1))
    want = {'upload_data/p1/d2/t/m1', 'whatever/else', '$SYS/broker/version'}
    deadline = time.monotonic() + 5
    while want and time.monotonic() < deadline:
        want.discard(su.wait_for(1, 5)[0].topic)
    assert not want, 'not received: %s' % want


# ----------------------------------------------------------------------
# the matrix, with mosquitto_pub / mosquitto_sub
# ----------------------------------------------------------------------
def test_matrix_with_mosquitto_clients(fleet, sub):
    b = fleet.broker
    d1 = fleet.d1
    for proto in ('mqttv311', 'mqttv5'):
        for topic in UPLINKS:
            rc, err = harness.pub(b.port, topic, 'cli', user=d1.username,
                                  pw=d1.secret, qos=1, proto=proto)
            assert rc == 0, (topic, err)
            assert fleet.admin.seen(topic), topic
        for topic in ('upload_data/p1/d2/t/m1', 'm2m/p1/d2/d3/m1',
                      'm2m/p2/d1/d1/m1', '$CONTROL/iothub/v1'):
            mark = b.log_mark()
            harness.pub(b.port, topic, 'cli', user=d1.username, pw=d1.secret,
                        qos=1, proto=proto)
            b.wait_log(r'iothub: denied publish of "%s" to p1/d1'
                       % re.escape(topic), since=mark)
            harness.pub(b.port, 'update_status/p1/d1/sentinel', topic,
                        user=d1.username, pw=d1.secret, qos=1, proto=proto)
            msg = fleet.admin.watch.wait_for(1, 5)[0]
            assert msg.topic == 'update_status/p1/d1/sentinel', (topic, msg)

        s = sub(b, ALLOWED_SUBSCRIBE + FORBIDDEN_SUBSCRIBE, user=d1.username,
                pw=d1.secret, qos=1, proto=proto,
                client_id=unique_id('d1-sub'))
        fail = SUBACK_FAILURE_311 if proto == 'mqttv311' else RC_NOT_AUTHORIZED
        assert s.wait_subscribed() == [1] * len(ALLOWED_SUBSCRIBE) + \
            [fail] * len(FORBIDDEN_SUBSCRIBE), proto
        fleet.admin.publish('cmd/p1/d2/reboot/json/r1')
        fleet.admin.publish('cmd/p1/d1/reboot/json/r1')
        assert s.wait_for(1)[0] == 'cmd/p1/d1/reboot/json/r1 x'
        assert not any('p1/d2' in line for line in s.lines), s.lines
        s.stop()
    # a wildcard client id is refused by mosquitto_pub's CONNECT too
    for proto in ('mqttv311', 'mqttv5'):
        assert_refused(harness.pub(b.port, UPLINKS[0], 'x', user=d1.username,
                                   pw=d1.secret, client_id='d1#x', proto=proto),
                       proto)


# ----------------------------------------------------------------------
# rule sources and options
# ----------------------------------------------------------------------
def test_registry_deny_lists(mongo, broker, mqtt):
    d1 = mongo.add_device('p1', 'd1', tags=['floor1', 'blocked'], acl={
        'publish': ['extra/p1/d1/#'],
        'deny': ['upload_data/p1/d1/secret/+'],
        'deny_publish': ['extra/p1/d1/private/#'],
        'deny_subscribe': ['tags/p1/blocked/#'],
    })
    d2 = mongo.add_device('p1', 'd2', acl={'acl': {
        'deny_publish': ['update_status/p1/d2/+']}}, acl_inline=True)
    admin = add_admin(mongo)
    b = broker(options=dict(QUIET))
    watch = Admin(mqtt, b, admin)
    c = mqtt(b, d1.username, d1.secret, client_id='deny-d1', proto=5)
    assert c.connack == 0
    # deny wins over the default template and over the device's own grant
    assert c.publish('upload_data/p1/d1/secret/m1', 'x', qos=1) == RC_NOT_AUTHORIZED
    assert ok_puback(c.publish('upload_data/p1/d1/temp/m1', 'x', qos=1))
    assert ok_puback(c.publish('extra/p1/d1/a', 'x', qos=1))
    assert c.publish('extra/p1/d1/private/a', 'x', qos=1) == RC_NOT_AUTHORIZED
    # subscribing inside the denied subtree is refused ...
    assert c.subscribe('tags/p1/blocked/cmd/+/+/+/#', qos=1) == [RC_NOT_AUTHORIZED]
    # ... a wider filter is accepted, and delivery filters the denied part
    assert c.subscribe('tags/p1/+/cmd/+/+/+/#', qos=1) == [1]
    watch.publish('tags/p1/blocked/cmd/reboot/json/r1')
    watch.publish('tags/p1/floor1/cmd/reboot/json/r2')
    assert first_topic(c) == 'tags/p1/floor1/cmd/reboot/json/r2'
    c.expect_no_message(0.2)
    # inline deny list of another device
    c2 = mqtt(b, d2.username, d2.secret, client_id='deny-d2', proto=5)
    assert c2.connack == 0
    assert c2.publish('update_status/p1/d2/m1', 'x', qos=1) == RC_NOT_AUTHORIZED
    assert ok_puback(c2.publish('upload_data/p1/d2/t/m1', 'x', qos=1))


def test_client_id_placeholder_never_widens(mongo, broker, mqtt):
    """%c with a client id holding '/' drops the rule (the device gets
    less), instead of reaching into another subtree."""
    d1 = mongo.add_device('p1', 'd1')
    b = broker(options=dict(QUIET, acl_pubsub='inbox/%c/#'))
    good = mqtt(b, d1.username, d1.secret, client_id='c1', proto=5)
    assert good.connack == 0
    assert ok_puback(good.publish('inbox/c1/x', 'x', qos=1))
    assert good.subscribe('inbox/c1/#', qos=1) == [1]
    assert good.publish('inbox/c2/x', 'x', qos=1) == RC_NOT_AUTHORIZED

    mark = b.log_mark()
    slash = mqtt(b, d1.username, d1.secret, client_id='c1/x', proto=5)
    assert slash.connack == 0        # admitted, with fewer rights
    b.wait_log(r'iothub: client "c1/x" \(username "p1/d1"\): 1 ACL rule\(s\) '
               r'dropped for this connection, first "inbox/%c/#"', since=mark)
    for topic in ('inbox/c1/x/y', 'inbox/c1/y', 'inbox/c1/x'):
        assert slash.publish(topic, 'x', qos=1) == RC_NOT_AUTHORIZED, topic
    assert slash.subscribe('inbox/c1/x/#', qos=1) == [RC_NOT_AUTHORIZED]
    assert slash.subscribe('inbox/#', qos=1) == [RC_NOT_AUTHORIZED]
    # its other rules still apply
    assert ok_puback(slash.publish('upload_data/p1/d1/t/m1', 'x', qos=1))


def test_deny_rule_with_unsafe_client_id_is_widened(mongo, broker, mqtt):
    d1 = mongo.add_device('p1', 'd1')
    b = broker(options=dict(QUIET, acl_pubsub='box/#',
                            acl_deny='box/%c/private'))
    c = mqtt(b, d1.username, d1.secret, client_id='a/b', proto=5)
    assert c.connack == 0
    b.wait_log(r'iothub: client "a/b" \(username "p1/d1"\): 1 deny rule\(s\) '
               r'widened with wildcards')
    assert c.publish('box/other/private', 'x', qos=1) == RC_NOT_AUTHORIZED
    assert ok_puback(c.publish('box/x/public', 'x', qos=1))


def test_acl_nomatch_allow(mongo, broker, mqtt):
    d1 = mongo.add_device('p1', 'd1', acl={'deny_publish': ['forbidden/#']})
    b = broker(options=dict(QUIET, acl_nomatch='allow'))
    c = mqtt(b, d1.username, d1.secret, client_id='nomatch', proto=5)
    assert c.connack == 0
    assert ok_puback(c.publish('random/topic', 'x', qos=1))
    assert c.subscribe('random/#', qos=1) == [1]
    # deny still wins
    assert c.publish('forbidden/x', 'x', qos=1) == RC_NOT_AUTHORIZED
    # and '$' topics stay closed: only a literal rule opens them
    assert c.subscribe('$SYS/#', qos=1) == [RC_NOT_AUTHORIZED]
    assert c.subscribe('$CONTROL/iothub/v1/response', qos=1) == [RC_NOT_AUTHORIZED]
    assert c.publish('$CONTROL/iothub/v1', '{}', qos=1) == RC_NOT_AUTHORIZED


def test_literal_rule_opens_sys(mongo, broker, mqtt):
    d1 = mongo.add_device('p1', 'd1', acl={'subscribe': ['$SYS/broker/uptime']})
    b = broker(options=dict(QUIET))
    c = mqtt(b, d1.username, d1.secret, client_id='sys1', proto=5)
    assert c.connack == 0
    assert c.subscribe('$SYS/broker/uptime', qos=0) == [0]
    assert c.subscribe('$SYS/#', qos=0) == [RC_NOT_AUTHORIZED]


@pytest.mark.parametrize('proto', [4, 5])
def test_deny_action_disconnect(mongo, broker, mqtt, proto):
    d1 = mongo.add_device('p1', 'd1')
    b = broker(options=dict(QUIET, acl_deny_action='disconnect'))
    c = mqtt(b, d1.username, d1.secret, client_id='rude', proto=proto)
    assert c.connack == 0
    assert ok_puback(c.publish('upload_data/p1/d1/t/m1', 'x', qos=1))
    assert c.connected
    code = c.publish('upload_data/p1/d2/t/m1', 'x', qos=1)
    if proto == 5:
        assert code == RC_NOT_AUTHORIZED
    assert c.wait_disconnect(5), 'not disconnected'
    if proto == 5:
        assert c.server_disconnect_reason == RC_ADMINISTRATIVE_ACTION
    # the device may come back; a denied subscribe disconnects as well
    c2 = mqtt(b, d1.username, d1.secret, client_id='rude2', proto=proto)
    assert c2.connack == 0
    # The kick may land before paho's subscribe() returns (it then reports
    # MQTT_ERR_NO_CONN locally): what the device sees is the disconnect.
    c2.client.subscribe('#', 1)
    assert c2.wait_disconnect(5)


def test_deny_action_ignore_keeps_connection(mongo, broker, mqtt):
    d1 = mongo.add_device('p1', 'd1')
    b = broker(options=dict(QUIET))
    c = mqtt(b, d1.username, d1.secret, client_id='polite', proto=5)
    assert c.publish('upload_data/p1/d2/t/m1', 'x', qos=1) == RC_NOT_AUTHORIZED
    assert c.subscribe('#', qos=1) == [RC_NOT_AUTHORIZED]
    assert ok_puback(c.publish('upload_data/p1/d1/t/m1', 'x', qos=1))
    assert c.connected


# ----------------------------------------------------------------------
# clients we did not authenticate
# ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def other_plugin(tmp_path_factory):
    src = harness.REPO / 'test' / 'integration' / 'other_auth_plugin.c'
    out = tmp_path_factory.mktemp('other') / 'other_auth_plugin.so'
    subprocess.run(['cc', '-shared', '-fPIC', '-Wall', '-Werror', '-o',
                    str(out), str(src)], check=True)
    return out


def test_defer_for_clients_authenticated_elsewhere(mongo, broker, mqtt,
                                                   other_plugin):
    """A client admitted by another plugin (MQTT 5 enhanced auth: our
    BASIC_AUTH never runs) gets DEFER from our ACL check: the plugin
    after ours decides."""
    admin = add_admin(mongo)
    b = broker(options=dict(QUIET),
               extra_conf='plugin %s' % other_plugin)
    watch = Admin(mqtt, b, admin)
    before = watch.stats()['acl']['deferred']
    c = mqtt(b, 'outsider', None, client_id='outsider-1', proto=5,
             auth_method='iothub-test')
    assert c.connack == 0
    assert ok_puback(c.publish('upload_data/p1/d1/t/m1', 'x', qos=1))
    assert watch.seen('upload_data/p1/d1/t/m1')
    assert c.subscribe('anything/#', qos=1) == [1]
    assert watch.stats()['acl']['deferred'] >= before + 2
    b.assert_no_log(r'iothub: denied .* \(client outsider-1\)')


def test_defer_alone_is_a_denial(mongo, broker, mqtt, other_plugin):
    """Same, with nobody after us deciding: mosquitto turns an all-DEFER
    answer into a denial, so our DEFER did not allow anything."""
    admin = add_admin(mongo)
    b = broker(options=dict(QUIET),
               extra_conf='plugin %s\nplugin_opt_acl false' % other_plugin)
    watch = Admin(mqtt, b, admin)
    c = mqtt(b, 'outsider', None, client_id='outsider-2', proto=5,
             auth_method='iothub-test')
    assert c.connack == 0
    assert c.publish('upload_data/p1/d1/t/m1', 'x', qos=1) == RC_NOT_AUTHORIZED
    assert c.subscribe('anything/#', qos=1) == [RC_NOT_AUTHORIZED]
    assert watch.stats()['acl']['deferred'] >= 2


# ----------------------------------------------------------------------
# rule changes reach live connections
# ----------------------------------------------------------------------
def poll_publish(client, topic, want, limit):
    """Publish until the PUBACK code is in ``want``, for at most ``limit``
    seconds."""
    harness.wait_until(lambda: client.publish(topic, 'x', qos=1) in want,
                       limit, interval=0.1,
                       what='PUBACK in %s for %s' % (want, topic))


def test_acl_change_applied_after_invalidation(mongo, broker, mqtt):
    """iothubctl changes the registry, then sends invalidateDevice; the
    plugin re-reads the record before it answers, so when iothubctl exits
    the live connection already runs on the new rules (even a decision
    held in its ACL cache)."""
    d1 = mongo.add_device('p1', 'd1')
    admin = add_admin(mongo)
    b = broker(options=dict(QUIET, acl_cache_ttl='1h', auth_cache_ttl='1h'))

    def ctl(*args):
        res = run_ctl(b.registry, [
            '--mongo-uri', mongo.uri, '--mongo-db', mongo.db_name, '--json',
            '--broker', '127.0.0.1:%d' % b.port, '--broker-user',
            admin.username, '--broker-pass', admin.secret] + list(args))
        assert res.rc == 0, res
        return res

    c = mqtt(b, d1.username, d1.secret, client_id='live-acl', proto=5)
    assert c.connack == 0
    # denied, and the decision is now in the connection's ACL cache
    assert c.publish('extra/p1/d1/x', 'x', qos=1) == RC_NOT_AUTHORIZED
    assert c.publish('extra/p1/d1/x', 'x', qos=1) == RC_NOT_AUTHORIZED
    ctl('acl', 'add', 'publish', 'p1/d1', 'extra/%u/#')
    assert ok_puback(c.publish('extra/p1/d1/x', 'x', qos=1))
    assert c.connected, 'an ACL change must not kick the device'
    ctl('acl', 'remove', 'publish', 'p1/d1', 'extra/%u/#')
    assert c.publish('extra/p1/d1/x', 'x', qos=1) == RC_NOT_AUTHORIZED
    # the same through the control channel directly: the answer is held
    # until the re-read reached the live connection
    mongo.db.device_acl.update_one({'broker_username': 'p1/d1'},
                                   {'$push': {'publish': 'other/%u'}})
    data = Admin(mqtt, b, admin, watch=None).command('invalidateDevice',
                                                     username='p1/d1')
    assert data == {'connections': 1}
    assert ok_puback(c.publish('other/p1/d1', 'x', qos=1))


@pytest.mark.slow
def test_acl_change_applied_by_revalidation(mongo, broker, mqtt):
    d1 = mongo.add_device('p1', 'd1')
    b = broker(options={'revalidate_interval': '2s', 'stats_interval': '0',
                        'acl_cache_ttl': '1h', 'auth_cache_ttl': '1h'})
    c = mqtt(b, d1.username, d1.secret, client_id='reval', proto=5)
    assert c.connack == 0
    assert c.publish('extra/p1/d1/x', 'x', qos=1) == RC_NOT_AUTHORIZED
    mongo.db.device_acl.insert_one({'broker_username': 'p1/d1',
                                    'publish': ['extra/%u/#']})
    poll_publish(c, 'extra/p1/d1/x', PUBACK_OK, 2 + 2 + MARGIN)
    # a new deny rule as well
    mongo.db.device_acl.update_one({'broker_username': 'p1/d1'},
                                   {'$set': {'deny': ['upload_data/p1/d1/x/+']}})
    assert ok_puback(c.publish('upload_data/p1/d1/x/m1', 'x', qos=1))
    poll_publish(c, 'upload_data/p1/d1/x/m1', (RC_NOT_AUTHORIZED,), 2 + 2 + MARGIN)
    assert c.connected


def test_acl_cache_ttl(mongo, broker, mqtt):
    """Decisions are cached per connection for acl_cache_ttl; a cache of
    size 0 never hits. (Rules only change through a refresh, which clears
    the cache, so the TTL is visible only in the counters.)"""
    d1 = mongo.add_device('p1', 'd1')
    admin = add_admin(mongo)
    b = broker(options=dict(QUIET, acl_cache_ttl='3s'))
    watch = Admin(mqtt, b, admin, watch=None)
    c = mqtt(b, d1.username, d1.secret, client_id='cache1', proto=5)
    assert c.connack == 0

    def hits():
        return watch.stats()['acl']['cache_hits']
    topic = 'upload_data/p1/d1/t/m1'
    c.publish(topic, 'x', qos=1)                  # miss, stored
    h0 = hits()
    c.publish(topic, 'x', qos=1)
    c.publish(topic, 'x', qos=1)
    assert hits() == h0 + 2
    c.publish('upload_data/p1/d1/t/m2', 'x', qos=1)   # another topic: miss
    assert hits() == h0 + 2
    time.sleep(3.1)             # the TTL; whole seconds, so valid 2-3 s
    c.publish(topic, 'x', qos=1)                  # expired: a miss again
    assert hits() == h0 + 2
    c.publish(topic, 'x', qos=1)
    assert hits() == h0 + 3


def test_acl_cache_disabled(mongo, broker, mqtt):
    d1 = mongo.add_device('p1', 'd1')
    admin = add_admin(mongo)
    b = broker(options=dict(QUIET, acl_cache_max_size='0'))
    watch = Admin(mqtt, b, admin, watch=None)
    c = mqtt(b, d1.username, d1.secret, client_id='nocache', proto=5)
    assert c.connack == 0
    for _ in range(5):
        assert ok_puback(c.publish('upload_data/p1/d1/t/m1', 'x', qos=1))
        assert c.publish('upload_data/p1/d2/t/m1', 'x', qos=1) == RC_NOT_AUTHORIZED
    s = watch.stats()['acl']
    assert s['cache_hits'] == 0 and s['denied'] >= 5


# ----------------------------------------------------------------------
# one client id, several connections
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', [4, 5])
def test_takeover_by_another_device_gets_its_own_rules(fleet, proto):
    """A client id is not an identity: when p1/d2 takes over the client id
    p1/d1 was using, the connection runs on d2's rules and receives d2's
    commands only (auto-subscriptions are indexed by client id)."""
    first = fleet.connect(fleet.d1, proto, client_id='shared-id')
    second = fleet.connect(fleet.d2, proto, client_id='shared-id')
    assert first.wait_disconnect(5), 'the old connection was not taken over'
    if proto == 5:
        assert second.publish('upload_data/p1/d1/t/m1', 'x', qos=1) == RC_NOT_AUTHORIZED
    assert ok_puback(second.publish('upload_data/p1/d2/t/m1', 'x', qos=1))
    fleet.admin.publish('cmd/p1/d1/reboot/json/r1')
    fleet.admin.publish('cmd/p1/d2/reboot/json/r2')
    assert first_topic(second) == 'cmd/p1/d2/reboot/json/r2'
    second.expect_no_message(0.2)


def test_resumed_session_keeps_rules_and_queued_commands(fleet, mqtt):
    """Persistent session: the rules that decide what the broker queues
    while the device is offline, and after it resumes (the old context's
    late DISCONNECT must not take them away)."""
    c = fleet.connect(fleet.d1, 4, client_id='persist-1', clean=False)
    c.disconnect()
    fleet.admin.publish('cmd/p1/d1/reboot/json/offline1')
    fleet.admin.publish('cmd/p1/d2/reboot/json/not-mine')
    c = fleet.connect(fleet.d1, 4, client_id='persist-1', clean=False)
    assert first_topic(c) == 'cmd/p1/d1/reboot/json/offline1'
    assert ok_puback(c.publish('upload_data/p1/d1/t/m1', 'x', qos=1))
    assert c.subscribe('cmd/p1/d2/+/+/+/#', qos=1) == [SUBACK_FAILURE_311]
    # resumed again by a takeover while online
    c2 = fleet.connect(fleet.d1, 5, client_id='persist-1', clean=False,
                       session_expiry=300)
    assert c.wait_disconnect(5)
    fleet.admin.publish('cmd/p1/d1/reboot/json/online2')
    assert first_topic(c2) == 'cmd/p1/d1/reboot/json/online2'
    assert c2.publish('upload_data/p1/d2/t/m1', 'x', qos=1) == RC_NOT_AUTHORIZED
    assert ok_puback(c2.publish('upload_data/p1/d1/t/m2', 'x', qos=1))


def test_other_device_resuming_a_session_gets_nothing_of_it(fleet):
    """p1/d2 resumes the persistent session p1/d1 left (same client id):
    what the broker queued for d1 is re-checked against d2's rules."""
    c = fleet.connect(fleet.d1, 4, client_id='victim-id', clean=False)
    c.disconnect()
    fleet.admin.publish('cmd/p1/d1/unlock/json/for-d1-only')
    thief = fleet.connect(fleet.d2, 4, client_id='victim-id', clean=False)
    fleet.admin.publish('cmd/p1/d2/reboot/json/sentinel')
    assert first_topic(thief) == 'cmd/p1/d2/reboot/json/sentinel'
    thief.expect_no_message(0.2)
    # nor does the session lend it d1's publish rights
    assert thief.publish('upload_data/p1/d1/t/m1', 'x', qos=1) == 0
    assert fleet.admin.seen('upload_data/p1/d1/t/m1', within=0.3) is False
