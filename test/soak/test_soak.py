# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Soak: a mixed workload through the real broker, plugin, MongoDB stand-in
and a private RabbitMQ node for SOAK_MINUTES (default 5):

* connect churn: devices connecting and disconnecting (SOAK_CHURN_RATE/s);
* uplinks: SOAK_UPLINKS devices publishing telemetry, QoS 0 and 1 in turn
  (SOAK_UPLINK_RATE/s each);
* commands: a superuser publishes cmd/{P}/{D}/... to devices that only
  receive them through the plugin's auto-subscription;
* RabbitMQ stopped and started again every SOAK_RESTART_EVERY seconds.

At the end it asserts:
* zero lost events: every QoS 1 uplink the broker PUBACKed has its
  message.publish event in RabbitMQ (deduplicated by message_id);
* every command the broker accepted reached its device;
* flat memory: after a warm-up (first 20 % of samples), the median RssAnon
  of the last third is within SOAK_RSS_TOLERANCE (default 10 %) plus 1 MiB
  of the first third's. RssAnon, not VmRSS: the spool is a file mapping
  whose resident pages follow the event backlog (RssFile), which a
  RabbitMQ outage grows on purpose; heap growth shows in RssAnon;
* the broker survived, serves a probe device, and exits cleanly.

Figures (RSS over time, events, loss, throughput) are printed (-s) and
appended to $IOTHUB_HARDEN_REPORT when set.

    make soak                       # 5 minutes
    SOAK_MINUTES=30 make soak
