# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Issue 12 benchmark: the HTTP management API against MQTT, in one run.

    /usr/bin/python3 bench/api_latency.py [--count 400] [--duration 5] [--out DIR]

One broker with the plugin (registry: the MongoDB stand-in), idle apart
from what is measured. A device connects (paho, QoS 1, MQTT 3.1.1) and
subscribes to nothing: the commands reach it through the auto-subscription.

  1. latency, publish -> the device's on_message, for a command
     cmd/P/D/bench/plain/N at QoS 1, sent one at a time (the next only after
     the previous arrived), so the broker is idle before each: the case the
     wake-up exists for. The two senders alternate message by message:
       mqtt  a superuser MQTT client (paho without its network thread, so
             publish() writes the packet itself; QoS 1), timed from publish();
       api   POST /api/v4/mqtt/publish on a keep-alive http.client
             connection, timed from the request.
     p50/p99 of each and the api/mqtt ratios (aim: <= 1.2). Each answer
     (PUBACK, HTTP response) is collected after the receipt. Also from the
     moment the client library returned (the bytes are in the kernel):
     *_sent_*, without the Python clients' own cost (json.dumps and
     http.client take longer than paho's publish).
  2. API publishes per second with keep-alive: one connection sending
     requests back to back for --duration s, and 4 connections in parallel;
     next to the superuser's MQTT QoS 1 publishes/s, one at a time (each
     waits for its PUBACK), the same request/answer pattern.

Both senders run in this Python process, so the client-side overhead is
the same kind on both sides; the figures are for comparison, not absolutes.
Output: summary lines on stdout ("key value"), results.json in --out.
IH_PLUGIN=PATH runs another build of the plugin (to compare two builds).
"""

import argparse
import base64
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'test' / 'integration'))
import harness  # noqa: E402
import paho.mqtt.client as paho  # noqa: E402

PLUGIN = Path(os.environ['IH_PLUGIN']) if os.environ.get('IH_PLUGIN') else REPO / 'build' / 'mosquitto_iothub.so'
KEY = 'bench:bench-secret'


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def start_broker(reg, root, mongo_uri, api_port):
    port = harness.free_port()
    lines = ['listener %d 127.0.0.1' % port, 'persistence false',
             'set_tcp_nodelay true', 'log_dest file %s/broker.log' % root,
             'log_type error', 'log_type warning', 'allow_anonymous false',
             'plugin %s' % PLUGIN, 'plugin_opt_mongo_uri %s' % mongo_uri,
             'plugin_opt_mongo_db bench', 'plugin_opt_revalidate_interval 1h',
             'plugin_opt_http_api_listen 127.0.0.1:%d' % api_port,
             'plugin_opt_http_api_key %s' % KEY]
    if os.geteuid() == 0:
        lines.append('user root')
    conf = root / 'mosquitto.conf'
    conf.write_text('\n'.join(lines) + '\n')
    proc = reg.spawn(['/usr/sbin/mosquitto', '-c', conf], log_path=root / 'stdout.log', cwd=root)
    harness.wait_until(lambda: (harness.port_open(port) and harness.port_open(api_port))
                       or proc.poll() is not None, 20, what='broker')
    if proc.poll() is not None:
        raise RuntimeError('broker exited: %s' % (root / 'broker.log').read_text())
    return proc, port


class Device:
    """A paho client that timestamps every message on arrival."""

    def __init__(self, port, user, pw, cid):
        self.arrived = {}
        self.cond = threading.Condition()
        self.c = paho.Client(client_id=cid, protocol=paho.MQTTv311)
        self.c.username_pw_set(user, pw)
        self.c.on_message = self._on_message
        self.c.connect('127.0.0.1', port, keepalive=60)
        self.c.loop_start()
        harness.wait_until(self.c.is_connected, 10, what='device connect')

    def _on_message(self, client, ud, msg):
        now = time.perf_counter_ns()
        with self.cond:
            self.arrived[msg.topic] = now
            self.cond.notify_all()

    def wait(self, topic, timeout=5):
        with self.cond:
            ok = self.cond.wait_for(lambda: topic in self.arrived, timeout)
            if not ok:
                raise RuntimeError('message %s never arrived' % topic)
            return self.arrived.pop(topic)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


class ApiClient:
    """A keep-alive HTTP/1.1 client that writes each request, headers and
    body, with one send(), as the IotHub server's Node.js client does for a
    small body (and as paho writes a PUBLISH). http.client sends the
    headers and the body in two calls, which on a TCP_NODELAY socket are
    two segments: the server wakes twice and only the second one completes
    the request, a cost the MQTT side does not pay. The answer is parsed by
    http.client.HTTPResponse."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = ('POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n'
                     'Authorization: Basic %s\r\nContent-Type: application/json\r\n'
                     'Connection: keep-alive\r\nContent-Length: ' % (
                         port, base64.b64encode(KEY.encode()).decode())).encode()

    def send(self, topic, payload='x', qos=1):
        body = json.dumps({'topic': topic, 'payload': payload, 'qos': qos,
                           'retained': False, 'client_id': 'bench'}).encode()
        self.sock.sendall(self.head + b'%d\r\n\r\n' % len(body) + body)

    def answer(self):
        r = http.client.HTTPResponse(self.sock)
        r.begin()
        data = r.read()
        if r.status != 200 or r.will_close:
            raise RuntimeError('API answered %d %s (keep-alive: %s)' % (r.status, data, not r.will_close))

    def publish(self, topic, payload='x', qos=1):
        self.send(topic, payload, qos)
        self.answer()

    def close(self):
        self.sock.close()


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def latency(dev, username, svc, api, count):
    """{'mqtt'|'api': [µs from the call], 'mqtt_sent'|'api_sent': [µs from
    the moment the client library returned, i.e. the request was handed to
    the kernel: without the Python client's own cost]}."""
    lat = {'mqtt': [], 'api': [], 'mqtt_sent': [], 'api_sent': []}
    for i in range(count * 2):
        kind = 'mqtt' if i % 2 == 0 else 'api'
        topic = 'cmd/%s/bench/plain/%s%d' % (username, kind, i)
        time.sleep(0.002 + (i % 7) * 0.003)   # idle broker, at varying phases of its 100 ms sleep
        t0 = time.perf_counter_ns()
        if kind == 'mqtt':
            info = svc.publish(topic, b'x', qos=1)
        else:
            api.send(topic)
        ts = time.perf_counter_ns()
        t1 = dev.wait(topic)
        # The answer (PUBACK, HTTP response) is read after the receipt, so
        # handling it never holds the GIL while the device's thread wants it.
        if kind == 'mqtt':
            svc.wait(info)
        else:
            api.answer()
        lat[kind].append((t1 - t0) / 1000.0)
        lat[kind + '_sent'].append((t1 - ts) / 1000.0)
    return lat


