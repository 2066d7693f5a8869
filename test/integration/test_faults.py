# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Fault injection through the real broker, plugin, MongoDB stand-in and a
private RabbitMQ node, under load.

Faults: RabbitMQ stopped and started in a loop; RabbitMQ blocking
publishers (memory alarm); the registry killed, restarted and made slow
under connect churn; the broker SIGKILLed with a non-empty spool; the spool
directory full (a small tmpfs, or the spool_max_bytes cap where mounting is
not allowed) or unwritable (immutable directory).

Every test ends with the same invariants:
* the broker is up and serves authenticated devices (a probe device
  connects and publishes QoS 1, and its event arrives);
* no event for an acknowledged QoS >= 1 publish is lost: every PUBACKed
  uplink has its message.publish event in RabbitMQ (by topic and payload,
  after deduplication by message_id);
* nothing crashed: the broker never exited, its log has no crash or
  sanitizer report, and it exits 0 when stopped at the end;
* memory stays bounded: the broker's memory, sampled every 0.5 s, never
  grows past the first sample by more than MEM_BOUND_ANON_KB of heap
  (RssAnon) and MEM_BOUND_RSS_KB in all (VmRSS, spool mappings included).
  Degraded mode holds events in memory on purpose; there the bound is
  queue_max_events times the event size (see test_spool_full).
