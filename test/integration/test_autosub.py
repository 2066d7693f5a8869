# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Server-side auto-subscription end to end with the real plugin.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_autosub.py -q

The devices here NEVER subscribe to their command topics: paho clients send
no SUBSCRIBE at all, mosquitto_sub subscribes only to an unrelated topic the
ACL allows (it needs at least one -t).  Commands come from the platform's
superuser service client, as the IotHub server sends them, or from a peer
device (m2m).

Negative checks ("X does not arrive") do not sleep: after the messages that
must not arrive, a sentinel command to the same device is published; the
plugin queues every copy for a client in publish order, so once the
sentinel is there anything earlier would have been delivered already.
"""

import json
import time

import pytest

import harness
from plugin_helpers import run_ctl

pytestmark = pytest.mark.needs_plugin

PROTOS = [pytest.param(4, id='mqtt311'), pytest.param(5, id='mqtt5')]
SUB_PROTOS = [pytest.param('mqttv311', id='mqtt311'),
              pytest.param('mqttv5', id='mqtt5')]
# A filter device p1/* may subscribe to under the default ACL
# (tags/%p/+/cmd/+/+/+/#) that overlaps none of its auto-subscriptions.
UNRELATED = 'tags/p1/unrelated/cmd/+/+/+/#'


class Hub:
    """A registry with a few devices and a broker with the plugin."""

    def __init__(self, mongo, broker, mqtt, registry):
        self.mongo = mongo
        self._broker = broker
        self._mqtt = mqtt
        self.registry = registry
        self.broker = None
        self.ops = mongo.add_device('platform', 'ops', superuser=True)
        self.d1 = mongo.add_device('p1', 'd1', tags=['t1'])
        self.d2 = mongo.add_device('p1', 'd2', tags=['t2'])
        self.d10 = mongo.add_device('p1', 'd10', tags=['t1'])
        self.other = mongo.add_device('p2', 'd1', tags=['t1'])
        self._ops_client = None
        self._seq = 0

    def start(self, **options):
        opts = {'autosub_tags': True, 'revalidate_interval': '1h',
                'control': True}
        opts.update(options)
        self.broker = self._broker(options=opts)
        self._ops_client = None
        return self.broker

    def connect(self, dev, client_id=None, proto=5, clean=True, **kw):
        c = self._mqtt(self.broker, dev.username, dev.secret,
                       client_id=client_id or self.cid(dev), proto=proto,
                       clean=clean, **kw)
        assert c.connack == 0, c.connack
        return c

    def cid(self, dev):
        self._seq += 1
        return '%s-%s-%d' % (dev.product, dev.device, self._seq)

    @property
    def ops_client(self):
        if self._ops_client is None or not self._ops_client.connected:
            self._ops_client = self.connect(self.ops, client_id='ops', proto=5)
        return self._ops_client

    def send(self, topic, payload=b'x', qos=1, retain=False, client=None):
        """Publish as the platform (or `client`); QoS>0 waits for PUBACK."""
        rc = (client or self.ops_client).publish(topic, payload, qos,
                                                 retain=retain)
        assert rc in (0, 0x10, None), 'publish %s refused: %r' % (topic, rc)

    def sentinel(self, dev, payload=b'sentinel', kind='cmd', qos=1):
        """A command that must arrive, after everything sent before it.
        When QoS 2 messages are involved, use a QoS 2 sentinel: paho hands
        a QoS 2 message over only at PUBREL."""
        topic = '%s/%s/sentinel/plain/s%d' % (kind, dev.username,
                                              time.monotonic_ns())
        self.send(topic, payload, qos=qos)
        return topic

    def ctl(self, *args, with_broker=True, timeout=60):
        full = ['--mongo-uri', self.mongo.uri, '--mongo-db',
                self.mongo.db_name, '--json']
        if with_broker:
            full += ['--broker', '127.0.0.1:%d' % self.broker.port,
                     '--broker-user', self.ops.username,
                     '--broker-pass', self.ops.secret]
        res = run_ctl(self.registry, full + list(args), timeout=timeout)
        assert res.rc == 0, res
        return res

    def stats(self):
        return json.loads(self.ctl('stats').stdout)


@pytest.fixture
def hub(mongo, broker, mqtt, registry):
    return Hub(mongo, broker, mqtt, registry)


def until_sentinel(client, sentinel, timeout=10):
    """Messages received before `sentinel` (which must arrive, once)."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, 'sentinel %s never arrived; got %r' % (sentinel, got)
        msg = client.wait_for(1, timeout=left)[0]
        if msg.topic == sentinel:
            return got
        got.append(msg)


