# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Helpers for the adversarial suites (test_faults.py, test_attacks.py) and
the soak (test/soak): load that records what the broker acknowledged, an
event collector that survives RabbitMQ restarts, broker memory sampling and
the crash/loss/memory checks every fault test ends with.

Nothing here asserts timing: figures (rates, RSS) are collected and printed
for the report; the assertions are about loss, crashes and bounds.
"""

import os
import re
import socket
import struct
import statistics
import threading
import time
import uuid

import harness

PUBLISH_QUEUE = 'iothub_message_publish'
CONNECTED_QUEUE = 'iothub_client_connected'
DISCONNECTED_QUEUE = 'iothub_client_disconnected'

# What a crashed or sanitizer-instrumented broker leaves in its log/stdout.
CRASH_PATTERNS = re.compile(
    r'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:'
    r'|Segmentation fault|Aborted|SIGSEGV|SIGABRT|assertion .* failed|double free'
    r'|stack smashing', re.I)


# ----------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------
def proc_mem(pid):
    """{'VmRSS': kB, 'RssAnon': kB, 'RssFile': kB, 'RssShmem': kB}."""
    out = {}
    with open('/proc/%d/status' % pid) as fh:
        for line in fh:
            key, _, rest = line.partition(':')
            if key in ('VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmHWM'):
                out[key] = int(rest.split()[0])
    return out


class MemSampler(threading.Thread):
    """Samples a process's memory every ``interval`` seconds.

    ``RssAnon`` is the figure to judge leaks by: the event spool is a
    MAP_SHARED file mapping, so its pages count as ``RssFile`` and come and
    go with the backlog (a RabbitMQ outage maps more segments), while heap
    growth shows in ``RssAnon``.
    """

    def __init__(self, pid, interval=1.0):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples = []           # (t, {VmRSS, RssAnon, ...})
        self._halt = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self._halt.is_set():
            try:
                self.samples.append((time.monotonic() - self.t0,
                                     proc_mem(self.pid)))
            except (OSError, ValueError):
                pass                # the process is gone (or restarting)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(5)

    def series(self, key='RssAnon'):
        return [s[key] for _, s in self.samples if key in s]

    def thirds(self, key='RssAnon', warmup=0.2):
        """(median of the first third, median of the last third) after
        dropping the first ``warmup`` fraction of samples."""
        xs = self.series(key)
        xs = xs[int(len(xs) * warmup):]
        if len(xs) < 3:
            return None, None
        k = max(1, len(xs) // 3)
        return statistics.median(xs[:k]), statistics.median(xs[-k:])

    def describe(self, key='RssAnon'):
        xs = self.series(key)
        if not xs:
            return '%s: no samples' % key
        first, last = self.thirds(key)
        return ('%s kB: min %d, max %d, first-third median %s, last-third '
                'median %s (%d samples)' % (key, min(xs), max(xs), first, last,
                                            len(xs)))


# ----------------------------------------------------------------------
# Events
# ----------------------------------------------------------------------
class EventCollector(threading.Thread):
    """Consumes event queues in the background, reconnecting whenever
    RabbitMQ goes away, and keeps every event once (by AMQP message_id).

    Messages are acked after they are recorded, so an event is never lost
    between RabbitMQ and the collector; redeliveries are deduplicated.
    """

    def __init__(self, rabbit, queues=(PUBLISH_QUEUE,)):
        super().__init__(daemon=True)
        self.rabbit = rabbit
        self.queues = list(queues)
        self.ids = set()            # message_ids seen
        self.keys = set()           # (topic, payload) of message.publish events
        self.by_key = {}            # routing key -> count (distinct events)
        self.docs = []              # decoded docs of non-publish events
        self.bad = []               # (message_id, error, body) that did not decode
        self.duplicates = 0
        self.received = 0
        self.reconnects = 0
        self.lock = threading.Lock()
        self._halt = threading.Event()

    def run(self):
        import pika.exceptions
        while not self._halt.is_set():
            try:
                conn = self.rabbit.connection(socket_timeout=3,
                                              blocked_connection_timeout=30)
            except Exception:
                self._halt.wait(0.5)
                continue
            try:
                ch = conn.channel()
                ch.basic_qos(prefetch_count=500)
                for q in self.queues:
                    ch.basic_consume(q, self._on_message)
                while not self._halt.is_set():
                    conn.process_data_events(time_limit=0.2)
            except (pika.exceptions.AMQPError, OSError, AttributeError):
                # 404 before the plugin declared the queues, or RabbitMQ
                # restarting: try again.
                pass
            finally:
                try:
                    conn.close()
                except Exception:
                    pass
            self.reconnects += 1
            self._halt.wait(0.3)

    def _on_message(self, ch, method, props, body):
        try:
            doc = harness.decode_event(body, props.content_type)
        except Exception as exc:       # a malformed event is a finding, not a hang
            with self.lock:
                self.bad.append((props.message_id, repr(exc), body))
            ch.basic_ack(method.delivery_tag)
            return
        mid = props.message_id
        rk = method.routing_key
        with self.lock:
            self.received += 1
            if mid in self.ids:
                self.duplicates += 1
            else:
                self.ids.add(mid)
                self.by_key[rk] = self.by_key.get(rk, 0) + 1
                if rk == 'message.publish':
                    self.keys.add((doc.get('topic'),
                                   bytes(doc.get('payload', b''))))
                else:
                    self.docs.append((rk, doc))
        ch.basic_ack(method.delivery_tag)

    def stop(self):
        self._halt.set()
        self.join(10)

    def count(self, routing_key):
        with self.lock:
            return self.by_key.get(routing_key, 0)

    def wait_for_keys(self, keys, timeout):
        """Wait until every (topic, payload) in ``keys`` has an event;
        returns the missing ones (empty set when none is)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                missing = set(keys) - self.keys
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(0.5)


