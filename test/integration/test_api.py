# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""The HTTP management API (issue 12, item 1), end to end: a real broker with
the plugin, requests from Python's http.client and curl, devices from paho.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_api.py -q

Devices never subscribe to their command topics: the commands reach them
through the auto-subscription, as the IotHub server's do.
"""

import base64
import http.client
import json
import socket
import subprocess
import threading
import time

import pytest

import harness

pytestmark = pytest.mark.needs_plugin

KEY = ('app1', 's3cret-app')
KEY2 = ('app2', 'other-secret')


def basic(key):
    return 'Basic ' + base64.b64encode(('%s:%s' % key).encode()).decode()


class Api:
    """A broker with the API on, and helpers to call it."""

    def __init__(self, mongo, broker, mqtt, **options):
        self.mongo = mongo
        self.port = harness.free_port()
        opts = {'http_api_listen': '127.0.0.1:%d' % self.port,
                'http_api_key': ['%s:%s' % KEY, '%s:%s' % KEY2],
                'revalidate_interval': '1h'}
        opts.update(options)
        self.broker = broker(options=opts)
        self._mqtt = mqtt
        harness.wait_until(lambda: harness.port_open(self.port), 10,
                           what='the HTTP API port')

    def call(self, method, path, body=None, key=KEY, headers=None, raw=None):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        h = dict(headers or {})
        if key is not None:
            h['Authorization'] = basic(key)
        data = raw if raw is not None else (
            None if body is None else json.dumps(body).encode())
        if data is not None:
            h.setdefault('Content-Type', 'application/json')
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read()
        conn.close()
        try:
            doc = json.loads(text)
        except ValueError:
            doc = text.decode(errors='replace')
        return r.status, doc

    def device(self, product, device, **kw):
        return self.mongo.add_device(product, device, **kw)

    def connect(self, dev, client_id=None, proto=4, clean=True):
        c = self._mqtt(self.broker, dev.username, dev.secret,
                       client_id=client_id or dev.username.replace('/', '-'),
                       proto=proto, clean=clean)
        assert c.connack == 0, c.connack
        return c


@pytest.fixture
def api(mongo, broker, mqtt):
    return Api(mongo, broker, mqtt)


def cmd_topic(dev, name='reboot', req='r1'):
    return 'cmd/%s/%s/plain/%s' % (dev.username, name, req)


# ----------------------------------------------------------------------
# publish
# ----------------------------------------------------------------------
def test_publish_reaches_auto_subscribed_device_v3_path(api):
    """The IotHub server's exact request, double slash and all."""
    d = api.device('p1', 'd1')
    c = api.connect(d)
    topic = cmd_topic(d)
    status, doc = api.call('POST', '/api/v3//mqtt/publish', {
        'topic': topic, 'payload': '{"on":true}', 'qos': 1,
        'retained': False, 'client_id': 'srv123'})
    assert (status, doc) == (200, {'code': 0})
    msg = c.wait_for(1)[0]
    assert msg.topic == topic and msg.payload == b'{"on":true}'
    assert msg.qos == 1


def test_publish_v4_topics_base64_and_subscriber(api, mqtt):
    d1, d2 = api.device('p1', 'd1'), api.device('p1', 'd2')
    ops = api.device('platform', 'ops', superuser=True)
    c1, c2 = api.connect(d1), api.connect(d2)
    watcher = api.connect(ops, client_id='watcher')
    watcher.subscribe('cmd/#', qos=1)
    t1, t2 = cmd_topic(d1), cmd_topic(d2)
    status, doc = api.call('POST', '/api/v4/mqtt/publish', {
        'topics': '%s,%s' % (t1, t2), 'encoding': 'base64',
        'payload': base64.b64encode(b'\x00\x01bin').decode(), 'qos': 1})
    assert (status, doc) == (200, {'code': 0})
    assert c1.wait_for(1)[0].payload == b'\x00\x01bin'
    assert c2.wait_for(1)[0].payload == b'\x00\x01bin'
    got = sorted(m.topic for m in watcher.wait_for(2))
    assert got == sorted([t1, t2])


def test_publish_batch_and_retain(api):
    d = api.device('p1', 'd1')
    ops = api.device('platform', 'ops', superuser=True)
    c = api.connect(d)
    topics = [cmd_topic(d, req='b%d' % i) for i in range(3)]
    status, doc = api.call('POST', '/api/v4/mqtt/publish_batch', [
        {'topic': t, 'payload': t, 'qos': 1} for t in topics])
    assert (status, doc) == (200, {'code': 0})
    assert [m.topic for m in c.wait_for(3)] == topics
    status, _ = api.call('POST', '/api/v4/mqtt/publish', {
        'topic': 'status/retained', 'payload': 'kept', 'retain': True})
    assert status == 200
    late = api.connect(ops, client_id='late')
    late.subscribe('status/retained', qos=1)
    m = late.wait_for(1)[0]
    assert m.payload == b'kept' and m.retain