"""

import os
import subprocess
import time

import pytest

import hardening as H

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]

# Documented bounds for the broker's memory growth during one fault test.
MEM_BOUND_ANON_KB = 16 * 1024
MEM_BOUND_RSS_KB = 48 * 1024

# Small segments: faults that depend on segment creation happen quickly,
# and the spool's share of VmRSS stays small.
BASE_OPTIONS = {'spool_segment_bytes': '256k', 'amqp_reconnect_max': '2s', 'auth_fail_max': '0',
                'stats_interval': '5s'}


class World:
    """Devices, a broker, an event collector and a memory sampler."""

    def __init__(self, mongo, rabbit, broker, options=None, uplinks=3, rate=25.0):
        self.devices = H.add_devices(mongo, uplinks + 1)
        self.probe_dev = self.devices[-1]
        opts = dict(BASE_OPTIONS)
        opts.update(options or {})
        self.broker = broker(options=opts)
        self.rabbit = rabbit
        self.collector = H.EventCollector(rabbit)
        self.collector.start()
        self.mem = H.MemSampler(self.broker.pid, interval=0.5)
        self.mem.start()
        self.uplinks = [H.Uplink(self.broker.port, d, rate=rate, tag='fault')
                        for d in self.devices[:uplinks]]
        self.stopped = []

    def start_load(self):
        for u in self.uplinks:
            u.start()

    def stop_load(self):
        for u in self.uplinks:
            u.stop()
        self.stopped += self.uplinks
        self.uplinks = []

    def new_sampler(self):
        """After a broker restart: sample the new process."""
        self.mem.stop()
        self.mem = H.MemSampler(self.broker.pid, interval=0.5)
        self.mem.start()

    def finish(self, name, anon_bound_kb=MEM_BOUND_ANON_KB, rss_bound_kb=MEM_BOUND_RSS_KB, **extra):
        """The invariants of the module docstring; returns the figures."""
        self.stop_load()
        if not self.rabbit.running():
            self.rabbit.start()
        H.assert_no_crash(self.broker)
        # stats_interval 5s: the forwarder's counters reach the log (they
        # never did while TICK handed the events module the wrong clock).
        self.broker.wait_log(r'iothub: events: queued=\d+ spooled=\d+', timeout=10)
        acked = H.acked_keys(self.stopped)
        probe_key = H.probe(self.broker, self.probe_dev)
        missing = self.collector.wait_for_keys(acked | {probe_key}, timeout=90)
        self.mem.stop()
        anon = self.mem.series('RssAnon')
        rss = self.mem.series('VmRSS')
        figures = dict(
            acked=len(acked), lost=len(missing), sent=sum(u.sent for u in self.stopped),
            no_puback=sum(u.errors for u in self.stopped), refused=sum(u.refused for u in self.stopped),
            reconnects=sum(u.reconnects for u in self.stopped),
            events=self.collector.count('message.publish'), duplicates=self.collector.duplicates,
            bad_events=len(self.collector.bad),
            anon_kb_first=anon[0] if anon else None, anon_kb_max=max(anon) if anon else None,
            rss_kb_first=rss[0] if rss else None, rss_kb_max=max(rss) if rss else None)
        figures.update(extra)
        H.report(name, **figures)
        assert not self.collector.bad, 'undecodable events: %r' % self.collector.bad[:3]
        assert not missing, '%d of %d acknowledged publishes have no event, e.g. %r' % (
            len(missing), len(acked), sorted(missing)[:5])
        assert acked, 'the load never got a PUBACK: the test proved nothing'
        H.assert_clean_exit(self.broker)
        self.collector.stop()
        assert anon and max(anon) - anon[0] <= anon_bound_kb, self.mem.describe('RssAnon')
        assert rss and max(rss) - rss[0] <= rss_bound_kb, self.mem.describe('VmRSS')
        return figures

    def close(self):
        for u in self.uplinks:
            u.stop()
        self.mem.stop()
        self.collector.stop()


@pytest.fixture
def world_factory(mongo, rabbit, broker):
    made = []

    def make(**kw):
        w = World(mongo, rabbit, broker, **kw)
        made.append(w)
        return w
    yield make
    for w in made:
        w.close()


# ----------------------------------------------------------------------
def test_rabbitmq_restart_loop_under_load(world_factory):
    w = world_factory()
    w.start_load()
    b = w.broker
    for _ in range(3):
        time.sleep(3)
        w.rabbit.stop()
        time.sleep(2)               # publishes keep being acknowledged: spooled
        w.rabbit.start()
    time.sleep(2)
    b.wait_log(r'iothub: events: disconnected from RabbitMQ', timeout=5)
    w.finish('fault-rabbit-restarts', restarts=3)


def test_rabbitmq_memory_alarm_under_load(world_factory):
    w = world_factory()
    w.start_load()
    b = w.broker
    time.sleep(2)
    mark = b.log_mark()
    w.rabbit.ctl('set_vm_memory_high_watermark', '0')
    b.wait_log(r'RabbitMQ blocked', since=mark, timeout=20)
    before = len(H.acked_keys(w.uplinks))
    time.sleep(8)                   # blocked: the spool takes everything
    during = len(H.acked_keys(w.uplinks)) - before
    assert during > 0, 'devices stopped getting PUBACKs while RabbitMQ was blocked'
    w.rabbit.ctl('set_vm_memory_high_watermark', '0.4')
    b.wait_log(r'RabbitMQ unblocked', since=mark, timeout=30)
    w.finish('fault-memory-alarm', acked_while_blocked=during)


def test_registry_killed_restarted_and_slow_under_connect_churn(world_factory, mongo):
    # Short cache TTL: the churn keeps asking the registry.
    w = world_factory(options={'auth_cache_ttl': '1s', 'mongo_probe_interval': '200ms'}, uplinks=1)
    churn_devs = H.add_devices(mongo, 8, prefix='churn')
    unseen = mongo.add_device('p1', 'unseen')      # never connected before the outage
    b = w.broker
    w.start_load()
    churn = H.Churn(b.port, churn_devs, rate=20, prefix='fault-churn')
    churn.start()
    time.sleep(3)
    assert churn.accepted > 0 and churn.refused == 0

    mark = b.log_mark()
    mongo.kill()
    time.sleep(1)
    a0 = churn.accepted
    time.sleep(3)
    admitted_in_outage = churn.accepted - a0
    unseen_rc = H.raw_connect(b.port, b'unseen', unseen.username.encode(), unseen.secret.encode())
    mongo.restart()
    time.sleep(3)

    # Slower than mongo_timeout (1 s) for the registry's own commands (the
    # harness's pymongo client keeps its 'hello' fast).
    mongo.set_delay(2500, only=['aggregate', 'find', 'ping'])
    time.sleep(4)
    mongo.set_delay(0)
    time.sleep(4)
    a1 = churn.accepted
    time.sleep(2)
    churn.stop()
    recovered = churn.accepted - a1
    text = b.log_text()[mark:]
    downs = text.count('iothub: device registry unavailable:')
    ups = text.count('iothub: device registry available again')
    assert admitted_in_outage > 0, 'cached, verified devices must be admitted during an outage'
    assert unseen_rc not in (0, None), 'a device never verified was admitted during an outage'
    assert recovered > 0, 'connects did not recover after the registry came back'
    assert downs >= 1 and ups >= 1, 'outage not logged (down %d, up %d)' % (downs, ups)
    assert downs <= 4, 'one log line per outage, got %d' % downs
    w.finish('fault-registry', churn_accepted=churn.accepted, churn_refused=churn.refused,
             churn_failed=churn.failed, admitted_in_outage=admitted_in_outage,
             accepted_after_recovery=recovered, unseen_during_outage=unseen_rc,
             outages_logged=downs, recoveries_logged=ups)


def test_broker_sigkill_with_non_empty_spool(world_factory):
    w = world_factory()
    b = w.broker
    w.start_load()
    time.sleep(2)
    w.rabbit.stop()                 # the spool fills up with undelivered events
    time.sleep(4)
    b.kill()                        # SIGKILL: nothing flushed, nothing closed
    assert b.exit_code == -9
    killed_acked = len(H.acked_keys(w.uplinks))
    w.rabbit.start()
    b.start()
    w.new_sampler()
    b.wait_log(r'iothub: spool: recovered \d+ undelivered events', timeout=10)
    time.sleep(3)                   # uplinks reconnect to the new process
    # A second SIGKILL while RabbitMQ is up and the load runs.
    b.kill()
    b.start()
    w.new_sampler()
    time.sleep(3)
    w.finish('fault-broker-sigkill', acked_before_first_kill=killed_acked)


def _mount_tmpfs(path, size):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0700' % size, 'tmpfs', str(path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode == 0


def test_spool_full(world_factory, workdir):
    """The spool cannot grow (a 1 MiB tmpfs, or spool_max_bytes where this
    machine does not let us mount): degraded mode, events wait in memory
    (at most queue_max_events), nothing acknowledged is lost, and the spool
    is used again once RabbitMQ drains it."""
    spool = workdir / 'spool'
    mounted = os.geteuid() == 0 and _mount_tmpfs(spool, '1m')
    try:
        opts = {'spool_dir': str(spool), 'queue_max_events': '50000', 'spool_segment_bytes': '64k'}
        if not mounted:
            opts['spool_max_bytes'] = '1M'
        w = world_factory(options=opts)
        b = w.broker
        w.rabbit.stop()
        w.start_load()
        b.wait_log(r'degraded mode, events wait in memory', timeout=60)
        time.sleep(3)
        w.rabbit.start()
        b.wait_log(r'degraded mode over', timeout=60)
        # Held in memory on purpose: at most queue_max_events events of
        # ~400 bytes on top of the usual bound.
        w.finish('fault-spool-full', anon_bound_kb=MEM_BOUND_ANON_KB + 50000 * 400 // 1024,
                 how='tmpfs 1 MiB' if mounted else 'spool_max_bytes 1M')
    finally:
        if mounted:
            subprocess.run(['umount', '-l', str(spool)])


def test_spool_unwritable(world_factory, workdir):
    """The spool directory becomes immutable (no new segment, no
    checkpoint) while devices publish; then writable again."""
    spool = workdir / 'spool'
    w = world_factory(options={'spool_dir': str(spool), 'spool_segment_bytes': '64k'})
    b = w.broker
    w.start_load()
    time.sleep(2)
    r = subprocess.run(['chattr', '+i', str(spool)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        pytest.skip('cannot make the spool directory immutable here: %s' % r.stdout.decode()[:200])
    try:
        # 64 KiB segments fill within seconds at this rate; the spare and
        # the next segment cannot be created.
        b.wait_log(r'degraded mode, events wait in memory', timeout=60)
        time.sleep(3)
    finally:
        subprocess.run(['chattr', '-i', str(spool)])
    b.wait_log(r'degraded mode over', timeout=60)
    w.finish('fault-spool-unwritable')
