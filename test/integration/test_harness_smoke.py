# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Smoke tests for the integration harness itself (no plugin needed).

They prove that the services and helpers the plugin tests rely on behave:
the MongoDB stand-in under pymongo and libmongoc, the private RabbitMQ node
across restarts, plain mosquitto with the CLI clients and paho, and that a
test session leaves no process behind -- even when pytest is SIGKILLed.
"""

import os
import queue
import shutil
import subprocess
import threading
import time

import pytest
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

import harness

MONGOC_OPTS = 'serverSelectionTimeoutMS=1000&connectTimeoutMS=1000' \
              '&socketTimeoutMS=1000'


def with_opts(uri, opts=MONGOC_OPTS):
    return uri + ('&' if '?' in uri else '/?') + opts


# ----------------------------------------------------------------------
# MongoDB stand-in
# ----------------------------------------------------------------------
def test_standin_pymongo_roundtrip(mongo):
    db = mongo.db
    d1 = mongo.add_device('p1', 'd1', tags=['floor1'],
                          acl={'publish': ['upload_data/p1/d1/#']})
    mongo.add_device('p1', 'd2', status='suspended')
    mongo.add_device('p2', 'd1', superuser=True, password_hash=True,
                     store_secret=False)
    assert d1.username == 'p1/d1' and len(d1.secret) == 32
    assert mongo.device('p2/d1')['password_hash'].startswith('$7$')
    assert 'secret' not in mongo.device('p2/d1')

    active = db.devices.find({'status': {'$ne': 'suspended'}})
    assert sorted(d['broker_username'] for d in active) == ['p1/d1', 'p2/d1']
    assert db.devices.count_documents(
        {'broker_username': {'$in': ['p1/d2', 'zz/zz']}}) == 1

    res = db.devices.update_one({'broker_username': 'p3/new'},
                                {'$set': {'status': 'active'},
                                 '$setOnInsert': {'tags': []}}, upsert=True)
    assert res.upserted_id is not None and res.matched_count == 0
    res = db.devices.update_one({'broker_username': 'p1/d1'},
                                {'$addToSet': {'tags': 'floor2'},
                                 '$inc': {'tags_version': 1}})
    assert res.modified_count == 1

    joined = list(db.devices.aggregate([
        {'$match': {'broker_username': 'p1/d1'}},
        {'$lookup': {'from': 'device_acl', 'localField': 'broker_username',
                     'foreignField': 'broker_username', 'as': 'acl'}},
        {'$project': {'_id': 0, 'tags': 1, 'acl.publish': 1}},
    ]))
    assert joined == [{'tags': ['floor1', 'floor2'],
                       'acl': [{'publish': ['upload_data/p1/d1/#']}]}]

    db.devices.create_index('broker_username', unique=True)
    with pytest.raises(DuplicateKeyError) as exc:
        db.devices.insert_one({'broker_username': 'p1/d1'})
    assert exc.value.code == 11000
    assert 'broker_username_1' in exc.value.details['errmsg']
    with pytest.raises(OperationFailure) as exc:
        db.devices.create_index('product_name', unique=True)
    assert exc.value.code == 11000

    doc = db.devices.find_one_and_update(
        {'broker_username': 'p1/d2'}, {'$set': {'status': 'active'}},
        return_document=ReturnDocument.AFTER, projection={'_id': 0,
                                                          'status': 1})
    assert doc == {'status': 'active'}
    assert db.devices.delete_many({'product_name': 'p1'}).deleted_count == 2

    with pytest.raises(OperationFailure) as exc:
        db.command('noSuchCommand')
    assert exc.value.code == 59


def test_standin_equality_lookups_see_every_write(mongo):
    """The stand-in answers {field: str} and {field: {$in: [...]}} from a
    hash table of the field; it must match mongomock's own answers and
    never serve a result from before a write."""
    db = mongo.db
    db.devices.insert_many([{'broker_username': 'p/d%d' % i, 'n': i}
                            for i in range(50)])
    db.devices.insert_one({'broker_username': ['p/arr', 'p/d7'], 'n': 100})
    db.devices.insert_one({'n': 101})      # no such field at all

    def names(flt):
        return [d['n'] for d in db.devices.find(flt)]

    assert names({'broker_username': 'p/d3'}) == [3]
    assert names({'broker_username': 'p/d7'}) == [7, 100]   # array element
    assert names({'broker_username': 'p/none'}) == []
    # natural order, not the order of the $in list
    assert names({'broker_username': {'$in': ['p/d9', 'p/d2', 'x']}}) == [2, 9]

    db.devices.update_one({'broker_username': 'p/d3'},
                          {'$set': {'broker_username': 'p/moved'}})
    assert names({'broker_username': 'p/d3'}) == []
    assert names({'broker_username': 'p/moved'}) == [3]
    db.devices.delete_one({'broker_username': 'p/d4'})
    assert names({'broker_username': 'p/d4'}) == []
    db.devices.insert_one({'broker_username': 'p/d4', 'n': 200})
    assert names({'broker_username': 'p/d4'}) == [200]

    db.device_acl.insert_one({'broker_username': 'p/d5', 'publish': ['a']})
    joined = list(db.devices.aggregate([
        {'$match': {'broker_username': 'p/d5'}}, {'$limit': 1},
        {'$lookup': {'from': 'device_acl', 'localField': 'broker_username',
                     'foreignField': 'broker_username', 'as': 'acl'}},
        {'$project': {'_id': 0, 'n': 1, 'acl.publish': 1}}]))
    assert joined == [{'n': 5, 'acl': [{'publish': ['a']}]}]
    # other filters still take mongomock's path
    assert names({'n': 101}) == [101]
    assert names({'broker_username': {'$exists': False}}) == [101]


def test_standin_restart_keeps_data_and_delay(mongo):
    if mongo.server.external:
        pytest.skip('needs the stand-in')
    mongo.db.devices.insert_one({'broker_username': 'p/d'})
    mongo.db.devices.create_index('broker_username', unique=True)
    port = mongo.server.port
    mongo.kill()
    assert not harness.port_open(port)
    mongo.restart()
    assert mongo.db.devices.find_one({'broker_username': 'p/d'})
    with pytest.raises(DuplicateKeyError):
        mongo.db.devices.insert_one({'broker_username': 'p/d'})

    mongo.set_delay(400, only=['find'])
    t0 = time.monotonic()
    mongo.db.command('ping')
    assert time.monotonic() - t0 < 0.3
    mongo.db.devices.find_one()
    assert time.monotonic() - t0 >= 0.4
    assert mongo.set_delay(0)['was'] == 400


@pytest.fixture(scope='session')
def mongoc_check(it_session):
    """test/integration/mongoc_check.c, built once per session."""
    src = os.path.join(os.path.dirname(__file__), 'mongoc_check.c')
    out = str(it_session.base_dir / 'mongoc_check')
    flags = subprocess.run(['pkg-config', '--cflags', '--libs',
                            'libmongoc-1.0'], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.split()
    subprocess.run(['gcc', '-Wall', '-Werror', '-o', out, src] + flags
                   + ['-lpthread'], check=True)
    return out


def test_standin_with_libmongoc(mongo, mongoc_check, registry):
    res = registry.run([mongoc_check, 'all', with_opts(mongo.uri),
                        mongo.db_name], timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert 'ALL OK' in res.stdout


class LineReader:
    """Lines of a child's stdout, readable with a timeout."""

    def __init__(self, stream):
        self.q = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,),
                         daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.q.put(line.decode(errors='replace').strip())
        self.q.put(None)

    def next(self, timeout=10):
        line = self.q.get(timeout=timeout)
        assert line is not None, 'child closed its output'
        return line


