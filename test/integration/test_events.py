# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Events end to end: devices talk to the real broker with the plugin, the
plugin forwards to the private RabbitMQ node, and pika consumes what a
consumer of the IotHub server would see (docs/PROTOCOL.md §5,
docs/MOSQUITTO.md §3).

Run from the repository root (after `make`; `make -C bench` for loadgen):
    /usr/bin/python3 -m pytest test/integration/test_events.py -q

Every test registers its devices in a fresh registry database, starts its
own broker (stopped with SIGTERM at teardown unless the test kills it on
purpose) and gets a RabbitMQ node with no queues and no alarms.
"""

import base64
import collections
import json
import os
import re
import signal
import struct
import subprocess
import threading
import time

import bson
import pytest

import harness
from plugin_helpers import PUBACK_OK, RC_NOT_AUTHORIZED, Admin, add_admin

pytestmark = pytest.mark.needs_plugin

Q_CONN = 'iothub_client_connected'
Q_DISC = 'iothub_client_disconnected'
Q_PUB = 'iothub_message_publish'
QUEUES = {'client.connected': Q_CONN, 'client.disconnected': Q_DISC,
          'message.publish': Q_PUB}
LOADGEN = harness.REPO / 'bench' / 'build' / 'loadgen'

# Fields of docs/PROTOCOL.md §5: the anchor's, and those this plugin adds.
ANCHOR = {
    'client.connected': {'client_id', 'username', 'keepalive', 'ipaddress',
                         'proto_ver', 'connected_at', 'conn_ack'},
    'client.disconnected': {'client_id', 'username', 'disconnected_at',
                            'reason'},
    'message.publish': {'client_id', 'username', 'topic', 'qos', 'retained',
                        'payload', 'ts', 'published_at'},
}
ADDED = {'event', 'event_id', 'conn_id', 'seq', 'node', 'product_name',
         'device_name'}

# Fast failure detection for the tests that take RabbitMQ away.
FAST_RECONNECT = {'amqp_reconnect_min': '100ms', 'amqp_reconnect_max': '1s'}


# ----------------------------------------------------------------------
# consuming
# ----------------------------------------------------------------------
Event = collections.namedtuple('Event', 'doc msg')


def _wait_queue(rabbit, queue, timeout):
    """Until the plugin has declared ``queue`` (it does so on connect)."""
    import pika.exceptions

    def exists():
        with rabbit.connection() as conn:
            try:
                conn.channel().queue_declare(queue, passive=True)
                return True
            except pika.exceptions.ChannelClosedByBroker:
                return False
    harness.wait_until(exists, timeout, interval=0.2,
                       what='queue %s declared by the plugin' % queue)


def collect(rabbit, queue, count=None, timeout=30, idle=1.0):
    """Consume from ``queue`` with a prefetch window (fast for thousands of
    messages).  Returns [Event] once ``count`` arrived, or, without
    ``count``, once nothing arrived for ``idle`` seconds; never waits past
    ``timeout``.  Messages are acked."""
    rabbit._known_queues.add(queue)
    deadline = time.monotonic() + timeout
    _wait_queue(rabbit, queue, timeout)
    got = []
    with rabbit.connection() as conn:
        ch = conn.channel()
        ch.basic_qos(prefetch_count=1000)
        for method, props, body in ch.consume(queue, inactivity_timeout=idle):
            if method is not None:
                m = harness.RabbitMessage(body, props, method.routing_key,
                                          method.exchange, method.redelivered)
                got.append(Event(harness.decode_event(m), m))
                ch.basic_ack(method.delivery_tag)
            elif count is None:
                break
            if count is not None and len(got) >= count:
                break
            if time.monotonic() >= deadline:
                break
        ch.cancel()
    return got


def collect_all(rabbit, counts=None, timeout=30, idle=1.0):
    """{routing key: [Event]} from the three queues."""
    counts = counts or {}
    return {rk: collect(rabbit, q, counts.get(rk), timeout, idle)
            for rk, q in QUEUES.items()}


def collect_until(rabbit, queue, keys, key_of, timeout=60, idle=2.0):
    """Consume until every key in ``keys`` was seen (key_of(Event) -> key);
    returns (events, missing)."""
    want = set(keys)
    events = []
    deadline = time.monotonic() + timeout
    while want and time.monotonic() < deadline:
        batch = collect(rabbit, queue, None,
                        max(1.0, deadline - time.monotonic()), idle)
        events += batch
        for e in batch:
            want.discard(key_of(e))
    # whatever is still on its way (duplicates included)
    events += collect(rabbit, queue, None, 5, 0.5)
    return events, want


def props_ok(ev, routing_key, content_type='application/bson'):
    p = ev.msg.properties
    assert ev.msg.routing_key == routing_key
    assert ev.msg.exchange == 'mqtt.events'
    assert p.message_id == ev.doc['event_id']
    assert p.delivery_mode == 2, 'events must be persistent'
    assert p.content_type == content_type
    assert p.type == routing_key


def stats(b):
    """The plugin's counters from stats_file (written every stats_interval)."""
    path = b.dir / 'stats.json'
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def wait_stats(b, pred, timeout=30, what='stats'):
    return harness.wait_until(lambda: (lambda s: s if s and pred(s) else None)(stats(b)),
                              timeout, interval=0.2, what=what)


