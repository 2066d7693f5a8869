# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""pytest fixtures for the mosquitto-iothub integration tests.

Run from the repository root::

    /usr/bin/python3 -m pytest test/integration -q
    /usr/bin/python3 -m pytest test/integration -q -m "not rabbit"

Fixtures (see README.md in this directory for the full API):

* ``mongo``     -- a fresh database on the session's MongoDB stand-in (or on
                   ``MONGO_URI``); ``MongoHandle``.
* ``rabbit``    -- the session's private RabbitMQ node, started on first use
                   and reset before every test that uses it; ``RabbitNode``.
* ``broker``    -- factory: ``broker(options=None, extra_conf='',
                   plugin=True, ...)`` -> started ``Broker``.
* ``mqtt``      -- factory: ``mqtt(broker_or_port, user, pw, ...)`` ->
                   ``MqttClient`` (disconnected at teardown).
* ``sub``       -- factory: ``sub(broker_or_port, topics, ...)`` -> ``Sub``.
* ``registry``, ``workdir``, ``it_session`` -- plumbing.

Every test phase runs under an alarm (default 120 s; ``IOTHUB_TEST_TIMEOUT``
or ``@pytest.mark.timeout(SECONDS)``), so nothing hangs forever.
"""

import faulthandler
import os
import re
import signal
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

DEFAULT_TIMEOUT = float(os.environ.get('IOTHUB_TEST_TIMEOUT', 120))
_failed = []
_session = None


# ----------------------------------------------------------------------
# Session-wide hooks
# ----------------------------------------------------------------------
def pytest_configure(config):
    # SIGTERM would otherwise kill the interpreter without running atexit
    # handlers or fixture finalizers; turn it into an interrupt.
    def on_term(signum, frame):
        raise KeyboardInterrupt('SIGTERM')
    signal.signal(signal.SIGTERM, on_term)


def pytest_collection_modifyitems(config, items):
    # A test that uses the rabbit fixture is a rabbit test, marked or not,
    # so `-m "not rabbit"` reliably avoids starting RabbitMQ.
    for item in items:
        if 'rabbit' in getattr(item, 'fixturenames', ()) or \
                'rabbit_node' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.rabbit)


class TestTimeout(Exception):
    """Raised in the main thread when a test phase exceeds its limit."""


def _timeout_for(item):
    marker = item.get_closest_marker('timeout')
    if marker and marker.args:
        return float(marker.args[0])
    return DEFAULT_TIMEOUT


def _with_alarm(item, phase):
    limit = _timeout_for(item)

    def on_alarm(signum, frame):
        sys.stderr.write('\n*** %s %s exceeded %.0fs; stacks:\n'
                         % (item.nodeid, phase, limit))
        faulthandler.dump_traceback(all_threads=True)
        raise TestTimeout('%s took longer than %.0fs' % (phase, limit))

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    return previous


def _clear_alarm(previous):
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    prev = _with_alarm(item, 'setup')
    try:
        yield
    finally:
        _clear_alarm(prev)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    prev = _with_alarm(item, 'call')
    try:
        yield
    finally:
        _clear_alarm(prev)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    prev = _with_alarm(item, 'teardown')
    try:
        yield
    finally:
        _clear_alarm(prev)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _failed.append(item.nodeid)
        # Put the broker logs next to the failure: that is where the
        # plugin says why it refused or dropped something.
        for i, b in enumerate(getattr(item, '_iothub_brokers', [])):
            text = b.log_text()
            report.sections.append((
                'mosquitto log #%d (port %d, %s)' % (i, b.port, b.dir),
                text[-6000:] if text else '(empty)'))


def pytest_terminal_summary(terminalreporter):
    if _session is not None and _session.base_dir.exists():
        terminalreporter.write_line(
            'integration artefacts kept in %s' % _session.base_dir)


# ----------------------------------------------------------------------
# Plumbing fixtures
# ----------------------------------------------------------------------
@pytest.fixture(scope='session')
def it_session():
    global _session
    _session = harness.Session()
    yield _session
    keep = bool(_failed) or os.environ.get('IOTHUB_KEEP_TMP') == '1'
    _session.close(keep_dir=keep)
    if not keep:
        _session = None


@pytest.fixture(scope='session')
def registry(it_session):
    return it_session.registry


def _safe_name(nodeid, limit=60):
    name = re.sub(r'[^A-Za-z0-9_-]+', '_', nodeid.split('::', 1)[-1])
    return name[:limit].strip('_') or 'test'


@pytest.fixture
def workdir(it_session, request):
    """A directory for this test's files, inside the session directory."""
    d = it_session.base_dir / 'tests' / ('%s-%s' % (
        _safe_name(request.node.nodeid), uuid.uuid4().hex[:6]))
    d.mkdir(parents=True)
    return d


