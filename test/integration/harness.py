# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Process harness for the mosquitto-iothub integration tests.

Starts the real services on private loopback ports -- ``/usr/sbin/mosquitto``
(with or without the plugin), the MongoDB stand-in (or a real server from
``MONGO_URI``) and a private RabbitMQ node -- and gives tests small, blocking
client helpers.  conftest.py turns these classes into pytest fixtures; they
are usable on their own too (see test_harness_smoke.py).

Process hygiene: every process is started in its own session / process
group and tracked by a ``ProcessRegistry``.  Teardown stops them (SIGTERM,
then SIGKILL); an atexit hook repeats that for anything left.  Because
pytest itself can be SIGKILLed, a small reaper process also watches a pipe
from this process: when the pipe closes for any reason, it kills every
process carrying this session's marker environment variable (children
inherit it, so this also catches epmd and beam's helpers).
"""

import atexit
import collections
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = '/usr/bin/python3'
MOSQUITTO = '/usr/sbin/mosquitto'
MOSQUITTO_PUB = '/usr/bin/mosquitto_pub'
MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'
MONGO_STANDIN = REPO / 'tools' / 'mongo_standin.py'
RABBITMQ_NODE = REPO / 'tools' / 'rabbitmq_node.sh'
PLUGIN = Path(os.environ.get('IOTHUB_PLUGIN',
                             REPO / 'build' / 'mosquitto_iothub.so'))

# Marker put in the environment of every process the harness starts.
SESSION_ENV = 'IOTHUB_IT_SESSION'

# `make asan`: the plugin is built with -fsanitize=address,undefined; the
# broker is not, so the sanitizer runtimes are preloaded into it.
ASAN = os.environ.get('IOTHUB_ASAN', '') not in ('', '0')
LSAN_SUPPRESSIONS = Path(__file__).resolve().parent / 'lsan.supp'

# Ports a system service may own; never hand them out.  35672-35682 is
# rabbitmqctl's own distribution range; 20000-32700 is where
# tools/rabbitmq_node.sh picks its distribution and epmd ports; the kernel's
# ephemeral range starts at 32768.  So test ports come from 10000-19999.
PORT_RANGE = (10000, 20000)
RESERVED_PORTS = {1883, 4369, 5672, 8883, 15672, 25672, 27017}


def wait_until(predicate, timeout, interval=0.02, what='condition'):
    """Poll ``predicate`` until it returns a truthy value; return it.

    Raises AssertionError naming ``what`` on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError('timed out after %.1fs waiting for %s'
                                 % (timeout, what))
        time.sleep(interval)


# ----------------------------------------------------------------------
# Ports
# ----------------------------------------------------------------------
_ports_lock = threading.Lock()
_ports_given = set()


def free_port():
    """A loopback TCP port that is free now and not handed out before."""
    import random
    with _ports_lock:
        for _ in range(1000):
            port = random.randrange(*PORT_RANGE)
            if port in RESERVED_PORTS or port in _ports_given:
                continue
            with socket.socket() as s:
                try:
                    s.bind(('127.0.0.1', port))
                except OSError:
                    continue
            _ports_given.add(port)
            return port
    raise RuntimeError('no free port in %s' % (PORT_RANGE,))


def port_open(port, host='127.0.0.1'):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


# ----------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------
_REAPER_CODE = r'''
import os, signal, sys, time
marker = sys.argv[1].encode()
sys.stdin.buffer.read()            # returns when the parent goes away
def victims():
    me = os.getpid()
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open('/proc/%s/environ' % pid, 'rb') as fh:
                if marker in fh.read().split(b'\0'):
                    yield int(pid)
        except OSError:
            pass
for sig in (signal.SIGTERM, signal.SIGKILL):
    pids = list(victims())
    if not pids:
        break
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    time.sleep(1.0)
'''