def event_broker(broker, extra_conf='', **options):
    opts = {'stats_interval': '1s', 'stats_file': 'stats.json',
            'node_name': 'node-a', 'revalidate_interval': '1h'}
    opts.update(options)
    return broker(options=opts, extra_conf=extra_conf)


def iothub_consumer_state(events):
    """What the IotHub server's consumer does with connect/disconnect events
    in the order given: the last event of a client id wins."""
    state = {}
    for e in events:
        d = e.doc
        if d['event'] == 'client.connected':
            state[d['client_id']] = ('online', d['connected_at'])
        elif d['event'] == 'client.disconnected':
            state[d['client_id']] = ('offline', d['disconnected_at'])
    return {k: v[0] for k, v in state.items()}


# ----------------------------------------------------------------------
# content
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', [4, 5])
def test_each_event_arrives_once_with_the_anchor_fields_in_bson(mongo, rabbit, broker, mqtt, proto):
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker)
    t0 = int(time.time() * 1000)
    c = mqtt(b, d.username, d.secret, client_id='dev-d1', proto=proto, keepalive=42)
    assert c.connack == 0
    payload = bytes(range(256)) + b'\x00tail'         # binary, with NULs
    assert c.publish('upload_data/p1/d1/temperature/m1', payload, qos=1) in PUBACK_OK
    c.disconnect()
    got = collect_all(rabbit, {'client.connected': 1, 'client.disconnected': 1,
                               'message.publish': 1})
    t1 = int(time.time() * 1000)
    more = collect_all(rabbit, timeout=3, idle=1.0)
    assert all(not v for v in more.values()), 'duplicates: %r' % more
    (con,), (dis,), (pub,) = (got['client.connected'], got['client.disconnected'],
                              got['message.publish'])
    for ev, rk in ((con, 'client.connected'), (dis, 'client.disconnected'),
                   (pub, 'message.publish')):
        props_ok(ev, rk)
        assert ANCHOR[rk] | ADDED <= set(ev.doc), sorted(ANCHOR[rk] | ADDED - set(ev.doc))
        assert ev.doc['event'] == rk
        assert ev.doc['client_id'] == 'dev-d1'
        assert ev.doc['username'] == 'p1/d1'
        assert ev.doc['product_name'] == 'p1' and ev.doc['device_name'] == 'd1'
        assert ev.doc['node'] == 'node-a'
        assert re.fullmatch(r'[0-9a-f]{32}', ev.doc['event_id'])
    assert len({con.doc['event_id'], dis.doc['event_id'], pub.doc['event_id']}) == 3
    # one connection: one conn_id; seq orders the three events
    assert con.doc['conn_id'] and con.doc['conn_id'] == dis.doc['conn_id'] == pub.doc['conn_id']
    assert con.doc['seq'] < pub.doc['seq'] < dis.doc['seq']

    # What the IotHub server's consumer reads: bson.decode, then these.
    c_doc = bson.decode(con.msg.body)
    p_doc = bson.decode(pub.msg.body)
    d_doc = bson.decode(dis.msg.body)
    times = (t0, c_doc['connected_at'], p_doc['published_at'], d_doc['disconnected_at'], t1)
    assert list(times) == sorted(times), times
    assert p_doc['ts'] == p_doc['published_at']
    assert isinstance(p_doc['payload'], bytes) and p_doc['payload'] == payload
    assert isinstance(p_doc['published_at'], int) and isinstance(c_doc['connected_at'], int)
    assert c_doc['keepalive'] == 42
    assert c_doc['ipaddress'] == '127.0.0.1'
    assert c_doc['proto_ver'] == proto
    assert c_doc['conn_ack'] == 0
    assert p_doc['topic'] == 'upload_data/p1/d1/temperature/m1'
    assert p_doc['qos'] == 1 and p_doc['retained'] is False
    assert d_doc['reason'] == 'closed'
    # the counters line of stats_interval (1 s here)
    b.wait_log(r'iothub: events: queued=3 spooled=3 .* confirmed=3 ', timeout=10)


def test_bson_payload_is_binary_subtype_0(mongo, rabbit, broker, mqtt):
    """The IotHub consumer reads `payload` as BSON binary (type 0x05,
    subtype 0), and times as int64 (0x12): check the wire types."""
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker)
    c = mqtt(b, d.username, d.secret, client_id='c1')
    assert c.publish('update_status/p1/d1/m1', b'online', qos=1, retain=True) == 0
    (pub,) = collect(rabbit, Q_PUB, 1)
    body = pub.msg.body
    i = body.index(b'\x05payload\x00')
    assert struct.unpack_from('<i', body, i + 9)[0] == 6 and body[i + 13] == 0
    assert body[i + 14:i + 20] == b'online'
    assert b'\x12published_at\x00' in body and b'\x12ts\x00' in body
    assert pub.doc['retained'] is True


