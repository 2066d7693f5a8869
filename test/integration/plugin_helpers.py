# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Helpers shared by the plugin's end-to-end tests (test_auth.py,
test_acl.py, test_attacks.py, test_events.py): the platform's own superuser
client (watching topics, sending control commands), MQTT reason codes and
small assertions on mosquitto_pub results, and run_ctl, the one way
every test runs iothubctl."""

import itertools
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import harness

CONTROL_TOPIC = '$CONTROL/iothub/v1'
CONTROL_RESPONSE = '$CONTROL/iothub/v1/response'

# mosquitto_pub exit status and message for a refused CONNECT.
REFUSED = {'mqttv311': (5, 'not authorised'), 'mqttv5': (135, 'Not authorized')}
PROTOS = ('mqttv311', 'mqttv5')

# MQTT 5 reason codes.
RC_NO_SUBSCRIBERS = 0x10
RC_NOT_AUTHORIZED = 0x87
RC_ADMINISTRATIVE_ACTION = 0x98
SUBACK_FAILURE_311 = 0x80
# PUBACK of an accepted publish (MQTT 5 says 0x10 when nobody subscribed).
PUBACK_OK = (0, RC_NO_SUBSCRIBERS)

# Nothing happens behind a test's back: no periodic re-reads of the
# registry, no stats lines in the log.
QUIET = {'revalidate_interval': '0', 'stats_interval': '0'}

# Slack for "answered within X": process start-up of mosquitto_pub, a
# shared 2-core machine, and the sanitizer build.
MARGIN = 3.0 if harness.ASAN else 2.0

_ids = itertools.count(1)


def unique_id(prefix):
    return '%s-%d-%d' % (prefix, next(_ids), time.monotonic_ns() % 1000000)


class Admin:
    """The platform's service client: a superuser device
    (docs/PROTOCOL.md §3) with two MQTT 5 connections, one watching topics
    (``watch``, subscribed to ``#`` unless told otherwise) and one for
    control commands (``ctl``), so that control responses and watched
    messages never mix."""

    def __init__(self, mqtt, broker, device, watch='#'):
        self.device = device
        self.ctl_id = unique_id('admin-ctl')
        self.ctl = mqtt(broker, device.username, device.secret,
                        client_id=self.ctl_id, proto=5)
        assert self.ctl.connack == 0, 'superuser refused: %s' % self.ctl.connack
        self.watch = None
        if watch:
            self.watch = mqtt(broker, device.username, device.secret,
                              client_id=unique_id('admin-watch'), proto=5)
            assert self.watch.connack == 0
            assert self.watch.subscribe(watch, qos=1) == [1]

    def command(self, command, timeout=10, **args):
        corr = unique_id('corr')
        body = dict(args, command=command, correlationData=corr)
        self.ctl.publish(CONTROL_TOPIC, json.dumps({'commands': [body]}), qos=1)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, 'no control response to %s' % command
            msg = self.ctl.wait_for(1, left)[0]
            if msg.topic != CONTROL_RESPONSE:
                continue
            resp = json.loads(msg.payload)['responses'][0]
            if resp.get('correlationData') == corr:
                assert 'error' not in resp, resp
                return resp['data']

    def stats(self):
        """The plugin's counters (the document stats_file holds)."""
        return self.command('getStats')

    def publish(self, topic, payload='x', qos=1):
        return self.ctl.publish(topic, payload, qos=qos)

    def seen(self, topic, within=3.0):
        """True if the watcher receives ``topic`` within ``within`` s;
        messages on other topics are skipped."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                msg = self.watch.wait_for(1, left)[0]
            except AssertionError:
                return False
            if msg.topic == topic:
                return True


def add_admin(mongo):
    return mongo.add_device('platform', 'ops', superuser=True)


def assert_refused(result, proto):
    rc, err = result
    want_rc, want_text = REFUSED[proto]
    assert rc == want_rc and want_text in err, (proto, rc, err)


def assert_accepted(result):
    rc, err = result
    assert rc == 0, (rc, err)


def refusal_regex(client_id, username, reason):
    """The plugin's one-line refusal (auth/auth.c refuse())."""
    return (r'iothub: refused client "%s" \(username "%s"\) from 127\.0\.0\.1: %s'
            % (re.escape(client_id), username, reason))


# ----------------------------------------------------------------------
# iothubctl (IOTHUBCTL: another build, e.g. make asan's)
# ----------------------------------------------------------------------
CTL = Path(os.environ.get('IOTHUBCTL', harness.REPO / 'build' / 'iothubctl'))


class CtlResult:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    @property
    def objects(self):
        """Every stdout line parsed as JSON (each must be one object)."""
        out = []
        for line in self.stdout.splitlines():
            obj = json.loads(line)
            assert isinstance(obj, dict), line
            out.append(obj)
        return out

    @property
    def obj(self):
        objs = self.objects
        assert len(objs) == 1, self.stdout
        return objs[0]

    def __repr__(self):
        return 'CtlResult(rc=%s, stdout=%r, stderr=%r)' % (
            self.rc, self.stdout, self.stderr)


def env_without_mongo_uri(extra=None):
    env = {k: v for k, v in os.environ.items() if k != 'MONGO_URI'}
    env.update(extra or {})
    return env


def run_ctl(registry, args, env=None, timeout=60):
    if not CTL.exists():
        pytest.skip('iothubctl not built: %s (run make)' % CTL)
    start = time.monotonic()
    # registry.run adds its marker to os.environ; pass a full environment.
    proc = subprocess.run([str(CTL)] + [str(a) for a in args],
                          stdin=subprocess.DEVNULL, capture_output=True,
                          env=env if env is not None else env_without_mongo_uri(),
                          timeout=timeout)
    res = subprocess.CompletedProcess(
        proc.args, proc.returncode,
        proc.stdout.decode('utf-8', errors='replace'),
        proc.stderr.decode('utf-8', errors='replace'))
    # Under `make asan` (IOTHUBCTL pointing at the ASan build) any report
    # fails the test, whatever the exit code the test expects.
    assert 'Sanitizer' not in res.stderr, res.stderr
    assert 'runtime error' not in res.stderr, res.stderr
    return CtlResult(res, time.monotonic() - start)
