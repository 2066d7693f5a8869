# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""iothubctl against the MongoDB stand-in and a fake control channel.

Run from the repository root: /usr/bin/python3 -m pytest test/integration/test_ctl.py -q

The control-channel tests cannot use a plain mosquitto: 2.0 hands every
`$CONTROL/...` publish to the plugin registered for that topic and never
routes it to subscribers (src/handle_publish.c -> control__process()).  So
they load test_ctl_fake_control.c, a tiny plugin that bridges
`$CONTROL/iothub/v1` to ordinary topics, and a paho responder here plays the
iothub plugin's part.  The tests against the real plugin are in
test_ctl_live.py.
"""

import base64
import datetime
import hashlib
import json
import re
import subprocess
import threading
from pathlib import Path

import pytest

import harness
from plugin_helpers import CTL, env_without_mongo_uri, run_ctl

REPO = harness.REPO
FAKE_PLUGIN_SRC = Path(__file__).resolve().parent / 'test_ctl_fake_control.c'
URLSAFE = re.compile(r'^[A-Za-z0-9_-]+$')

DEFAULT_PUBLISH = [
    'upload_data/{p}/{d}/+/+', 'update_status/{p}/{d}/+',
    'update_ota_status/{p}/{d}/+', 'cmd_resp/{p}/{d}/+/+/+',
    'rpc_resp/{p}/{d}/+/+/+', 'get/{p}/{d}/+/+', 'm2m/{p}/+/{d}/+',
]
DEFAULT_SUBSCRIBE = ['tags/{p}/+/cmd/+/+/+/#']


# ----------------------------------------------------------------------
# helpers (run_ctl and its result: plugin_helpers.py)
# ----------------------------------------------------------------------
@pytest.fixture
def ctl(mongo, registry):
    """ctl(*args, json=True, env=None) -> CtlResult, on this test's db."""
    def call(*args, json=True, env=None, mongo_args=True, timeout=60):
        full = []
        if mongo_args:
            full += ['--mongo-uri', mongo.uri, '--mongo-db', mongo.db_name]
        if json:
            full.append('--json')
        return run_ctl(registry, full + list(args), env=env, timeout=timeout)
    return call


def pbkdf2_ok(stored, password):
    """Verify a mosquitto_passwd `$7$` hash (PBKDF2-HMAC-SHA512)."""
    m = re.match(r'^\$7\$(\d+)\$([^$]+)\$([^$]+)$', stored)
    assert m, stored
    iterations = int(m.group(1))
    salt = base64.b64decode(m.group(2))
    want = base64.b64decode(m.group(3))
    got = hashlib.pbkdf2_hmac('sha512', password.encode(), salt, iterations,
                              len(want))
    return got == want


def expected_acl(p, d):
    return ([f.format(p=p, d=d) for f in DEFAULT_PUBLISH],
            [f.format(p=p, d=d) for f in DEFAULT_SUBSCRIBE])


def register(ctl, *args):
    res = ctl('register', *args)
    assert res.rc == 0, res
    return res.obj


# ----------------------------------------------------------------------
# register
# ----------------------------------------------------------------------
def test_register_explicit_name_hashed(ctl, mongo):
    res = ctl('register', 'p1', 'd1')
    assert res.rc == 0, res
    obj = res.obj
    assert obj['username'] == 'p1/d1'
    assert obj['product_name'] == 'p1' and obj['device_name'] == 'd1'
    assert obj['status'] == 'active'
    assert obj['secret_storage'] == 'hash'
    secret = obj['secret']
    assert len(secret) >= 32 and URLSAFE.match(secret)

    doc = mongo.db.devices.find_one({'broker_username': 'p1/d1'})
    assert doc['product_name'] == 'p1' and doc['device_name'] == 'd1'
    assert doc['status'] == 'active'
    assert doc['tags'] == [] and doc['tags_version'] == 1
    assert 'secret' not in doc and 'superuser' not in doc
    assert isinstance(doc['created_at'], datetime.datetime)
    assert doc['password_hash'].startswith('$7$101$')
    assert pbkdf2_ok(doc['password_hash'], secret)
    assert not pbkdf2_ok(doc['password_hash'], secret + 'x')

    acl = mongo.db.device_acl.find_one({'broker_username': 'p1/d1'})
    pub, sub = expected_acl('p1', 'd1')
    assert acl['publish'] == pub
    assert acl['subscribe'] == sub
    assert acl['pubsub'] == []
    assert mongo.db.devices.count_documents({}) == 1
    assert mongo.db.device_acl.count_documents({}) == 1