def topics(msgs):
    return [m.topic for m in msgs]


def sub_until_sentinel(s, sentinel, timeout=10):
    """mosquitto_sub lines before the sentinel line."""
    deadline = time.monotonic() + timeout
    while True:
        lines = s.wait_for(1, timeout=max(0.1, deadline - time.monotonic()))
        heads = [line.split(' ', 1)[0] for line in lines]
        if sentinel in heads:
            return lines[:heads.index(sentinel)]
        assert time.monotonic() < deadline, \
            'sentinel %s never arrived; got %r' % (sentinel, lines)
        time.sleep(0.05)


def command_set(hub):
    """(topic, payload, sender) for each kind of command device p1/d1 gets."""
    return [
        ('cmd/p1/d1/reboot/plain/req1', b'cmd', None),
        ('cmd/p1/d1/update/json/req2/1999999999', b'cmd-expiring', None),
        ('rpc/p1/d1/getTemp/json/req3', b'rpc', None),
        ('m2m/p1/d1/d2/msg4', b'from-d2', 'd2'),
        ('tags/p1/t1/cmd/lights/plain/req5', b'tag', None),
    ]


# ----------------------------------------------------------------------
# commands arrive without SUBSCRIBE
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', PROTOS)
def test_commands_arrive_without_any_subscribe(hub, proto):
    hub.start()
    d1 = hub.connect(hub.d1, proto=proto)
    d2 = hub.connect(hub.d2, proto=proto)
    for topic, payload, sender in command_set(hub):
        hub.send(topic, payload, qos=1, client=d2 if sender else None)
    got = d1.wait_for(5)
    assert [(m.topic, m.payload) for m in got] == \
        [(t, p) for t, p, _ in command_set(hub)]
    for m in got:
        assert m.qos == 1 and m.retain is False, m
    d1.expect_no_message(0.3)      # and nothing twice


@pytest.mark.parametrize('proto', SUB_PROTOS)
def test_mosquitto_sub_and_pub(hub, sub, proto):
    """The tools a user tries first: mosquitto_sub on an unrelated topic,
    commands sent with mosquitto_pub."""
    b = hub.start()
    s = sub(b, UNRELATED, user=hub.d1.username, pw=hub.d1.secret,
            client_id='d1-sub', proto=proto, qos=1)
    assert s.wait_subscribed() == [1]
    for topic, payload, sender in command_set(hub):
        who = hub.d2 if sender else hub.ops
        rc, err = harness.pub(b.port, topic, payload.decode(), user=who.username,
                              pw=who.secret, qos=1, proto=proto)
        assert rc == 0, err
    lines = s.wait_for(5)
    assert lines == ['%s %s' % (t, p.decode()) for t, p, _ in command_set(hub)]
    sentinel = hub.sentinel(hub.d1)
    assert sub_until_sentinel(s, sentinel) == lines


def test_peer_may_only_send_as_itself(hub):
    """m2m: d2 may publish m2m/p1/<to>/d2/..., not pretend to be d10, and a
    device of another product cannot reach p1 at all."""
    hub.start()
    d1 = hub.connect(hub.d1)
    d2 = hub.connect(hub.d2)
    foreign = hub.connect(hub.other)
    assert d2.publish('m2m/p1/d1/d10/forged', b'x', qos=1) == 0x87
    assert foreign.publish('m2m/p1/d1/d1/x', b'x', qos=1) == 0x87
    assert d2.publish('m2m/p1/d1/d2/ok', b'x', qos=1) in (0, 0x10)
    got = until_sentinel(d1, hub.sentinel(hub.d1))
    assert topics(got) == ['m2m/p1/d1/d2/ok']