"""

import os
import threading
import time

import pytest

import harness
import hardening as H

MINUTES = float(os.environ.get('SOAK_MINUTES', 5))
UPLINKS = int(os.environ.get('SOAK_UPLINKS', 5))
UPLINK_RATE = float(os.environ.get('SOAK_UPLINK_RATE', 20))
CHURN_RATE = float(os.environ.get('SOAK_CHURN_RATE', 5))
CMD_RATE = float(os.environ.get('SOAK_CMD_RATE', 5))
RESTART_EVERY = float(os.environ.get('SOAK_RESTART_EVERY', 60))
RSS_TOLERANCE = float(os.environ.get('SOAK_RSS_TOLERANCE', 0.10))
RSS_SLACK_KB = 1024


class Commander(threading.Thread):
    """A superuser sends commands to receivers that hold only the plugin's
    auto-subscription (no SUBSCRIBE of their own)."""

    def __init__(self, port, admin, receivers, rate):
        super().__init__(daemon=True)
        self.admin = harness.MqttClient(port, admin.username, admin.secret,
                                        'soak-admin', proto=5)
        assert self.admin.connect() == 0
        self.receivers = receivers      # [(device, MqttClient)]
        self.rate = rate
        self.sent = {}                  # username -> [topic, ...] PUBACKed
        self.errors = 0
        self._halt = threading.Event()

    def run(self):
        i = 0
        while not self._halt.is_set():
            dev, _ = self.receivers[i % len(self.receivers)]
            i += 1
            topic = 'cmd/%s/%s/reboot/json/r%d' % (dev.product, dev.device, i)
            try:
                rc = self.admin.publish(topic, b'{"delay":0}', 1, timeout=10)
            except AssertionError:
                rc = None
            if rc in (0, 0x10):
                self.sent.setdefault(dev.username, []).append(topic)
            else:
                self.errors += 1
            self._halt.wait(1.0 / self.rate)

    def stop(self):
        self._halt.set()
        self.join(15)
        self.admin.disconnect()


class RabbitRestarter(threading.Thread):
    def __init__(self, rabbit, every):
        super().__init__(daemon=True)
        self.rabbit = rabbit
        self.every = every
        self.restarts = 0
        self.failures = []
        self.down_s = 0.0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.wait(self.every):
            t = time.monotonic()
            try:
                self.rabbit.stop()
                self._halt.wait(3)
                self.rabbit.start()
                self.restarts += 1
            except Exception as exc:   # a slow machine: note it, bring it back, go on
                self.failures.append(repr(exc)[:300])
                try:
                    self.rabbit.start()
                except Exception as exc2:
                    self.failures.append(repr(exc2)[:300])
            self.down_s += time.monotonic() - t

    def stop(self):
        self._halt.set()
        self.join(180)
        if not self.rabbit.running():
            self.rabbit.start()


def drain(client):
    got = []
    while True:
        try:
            got.append(client.messages.get_nowait())
        except Exception:
            return got


@pytest.mark.slow
@pytest.mark.fault
@pytest.mark.timeout(MINUTES * 60 + 900)
def test_soak(mongo, rabbit, broker, workdir):
    uplink_devs = H.add_devices(mongo, UPLINKS, prefix='up')
    churn_devs = H.add_devices(mongo, 15, prefix='churn')
    rx_devs = H.add_devices(mongo, 3, prefix='rx')
    admin = mongo.add_device('ops', 'admin', superuser=True)
    b = broker(options={'spool_segment_bytes': '1M', 'stats_interval': '30s',
                        'auth_fail_max': '0'})
    mem = H.MemSampler(b.pid, interval=2.0)
    collector = H.EventCollector(rabbit)
    collector.start()

    receivers = []
    for d in rx_devs:
        c = harness.MqttClient(b.port, d.username, d.secret, 'soak-rx-' + d.device,
                               proto=4, clean=False)
        assert c.connect() == 0
        receivers.append((d, c))
    uplinks = [H.Uplink(b.port, d, rate=UPLINK_RATE, tag='soak') for d in uplink_devs]
    churn = H.Churn(b.port, churn_devs, rate=CHURN_RATE, prefix='soak-churn')
    commander = Commander(b.port, admin, receivers, CMD_RATE)
    restarter = RabbitRestarter(rabbit, RESTART_EVERY)
    workers = uplinks + [churn, commander, restarter]

    t0 = time.monotonic()
    mem.start()
    for w in workers:
        w.start()
    received = {d.username: [] for d, _ in receivers}
    timeline = []
    end = t0 + MINUTES * 60
    next_line = t0
    while time.monotonic() < end:
        time.sleep(1)
        for d, c in receivers:
            received[d.username] += [m.topic for m in drain(c)]
        assert b.running, 'broker died during the soak:\n' + b.log_text()[-3000:]
        if time.monotonic() >= next_line:
            next_line += 60
            m = H.proc_mem(b.pid)
            line = ('t=%4ds VmRSS=%6d kB RssAnon=%6d kB RssFile=%6d kB uplink_sent=%d '
                    'acked=%d events=%d connects=%d restarts=%d' % (
                        time.monotonic() - t0, m['VmRSS'], m['RssAnon'], m['RssFile'],
                        sum(u.sent for u in uplinks), sum(len(u.acked) for u in uplinks),
                        collector.count('message.publish'), churn.accepted, restarter.restarts))
            timeline.append(line)
            print(line, flush=True)
    load_s = time.monotonic() - t0
    for w in workers:
        w.stop()

    # Everything acknowledged must arrive, however long RabbitMQ was away.
    acked = H.acked_keys(uplinks)
    missing = collector.wait_for_keys(acked, timeout=180)
    time.sleep(2)
    for d, c in receivers:
        received[d.username] += [m.topic for m in drain(c)]
    probe_key = H.probe(b, uplink_devs[0])
    assert not collector.wait_for_keys({probe_key}, timeout=60), 'probe event missing'
    mem.stop()

    cmd_sent = sum(len(v) for v in commander.sent.values())
    cmd_lost = {cid: sorted(set(topics) - set(received[cid])) for cid, topics in commander.sent.items()}
    cmd_lost = {k: v for k, v in cmd_lost.items() if v}
    first, last = mem.thirds('RssAnon')
    vm_first, vm_last = mem.thirds('VmRSS')
    sent = sum(u.sent for u in uplinks)
    H.report('soak', minutes=MINUTES, load_seconds=round(load_s),
             uplink_publishes=sent, uplink_rate=round(sent / load_s, 1),
             qos1_acked=len(acked), qos1_lost=len(missing),
             uplink_refused=sum(u.refused for u in uplinks),
             uplink_no_puback=sum(u.errors for u in uplinks),
             uplink_reconnects=sum(u.reconnects for u in uplinks),
             events_publish=collector.count('message.publish'),
             events_connected=collector.count('client.connected'),
             events_received=collector.received, events_duplicates=collector.duplicates,
             connects=churn.accepted, connect_rate=round(churn.accepted / load_s, 1),
             connects_refused=churn.refused, connects_failed=churn.failed,
             commands_sent=cmd_sent, commands_lost=sum(len(v) for v in cmd_lost.values()),
             rabbit_restarts=restarter.restarts, rabbit_down_s=round(restarter.down_s),
             rabbit_restart_failures=len(restarter.failures), bad_events=len(collector.bad),
             rss_anon_first_kb=first, rss_anon_last_kb=last,
             vmrss_first_kb=vm_first, vmrss_last_kb=vm_last,
             vmrss_max_kb=max(mem.series('VmRSS')), vmhwm_kb=mem.samples[-1][1].get('VmHWM'))
    for line in timeline:
        H.report('soak-rss', line=line)

    for _, c in receivers:
        c.disconnect()
    H.assert_no_crash(b)
    H.assert_clean_exit(b)
    collector.stop()

    assert not collector.bad, 'undecodable events: %r' % collector.bad[:3]
    assert restarter.restarts >= max(1, int(MINUTES * 60 / RESTART_EVERY) // 2), (
        'RabbitMQ restarts did not happen: %r' % restarter.failures)
    assert not missing, '%d of %d acknowledged QoS 1 publishes have no event, e.g. %r' % (
        len(missing), len(acked), sorted(missing)[:5])
    assert not cmd_lost, 'commands accepted but not delivered: %r' % {
        k: v[:5] for k, v in cmd_lost.items()}
    assert churn.refused == 0, '%d valid connects refused' % churn.refused
    assert last <= first * (1 + RSS_TOLERANCE) + RSS_SLACK_KB, (
        'broker heap grew: ' + mem.describe('RssAnon'))