def test_register_hash_accepted_by_stock_mosquitto(ctl, mongo, broker, mqtt,
                                                   workdir):
    """mosquitto's own password_file check accepts the hash we store."""
    obj = register(ctl, 'p1', 'd1', '--hash-iterations', '1000')
    doc = mongo.db.devices.find_one({'broker_username': 'p1/d1'})
    assert doc['password_hash'].startswith('$7$1000$')
    pwfile = workdir / 'passwd'
    pwfile.write_text('p1/d1:%s\n' % doc['password_hash'])
    b = broker(plugin=False, allow_anonymous=False,
               extra_conf='password_file %s' % pwfile)
    assert mqtt(b, 'p1/d1', obj['secret']).connack == 0
    assert mqtt(b, 'p1/d1', 'wrong' + obj['secret']).connack != 0


def test_register_generated_name(ctl, mongo):
    obj = register(ctl, 'p1')
    name = obj['device_name']
    assert len(name) == 16 and URLSAFE.match(name)
    assert obj['username'] == 'p1/' + name
    assert obj['product_name'] == 'p1'
    assert mongo.db.devices.find_one({'broker_username': obj['username']})
    other = register(ctl, 'p1')
    assert other['device_name'] != name
    assert other['secret'] != obj['secret']


def test_register_p_slash_d_form(ctl, mongo):
    obj = register(ctl, 'p1/d9')
    assert obj['username'] == 'p1/d9'


def test_register_clear_secret(ctl, mongo):
    obj = register(ctl, 'p1', 'd1', '--clear-secret')
    assert obj['secret_storage'] == 'clear'
    doc = mongo.db.devices.find_one({'broker_username': 'p1/d1'})
    assert doc['secret'] == obj['secret']
    assert 'password_hash' not in doc


def test_register_superuser_and_tags(ctl, mongo):
    obj = register(ctl, 'svc', 'admin', '--superuser', '--tags', 'floor1,b')
    assert obj['superuser'] is True and obj['tags'] == ['floor1', 'b']
    doc = mongo.db.devices.find_one({'broker_username': 'svc/admin'})
    assert doc['superuser'] is True
    assert doc['tags'] == ['floor1', 'b'] and doc['tags_version'] == 1


def test_register_bad_tag(ctl, mongo):
    res = ctl('register', 'p1', 'd1', '--tags', 'ok,bad+tag')
    assert res.rc == 2, res
    assert 'wildcard' in res.stderr
    assert mongo.db.devices.count_documents({}) == 0


def test_register_human_output_prints_secret_once(ctl, mongo):
    res = ctl('register', 'p1', 'd1', json=False)
    assert res.rc == 0, res
    m = re.search(r'^secret:\s+(\S+)$', res.stdout, re.M)
    assert m, res.stdout
    secret = m.group(1)
    assert res.stdout.count(secret) == 1
    assert re.search(r'^username:\s+p1/d1$', res.stdout, re.M)
    assert pbkdf2_ok(mongo.device('p1/d1')['password_hash'], secret)


def test_register_duplicate_exit_4(ctl, mongo):
    register(ctl, 'p1', 'd1')
    res = ctl('register', 'p1', 'd1')
    assert res.rc == 4, res
    assert res.obj == {'error': 'device p1/d1 exists', 'code': 'exists'}
    assert 'exists' in res.stderr
    assert mongo.db.devices.count_documents({}) == 1


def test_register_existing_iothub_device_exit_4(ctl, mongo):
    """A device the IotHub server wrote (no index yet) is still a duplicate."""
    mongo.add_device('p1', 'd1')
    res = ctl('register', 'p1', 'd1')
    assert res.rc == 4, res
    assert mongo.db.devices.count_documents({}) == 1


@pytest.mark.slow
def test_register_concurrent_same_name(ctl, mongo):
    args = [str(CTL), '--mongo-uri', mongo.uri, '--mongo-db', mongo.db_name,
            '--json', 'register', 'p1', 'race']
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              env=env_without_mongo_uri())
             for _ in range(20)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        results.append((p.returncode, out.decode(), err.decode()))
    codes = sorted(rc for rc, _, _ in results)
    assert codes == [0] + [4] * 19, results
    assert mongo.db.devices.count_documents({}) == 1
    assert mongo.db.device_acl.count_documents({}) == 1
    winner = [json.loads(out) for rc, out, _ in results if rc == 0][0]
    assert pbkdf2_ok(mongo.device('p1/race')['password_hash'],
                     winner['secret'])
    idx = mongo.db.devices.index_information()
    assert any(v.get('unique') and v['key'] == [('broker_username', 1)]
               for v in idx.values()), idx
    assert any(v.get('unique') and v['key'] == [('product_name', 1),
                                                ('device_name', 1)]
               for v in idx.values()), idx
    assert any(v.get('unique') and v['key'] == [('broker_username', 1)]
               for v in mongo.db.device_acl.index_information().values())


