# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""The plugin under valgrind memcheck: a short session through every
module (auth, ACL, auto-subscription, control channel, events to RabbitMQ),
then SIGTERM, so plugin cleanup runs and the leak check sees its result.

Skipped without valgrind and under `make asan` (the sanitizer build does
not run under valgrind).  Takes 15-30 s.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_valgrind.py -q
"""

import json
import re
import shutil

import pytest

import harness

pytestmark = [pytest.mark.needs_plugin, pytest.mark.slow,
              pytest.mark.timeout(300)]

VALGRIND = shutil.which('valgrind')


@pytest.mark.skipif(VALGRIND is None, reason='valgrind not installed')
@pytest.mark.skipif(harness.ASAN, reason='the ASan build does not run under valgrind')
def test_plugin_is_valgrind_clean(mongo, rabbit, broker, mqtt, workdir,
                                  monkeypatch):
    log = workdir / 'valgrind.%p.log'
    monkeypatch.setenv('IOTHUB_BROKER_WRAPPER', ' '.join([
        VALGRIND, '--leak-check=full', '--show-leak-kinds=definite,indirect',
        '--errors-for-leak-kinds=definite,indirect', '--error-exitcode=99',
        '--keep-debuginfo=yes', '--num-callers=40', '--log-file=%s' % log]))
    rabbit.declare_iothub()
    d1 = mongo.add_device('p1', 'd1', tags=['t1'])
    d2 = mongo.add_device('p1', 'd2', password_hash=True)
    ops = mongo.add_device('platform', 'ops', superuser=True)
    # mongo_timeout: a registry query under valgrind takes ~1 s
    b = broker(options={'autosub_tags': True, 'revalidate_interval': '1s',
                        'mongo_timeout': '15s',
                        'stats_interval': '1s',
                        'stats_file': str(workdir / 'stats.json'),
                        'acl_deny_action': 'disconnect'})
    t = 30      # everything is slow under valgrind
    c1 = mqtt(b, d1.username, d1.secret, client_id='vg1', proto=5)
    c2 = mqtt(b, d2.username, d2.secret, client_id='vg2', proto=4,
              clean=False)
    admin = mqtt(b, ops.username, ops.secret, client_id='vg-ops', proto=5)
    assert (c1.connack, c2.connack, admin.connack) == (0, 0, 0)
    assert admin.subscribe('#', 1, timeout=t) == [1]
    assert c1.publish('upload_data/p1/d1/t/m1', 'x', 1, timeout=t) == 0
    assert c1.subscribe('tags/p1/+/cmd/+/+/+/#', 1, timeout=t) == [1]
    admin.publish('cmd/p1/d1/reboot/json/r1', 'x', 1, timeout=t)
    admin.publish('tags/p1/t1/cmd/reboot/json/r2', 'x', 1, timeout=t)
    assert {m.topic for m in c1.wait_for(2, t)} == {
        'cmd/p1/d1/reboot/json/r1', 'tags/p1/t1/cmd/reboot/json/r2'}
    admin.publish('$CONTROL/iothub/v1', json.dumps({'commands': [
        {'command': 'invalidateDevice', 'username': 'p1/d1'},
        {'command': 'getStats'},
        {'command': 'kickClient', 'clientid': 'vg2'}]}), 1, timeout=t)
    assert c2.wait_disconnect(t)
    assert harness.pub(b.port, 'x', 'y', user='p1/d1', pw='wrong',
                       timeout=t)[0] == 5
    assert harness.pub(b.port, 'x', 'y', user='bad', pw='x', timeout=t)[0] == 5
    # a denied publish disconnects (acl_deny_action disconnect)
    c1.publish('upload_data/p1/d2/t/m1', 'x', 1, timeout=t)
    assert c1.wait_disconnect(t)
    c3 = mqtt(b, d1.username, d1.secret, client_id='vg3', proto=5)
    assert c3.connack == 0
    c3.publish('update_status/p1/d1/m2', 'x', 1, timeout=t)
    harness.wait_until(lambda: rabbit.list_queues().get(
        'iothub_message_publish', 0) >= 2, t, what='events in RabbitMQ')
    # live clients at shutdown: cleanup must release their state
    assert b.stop(timeout=120), 'exit status %s' % b.exit_code

    reports = sorted(workdir.glob('valgrind.*.log'))
    assert reports, 'no valgrind log'
    text = reports[-1].read_text(errors='replace')
    assert re.search(r'ERROR SUMMARY: 0 errors', text), text[-6000:]
    assert re.search(r'definitely lost: 0 bytes', text) or \
        'All heap blocks were freed' in text, text[-6000:]
    assert re.search(r'indirectly lost: 0 bytes', text) or \
        'All heap blocks were freed' in text, text[-6000:]