# ----------------------------------------------------------------------
# isolation
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', PROTOS)
def test_other_devices_and_products_commands_do_not_arrive(hub, proto):
    hub.start()
    d1 = hub.connect(hub.d1, proto=proto)
    d10 = hub.connect(hub.d10, proto=proto)
    d2 = hub.connect(hub.d2, proto=proto)
    other = hub.connect(hub.other, proto=proto)
    not_for_d1 = [
        'cmd/p1/d2/reboot/plain/a',          # another device
        'cmd/p1/d10/reboot/plain/b',         # a device whose name extends d1's
        'cmd/p2/d1/reboot/plain/c',          # same device name, other product
        'rpc/p1/d2/x/json/d',
        'rpc/p2/d1/x/json/e',
        'm2m/p1/d2/d1/f',                    # d1 -> d2: not d1's inbox
        'm2m/p2/d1/d1/g',
        'tags/p1/t2/cmd/x/plain/h',          # a tag d1 does not have
        'tags/p2/t1/cmd/x/plain/i',          # d1's tag name, other product
        'cmd/p1/d1',                         # too short for cmd/%u/+/+/+/#
        'cmd/p1/d1/reboot/plain',
        'cmdx/p1/d1/reboot/plain/j',
    ]
    for t in not_for_d1:
        hub.send(t)
    assert until_sentinel(d1, hub.sentinel(hub.d1)) == []
    # ...while each owner did get its own
    assert topics(until_sentinel(d2, hub.sentinel(hub.d2))) == [
        'cmd/p1/d2/reboot/plain/a', 'rpc/p1/d2/x/json/d', 'm2m/p1/d2/d1/f',
        'tags/p1/t2/cmd/x/plain/h']
    assert topics(until_sentinel(d10, hub.sentinel(hub.d10))) == [
        'cmd/p1/d10/reboot/plain/b']
    assert topics(until_sentinel(other, hub.sentinel(hub.other))) == [
        'cmd/p2/d1/reboot/plain/c', 'rpc/p2/d1/x/json/e', 'm2m/p2/d1/d1/g',
        'tags/p2/t1/cmd/x/plain/i']


def test_device_cannot_subscribe_to_another_devices_commands(hub):
    hub.start()
    d2 = hub.connect(hub.d2)
    assert d2.subscribe('cmd/p1/d1/+/+/+/#', qos=1) == [0x87]
    assert d2.subscribe('cmd/p1/+/+/+/+/#', qos=1) == [0x87]
    hub.send('cmd/p1/d1/reboot/plain/a')
    assert until_sentinel(d2, hub.sentinel(hub.d2)) == []


# ----------------------------------------------------------------------
# persistent and clean sessions
# ----------------------------------------------------------------------
PERSISTENT = [pytest.param(dict(proto=4, clean=False), id='mqtt311-clean0'),
              pytest.param(dict(proto=5, clean=False, session_expiry=300),
                           id='mqtt5-expiry300')]


@pytest.mark.parametrize('session', PERSISTENT)
def test_persistent_session_gets_commands_sent_while_offline(hub, session):
    hub.start()
    c = hub.connect(hub.d1, client_id='d1-persist', **session)
    c.disconnect()
    sent = ['cmd/p1/d1/reboot/plain/o1', 'rpc/p1/d1/ping/json/o2',
            'tags/p1/t1/cmd/x/plain/o3', 'cmd/p1/d1/late/plain/o4']
    for t in sent:
        hub.send(t, t.encode(), qos=1)
    hub.send('cmd/p1/d1/qos0/plain/o5', qos=0)    # QoS 0 is not queued
    c = hub.connect(hub.d1, client_id='d1-persist', **session)
    assert c.connack_flags.get('session present') == 1, c.connack_flags
    got = c.wait_for(len(sent))
    assert topics(got) == sent
    assert all(m.qos == 1 for m in got)
    assert topics(until_sentinel(c, hub.sentinel(hub.d1))) == []


@pytest.mark.parametrize('session', PERSISTENT)
def test_persistent_session_survives_several_offline_periods(hub, session):
    hub.start()
    for i in range(3):
        c = hub.connect(hub.d1, client_id='d1-persist', **session)
        if i:
            assert topics(c.wait_for(1)) == ['cmd/p1/d1/n/plain/%d' % (i - 1)]
        c.disconnect()
        hub.send('cmd/p1/d1/n/plain/%d' % i)


CLEAN = [pytest.param(dict(proto=4, clean=True), id='mqtt311-clean1'),
         pytest.param(dict(proto=5, clean=True), id='mqtt5-cleanstart1'),
         pytest.param(dict(proto=5, clean=False), id='mqtt5-cleanstart0-expiry0')]


