# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""iothubctl end to end: the real plugin, a live broker, live devices.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_ctl_live.py -q

These need build/mosquitto_iothub.so with the control channel
(`$CONTROL/iothub/v1`, plugin_opt_control true); without it they skip.
The operator's broker credentials are a superuser device registered with
iothubctl itself (`register --superuser`), as a deployment would do it.
"""

import json
import re
import time

import pytest

import harness
from plugin_helpers import run_ctl

pytestmark = pytest.mark.needs_plugin

KICK_WITHIN = 1.0      # seconds from iothubctl's exit to the client's drop


def _plugin_has_control():
    try:
        return b'$CONTROL/iothub/v1' in harness.PLUGIN.read_bytes()
    except OSError:
        return False


@pytest.fixture
def live(mongo, broker, registry):
    """A broker with the plugin, a superuser for the control channel, and
    ctl(*args) running iothubctl against both."""
    if not _plugin_has_control():
        pytest.skip('plugin without the control channel: %s' % harness.PLUGIN)

    def ctl(*args, broker_args=True, timeout=60):
        full = ['--mongo-uri', mongo.uri, '--mongo-db', mongo.db_name,
                '--json']
        if broker_args and live.broker_args:
            full += live.broker_args
        return run_ctl(registry, full + list(args), timeout=timeout)

    class Live:
        pass
    live = Live()
    live.mongo = mongo
    live.registry = registry
    live.broker_args = None
    live.ctl = ctl
    res = ctl('register', 'platform', 'ops', '--superuser')
    assert res.rc == 0, res
    admin = json.loads(res.stdout)
    live.broker = broker(options={'control': True,
                                  'revalidate_interval': '1h'})
    live.broker_args = ['--broker', '127.0.0.1:%d' % live.broker.port,
                        '--broker-user', admin['username'],
                        '--broker-pass', admin['secret']]
    live.admin = admin
    return live


def register(live, p, d, *extra):
    res = live.ctl('register', p, d, *extra, broker_args=False)
    assert res.rc == 0, res
    return json.loads(res.stdout)


def connect(mqtt, live, dev, proto=5):
    c = mqtt(live.broker, dev['username'], dev['secret'],
             client_id='%s-%d' % (dev['device_name'], time.monotonic_ns()),
             proto=proto)
    assert c.connack == 0, c.connack
    return c


def assert_kicked(client):
    start = time.monotonic()
    assert client.wait_disconnect(KICK_WITHIN + 1.0), 'client was not kicked'
    assert time.monotonic() - start <= KICK_WITHIN + 0.2


def test_suspend_kicks_live_client(live, mqtt):
    dev = register(live, 'p1', 'd1')
    c = connect(mqtt, live, dev)
    res = live.ctl('suspend', 'p1/d1')
    assert res.rc == 0, res
    assert_kicked(c)
    again = mqtt(live.broker, 'p1/d1', dev['secret'], proto=5)
    assert again.connack not in (0, None)
    assert 'kickDevice' in json.loads(res.stdout)['control']


def test_suspend_kicks_live_mosquitto_sub(live, sub):
    dev = register(live, 'p1', 'd1')
    s = sub(live.broker, 'cmd/p1/d1/+/+/+/#', user='p1/d1', pw=dev['secret'],
            client_id='sub-d1')
    s.wait_subscribed()
    mark = live.broker.log_mark()
    res = live.ctl('suspend', 'p1/d1')
    assert res.rc == 0, res
    live.broker.wait_log(r'(?i)(client sub-d1 .*disconnect|sub-d1.*kick)',
                         timeout=KICK_WITHIN, since=mark)
    # its reconnect is refused, so mosquitto_sub gives up
    harness.wait_until(lambda: s.proc.poll() is not None, 10,
                       what='mosquitto_sub to exit')


def test_delete_kicks_and_refuses(live, mqtt, mongo):
    dev = register(live, 'p1', 'd1')
    c = connect(mqtt, live, dev)
    res = live.ctl('delete', 'p1/d1')
    assert res.rc == 0, res
    assert_kicked(c)
    assert mongo.device('p1/d1') is None
    assert mqtt(live.broker, 'p1/d1', dev['secret'], proto=5).connack \
        not in (0, None)


def test_rotate_secret_kicks_old_sessions(live, mqtt):
    dev = register(live, 'p1', 'd1')
    c = connect(mqtt, live, dev)
    res = live.ctl('rotate-secret', 'p1/d1')
    assert res.rc == 0, res
    assert_kicked(c)
    new = json.loads(res.stdout)['secret']
    assert mqtt(live.broker, 'p1/d1', dev['secret'], proto=5).connack \
        not in (0, None)
    assert mqtt(live.broker, 'p1/d1', new, proto=5).connack == 0


def test_resume_lets_device_back_at_once(live, mqtt):
    dev = register(live, 'p1', 'd1')
    assert live.ctl('suspend', 'p1/d1').rc == 0
    assert mqtt(live.broker, 'p1/d1', dev['secret'], proto=5).connack \
        not in (0, None)
    assert live.ctl('resume', 'p1/d1').rc == 0
    assert mqtt(live.broker, 'p1/d1', dev['secret'], proto=5).connack == 0


def test_acl_add_applies_to_live_connection(live, mqtt):
    dev = register(live, 'p1', 'd1')
    c = connect(mqtt, live, dev)
    assert c.publish('custom/p1/d1', b'x', qos=1) == 0x87
    res = live.ctl('acl', 'add', 'publish', 'p1/d1', 'custom/%u')
    assert res.rc == 0, res
    assert c.publish('custom/p1/d1', b'x', qos=1) in (0, 0x10)
    assert c.connected, 'an ACL change must not kick the device'
    res = live.ctl('acl', 'remove', 'publish', 'p1/d1', 'custom/%u')
    assert res.rc == 0, res
    assert c.publish('custom/p1/d1', b'x', qos=1) == 0x87


def test_tags_reach_live_connection(live, mqtt, broker):
    b = broker(options={'control': True, 'autosub_tags': True,
                        'revalidate_interval': '1h'})
    live.broker = b
    live.broker_args[1] = '127.0.0.1:%d' % b.port
    dev = register(live, 'p1', 'd1')
    c = connect(mqtt, live, dev)
    ops = mqtt(b, live.admin['username'], live.admin['secret'], proto=5)
    assert ops.connack == 0
    topic = 'tags/p1/t1/cmd/reboot/json/r1'
    ops.publish(topic, b'1', qos=1)
    c.expect_no_message(0.5)
    res = live.ctl('tags', 'add', 'p1/d1', 't1')
    assert res.rc == 0, res
    ops.publish(topic, b'2', qos=1)
    msg = c.wait_for(1, timeout=5)[0]
    assert msg.topic == topic


def test_stats(live):
    res = live.ctl('stats')
    assert res.rc == 0, res
    assert isinstance(json.loads(res.stdout), dict)


def test_control_refused_for_ordinary_device(live):
    dev = register(live, 'p1', 'd1')
    register(live, 'p1', 'd2')
    args = ['--broker', live.broker_args[1], '--broker-user', dev['username'],
            '--broker-pass', dev['secret']]
    res = live.ctl('suspend', 'p1/d2', *args, broker_args=False)
    assert res.rc == 6, res


def test_broker_down_still_changes_registry(live, mongo):
    register(live, 'p1', 'd1')
    live.broker.stop()
    res = live.ctl('suspend', 'p1/d1', timeout=30)
    assert res.rc == 6, res
    assert mongo.device('p1/d1')['status'] == 'suspended'
    assert 'revalidation' in res.stderr



# ----------------------------------------------------------------------
# printed credentials work as printed; changes reach live devices without
# the control channel (revalidation); deletes, rotations, held answers
# ----------------------------------------------------------------------
REVALIDATE_S = 2


@pytest.fixture
def fallback(live, broker):
    """The plugin learns of registry changes only by revalidating (every
    REVALIDATE_S), and iothubctl is given no broker."""
    live.broker = broker(options={'control': True, 'autosub_tags': True,
                                  'revalidate_interval': '%ds' % REVALIDATE_S})
    live.broker_args = None
    return live


def assert_kicked_within(client, seconds):
    start = time.monotonic()
    assert client.wait_disconnect(seconds + 3), 'client was not kicked'
    took = time.monotonic() - start
    # one period, plus the registry query and the next TICK
    assert took <= seconds + 1.0, took


def test_register_then_mosquitto_pub_with_printed_credentials(live):
    """Human output, read as a new user reads it."""
    res = run_ctl(live.registry, ['--mongo-uri', live.mongo.uri, '--mongo-db',
                                  live.mongo.db_name, 'register', 'p1', 'd1'])
    assert res.rc == 0, res
    user = re.search(r'^username:\s+(\S+)$', res.stdout, re.M).group(1)
    secret = re.search(r'^secret:\s+(\S+)$', res.stdout, re.M).group(1)
    port = live.broker.port
    rc, err = harness.pub(port, 'upload_data/p1/d1/t/m1', '1', user=user,
                          pw=secret, qos=1)
    assert rc == 0, err
    rc, err = harness.pub(port, 'upload_data/p1/d1/t/m1', '1', user=user,
                          pw=secret + 'x', qos=1)
    assert rc == 5 and 'not authorised' in err, (rc, err)


def test_suspend_without_control_channel_kicks_within_period(fallback, mqtt,
                                                             sub):
    dev = register(fallback, 'p1', 'd1')
    c = connect(mqtt, fallback, dev)
    s = sub(fallback.broker, 'tags/p1/x/cmd/+/+/+/#', user='p1/d1',
            pw=dev['secret'], client_id='sub-d1')
    s.wait_subscribed()
    res = fallback.ctl('suspend', 'p1/d1')
    assert res.rc == 0, res
    assert 'control' not in json.loads(res.stdout)
    assert_kicked_within(c, REVALIDATE_S)
    harness.wait_until(lambda: s.proc.poll() is not None, 10,
                       what='mosquitto_sub to give up')
    assert mqtt(fallback.broker, 'p1/d1', dev['secret'], proto=5).connack \
        not in (0, None)
    # (resume without the control channel applies when the cached record
    # expires, auth_cache_ttl: no connection of the device is left for the
    # revalidation to look at)


def test_delete_without_control_channel_kicks_within_period(fallback, mqtt):
    dev = register(fallback, 'p1', 'd1')
    c = connect(mqtt, fallback, dev)
    assert fallback.ctl('delete', 'p1/d1').rc == 0
    assert fallback.mongo.device('p1/d1') is None
    assert fallback.mongo.db.device_acl.find_one(
        {'broker_username': 'p1/d1'}) is None
    assert_kicked_within(c, REVALIDATE_S)


def test_acl_change_without_control_channel_applies_within_period(fallback,
                                                                  mqtt):
    dev = register(fallback, 'p1', 'd1')
    c = connect(mqtt, fallback, dev)
    assert c.publish('custom/p1/d1', b'x', qos=1) == 0x87
    assert fallback.ctl('acl', 'add', 'publish', 'p1/d1', 'custom/%u').rc == 0
    harness.wait_until(lambda: c.publish('custom/p1/d1', b'x', qos=1)
                       in (0, 0x10), REVALIDATE_S + 2, interval=0.2,
                       what='the ACL change to apply')
    assert c.connected


def test_delete_with_broker_removes_both_documents(live, mqtt):
    dev = register(live, 'p1', 'd1')
    c = connect(mqtt, live, dev)
    assert live.mongo.db.device_acl.find_one({'broker_username': 'p1/d1'})
    res = live.ctl('delete', 'p1/d1')
    assert res.rc == 0, res
    assert_kicked(c)
    assert live.mongo.device('p1/d1') is None
    assert live.mongo.db.device_acl.find_one({'broker_username': 'p1/d1'}) \
        is None


def test_rotate_secret_old_secret_fails_at_once_for_mosquitto_pub(live):
    dev = register(live, 'p1', 'd1')
    port = live.broker.port
    # the old secret is cached as good: it must stop working all the same
    assert harness.pub(port, 'upload_data/p1/d1/t/m', '1', user='p1/d1',
                       pw=dev['secret'])[0] == 0
    res = live.ctl('rotate-secret', 'p1/d1')
    assert res.rc == 0, res
    new = json.loads(res.stdout)['secret']
    rc, err = harness.pub(port, 'upload_data/p1/d1/t/m', '1', user='p1/d1',
                          pw=dev['secret'])
    assert rc == 5, (rc, err)
    assert harness.pub(port, 'upload_data/p1/d1/t/m', '1', user='p1/d1',
                       pw=new)[0] == 0


def test_subscribe_acl_change_applies_to_live_connection(live, mqtt):
    dev = register(live, 'p1', 'd1')
    c = connect(mqtt, live, dev)
    ops = mqtt(live.broker, live.admin['username'], live.admin['secret'],
               proto=5)
    assert c.subscribe('notice/p1/#', qos=1) == [0x87]
    assert live.ctl('acl', 'add', 'subscribe', 'p1/d1', 'notice/%p/#').rc == 0
    assert c.subscribe('notice/p1/#', qos=1) == [1]
    ops.publish('notice/p1/all', b'hello', qos=1)
    assert c.wait_for(1)[0].topic == 'notice/p1/all'
    # removing the rule stops delivery on the existing subscription
    assert live.ctl('acl', 'remove', 'subscribe', 'p1/d1', 'notice/%p/#').rc == 0
    ops.publish('notice/p1/all', b'again', qos=1)
    ops.publish('cmd/p1/d1/sentinel/plain/1', b's', qos=1)
    assert [m.topic for m in c.wait_for(1)] == ['cmd/p1/d1/sentinel/plain/1']


def test_device_publishing_to_control_topic_is_refused(live, mqtt):
    dev = register(live, 'p1', 'd1')
    victim = register(live, 'p1', 'd2')
    c = connect(mqtt, live, dev)
    v = connect(mqtt, live, victim)
    req = json.dumps({'commands': [{'command': 'kickDevice',
                                    'username': 'p1/d2'}]}).encode()
    assert c.publish('$CONTROL/iothub/v1', req, qos=1) == 0x87
    c.expect_no_message(0.3)          # no response either
    assert not v.wait_disconnect(0.5)
    assert v.connected and c.connected
    # an MQTT 3.1.1 device gets no PUBACK code; nothing happens all the same
    c4 = connect(mqtt, live, dev, proto=4)
    c4.publish('$CONTROL/iothub/v1', req, qos=1)
    assert not v.wait_disconnect(0.5)


@pytest.mark.fault
@pytest.mark.parametrize('change', [
    ('tags', 'add', 'p1/d1', 't1'),
    ('acl', 'add', 'publish', 'p1/d1', 'custom/%u'),
])
def test_control_answers_once_the_change_is_applied(live, mqtt, broker,
                                                   change):
    """iothubctl returns only when the re-read reached the live connection:
    with a slow registry, the very next message meets the new rules."""
    live.broker = broker(options={'control': True, 'autosub_tags': True,
                                  'revalidate_interval': '1h'})
    live.broker_args[1] = '127.0.0.1:%d' % live.broker.port
    dev = register(live, 'p1', 'd1')
    c = connect(mqtt, live, dev)
    ops = mqtt(live.broker, live.admin['username'], live.admin['secret'],
               proto=5)
    assert ops.connack == 0
    assert live.ctl('stats').rc == 0     # the operator's login is cached
    live.mongo.set_delay(400, only=['aggregate'])      # the plugin's reads
    res = live.ctl(*change)
    assert res.rc == 0, res
    assert res.elapsed >= 0.4, res.elapsed
    if change[0] == 'tags':
        ops.publish('tags/p1/t1/cmd/x/plain/1', b'1', qos=1)
        assert c.wait_for(1)[0].topic == 'tags/p1/t1/cmd/x/plain/1'
    else:
        assert c.publish('custom/p1/d1', b'x', qos=1) in (0, 0x10)


@pytest.mark.fault
def test_control_answer_is_not_held_forever(live, mqtt):
    dev = register(live, 'p1', 'd1')
    connect(mqtt, live, dev)
    assert live.ctl('stats').rc == 0     # the operator's login is cached
    mark = live.broker.log_mark()
    live.mongo.set_delay(3000, only=['aggregate'])
    res = live.ctl('--timeout', '8000', 'tags', 'add', 'p1/d1', 't1')
    assert res.rc == 0, res
    assert 1.5 <= res.elapsed <= 4.5, res.elapsed
    live.broker.wait_log(r'iothub: the registry re-read of p1/d1 was not '
                         r'applied within 2000 ms', since=mark)
