# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""`make run` as a new user tries it: tools/run.sh (what `make run` runs
after installing packages and building), then every command it prints,
copied from its output and run through bash exactly as printed, each
checked against what the text around it promises.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_run_demo.py -q

Slow (a private RabbitMQ node starts, ~10-20 s). Ports and the state
directory come from the environment overrides run.sh documents, so
nothing on the default ports is touched.
"""

import json
import re
import signal
import subprocess
import threading
import time

import pytest

import harness

pytestmark = [pytest.mark.slow, pytest.mark.needs_plugin,
              pytest.mark.timeout(240)]

RUN_SH = harness.REPO / 'tools' / 'run.sh'
CTL = harness.REPO / 'build' / 'iothubctl'


class Demo:
    """tools/run.sh in the background, its output collected line by line."""

    def __init__(self, registry, workdir):
        self.registry = registry
        self.run_dir = workdir / 'run'
        self.mqtt_port = harness.free_port()
        env = {'IOTHUB_RUN_DIR': str(self.run_dir),
               'IOTHUB_MQTT_PORT': str(self.mqtt_port),
               'IOTHUB_AMQP_PORT': str(harness.free_port()),
               'IOTHUB_MONGO_PORT': str(harness.free_port()),
               'IOTHUB_API_PORT': str(harness.free_port())}
        full_env = registry.env(env)
        full_env.pop('MONGO_URI', None)     # a new user has none set
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            ['/bin/bash', str(RUN_SH)], cwd=str(harness.REPO),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
        with registry.lock:
            registry.procs.append(self.proc)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode(errors='replace').rstrip('\n'))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, regex, timeout, since=0):
        pattern = re.compile(regex)
        with self.cond:
            ok = self.cond.wait_for(
                lambda: any(pattern.search(l) for l in self.lines[since:])
                or self.proc.poll() is not None, timeout)
            for i, line in enumerate(self.lines[since:], since):
                if pattern.search(line):
                    return i
        raise AssertionError('run.sh printed no line matching %r%s:\n%s' % (
            regex, '' if ok else ' in %ss' % timeout, '\n'.join(self.lines)))

    def mark(self):
        with self.cond:
            return len(self.lines)

    def stop(self):
        """What Ctrl-C does (run.sh traps INT and TERM alike)."""
        _, rc = harness.terminate(self.proc, 60)
        self.registry.forget(self.proc)
        self.reader.join(5)
        return rc


@pytest.fixture
def demo(registry, workdir):
    if not CTL.exists():
        pytest.skip('iothubctl not built: %s (run make)' % CTL)
    d = Demo(registry, workdir)
    yield d
    d.stop()


def printed_commands(lines):
    """{step number: [(command, expectation or None)]} from the banner."""
    steps, step = {}, None
    for i, line in enumerate(lines):
        m = re.match(r'^(\d)\. ', line)
        if m:
            step = int(m.group(1))
            steps[step] = []
            continue
        if step is None or not line.startswith('   ') or line.startswith('    '):
            if step is not None and re.match(r'^\s+-> ', line) and steps[step]:
                cmd, _ = steps[step][-1]
                steps[step][-1] = (cmd, line.split('-> ', 1)[1])
            continue
        text = line.strip()
        if re.match(r'^(mosquitto_(pub|sub)|curl|/\S+) ', text):
            steps[step].append((text, None))
    return steps


def sh(registry, cmd, timeout=30):
    res = registry.run(['/bin/bash', '-c', cmd], timeout=timeout)
    return res.returncode, res.stdout, res.stderr


def test_make_run_commands_do_what_they_say(demo, registry):
    end = demo.wait_line(r'^Counters: ', timeout=180)
    banner = demo.lines[:end + 1]
    text = '\n'.join(banner)
    assert 'mosquitto-iothub is running on 127.0.0.1:%d' % demo.mqtt_port \
        in text
    steps = printed_commands(banner)
    assert sorted(steps) == [1, 2, 3, 4, 5, 6, 7], steps
    for cmds in steps.values():
        for cmd, _ in cmds:
            # every command talks to this demo's ports, none to a default
            assert '1883 ' not in cmd and ':5672' not in cmd, cmd

    # 1. authentication: the right secret works, a wrong one is refused
    (good, _), (bad, bad_says) = steps[1]
    rc, out, err = sh(registry, good)
    assert rc == 0, (good, out, err)
    rc, out, err = sh(registry, bad)
    assert rc != 0 and bad_says in err, (bad, rc, err)

    # 2. ACL: publishing on another device's topic is refused, as printed
    ((acl, acl_says),) = steps[2]
    rc, out, err = sh(registry, acl)
    assert acl_says in out + err, (acl, rc, out, err)

    # 3. auto-subscription: the subscriber asked for tag commands only,
    #    and gets its command, the peer message and the tag command
    sub_cmd, _ = steps[3][0]
    assert sub_cmd.startswith('mosquitto_sub ')
    sub = registry.spawn(['/usr/bin/stdbuf', '-oL', '/bin/bash', '-c',
                          'exec ' + sub_cmd], stdout=subprocess.PIPE)
    got = []
    threading.Thread(target=lambda: got.extend(
        l.decode().rstrip('\n') for l in sub.stdout), daemon=True).start()
    # Connected yet? Ask the plugin, with the operator credentials printed
    # in step 5 (the broker's own log goes to a pipe, block-buffered).
    stats = re.sub(r' suspend demo/device1$', ' stats', steps[5][0][0])
    stats = stats.replace(' --config ', ' --json --config ', 1)

    def online():
        rc, out, err = sh(registry, stats)
        assert rc == 0, (stats, out, err)
        return json.loads(out)['connections']['online'] >= 2  # sub + us
    harness.wait_until(online, 15, interval=0.2, what='mosquitto_sub')
    expected = []
    for cmd, _ in steps[3][1:]:
        rc, out, err = sh(registry, cmd)
        assert rc == 0, (cmd, out, err)
        topic = re.search(r' -t (\S+)', cmd).group(1)
        payload = re.search(r' -m (\S+)', cmd).group(1)
        expected.append('%s %s' % (topic, payload))
    assert [t.split('/')[0] for t in expected] == ['cmd', 'm2m', 'tags']
    harness.wait_until(lambda: len(got) >= len(expected), 10,
                       what='the device to receive %r' % expected)
    time.sleep(0.3)
    assert got == expected

    # 4. events: the queues hold them, and the viewer prints them decoded
    (queues, _), (viewer, _) = steps[4]
    rc, out, err = sh(registry, queues)
    assert rc == 0, (queues, out, err)
    counts = dict(re.findall(r'^(iothub_\w+)\s+(\d+)$', out, re.M))
    assert set(counts) == {'iothub_client_connected',
                           'iothub_client_disconnected',
                           'iothub_message_publish'}, out
    assert int(counts['iothub_message_publish']) >= 1, out
    assert int(counts['iothub_client_connected']) >= 1, out
    rc, out, err = sh(registry, viewer, timeout=60)
    assert rc == 0, (viewer, out, err)
    assert 'upload_data/demo/device1/temperature/m1' in out, out
    assert '"client.connected"' in out and '"client_id": "device1"' in out

    # 5. administration: suspend drops the live subscriber, which cannot
    #    come back; resume lets the device in at once; list shows it
    (suspend, _), (resume, _), (listing, _) = steps[5]
    rc, out, err = sh(registry, suspend)
    assert rc == 0, (suspend, out, err)
    assert 'suspended' in out
    harness.wait_until(lambda: sub.poll() is not None, 15,
                       what='mosquitto_sub to be disconnected and give up')
    rc, _, err = sh(registry, good)
    assert rc != 0 and 'not authorised' in err
    rc, out, err = sh(registry, resume)
    assert rc == 0, (resume, out, err)
    rc, out, err = sh(registry, good)
    assert rc == 0, ('the device is not back in after resume', out, err)
    rc, out, err = sh(registry, listing)
    assert rc == 0 and re.search(r'^demo/device1\s+active\s+floor1', out,
                                 re.M), out

    # 6. a JWT client: the minted token admits it
    (jwt_sub, _), (jwt_pub, _) = steps[6]
    rc, out, err = sh(registry, jwt_pub)
    assert rc == 0, (jwt_pub, out, err)

    # 7. HTTP API: the printed curl reaches the (restarted) subscriber
    #    through its auto-subscription; iothubctl kicks it
    (curl, curl_says), (kick, _) = steps[7]
    sub = registry.spawn(['/usr/bin/stdbuf', '-oL', '/bin/bash', '-c',
                          'exec ' + sub_cmd], stdout=subprocess.PIPE)
    got = []
    threading.Thread(target=lambda: got.extend(
        l.decode().rstrip('\n') for l in sub.stdout), daemon=True).start()
    harness.wait_until(online, 15, interval=0.2, what='mosquitto_sub again')
    rc, out, err = sh(registry, curl)
    assert rc == 0 and json.loads(out) == json.loads(curl_says), (curl, out, err)
    harness.wait_until(lambda: got, 10, what='the API command to arrive')
    assert got == ['cmd/demo/device1/reboot/plain/req3 api'], got
    rc, out, err = sh(registry, kick)
    assert rc == 0 and 'kicked' in out, (kick, out, err)
    sub.terminate()

    # Ctrl-C stops everything it started
    mark = demo.mark()
    rc = demo.stop()
    assert rc in (0, 130, 143, -signal.SIGTERM), rc
    assert any('iothub: stopped.' in l for l in demo.lines[mark:]), \
        demo.lines[mark:]
    assert not harness.port_open(demo.mqtt_port)