@pytest.mark.parametrize('session', CLEAN)
def test_clean_session_reconnect_gets_nothing_stale(hub, session):
    hub.start()
    c = hub.connect(hub.d1, client_id='d1-clean', **session)
    c.disconnect()
    hub.send('cmd/p1/d1/stale/plain/1', qos=1)
    hub.send('tags/p1/t1/cmd/stale/plain/2', qos=2)
    c = hub.connect(hub.d1, client_id='d1-clean', **session)
    assert until_sentinel(c, hub.sentinel(hub.d1)) == []
    # and the index forgot the clean session: only the live one is in it
    assert hub.stats()['autosub']['clients'] == 1     # superusers have none


def test_persistent_then_clean_start_drops_queued_commands(hub):
    hub.start()
    c = hub.connect(hub.d1, client_id='d1-x', proto=4, clean=False)
    c.disconnect()
    hub.send('cmd/p1/d1/stale/plain/1')
    c = hub.connect(hub.d1, client_id='d1-x', proto=4, clean=True)
    assert until_sentinel(c, hub.sentinel(hub.d1)) == []


# ----------------------------------------------------------------------
# at most once
# ----------------------------------------------------------------------
def test_overlapping_auto_subscriptions_deliver_once(hub):
    hub.start(autosub=['cmd/%u/# 1', 'cmd/%u/+/+/+/# 0', 'cmd/%u/reboot/# 2',
                       'rpc/%u/+/+/+/# 1'])
    c = hub.connect(hub.d1)
    hub.send('cmd/p1/d1/reboot/plain/1', qos=2)
    hub.send('cmd/p1/d1/other/plain/2', qos=2)
    hub.send('cmd/p1/d1/short', qos=2)        # only cmd/%u/#
    got = until_sentinel(c, hub.sentinel(hub.d1, qos=2))
    # each once, at the highest QoS among the auto-subscriptions that match
    assert sorted((m.topic, m.qos) for m in got) == sorted([
        ('cmd/p1/d1/reboot/plain/1', 2), ('cmd/p1/d1/other/plain/2', 1),
        ('cmd/p1/d1/short', 1)])


@pytest.mark.parametrize('proto', PROTOS)
@pytest.mark.parametrize('own', [
    'cmd/p1/d1/+/+/+/#',            # exactly the auto-subscription
    'cmd/p1/d1/reboot/+/+',         # a part of it
    'cmd/p1/d1/reboot/plain/1',     # one topic
])
def test_own_subscription_plus_auto_subscription_delivers_once(hub, proto, own):
    hub.start()
    c = hub.connect(hub.d1, proto=proto)
    assert c.subscribe(own, qos=1) == [1]
    hub.send('cmd/p1/d1/reboot/plain/1')
    hub.send('cmd/p1/d1/update/plain/2')
    got = until_sentinel(c, hub.sentinel(hub.d1))
    assert sorted(topics(got)) == ['cmd/p1/d1/reboot/plain/1',
                                   'cmd/p1/d1/update/plain/2']
    # after UNSUBSCRIBE the auto-subscription alone delivers, still once
    c.unsubscribe(own)
    hub.send('cmd/p1/d1/reboot/plain/1')
    assert topics(until_sentinel(c, hub.sentinel(hub.d1))) == [
        'cmd/p1/d1/reboot/plain/1']


def test_own_subscriptions_of_every_kind_deliver_once(hub):
    hub.start()
    c = hub.connect(hub.d1)
    assert c.subscribe([('cmd/p1/d1/+/+/+/#', 1), ('rpc/p1/d1/+/+/+/#', 1),
                        ('m2m/p1/d1/+/+', 1), ('tags/p1/+/cmd/+/+/+/#', 1)]) \
        == [1, 1, 1, 1]
    d2 = hub.connect(hub.d2)
    for topic, payload, sender in command_set(hub):
        hub.send(topic, payload, client=d2 if sender else None)
    got = until_sentinel(c, hub.sentinel(hub.d1))
    assert sorted(topics(got)) == sorted(t for t, _, _ in command_set(hub))


@pytest.mark.parametrize('session', PERSISTENT)
def test_persistent_own_subscription_still_once_after_resume(hub, session):
    """The broker keeps a persistent session's subscription; the plugin must
    still know about it after the reconnect (no SUBSCRIBE is sent then)."""
    hub.start()
    c = hub.connect(hub.d1, client_id='d1-p', **session)
    assert c.subscribe('cmd/p1/d1/+/+/+/#', qos=1) == [1]
    c.disconnect()
    hub.send('cmd/p1/d1/offline/plain/1')
    c = hub.connect(hub.d1, client_id='d1-p', **session)
    assert c.connack_flags.get('session present') == 1
    hub.send('cmd/p1/d1/online/plain/2')
    got = until_sentinel(c, hub.sentinel(hub.d1))
    assert topics(got) == ['cmd/p1/d1/offline/plain/1',
                           'cmd/p1/d1/online/plain/2']