def test_register_rolls_back_when_acl_write_fails(ctl, mongo):
    mongo.client.admin.command('configureFailPoint', 'failCommand',
                               mode={'times': 1},
                               data={'failCommands': ['update'],
                                     'errorCode': 8})
    res = ctl('register', 'p1', 'd1')
    assert res.rc == 1, res
    assert 'ACL document' in res.stderr and 'removed again' in res.stderr
    assert mongo.db.devices.count_documents({}) == 0
    assert mongo.db.device_acl.count_documents({}) == 0
    # and the name is free again
    register(ctl, 'p1', 'd1')


def test_register_refuses_placeholder_names(ctl, mongo):
    res = ctl('register', 'p1', '%c')
    assert res.rc == 2, res
    assert 'placeholder' in res.stderr


# ----------------------------------------------------------------------
# list / show
# ----------------------------------------------------------------------
def test_list_and_show_never_leak_secrets(ctl, mongo):
    hashed = register(ctl, 'p1', 'd1')
    clear = register(ctl, 'p1', 'd2', '--clear-secret')
    register(ctl, 'p2', 'd1', '--tags', 't1')
    secrets = [hashed['secret'], clear['secret'],
               mongo.device('p1/d1')['password_hash']]

    res = ctl('list')
    assert res.rc == 0, res
    objs = res.objects
    assert [o['username'] for o in objs] == ['p1/d1', 'p1/d2', 'p2/d1']
    for o in objs:
        assert set(o) >= {'username', 'product_name', 'device_name', 'status',
                          'tags', 'tags_version'}
        assert 'secret' not in o and 'password_hash' not in o
    assert objs[2]['tags'] == ['t1']

    res = ctl('list', 'p1')
    assert [o['username'] for o in res.objects] == ['p1/d1', 'p1/d2']
    assert ctl('list', 'nope').stdout == ''

    outputs = [res.stdout, ctl('list', json=False).stdout]
    for dev in ('p1/d1', 'p1/d2'):
        for as_json in (True, False):
            r = ctl('show', dev, json=as_json)
            assert r.rc == 0, r
            outputs.append(r.stdout)
    for out in outputs:
        for s in secrets:
            assert s not in out

    show = ctl('show', 'p1/d1').obj
    assert show['username'] == 'p1/d1' and show['status'] == 'active'
    assert show['active'] is True and show['tags_version'] == 1
    assert show['secret_storage'] == 'hash'
    assert ctl('show', 'p1/d2').obj['secret_storage'] == 'clear'
    pub, sub = expected_acl('p1', 'd1')
    assert show['acl'] == {'publish': pub, 'subscribe': sub, 'pubsub': []}
    assert 'secret' not in show and 'password_hash' not in show


def test_show_iothub_server_document(ctl, mongo):
    """Documents written by the IotHub server (no hash, extra fields)."""
    mongo.add_device('p1', 'd1', tags=['a'], acl={'publish': ['x/y']},
                     extra={'device_status': '{"v":1}',
                            'last_status_update': 1700000000})
    show = ctl('show', 'p1/d1').obj
    assert show['secret_storage'] == 'clear'
    assert show['device_status'] == '{"v":1}'
    assert show['last_status_update'] == 1700000000
    assert show['acl']['publish'] == ['x/y']
    assert show['tags'] == ['a']


# ----------------------------------------------------------------------
# suspend / resume / delete
# ----------------------------------------------------------------------
def test_suspend_resume(ctl, mongo):
    register(ctl, 'p1', 'd1')
    res = ctl('suspend', 'p1/d1')
    assert res.rc == 0, res
    assert res.obj == {'username': 'p1/d1', 'status': 'suspended',
                       'changed': True}
    assert mongo.device('p1/d1')['status'] == 'suspended'
    assert ctl('suspend', 'p1/d1').obj['changed'] is False
    assert ctl('show', 'p1/d1').obj['active'] is False
    res = ctl('resume', 'p1/d1')
    assert res.rc == 0 and res.obj['status'] == 'active', res
    assert mongo.device('p1/d1')['status'] == 'active'


def test_delete_removes_both_documents(ctl, mongo):
    register(ctl, 'p1', 'd1')
    register(ctl, 'p1', 'd2')
    res = ctl('delete', 'p1/d1')
    assert res.rc == 0 and res.obj == {'username': 'p1/d1', 'deleted': True}
    assert mongo.device('p1/d1') is None
    assert mongo.db.device_acl.find_one({'broker_username': 'p1/d1'}) is None
    assert mongo.device('p1/d2') is not None
    assert ctl('delete', 'p1/d1').rc == 3