def test_json_format(mongo, rabbit, broker, mqtt):
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker, event_format='json')
    c = mqtt(b, d.username, d.secret, client_id='j1')
    payload = b'\x00\xff\x10bin"\\'
    assert c.publish('rpc_resp/p1/d1/reboot/r1/m1', payload, qos=1) == 0
    c.disconnect()
    got = collect_all(rabbit, {'client.connected': 1, 'client.disconnected': 1,
                               'message.publish': 1})
    for rk, (ev,) in got.items():
        props_ok(ev, rk, 'application/json')
        doc = json.loads(ev.msg.body)          # plain JSON, no extensions
        assert ANCHOR[rk] | ADDED <= set(doc)
        assert doc['client_id'] == 'j1' and doc['product_name'] == 'p1'
        assert isinstance(doc['seq'], int)
    pub = got['message.publish'][0].doc
    assert pub['payload_encoding'] == 'base64'
    assert base64.b64decode(pub['payload']) == payload
    assert isinstance(pub['published_at'], int) and isinstance(pub['ts'], int)
    con = got['client.connected'][0].doc
    assert isinstance(con['connected_at'], int) and con['proto_ver'] == 4


# ----------------------------------------------------------------------
# disconnected: only for accepted connections, with the right reason
# ----------------------------------------------------------------------
def test_disconnect_reasons_and_no_events_for_refused_clients(mongo, rabbit, broker, mqtt):
    devs = {name: mongo.add_device('p1', name) for name in
            ('closed', 'dropped', 'kickdev', 'kickcli', 'susp', 'deleted', 'taken', 'acl')}
    b = event_broker(broker, acl_deny_action='disconnect')
    admin = Admin(mqtt, b, add_admin(mongo), watch=None)
    ctl = admin.command

    # refused: wrong secret, unknown device, anonymous, bad username
    for user, pw in ((devs['closed'].username, 'wrong'), ('p1/nobody', 'x'),
                     (None, None), ('no-slash', 'x')):
        r = mqtt(b, user, pw, client_id='refused-%s' % user)
        assert r.connack not in (0, None)

    cl = {n: mqtt(b, d.username, d.secret, client_id=n) for n, d in devs.items()}
    assert all(c.connack == 0 for c in cl.values())
    cl['closed'].disconnect()
    cl['dropped'].drop()
    ctl('kickDevice', username=devs['kickdev'].username)
    ctl('kickClient', clientid='kickcli')
    mongo.set_status(devs['susp'].username, 'suspended')
    ctl('invalidateDevice', username=devs['susp'].username)
    mongo.db.devices.delete_one({'broker_username': devs['deleted'].username})
    ctl('invalidateDevice', username=devs['deleted'].username)
    taker = mqtt(b, devs['taken'].username, devs['taken'].secret, client_id='taken')
    assert taker.connack == 0
    cl['acl'].publish('upload_data/p1/someone-else/t/1', b'x', qos=1)
    for n in ('kickdev', 'kickcli', 'susp', 'deleted', 'taken', 'acl'):
        assert cl[n].wait_disconnect(10), '%s was not disconnected' % n

    want = {'closed': 'closed', 'dropped': 'closed', 'kickdev': 'kicked',
            'kickcli': 'kicked', 'susp': 'suspended', 'deleted': 'deleted',
            'taken': 'takeover', 'acl': 'acl_denied'}
    dis = collect(rabbit, Q_DISC, len(want), timeout=20)
    dis += collect(rabbit, Q_DISC, None, timeout=3, idle=1.0)
    reasons = {e.doc['client_id']: e.doc['reason'] for e in dis}
    assert reasons == want, reasons
    assert len(dis) == len(want), [e.doc for e in dis]
    con = collect(rabbit, Q_CONN, None, timeout=10, idle=1.0)
    ids = collections.Counter(e.doc['client_id'] for e in con)
    assert not [i for i in ids if i.startswith('refused')], ids
    assert ids == collections.Counter(list(want) + ['taken', admin.ctl_id])
    # each disconnect names the connection it ends
    conn_ids = {e.doc['conn_id']: e.doc['client_id'] for e in con}
    for e in dis:
        assert conn_ids[e.doc['conn_id']] == e.doc['client_id']


def test_broker_shutdown_reports_connected_clients_offline(mongo, rabbit, broker, mqtt):
    """Mosquitto fires no DISCONNECT for clients still connected when it
    stops; the plugin reports them with reason "shutdown" so no consumer
    keeps a device online forever after a clean stop."""
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker)
    c = mqtt(b, d.username, d.secret, client_id='stay', clean=False)
    assert c.connack == 0
    collect(rabbit, Q_CONN, 1)
    assert b.stop()
    (dis,) = collect(rabbit, Q_DISC, 1, timeout=20)
    assert dis.doc['client_id'] == 'stay' and dis.doc['reason'] == 'shutdown'