@pytest.mark.fault
def test_libmongoc_outage_fails_fast_and_recovers(mongo, mongoc_check,
                                                  registry, workdir):
    if mongo.server.external:
        pytest.skip('needs the stand-in')
    mongo.db.devices.insert_one({'x': 1})
    proc = registry.spawn([mongoc_check, 'outage', with_opts(mongo.uri),
                           mongo.db_name], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE,
                          log_path=workdir / 'mongoc_check.log')
    out = LineReader(proc.stdout)
    assert out.next() == 'READY'

    mongo.kill()
    proc.stdin.write(b'down\n')
    proc.stdin.flush()
    for kind in ('single', 'pool'):
        line = out.next()
        _, k, ms, err = line.split(' ', 3)
        assert k == kind and 'UNEXPECTED' not in err, line
        # connection refused: the single client fails at once, the pool
        # after serverSelectionTimeoutMS (1 s).
        assert int(ms) <= 2000, line

    mongo.restart()
    proc.stdin.write(b'up\n')
    proc.stdin.flush()
    for kind in ('single', 'pool'):
        line = out.next(timeout=40)
        status, k, ms = line.split(' ')
        assert (status, k) == ('UP', kind), line
        # libmongoc's single-threaded client waits out a 5 s cooldown
        # after a failed server check; the pool retries at once.
        assert int(ms) <= 6000, line
    proc.stdin.close()
    assert proc.wait(10) == 0
    registry.forget(proc)