@pytest.mark.parametrize('resubscribe', [False, True])
def test_own_subscription_of_a_session_the_broker_dropped(hub, resubscribe):
    """MQTT 5, clean start false, no session expiry: the broker drops the
    session (and the device's subscription) at disconnect. The plugin must
    not go on assuming the subscription delivers: the commands would be
    lost (they were, every one, until the device connected clean)."""
    hub.start()
    c = hub.connect(hub.d1, client_id='v5-noexp', proto=5, clean=False)
    assert c.subscribe(['cmd/p1/d1/+/+/+/#', 'tags/p1/+/cmd/+/+/+/#'],
                       qos=1) == [1, 1]
    c.disconnect()
    c = hub.connect(hub.d1, client_id='v5-noexp', proto=5, clean=False)
    assert c.connack_flags.get('session present') == 0
    if resubscribe:
        assert c.subscribe('tags/p1/+/cmd/+/+/+/#', qos=1) == [1]
    hub.send('cmd/p1/d1/x/plain/1')
    hub.send('tags/p1/t1/cmd/x/plain/2')
    got = until_sentinel(c, hub.sentinel(hub.d1))
    assert topics(got) == ['cmd/p1/d1/x/plain/1', 'tags/p1/t1/cmd/x/plain/2']


def test_tag_subscription_made_before_the_tag_was_added_delivers_once(hub):
    """A device subscribed to its product's tag commands itself (as IotHub
    SDKs do), then gets a tag: the new auto-subscription must not double
    the delivery."""
    hub.d3 = hub.mongo.add_device('p1', 'd3')           # no tags yet
    hub.start()
    c = hub.connect(hub.d3)
    assert c.subscribe('tags/p1/+/cmd/+/+/+/#', qos=1) == [1]
    hub.ctl('tags', 'add', 'p1/d3', 'newtag')
    hub.send('tags/p1/newtag/cmd/x/plain/1')
    got = until_sentinel(c, hub.sentinel(hub.d3))
    assert topics(got) == ['tags/p1/newtag/cmd/x/plain/1']


# ----------------------------------------------------------------------
# QoS and what MQTT 5 clients see
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', PROTOS)
def test_delivered_qos_is_min_of_publish_and_auto_subscription(hub, proto):
    hub.start(autosub=['cmd/%u/+/+/+/# 0', 'rpc/%u/+/+/+/# 2', 'm2m/%u/+/+ 1'],
              autosub_tags_qos=1)
    c = hub.connect(hub.d1, proto=proto)
    cases = []
    for pub_qos in (0, 1, 2):
        for prefix, sub_qos in (('cmd/p1/d1', 0), ('rpc/p1/d1', 2),
                                ('tags/p1/t1/cmd', 1)):
            topic = '%s/q/plain/p%d' % (prefix, pub_qos)
            hub.send(topic, qos=pub_qos)
            cases.append((topic, min(pub_qos, sub_qos)))
    got = until_sentinel(c, hub.sentinel(hub.d1, kind='rpc', qos=2))
    # paho hands a QoS 2 message over at PUBREL, so order may differ
    assert sorted((m.topic, m.qos) for m in got) == sorted(cases)


def test_mqtt5_client_sees_topic_payload_qos_and_no_retain(hub):
    hub.start()
    c = hub.connect(hub.d1, proto=5)
    payload = bytes(range(256)) * 4
    hub.send('cmd/p1/d1/blob/binary/r1', payload, qos=1, retain=True)
    m = c.wait_for(1)[0]
    assert (m.topic, m.payload, m.qos, m.retain) == \
        ('cmd/p1/d1/blob/binary/r1', payload, 1, False)
    # A retained command is not replayed at the next connect: the device
    # never subscribes, so nothing asks the broker for retained messages.
    c.disconnect()
    c = hub.connect(hub.d1, proto=5)
    assert until_sentinel(c, hub.sentinel(hub.d1)) == []
    hub.send('cmd/p1/d1/blob/binary/r1', b'', qos=1, retain=True)   # clear