def test_publish_queued_for_offline_persistent_session(api):
    d = api.device('p1', 'd1')
    c = api.connect(d, client_id='persist-d1', clean=False)
    c.disconnect()
    topic = cmd_topic(d, req='offline')
    status, _ = api.call('POST', '/api/v3//mqtt/publish',
                         {'topic': topic, 'payload': 'later', 'qos': 1})
    assert status == 200
    c2 = api.connect(d, client_id='persist-d1', clean=False)
    m = c2.wait_for(1)[0]
    assert (m.topic, m.payload) == (topic, b'later')


def test_curl_publish(api):
    d = api.device('p1', 'd1')
    c = api.connect(d)
    topic = cmd_topic(d, req='curl')
    out = subprocess.run(
        ['curl', '-sS', '-u', '%s:%s' % KEY2, '-H',
         'Content-Type: application/json', '-d',
         json.dumps({'topic': topic, 'payload': 'via curl', 'qos': 1}),
         'http://127.0.0.1:%d/api/v4/mqtt/publish' % api.port],
        capture_output=True, text=True, timeout=30)
    assert json.loads(out.stdout) == {'code': 0}, out
    assert c.wait_for(1)[0].payload == b'via curl'


# ----------------------------------------------------------------------
# clients: get and kick
# ----------------------------------------------------------------------
def test_get_client(api):
    d = api.device('p1', 'd1')
    api.connect(d, client_id='p1/d1/x', proto=5)
    status, doc = api.call('GET', '/api/v4/clients/p1/d1/x')
    assert status == 200 and doc['code'] == 0
    (data,) = doc['data']           # EMQX 4: a list, one entry per node
    assert data['clientid'] == 'p1/d1/x'
    assert data['connected'] is True
    assert data['username'] == 'p1/d1'
    assert data['ip_address'] == '127.0.0.1'
    assert data['proto_ver'] == 5
    assert data['clean_start'] is True
    assert data['keepalive'] > 0
    assert data['connected_at'] > 1600000000000
    assert data['node']
    status, doc = api.call('GET', '/api/v4/clients/nobody')
    assert status == 404 and doc['code'] == 112


def test_kick_raw_slash_client_id_drops_connection(api):
    d = api.device('p1', 'd1')
    c = api.connect(d, client_id='p1/d1/x')
    t0 = time.monotonic()
    status, doc = api.call('DELETE', '/api/v3//connections/p1/d1/x')
    assert (status, doc) == (200, {'code': 0})
    harness.wait_until(lambda: not c.connected, 1.0,
                       what='the kicked client to be gone')
    assert time.monotonic() - t0 < 1.0
    status, doc = api.call('DELETE', '/api/v4/clients/p1/d1/x')
    assert status == 404 and doc['code'] == 112


def test_kick_percent_encoded_id(api):
    d = api.device('p1', 'd1')
    c = api.connect(d, client_id='a b/c')
    status, _ = api.call('DELETE', '/api/v4/clients/a%20b%2Fc')
    assert status == 200
    harness.wait_until(lambda: not c.connected, 1.0, what='kicked')


def test_suspend_then_kick_rereads_registry(api, mqtt):
    """The server writes 'suspended' to Mongo, then kicks: the next CONNECT
    must read the registry, not the cached record. A resume applies within
    auth_cache_negative_ttl."""
    d = api.device('p1', 'd1')
    c = api.connect(d, client_id='sus-d1')
    c.disconnect()
    c = api.connect(d, client_id='sus-d1')   # the record is cached now
    api.mongo.set_status(d.username, 'suspended')
    status, _ = api.call('DELETE', '/api/v3//connections/sus-d1')
    assert status == 200
    harness.wait_until(lambda: not c.connected, 1.0, what='kicked')
    again = mqtt(api.broker, d.username, d.secret, client_id='sus-d1')
    assert again.connack != 0
    api.mongo.set_status(d.username, 'active')

    def admitted():
        x = mqtt(api.broker, d.username, d.secret, client_id='sus-d1')
        ok = x.connack == 0
        x.disconnect()
        return ok
    harness.wait_until(admitted, 10, interval=0.5,
                       what='the resumed device to be admitted')