# ----------------------------------------------------------------------
# persistent-session takeover (docs/MOSQUITTO.md §3)
# ----------------------------------------------------------------------
@pytest.mark.parametrize('proto', [4, 5])
def test_persistent_session_takeover_ends_online(mongo, rabbit, broker, mqtt, proto):
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker)
    kw = {'clean': False, 'proto': proto}
    if proto == 5:
        kw['session_expiry'] = 3600
    # 1. live takeover: a second connection with the same id
    a = mqtt(b, d.username, d.secret, client_id='sess', **kw)
    assert a.connack == 0
    a2 = mqtt(b, d.username, d.secret, client_id='sess', **kw)
    assert a2.connack == 0
    assert a.wait_disconnect(5)
    # 2. the trap: the session goes offline, then is resumed; the broker's
    #    DISCONNECT for the old context comes after the new BASIC_AUTH
    a2.drop()
    time.sleep(0.3)
    a3 = mqtt(b, d.username, d.secret, client_id='sess', **kw)
    assert a3.connack == 0
    time.sleep(1.0)        # any late, false "offline" would be out by now

    events = collect(rabbit, Q_CONN, 3) + collect(rabbit, Q_DISC, 2)
    events += collect(rabbit, Q_CONN, None, 3, 1.0) + collect(rabbit, Q_DISC, None, 3, 1.0)
    con = [e for e in events if e.doc['event'] == 'client.connected']
    dis = [e for e in events if e.doc['event'] == 'client.disconnected']
    assert len(con) == 3 and len(dis) == 2, [e.doc for e in events]
    assert [e.doc['reason'] for e in sorted(dis, key=lambda e: e.doc['seq'])] == ['takeover', 'closed']

    # A consumer that applies events in arrival order (one queue each, as
    # the IotHub server does, so arrival = interleaving of two queues):
    # every interleaving that keeps each queue's order must end online,
    # which holds when the last connect follows every disconnect in seq.
    by_seq = sorted(events, key=lambda e: e.doc['seq'])
    assert iothub_consumer_state(by_seq) == {'sess': 'online'}
    assert by_seq[-1].doc['event'] == 'client.connected'
    assert by_seq[-1].doc['conn_id'] == con[-1].doc['conn_id']
    # the queue order itself (arrival order per queue) agrees with seq
    assert [e.doc['seq'] for e in con] == sorted(e.doc['seq'] for e in con)
    assert [e.doc['seq'] for e in dis] == sorted(e.doc['seq'] for e in dis)
    # a single-stream consumer (one queue bound to both keys) in arrival order
    assert iothub_consumer_state(_single_stream(rabbit, b, mqtt, d, kw)) == {'sess2': 'online'}


def test_live_takeovers_of_a_persistent_session_leave_one_entry(mongo, rabbit, broker, mqtt):
    """A device that reconnects before the broker noticed its old
    connection died takes its own session over.  Each takeover used to leave
    the old connection's entry behind for good (a leak per reconnect); the
    session itself must live on in the newest connection."""
    d = mongo.add_device('p1', 'd1')
    ops = mongo.add_device('platform', 'ops', superuser=True)
    b = event_broker(broker)
    for _ in range(5):
        a = mqtt(b, d.username, d.secret, client_id='sess', clean=False)
        assert a.connack == 0
    wait_stats(b, lambda s: s['connections'] == {'online': 1, 'tracked': 1, 'devices': 1},
               timeout=5, what='one tracked connection')
    a.drop()                      # offline: the session stays, with its rules
    wait_stats(b, lambda s: s['connections']['online'] == 0 and s['connections']['tracked'] == 1,
               timeout=5, what='the offline session kept')
    admin = mqtt(b, ops.username, ops.secret, client_id='ops')
    assert admin.publish('cmd/p1/d1/reboot/plain/r1', b'now', qos=1) == 0
    back = mqtt(b, d.username, d.secret, client_id='sess', clean=False)
    assert back.connack == 0
    (m,) = back.wait_for(1, timeout=10)          # queued for the session
    assert m.topic == 'cmd/p1/d1/reboot/plain/r1'
    dis = collect(rabbit, Q_DISC, 5, timeout=15)
    dis += collect(rabbit, Q_DISC, None, timeout=3, idle=1.0)
    assert [e.doc['reason'] for e in dis] == ['takeover'] * 4 + ['closed']
    assert {e.doc['client_id'] for e in dis} == {'sess'}


def _single_stream(rabbit, b, mqtt, d, kw):
    """Bind one queue to both connect and disconnect keys, take over a live
    session once and resume an offline one once; return the events in the
    order that queue delivered them."""
    with rabbit.connection() as conn:
        ch = conn.channel()
        ch.queue_declare('it_status_stream', durable=True)
        for rk in ('client.connected', 'client.disconnected'):
            ch.queue_bind('it_status_stream', 'mqtt.events', rk)
    rabbit._known_queues.add('it_status_stream')
    x = mqtt(b, d.username, d.secret, client_id='sess2', **kw)
    y = mqtt(b, d.username, d.secret, client_id='sess2', **kw)
    assert x.connack == 0 and y.connack == 0
    y.drop()
    time.sleep(0.3)
    z = mqtt(b, d.username, d.secret, client_id='sess2', **kw)
    assert z.connack == 0
    evs = collect(rabbit, 'it_status_stream', 5, timeout=15)
    evs += collect(rabbit, 'it_status_stream', None, timeout=3, idle=1.0)
    assert len(evs) == 5, [e.doc for e in evs]
    return evs