# ----------------------------------------------------------------------
# Load
# ----------------------------------------------------------------------
class Uplink(threading.Thread):
    """One device publishing telemetry in a loop (docs/PROTOCOL.md §4
    topic), alternating QoS 0 and 1, reconnecting when dropped.

    ``acked`` holds (topic, payload) of every QoS 1 publish that got a
    successful PUBACK: the broker promised those, so each must have an
    event. ``rate`` is publishes per second (0: as fast as PUBACKs allow).
    """

    def __init__(self, port, device, rate=20.0, qos_pattern=(1, 0),
                 client_id=None, tag='x'):
        super().__init__(daemon=True)
        self.port = port
        self.device = device
        self.rate = rate
        self.qos_pattern = qos_pattern
        self.client_id = client_id or 'up-%s-%s' % (device.device,
                                                   uuid.uuid4().hex[:6])
        self.tag = tag
        self.acked = []
        self.sent = 0
        self.refused = 0            # PUBACK with an error reason
        self.errors = 0             # no PUBACK (connection lost meanwhile)
        self.reconnects = 0
        self.client = None
        self._halt = threading.Event()

    def _connect(self):
        c = harness.MqttClient(self.port, self.device.username,
                               self.device.secret, self.client_id,
                               clean=True, proto=5)
        try:
            rc = c.connect(timeout=5)
        except OSError:             # the broker is restarting
            rc = None
        if rc != 0:
            c.disconnect()
            return None
        return c

    def run(self):
        n = 0
        p = self.device
        while not self._halt.is_set():
            if self.client is None or not self.client.connected:
                if self.client is not None:
                    self.client.disconnect()
                    self.reconnects += 1
                self.client = self._connect()
                if self.client is None:
                    self._halt.wait(0.5)
                    continue
            n += 1
            qos = self.qos_pattern[n % len(self.qos_pattern)]
            topic = 'upload_data/%s/%s/temp/%s-%d' % (p.product, p.device,
                                                      self.tag, n)
            payload = ('%s-%d-%s' % (self.client_id, n,
                                     uuid.uuid4().hex[:8])).encode()
            try:
                rc = self.client.publish(topic, payload, qos, timeout=10)
                self.sent += 1
                if qos >= 1:
                    if rc is None:
                        self.errors += 1
                    elif rc in (0, 0x10):
                        self.acked.append((topic, payload))
                    else:
                        self.refused += 1
            except AssertionError:
                self.errors += 1
            if self.rate:
                self._halt.wait(1.0 / self.rate)

    def stop(self):
        self._halt.set()
        self.join(15)
        if self.client is not None:
            self.client.disconnect()


