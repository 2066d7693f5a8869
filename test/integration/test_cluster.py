# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Cluster mode (issue 14): several broker nodes routed by RabbitMQ.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_cluster.py -q

Three broker nodes share one registry (the Mongo stand-in) and one private
RabbitMQ node. Devices connect to different nodes; commands are published
on yet another node and must arrive exactly once. Negative checks do not
sleep: a sentinel command follows the messages that must not arrive twice,
and the plugin queues every copy for a client in publish order.

What the tests watch besides the clients: every node's getStats `cluster`
section (AMQP publishes per routed command, pending bindings).
"""

import base64
import http.client
import json
import time

import pytest

import harness
from plugin_helpers import Admin, MARGIN, QUIET, unique_id

pytestmark = pytest.mark.needs_plugin

API_KEY = ('iothub-server', 'fleet-secret')


class Fleet:
    """N broker nodes with cluster true, a registry and RabbitMQ."""

    def __init__(self, mongo, broker, mqtt, rabbit, n=3, persistent=(), api=False, **options):
        self.mongo = mongo
        self.mqtt = mqtt
        self.rabbit = rabbit
        self.tag = unique_id('n').replace('-', '')
        self.ops = mongo.add_device('platform', 'ops', superuser=True)
        self.nodes = []
        self.admins = []
        self.opts = dict(QUIET, cluster=True, control=True, autosub_tags=True,
                         cluster_queue_prefix='iothub.node.%s.' % self.tag)
        self.opts.update(options)
        self._broker = broker
        self.api = api
        for i in range(n):
            self.add_node('%s-%d' % (self.tag, i), persistence=i in persistent)
        self._cid = 0

    def add_node(self, name, **kw):
        opts = dict(self.opts, node_name=name)
        port = None
        if self.api:
            port = harness.free_port()
            opts.update(http_api_listen='127.0.0.1:%d' % port,
                        http_api_key='%s:%s' % API_KEY)
        b = self._broker(options=opts, **kw)
        b.node_name = name
        b.api_port = port
        if port:
            harness.wait_until(lambda: harness.port_open(port), 10,
                               what='the HTTP API port of ' + name)
        self.rabbit._known_queues.add(self.opts['cluster_queue_prefix'] + name)
        self.nodes.append(b)
        return b

    def admin(self, i):
        while len(self.admins) <= i:
            self.admins.append(None)
        if self.admins[i] is None:
            self.admins[i] = Admin(self.mqtt, self.nodes[i], self.ops, watch=None)
        return self.admins[i]

    def stats(self, i):
        return self.admin(i).stats()['cluster']

    def settle(self):
        """Every node's bindings are applied in RabbitMQ."""
        def done():
            return all(self.stats(i)['binds_pending'] == 0 and self.stats(i)['connected']
                       for i in range(len(self.nodes)))
        harness.wait_until(done, 10, interval=0.05, what='bindings applied')

    def cid(self, dev):
        self._cid += 1
        return '%s-%s-%d' % (dev.product, dev.device, self._cid)

    def connect(self, i, dev, client_id=None, clean=True, proto=5, **kw):
        c = self.mqtt(self.nodes[i], dev.username, dev.secret,
                      client_id=client_id or self.cid(dev), clean=clean,
                      proto=proto, **kw)
        assert c.connack == 0, c.connack
        return c

    def call(self, i, method, path):
        """One HTTP API request to node i: (status, JSON document)."""
        conn = http.client.HTTPConnection('127.0.0.1', self.nodes[i].api_port, timeout=10)
        auth = base64.b64encode(('%s:%s' % API_KEY).encode()).decode()
        conn.request(method, path, headers={'Authorization': 'Basic ' + auth})
        r = conn.getresponse()
        doc = json.loads(r.read())
        conn.close()
        return r.status, doc

    def routed_out(self):
        return sum(self.stats(i)['routed_out'] for i in range(len(self.nodes)))


@pytest.fixture
def fleet(mongo, broker, mqtt, rabbit):
    made = []

    def factory(n=3, **options):
        f = Fleet(mongo, broker, mqtt, rabbit, n=n, **options)
        made.append(f)
        return f
    return factory