def test_delete_cleans_orphan_acl(ctl, mongo):
    mongo.db.device_acl.insert_one({'broker_username': 'p1/gone',
                                    'publish': ['x']})
    res = ctl('delete', 'p1/gone')
    assert res.rc == 3, res
    assert mongo.db.device_acl.count_documents({}) == 0


# ----------------------------------------------------------------------
# rotate-secret
# ----------------------------------------------------------------------
def test_rotate_secret_keeps_storage(ctl, mongo):
    old = register(ctl, 'p1', 'd1')['secret']
    res = ctl('rotate-secret', 'p1/d1')
    assert res.rc == 0, res
    new = res.obj['secret']
    assert new != old and len(new) >= 32
    assert res.obj['username'] == 'p1/d1'
    assert res.obj['secret_storage'] == 'hash'
    doc = mongo.device('p1/d1')
    assert pbkdf2_ok(doc['password_hash'], new)
    assert not pbkdf2_ok(doc['password_hash'], old)
    assert 'secret' not in doc

    clear = register(ctl, 'p1', 'd2', '--clear-secret')['secret']
    res = ctl('rotate-secret', 'p1/d2')
    assert res.obj['secret_storage'] == 'clear'
    doc = mongo.device('p1/d2')
    assert doc['secret'] == res.obj['secret'] != clear
    assert 'password_hash' not in doc


def test_rotate_secret_switches_storage(ctl, mongo):
    mongo.add_device('p1', 'd1', secret='iothub-clear')
    res = ctl('rotate-secret', 'p1/d1', '--hash')
    assert res.rc == 0, res
    doc = mongo.device('p1/d1')
    assert 'secret' not in doc
    assert pbkdf2_ok(doc['password_hash'], res.obj['secret'])
    res = ctl('rotate-secret', 'p1/d1', '--clear-secret')
    doc = mongo.device('p1/d1')
    assert doc['secret'] == res.obj['secret'] and 'password_hash' not in doc


# ----------------------------------------------------------------------
# tags
# ----------------------------------------------------------------------
def test_tags_bump_version(ctl, mongo):
    register(ctl, 'p1', 'd1', '--tags', 'a')
    res = ctl('tags', 'add', 'p1/d1', 'b', 'c', 'a')
    assert res.rc == 0, res
    assert res.obj == {'username': 'p1/d1', 'tags': ['a', 'b', 'c'],
                       'tags_version': 2}
    res = ctl('tags', 'remove', 'p1/d1', 'a', 'zzz')
    assert res.obj['tags'] == ['b', 'c'] and res.obj['tags_version'] == 3
    res = ctl('tags', 'set', 'p1/d1', 'x')
    assert res.obj['tags'] == ['x'] and res.obj['tags_version'] == 4
    res = ctl('tags', 'set', 'p1/d1')
    assert res.obj['tags'] == [] and res.obj['tags_version'] == 5
    doc = mongo.device('p1/d1')
    assert doc['tags'] == [] and doc['tags_version'] == 5


def test_tags_on_iothub_document_without_version(ctl, mongo):
    mongo.db.devices.insert_one({'product_name': 'p1', 'device_name': 'd1',
                                 'broker_username': 'p1/d1', 'secret': 's'})
    res = ctl('tags', 'add', 'p1/d1', 't')
    assert res.obj['tags'] == ['t'] and res.obj['tags_version'] == 1


def test_tags_errors(ctl, mongo):
    register(ctl, 'p1', 'd1')
    assert ctl('tags', 'add', 'p1/d1', 'bad/tag').rc == 2
    assert ctl('tags', 'add', 'p1/d1').rc == 2
    assert ctl('tags', 'frob', 'p1/d1', 'x').rc == 2
    assert ctl('tags', 'add', 'p1/nope', 'x').rc == 3
    assert mongo.device('p1/d1')['tags_version'] == 1


# ----------------------------------------------------------------------
# ACL
# ----------------------------------------------------------------------
def test_acl_add_remove_show(ctl, mongo):
    register(ctl, 'p1', 'd1')
    res = ctl('acl', 'add', 'publish', 'p1/d1', 'data/%u/#')
    assert res.rc == 0, res
    assert res.obj == {'username': 'p1/d1', 'list': 'publish',
                       'filter': 'data/%u/#', 'action': 'add',
                       'changed': True}
    assert ctl('acl', 'add', 'publish', 'p1/d1',
               'data/%u/#').obj['changed'] is False
    res = ctl('acl', 'add', 'pubsub', 'p1/d1', 'shared/+/x')
    assert res.rc == 0, res
    res = ctl('acl', 'remove', 'publish', 'p1/d1', 'get/p1/d1/+/+')
    assert res.obj['changed'] is True
    res = ctl('acl', 'add', 'deny_publish', 'p1/d1', 'upload_data/p1/d1/secret/+')
    assert res.rc == 0, res

    acl = mongo.db.device_acl.find_one({'broker_username': 'p1/d1'})
    pub, sub = expected_acl('p1', 'd1')
    pub.remove('get/p1/d1/+/+')
    assert acl['publish'] == pub + ['data/%u/#']
    assert acl['pubsub'] == ['shared/+/x']
    assert acl['deny_publish'] == ['upload_data/p1/d1/secret/+']

    show = ctl('acl', 'show', 'p1/d1').obj
    assert show == {'username': 'p1/d1', 'publish': pub + ['data/%u/#'],
                    'subscribe': sub, 'pubsub': ['shared/+/x'],
                    'deny_publish': ['upload_data/p1/d1/secret/+']}
    human = ctl('acl', 'show', 'p1/d1', json=False)
    assert re.search(r'^publish:\s+upload_data/p1/d1/\+/\+$', human.stdout,
                     re.M), human.stdout