class ProcessRegistry:
    """Tracks every child process and cleanup action of a test session."""

    def __init__(self, base_dir):
        self.base_dir = Path(base_dir)
        self.session_id = uuid.uuid4().hex[:12]
        self.marker = '%s=%s' % (SESSION_ENV, self.session_id)
        self.procs = []
        self.cleanups = []          # callables run before killing processes
        self.lock = threading.Lock()
        # The reaper must not carry the marker itself.
        env = {k: v for k, v in os.environ.items() if k != SESSION_ENV}
        self.reaper = subprocess.Popen(
            [PYTHON, '-c', _REAPER_CODE, self.marker],
            stdin=subprocess.PIPE, env=env, start_new_session=True)
        atexit.register(self.shutdown)

    def env(self, extra=None):
        env = dict(os.environ)
        env[SESSION_ENV] = self.session_id
        if extra:
            env.update(extra)
        return env

    def spawn(self, args, log_path=None, env=None, stdin=subprocess.DEVNULL,
              stdout=None, **kw):
        """Start ``args`` in its own session and track it.

        Output: with ``stdout=None``, stdout and stderr go to ``log_path``
        (or nowhere).  With ``stdout=subprocess.PIPE``, stderr goes to
        ``log_path`` if given, else to a pipe (``proc.stderr``).
        """
        log = open(log_path, 'ab') if log_path else None
        if stdout is None:
            out, err = (log or subprocess.DEVNULL), subprocess.STDOUT
        else:
            out, err = stdout, (log or subprocess.PIPE)
        try:
            proc = subprocess.Popen(
                [str(a) for a in args], stdin=stdin, stdout=out, stderr=err,
                env=self.env(env), start_new_session=True, **kw)
        finally:
            if log:
                log.close()
        with self.lock:
            self.procs.append(proc)
        return proc

    def run(self, args, timeout=60, env=None, check=False, **kw):
        """Run a short command to completion (marked, killed on timeout)."""
        proc = subprocess.Popen(
            [str(a) for a in args], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self.env(env), start_new_session=True, **kw)
        with self.lock:
            self.procs.append(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc, 0)
            out, err = proc.communicate()
            raise AssertionError('%s timed out after %ss\n%s' % (
                ' '.join(map(str, args)), timeout, err.decode(errors='replace')))
        finally:
            self.forget(proc)
        result = subprocess.CompletedProcess(
            args, proc.returncode, out.decode(errors='replace'),
            err.decode(errors='replace'))
        if check and proc.returncode != 0:
            raise AssertionError('%s failed (%d):\n%s%s' % (
                ' '.join(map(str, args)), proc.returncode, result.stdout,
                result.stderr))
        return result

    def forget(self, proc):
        with self.lock:
            if proc in self.procs:
                self.procs.remove(proc)

    def add_cleanup(self, fn):
        with self.lock:
            self.cleanups.append(fn)

    def remove_cleanup(self, fn):
        with self.lock:
            if fn in self.cleanups:
                self.cleanups.remove(fn)

    def live(self):
        with self.lock:
            return [p for p in self.procs if p.poll() is None]

    def shutdown(self):
        """Run cleanups, then stop every tracked process.  Idempotent."""
        with self.lock:
            cleanups, self.cleanups = self.cleanups[::-1], []
            procs, self.procs = self.procs[::-1], []
        for fn in cleanups:
            try:
                fn()
            except Exception as exc:       # keep going: kill the rest
                sys.stderr.write('harness cleanup %r failed: %s\n' % (fn, exc))
        for proc in procs:
            stop_process(proc, 5)
        if self.reaper.poll() is None:
            # Closing the pipe lets the reaper sweep stragglers; nothing
            # should be left, so it exits at once.
            self.reaper.stdin.close()
            try:
                self.reaper.wait(10)
            except subprocess.TimeoutExpired:
                self.reaper.kill()

    def marked_pids(self):
        """PIDs of live processes carrying this session's marker."""
        marker = self.marker.encode()
        pids = []
        for pid in os.listdir('/proc'):
            if not pid.isdigit():
                continue
            try:
                with open('/proc/%s/environ' % pid, 'rb') as fh:
                    if marker in fh.read().split(b'\0'):
                        pids.append(int(pid))
            except OSError:
                pass
        return pids


def stop_process(proc, timeout=5.0, sig=signal.SIGTERM):
    """Signal the process group; SIGKILL it after ``timeout``.  Returns rc."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Whatever is left in the group (helpers, a wrapper's children) goes.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.wait(5)
    except subprocess.TimeoutExpired:
        return None


def terminate(proc, timeout):
    """SIGTERM the process alone (a broker, a demo script) and give it
    ``timeout`` seconds to shut down as it would on Ctrl-C; then reap the
    whole group.  Returns (exited by itself, exit status)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    exited = proc.poll() is not None
    return exited, stop_process(proc, 0)


# ----------------------------------------------------------------------
# Sanitizers (IOTHUB_ASAN)
# ----------------------------------------------------------------------
_san_libs = None


def _sanitizer_libs():
    """gcc's libasan and libubsan, libasan first (it must come first)."""
    global _san_libs
    if _san_libs is None:
        libs = []
        for name in ('libasan.so', 'libubsan.so'):
            path = subprocess.run(['gcc', '-print-file-name=' + name],
                                  capture_output=True, text=True,
                                  check=True).stdout.strip()
            if not os.path.isabs(path) or not os.path.exists(path):
                raise RuntimeError('IOTHUB_ASAN: gcc has no %s' % name)
            libs.append(os.path.realpath(path))
        _san_libs = libs
    return _san_libs


def sanitizer_env(report_dir, plugin=None):
    """Environment that runs an uninstrumented program (mosquitto) with the
    ASan/UBSan runtimes, for a plugin built with the sanitizers.

    Reports go to files ``asan.PID`` / ``ubsan.PID`` in ``report_dir``, not
    to stderr: they survive the process, and ``sanitizer_reports()`` finds
    them after the test whatever happened to the broker's output (its exit
    status does not tell: it stays 0 after a leak report).  Leaks are
    checked at exit, so the broker must end with SIGTERM (a SIGKILL skips
    the check).  A memory error or undefined behaviour stops the broker
    (the plugin is not built with -fsanitize-recover).

    ``plugin`` is preloaded as well: mosquitto dlclose()s its plugins
    before exit, and a leak allocated in an unmapped library is reported
    as ``<unknown module>``, which neither a reader nor a suppression can
    match.  Preloaded, it stays mapped and the stacks have names.
    """
    report_dir = Path(report_dir)
    # fast_unwind_on_malloc=0: mosquitto is built without frame pointers,
    # so the fast unwinder stops in mosquitto__malloc, which is also what
    # the plugin's mosquitto_malloc() goes through; only the slow (DWARF)
    # unwinder shows whose allocation leaked.
    asan = ['detect_leaks=1', 'leak_check_at_exit=1', 'abort_on_error=0',
            'halt_on_error=0', 'fast_unwind_on_malloc=0',
            'malloc_context_size=40', 'log_path=%s' % (report_dir / 'asan')]
    lsan = ['print_suppressions=0']
    if LSAN_SUPPRESSIONS.exists():
        lsan.append('suppressions=%s' % LSAN_SUPPRESSIONS)
    ubsan = ['print_stacktrace=1', 'halt_on_error=0',
             'log_path=%s' % (report_dir / 'ubsan')]
    preload = _sanitizer_libs() + ([str(plugin)] if plugin else [])
    return {'LD_PRELOAD': ':'.join(preload),
            'ASAN_OPTIONS': ':'.join(asan),
            'LSAN_OPTIONS': ':'.join(lsan),
            'UBSAN_OPTIONS': ':'.join(ubsan)}