def payloads(client, n, timeout=10):
    return [(m.topic, m.payload) for m in client.wait_for(n, timeout)]


def test_duplicate_node_name_refused(fleet, broker):
    f = fleet(n=1)
    dup = broker(options=dict(f.opts, node_name=f.nodes[0].node_name),
                 expect_fail=True)
    assert dup.start_failed
    assert 'is in use by another live node' in dup.log_text()
    # The first node carries on.
    assert f.stats(0)['connected']


def test_cluster_off_by_default_needs_amqp(broker, mongo):
    b = broker(options={'cluster': True}, expect_fail=True)
    assert 'option cluster: needs amqp_uri' in b.log_text()


def test_every_downlink_kind_crosses_nodes_exactly_once(fleet, mongo):
    f = fleet(n=3)
    d1 = mongo.add_device('p1', 'd1', tags=['t1'])
    d2 = mongo.add_device('p1', 'd2', tags=['t2'])
    d10 = mongo.add_device('p1', 'd10', tags=['t1'])
    c1 = f.connect(0, d1)
    c2 = f.connect(1, d2)
    c10 = f.connect(2, d10)
    f.settle()
    ops = f.admin(1)            # the platform publishes on node 1
    before = f.routed_out()
    ops.publish('cmd/p1/d1/reboot/1/0', 'cmd')            # node 0's device
    ops.publish('rpc/p1/d10/ping/2/0', 'rpc')             # node 2's device
    ops.publish('tags/p1/t1/cmd/upgrade/3/0', 'tag')      # nodes 0 and 2
    ops.publish('cmd/p1/d2/local/4/0', 'local')           # node 1: stays local
    # m2m from d2 (node 1) to its peer d1 (node 0): m2m/<P>/<to>/<from>/<x>
    c2.publish('m2m/p1/d1/d2/5', 'm2m', qos=1)
    for c, dev in ((c1, 'd1'), (c10, 'd10'), (c2, 'd2')):
        ops.publish('cmd/p1/%s/sentinel/9/0' % dev, 'end')
    got1 = payloads(c1, 4)
    got10 = payloads(c10, 3)
    got2 = payloads(c2, 2)
    assert sorted(got1) == sorted([('cmd/p1/d1/reboot/1/0', b'cmd'),
                                   ('tags/p1/t1/cmd/upgrade/3/0', b'tag'),
                                   ('m2m/p1/d1/d2/5', b'm2m'),
                                   ('cmd/p1/d1/sentinel/9/0', b'end')])
    assert got1[-1] == ('cmd/p1/d1/sentinel/9/0', b'end')
    assert got10 == [('rpc/p1/d10/ping/2/0', b'rpc'),
                     ('tags/p1/t1/cmd/upgrade/3/0', b'tag'),
                     ('cmd/p1/d10/sentinel/9/0', b'end')]
    assert got2 == [('cmd/p1/d2/local/4/0', b'local'),
                    ('cmd/p1/d2/sentinel/9/0', b'end')]
    # One AMQP publish per routed message: cmd, rpc, tag, m2m and two
    # remote sentinels; the local command and sentinel cost none.
    assert f.routed_out() - before == 6
    assert f.stats(1)['routed_local'] >= 2


def test_qos1_command_waits_for_offline_session_on_another_node(fleet, mongo):
    f = fleet(n=2)
    d1 = mongo.add_device('p1', 'd1')
    cid = f.cid(d1)
    c = f.connect(0, d1, client_id=cid, clean=False, proto=4)
    f.settle()
    c.disconnect()
    harness.wait_until(lambda: f.admin(0).stats()['connections']['online'] == 1, 5,
                       what='device offline')   # the admin's own connection
    f.admin(1).publish('cmd/p1/d1/late/1/0', 'while-offline', qos=1)
    harness.wait_until(lambda: f.stats(0)['routed_in'] >= 1, 5, what='routed to node 0')
    back = f.connect(0, d1, client_id=cid, clean=False, proto=4)
    assert payloads(back, 1) == [('cmd/p1/d1/late/1/0', b'while-offline')]