@pytest.mark.fault
def test_libmongoc_slow_server_hits_socket_timeout(mongo, mongoc_check,
                                                   registry):
    if mongo.server.external:
        pytest.skip('needs the stand-in')
    mongo.set_delay(3000, only=['find'])
    res = registry.run([mongoc_check, 'timed', with_opts(mongo.uri),
                        mongo.db_name], timeout=30)
    status, ms = res.stdout.split()[:2]
    assert status == 'ERR' and 900 <= int(ms) <= 2500, res.stdout
    mongo.set_delay(0)
    res = registry.run([mongoc_check, 'timed', with_opts(mongo.uri),
                        mongo.db_name], timeout=30)
    assert res.stdout.startswith('OK'), res.stdout


# ----------------------------------------------------------------------
# RabbitMQ
# ----------------------------------------------------------------------
@pytest.mark.slow
def test_rabbit_durable_queue_survives_restart(rabbit):
    import pika
    rabbit.declare_iothub()
    with rabbit.connection() as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish(
            harness.IOTHUB_EXCHANGE, 'client.connected', b'persistent body',
            pika.BasicProperties(delivery_mode=2, message_id='evt-1',
                                 content_type='application/bson'),
            mandatory=True)
    assert rabbit.list_queues()['iothub_client_connected'] == 1

    rabbit.stop()
    assert not harness.port_open(rabbit.port)
    rabbit.start()
    msgs = rabbit.consume_all('iothub_client_connected', count=1)
    assert [m.body for m in msgs] == [b'persistent body']
    assert msgs[0].properties.message_id == 'evt-1'
    assert msgs[0].routing_key == 'client.connected'
    assert rabbit.consume_all('iothub_client_connected', idle=0.2) == []


def test_rabbit_ctl_and_reset(rabbit):
    # reset() ran before this test: no queues left from the previous one.
    assert rabbit.list_queues() == {}
    rabbit.ctl('set_vm_memory_high_watermark', '0')
    assert 'set_vm_memory_high_watermark' in rabbit._dirty
    with rabbit.connection() as conn:
        conn.channel().queue_declare('unknown_to_harness', durable=True)
    rabbit.reset()
    assert not rabbit._dirty
    assert rabbit.list_queues() == {'unknown_to_harness': 0}
    rabbit.declare_iothub()
    rabbit.reset(full=True)
    assert rabbit.list_queues() == {}


# ----------------------------------------------------------------------
# Mosquitto without the plugin
# ----------------------------------------------------------------------
def test_plain_broker_cli_clients(broker, sub):
    b = broker(plugin=False)
    s = sub(b, ['a/#', 'b'], qos=1)
    assert s.wait_subscribed() == [1, 1]
    assert harness.pub(b.port, 'a/x', 'hello world', qos=1) == (0, '')
    assert s.wait_for(1) == ['a/x hello world']
    b.wait_log(r'Received PUBLISH from \S+ .*\'a/x\'')


def test_plain_broker_paho(broker, mqtt):
    b = broker(plugin=False)
    for proto in (4, 5):
        subscriber = mqtt(b, client_id='s%d' % proto, proto=proto)
        assert subscriber.connack == 0
        assert subscriber.subscribe('t/%d/+' % proto, qos=1) == [1]
        publisher = mqtt(b, client_id='p%d' % proto, proto=proto)
        assert publisher.publish('t/%d/x' % proto, b'm', qos=1) == 0
        [msg] = subscriber.wait_for(1)
        assert (msg.topic, msg.payload, msg.qos) == ('t/%d/x' % proto, b'm', 1)
        subscriber.expect_no_message(0.1)
        if proto == 5:
            # MQTT 5 PUBACK carries a reason: 0x10 = no matching subscribers.
            assert publisher.publish('nobody/here', b'', qos=1) == 0x10
        publisher.disconnect()
        subscriber.disconnect()


def test_refusals_as_clients_see_them(broker, mqtt, workdir):
    pw = workdir / 'passwd'
    subprocess.run(['mosquitto_passwd', '-c', '-b', str(pw), 'u', 'good'],
                   check=True)
    b = broker(plugin=False, allow_anonymous=False,
               extra_conf='password_file %s' % pw)
    rc, err = harness.pub(b.port, 't', 'm', 'u', 'bad')
    assert rc == 5 and 'Connection Refused: not authorised.' in err
    rc, err = harness.pub(b.port, 't', 'm', 'u', 'bad', proto='mqttv5')
    assert rc == 135 and 'Connection error: Not authorized' in err
    assert harness.pub(b.port, 't', 'm', 'u', 'good')[0] == 0
    assert mqtt(b, 'u', 'bad').connack == 5
    assert mqtt(b, 'u', 'bad', proto=5).connack == 0x87
    c = mqtt(b, 'u', 'good', client_id='c1')
    assert c.connected
    # A second connection with the same client id takes over the first.
    mqtt(b, 'u', 'good', client_id='c1')
    assert c.wait_disconnect(5)