def sanitizer_reports(report_dir):
    """[(path, text)] of the sanitizer reports written in ``report_dir``."""
    found = []
    for path in sorted(Path(report_dir).glob('*san.*')):
        if path.name.split('.', 1)[0] in ('asan', 'ubsan') and path.is_file():
            found.append((path, path.read_text(errors='replace')))
    return found


# ----------------------------------------------------------------------
# MongoDB
# ----------------------------------------------------------------------
class MongoServer:
    """The stand-in process (or a real server when ``uri`` is given).

    The stand-in persists to a file in its directory, so ``kill()`` +
    ``restart()`` behaves like a real mongod crash and restart: the data
    written before the kill is still there.
    """

    def __init__(self, registry, workdir, uri=None):
        self.registry = registry
        self.workdir = Path(workdir)
        self.external = uri is not None
        self.proc = None
        self.port = None
        self._client = None
        if self.external:
            self.uri = uri
        else:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.port = free_port()
            self.uri = 'mongodb://127.0.0.1:%d' % self.port
            self.start()

    @property
    def client(self):
        """A shared pymongo client (reconnects by itself after restarts)."""
        if self._client is None:
            import pymongo
            self._client = pymongo.MongoClient(
                self.uri, serverSelectionTimeoutMS=5000,
                connectTimeoutMS=2000, socketTimeoutMS=10000)
        return self._client

    def _require_standin(self, what):
        if self.external:
            import pytest
            pytest.skip('%s needs the stand-in (MONGO_URI is set)' % what)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=15):
        self._require_standin('start')
        if self.running:
            return
        log = self.workdir / 'standin.log'
        self.proc = self.registry.spawn(
            [PYTHON, MONGO_STANDIN, '--port', self.port,
             '--data', self.workdir / 'data.json',
             '--pidfile', self.workdir / 'standin.pid'], log_path=log)
        wait_until(lambda: port_open(self.port) or self.proc.poll() is not None,
                   timeout, what='mongo stand-in on port %d' % self.port)
        if self.proc.poll() is not None:
            raise RuntimeError('mongo stand-in failed to start:\n'
                               + log.read_text(errors='replace')[-3000:])
        if self._client is not None:
            # Pooled sockets to the previous process are dead; reads are
            # retried, but a write on one fails (a standalone server has
            # no retryable writes).  close() empties the pool; the client
            # reopens on next use.
            self._client.close()

    def stop(self):
        """SIGTERM; returns the exit status."""
        self._require_standin('stop')
        if self.proc is None:
            return None
        rc = stop_process(self.proc, 10)
        self.registry.forget(self.proc)
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL, as in a crash; the port is closed when this returns."""
        self._require_standin('kill')
        if self.proc is None:
            return
        stop_process(self.proc, 0, sig=signal.SIGKILL)
        self.registry.forget(self.proc)
        self.proc = None

    def restart(self):
        """Start again on the same port (after kill() or stop(), or now)."""
        self._require_standin('restart')
        if self.running:
            self.stop()
        self.start()

    def set_delay(self, ms, only=None):
        """Delay replies by ``ms`` (only to the commands listed in ``only``)."""
        self._require_standin('set_delay')
        cmd = {'standinSetDelay': int(ms)}
        if only:
            cmd['only'] = list(only)
        from bson.son import SON
        return self.client.admin.command(SON(cmd))

    def reset_faults(self):
        """Running, no delay, no failpoint.  A restart is the fallback:
        with a long delay on every command even our own hello times out,
        and both settings live only in the stand-in's memory."""
        if not self.running:
            self.start()
            return
        try:
            from bson.son import SON
            admin = self.client.admin
            admin.command(SON([('standinSetDelay', 0)]))
            admin.command(SON([('configureFailPoint', 'failCommand'),
                               ('mode', 'off')]))
        except Exception:
            self.restart()

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        if not self.external and self.proc is not None:
            self.stop()