# ----------------------------------------------------------------------
# which publishes, which events
# ----------------------------------------------------------------------
def test_publish_events_only_for_uplink_topics_by_default(mongo, rabbit, broker, mqtt):
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker)
    c = mqtt(b, d.username, d.secret, client_id='c1', proto=5)
    uplink = ['upload_data/p1/d1/t/1', 'update_status/p1/d1/2',
              'update_ota_status/p1/d1/3', 'cmd_resp/p1/d1/reboot/r1/4',
              'rpc_resp/p1/d1/ping/r2/5', 'get/p1/d1/ntp/6']
    for t in uplink:
        assert c.publish(t, t.encode(), qos=1) in PUBACK_OK
    # allowed by the ACL but not an uplink topic: no event
    assert c.publish('m2m/p1/d2/d1/7', b'peer', qos=1) in PUBACK_OK
    # refused by the ACL: no event either
    assert c.publish('upload_data/p1/d2/t/8', b'spoof', qos=1) == RC_NOT_AUTHORIZED
    assert c.publish('upload_data/p1/d1/t/9', b'qos0', qos=0) == 0
    time.sleep(0.3)
    pubs = collect(rabbit, Q_PUB, len(uplink) + 1)
    pubs += collect(rabbit, Q_PUB, None, timeout=3, idle=1.0)
    assert sorted(e.doc['topic'] for e in pubs) == sorted(uplink + ['upload_data/p1/d1/t/9'])
    assert {e.doc['topic']: e.doc['qos'] for e in pubs}['upload_data/p1/d1/t/9'] == 0


def test_event_publish_topic_and_toggles(mongo, rabbit, broker, mqtt):
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker, event_publish_topic=['m2m/#'], event_connected=False,
                     event_disconnected=False)
    c = mqtt(b, d.username, d.secret, client_id='c1')
    assert c.publish('m2m/p1/d2/d1/1', b'peer', qos=1) == 0
    assert c.publish('upload_data/p1/d1/t/1', b'up', qos=1) == 0
    c.disconnect()
    pubs = collect(rabbit, Q_PUB, 1)
    pubs += collect(rabbit, Q_PUB, None, timeout=2, idle=1.0)
    assert [e.doc['topic'] for e in pubs] == ['m2m/p1/d2/d1/1']
    assert collect(rabbit, Q_CONN, None, timeout=3, idle=1.0) == []
    assert collect(rabbit, Q_DISC, None, timeout=3, idle=1.0) == []
    b.stop()

    b2 = event_broker(broker, event_publish=False)
    c = mqtt(b2, d.username, d.secret, client_id='c2')
    assert c.publish('upload_data/p1/d1/t/2', b'up', qos=1) == 0
    c.disconnect()
    assert [e.doc['client_id'] for e in collect(rabbit, Q_CONN, 1)] == ['c2']
    assert [e.doc['client_id'] for e in collect(rabbit, Q_DISC, 1)] == ['c2']
    assert collect(rabbit, Q_PUB, None, timeout=3, idle=1.0) == []
    wait_stats(b2, lambda s: s['events']['queued'] == 2 and s['events']['confirmed'] == 2,
               what='2 events: connected and disconnected')


def test_events_published_before_any_consumer_are_kept(mongo, rabbit, broker, mqtt):
    """No consumer has declared anything: the plugin declares the durable
    exchange, queues and bindings, so nothing is unroutable; the IotHub
    consumer can then declare the same queues (same arguments) and read."""
    assert 'iothub_message_publish' not in rabbit.list_queues()
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker)
    c = mqtt(b, d.username, d.secret, client_id='early')
    for i in range(10):
        assert c.publish('upload_data/p1/d1/t/%d' % i, b'%d' % i, qos=1) == 0
    c.disconnect()
    wait_stats(b, lambda s: s['events']['confirmed'] >= 12, what='12 confirmed events')
    assert rabbit.list_queues() == {Q_CONN: 1, Q_DISC: 1, Q_PUB: 10}
    assert stats(b)['events']['returned'] == 0
    rabbit.declare_iothub()          # the consumer's own declarations agree
    got = collect_all(rabbit, {'client.connected': 1, 'client.disconnected': 1,
                               'message.publish': 10})
    assert [e.doc['payload'] for e in got['message.publish']] == [b'%d' % i for i in range(10)]


# ----------------------------------------------------------------------
# RabbitMQ away, the broker unaffected
# ----------------------------------------------------------------------
def _register(mongo, product, n, workdir):
    devs = [mongo.add_device(product, 'd%04d' % i) for i in range(n)]
    path = workdir / 'creds.txt'
    path.write_text(''.join('%s %s\n' % (d.username, d.secret) for d in devs))
    return devs, path


def loadgen(registry, port, creds, publishers, count, topic='upload_data/%p/%d/t/%n',
            qos=1, inflight=20, extra=(), timeout=300):
    if not LOADGEN.exists():
        pytest.fail('bench/build/loadgen is not built: run `make loadgen` (make test does)')
    args = [LOADGEN, '--port', port, '--mode', 'pub', '--publishers', publishers,
            '--count', count, '--qos', qos, '--inflight', inflight,
            '--creds', creds, '--topic', topic, '--json', '--quiet',
            '--drain', 10] + list(extra)
    res = registry.run(args, timeout=timeout)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out['connect'][0]['ready'] == publishers, out['connect']
    return out