# ----------------------------------------------------------------------
# Services
# ----------------------------------------------------------------------
@pytest.fixture(scope='session')
def mongo_server(it_session):
    return it_session.mongo_server()


@pytest.fixture
def mongo(mongo_server, request):
    """A fresh database (unique name) on the session's MongoDB server."""
    db_name = ('it_%s_%s' % (_safe_name(request.node.name, 40),
                             uuid.uuid4().hex[:8]))[:63]
    handle = harness.MongoHandle(mongo_server, db_name)
    yield handle
    handle.cleanup()


@pytest.fixture(scope='session')
def rabbit_node(it_session):
    return it_session.rabbit_node()


@pytest.fixture
def rabbit(rabbit_node):
    """The private RabbitMQ node, reset (no queues, no alarms, app up)."""
    rabbit_node.reset()
    return rabbit_node


@pytest.fixture
def broker(registry, workdir, request):
    """Factory: ``broker(options=None, extra_conf='', plugin=True,
    persistence=False, start=True, expect_fail=False, port=None,
    allow_anonymous=None)`` -> Broker (stopped at teardown).

    When the test also uses ``mongo`` / ``rabbit``, ``mongo_uri``,
    ``mongo_db`` and ``amqp_uri`` default to those services; give an option
    the value None to leave its line out entirely.
    """
    made = []
    request.node._iothub_brokers = made

    def factory(options=None, extra_conf='', plugin=True, persistence=False,
                start=True, expect_fail=False, port=None,
                allow_anonymous=None):
        opts = {}
        if plugin:
            if 'mongo' in request.fixturenames:
                m = request.getfixturevalue('mongo')
                opts['mongo_uri'] = m.uri
                opts['mongo_db'] = m.db_name
            if 'rabbit' in request.fixturenames:
                opts['amqp_uri'] = request.getfixturevalue('rabbit').amqp_uri
        opts.update(options or {})
        opts = {k: v for k, v in opts.items() if v is not None}
        b = harness.Broker(registry, workdir / ('broker%d' % len(made)),
                           options=opts, extra_conf=extra_conf,
                           plugin=plugin, persistence=persistence, port=port,
                           allow_anonymous=allow_anonymous)
        made.append(b)
        if start:
            b.start(expect_fail=expect_fail)
        return b

    yield factory
    for b in made:
        b.stop()
    if harness.ASAN:
        # Every broker has exited through SIGTERM (plugin cleanup ran and
        # LSan checked for leaks): any report fails this test.
        reports = [r for b in made for r in b.sanitizer_reports()]
        if reports:
            pytest.fail('sanitizer reports from the broker:\n' + '\n'.join(
                '--- %s\n%s' % (path, text[-8000:]) for path, text in reports),
                pytrace=False)


def _port_of(target):
    return target.port if hasattr(target, 'port') else int(target)


@pytest.fixture
def mqtt(request):
    """Factory: ``mqtt(broker_or_port, user=None, pw=None, client_id='',
    clean=True, proto=4, connect=True, **kw)`` -> MqttClient.

    With ``connect=True`` (default) the CONNACK code is in ``.connack``;
    the client is not asserted to be accepted, so refusal tests can use it.
    """
    clients = []

    def factory(target, user=None, pw=None, client_id='', clean=True,
                proto=4, connect=True, **kw):
        c = harness.MqttClient(_port_of(target), user, pw, client_id,
                               clean=clean, proto=proto, **kw)
        clients.append(c)
        if connect:
            c.connect()
        return c

    yield factory
    for c in clients:
        try:
            c.disconnect()
        except Exception:
            pass


@pytest.fixture
def sub(registry, request):
    """Factory: ``sub(broker_or_port, topics, user=None, pw=None, qos=0,
    client_id=None, proto='mqttv311', extra=())`` -> Sub (stopped at
    teardown)."""
    subs = []

    def factory(target, topics, **kw):
        s = harness.Sub(registry, _port_of(target), topics, **kw)
        subs.append(s)
        return s

    yield factory
    for s in subs:
        s.stop()