def test_suspension_applies_on_another_node(fleet, mongo):
    f = fleet(n=2)
    d1 = mongo.add_device('p1', 'd1')
    c = f.connect(0, d1)
    f.settle()
    mongo.set_status(d1.username, 'suspended')
    t0 = time.monotonic()
    f.admin(1).command('invalidateDevice', username=d1.username)
    harness.wait_until(lambda: not c.connected, 1 + MARGIN, what='kicked on node 0')
    assert time.monotonic() - t0 < 1 + MARGIN


def test_kick_client_from_another_node(fleet, mongo):
    f = fleet(n=2)
    d1 = mongo.add_device('p1', 'd1')
    cid = f.cid(d1)
    c = f.connect(0, d1, client_id=cid)
    f.settle()
    f.admin(1).command('kickClient', clientid=cid)
    harness.wait_until(lambda: not c.connected, 5, what='kicked on node 0')


def _event_consumer(rabbit):
    """Both event queues on one channel, in arrival order."""
    import pika  # noqa: F401
    conn = rabbit.connection()
    ch = conn.channel()
    got = []
    for q in ('iothub_client_connected', 'iothub_client_disconnected'):
        ch.queue_declare(q, durable=True)
        ch.basic_consume(q, lambda ch_, m, p, body: got.append(harness.decode_event(body)),
                         auto_ack=True)
    return conn, got


def test_takeover_across_nodes_consumer_ends_online(fleet, mongo, rabbit):
    f = fleet(n=2)
    d1 = mongo.add_device('p1', 'd1')
    trials = 50
    conn, got = _event_consumer(rabbit)
    try:
        for t in range(trials):
            cid = 'take-%s-%d' % (f.tag, t)
            a = f.connect(t % 2, d1, client_id=cid)
            f.settle()
            b = f.connect((t + 1) % 2, d1, client_id=cid)
            harness.wait_until(lambda: not a.connected, 1 + MARGIN, what='taken over')
            assert b.connected

            def settled():
                conn.process_data_events(0)
                evs = [e for e in got if e.get('client_id') == cid]
                return len(evs) >= 3 and evs
            evs = harness.wait_until(settled, 10, what='3 events for %s' % cid)
            kinds = [(e['event'], e.get('reason'), e.get('node')) for e in evs]
            # connected(A), disconnected(A, takeover), connected(B): a consumer
            # applying them in arrival order ends with "online".
            assert evs[-1]['event'] == 'client.connected', kinds
            assert evs[-1]['node'] == f.nodes[(t + 1) % 2].node_name, kinds
            assert evs[-2].get('reason') == 'takeover', kinds
            b.disconnect()
    finally:
        conn.close()
    # Every release was answered: none of the connects waited out the bound.
    assert sum(f.stats(i)['takeover_timeouts'] for i in range(2)) == 0