def _loadgen_key(payload):
    """(publisher id, sequence) from a loadgen payload (bench/README.md)."""
    return struct.unpack_from('<II', payload, 8)


@pytest.mark.slow
@pytest.mark.fault
@pytest.mark.timeout(300)
def test_rabbitmq_down_20s_broker_acks_at_full_speed_and_nothing_is_lost(
        mongo, rabbit, broker, registry, workdir):
    pubs, per = 20, 250                       # 5000 QoS 1 publishes
    devs, creds = _register(mongo, 'p1', pubs, workdir)
    b = event_broker(broker, extra_conf='set_tcp_nodelay true', **FAST_RECONNECT)

    # RabbitMQ up: the reference rate, and a warm-up
    up = loadgen(registry, b.port, creds, pubs, per)
    assert up['publish']['acked'] == pubs * per
    wait_stats(b, lambda s: s['events']['backlog'] == 0 and s['events']['confirmed'] >= 5000 + pubs,
               timeout=60, what='the warm-up delivered')
    collect(rabbit, Q_PUB, pubs * per, timeout=60)

    t_stop = time.monotonic()
    rabbit.stop()
    down = loadgen(registry, b.port, creds, pubs, per)
    assert down['publish']['acked'] == pubs * per
    assert down['publish']['nacked'] == 0
    s = stats(b)
    assert s['events']['dropped'] == 0 and s['events']['memory_queued'] == 0
    rate_up = up['publish']['acked'] / up['publish']['elapsed_s']
    rate_down = down['publish']['acked'] / down['publish']['elapsed_s']
    print('QoS 1 acks/s: RabbitMQ up %.0f, down %.0f (ratio %.2f); PUBACK p99 up %d us, down %d us'
          % (rate_up, rate_down, rate_down / rate_up, up['publish']['ack_latency_us']['p99'],
             down['publish']['ack_latency_us']['p99']))
    assert rate_down >= 0.5 * rate_up, (rate_up, rate_down)
    assert b.running
    time.sleep(max(0.0, 20 - (time.monotonic() - t_stop)))
    rabbit.start()

    sent = {(rid, seq) for rid in _publisher_ids(down) for seq in range(per)}
    events, missing = collect_until(rabbit, Q_PUB, sent, lambda e: _loadgen_key(e.doc['payload']),
                                    timeout=120)
    assert not missing, '%d of %d events missing' % (len(missing), len(sent))
    mine = [e for e in events if _loadgen_key(e.doc['payload']) in sent]
    by_id = {e.doc['event_id']: e for e in mine}
    assert len(by_id) == len(sent), 'after dedupe by message_id: %d events for %d publishes' % (
        len(by_id), len(sent))
    assert all(e.msg.properties.message_id == i for i, e in by_id.items())
    # at least once: a redelivered copy carries the same id, so one id per publish
    ids_of = collections.defaultdict(set)
    for e in mine:
        ids_of[_loadgen_key(e.doc['payload'])].add(e.doc['event_id'])
    assert all(len(v) == 1 for v in ids_of.values())
    s = wait_stats(b, lambda s: s['events']['backlog'] == 0, timeout=30, what='backlog 0')
    assert s['events']['reconnects'] >= 1
    assert s['events']['dropped'] == 0
    b.wait_log(r'disconnected from RabbitMQ')
    b.wait_log(r'connected to RabbitMQ', since=0)


def _publisher_ids(out):
    """The publisher ids a loadgen run used: run tag << 20 | index."""
    tag = int(out['config']['run_id'][1:], 16)
    return [(tag << 20) | i for i in range(out['config']['publishers'])]


# ----------------------------------------------------------------------
# broker crash: nothing acknowledged is lost
# ----------------------------------------------------------------------
class Flood:
    """A paho client publishing QoS 1 with many messages in flight; keeps
    the MQTTMessageInfo of each publish, so after a crash we know exactly
    which ones the broker acknowledged (PUBACK received)."""

    def __init__(self, port, user, pw, client_id, inflight=200):
        import paho.mqtt.client as mqtt
        self.client = mqtt.Client(client_id=client_id, clean_session=True)
        self.client.username_pw_set(user, pw)
        self.client.max_inflight_messages_set(inflight)
        self.client.max_queued_messages_set(0)
        self.connected = threading.Event()
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.connect('127.0.0.1', port, 30)
        self.client.loop_start()
        assert self.connected.wait(10)
        self.infos = []

    def publish(self, topic, payload):
        self.infos.append(self.client.publish(topic, payload, qos=1))

    def acked(self):
        return [i for i, info in enumerate(self.infos) if info.is_published()]

    def stop(self):
        self.client.loop_stop()
        try:
            self.client.disconnect()
        except Exception:
            pass


def _flood_until_kill(b, d, n, kill_after):
    """Publish n QoS 1 messages (payload = their index), SIGKILL the broker
    once kill_after of them were acknowledged; returns the acked indices."""
    f = Flood(b.port, d.username, d.secret, 'flood')
    try:
        for i in range(n):
            f.publish('upload_data/%s/%s/t/%d' % (d.product, d.device, i), b'%08d' % i)
            if i % 100 == 99 and len(f.acked()) >= kill_after:
                break
        harness.wait_until(lambda: len(f.acked()) >= kill_after, 30, what='%d PUBACKs' % kill_after)
        b.kill()
        time.sleep(0.5)            # PUBACKs already in the socket reach paho
        return set(f.acked()), len(f.infos)
    finally:
        f.stop()