class Churn(threading.Thread):
    """Connects and disconnects devices in a loop (CONNECT, CONNACK,
    DISCONNECT), counting accepted and refused connects."""

    def __init__(self, port, devices, rate=5.0, prefix='churn'):
        super().__init__(daemon=True)
        self.port = port
        self.devices = devices
        self.rate = rate
        self.prefix = prefix
        self.accepted = 0
        self.refused = 0
        self.failed = 0             # no CONNACK at all
        self._halt = threading.Event()

    def run(self):
        i = 0
        while not self._halt.is_set():
            d = self.devices[i % len(self.devices)]
            i += 1
            c = harness.MqttClient(self.port, d.username, d.secret,
                                   '%s-%d' % (self.prefix, i % 50), proto=4)
            try:
                rc = c.connect(timeout=5)
            except OSError:
                rc = None
            if rc == 0:
                self.accepted += 1
            elif rc is None:
                self.failed += 1
            else:
                self.refused += 1
            c.disconnect()
            if self.rate:
                self._halt.wait(1.0 / self.rate)

    def stop(self):
        self._halt.set()
        self.join(15)


# ----------------------------------------------------------------------
# Raw MQTT, for what paho will not send
# ----------------------------------------------------------------------
def _varint(n):
    out = b''
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _s(b):
    return struct.pack('>H', len(b)) + b


def connect_packet(client_id, username=None, password=None, proto=4, clean=True):
    flags = (0x02 if clean else 0) | (0x80 if username is not None else 0) \
        | (0x40 if password is not None else 0)
    vh = _s(b'MQTT') + bytes([proto, flags]) + struct.pack('>H', 30)
    if proto == 5:
        vh += _varint(0)
    body = vh + _s(client_id)
    if username is not None:
        body += _s(username)
    if password is not None:
        body += _s(password)
    return b'\x10' + _varint(len(body)) + body


def raw_connect(port, client_id, username=None, password=None, proto=4, timeout=5):
    """CONNACK return/reason code, or None when the broker closed the
    connection without one."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(connect_packet(client_id, username, password, proto))
        data = b''
        try:
            while len(data) < 4:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    if len(data) >= 4 and data[0] == 0x20:
        return data[3]
    return None


# ----------------------------------------------------------------------
# End-of-test invariants
# ----------------------------------------------------------------------
def add_devices(mongo, n, product='p1', prefix='d'):
    return [mongo.add_device(product, '%s%d' % (prefix, i)) for i in range(n)]


def probe(broker, device, timeout=10):
    """A device connects and publishes QoS 1 at the end of a test: the
    broker is up and serving authenticated devices. Returns the
    (topic, payload) it published."""
    c = harness.MqttClient(broker.port, device.username, device.secret,
                           'probe-' + uuid.uuid4().hex[:6], proto=5)
    try:
        rc = c.connect(timeout=timeout)
        assert rc == 0, 'probe device refused (CONNACK %r)' % rc
        topic = 'upload_data/%s/%s/probe/%s' % (device.product, device.device,
                                                uuid.uuid4().hex[:6])
        payload = b'probe'
        rc = c.publish(topic, payload, 1, timeout=timeout)
        assert rc in (0, 0x10), 'probe publish got PUBACK %r' % rc
        return topic, payload
    finally:
        c.disconnect()


def _assert_no_crash_signature(broker):
    m = CRASH_PATTERNS.search(broker.log_text())
    assert m is None, 'crash signature in the broker log: %r' % m.group(0)


def assert_no_crash(broker):
    """The broker is running and nothing in its log looks like a crash or
    a sanitizer report."""
    assert broker.running, 'broker exited (status %r)' % (
        broker.proc.poll() if broker.proc else broker.exit_code)
    _assert_no_crash_signature(broker)


def assert_clean_exit(broker):
    """Stop the broker: it must exit 0 with no crash signature."""
    ok = broker.stop()
    assert ok, 'broker did not exit cleanly (status %r)' % broker.exit_code
    _assert_no_crash_signature(broker)


def acked_keys(uplinks):
    keys = set()
    for u in uplinks:
        keys.update(u.acked)
    return keys


def report(name, **figures):
    """One line per figure, visible with -s and in the junit/terminal
    output of a failure."""
    line = '[%s] ' % name + ', '.join('%s=%s' % kv for kv in figures.items())
    print(line)
    path = os.environ.get('IOTHUB_HARDEN_REPORT')
    if path:
        with open(path, 'a') as fh:
            fh.write(line + '\n')
    return line
