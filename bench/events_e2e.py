#!/usr/bin/python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Event forwarding benchmark: through the real broker, every figure
from one run, against one private RabbitMQ node and one MongoDB stand-in.

    /usr/bin/python3 bench/events_e2e.py [--rounds 3] [--duration 10]
        [--publishers 100] [--payload 64] [--no-callgrind] [--profile]

Builds the plugin, loadgen, bench/build/amqp_baseline and
build/events_driver itself.

Broker configurations (all with set_tcp_nodelay true, persistence off,
log_type error+warning, 100 registered devices):
  bare      mosquitto 2.0.11 without the plugin (allow_anonymous true)
  plugin    + mosquitto_iothub.so, forwarding off (no amqp_uri): auth + ACL
  events    + forwarding of every publish (default uplink filters; the load
            publishes on upload_data/{P}/{D}/t/{n}), default spool
  spool-only  `events` with RabbitMQ unreachable: every publish is encoded
            and appended to the spool, nothing is forwarded (the broker-side
            cost of the durability guarantee, without RabbitMQ's CPU)
  bare+amqp the bare broker while bench/amqp_baseline publishes to the same
            RabbitMQ in back-to-back batches for the whole load: the box
            carries comparable AMQP work as in `events`

Measurements, each configuration run --rounds times, interleaved (rotated
order per round), medians reported:
  1. broker publish throughput: loadgen --mode pub, --publishers QoS 1
     publishers, as fast as their in-flight window (20) allows, for
     --duration s; acked/s = PUBACKs / publishing time.
  2. events/s confirmed by RabbitMQ, from the plugin's stats_file
     (stats_interval 1s): the slope of events.confirmed while the broker is
     loaded (`events`), vs bench/build/amqp_baseline (plain rabbitmq-c, confirm
     mode, same window/body/exchange) run during the same load on `bare+amqp`;
     and idle: the plugin draining a spool backlog (--drain-count events
     spooled while RabbitMQ was unreachable, replayed by a broker restarted
     on that spool) vs amqp_baseline alone (the same number of events).
  3. cost on the broker thread (callgrind, deterministic): instructions per
     QoS 1 publish of the broker's main thread for bare / plugin / events,
     and instructions per events_publish (the append: encode + spool) from
     the events driver.
With --profile: a perf (cpu-clock) profile of the broker's main thread
during an `events` run: by object, the plugin's share and its event path.

Results: bench/out/events-<time>/results.json and summary.txt.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'test' / 'integration'))
import harness  # noqa: E402