def test_acl_remove_inline_filter(ctl, mongo):
    """The plugin merges inline lists: removal must reach them too."""
    mongo.add_device('p1', 'd1', acl={'acl': {'publish': ['in/line']}},
                     acl_inline=True)
    assert ctl('acl', 'show', 'p1/d1').obj['publish'] == ['in/line']
    res = ctl('acl', 'remove', 'publish', 'p1/d1', 'in/line')
    assert res.rc == 0 and res.obj['changed'] is True, res
    assert mongo.device('p1/d1')['acl']['publish'] == []


@pytest.mark.parametrize('bad,reason', [
    ('a/b+/c', 'whole level'),
    ('a/#/c', "'#' must be the last level"),
    ('a#', 'whole level'),
    ('x/%ux', 'placeholders'),
    ('', 'empty filter'),
    ('a/\x01', 'control character'),
])
def test_acl_invalid_filter_exit_2(ctl, mongo, bad, reason):
    register(ctl, 'p1', 'd1')
    res = ctl('acl', 'add', 'publish', 'p1/d1', bad)
    assert res.rc == 2, res
    assert reason in res.stderr
    assert res.obj['code'] == 'invalid_filter'


@pytest.mark.parametrize('good', ['#', '+', 'a/+/b/#', '%u/%c/x', '/lead',
                                  'a//b', '$SYS/#', '%%/x', 'tags/%p/+/%d'])
def test_acl_valid_filters(ctl, mongo, good):
    register(ctl, 'p1', 'd1')
    res = ctl('acl', 'add', 'subscribe', 'p1/d1', good)
    assert res.rc == 0, res


def test_acl_errors(ctl, mongo):
    register(ctl, 'p1', 'd1')
    assert ctl('acl', 'add', 'frobnicate', 'p1/d1', 'x').rc == 2
    assert ctl('acl', 'add', 'publish', 'p1/d1').rc == 2
    res = ctl('acl', 'add', 'publish', 'p1/nope', 'x')
    assert res.rc == 3, res
    assert mongo.db.device_acl.find_one({'broker_username': 'p1/nope'}) is None
    assert ctl('acl', 'show', 'p1/nope').rc == 3


# ----------------------------------------------------------------------
# errors and exit codes
# ----------------------------------------------------------------------
@pytest.mark.parametrize('cmd', [
    ['show', 'p1/nope'], ['suspend', 'p1/nope'], ['resume', 'p1/nope'],
    ['delete', 'p1/nope'], ['rotate-secret', 'p1/nope'],
    ['tags', 'set', 'p1/nope', 'x'], ['acl', 'show', 'p1/nope'],
])
def test_unknown_device_exit_3(ctl, mongo, cmd):
    res = ctl(*cmd)
    assert res.rc == 3, res
    assert res.obj == {'error': 'device p1/nope not found',
                       'code': 'not_found'}
    assert 'not found' in res.stderr


@pytest.mark.parametrize('name,reason', [
    ('a/b/c', "more than one '/'"),
    ('a+/b', 'wildcard'),
    ('p/a+', 'wildcard'),
    ('#', "no '/'"),
    ('p/#', 'wildcard'),
    ('', 'empty'),
    ('p/', 'empty DeviceName'),
    ('p/' + 'x' * 200, 'too long'),
    ('x' * 200 + '/d', 'too long'),
    ('p/\udcff\udcfe', 'not valid UTF-8'),
    ('p/a\tb', 'control character'),
])
def test_malformed_names_exit_2(ctl, mongo, name, reason):
    for cmd in (['show', name], ['suspend', name], ['rotate-secret', name]):
        res = ctl(*cmd)
        assert res.rc == 2, res
        assert reason in res.stderr, res
        assert res.obj['code'] == 'invalid_name'
        assert reason in res.obj['error']
    assert mongo.db.devices.count_documents({}) == 0