def test_mqtt5_publish_properties_are_not_forwarded(hub):
    """Documented limitation: 2.0.11 exports no property readers to plugins,
    so the copy carries no user properties, content type or expiry."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    hub.start()
    c = hub.connect(hub.d1, proto=5)
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ('k', 'v')
    props.ContentType = 'application/json'
    info = hub.ops_client.client.publish('cmd/p1/d1/x/json/1', b'{}', 1,
                                         properties=props)
    info.wait_for_publish(5)
    m = c.wait_for(1)[0]
    assert m.topic == 'cmd/p1/d1/x/json/1'
    assert not getattr(m.properties, 'UserProperty', None)


# ----------------------------------------------------------------------
# the device's ACL still applies
# ----------------------------------------------------------------------
def test_registry_deny_rule_blocks_delivery(hub, mongo):
    dev = mongo.add_device('p1', 'd5', acl={
        'publish': [], 'subscribe': [], 'deny': ['cmd/p1/d5/forbidden/#'],
        'deny_subscribe': ['rpc/p1/d5/secret/#']})
    hub.start()
    c = hub.connect(dev)
    hub.send('cmd/p1/d5/forbidden/plain/1')
    hub.send('rpc/p1/d5/secret/json/2')
    hub.send('cmd/p1/d5/allowed/plain/3')
    got = until_sentinel(c, hub.sentinel(dev))
    assert topics(got) == ['cmd/p1/d5/allowed/plain/3']
    assert hub.stats()['autosub']['suppressed'] >= 2


def _suspend_offline(hub, with_broker):
    """d1 has a persistent session and is offline; suspend it."""
    c = hub.connect(hub.d1, client_id='d1-sess', proto=4, clean=False)
    c.disconnect()
    if with_broker:
        hub.ctl('suspend', 'p1/d1')
    else:
        # The batched revalidation is the only way the plugin learns it:
        # a second, live connection of the device shows when it ran.
        probe = hub.connect(hub.d1, client_id='d1-probe', proto=4)
        hub.ctl('suspend', 'p1/d1', with_broker=False)
        assert probe.wait_disconnect(5), 'revalidation did not kick p1/d1'


@pytest.mark.parametrize('with_broker', [True, False],
                         ids=['control', 'revalidation'])
def test_suspended_device_gets_nothing_even_offline(hub, with_broker):
    hub.start(revalidate_interval='2s' if not with_broker else '1h')
    _suspend_offline(hub, with_broker)
    for t in ('cmd/p1/d1/x/plain/1', 'rpc/p1/d1/x/json/2',
              'tags/p1/t1/cmd/x/plain/3', 'm2m/p1/d1/d2/4'):
        hub.send(t, qos=1, client=hub.connect(hub.d2) if t.startswith('m2m') else None)
    refused = hub._mqtt(hub.broker, hub.d1.username, hub.d1.secret,
                        client_id='d1-sess', proto=4, clean=False)
    assert refused.connack not in (0, None)
    hub.ctl('resume', 'p1/d1')
    c = hub.connect(hub.d1, client_id='d1-sess', proto=4, clean=False)
    assert until_sentinel(c, hub.sentinel(hub.d1)) == []


def test_suspend_immediately_followed_by_command(hub):
    """The business side suspends and at once sends a command: the offline
    session must not get it once resumed."""
    hub.start()
    c = hub.connect(hub.d1, client_id='d1-sess', proto=4, clean=False)
    c.disconnect()
    hub.ctl('suspend', 'p1/d1')
    hub.send('cmd/p1/d1/right/after/suspend', qos=1)
    hub.ctl('resume', 'p1/d1')
    c = hub.connect(hub.d1, client_id='d1-sess', proto=4, clean=False)
    assert until_sentinel(c, hub.sentinel(hub.d1)) == []


# ----------------------------------------------------------------------
# tags change what a live device receives
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', PROTOS)
def test_tag_changes_reach_live_device(hub, proto):
    hub.start()
    c = hub.connect(hub.d1, proto=proto)
    hub.ctl('tags', 'add', 'p1/d1', 'floor2')
    hub.send('tags/p1/floor2/cmd/x/plain/1')
    hub.send('tags/p1/t1/cmd/x/plain/2')
    assert topics(until_sentinel(c, hub.sentinel(hub.d1))) == [
        'tags/p1/floor2/cmd/x/plain/1', 'tags/p1/t1/cmd/x/plain/2']
    hub.ctl('tags', 'remove', 'p1/d1', 't1')
    hub.send('tags/p1/t1/cmd/x/plain/3')
    hub.send('tags/p1/floor2/cmd/x/plain/4')
    assert topics(until_sentinel(c, hub.sentinel(hub.d1))) == [
        'tags/p1/floor2/cmd/x/plain/4']
    hub.ctl('tags', 'set', 'p1/d1', 'a', 'b')
    for t in ('floor2', 'a', 'b'):
        hub.send('tags/p1/%s/cmd/x/plain/5' % t)
    assert topics(until_sentinel(c, hub.sentinel(hub.d1))) == [
        'tags/p1/a/cmd/x/plain/5', 'tags/p1/b/cmd/x/plain/5']
    assert c.connected, 'a tag change must not kick the device'


def test_tag_change_reaches_offline_persistent_session(hub):
    hub.start()
    c = hub.connect(hub.d1, client_id='d1-sess', proto=4, clean=False)
    c.disconnect()
    hub.ctl('tags', 'set', 'p1/d1', 'new')
    hub.send('tags/p1/t1/cmd/x/plain/old')
    hub.send('tags/p1/new/cmd/x/plain/new')
    c = hub.connect(hub.d1, client_id='d1-sess', proto=4, clean=False)
    assert topics(until_sentinel(c, hub.sentinel(hub.d1))) == [
        'tags/p1/new/cmd/x/plain/new']


def test_tags_off_by_default(hub):
    hub.start(autosub_tags=None)
    c = hub.connect(hub.d1)
    hub.send('tags/p1/t1/cmd/x/plain/1')
    assert until_sentinel(c, hub.sentinel(hub.d1)) == []


# ----------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------
@pytest.mark.parametrize('template', [
    '+/%u/#', 'cmd/+/%u/#', 'cmd/%p/+/#', 'cmd/#', '#', 'cmd/+/%d/#',
    'cmd/%d/+/#',
])
def test_unsafe_template_refused_at_startup(broker, mongo, template):
    b = broker(options={'autosub': ['cmd/%u/+/+/+/# 1', template + ' 1']},
               expect_fail=True)
    assert b.start_failed and b.exit_code != 0
    b.wait_log(r'iothub: option plugin_opt_autosub "%s": wildcard at level \d+'
               r' comes before the device identity is complete'
               % template.replace('+', r'\+'))


@pytest.mark.parametrize('value,reason', [
    ('cmd/%u/+/+/+/# 3', r'qos'),
    ('cmd/%u/+/+/+/#', r'qos'),
    ('cmd/%x/# 1', r'placeholder'),
    ('cmd/%u/#/x 1', r'(invalid|#)'),
])
def test_malformed_autosub_option_refused(broker, mongo, value, reason):
    b = broker(options={'autosub': value}, expect_fail=True)
    assert b.start_failed
    b.wait_log(r'(?i)plugin_opt_autosub.*' + reason)


def test_safe_templates_accepted(hub):
    hub.start(autosub=['inbox/%c/# 1', 'm2m/%p/%d/+/+ 1', 'notice/%p/all 0'])
    c = hub.connect(hub.d1, client_id='d1-inbox')
    hub.send('inbox/d1-inbox/a')
    hub.send('m2m/p1/d1/x/y')
    hub.send('notice/p1/all')
    hub.send('notice/p2/all')
    hub.send('cmd/p1/d1/x/plain/not-configured')
    # no sentinel: cmd/... is not auto-subscribed here
    got = c.wait_for(3)
    assert topics(got) == ['inbox/d1-inbox/a', 'm2m/p1/d1/x/y', 'notice/p1/all']
    c.expect_no_message(0.3)


# ----------------------------------------------------------------------
# the persistent-session takeover trap (docs/MOSQUITTO.md §3)
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', PROTOS)
def test_resumed_session_keeps_receiving(hub, proto):
    """The broker's DISCONNECT for the old context arrives after the new
    connection's BASIC_AUTH; it must not unbind the new connection."""
    hub.start()
    kw = dict(proto=proto, clean=False)
    if proto == 5:
        kw['session_expiry'] = 300
    for i in range(3):
        c = hub.connect(hub.d1, client_id='d1-trap', **kw)
        hub.send('cmd/p1/d1/round/plain/%d' % i)
        assert topics(c.wait_for(1)) == ['cmd/p1/d1/round/plain/%d' % i]
        c.disconnect()
    c = hub.connect(hub.d1, client_id='d1-trap', **kw)
    assert until_sentinel(c, hub.sentinel(hub.d1)) == []


