#!/usr/bin/python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Issue 14 benchmark: cluster mode, every figure from one run, on loopback
against one private RabbitMQ node and the Mongo stand-in.

    /usr/bin/python3 bench/cluster_e2e.py [--commands 300] [--nodes 1,3,5]

Brokers: mosquitto 2.0.11 + the plugin with `cluster true`, defaults
otherwise (auto-subscription of cmd/rpc/m2m, event forwarding on), one
`node_name` each, all on one RabbitMQ node.

Measurements:
  1. command latency, same node vs cross node (3 nodes): the device sits on
     node 0; the platform's superuser client publishes QoS 1 commands to it
     one at a time, on node 0 (same node) and on node 1 (cross node), and
     the time from PUBLISH to the device receiving it is recorded: p50/p99.
  2. AMQP messages per routed command at 1, 3 and 5 nodes: one device per
     node, the platform on node 0 sends --commands commands round-robin to
     all devices; AMQP publishes (every node's `cluster.routed_out`) and
     AMQP deliveries (every node's `cluster.amqp_received`) per command
     whose device is on another node. With 1 node nothing is routed.
  3. broker CPU per command (3 nodes): utime+stime of the publishing node
     and of the device's node (all threads, 10 ms resolution), and the
     broker main thread's run time (/proc/PID/schedstat, ns), while
     --commands commands go same-node, then cross-node; microseconds per
     command, summed over both nodes. The idle broker wakes every 100 ms
     (mosquitto's epoll timeout), so those wake-ups are in both figures.

Results: bench/out/cluster-<time>/results.json and summary.txt.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'test' / 'integration'))
import harness  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')


def main_thread_s(pid):
    """CPU time of the broker's main thread (the thread group leader), ns resolution."""
    return int(Path('/proc/%d/schedstat' % pid).read_text().split()[0]) / 1e9


def cpu_s(pid):
    fields = Path('/proc/%d/stat' % pid).read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Setup:
    def __init__(self, session, work, n, tag):
        self.session = session
        self.mongo = harness.MongoHandle(session.mongo_server(), 'bench%s' % tag)
        self.rabbit = session.rabbit_node()
        self.ops = self.mongo.add_device('platform', 'ops', superuser=True)
        self.nodes = []
        for i in range(n):
            b = harness.Broker(session.registry, work / ('n%d-%d' % (n, i)), options={
                'mongo_uri': self.mongo.uri,
                'mongo_db': self.mongo.db_name, 'amqp_uri': self.rabbit.amqp_uri,
                'cluster': True, 'node_name': 'bench%s-%d' % (tag, i), 'control': True,
                'revalidate_interval': '0', 'stats_interval': '0',
                'cluster_queue_prefix': 'iothub.node.bench%s.' % tag},
                extra_conf='set_tcp_nodelay true')
            b.options = {k: v for k, v in b.options.items() if v is not None}
            b.write_conf('set_tcp_nodelay true')
            b.start()
            self.nodes.append(b)
        self.clients = []
        self.admins = [self.client(i, self.ops, 'ops-%s-%d' % (tag, i)) for i in range(n)]

    def client(self, i, dev, cid, clean=True):
        c = harness.MqttClient(self.nodes[i].port, dev.username, dev.secret, client_id=cid,
                               clean=clean, proto=5)
        assert c.connect() == 0
        self.clients.append(c)
        return c

    def stats(self, i):
        a = self.admins[i]
        corr = 'c%d' % time.monotonic_ns()
        a.publish('$CONTROL/iothub/v1', json.dumps(
            {'commands': [{'command': 'getStats', 'correlationData': corr}]}), qos=1)
        while True:
            m = a.wait_for(1, 10)[0]
            if m.topic.endswith('/response'):
                r = json.loads(m.payload)['responses'][0]
                if r.get('correlationData') == corr:
                    return r['data']

    def settle(self):
        harness.wait_until(lambda: all(self.stats(i)['cluster']['binds_pending'] == 0
                                       for i in range(len(self.nodes))), 20, interval=0.05,
                           what='bindings applied')

    def close(self):
        for c in self.clients:
            try:
                c.disconnect()
            except Exception:
                pass
        for b in self.nodes:
            b.stop()


def latency(s, device_client, username, publisher, count):
    out = []
    for k in range(count):
        topic = 'cmd/%s/lat/%d/0' % (username, k)
        t0 = time.perf_counter()
        publisher.publish(topic, b'x', qos=1)
        m = device_client.wait_for(1, 10)[0]
        assert m.topic == topic, (m.topic, topic)
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--commands', type=int, default=300)
    ap.add_argument('--nodes', default='1,3,5')
    ap.add_argument('--out', help='directory for results.json and summary.txt '
                    '(default bench/out/cluster-<time>)')
    args = ap.parse_args()
    out_dir = Path(args.out) if args.out else REPO / 'bench' / 'out' / time.strftime('cluster-%Y%m%d-%H%M%S')
    out_dir.mkdir(parents=True, exist_ok=True)
    session = harness.Session()
    results = {'commands': args.commands}
    try:
        # 1 and 3: latency and CPU on 3 nodes.
        s = Setup(session, session.base_dir, 3, 'lat')
        dev = s.mongo.add_device('p1', 'lat')
        d = s.client(0, dev, 'lat-dev')
        s.settle()
        latency(s, d, dev.username, s.admins[0], 20)     # warm-up
        latency(s, d, dev.username, s.admins[1], 20)
        same = latency(s, d, dev.username, s.admins[0], args.commands)
        cross = latency(s, d, dev.username, s.admins[1], args.commands)
        results['latency_ms'] = {
            'same_node': {'p50': pct(same, 50), 'p99': pct(same, 99)},
            'cross_node': {'p50': pct(cross, 50), 'p99': pct(cross, 99)}}
        cpu, main, idle = {}, {}, {}
        for name, pub_i in (('same_node', 0), ('cross_node', 1)):
            pids = {s.nodes[0].pid, s.nodes[pub_i].pid}
            # The idle brokers' own cost (100 ms wake-ups), subtracted below.
            m0, t0 = sum(main_thread_s(p) for p in pids), time.monotonic()
            time.sleep(5)
            idle[name] = (sum(main_thread_s(p) for p in pids) - m0) / (time.monotonic() - t0)
            before = sum(cpu_s(p) for p in pids)
            mbefore, t0 = sum(main_thread_s(p) for p in pids), time.monotonic()
            latency(s, d, dev.username, s.admins[pub_i], args.commands)
            spent = time.monotonic() - t0
            cpu[name] = (sum(cpu_s(p) for p in pids) - before) * 1e6 / args.commands
            main[name] = (sum(main_thread_s(p) for p in pids) - mbefore - idle[name] * spent) * 1e6 / args.commands
        results['idle_main_thread_us_per_s'] = {k: v * 1e6 for k, v in idle.items()}
        results['broker_cpu_us_per_command'] = cpu
        results['broker_main_thread_us_per_command'] = main
        s.close()

        # 2: AMQP messages per routed command at 1/3/5 nodes.
        per = {}
        for n in [int(x) for x in args.nodes.split(',')]:
            s = Setup(session, session.base_dir, n, 'amqp%d' % n)
            devs = [s.mongo.add_device('p1', 'm%d-%d' % (n, i)) for i in range(n)]
            cl = [s.client(i, devs[i], 'm%d-%d' % (n, i)) for i in range(n)]
            s.settle()
            st0 = [s.stats(i)['cluster'] for i in range(n)]
            routed = 0
            for k in range(args.commands):
                i = k % n
                s.admins[0].publish('cmd/%s/amqp/%d/0' % (devs[i].username, k), b'x', qos=1)
                routed += i != 0
            for i in range(n):
                cl[i].wait_for(len([k for k in range(args.commands) if k % n == i]), 30)
            st1 = [s.stats(i)['cluster'] for i in range(n)]
            pubs = sum(b['routed_out'] - a['routed_out'] for a, b in zip(st0, st1))
            recv = sum(b['amqp_received'] - a['amqp_received'] for a, b in zip(st0, st1))
            per[n] = {'commands': args.commands, 'routed_commands': routed,
                      'amqp_publishes': pubs, 'amqp_deliveries': recv,
                      'publishes_per_routed': pubs / routed if routed else None,
                      'deliveries_per_routed': recv / routed if routed else None}
            s.close()
        results['amqp_per_routed_command'] = per
    finally:
        session.close()
    (out_dir / 'results.json').write_text(json.dumps(results, indent=2) + '\n')
    lat = results['latency_ms']
    lines = ['cluster benchmark (%d commands, QoS 1, loopback, one RabbitMQ node)' % args.commands,
             'latency ms    same node p50 %.2f p99 %.2f | cross node p50 %.2f p99 %.2f' % (
                 lat['same_node']['p50'], lat['same_node']['p99'],
                 lat['cross_node']['p50'], lat['cross_node']['p99']),
             'broker CPU us/command, all threads (publishing + device node, 10 ms ticks)  same node %.1f | cross node %.1f' % (
                 results['broker_cpu_us_per_command']['same_node'],
                 results['broker_cpu_us_per_command']['cross_node']),
             'broker main thread us/command (schedstat, idle wake-ups subtracted)  same node %.1f | cross node %.1f' % (
                 results['broker_main_thread_us_per_command']['same_node'],
                 results['broker_main_thread_us_per_command']['cross_node'])]
    for n, v in results['amqp_per_routed_command'].items():
        lines.append('%d node(s): %d routed of %d commands, AMQP publishes/routed %s, deliveries/routed %s' % (
            n, v['routed_commands'], v['commands'],
            '%.2f' % v['publishes_per_routed'] if v['routed_commands'] else 'n/a (%d publishes)' % v['amqp_publishes'],
            '%.2f' % v['deliveries_per_routed'] if v['routed_commands'] else 'n/a'))
    (out_dir / 'summary.txt').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))
    print('results in', out_dir)


if __name__ == '__main__':
    main()