@pytest.mark.parametrize('args,reason', [
    (['a+'], 'wildcard'),
    (['p', 'a/b'], "'/'"),
    (['p', ''], 'empty'),
    (['p', 'd' * 200], 'too long'),
    (['p', '\udcc3('], 'not valid UTF-8'),
])
def test_register_malformed_exit_2(ctl, mongo, args, reason):
    res = ctl('register', *args)
    assert res.rc == 2, res
    assert reason in res.stderr
    assert mongo.db.devices.count_documents({}) == 0


def test_usage_errors(ctl):
    assert ctl().rc == 2
    assert ctl('frobnicate').rc == 2
    assert ctl('register').rc == 2
    assert ctl('show').rc == 2
    assert ctl('--timeout', 'soon', 'list').rc == 2
    assert ctl('--no-such-option', 'list').rc == 2
    res = ctl('--help', json=False)
    assert res.rc == 0 and 'Usage: iothubctl' in res.stdout
    assert 'Exit codes' in res.stdout


def test_mongo_unreachable_exit_5_fast(ctl, registry):
    port = harness.free_port()
    uri = 'mongodb://admin:s3cr3tpw@127.0.0.1:%d/?authSource=admin' % port
    for cmd in (['list'], ['register', 'p1', 'd1'], ['suspend', 'p1/d1']):
        res = ctl('--mongo-uri', uri, '--timeout', '1000', *cmd,
                  mongo_args=False)
        assert res.rc == 5, res
        assert res.elapsed < 3, res.elapsed
        assert 'unreachable' in res.stderr
        assert '127.0.0.1:%d' % port in res.stderr
        assert 's3cr3tpw' not in res.stderr + res.stdout
        assert res.obj['code'] == 'mongo_unavailable'


@pytest.mark.fault
def test_mongo_hung_exit_5_within_timeout(ctl, mongo):
    register(ctl, 'p1', 'd1')
    mongo.set_delay(10000, only=['find', 'update', 'createIndexes',
                                 'insert', 'delete'])
    for cmd in (['show', 'p1/d1'], ['suspend', 'p1/d1']):
        res = ctl('--timeout', '500', *cmd)
        assert res.rc == 5, res
        assert res.elapsed < 3, res.elapsed
    mongo.set_delay(0)


def test_mongo_uri_precedence(ctl, mongo, workdir):
    dead = 'mongodb://127.0.0.1:%d' % harness.free_port()
    conf = workdir / 'mosquitto.conf'
    conf.write_text('plugin /usr/lib/mosquitto_iothub.so\n'
                    'plugin_opt_mongo_uri %s\nplugin_opt_mongo_db %s\n'
                    % (mongo.uri, mongo.db_name))
    # config alone works
    res = ctl('--config', conf, 'register', 'p1', 'd1', mongo_args=False)
    assert res.rc == 0, res
    # MONGO_URI beats the config
    res = ctl('--config', conf, 'list', mongo_args=False,
              env=env_without_mongo_uri({'MONGO_URI': dead}))
    assert res.rc == 5, res
    # --mongo-uri beats MONGO_URI
    res = ctl('--config', conf, '--mongo-uri', mongo.uri, 'list',
              mongo_args=False, env=env_without_mongo_uri({'MONGO_URI': dead}))
    assert res.rc == 0 and len(res.objects) == 1, res
    # MONGO_URI alone, default db "iothub" is not this test's db
    res = ctl('list', mongo_args=False,
              env=env_without_mongo_uri({'MONGO_URI': mongo.uri}))
    assert res.rc == 0, res


def test_config_renames_collections_and_fields(ctl, mongo, workdir):
    confd = workdir / 'conf.d'
    confd.mkdir()
    (workdir / 'mosquitto.conf').write_text(
        '# main file\nlistener 1883\ninclude_dir %s\n' % confd)
    (confd / '10-other.conf').write_text(
        'plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\n'
        'plugin_opt_config_file /tmp/dynsec.json\n')
    (confd / '20-iothub.conf').write_text(
        'plugin /opt/iothub/mosquitto_iothub.so\n'
        'plugin_opt_mongo_uri %s\n'
        'plugin_opt_mongo_db %s\n'
        'plugin_opt_devices_collection things\n'
        'plugin_opt_acl_collection thing_acl\n'
        'plugin_opt_field_username user\n'
        'plugin_opt_field_password_hash pwhash\n'
        'plugin_opt_field_acl_publish pub\n' % (mongo.uri, mongo.db_name))
    conf = workdir / 'mosquitto.conf'
    res = ctl('--config', conf, 'register', 'p1', 'd1', mongo_args=False)
    assert res.rc == 0, res
    obj = res.obj
    doc = mongo.db.things.find_one({'user': 'p1/d1'})
    assert doc and pbkdf2_ok(doc['pwhash'], obj['secret'])
    acl = mongo.db.thing_acl.find_one({'user': 'p1/d1'})
    assert acl['pub'] == expected_acl('p1', 'd1')[0]
    show = ctl('--config', conf, 'show', 'p1/d1', mongo_args=False).obj
    assert show['username'] == 'p1/d1'
    assert show['acl']['publish'] == expected_acl('p1', 'd1')[0]
    assert mongo.db.devices.count_documents({}) == 0