def test_persistent_session_taken_over_on_another_node_gets_qos1_commands_there_once(fleet, mongo):
    """clean=false across nodes. Mosquitto's sessions are per node: a
    client that moves starts over on its new node, and the old node's copy
    of the session is left behind, empty and unfed (the old node drops the
    client's routes and auto-subscriptions, and its READ checks refuse the
    client the plugin no longer holds). QoS 1 commands sent after the
    takeover, from every node including the old one, reach the client on
    its new node exactly once, wait there while it is offline, and nothing
    of them turns up when it later returns to the old node."""
    f = fleet(n=3)
    d1 = mongo.add_device('p1', 'd1')
    cid = f.cid(d1)
    a = f.connect(0, d1, client_id=cid, clean=False, proto=4)
    f.settle()
    b = f.connect(1, d1, client_id=cid, clean=False, proto=4)
    harness.wait_until(lambda: not a.connected, 1 + MARGIN, what='taken over')
    f.settle()
    sent = []
    for i in range(3):
        sent.append(('cmd/p1/d1/t/after%d/0' % i, ('a%d' % i).encode()))
        f.admin(i).publish(sent[-1][0], sent[-1][1], qos=1)
    # Offline on its new node: commands from the old node wait there.
    b.disconnect()
    for i in (0, 2):
        sent.append(('cmd/p1/d1/t/offline%d/0' % i, ('o%d' % i).encode()))
        f.admin(i).publish(sent[-1][0], sent[-1][1], qos=1)
    got = payloads(b, 3)
    b = f.connect(1, d1, client_id=cid, clean=False, proto=4)
    got += payloads(b, 2)
    # Sentinels from the old node and a third one: a duplicate of anything
    # above would have been queued before them.
    for i in (0, 2):
        sent.append(('cmd/p1/d1/t/end%d/0' % i, ('e%d' % i).encode()))
        f.admin(i).publish(sent[-1][0], sent[-1][1], qos=1)
    got += payloads(b, 2)
    assert sorted(got) == sorted(sent), got
    # Back to the old node: its leftover session holds nothing, the first
    # message there is the sentinel sent after the move.
    a = f.connect(0, d1, client_id=cid, clean=False, proto=4)
    harness.wait_until(lambda: not b.connected, 1 + MARGIN, what='taken over again')
    f.settle()
    f.admin(2).publish('cmd/p1/d1/t/back/0', 'back', qos=1)
    assert payloads(a, 1) == [('cmd/p1/d1/t/back/0', b'back')]