@pytest.mark.parametrize('clean', [False, True], ids=['persistent', 'clean'])
def test_takeover_of_live_connection_keeps_receiving(hub, clean):
    hub.start()
    old = hub.connect(hub.d1, client_id='d1-take', proto=4, clean=clean)
    new = hub.connect(hub.d1, client_id='d1-take', proto=4, clean=clean)
    assert old.wait_disconnect(5)
    hub.send('cmd/p1/d1/after/takeover/1')
    assert topics(until_sentinel(new, hub.sentinel(hub.d1))) == [
        'cmd/p1/d1/after/takeover/1']
    assert old.messages.empty()


def test_takeover_by_clean_session_of_persistent_one(hub):
    hub.start()
    old = hub.connect(hub.d1, client_id='d1-take', proto=4, clean=False)
    assert old.subscribe('cmd/p1/d1/+/+/+/#', qos=1) == [1]
    new = hub.connect(hub.d1, client_id='d1-take', proto=4, clean=True)
    assert old.wait_disconnect(5)
    # the old session's own subscription is gone with it: the
    # auto-subscription must deliver again (not step aside)
    hub.send('cmd/p1/d1/after/takeover/1')
    assert topics(until_sentinel(new, hub.sentinel(hub.d1))) == [
        'cmd/p1/d1/after/takeover/1']