def test_config_errors(ctl, workdir):
    bad = workdir / 'bad.conf'
    bad.write_text('plugin /x/mosquitto_iothub.so\nplugin_opt_nonsense 1\n')
    res = ctl('--config', bad, 'list', mongo_args=False)
    assert res.rc == 2, res
    assert 'nonsense' in res.stderr
    res = ctl('--config', workdir / 'missing.conf', 'list', mongo_args=False)
    assert res.rc == 2, res


# ----------------------------------------------------------------------
# control channel (fake plugin, see module docstring)
# ----------------------------------------------------------------------
class FakeControl:
    """Answers `$CONTROL/iothub/v1` requests bridged by the fake plugin."""

    def __init__(self, port, user, pw):
        import paho.mqtt.client as mqtt
        self.port = port
        self.requests = []
        self.mode = 'ok'            # ok | error | silent | broadcast
        self.error_command = 'kickDevice'
        self._cond = threading.Condition()
        self.client = mqtt.Client(client_id='fakectl-responder',
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(user, pw)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect('127.0.0.1', port, 30)
        self.client.loop_start()
        self.client.subscribe('fakectl/request', 1)
        assert subscribed.wait(10), 'responder not subscribed'

    def _data(self, cmd):
        if cmd['command'] == 'getStats':
            return {'connections': 3, 'devices': {'active': 2}}
        if cmd['command'] == 'kickDevice':
            return {'username': cmd['username'], 'kicked': 1}
        return {'username': cmd['username'], 'invalidated': True}

    def _on_message(self, client, userdata, msg):
        wrapper = json.loads(msg.payload)
        with self._cond:
            self.requests.append(wrapper)
            self._cond.notify_all()
        if self.mode == 'silent':
            return
        # A response for somebody else first: must be ignored.
        responses = [{'command': 'kickDevice', 'correlationData': 'not-yours',
                      'error': 'not for you'}]
        for cmd in wrapper['request']['commands']:
            r = {'command': cmd['command'],
                 'correlationData': cmd['correlationData']}
            if self.mode == 'error' and cmd['command'] == self.error_command:
                r['error'] = 'boom: no such luck'
            else:
                r['data'] = self._data(cmd)
            responses.append(r)
        topic = 'fakectl/broadcast' if self.mode == 'broadcast' else \
            'fakectl/response/' + wrapper['client_id']
        client.publish(topic, json.dumps({'responses': responses}), 1)

    def commands(self):
        return [[c['command'] for c in w['request']['commands']]
                for w in self.requests]

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope='session')
def fake_plugin(it_session):
    out = it_session.base_dir / 'fake_control.so'
    subprocess.run(['cc', '-shared', '-fPIC', '-Wall', '-Werror', '-o',
                    str(out), str(FAKE_PLUGIN_SRC)], check=True)
    return out


@pytest.fixture
def control(broker, fake_plugin):
    b = broker(plugin=False, allow_anonymous=True,
               extra_conf='plugin %s\nplugin_opt_user admin\n'
                          'plugin_opt_pass adminpw' % fake_plugin)
    fc = FakeControl(b.port, 'admin', 'adminpw')
    fc.broker = b
    fc.args = ['--broker', '127.0.0.1:%d' % b.port, '--broker-user', 'admin',
               '--broker-pass', 'adminpw']
    yield fc
    fc.close()


def test_control_suspend_sends_invalidate_and_kick(ctl, mongo, control):
    register(ctl, 'p1', 'd1')
    res = ctl('suspend', 'p1/d1', *control.args)
    assert res.rc == 0, res
    assert mongo.device('p1/d1')['status'] == 'suspended'
    assert control.commands() == [['invalidateDevice', 'kickDevice']]
    w = control.requests[0]
    assert w['username'] == 'admin'
    assert w['protocol_version'] == 5
    assert re.match(r'^iothubctl-[A-Za-z0-9_-]{8,}$', w['client_id'])
    cmds = w['request']['commands']
    assert all(c['username'] == 'p1/d1' for c in cmds)
    corr = [c['correlationData'] for c in cmds]
    assert len(set(corr)) == 2 and all(len(c) >= 16 for c in corr)
    obj = res.obj
    assert obj['status'] == 'suspended'
    assert obj['control'] == {
        'invalidateDevice': {'username': 'p1/d1', 'invalidated': True},
        'kickDevice': {'username': 'p1/d1', 'kicked': 1}}