def api_rate(api_port, username, duration, conns):
    counts = [0] * conns
    stop = time.monotonic() + duration

    def run(k):
        a = ApiClient(api_port)
        n = 0
        while time.monotonic() < stop:
            a.publish('bench/rate/%d' % k, 'x', qos=1)
            n += 1
        counts[k] = n
        a.close()
    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def mqtt_rate(svc, duration):
    n = 0
    t0 = time.monotonic()
    stop = t0 + duration
    while time.monotonic() < stop:
        svc.wait(svc.publish('bench/rate/mqtt', b'x', qos=1))
        n += 1
    return n / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--count', type=int, default=400, help='messages per sender')
    ap.add_argument('--duration', type=float, default=5.0, help='seconds per rate run')
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    out_dir = Path(args.out or REPO / 'bench' / 'out' / time.strftime('api-%Y%m%d-%H%M%S'))
    out_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix='ih-api-bench-'))
    session = harness.Session(base_dir=root)
    dev = svc = api = None
    try:
        mongo = session.mongo_server()
        handle = harness.MongoHandle(mongo, 'bench')
        handle.client.drop_database('bench')
        d = handle.add_device('bp', 'd1')
        ops = handle.add_device('platform', 'ops', superuser=True)
        api_port = harness.free_port()
        broker, port = start_broker(session.registry, root, mongo.uri, api_port)
        dev = Device(port, d.username, d.secret, 'bench-dev')

        class Svc:
            """The superuser, without paho's network thread: publish()
            then writes the PUBLISH in the caller's thread, as http.client
            writes the request; the PUBACK is read by wait()."""
            def __init__(self):
                self.c = paho.Client(client_id='bench-svc', protocol=paho.MQTTv311)
                self.c.username_pw_set(ops.username, ops.secret)
                self.c.connect('127.0.0.1', port, keepalive=60)
                deadline = time.monotonic() + 10
                while not self.c.is_connected() and time.monotonic() < deadline:
                    self.c.loop(0.05)
                assert self.c.is_connected(), 'service connect'

            def publish(self, topic, payload, qos):
                return self.c.publish(topic, payload, qos)

            def wait(self, info):
                while not info.is_published():
                    self.c.loop(0.01)
        svc = Svc()
        api = ApiClient(api_port)
        # Warm-up: both paths once, the device's auth cached.
        latency(dev, d.username, svc, api, 20)
        log('latency: %d messages per sender ...' % args.count)
        lat = latency(dev, d.username, svc, api, args.count)
        log('rates: %.0f s each ...' % args.duration)
        r_api1 = api_rate(api_port, d.username, args.duration, 1)
        r_api4 = api_rate(api_port, d.username, args.duration, 4)
        r_mqtt = mqtt_rate(svc, args.duration)
        res = {
            'count': args.count,
            'mqtt_p50_us': statistics.median(lat['mqtt']), 'mqtt_p99_us': pct(lat['mqtt'], 99),
            'api_p50_us': statistics.median(lat['api']), 'api_p99_us': pct(lat['api'], 99),
            'api_per_s_1conn': r_api1, 'api_per_s_4conn': r_api4, 'mqtt_q1_per_s_1': r_mqtt,
            'loadavg': os.getloadavg(),
        }
        for k in ('mqtt', 'api'):
            res[k + '_sent_p50_us'] = statistics.median(lat[k + '_sent'])
            res[k + '_sent_p99_us'] = pct(lat[k + '_sent'], 99)
        res['ratio_p50'] = res['api_p50_us'] / res['mqtt_p50_us']
        res['ratio_p99'] = res['api_p99_us'] / res['mqtt_p99_us']
        res['ratio_sent_p50'] = res['api_sent_p50_us'] / res['mqtt_sent_p50_us']
        res['ratio_sent_p99'] = res['api_sent_p99_us'] / res['mqtt_sent_p99_us']
        (out_dir / 'results.json').write_text(json.dumps({'summary': res, 'latency_us': lat}, indent=1))
        for k, v in res.items():
            if k != 'loadavg':
                print('%s %.3f' % (k, v))
        print('loadavg %s' % ' '.join('%.2f' % x for x in res['loadavg']))
        log('results: %s' % out_dir)
    finally:
        for x in (dev, api):
            if x:
                x.close()
        if svc:
            svc.c.disconnect()
        session.close(keep_dir=False)


if __name__ == '__main__':
    main()