# ----------------------------------------------------------------------
# server-side subscribe
# ----------------------------------------------------------------------
def test_subscribe_unsubscribe_acl_checked(api):
    d = api.device('p1', 'd1')
    ops = api.device('platform', 'ops', superuser=True)
    c = api.connect(d, client_id='sub-d1')
    sender = api.connect(ops, client_id='sender')
    allowed = 'tags/p1/t9/cmd/+/+/+/#'
    status, doc = api.call('POST', '/api/v4/mqtt/subscribe',
                           {'topic': allowed, 'qos': 1, 'clientid': 'sub-d1'})
    assert (status, doc) == (200, {'code': 0})
    t = 'tags/p1/t9/cmd/on/plain/r1'
    sender.publish(t, b'tagged', qos=1)
    assert c.wait_for(1)[0].topic == t
    # Not in the device's ACL: refused, nothing delivered.
    status, doc = api.call('POST', '/api/v4/mqtt/subscribe',
                           {'topic': 'secret/#', 'qos': 0, 'clientid': 'sub-d1'})
    assert status == 403 and doc['code'] != 0
    status, _ = api.call('POST', '/api/v4/mqtt/unsubscribe',
                         {'topic': allowed, 'clientid': 'sub-d1'})
    assert status == 200
    sender.publish('tags/p1/t9/cmd/on/plain/r2', b'gone', qos=1)
    sentinel = cmd_topic(d, req='sentinel')
    sender.publish(sentinel, b's', qos=1)
    assert [m.topic for m in c.wait_for(1)] == [sentinel]
    status, doc = api.call('POST', '/api/v4/mqtt/subscribe',
                           {'topic': allowed, 'clientid': 'nobody'})
    assert status == 404


def test_api_subscription_gets_mqtt_publishes_without_autosub_templates(mongo, broker, mqtt):
    """With no auto-subscription template and no event forwarding, a
    server-side subscription made through the API still gets what MQTT
    clients publish: the plugin keeps the broker's message event for it."""
    api = Api(mongo, broker, mqtt, autosub='none')
    d = api.device('p1', 'd1')
    ops = api.device('platform', 'ops', superuser=True)
    c = api.connect(d, client_id='sub-d1')
    sender = api.connect(ops, client_id='sender')
    allowed = 'tags/p1/t9/cmd/+/+/+/#'
    status, doc = api.call('POST', '/api/v4/mqtt/subscribe',
                           {'topic': allowed, 'qos': 1, 'clientid': 'sub-d1'})
    assert (status, doc) == (200, {'code': 0})
    t = 'tags/p1/t9/cmd/on/plain/r1'
    sender.publish(t, b'tagged', qos=1)
    assert [(m.topic, m.payload) for m in c.wait_for(1)] == [(t, b'tagged')]


# ----------------------------------------------------------------------
# stats and metrics
# ----------------------------------------------------------------------
def test_stats_and_metrics(api):
    api.call('POST', '/api/v4/mqtt/publish', {'topic': 'x/y', 'payload': 'z'})
    status, doc = api.call('GET', '/api/v4/stats')
    assert status == 200 and doc['code'] == 0
    assert doc['data']['api_published'] >= 1
    assert 'auth' in doc['data'] and 'connections' in doc['data']
    status, text = api.call('GET', '/metrics')
    assert status == 200
    assert 'iothub_api_published ' in text
    assert 'iothub_connections_online ' in text
    status, _ = api.call('GET', '/metrics', key=None)
    assert status == 401


def test_metrics_public(mongo, broker, mqtt):
    a = Api(mongo, broker, mqtt, http_api_metrics_public=True)
    status, text = a.call('GET', '/metrics', key=None)
    assert status == 200 and 'iothub_auth_accepted' in text
    status, _ = a.call('GET', '/api/v4/stats', key=None)
    assert status == 401


# ----------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------
BAD_BODIES = [
    pytest.param(b'{"topic": "a/b", ', 400, 102, id='malformed-json'),
    pytest.param(b'[1,2]', 400, 102, id='array-for-object'),
    pytest.param(b'{"payload": "x"}', 400, 103, id='missing-topic'),
    pytest.param(b'{"topic": ""}', 400, 103, id='empty-topic'),
    pytest.param(b'{"topic": 5}', 400, 103, id='topic-not-string'),
    pytest.param(b'{"topic": "cmd/+/x"}', 400, 103, id='wildcard-plus'),
    pytest.param(b'{"topic": "cmd/#"}', 400, 103, id='wildcard-hash'),
    pytest.param(b'{"topic": "a", "qos": 3}', 400, 103, id='qos-3'),
    pytest.param(b'{"topic": "a", "qos": "high"}', 400, 103, id='qos-string'),
    pytest.param(b'{"topic": "a", "encoding": "base64", "payload": "!!!"}',
                 400, 103, id='bad-base64'),
    pytest.param(b'{"topic": "a", "encoding": "rot13", "payload": "x"}',
                 400, 103, id='bad-encoding'),
    pytest.param(b'{"topic": "a", "retain": "yes"}', 400, 103, id='bad-retain'),
]