def mosquitto_passwd_hash(password, workdir=None, algorithm=None):
    """The hash that ``mosquitto_passwd`` writes: ``$7$`` PBKDF2-SHA512 by
    default, ``algorithm='sha512'`` for the old ``$6$`` salted SHA-512."""
    d = tempfile.mkdtemp(dir=workdir)
    try:
        path = os.path.join(d, 'pw')
        algo = ['-H', algorithm] if algorithm else []
        subprocess.run(['/usr/bin/mosquitto_passwd'] + algo +
                       ['-c', '-b', path, 'u', password],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(path) as fh:
            return fh.read().strip().split(':', 1)[1]
    finally:
        shutil.rmtree(d, ignore_errors=True)


Device = collections.namedtuple(
    'Device', 'product device username secret doc acl_doc')


class MongoHandle:
    """A test's view of the registry server: one fresh database."""

    def __init__(self, server, db_name):
        self.server = server
        self.db_name = db_name
        self.uri = server.uri

    @property
    def client(self):
        return self.server.client

    @property
    def db(self):
        return self.server.client[self.db_name]

    def kill(self):
        self.server.kill()

    def restart(self):
        self.server.restart()

    def stop(self):
        return self.server.stop()

    def start(self):
        self.server.start()

    def set_delay(self, ms, only=None):
        return self.server.set_delay(ms, only)

    def add_device(self, product, device, secret=None, status='active',
                   tags=(), superuser=False, password_hash=None, acl=None,
                   acl_inline=False, store_secret=True, extra=None):
        """Register a device the way the IotHub server does
        (docs/PROTOCOL.md §3).

        ``secret`` defaults to a random one.  ``password_hash`` is stored as
        given, or pass ``True`` to store the mosquitto_passwd hash of the
        secret.  ``store_secret=False`` leaves out the clear ``secret``.
        ``superuser`` is written only when true (it is an optional
        extension).  ``acl`` is a dict with any of ``publish``,
        ``subscribe``, ``pubsub`` (and deny lists, under whatever names the
        plugin defines); it goes to ``device_acl`` unless ``acl_inline``,
        which merges it into the device document.  ``extra`` fields are
        merged into the device document last.
        """
        username = '%s/%s' % (product, device)
        if secret is None:
            secret = uuid.uuid4().hex
        doc = {'product_name': product, 'device_name': device,
               'broker_username': username, 'status': status,
               'tags': list(tags), 'tags_version': 1}
        if store_secret:
            doc['secret'] = secret
        if password_hash is True:
            password_hash = mosquitto_passwd_hash(secret)
        if password_hash:
            doc['password_hash'] = password_hash
        if superuser:
            doc['superuser'] = True
        acl_doc = None
        if acl is not None and acl_inline:
            doc.update(acl)
        if extra:
            doc.update(extra)
        self.db.devices.insert_one(doc)
        if acl is not None and not acl_inline:
            acl_doc = dict(acl, broker_username=username)
            self.db.device_acl.insert_one(acl_doc)
        return Device(product, device, username, secret, doc, acl_doc)

    def device(self, username):
        return self.db.devices.find_one({'broker_username': username})

    def set_status(self, username, status):
        return self.db.devices.update_one({'broker_username': username},
                                          {'$set': {'status': status}})

    def cleanup(self):
        """Undo what a test may have done to the shared server."""
        if not self.server.external:
            self.server.reset_faults()
        self.client.drop_database(self.db_name)


# ----------------------------------------------------------------------
# RabbitMQ
# ----------------------------------------------------------------------
RabbitMessage = collections.namedtuple(
    'RabbitMessage', 'body properties routing_key exchange redelivered')

IOTHUB_EXCHANGE = 'mqtt.events'
IOTHUB_QUEUES = {
    'iothub_client_connected': 'client.connected',
    'iothub_client_disconnected': 'client.disconnected',
    'iothub_message_publish': 'message.publish',
}


class RabbitNode:
    """A private RabbitMQ node managed by tools/rabbitmq_node.sh."""

    def __init__(self, registry, workdir, port=None):
        self.registry = registry
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.amqp_uri = 'amqp://guest:guest@127.0.0.1:%d/' % self.port
        self.started = False
        self._dirty = set()
        self._known_queues = set()
        self.registry.add_cleanup(self._teardown)

    def _script(self, *args, timeout=120, check=True):
        return self.registry.run([RABBITMQ_NODE] + [str(a) for a in args],
                                 timeout=timeout, check=check)

    def start(self):
        """Start (or restart) the node on the same dir and port; blocks."""
        self._script('start', self.dir, self.port)
        self.started = True

    def stop(self):
        """Clean shutdown (durable queues / persistent messages survive)."""
        self._script('stop', self.dir)
        self.started = False

    def kill(self):
        """SIGKILL the node, as in a crash."""
        self._script('kill', self.dir)
        self.started = False

    def running(self):
        return self._script('status', self.dir, check=False).returncode == 0

    def ctl(self, *args, timeout=60, check=True):
        """``rabbitmqctl -n NODE args`` against this node; returns stdout."""
        if args and args[0] in ('stop_app', 'set_vm_memory_high_watermark',
                                'set_disk_free_limit'):
            self._dirty.add(args[0])    # reset() undoes these
        return self._script('ctl', self.dir, *args, timeout=timeout,
                            check=check).stdout

    def _teardown(self):
        if self.dir.joinpath('node.env').exists():
            self._script('stop', self.dir, check=False)

    # -- AMQP helpers --------------------------------------------------
    def connection(self, **params):
        import pika
        p = pika.URLParameters(self.amqp_uri)
        p.socket_timeout = params.pop('socket_timeout', 5)
        p.blocked_connection_timeout = params.pop('blocked_connection_timeout',
                                                  10)
        for k, v in params.items():
            setattr(p, k, v)
        return pika.BlockingConnection(p)

    def declare_iothub(self, exchange=IOTHUB_EXCHANGE, queues=None):
        """Declare the exchange and bound queues the IotHub consumer uses."""
        queues = IOTHUB_QUEUES if queues is None else queues
        with self.connection() as conn:
            ch = conn.channel()
            ch.exchange_declare(exchange, 'direct', durable=True)
            for q, key in queues.items():
                self._known_queues.add(q)
                ch.queue_declare(q, durable=True)
                ch.queue_bind(q, exchange, key)

    def list_queues(self):
        """{name: message count} of the default vhost."""
        out = self.ctl('list_queues', 'name', 'messages', '--quiet',
                       '--no-table-headers')
        result = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                result[parts[0]] = int(parts[1])
        self._known_queues |= set(result)
        return result

    def reset(self, full=False):
        """Fresh state for the next test: node up, no alarms, no queues
        (``full=True`` also finds queues unknown to the harness)."""
        dirty, self._dirty = self._dirty, set()
        if not self.started:
            self.start()            # stopped or killed by the last test
        elif 'stop_app' in dirty:
            self.ctl('start_app')
        elif not port_open(self.port):
            self.start()            # the script is a no-op if it is up
        if 'set_vm_memory_high_watermark' in dirty:
            self.ctl('set_vm_memory_high_watermark', '0.4')
        if 'set_disk_free_limit' in dirty:
            self.ctl('set_disk_free_limit', '1MB')
        self._dirty.clear()
        # rabbitmqctl costs ~1.5 s per call, so by default delete the queues
        # this harness has seen (declared, listed or consumed from) over
        # AMQP; RabbitMQ answers delete-ok for queues that do not exist.
        names = set(IOTHUB_QUEUES) | self._known_queues
        if full:
            names |= set(self.list_queues())
        with self.connection() as conn:
            ch = conn.channel()
            for name in sorted(names):
                ch.queue_delete(name)
            ch.exchange_delete(IOTHUB_EXCHANGE)
        self._known_queues = set()

    def consume_all(self, queue_name, timeout=5.0, count=None, idle=0.5,
                    ack=True):
        """Collect messages from ``queue_name``.

        Returns as soon as ``count`` messages arrived; without ``count``,
        once the queue has been empty for ``idle`` seconds.  Never waits
        longer than ``timeout``.  Messages are acked unless ``ack=False``
        (then they are requeued when the connection closes).
        """
        import pika.exceptions
        self._known_queues.add(queue_name)
        got = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        with self.connection() as conn:
            ch = conn.channel()
            while time.monotonic() < deadline:
                if count is not None and len(got) >= count:
                    break
                try:
                    method, props, body = ch.basic_get(queue_name,
                                                       auto_ack=False)
                except pika.exceptions.ChannelClosedByBroker as exc:
                    if exc.reply_code != 404:
                        raise
                    # Not declared yet (e.g. the plugin declares it when
                    # it connects): same as empty, on a fresh channel.
                    ch = conn.channel()
                    method = None
                if method is None:
                    if count is None and time.monotonic() - last >= idle:
                        break
                    conn.sleep(0.02)
                    continue
                last = time.monotonic()
                got.append(RabbitMessage(body, props, method.routing_key,
                                         method.exchange, method.redelivered))
                if ack:
                    ch.basic_ack(method.delivery_tag)
        return got


def decode_event(msg, content_type=None):
    """Decode an event body by its AMQP content type, BSON or JSON.

    Without one, a body whose little-endian length prefix matches its size
    is BSON. (Looking at the first byte alone is wrong: a 347-byte BSON
    document starts with 0x5b, '['.)
    """
    body = msg.body if isinstance(msg, RabbitMessage) else msg
    if content_type is None and isinstance(msg, RabbitMessage) and msg.properties is not None:
        content_type = msg.properties.content_type
    if content_type is None:
        is_bson = (len(body) >= 5 and body[-1:] == b'\0'
                   and int.from_bytes(body[:4], 'little') == len(body))
        content_type = 'application/bson' if is_bson else 'application/json'
    if content_type == 'application/json':
        import json
        return json.loads(body)
    import bson
    return bson.decode(body)


# ----------------------------------------------------------------------
# Mosquitto
# ----------------------------------------------------------------------
class Broker:
    """One mosquitto process with a generated config.

    ``options`` become ``plugin_opt_NAME VALUE`` lines (a list value gives
    one line per element, for repeatable options such as ``autosub``).
    """

    def __init__(self, registry, workdir, options=None, extra_conf='',
                 plugin=True, persistence=False, port=None,
                 plugin_path=None, allow_anonymous=None):
        self.registry = registry
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.options = dict(options or {})
        self.plugin = plugin
        self.plugin_path = Path(plugin_path or PLUGIN)
        self.persistence = persistence
        # Anonymous access is off whenever our plugin decides who gets in.
        self.allow_anonymous = (not plugin) if allow_anonymous is None \
            else allow_anonymous
        self.conf_path = self.dir / 'mosquitto.conf'
        self.log_path = self.dir / 'mosquitto.log'
        self.out_path = self.dir / 'stdout.log'
        self.proc = None
        self.exit_code = None
        self.start_failed = False
        self.write_conf(extra_conf)

    def write_conf(self, extra_conf=''):
        lines = [
            '# generated by test/integration/harness.py',
            'per_listener_settings false',
            'listener %d 127.0.0.1' % self.port,
            'allow_anonymous %s' % ('true' if self.allow_anonymous
                                    else 'false'),
            'persistence %s' % ('true' if self.persistence else 'false'),
            'persistence_location %s/' % self.dir,
            'log_dest file %s' % self.log_path,
            'log_type all',
            'log_timestamp_format %Y-%m-%dT%H:%M:%S',
            'connection_messages true',
        ]
        if os.geteuid() == 0:
            lines.append('user root')
        if self.plugin:
            lines.append('plugin %s' % self.plugin_path)
            for name, value in self.options.items():
                values = value if isinstance(value, (list, tuple)) else [value]
                for v in values:
                    if isinstance(v, bool):
                        v = 'true' if v else 'false'
                    lines.append('plugin_opt_%s %s' % (name, v))
        if extra_conf:
            lines.append(extra_conf.strip())
        self.conf_path.write_text('\n'.join(lines) + '\n')

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=15, expect_fail=False):
        """Start and wait until the listener accepts connections.

        If mosquitto exits instead, ``start_failed`` and ``exit_code`` are
        set; that raises unless ``expect_fail``.
        """
        if self.running:
            return self
        if self.plugin and not self.plugin_path.exists():
            import pytest
            pytest.skip('plugin not built: %s (run make)' % self.plugin_path)
        wrapper = os.environ.get('IOTHUB_BROKER_WRAPPER', '').split()
        if wrapper:
            timeout *= 10       # valgrind and friends are slow to start
        env = sanitizer_env(self.dir, self.plugin_path) \
            if ASAN and self.plugin else None
        self.start_failed = False
        self.exit_code = None
        # cwd: relative paths the plugin defaults to (the event spool)
        # land in this broker's directory, not in the repository.
        self.proc = self.registry.spawn(
            wrapper + [MOSQUITTO, '-c', self.conf_path],
            log_path=self.out_path, cwd=self.dir, env=env)
        wait_until(lambda: port_open(self.port) or self.proc.poll() is not None,
                   timeout, what='mosquitto on port %d' % self.port)
        if self.proc.poll() is not None:
            self.start_failed = True
            self.exit_code = self.proc.returncode
            self.registry.forget(self.proc)
            if not expect_fail:
                raise RuntimeError('mosquitto exited with %s at startup:\n%s'
                                   % (self.exit_code, self.log_text()[-4000:]))
        elif expect_fail:
            raise AssertionError('mosquitto started although a failure was '
                                 'expected:\n' + self.log_text()[-4000:])
        return self

    def stop(self, timeout=10):
        """SIGTERM and wait; True if mosquitto exited cleanly (status 0)."""
        if ASAN:
            timeout *= 3        # the exit-time leak check takes a while
        if self.proc is None:
            return self.exit_code == 0
        clean, rc = terminate(self.proc, timeout)
        self.exit_code = rc
        self.registry.forget(self.proc)
        self.proc = None
        return clean and rc == 0

    def kill(self):
        if self.proc is not None:
            self.exit_code = stop_process(self.proc, 0, sig=signal.SIGKILL)
            self.registry.forget(self.proc)
            self.proc = None

    def restart(self, timeout=15):
        self.stop()
        return self.start(timeout)

    def log_text(self):
        """The broker log, followed by anything printed to stdout/stderr."""
        text = ''
        for path in (self.log_path, self.out_path):
            if path.exists():
                text += path.read_text(errors='replace')
        return text

    def log_mark(self):
        """Position to pass as ``since=`` to only see later log lines."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def wait_log(self, regex, timeout=10, since=0):
        """Wait until the log (from byte ``since``) matches; return match."""
        pattern = re.compile(regex, re.M)

        def probe():
            text = self.log_text()[since:]
            return pattern.search(text)
        try:
            return wait_until(probe, timeout, interval=0.05,
                              what='log line %r' % regex)
        except AssertionError as exc:
            raise AssertionError('%s\n--- log tail ---\n%s' % (
                exc, self.log_text()[-3000:])) from None

    def sanitizer_reports(self):
        """[(path, text)] of ASan/UBSan reports (IOTHUB_ASAN) so far."""
        return sanitizer_reports(self.dir)

    def assert_no_log(self, regex, since=0):
        text = self.log_text()[since:]
        m = re.search(regex, text, re.M)
        assert m is None, 'unexpected log line: %r' % m.group(0)


# ----------------------------------------------------------------------
# MQTT clients
# ----------------------------------------------------------------------
def _client_args(port, user, pw, client_id, proto, qos):
    args = ['-h', '127.0.0.1', '-p', str(port), '-V', proto, '-q', str(qos)]
    if user is not None:
        args += ['-u', user]
    if pw is not None:
        args += ['-P', pw]
    if client_id is not None:
        args += ['-i', client_id]
    return args


def pub(port, topic, msg, user=None, pw=None, qos=0, client_id=None,
        proto='mqttv311', extra=(), timeout=10, registry=None):
    """One ``mosquitto_pub``; returns (returncode, stderr).

    A refused CONNECT gives, for mqttv311, rc 5 and "Connection error:
    Connection Refused: not authorised."; for mqttv5, rc 135 (the reason
    code) and "Connection error: Not authorized".
    """
    args = [MOSQUITTO_PUB] + _client_args(port, user, pw, client_id, proto,
                                          qos)
    args += ['-t', topic, '-m', msg] + list(extra)
    if registry is not None:
        res = registry.run(args, timeout=timeout)
        return res.returncode, res.stderr
    res = subprocess.run(args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=timeout)
    return res.returncode, res.stderr.decode(errors='replace')


class Sub:
    """A background ``mosquitto_sub -v -d`` collecting messages.

    ``-d`` lets us see SUBACK, so ``wait_subscribed()`` can tell when it is
    safe to publish; debug lines are kept apart from the messages.
    """

    _DEBUG = re.compile(r'^(Client \S+ (sending|received) |Subscribed \(mid)')

    def __init__(self, registry, port, topics, user=None, pw=None, qos=0,
                 client_id=None, proto='mqttv311', extra=()):
        if isinstance(topics, str):
            topics = [topics]
        # stdbuf: stdout is a pipe, and mosquitto_sub's stdio would hold
        # the SUBACK and message lines back in a 4 KiB buffer.
        args = ['/usr/bin/stdbuf', '-oL', MOSQUITTO_SUB, '-v', '-d'] + _client_args(
            port, user, pw, client_id, proto, qos)
        for t in topics:
            args += ['-t', t]
        args += list(extra)
        self.registry = registry
        self.lines = []             # "topic payload" lines
        self.debug = []
        self.granted = None         # QoS list from "Subscribed (mid: 1): 0, 1"
        self._cond = threading.Condition()
        self.proc = registry.spawn(args, stdout=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors='replace').rstrip('\n')
            with self._cond:
                if self._DEBUG.match(line):
                    self.debug.append(line)
                    m = re.match(r'Subscribed \(mid: \d+\): (.*)', line)
                    if m:
                        self.granted = [int(x) for x in m.group(1).split(',')]
                else:
                    self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_subscribed(self, timeout=10):
        """Wait for SUBACK; returns the granted QoS list (128 = refused)."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self.granted is not None or self.proc.poll() is not None,
                timeout)
        if self.granted is None:
            raise AssertionError('no SUBACK (rc=%s) debug=%s stderr=%s' % (
                self.proc.poll(), self.debug, self.stderr() if ok else ''))
        return self.granted

    def wait_for(self, n, timeout=10):
        """Wait until ``n`` message lines arrived; returns all lines so far."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.lines) >= n
                                or self.proc.poll() is not None, timeout)
            if len(self.lines) < n:
                raise AssertionError('expected %d messages, got %r' % (
                    n, self.lines))
            return list(self.lines)

    def stderr(self):
        return self.proc.stderr.read().decode(errors='replace') \
            if self.proc.poll() is not None else ''

    def stop(self):
        """Stop the subscriber; returns (returncode, stderr)."""
        rc = stop_process(self.proc, 3)
        self.registry.forget(self.proc)
        self._reader.join(2)
        return rc, self.proc.stderr.read().decode(errors='replace')


Message = collections.namedtuple('Message',
                                 'topic payload qos retain properties')


def _paho():
    import paho.mqtt.client as mqtt
    return mqtt


class MqttClient:
    """A synchronous wrapper around paho-mqtt 1.6.1.

    Runs paho's loop on a private thread with no automatic reconnect, so a
    broker-side disconnect (kick, auth revoked) stays visible to the test.
    Also captures the things paho 1.6.1 drops: the PUBACK reason code and
    the reason code of a server DISCONNECT (MQTT 5).
    """

    def __init__(self, port, user=None, pw=None, client_id='', clean=True,
                 proto=4, keepalive=30, session_expiry=None, will=None,
                 auth_method=None):
        mqtt = _paho()
        self.port = port
        self.proto = proto
        self.clean = clean
        self.keepalive = keepalive
        self.session_expiry = session_expiry
        self.auth_method = auth_method      # MQTT 5 enhanced authentication
        self.messages = queue.Queue()
        self._received = []             # paho thread only
        self._disconnect_requested = False
        self.connack = None             # CONNACK rc / reason code (int)
        self.connack_flags = None
        self.disconnect_rc = None
        self.server_disconnect_reason = None
        self._connected = threading.Event()
        self._connack_event = threading.Event()
        self._disconnected = threading.Event()
        self._cond = threading.Condition()
        self._subacks = {}
        self._unsubacks = set()
        self._pubacks = {}
        self._thread = None
        self._stop = False

        protocol = mqtt.MQTTv5 if proto == 5 else (
            mqtt.MQTTv31 if proto == 3 else mqtt.MQTTv311)
        kwargs = {'client_id': client_id or '', 'protocol': protocol}
        if proto != 5:
            kwargs['clean_session'] = clean
        owner = self

        class _Client(mqtt.Client):
            # paho 1.6.1 parses but discards these reason codes.
            def _handle_pubackcomp(self, cmd):
                packet = self._in_packet['packet']
                mid = int.from_bytes(packet[:2], 'big')
                reason = packet[2] if len(packet) > 2 else 0
                with owner._cond:
                    owner._pubacks[mid] = reason
                    owner._cond.notify_all()
                return super()._handle_pubackcomp(cmd)

            def _handle_disconnect(self):
                packet = self._in_packet['packet']
                owner.server_disconnect_reason = packet[0] if packet else 0
                return super()._handle_disconnect()

        self.client = _Client(**kwargs)
        if user is not None:
            self.client.username_pw_set(user, pw)
        if will:
            self.client.will_set(*will)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe

    # -- callbacks (paho thread) ----------------------------------------
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack = rc.value if hasattr(rc, 'value') else int(rc)
        self.connack_flags = flags
        if self.connack == 0:
            self._connected.set()
        self._connack_event.set()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnect_rc = rc.value if hasattr(rc, 'value') else rc
        self._connected.clear()
        self._disconnected.set()

    def _on_message(self, client, userdata, msg):
        # Held until the loop() call returns: paho sends the PUBACK after
        # this callback, and a test that disconnects as soon as it sees the
        # message would otherwise leave it unacknowledged (and the broker
        # rightly redelivers it to the next session).
        props = getattr(msg, 'properties', None)
        self._received.append(Message(msg.topic, msg.payload, msg.qos,
                                      bool(msg.retain), props))

    def _release_received(self):
        while self._received:
            self.messages.put(self._received.pop(0))

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        codes = [g.value if hasattr(g, 'value') else int(g) for g in granted]
        with self._cond:
            self._subacks[mid] = codes
            self._cond.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, *rest):
        with self._cond:
            self._unsubacks.add(mid)
            self._cond.notify_all()

    def _loop(self):
        mqtt = _paho()
        while not self._stop:
            rc = self.client.loop(0.05)
            self._release_received()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                break
            if self._disconnect_requested:
                # Here, not on the caller's thread: paho closes the socket
                # once DISCONNECT is written, and a PUBACK this thread was
                # writing at that moment would hit a closed descriptor.
                self._disconnect_requested = False
                self.client.disconnect()
        self._release_received()
        self._disconnected.set()

    # -- API -------------------------------------------------------------
    @property
    def connected(self):
        return self._connected.is_set()

    def connect(self, timeout=10):
        """Connect and wait for CONNACK; returns its return/reason code.

        0 means accepted.  Typical refusals: MQTT 3.1.1 rc 5 (not
        authorised) or 4 (bad username/password); MQTT 5 reason 0x87 (135,
        not authorized) or 0x86 (134, bad user name or password).  None
        means the connection dropped before any CONNACK.
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError('already connected')
        self.connack = None
        self._connack_event.clear()
        self._disconnected.clear()
        self._stop = False
        self._disconnect_requested = False
        kwargs = {}
        if self.proto == 5:
            from paho.mqtt.properties import Properties
            from paho.mqtt.packettypes import PacketTypes
            kwargs['clean_start'] = self.clean
            props = Properties(PacketTypes.CONNECT)
            if self.session_expiry is not None:
                props.SessionExpiryInterval = self.session_expiry
            if self.auth_method is not None:
                props.AuthenticationMethod = self.auth_method
            if self.session_expiry is not None or self.auth_method is not None:
                kwargs['properties'] = props
        self.client.connect('127.0.0.1', self.port, self.keepalive, **kwargs)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._connack_event.wait(0.05) or self._disconnected.is_set():
                break
        if self.connack != 0:
            self._shutdown_loop()
        return self.connack

    def subscribe(self, topics, qos=0, timeout=10):
        """Subscribe and wait for SUBACK; returns the list of codes.

        ``topics`` is a filter or a list of filters (all at ``qos``) or of
        (filter, qos) pairs.  Codes are the granted QoS or failure codes
        (0x80 for 3.1.1; 0x87 etc. for MQTT 5).
        """
        if isinstance(topics, str):
            topics = [(topics, qos)]
        topics = [t if isinstance(t, tuple) else (t, qos) for t in topics]
        rc, mid = self.client.subscribe(topics)
        if rc != 0:
            raise AssertionError('subscribe failed locally: rc=%s' % rc)
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._subacks, timeout):
                raise AssertionError('no SUBACK for %r' % (topics,))
            return self._subacks.pop(mid)

    def unsubscribe(self, topic, timeout=10):
        rc, mid = self.client.unsubscribe(topic)
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._unsubacks,
                                       timeout):
                raise AssertionError('no UNSUBACK for %r' % topic)
            self._unsubacks.discard(mid)

    def publish(self, topic, payload=b'', qos=0, retain=False, timeout=10):
        """Publish; for QoS 1 returns the PUBACK reason code (0 = success;
        MQTT 5 brokers answer 0x87 (135) when the ACL denies, 0x10 when
        there were no subscribers).  For QoS 0 returns 0 once sent; for
        QoS 2 returns 0 once PUBCOMP arrived."""
        info = self.client.publish(topic, payload, qos, retain)
        if info.rc != 0:
            raise AssertionError('publish failed locally: rc=%s' % info.rc)
        if qos == 0:
            info.wait_for_publish(timeout)
            return 0
        with self._cond:
            if not self._cond.wait_for(
                    lambda: info.mid in self._pubacks
                    or not self.connected, timeout):
                raise AssertionError('no PUBACK/PUBCOMP for %s' % topic)
            return self._pubacks.pop(info.mid, None)

    def wait_for(self, n, timeout=10):
        """Return the next ``n`` received messages, or fail listing those
        that did arrive."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('expected %d messages, got %d: %r' % (
                    n, len(got), got))
            try:
                got.append(self.messages.get(timeout=left))
            except queue.Empty:
                pass
        return got

    def expect_no_message(self, within=0.5):
        """Assert that nothing arrives for ``within`` seconds (a negative
        check has to wait; keep ``within`` short)."""
        try:
            msg = self.messages.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError('unexpected message %r' % (msg,))

    def wait_disconnect(self, timeout=10):
        """Wait until the broker drops us; returns True if it did."""
        return self._disconnected.wait(timeout)

    def _shutdown_loop(self):
        self._stop = True
        if self._thread is not None and \
                self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None
        try:
            self.client.socket() and self.client.socket().close()
        except Exception:
            pass

    def disconnect(self):
        """Clean DISCONNECT (no will message) and stop the loop thread."""
        if self.connected:
            if self._thread is not None and self._thread.is_alive():
                self._disconnect_requested = True
            else:
                self.client.disconnect()
            self._disconnected.wait(5)
        self._shutdown_loop()
        self._connected.clear()

    def drop(self):
        """Close the socket without DISCONNECT (the will is published)."""
        self._stop = True
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._shutdown_loop()
        self._connected.clear()

    close = disconnect


# ----------------------------------------------------------------------
# Session
# ----------------------------------------------------------------------
class Session:
    """Per-pytest-session state: base temp dir, registry, shared servers."""

    def __init__(self, base_dir=None):
        # IOTHUB_IT_TMPDIR: parent for the session directory (default: the
        # system temp dir); nested test sessions use it to stay contained.
        self.base_dir = Path(base_dir or tempfile.mkdtemp(
            prefix='iothub-it-', dir=os.environ.get('IOTHUB_IT_TMPDIR')))
        self.registry = ProcessRegistry(self.base_dir)
        self._mongo = None
        self._rabbit = None
        self._lock = threading.Lock()

    def mongo_server(self):
        with self._lock:
            if self._mongo is None:
                self._mongo = MongoServer(self.registry,
                                          self.base_dir / 'mongo',
                                          uri=os.environ.get('MONGO_URI'))
            return self._mongo

    def rabbit_node(self):
        """Started on first use: it takes several seconds."""
        with self._lock:
            if self._rabbit is None:
                self._rabbit = RabbitNode(self.registry,
                                          self.base_dir / 'rabbit')
                self._rabbit.start()
            return self._rabbit

    def close(self, keep_dir=False):
        if self._mongo is not None:
            self._mongo.close()
        self.registry.shutdown()
        if not keep_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)