@pytest.mark.slow
@pytest.mark.fault
@pytest.mark.timeout(240)
@pytest.mark.parametrize('rabbit_state', ['up', 'blocked'])
def test_broker_sigkill_loses_no_acknowledged_event(mongo, rabbit, broker, rabbit_state):
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker, **FAST_RECONNECT)
    if rabbit_state == 'blocked':
        # everything stays in the spool: the restart must replay it all
        rabbit.ctl('set_vm_memory_high_watermark', '0')
    acked, sent = _flood_until_kill(b, d, 20000, 3000)
    assert b.exit_code == -signal.SIGKILL
    assert len(acked) >= 3000
    if rabbit_state == 'blocked':
        rabbit.ctl('set_vm_memory_high_watermark', '0.4')
    b.start()
    b.wait_log(r'spool: recovered \d+ undelivered events')

    events, missing = collect_until(rabbit, Q_PUB, acked, lambda e: int(e.doc['payload']), timeout=120)
    assert not missing, '%d acknowledged publishes have no event, e.g. %s' % (
        len(missing), sorted(missing)[:10])
    ids = collections.Counter(e.doc['event_id'] for e in events)
    # at least once: a redelivery keeps its event_id, so dedupe works
    payloads = collections.defaultdict(set)
    for e in events:
        payloads[int(e.doc['payload'])].add(e.doc['event_id'])
    assert all(len(v) == 1 for v in payloads.values()), 'an event changed its id on replay'
    print('sent %d, acked %d, events %d (%d distinct ids)' % (sent, len(acked), len(events), len(ids)))


@pytest.mark.fault
@pytest.mark.timeout(180)
@pytest.mark.parametrize('damage', ['garbage', 'truncate'])
def test_corrupt_spool_tail_is_recovered(mongo, rabbit, broker, mqtt, damage):
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker, spool_segment_bytes='256k', **FAST_RECONNECT)
    rabbit.ctl('set_vm_memory_high_watermark', '0')     # keep it all in the spool
    c = mqtt(b, d.username, d.secret, client_id='c1')
    n = 400
    for i in range(n):
        assert c.publish('upload_data/p1/d1/t/%d' % i, b'%08d' % i, qos=1) == 0
    b.kill()
    spool = b.dir / 'iothub-spool'
    segs = sorted(spool.glob('*.seg'))
    assert segs, list(spool.iterdir())
    newest = segs[-1]
    data = bytearray(newest.read_bytes())
    ends = [m.start() for m in re.finditer(re.escape(struct.pack('<I', 0x31435249)), data)]
    assert len(ends) > 300, len(ends)           # the records are there
    cut = ends[300]                              # damage from record ~300 on
    if damage == 'garbage':
        data[cut + 8:cut + 8 + 4096] = os.urandom(4096)
        newest.write_bytes(bytes(data))
    else:
        with open(newest, 'r+b') as fh:
            fh.truncate(cut + 20)                # mid-record
    rabbit.ctl('set_vm_memory_high_watermark', '0.4')
    b.start()
    b.wait_log(r'spool: segment \S+: (corrupt|torn|incomplete) record')
    if damage == 'truncate':
        b.wait_log(r'spool: segment \S+ is truncated')
    b.wait_log(r'spool: recovered \d+ undelivered events')
    c2 = mqtt(b, d.username, d.secret, client_id='c2')    # serving again
    assert c2.publish('upload_data/p1/d1/t/after', b'after', qos=1) == 0
    want = {b'after'} | {b'%08d' % i for i in range(290)}
    if damage == 'garbage':         # resynchronised after the damage
        want |= {b'%08d' % i for i in range(330, n)}
    events, missing = collect_until(rabbit, Q_PUB, want, lambda e: e.doc['payload'], timeout=60)
    assert not missing, sorted(missing)[:10]
    assert b.running


# ----------------------------------------------------------------------
# RabbitMQ resource alarm
# ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.fault
@pytest.mark.timeout(180)
def test_memory_alarm_blocks_forwarding_not_the_broker(mongo, rabbit, broker, mqtt, registry, workdir):
    pubs, per = 10, 200
    devs, creds = _register(mongo, 'p1', pubs, workdir)
    b = event_broker(broker, **FAST_RECONNECT)
    c = mqtt(b, devs[0].username, devs[0].secret, client_id='probe')
    assert c.publish('upload_data/p1/d0000/t/warm', b'warm', qos=1) == 0
    wait_stats(b, lambda s: s['events']['amqp_connected'] and s['events']['backlog'] == 0,
               what='connected and idle')
    mark = b.log_mark()
    rabbit.ctl('set_vm_memory_high_watermark', '0')
    out = loadgen(registry, b.port, creds, pubs, per)
    assert out['publish']['acked'] == pubs * per
    t0 = time.monotonic()
    assert c.publish('upload_data/p1/d0000/t/during', b'during', qos=1) == 0
    assert time.monotonic() - t0 < 1.0
    b.wait_log(r'RabbitMQ blocked', since=mark)
    s = stats(b)
    assert s['events']['dropped'] == 0
    time.sleep(3)
    assert b.running
    rabbit.ctl('set_vm_memory_high_watermark', '0.4')
    b.wait_log(r'RabbitMQ unblocked', since=mark, timeout=30)
    sent = {(rid, seq) for rid in _publisher_ids(out) for seq in range(per)}
    events, missing = collect_until(rabbit, Q_PUB, sent,
                                    lambda e: _loadgen_key(e.doc['payload']) if len(e.doc['payload']) >= 16 else None,
                                    timeout=90)
    assert not missing, '%d events missing' % len(missing)
    assert b'during' in {e.doc['payload'] for e in events}
    wait_stats(b, lambda s: s['events']['backlog'] == 0 and s['events']['dropped'] == 0
               and s['events']['memory_queued'] == 0, what='all delivered, nothing dropped')