LOADGEN = REPO / 'bench' / 'build' / 'loadgen'
PLUGIN = REPO / 'build' / 'mosquitto_iothub.so'
BASELINE = REPO / 'bench' / 'build' / 'amqp_baseline'
DRIVER = REPO / 'build' / 'events_driver'
TOPIC = 'upload_data/%p/%d/t/%n'
WINDOW = 1024                       # amqp_window default, and the baseline's


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------
# processes
# ----------------------------------------------------------------------
class Broker:
    def __init__(self, reg, root, cfg, amqp_uri=None, mongo_uri=None, wrapper=(), spool_dir=None):
        self.reg = reg
        self.cfg = cfg
        self.dir = Path(tempfile.mkdtemp(prefix=cfg.replace('+', '_') + '-', dir=root))
        self.port = harness.free_port()
        self.stats_path = self.dir / 'stats.json'
        lines = ['listener %d 127.0.0.1' % self.port, 'max_connections -1',
                 'persistence false', 'set_tcp_nodelay true',
                 'log_dest file %s/broker.log' % self.dir, 'log_type error',
                 'log_type warning']
        if os.geteuid() == 0:
            lines.append('user root')
        if cfg in ('bare', 'bare+amqp'):
            lines.append('allow_anonymous true')
        else:
            lines += ['allow_anonymous false', 'plugin %s' % PLUGIN,
                      'plugin_opt_mongo_uri %s' % mongo_uri,
                      'plugin_opt_mongo_db bench',
                      'plugin_opt_revalidate_interval 1h',
                      'plugin_opt_stats_interval 1s',
                      'plugin_opt_stats_file %s' % self.stats_path]
            if cfg in ('events', 'spool-only'):
                if cfg == 'spool-only':     # RabbitMQ unreachable: append only
                    amqp_uri = 'amqp://guest:guest@127.0.0.1:%d/' % harness.free_port()
                lines += ['plugin_opt_amqp_uri %s' % amqp_uri,
                          'plugin_opt_spool_dir %s' % (spool_dir or self.dir / 'spool')]
        (self.dir / 'mosquitto.conf').write_text('\n'.join(lines) + '\n')
        wrapper = list(wrapper)
        self.proc = reg.spawn(wrapper + ['/usr/sbin/mosquitto', '-c', self.dir / 'mosquitto.conf'],
                              log_path=self.dir / 'stdout.log', cwd=self.dir)
        harness.wait_until(lambda: harness.port_open(self.port) or self.proc.poll() is not None,
                           120 if wrapper else 20, what='broker %s' % cfg)
        if self.proc.poll() is not None:
            raise RuntimeError('broker %s exited:\n%s' % (cfg, self.log()))

    def log(self):
        return ''.join(p.read_text(errors='replace') for p in
                       (self.dir / 'broker.log', self.dir / 'stdout.log') if p.exists())

    def stats(self):
        try:
            return json.loads(self.stats_path.read_text()), self.stats_path.stat().st_mtime
        except (OSError, ValueError):
            return None, None

    def stop(self):
        harness.terminate(self.proc, 60)
        self.reg.forget(self.proc)


class StatsSampler(threading.Thread):
    """Every new stats_file version: (mtime, events counters)."""

    def __init__(self, broker):
        super().__init__(daemon=True)
        self.b = broker
        self.samples = []
        self.stop_ev = threading.Event()

    def run(self):
        last = None
        while not self.stop_ev.is_set():
            s, mt = self.b.stats()
            if s and mt != last and s.get('events'):
                last = mt
                self.samples.append((mt, s['events']))
            time.sleep(0.05)

    def stop(self):
        self.stop_ev.set()
        self.join()


def slope(samples, t0, t1, key='confirmed'):
    """Rate of samples[key] between the first sample at or after t0 and the
    last at or before t1."""
    win = [(t, e[key]) for t, e in samples if t0 <= t <= t1]
    if len(win) < 2 or win[-1][0] <= win[0][0]:
        return None
    return (win[-1][1] - win[0][1]) / (win[-1][0] - win[0][0])


def run_loadgen(reg, port, creds, args, count=None, extra=()):
    cmd = [LOADGEN, '--port', port, '--mode', 'pub', '--publishers', args.publishers,
           '--qos', 1, '--pub-rate', 0, '--creds', creds, '--topic', TOPIC,
           '--payload-size', args.payload, '--json', '--quiet', '--drain', 5] + list(extra)
    cmd += ['--count', count] if count else ['--duration', args.duration]
    res = reg.run(cmd, timeout=600)
    if res.returncode != 0:
        raise RuntimeError('loadgen failed (%d): %s' % (res.returncode, res.stderr[-2000:]))
    out = json.loads(res.stdout.strip().splitlines()[-1])
    pub = out['publish']
    if pub['acked'] != pub['sent'] or pub['nacked']:
        raise RuntimeError('loadgen: sent %d acked %d nacked %d' % (pub['sent'], pub['acked'], pub['nacked']))
    return out


def acked_per_s(out):
    return out['publish']['acked'] / out['publish']['elapsed_s']


def run_baseline(reg, rabbit, count, payload):
    res = reg.run([BASELINE, '127.0.0.1', rabbit.port, count, WINDOW, payload], timeout=600)
    if res.returncode != 0:
        raise RuntimeError('amqp_baseline failed: %s' % res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])['events_per_s']


def purge(rabbit):
    import pika.exceptions
    with rabbit.connection() as conn:
        ch = conn.channel()
        for q in harness.IOTHUB_QUEUES:
            try:
                ch.queue_purge(q)
            except pika.exceptions.ChannelClosedByBroker:
                ch = conn.channel()