def test_broker_lifecycle_and_startup_failure(broker):
    b = broker(plugin=False, persistence=True)
    assert b.stop() is True and b.exit_code == 0
    assert not harness.port_open(b.port)
    b.restart()
    assert harness.port_open(b.port)
    pid = b.pid
    b.kill()
    assert b.exit_code == -9 and not os.path.exists('/proc/%d/cmdline' % pid)

    bad = broker(plugin=False, extra_conf='no_such_option 1',
                 expect_fail=True)
    assert bad.start_failed and bad.exit_code not in (0, None)
    assert 'no_such_option' in bad.log_text()


# ----------------------------------------------------------------------
# No process outlives a session
# ----------------------------------------------------------------------
NESTED_TEST = '''
import os, time
import harness

def test_nested(mongo, rabbit, broker, sub, mqtt):
    mongo.add_device('p', 'd')
    b = broker(plugin=False)
    s = sub(b, 'x')
    s.wait_subscribed()
    c = mqtt(b, client_id='nested')
    assert c.connack == 0
    harness.pub(b.port, 'x', 'y')
    s.wait_for(1)
    rabbit.declare_iothub()
    hang = os.environ.get('NESTED_HANG')
    if hang:
        with open(hang, 'w') as fh:
            fh.write('ready')
        time.sleep(600)
'''


def _marked(token):
    """Live processes whose environment carries IOTHUB_IT_PARENT=token."""
    marker = ('IOTHUB_IT_PARENT=%s' % token).encode()
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/environ' % pid, 'rb') as fh:
                if marker not in fh.read().split(b'\0'):
                    continue
            with open('/proc/%s/cmdline' % pid, 'rb') as fh:
                found.append((int(pid), fh.read().replace(b'\0', b' ')
                              .decode(errors='replace')[:120]))
        except OSError:
            pass
    return found


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_no_process_outlives_a_session(workdir):
    """Two nested sessions in parallel, each with every kind of service:
    one ends normally, one is SIGKILLed mid-test (only the reaper can clean
    up after that).  Afterwards no process of theirs may be alive."""
    here = os.path.dirname(os.path.abspath(__file__))
    (workdir / 'test_nested.py').write_text(NESTED_TEST)
    shutil.copy(os.path.join(here, 'pytest.ini'), workdir / 'pytest.ini')
    cmd = [harness.PYTHON, '-m', 'pytest', '-q', '-p', 'conftest',
           '-c', str(workdir / 'pytest.ini'), str(workdir / 'test_nested.py')]
    hang_flag = workdir / 'hang.ready'
    runs = {}
    for name, hang in (('normal', None), ('killed', hang_flag)):
        env = dict(os.environ, PYTHONPATH=here, IOTHUB_IT_PARENT=name + str(
            os.getpid()), IOTHUB_IT_TMPDIR=str(workdir))
        env.pop(harness.SESSION_ENV, None)
        if hang:
            env['NESTED_HANG'] = str(hang)
        runs[name] = subprocess.Popen(
            cmd, cwd=str(workdir), env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        harness.wait_until(
            lambda: hang_flag.exists() or runs['killed'].poll() is not None,
            150, interval=0.2, what='nested session to get going')
        assert runs['killed'].poll() is None, \
            runs['killed'].stdout.read().decode(errors='replace')
        token = 'killed%d' % os.getpid()
        assert len(_marked(token)) > 5     # pytest, broker, node, epmd, ...
        runs['killed'].kill()              # SIGKILL: no finalizer runs
        out = runs['normal'].communicate(timeout=150)[0].decode(
            errors='replace')
        assert runs['normal'].returncode == 0, out
        for name in runs:
            token = name + str(os.getpid())
            harness.wait_until(lambda: not _marked(token), 20, interval=0.2,
                               what='no %s-session process left: %r'
                               % (name, _marked(token)))
    finally:
        for p in runs.values():
            if p.poll() is None:
                p.kill()
        for name in runs:
            for pid, _ in _marked(name + str(os.getpid())):
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