@pytest.mark.parametrize('body,status,code', BAD_BODIES)
def test_bad_publish_body(api, body, status, code):
    mark = api.broker.log_mark()
    got, doc = api.call('POST', '/api/v4/mqtt/publish', raw=body)
    assert got == status, doc
    assert doc['code'] == code and doc['message']
    api.broker.wait_log(r'http api: POST /api/v4/mqtt/publish: %d' % status,
                        since=mark)


def test_bad_batch_and_subscribe(api):
    s, doc = api.call('POST', '/api/v4/mqtt/publish_batch', {'topic': 'a'})
    assert s == 400 and doc['code'] == 102
    s, doc = api.call('POST', '/api/v4/mqtt/publish_batch', [{'topic': 'a'}, 3])
    assert s == 400 and doc['code'] == 103
    s, doc = api.call('POST', '/api/v4/mqtt/subscribe',
                      {'topic': 'a/#/b', 'clientid': 'x'})
    assert s == 400 and doc['code'] == 103
    s, doc = api.call('POST', '/api/v4/mqtt/subscribe', {'topic': 'a/#'})
    assert s == 400 and 'clientid' in doc['message']


def test_oversized_body(mongo, broker, mqtt):
    a = Api(mongo, broker, mqtt, http_api_max_body='2k')
    big = json.dumps({'topic': 'a', 'payload': 'x' * 5000}).encode()
    s, doc = a.call('POST', '/api/v4/mqtt/publish', raw=big)
    assert s == 413 and doc['code'] == 103
    s, _ = a.call('POST', '/api/v4/mqtt/publish', {'topic': 'a', 'payload': 'x'})
    assert s == 200