# ----------------------------------------------------------------------
# the spool cannot take events
# ----------------------------------------------------------------------
@pytest.mark.fault
@pytest.mark.timeout(180)
def test_spool_disk_full_degrades_to_memory_then_drops_without_crashing(mongo, rabbit, broker, mqtt, workdir):
    """spool_dir on a 1 MiB tmpfs, RabbitMQ stopped: the spool fills up
    (ENOSPC from fallocate), events go to the memory queue
    (queue_max_events), then are dropped and counted. The broker keeps
    acknowledging; once RabbitMQ is back, everything not dropped arrives."""
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    mnt = workdir / 'tiny'
    mnt.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(mnt)],
                       stderr=subprocess.PIPE)
    if r.returncode:
        pytest.skip('cannot mount a tmpfs: %s' % r.stderr.decode())
    try:
        d = mongo.add_device('p1', 'd1')
        b = event_broker(broker, spool_dir=str(mnt / 'spool'), spool_segment_bytes='64k',
                         queue_max_events=100, **FAST_RECONNECT)
        rabbit.stop()
        c = mqtt(b, d.username, d.secret, client_id='c1')
        payload = b'x' * 2000
        n = 1000                                 # ~2.2 MB of events: twice the disk
        for i in range(n):
            assert c.publish('upload_data/p1/d1/t/%d' % i, payload + b'%06d' % i, qos=1) == 0
        b.wait_log(r'spool cannot take events \(No space left on device\): degraded mode')
        b.wait_log(r'dropped \d+ event\(s\)')
        # every event accounted for: spooled, held in memory, or dropped
        # (+ 1: client.connected); the stats file is up to 1 s old
        s = wait_stats(b, lambda s: s['events']['spooled'] + s['events']['memory_queued']
                       + s['events']['dropped'] == n + 1, what='every event accounted for')
        ev = s['events']
        assert ev['memory_queued'] == 100 and ev['dropped'] > 0
        assert b.running and c.connected
        rabbit.start()
        keep = ev['spooled'] + ev['memory_queued'] - 1
        got = collect(rabbit, Q_PUB, keep, timeout=90)
        got += collect(rabbit, Q_PUB, None, timeout=3, idle=1.0)
        assert len({e.doc['event_id'] for e in got}) == keep
        # confirmed segments are unlinked: room again, degraded mode ends
        wait_stats(b, lambda s: s['events']['backlog'] == 0, what='backlog drained')
        time.sleep(1.5)
        assert c.publish('upload_data/p1/d1/t/again', b'again', qos=1) == 0
        b.wait_log(r'spool writable again, degraded mode over')
        assert collect(rabbit, Q_PUB, 1)[0].doc['payload'] == b'again'
        assert b.stop()
    finally:
        subprocess.run(['umount', '-l', str(mnt)])


@pytest.mark.fault
@pytest.mark.timeout(120)
def test_spool_max_bytes_reached_degrades_and_recovers(mongo, rabbit, broker, mqtt):
    d = mongo.add_device('p1', 'd1')
    b = event_broker(broker, spool_max_bytes='1M', spool_segment_bytes='64k',
                     queue_max_events=50, **FAST_RECONNECT)
    rabbit.stop()
    c = mqtt(b, d.username, d.secret, client_id='c1')
    n = 800
    for i in range(n):
        assert c.publish('upload_data/p1/d1/t/%d' % i, b'y' * 2000, qos=1) == 0
    b.wait_log(r'spool cannot take events \(spool_max_bytes reached\): degraded mode')
    s = wait_stats(b, lambda s: s['events']['spooled'] + s['events']['memory_queued']
                   + s['events']['dropped'] == n + 1, what='every event accounted for')['events']
    assert s['dropped'] > 0 and s['memory_queued'] == 50
    assert s['spool_bytes'] <= 1024 * 1024
    rabbit.start()
    keep = s['spooled'] + s['memory_queued'] - 1
    got = collect(rabbit, Q_PUB, keep, timeout=90)
    assert len({e.doc['event_id'] for e in got}) == keep
    # room again: new events are spooled, the degraded mode ends
    assert c.publish('upload_data/p1/d1/t/again', b'again', qos=1) == 0
    b.wait_log(r'spool writable again, degraded mode over')
    assert collect(rabbit, Q_PUB, 1)[0].doc['payload'] == b'again'