def test_control_commands_per_subcommand(ctl, mongo, control):
    register(ctl, 'p1', 'd1')
    steps = [
        (['tags', 'add', 'p1/d1', 't'], ['invalidateDevice']),
        (['acl', 'add', 'publish', 'p1/d1', 'x/y'], ['invalidateDevice']),
        (['acl', 'remove', 'publish', 'p1/d1', 'x/y'], ['invalidateDevice']),
        (['resume', 'p1/d1'], ['invalidateDevice']),
        (['rotate-secret', 'p1/d1'], ['invalidateDevice', 'kickDevice']),
        (['delete', 'p1/d1'], ['invalidateDevice', 'kickDevice']),
    ]
    for args, want in steps:
        before = len(control.requests)
        res = ctl(*(args + control.args))
        assert res.rc == 0, (args, res)
        assert control.commands()[before:] == [want], args
    # read-only commands never touch the broker
    register(ctl, 'p1', 'd2')
    before = len(control.requests)
    for args in (['show', 'p1/d2'], ['list'], ['acl', 'show', 'p1/d2']):
        assert ctl(*(args + control.args)).rc == 0
    assert len(control.requests) == before


def test_control_clients_are_unique(ctl, mongo, control):
    register(ctl, 'p1', 'd1')
    for _ in range(3):
        assert ctl('tags', 'add', 'p1/d1', 't', *control.args).rc == 0
    ids = {w['client_id'] for w in control.requests}
    assert len(ids) == 3


def test_control_broadcast_response(ctl, mongo, control):
    """Responses may come through the subscription, with others' mixed in."""
    control.mode = 'broadcast'
    register(ctl, 'p1', 'd1')
    res = ctl('suspend', 'p1/d1', *control.args)
    assert res.rc == 0, res


def test_control_error_response_exit_6(ctl, mongo, control):
    control.mode = 'error'
    register(ctl, 'p1', 'd1')
    res = ctl('suspend', 'p1/d1', *control.args)
    assert res.rc == 6, res
    assert 'kickDevice failed: boom: no such luck' in res.stderr
    assert mongo.device('p1/d1')['status'] == 'suspended'
    obj = res.obj
    assert obj['code'] == 'broker' and 'boom' in obj['error']
    assert obj['status'] == 'suspended'


def test_control_no_response_exit_6_within_timeout(ctl, mongo, control):
    control.mode = 'silent'
    register(ctl, 'p1', 'd1')
    res = ctl('--timeout', '700', 'suspend', 'p1/d1', *control.args)
    assert res.rc == 6, res
    assert res.elapsed < 3, res.elapsed
    assert 'no response' in res.stderr
    assert mongo.device('p1/d1')['status'] == 'suspended'


def test_control_bad_credentials_exit_6(ctl, mongo, control):
    register(ctl, 'p1', 'd1')
    args = control.args[:-1] + ['wrong']
    res = ctl('tags', 'add', 'p1/d1', 't', *args)
    assert res.rc == 6, res
    assert 'refused the connection' in res.stderr
    assert mongo.device('p1/d1')['tags'] == ['t']
    # the password can also come from the environment
    res = ctl('tags', 'add', 'p1/d1', 'u', *control.args[:-2],
              env=env_without_mongo_uri({'IOTHUBCTL_BROKER_PASS': 'adminpw'}))
    assert res.rc == 0, res


def test_control_broker_unreachable_exit_6(ctl, mongo):
    register(ctl, 'p1', 'd1')
    port = harness.free_port()
    res = ctl('suspend', 'p1/d1', '--broker', '127.0.0.1:%d' % port,
              '--broker-user', 'admin', '--broker-pass', 'pw')
    assert res.rc == 6, res
    assert mongo.device('p1/d1')['status'] == 'suspended'
    assert 'warning' in res.stderr and 'revalidation' in res.stderr
    obj = res.obj
    assert obj['status'] == 'suspended' and obj['code'] == 'broker'
    res = ctl('suspend', 'p1/d1', '--broker', '127.0.0.1:%d' % port,
              json=False)
    assert res.rc == 6 and 'status:' in res.stdout, res


def test_stats(ctl, control):
    res = ctl('stats', *control.args, mongo_args=False)
    assert res.rc == 0, res
    assert res.obj == {'connections': 3, 'devices': {'active': 2}}
    assert control.commands() == [['getStats']]
    res = ctl('stats', *control.args, json=False, mongo_args=False)
    assert re.search(r'^devices\.active:\s+2$', res.stdout, re.M), res.stdout
    assert ctl('stats', mongo_args=False).rc == 2