def test_huge_body_refused_without_reading_it(mongo, broker, mqtt, workdir):
    """20 MB against a 2 kB limit: with a Content-Length the 413 comes
    before the body is read; chunked, the server answers (or hangs up) once
    the limit is passed. Either way the API keeps serving."""
    a = Api(mongo, broker, mqtt, http_api_max_body='2k')
    big = workdir / 'big.json'
    big.write_bytes(b'{"topic":"a","payload":"' + b'x' * 20000000 + b'"}')
    base = ['curl', '-sS', '-u', '%s:%s' % KEY, '-H', 'Content-Type: application/json',
            '--data-binary', '@%s' % big, '-o', '/dev/null', '-w', '%{http_code}',
            'http://127.0.0.1:%d/api/v4/mqtt/publish' % a.port]
    r = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert r.stdout == '413', r
    r = subprocess.run(base[:1] + ['-H', 'Transfer-Encoding: chunked'] + base[1:],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout in ('413', '100', '000'), r
    assert a.call('POST', '/api/v4/mqtt/publish', {'topic': 'a'})[0] == 200


@pytest.mark.parametrize('key', [None, ('app1', 'wrong'), ('nobody', 's3cret-app'),
                                 ('app1', 's3cret-ap')],
                         ids=['missing', 'wrong-secret', 'wrong-id', 'prefix'])
def test_wrong_or_missing_key(api, key):
    s, doc = api.call('POST', '/api/v4/mqtt/publish',
                      {'topic': 'a', 'payload': 'x'}, key=key)
    assert s == 401 and doc['code'] == 106


@pytest.mark.parametrize('method,path,status', [
    ('GET', '/api/v4/nothing', 404),
    ('GET', '/', 404),
    ('GET', '/api/v5/stats', 404),
    ('GET', '/api/v4/mqtt/publish', 405),
    ('PUT', '/api/v4/clients/x', 405),
    ('POST', '/api/v4/stats', 405),
    ('DELETE', '/api/v4/clients/', 404),
    ('GET', '/api/v4/clients/bad%zz', 404),
])
def test_unknown_path_or_method(api, method, path, status):
    s, doc = api.call(method, path)
    assert s == status and doc['code'] != 0


def test_slow_loris_is_cut_and_api_stays_up(api):
    """A client that never finishes its headers is dropped by the server's
    connection timeout; meanwhile others are served."""
    s = socket.create_connection(('127.0.0.1', api.port))
    s.sendall(b'POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\n')
    assert api.call('GET', '/api/v4/stats')[0] == 200
    s.settimeout(30)
    assert s.recv(100) == b''    # closed by the server, not by us
    s.close()


def test_thousand_parallel_connections(api):
    """1,000 connections at once: some may be refused (connection limit), none
    may hang or crash the broker, and the API answers afterwards."""
    socks = []
    try:
        for _ in range(1000):
            try:
                socks.append(socket.create_connection(('127.0.0.1', api.port), timeout=5))
            except OSError:
                pass
        results = []

        def one():
            try:
                results.append(api.call('GET', '/api/v4/stats')[0])
            except Exception as exc:     # refused past the limit
                results.append(repr(exc))
        threads = [threading.Thread(target=one) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 50
    finally:
        for s in socks:
            s.close()
    harness.wait_until(lambda: api.call('GET', '/api/v4/stats')[0] == 200, 30,
                       interval=0.5, what='the API to answer again')
    assert api.broker.proc.poll() is None


def test_refuses_to_start_without_key(broker):
    b = broker(options={'http_api_listen': '127.0.0.1:%d' % harness.free_port()},
               expect_fail=True)
    assert 'needs at least one http_api_key' in b.log_text()


# ----------------------------------------------------------------------
# iothubctl publish / kick
# ----------------------------------------------------------------------
def test_ctl_publish_and_kick(api, registry):
    from test_ctl import run_ctl
    d = api.device('p1', 'd1')
    c = api.connect(d, client_id='p1/d1/ctl')
    base = ['--api', 'http://127.0.0.1:%d' % api.port,
            '--api-key', '%s:%s' % KEY, '--json']
    topic = cmd_topic(d, req='ctl')
    res = run_ctl(registry, base + ['publish', topic, 'from ctl'])
    assert res.rc == 0, res
    m = c.wait_for(1)[0]
    assert (m.topic, m.payload, m.qos) == (topic, b'from ctl', 1)
    res = run_ctl(registry, base + ['kick', 'p1/d1/ctl'])
    assert res.rc == 0, res
    harness.wait_until(lambda: not c.connected, 1.0, what='kicked')
    res = run_ctl(registry, base + ['kick', 'p1/d1/ctl'])
    assert res.rc == 3, res
    res = run_ctl(registry, base[:2] + ['--api-key', 'app1:nope', 'kick', 'x'])
    assert res.rc == 6 and '401' in res.stderr + res.stdout, res
    res = run_ctl(registry, base + ['publish', 'cmd/#', 'x'])
    assert res.rc == 2 and 'wildcard' in res.stderr + res.stdout, res


# ----------------------------------------------------------------------
# events and HTTPS
# ----------------------------------------------------------------------
def test_api_publish_is_a_message_publish_event(mongo, broker, mqtt, rabbit):
    a = Api(mongo, broker, mqtt)
    topic = 'upload_data/p1/d1/temperature/m1'      # a forwarded uplink topic
    s, _ = a.call('POST', '/api/v4/mqtt/publish', {
        'topic': topic, 'payload': 'hot', 'qos': 1, 'client_id': 'srv7'})
    assert s == 200
    msgs = rabbit.consume_all('iothub_message_publish', timeout=20, count=1)
    assert len(msgs) == 1, msgs
    ev = harness.decode_event(msgs[0])
    assert ev['topic'] == topic and ev['client_id'] == 'srv7'
    payload = ev['payload']
    assert bytes(payload if isinstance(payload, (bytes, bytearray)) else
                 payload.encode()) == b'hot'


def test_https(mongo, broker, mqtt, workdir):
    import ssl
    cert, key = workdir / 'api.crt', workdir / 'api.key'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                    '-keyout', str(key), '-out', str(cert), '-days', '1',
                    '-subj', '/CN=127.0.0.1'], check=True, capture_output=True)
    a = Api(mongo, broker, mqtt, http_api_certfile=str(cert), http_api_keyfile=str(key))
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection('127.0.0.1', a.port, context=ctx, timeout=10)
    conn.request('GET', '/api/v4/stats', headers={'Authorization': basic(KEY)})
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())['code'] == 0
    conn.close()
    # plain HTTP on the HTTPS port gets no answer
    with pytest.raises(Exception):
        Api.call(a, 'GET', '/api/v4/stats')