def test_routed_qos1_survives_rabbitmq_restart(fleet, mongo, rabbit):
    f = fleet(n=2, amqp_reconnect_max='500ms')
    d1 = mongo.add_device('p1', 'd1')
    cid = f.cid(d1)
    c = f.connect(0, d1, client_id=cid, clean=False, proto=4)
    f.settle()
    ops = f.admin(1)
    n = 40
    for i in range(n // 2):
        ops.publish('cmd/p1/d1/s/%d/0' % i, str(i), qos=1)
    rabbit.stop()
    for i in range(n // 2, n):
        ops.publish('cmd/p1/d1/s/%d/0' % i, str(i), qos=1)   # PUBACKed by node 1
    rabbit.start()
    got = payloads(c, n, timeout=30)
    assert sorted(set(int(p) for _, p in got)) == list(range(n))


def start_haproxy(registry, workdir, nodes):
    """tools/haproxy.cfg with this test's ports."""
    import re
    from pathlib import Path
    src = (harness.REPO / 'tools' / 'haproxy.cfg').read_text()
    port = harness.free_port()
    src = src.replace('bind 127.0.0.1:1883', 'bind 127.0.0.1:%d' % port)
    src = re.sub(r'^    server .*\n', '', src, flags=re.M)
    src = src.replace('log stdout format raw local0 info', 'log stdout format raw local0 notice')
    src += ''.join('    server %s 127.0.0.1:%d check inter 1s fall 2 rise 2\n'
                   % (b.node_name, b.port) for b in nodes)
    cfg = Path(workdir) / 'haproxy.cfg'
    cfg.write_text(src)
    proc = registry.spawn(['haproxy', '-db', '-f', str(cfg)],
                          log_path=Path(workdir) / 'haproxy.log')
    harness.wait_until(lambda: harness.port_open(port), 10, what='haproxy')
    return proc, port


def node_of(f, cid):
    """The node whose log shows client id `cid` connecting last."""
    for b in f.nodes:
        if b.running and ('as %s ' % cid) in b.log_text():
            return b
    return None


def test_killed_node_devices_reconnect_through_haproxy(fleet, mongo, mqtt, registry, workdir):
    f = fleet(n=3)
    proc, port = start_haproxy(registry, workdir, f.nodes)
    try:
        devs = [mongo.add_device('p1', 'h%d' % i) for i in range(6)]
        cids = ['hap-%s-%d' % (f.tag, i) for i in range(6)]
        clients = []
        for d, cid in zip(devs, cids):
            c = mqtt(port, d.username, d.secret, client_id=cid, proto=5)
            assert c.connack == 0
            clients.append(c)
        # The same client id goes back to the same node (stick table).
        first = node_of(f, cids[0])
        clients[0].disconnect()
        again = mqtt(port, devs[0].username, devs[0].secret, client_id=cids[0], proto=5)
        assert again.connack == 0
        assert f.nodes.index(first) == f.nodes.index(node_of(f, cids[0]))
        clients[0] = again
        victim = first
        on_victim = [i for i, cid in enumerate(cids)
                     if node_of(f, cid) is victim]
        victim.kill()
        survivor = next(i for i, b in enumerate(f.nodes) if b.running)
        for i in on_victim:
            harness.wait_until(lambda: not clients[i].connected, 10, what='dropped')
            c = mqtt(port, devs[i].username, devs[i].secret, client_id=cids[i], proto=5)
            assert c.connack == 0
            clients[i] = c
            assert node_of(f, cids[i]) is not victim
        live = [i for i, b in enumerate(f.nodes) if b.running]
        harness.wait_until(lambda: all(f.stats(i)['binds_pending'] == 0 for i in live), 10,
                           what='bindings applied')
        for i, d in enumerate(devs):
            f.admin(survivor).publish('cmd/%s/after/%d/0' % (d.username, i), 'x%d' % i)
        for i, c in enumerate(clients):
            assert payloads(c, 1) == [('cmd/%s/after/%d/0' % (devs[i].username, i),
                                       ('x%d' % i).encode())]
    finally:
        harness.stop_process(proc, 3)
        registry.forget(proc)


def _rabbit_pair(registry, workdir):
    """Two private RabbitMQ nodes clustered: (r1, r2)."""
    r1 = harness.RabbitNode(registry, workdir / 'rmq-a')
    r1.start()
    r2 = harness.RabbitNode(registry, workdir / 'rmq-b')
    registry.run([harness.RABBITMQ_NODE, 'join', r2.dir, r2.port, r1.dir], timeout=180, check=True)
    r2.started = True
    return r1, r2


def test_rabbitmq_node_killed_mid_stream_loses_no_acked_command(registry, workdir, mongo, broker, mqtt):
    """A two-node RabbitMQ cluster; the node every link uses is SIGKILLed in
    the middle of a stream of QoS 1 commands. The publishing broker PUBACKs
    every command; the links fail over to the other RabbitMQ node (the
    node queues, classic, wait for their home node), and once it is back
    every acknowledged command has reached the device."""
    r1, r2 = _rabbit_pair(registry, workdir)
    f = Fleet(mongo, broker, mqtt, r1, n=2, amqp_uri=r1.amqp_uri + ',' + r2.amqp_uri,
              amqp_reconnect_max='500ms')
    d1 = mongo.add_device('p1', 'd1')
    c = f.connect(0, d1, client_id=f.cid(d1), clean=False, proto=4)
    f.settle()
    ops = f.admin(1)
    n = 60
    for i in range(n):
        if i == n // 3:
            r1.kill()
        ops.publish('cmd/p1/d1/s/%d/0' % i, str(i), qos=1)   # PUBACKed by node 1
    r1.start()
    seen, dups = set(), 0
    deadline = time.monotonic() + 60
    while len(seen) < n and time.monotonic() < deadline:
        (topic, payload), = payloads(c, 1, timeout=max(0.1, deadline - time.monotonic()))
        dups += int(payload) in seen
        seen.add(int(payload))
    # At least once: redeliveries after the failover are allowed, losses not.
    assert sorted(seen) == list(range(n)), 'missing %s (%d duplicates)' % (
        sorted(set(range(n)) - seen), dups)
    assert f.stats(1)['amqp_reconnects'] >= 1


def _collect_events(rabbit, want, deadline_s=120):
    """Read the three durable event queues until every key of ``want``
    (a set of (event, client_id, topic, payload)) has been seen or the
    deadline passed; returns the set of keys seen and the duplicate count.
    A queue whose home node is still starting answers 404 or drops the
    connection: that is retried, not an error."""
    import pika.exceptions
    seen, dups = set(), 0
    deadline = time.monotonic() + deadline_s
    while not want <= seen and time.monotonic() < deadline:
        for q in harness.IOTHUB_QUEUES:
            try:
                msgs = rabbit.consume_all(q, timeout=5, idle=0.5)
            except (pika.exceptions.AMQPError, OSError):
                time.sleep(0.5)
                continue
            for m in msgs:
                e = harness.decode_event(m)
                key = (e['event'], e['client_id'], e.get('topic'),
                       bytes(e['payload']) if 'payload' in e else None)
                dups += key in seen
                seen.add(key)
    return seen, dups


def test_rabbitmq_node_killed_mid_stream_loses_no_acked_event(registry, workdir, mongo, broker, mqtt):
    """A two-node RabbitMQ cluster; the event queues live on node r1 (the
    durable classic queues' home). Broker node 0 forwards its events
    through r1, node 1 through r2. Devices on both nodes publish QoS 1
    uplinks (message.publish events) while other devices connect and
    disconnect, and r1 is SIGKILLed in the middle. Every PUBACKed uplink and
    every connect and disconnect has its event in the queues once r1 is
    back (duplicates allowed, losses not): node 0's forwarder fails over,
    node 1's keeps its connection to r2 while the queues it routes to are
    down, and both keep what RabbitMQ has not confirmed."""
    r1, r2 = _rabbit_pair(registry, workdir)
    r1.declare_iothub()           # the event queues' home node is r1
    f = Fleet(mongo, broker, mqtt, r1, n=0, amqp_reconnect_max='500ms')
    for i, uris in enumerate(((r1, r2), (r2, r1))):
        f.opts['amqp_uri'] = ','.join(r.amqp_uri for r in uris)
        f.add_node('%s-%d' % (f.tag, i))
    up = [mongo.add_device('p1', 'up%d' % i) for i in range(2)]
    churn = mongo.add_device('p1', 'churn')
    want = set()
    uplinks = []
    for i, d in enumerate(up):
        cid = f.cid(d)
        uplinks.append((f.connect(i, d, client_id=cid, proto=4), d, cid))
        want.add(('client.connected', cid, None, None))
    f.settle()
    n = 60
    for i in range(n):
        if i == n // 3:
            r1.kill()
        for c, d, cid in uplinks:
            topic = 'upload_data/p1/%s/t/%d' % (d.device, i)
            payload = ('%s-%d' % (d.device, i)).encode()
            assert c.publish(topic, payload, qos=1) == 0    # PUBACKed: spooled
            want.add(('message.publish', cid, topic, payload))
        if i % 5 == 0:
            cid = f.cid(churn)
            f.connect(i // 5 % 2, churn, client_id=cid, proto=4).disconnect()
            want.add(('client.connected', cid, None, None))
            want.add(('client.disconnected', cid, None, None))
    r1.start()
    seen, dups = _collect_events(r2, want)
    assert want <= seen, 'missing %d of %d events (%d duplicates): %s' % (
        len(want - seen), len(want), dups, sorted(want - seen)[:10])
    # Node 0's forwarder lost its RabbitMQ node and connected again.
    assert f.admin(0).stats()['events']['reconnects'] >= 1


def test_getstats_answers_for_the_fleet(fleet, mongo):
    f = fleet(n=3, cluster_stats_interval='1s')
    d1 = mongo.add_device('p1', 'd1')
    d2 = mongo.add_device('p1', 'd2')
    f.connect(0, d1)
    f.connect(2, d2)
    names = {b.node_name for b in f.nodes}
    f.settle()      # every node now has its admin connection too
    own = {b.node_name: f.admin(i).stats()['connections']['online'] for i, b in enumerate(f.nodes)}

    def fleet_view():
        data = f.admin(1).stats()
        fl = data['fleet']
        per = {e['node']: e['stats']['connections']['online'] for e in fl['per_node']}
        return fl['nodes'] == 3 and per == own and fl['online'] == sum(own.values()) and data
    data = harness.wait_until(fleet_view, 10, interval=0.2, what='every node in getStats')
    assert {e['node'] for e in data['fleet']['per_node']} == names
    assert own[f.nodes[0].node_name] == 2 and own[f.nodes[2].node_name] == 2


def test_routed_qos1_survives_restart_of_the_receiving_node(fleet, mongo):
    """The device's node is down while a QoS 1 command is routed to it; the
    node comes back (Mosquitto persistence restores the session), the device
    reconnects to it and gets the command its durable queue kept."""
    f = fleet(n=2, persistent=(0,))
    d1 = mongo.add_device('p1', 'd1')
    cid = f.cid(d1)
    c = f.connect(0, d1, client_id=cid, clean=False, proto=4)
    f.settle()
    c.disconnect()
    f.admins[0] = None          # its connection goes with the node
    assert f.nodes[0].stop()
    f.admin(1).publish('cmd/p1/d1/while-down/1/0', 'kept', qos=1)
    f.nodes[0].start()
    back = f.connect(0, d1, client_id=cid, clean=False, proto=4)
    assert payloads(back, 1) == [('cmd/p1/d1/while-down/1/0', b'kept')]
    assert f.stats(0)['held_delivered'] == 1


def test_quorum_node_queues_route(fleet, mongo, rabbit):
    """amqp_queue_type quorum: the node queues are quorum queues too."""
    f = fleet(n=2, amqp_queue_type='quorum')
    d1 = mongo.add_device('p1', 'd1')
    c = f.connect(0, d1)
    f.settle()
    f.admin(1).publish('cmd/p1/d1/q/1/0', 'quorum', qos=1)
    assert payloads(c, 1) == [('cmd/p1/d1/q/1/0', b'quorum')]
    out = rabbit.ctl('list_queues', 'name', 'type', '--quiet', '--no-table-headers')
    types = dict(line.split()[:2] for line in out.splitlines() if len(line.split()) >= 2)
    assert types[f.opts['cluster_queue_prefix'] + f.nodes[0].node_name] == 'quorum'


def test_iothubctl_suspend_sent_to_one_node_applies_on_another(fleet, mongo, registry):
    from test_ctl import run_ctl
    f = fleet(n=2)
    d1 = mongo.add_device('p1', 'd1')
    c = f.connect(0, d1)
    f.settle()
    res = run_ctl(registry, ['--mongo-uri', mongo.uri, '--mongo-db', mongo.db_name, '--json',
                             '--broker', '127.0.0.1:%d' % f.nodes[1].port,
                             '--broker-user', f.ops.username, '--broker-pass', f.ops.secret,
                             'suspend', d1.username])
    assert res.rc == 0, res
    harness.wait_until(lambda: not c.connected, 1 + MARGIN, what='suspended on node 0')
    again = f.mqtt(f.nodes[0], d1.username, d1.secret, client_id=f.cid(d1), proto=5)
    assert again.connack != 0


def test_api_get_and_delete_client_on_another_node(fleet, mongo):
    """GET and DELETE clients/{id} sent to node 2 answer for a client on node 0."""
    f = fleet(n=3, api=True)
    d1 = mongo.add_device('p1', 'd1')
    cid = 'p1/d1/' + f.cid(d1)      # a raw '/' in the id, as the server sends it
    c = f.connect(0, d1, client_id=cid, proto=5)
    f.settle()
    status, doc = f.call(2, 'GET', '/api/v4/clients/' + cid)
    assert status == 200 and doc['code'] == 0, doc
    (data,) = doc['data']
    assert data['clientid'] == cid
    assert data['connected'] is True
    assert data['username'] == d1.username
    assert data['proto_ver'] == 5
    assert data['node'] == f.nodes[0].node_name
    status, doc = f.call(1, 'DELETE', '/api/v3//connections/' + cid)
    assert (status, doc) == (200, {'code': 0})
    harness.wait_until(lambda: not c.connected, 5, what='kicked on node 0')


def test_api_client_held_by_no_node_is_404(fleet, mongo):
    f = fleet(n=3, api=True)
    d1 = mongo.add_device('p1', 'd1')
    f.connect(0, d1)
    f.settle()
    for method in ('GET', 'DELETE'):
        status, doc = f.call(1, method, '/api/v4/clients/nobody-' + f.tag)
        assert status == 404 and doc['code'] == 112, (method, doc)