def test_index_is_freed_when_clean_sessions_leave(hub):
    hub.start(stats_interval='1s')
    base = hub.stats()['autosub']
    clients = [hub.connect(hub.d1, proto=4) for _ in range(20)]
    mid = hub.stats()['autosub']
    assert mid['clients'] == base['clients'] + 20
    assert mid['memory_bytes'] > base['memory_bytes']
    for c in clients:
        c.disconnect()
    harness.wait_until(lambda: hub.stats()['autosub']['clients']
                       == base['clients'], 5, what='index to shrink')
    assert hub.stats()['autosub']['memory_bytes'] <= mid['memory_bytes']


@pytest.mark.parametrize('rounds', [20])
def test_mqtt5_sessions_without_expiry_do_not_crash_delivery(hub, monkeypatch,
                                                             rounds):
    """MQTT 5, clean start false, no session expiry: the broker drops the
    session at disconnect without telling the plugin, and the next
    connection may get the same context address. The plugin's entry for
    the old one must leave the delivery index with it (it used to stay
    there, freed: the next command crashed the broker). MALLOC_PERTURB_
    makes a read of freed memory fail loudly."""
    monkeypatch.setenv('MALLOC_PERTURB_', '165')
    hub.start()
    for i in range(rounds):
        c = hub.connect(hub.d1, client_id='v5-%d' % i, proto=5, clean=False)
        c.disconnect()
    live = hub.connect(hub.d1, client_id='live', proto=5)
    for i in range(3):
        hub.send('cmd/p1/d1/x/plain/%d' % i)
    assert topics(until_sentinel(live, hub.sentinel(hub.d1))) == [
        'cmd/p1/d1/x/plain/%d' % i for i in range(3)]
    assert hub.broker.running
    # Known limit: an entry whose context address is never reused stays
    # until its client id connects again (2.0.11 tells a plugin neither the
    # session expiry nor the end of such a session).
    assert hub.stats()['autosub']['clients'] <= rounds + 1


@pytest.mark.parametrize('clean', [True, False], ids=['clean', 'persistent'])
def test_client_id_taken_over_by_another_device(hub, clean):
    """Client ids are global: when device d2 connects with the id d1 was
    using, d1's commands must not follow the id to d2."""
    hub.start()
    old = hub.connect(hub.d1, client_id='shared-id', proto=4, clean=clean)
    if not clean:
        old.disconnect()
        hub.send('cmd/p1/d1/queued/plain/1')      # queued for d1's session
    new = hub.connect(hub.d2, client_id='shared-id', proto=4, clean=clean)
    if clean:
        assert old.wait_disconnect(5)
    hub.send('cmd/p1/d1/x/plain/2')
    hub.send('cmd/p1/d2/y/plain/3')
    assert topics(until_sentinel(new, hub.sentinel(hub.d2))) == [
        'cmd/p1/d2/y/plain/3']