def wait_backlog_zero(b, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s, _ = b.stats()
        if s and s['events'] and s['events']['backlog'] == 0:
            return True
        time.sleep(0.2)
    return False


# ----------------------------------------------------------------------
# one measurement of each kind
# ----------------------------------------------------------------------
def measure_throughput(ctx, cfg):
    """loadgen against a fresh broker of `cfg`; for `events` also the
    confirmed slope during the load and the drain afterwards; for
    `bare+amqp` the baseline's events/s during the load."""
    reg, args = ctx['reg'], ctx['args']
    b = Broker(reg, ctx['root'], cfg, ctx['rabbit'].amqp_uri, ctx['mongo_uri'])
    res = {'cfg': cfg}
    try:
        if cfg != 'bare' and cfg != 'bare+amqp':
            run_loadgen(reg, b.port, ctx['creds'], args, count=1)    # registry warm: auth cache
        sampler = None
        if cfg == 'events':
            purge(ctx['rabbit'])
            wait_backlog_zero(b, 30)
            sampler = StatsSampler(b)
            sampler.start()
        bl = {}
        if cfg == 'bare+amqp':
            purge(ctx['rabbit'])
            done = threading.Event()
            # batches of about a second each, back to back for as long as the
            # load runs, so the box carries AMQP work all along as in `events`
            n = max(1000, int(ctx['baseline_idle']))

            def go():
                time.sleep(1.0)
                events, spent = 0, 0.0
                while not done.is_set():
                    rate = run_baseline(reg, ctx['rabbit'], n, args.payload)
                    if done.is_set():
                        break              # finished after the load: not counted
                    events += n
                    spent += n / rate
                bl['rate'] = events / spent if spent else None
                bl['batches'] = events // n
            th = threading.Thread(target=go)
            th.start()
        t0 = time.time()
        try:
            out = run_loadgen(reg, b.port, ctx['creds'], args)
        finally:
            if cfg == 'bare+amqp':
                done.set()
        t1 = time.time()
        res['acked_per_s'] = acked_per_s(out)
        res['ack_p50_us'] = out['publish']['ack_latency_us']['p50']
        res['ack_p99_us'] = out['publish']['ack_latency_us']['p99']
        res['acked'] = out['publish']['acked']
        if cfg == 'bare+amqp':
            th.join()
            res['baseline_under_load'] = bl['rate']
            res['baseline_batches'] = bl['batches']
        if sampler:
            # The publishing window is where `queued` grows; keep 1 s away
            # from its start (connects, ramp-up).
            sm = sampler.samples
            grow = [sm[i][0] for i in range(1, len(sm)) if sm[i][1]['queued'] > sm[i - 1][1]['queued']]
            t_pub0, t_pub1 = (grow[0], grow[-1]) if grow else (t0, t1)
            res['confirmed_under_load'] = slope(sm, t_pub0 + 1.0, t_pub1)
            res['queued_under_load'] = slope(sm, t_pub0 + 1.0, t_pub1, 'queued')
            ok = wait_backlog_zero(b, 300)
            time.sleep(1.2)
            sampler.stop()
            res['drained'] = ok
            res['backlog_at_end'] = next((e['backlog'] for t, e in sampler.samples if t >= t_pub1), None)
            last = sampler.samples[-1][1]
            res['events'] = {k: last[k] for k in ('queued', 'confirmed', 'dropped', 'memory_queued',
                                                  'redelivered', 'reconnects')}
    finally:
        b.stop()
    return res


def measure_drain(ctx):
    """The plugin's confirm rate with an idle broker: a broker whose
    RabbitMQ is unreachable spools --drain-count events; a broker started
    on that spool with the real RabbitMQ replays them (a restart after an
    outage), and the slope of events.confirmed is its confirm rate."""
    reg, args, rabbit = ctx['reg'], ctx['args'], ctx['rabbit']
    spool = Path(tempfile.mkdtemp(prefix='spool-', dir=ctx['root']))
    dead = 'amqp://guest:guest@127.0.0.1:%d/' % harness.free_port()
    b = Broker(reg, ctx['root'], 'events', dead, ctx['mongo_uri'], spool_dir=spool)
    try:
        per = max(1, ctx['drain_count'] // args.publishers)
        run_loadgen(reg, b.port, ctx['creds'], args, count=per)
        time.sleep(1.5)                  # one more stats_file write
        s0, _ = b.stats()
    finally:
        b.stop()
    purge(rabbit)
    t_start = time.time()
    b = Broker(reg, ctx['root'], 'events', rabbit.amqp_uri, ctx['mongo_uri'], spool_dir=spool)
    try:
        sampler = StatsSampler(b)
        sampler.start()
        ok = wait_backlog_zero(b, 300)
        t_done = time.time()
        time.sleep(1.2)
        sampler.stop()
        # full stats intervals only, from the first sample with confirmed
        # events to the last one that still had a backlog
        busy = [t for t, e in sampler.samples if e['confirmed'] > 0 and e['backlog'] > 0]
        rate = slope(sampler.samples, busy[0], busy[-1]) if len(busy) >= 2 else None
        return {'backlog': s0['events']['backlog'], 'drained': ok, 'confirmed_per_s': rate,
                'wall_rate': s0['events']['backlog'] / (t_done - t_start)}
    finally:
        b.stop()
        purge(rabbit)
        shutil.rmtree(spool, ignore_errors=True)


# ----------------------------------------------------------------------
# callgrind
# ----------------------------------------------------------------------
def callgrind_broker(ctx, cfg, publishes=10000, publishers=10):
    """Instructions of the broker's main thread per QoS 1 publish."""
    reg, args = ctx['reg'], ctx['args']
    out_dir = Path(tempfile.mkdtemp(prefix='cg-', dir=ctx['root']))
    wrapper = ['valgrind', '--tool=callgrind', '--separate-threads=yes',
               '--callgrind-out-file=%s/cg.out' % out_dir]
    b = Broker(reg, ctx['root'], cfg, ctx['rabbit'].amqp_uri, ctx['mongo_uri'], wrapper=wrapper)
    try:
        a = argparse.Namespace(**vars(args))
        a.publishers = publishers
        run_loadgen(reg, b.port, ctx['creds'], a, count=1,
                    extra=['--connect-timeout', 60])              # warm-up: auth cache, spool pages
        if cfg == 'events':
            wait_backlog_zero(b, 120)
        reg.run(['callgrind_control', '-z', str(b.proc.pid)], timeout=60)
        run_loadgen(reg, b.port, ctx['creds'], a, count=publishes // publishers,
                    extra=['--connect-timeout', 60])
        if cfg == 'events':
            wait_backlog_zero(b, 300)
        reg.run(['callgrind_control', '-d', str(b.proc.pid)], timeout=120)
    finally:
        b.stop()
    # The dump after the zeroing is part 1, one file per thread:
    # cg.out.1-01 is the broker's main thread (02... are ours: the
    # forwarder, its watchdog, the registry worker).
    per_thread = {}
    for f in out_dir.glob('cg.out.1-*'):
        m = re.search(r'^totals: (\d+)', f.read_text(errors='replace'), re.M)
        if m:
            per_thread[f.name.rsplit('-', 1)[1]] = int(m.group(1)) / publishes
    return {'main': per_thread.get('01'), 'other_threads': sum(v for k, v in per_thread.items() if k != '01')}


def callgrind_append(ctx):
    """Instructions per events_publish (encode + spool append), from the
    events driver with RabbitMQ unreachable."""
    reg, args = ctx['reg'], ctx['args']
    d = Path(tempfile.mkdtemp(prefix='cga-', dir=ctx['root']))
    n = 20000
    reg.run(['valgrind', '--tool=callgrind', '--callgrind-out-file=%s/cg.out' % d,
             '--toggle-collect=events_publish', DRIVER, '--bench', '--count', n,
             '--payload', args.payload, '--drain', 0, 'amqp_uri=amqp://guest:guest@127.0.0.1:1/',
             'spool_dir=%s/spool' % d, 'stats_interval=0'], timeout=600)
    res = reg.run(['callgrind_annotate', d / 'cg.out'], timeout=60)
    m = re.search(r'^([\d,]+) .*PROGRAM TOTALS', res.stdout, re.M)
    return int(m.group(1).replace(',', '')) / n if m else None


def perf_profile(ctx, seconds=8):
    reg, args = ctx['reg'], ctx['args']
    b = Broker(reg, ctx['root'], 'events', ctx['rabbit'].amqp_uri, ctx['mongo_uri'])
    data = Path(ctx['root']) / 'perf.data'
    try:
        run_loadgen(reg, b.port, ctx['creds'], args, count=1)
        th = threading.Thread(target=run_loadgen, args=(reg, b.port, ctx['creds'], args))
        th.start()
        time.sleep(2)
        # the broker's main thread only (its tid is the pid): the thread
        # whose time is the broker's throughput
        reg.run(['perf', 'record', '-q', '-e', 'cpu-clock', '-F', '4000', '-t', b.proc.pid,
                 '-o', data, '--', 'sleep', seconds], timeout=120)
        th.join()
    finally:
        b.stop()
        purge(ctx['rabbit'])
    def report(*sort_args):
        rep = reg.run(['perf', 'report', '-i', data, '--no-children', '--stdio', '-g', 'none',
                       '--percent-limit', '0'] + list(sort_args), timeout=120)
        rows = []
        for line in rep.stdout.splitlines():
            m = re.match(r'\s*([\d.]+)%\s+(.*\S)', line)
            if m and not line.startswith('#'):
                rows.append((float(m.group(1)), re.sub(r'\s+', ' ', m.group(2))))
        return rows
    by_dso = report('--sort', 'dso')
    by_sym = report('--sort', 'dso,symbol')
    ours = [r for r in by_sym if 'mosquitto_iothub.so' in r[1]]
    ev_re = re.compile(r'(event|spool|crc|hex8|emit_|fwd|amqp|literal_prefix|submit)')
    return {'by_dso': by_dso[:12], 'top': by_sym[:30],
            'plugin_pct': sum(p for p, _ in ours),
            'plugin_events_pct': sum(p for p, n in ours if ev_re.search(n)),
            'plugin_top': ours[:20]}


# ----------------------------------------------------------------------
def build():
    subprocess.run(['make', '-s', '-C', str(REPO)], check=True)
    subprocess.run(['make', '-s', '-C', str(REPO / 'bench'), 'all', 'build/amqp_baseline'], check=True)
    subprocess.run([str(REPO / 'test/tools/build_events_driver.sh'), 'build/events_driver'],
                   check=True, cwd=REPO)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--duration', type=int, default=10)
    ap.add_argument('--publishers', type=int, default=100)
    ap.add_argument('--payload', type=int, default=64)
    ap.add_argument('--drain-count', type=int, default=100000)
    ap.add_argument('--no-callgrind', action='store_true')
    ap.add_argument('--profile', action='store_true')
    ap.add_argument('--configs', default='bare,plugin,spool-only,events,bare+amqp')
    ap.add_argument('--out', default=None)
    args = ap.parse_args()

    build()
    out_dir = Path(args.out or REPO / 'bench' / 'out' / time.strftime('events-%Y%m%d-%H%M%S'))
    out_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix='ih-events-bench-'))
    session = harness.Session(base_dir=root)
    results = {'args': vars(args), 'runs': [], 'machine': {
        'nproc': os.cpu_count(), 'loadavg_start': os.getloadavg()}}
    try:
        mongo = session.mongo_server()
        handle = harness.MongoHandle(mongo, 'bench')
        handle.client.drop_database('bench')
        devs = [handle.add_device('bp', 'd%04d' % i) for i in range(args.publishers)]
        creds = root / 'creds.txt'
        creds.write_text(''.join('%s %s\n' % (d.username, d.secret) for d in devs))
        rabbit = session.rabbit_node()
        ctx = {'reg': session.registry, 'root': root, 'args': args, 'creds': creds,
               'rabbit': rabbit, 'mongo_uri': mongo.uri, 'drain_count': args.drain_count}
        rabbit.declare_iothub()        # the baseline's queue exists from the start

        log('baseline (idle) ...')
        ctx['baseline_idle'] = run_baseline(session.registry, rabbit, 50000, args.payload)
        purge(rabbit)

        configs = [c for c in args.configs.split(',') if c]
        idle_base, idle_drain = [], []
        n_idle = args.drain_count
        for r in range(args.rounds):
            k = r % len(configs) if configs else 0
            order = configs[k:] + configs[:k]
            for cfg in order:
                log('round %d: %s ...' % (r + 1, cfg))
                res = measure_throughput(ctx, cfg)
                res['round'] = r + 1
                log('   ', json.dumps(res))
                results['runs'].append(res)
                purge(rabbit)
            log('round %d: idle baseline and drain ...' % (r + 1))
            for what in (('baseline', 'drain') if r % 2 == 0 else ('drain', 'baseline')):
                if what == 'baseline':
                    idle_base.append(run_baseline(session.registry, rabbit, n_idle, args.payload))
                    purge(rabbit)
                    log('    baseline', idle_base[-1])
                else:
                    d = measure_drain(ctx)
                    log('   ', json.dumps(d))
                    idle_drain.append(d)

        cg = {}
        if not args.no_callgrind:
            for cfg in ('bare', 'plugin', 'events'):
                log('callgrind: %s ...' % cfg)
                cg[cfg] = callgrind_broker(ctx, cfg)
                purge(rabbit)
            log('callgrind: events_publish ...')
            cg['append'] = callgrind_append(ctx)
        results['callgrind'] = cg
        if args.profile:
            log('perf profile ...')
            results['perf'] = perf_profile(ctx)
        results['machine']['loadavg_end'] = os.getloadavg()
        results['idle'] = {'baseline': idle_base, 'drain': idle_drain}
        summary = summarize(results, configs)
        (out_dir / 'results.json').write_text(json.dumps(results, indent=1))
        (out_dir / 'summary.txt').write_text(summary)
        print(summary)
        print('results in %s' % out_dir)
    finally:
        session.close(keep_dir=False)


def summarize(R, configs):
    by = {c: [x for x in R['runs'] if x['cfg'] == c] for c in configs}
    m = {c: med([x['acked_per_s'] for x in v]) for c, v in by.items()}
    lines = []
    a = R['args']
    lines.append('== event forwarding benchmark: %d publishers, QoS 1, %d B payload, %d s, %d rounds (medians), '
                 'nproc %s, load %.1f -> %.1f ==' % (a['publishers'], a['payload'], a['duration'], a['rounds'],
                                                      R['machine']['nproc'], R['machine']['loadavg_start'][0],
                                                      R['machine']['loadavg_end'][0]))
    lines.append('')
    lines.append('broker publish throughput (PUBACKs/s; per round in brackets)')
    for c in configs:
        if c in m and m[c]:
            per = ', '.join('%.0f' % x['acked_per_s'] for x in by[c])
            p99 = med([x['ack_p99_us'] for x in by[c]])
            lines.append('  %-10s %8.0f   [%s]   PUBACK p99 %.1f ms' % (c, m[c], per, p99 / 1000))

    def ratio(x, y):
        return (m.get(x) / m[y]) if m.get(x) and m.get(y) else None

    def paired(x, y):
        """Median of per-round ratios (both measured in the same round)."""
        rs = []
        for rx in by.get(x, []):
            ry = [v for v in by.get(y, []) if v['round'] == rx['round']]
            if ry:
                rs.append(rx['acked_per_s'] / ry[0]['acked_per_s'])
        return med(rs)
    for x, y, what in (('events', 'bare', 'forwarding on / no plugin  (aim >= 0.9)'),
                       ('plugin', 'bare', 'plugin, forwarding off / no plugin'),
                       ('spool-only', 'plugin', 'spool append, RabbitMQ away / forwarding off (durability)'),
                       ('events', 'spool-only', 'forwarding on / spool append only (RabbitMQ + forwarder)'),
                       ('events', 'plugin', 'forwarding on / forwarding off'),
                       ('events', 'bare+amqp', 'forwarding on / no plugin, same AMQP load on the box')):
        r, p = ratio(x, y), paired(x, y)
        if r:
            lines.append('  ratio %-64s %.3f (per-round median %.3f)' % (what, r, p))
    ev = by.get('events', [])
    lines.append('')
    lines.append('events/s confirmed by RabbitMQ')
    cul = med([x.get('confirmed_under_load') for x in ev])
    qul = med([x.get('queued_under_load') for x in ev])
    bul = med([x.get('baseline_under_load') for x in by.get('bare+amqp', [])])
    if cul:
        lines.append('  plugin, broker loaded (stats slope)   %8.0f   [%s]  (events queued at %.0f/s)' % (
            cul, ', '.join('%.0f' % (x.get('confirmed_under_load') or 0) for x in ev), qul or 0))
    if bul:
        lines.append('  amqp_baseline, same load (bare+amqp)  %8.0f   [%s]' % (
            bul, ', '.join('%.0f' % x['baseline_under_load'] for x in by['bare+amqp'])))
    if cul and bul:
        lines.append('  ratio plugin / baseline under load                                    %.3f' % (cul / bul))
    ib = med(R['idle']['baseline'])
    idr = med([d['confirmed_per_s'] for d in R['idle']['drain']])
    if ib and idr:
        lines.append('  plugin draining a %d-event spool, idle %8.0f   [%s]' % (
            R['idle']['drain'][0]['backlog'], idr, ', '.join('%.0f' % (d['confirmed_per_s'] or 0)
                                                             for d in R['idle']['drain'])))
        lines.append('  amqp_baseline alone                   %8.0f   [%s]' % (
            ib, ', '.join('%.0f' % x for x in R['idle']['baseline'])))
        lines.append('  ratio plugin / baseline, idle (aim >= 0.9)                            %.3f' % (idr / ib))
    if ev:
        lines.append('  spool backlog when the load stopped: %s events; drained: %s; dropped: %s' % (
            [x.get('backlog_at_end') for x in ev], [x.get('drained') for x in ev],
            [x['events']['dropped'] for x in ev if 'events' in x]))
    cg = R.get('callgrind') or {}
    if cg:
        lines.append('')
        lines.append('broker main thread, instructions per QoS 1 publish (callgrind, 10 x 1000 publishes)')
        for c in ('bare', 'plugin', 'events'):
            if cg.get(c) and cg[c]['main']:
                lines.append('  %-8s %8.0f   (our other threads: %.0f)' % (c, cg[c]['main'], cg[c]['other_threads']))
        if all(cg.get(c) and cg[c]['main'] for c in ('bare', 'plugin', 'events')):
            lines.append('  plugin - bare:  %.0f per publish (auth/ACL glue, MESSAGE callback)'
                         % (cg['plugin']['main'] - cg['bare']['main']))
            lines.append('  events - plugin: %.0f per publish (the event: encode + spool append + wake)'
                         % (cg['events']['main'] - cg['plugin']['main']))
        if cg.get('append'):
            lines.append('  events_publish alone (events driver): %.0f instructions' % cg['append'])
    if R.get('perf'):
        P = R['perf']
        lines.append('')
        lines.append('perf (cpu-clock, the broker main thread, 8 s of an `events` load):')
        lines.append('  by object: ' + ', '.join('%s %.1f%%' % (n, p) for p, n in P['by_dso'][:6]))
        lines.append('  mosquitto_iothub.so: %.1f%% of the samples, of which the event path (encode, '
                     'spool, emit, forwarder) %.1f%%' % (P['plugin_pct'], P['plugin_events_pct']))
        lines.append('  top symbols of the plugin:')
        lines += ['    %5.2f%%  %s' % (p, n) for p, n in P['plugin_top'][:12]]
        lines.append('  top symbols overall:')
        lines += ['    %5.2f%%  %s' % (p, n) for p, n in P['top'][:12]]
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
