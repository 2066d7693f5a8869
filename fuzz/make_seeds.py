#!/usr/bin/python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Write the seed corpora under fuzz/corpus/<target>/ (committed; rerun
after changing an input format). Each seed is a small, meaningful input in
the format documented at the top of fuzz/fuzz_<target>.c.

    /usr/bin/python3 fuzz/make_seeds.py
"""
import hashlib
import json
import os
import struct

import bson

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')


def save(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = 'seed-' + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), 'wb') as fh:
        fh.write(data)


def z(*fields):
    return b'\0'.join(f.encode() if isinstance(f, str) else f for f in fields)


# ---- names: max | name \0 username \0 client id \0 address \0 password
for user, pw in [('p1/d1', 's1'), ('p1/d1', 'wrong'), ('p1/sus', 's3'), ('p1/admin', 'adm'),
                 ('p1/nobody', 'x'), ('p1/d1/x', 's1'), ('p1/+', 's1'), ('#/d1', 's1'), ('/d1', 's1'),
                 ('产品/设备', 'x'), ('p1/d\x7f', 'x'), ('p1/' + 'd' * 300, 'x')]:
    save('names', b'\xff' + z('d1', user, 'client-1', '127.0.0.1', pw))
save('names', b'\x10' + z(b'\xf0\xbf\xbf\xbf', b'p1/\xef\xbf\xbf', 'c', '10.0.0.1', 'x'))
save('names', b'\x80' + z(b'\xc0\xaf', b'p1/\xed\xa0\x80', b'c\x01', '::1', ''))
save('names', b'\xff' + z('a', 'p1/d1', 'c+#', '127.0.0.2', 's1'))

# ---- placeholder: flags | template \0 username \0 client id \0 topic
for tpl, user, cid, topic in [
        ('cmd/%u/+/+/+/#', 'p1/d1', 'c1', 'cmd/p1/d1/reboot/json/1'),
        ('m2m/%p/+/%d/+', 'p1/d1', 'c1', 'm2m/p1/d2/d1/7'),
        ('upload_data/%p/%d/+/+', 'p1/d1', 'c1', 'upload_data/p1/d1/temp/1'),
        ('inbox/%c/#', 'p1/d1', 'a/b', 'inbox/a/b/x'),
        ('inbox/%c/#', 'p1/d1', '#', 'inbox/x'),
        ('%c/x', 'p1/d1', '$SYS', '$SYS/x'),
        ('%u/%%/%c', 'p1/d1', 'c%1', 'p1/d1/%/c%1'),
        ('tags/%p/+/cmd/+/+/+/#', 'p1/d1', 'c1', 'tags/p1/t1/cmd/a/b/c'),
        ('a%c/x', 'p1/d1', 'c1', 'ac1/x'),
        ('x/%q', 'p1/d1', 'c1', 'x/y'),
        ('$CONTROL/%u', 'p1/d1', 'c1', '$CONTROL/p1/d1')]:
    save('placeholder', b'\x00' + z(tpl, user, cid, topic))
save('placeholder', b'\x05' + z('x/%u/%c', 'p1/d1', 'c1', 'x/+/+'))
save('placeholder', b'\x1a' + z('%p/%d/#', 'p+1/d1', 'c1', 'p/d/x'))

# ---- topic: filter A \0 filter B \0 topic
for a, b, t in [('a/+/c', 'a/#', 'a/b/c'), ('#', '$SYS/#', '$SYS/broker/load'), ('+/+', '/+', '/x'),
                ('a/#', 'a', 'a'), ('$share/g/cmd/#', 'cmd/+/#', 'cmd/p1'), ('+', '+/#', 'x'),
                ('a//b', 'a/+/b', 'a//b'), ('cmd/p1/d1/+/+/+/#', 'cmd/p1/+/#', 'cmd/p1/d1/x/y/z'),
                ('$share/g', '$share//x', '$shared/x'), ('#', '+/#', '$CONTROL/iothub/v1')]:
    save('topic', z(a, b, t))


# ---- autosub: op byte | strings
def op(kind, client=0, n=0, right=False, sel=0):
    """kind 5: sel 0 clear, 2 hold, 3 confirm (right: kept)."""
    for v in range(256):
        if v % 7 == kind and (v >> 3) % 4 == client and (kind != 0 or (v >> 5) % 5 == n) \
                and (kind != 5 or (v >> 5) % 4 == sel) \
                and (kind not in (2, 5) or (kind == 5 and sel != 3) or bool(v & 0x80) == right):
            return bytes([v])
    raise ValueError((kind, client, n))


def bind(client, filters):
    out = op(0, client, len(filters))
    for f, q in filters:
        out += bytes([q + 1]) + f.encode() + b'\0'
    return out


def s(x):
    return x.encode() + b'\0'


iot = [('cmd/p1/d1/+/+/+/#', 1), ('rpc/p1/d1/+/+/+/#', 1), ('m2m/p1/d1/+/+', 1)]
save('autosub', bind(0, iot) + op(6) + s('cmd/p1/d1/reboot/json/1') + op(6) + s('m2m/p1/d1/d2/5'))
save('autosub', bind(0, iot) + bind(1, [('cmd/p1/+/#', 0), ('tags/p1/t1/cmd/#', 2)]) + op(3, 0) + s('cmd/p1/d1/#')
     + op(6) + s('cmd/p1/d1/a/b/c') + op(4, 0) + s('cmd/p1/d1/#') + op(6) + s('cmd/p1/d1/a/b/c'))
save('autosub', bind(2, [('#', 1), ('+/x', 2), ('a', 0)]) + op(6) + s('a') + op(6) + s('$SYS/x')
     + op(2, 2, right=False) + op(6) + s('y/x') + op(2, 2, right=True) + op(6) + s('y/x'))
save('autosub', bind(3, [('a/b', 1), ('a/b', 2), ('bad/#/x', 1)]) + op(3, 3) + s('$share/g/a/b')
     + op(5, 3) + op(6) + s('a/b') + op(1, 3) + op(6) + s('a/b'))
# A resumed session: held subscriptions exclude nothing until confirmed.
save('autosub', bind(0, [('cmd/#', 1)]) + op(3, 0) + s('cmd/x') + op(5, 0, sel=2) + op(6) + s('cmd/x')
     + op(5, 0, sel=3, right=True) + op(6) + s('cmd/x') + op(5, 0, sel=2) + op(5, 0, sel=3, right=False)
     + op(6) + s('cmd/x') + op(5, 0, sel=2))

# ---- config: key \0 value pairs
for pairs in [
        [('autosub', 'cmd/%u/+/+/+/# 1'), ('autosub', 'm2m/%p/%d/+/+ 2'), ('autosub_tags', 'true')],
        [('amqp_uri', 'amqp://guest:guest@127.0.0.1:5672/'), ('spool_max_bytes', '1G'),
         ('spool_segment_bytes', '16M'), ('amqp_heartbeat', '30s')],
        [('amqp_uri', 'amqps://u:p@h:5671/vh'), ('amqp_cacert', '/x.pem'), ('amqp_verify_peer', 'off')],
        [('acl_publish', 'up/%u/#'), ('acl_deny', 'x/%c/#'), ('acl_nomatch', 'allow'), ('acl_deny_action', 'disconnect')],
        [('mongo_timeout', '250ms'), ('auth_cache_ttl', '2m'), ('auth_fail_max', '0'), ('username_max_len', '65535')],
        [('autosub', '+/%u/# 1'), ('acl_publish', 'a%c'), ('bogus_option', 'x')],
        [('acl_collection', 'none'), ('event_format', 'JSON'), ('amqp_queue_type', 'quorum'),
         ('event_publish_topic', 'upload_data/#')],
        [('spool_segment_bytes', '2G'), ('amqp_reconnect_min', '10m'), ('autosub', 'x 3')]]:
    save('config', z(*[x for p in pairs for x in p]))


# ---- device: flags | BSON device doc [| BSON acl doc]
def dev(doc, acl=None, flags=0):
    d = bson.encode(doc)
    if acl is None:
        return bytes([flags & ~1]) + d
    return bytes([flags | 1]) + struct.pack('>H', len(d)) + d + bson.encode(acl)


base = {'product_name': 'p1', 'device_name': 'd1', 'broker_username': 'p1/d1', 'secret': 's1',
        'status': 'active', 'tags': ['floor1', 'east'], 'tags_version': 3}
save('device', dev(base))
save('device', dev(dict(base, password_hash='$7$101$abc$def', superuser=True)))
save('device', dev(base, {'broker_username': 'p1/d1', 'publish': ['up/%u/#'], 'subscribe': 'down/#',
                          'pubsub': [], 'deny': ['secret/#']}))
save('device', dev(dict(base, _acl=[{'publish': ['a/#']}, {'deny_publish': 'b'}], acl={'subscribe': ['c']})))
save('device', dev(dict(base, tags=['ok', 'bad/tag', 7, '', None], tags_version=2.5, status=None)))
save('device', dev(dict(base, deny=[1]), flags=0))
save('device', dev({'broker_username': 'p1/d1', 'secret': '', 'password_hash': None}))
save('device', dev(dict(base, broker_username='p1/d1/x')))
save('device', dev(dict(base, pub=['x'], nope='y', labels=['t']), flags=2))
save('device', dev(dict(base, tags_version=float('inf'), superuser='yes', status=3), flags=4))


# ---- event_encode: type | bits | seq(8) | at(8) | fields \0 ... | payload
def ev(t, bits, fields, payload=b''):
    return bytes([t, bits]) + struct.pack('>QQ', 1700000000000001, 1700000000000) + z(*fields) + b'\0' + payload


save('event_encode', ev(3, 0x01 | 0x04, ['client-1', 'p1/d1', '127.0.0.1', 'c0ffee', 'closed',
                                         'upload_data/p1/d1/temp/1'], b'{"t":21.5}'))
save('event_encode', ev(1, 0x44, ['c', 'p1/d1', '::1', 'x', '', '']))
save('event_encode', ev(2, 0x10, ['c"\\\n', b'p\xe4/d', '1.2.3.4', 'y', 'takeover', '']))
save('event_encode', ev(3, 0x22, ['c', 'anon', '', '', '', 'a/b'], bytes(range(256))))

# ---- spool: flags | chunks (kind u8, len u16 LE, bytes)
COMMIT, SEAL = 0x31435249, 0x4c414553


def rec(body, t=3, commit=COMMIT, at=1000, hi=42, lo=1):
    hdr = struct.pack('<IIIHHqQQ', commit, 0, len(body), t, 0, at, hi, lo)
    out = hdr + body
    return out + b'\0' * ((-len(out)) % 8)


def chunk(kind, data):
    return bytes([kind]) + struct.pack('<H', len(data)) + data


def ckpt(seq, off):
    return struct.pack('<QQ', seq, off)


recs = rec(b'hello') + rec(b'{"a":1}', t=1, lo=2) + rec(b'x' * 100, t=2, lo=3)
save('spool', b'\x01' + chunk(0, b'\x01' + recs) + chunk(3, b'new event'))
save('spool', b'\x05' + chunk(0, b'\x01' + recs) + chunk(0, b'\x02' + rec(b'second')) + chunk(1, ckpt(1, 64 + 48)))
save('spool', b'\x05' + chunk(0, b'\x03' + recs + struct.pack('<I', SEAL)) + chunk(1, ckpt(3, 65)))
save('spool', b'\x01' + chunk(0, b'\x01' + rec(b'a') + b'\xff' * 40 + rec(b'b', lo=2)) + chunk(2, b'junk'))
save('spool', b'\x00' + chunk(0, b'\x07' + recs[:60]) + chunk(6, b'spare') + chunk(3, b'z' * 300))
save('spool', b'\x0b' + chunk(0, b'\x01' + recs) + chunk(3, b'a') + chunk(3, b'b'))
save('spool', b'\x02' + chunk(0, b'\x01' + b'IHSPSEG1' + b'\0' * 56))
# Regression: the 8th record (where the target releases) ends a sealed
# segment and another follows; release() used to unmap the segment the
# reader was still in (use-after-free).
eight = b''.join(rec(b'r%d' % i, lo=i + 1) for i in range(8))
save('spool', b'\x01' + chunk(0, b'\x01' + eight + struct.pack('<I', SEAL)) + chunk(0, b'\x02' + rec(b'next', lo=9)))

# ---- control: selector | payload
for sel, payload in [
        (3, {'commands': [{'command': 'kickDevice', 'username': 'p1/d1', 'correlationData': '42'}]}),
        (3, {'commands': [{'command': 'kickClient', 'clientid': 'd1a'}, {'command': 'getStats'}]}),
        (3, {'commands': [{'command': 'invalidateDevice', 'username': 'p1/d1'},
                          {'command': 'invalidateDevice', 'username': 'bad'}, {'command': 'nope'}, 7, {}]}),
        (0, {'commands': [{'command': 'kickDevice', 'username': 'p1/admin'}]}),
        (1, {'commands': [{'command': 'getStats'}]}),
        (2, {'commands': []}),
        (3, {'commands': {'command': 'getStats'}}),
        (3, {'commands': [{'command': 'kickClient', 'clientid': ''}] * 101})]:
    save('control', bytes([sel]) + json.dumps(payload).encode())
save('control', b'\x03{"commands":[{"command":"kickClient","clientid":"a\\u0000b","correlationData":"\\udc00"}]}')
save('control', b'\x03not json')


# ---- preload_state: max_len byte | the state file
for body in [b'iothub-preload 1\nend 0\n',
             b'iothub-preload 1\np1/d1\np1/d2\nend 2\n',
             b'iothub-preload 1\np1/d1\n',
             b'iothub-preload 1\np1/d1\nend 2\n',
             b'iothub-preload 1\nno-slash\nend 1\n',
             b'iothub-preload 1\n\xe4\xba\xa7\xe5\x93\x81/\xe8\xae\xbe\xe5\xa4\x87\nend 1\n',
             b'iothub-preload 2\nend 0\n',
             b'iothub-preload 1\nend 0\ntrailing\n']:
    save('preload_state', b'\xff' + body)

# ---- jwt: flags | username \0 client id \0 token (fuzz/fuzz_jwt.c)
def _b64(b):
    import base64
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()


def _si(header, claims):
    return _b64(json.dumps(header).encode()) + '.' + _b64(json.dumps(claims).encode())


for flags, header, claims in [
        (1, {'alg': 'HS256', 'typ': 'JWT'}, {'username': 'svc', 'exp': 1700000010, 'iat': 1700000000}),
        (1, {'alg': 'HS256'}, {'username': 'svc', 'exp': 1700000010, 'su': True,
                               'acl': {'pub': ['a/%u/#'], 'sub': ['b/+'], 'all': ['c']}}),
        (3, {'alg': 'HS256'}, {'nbf': 1700000100, 'acl': {'pub': 'x'}}),
        (3, {'alg': 'ES256'}, {'exp': 1700000010}),
        (1, {'alg': 'none'}, {'exp': 1700000010}),
        (1, {'alg': 'HS256', 'crit': ['b64']}, {'exp': 1.7e9}),
        (0, {'alg': 'RS256'}, {'exp': 1700000010})]:
    save('jwt', bytes([flags]) + z('svc', 'c1', _si(header, claims)))
save('jwt', b'\x00' + z('svc', 'c1', 'eyJ.eyJ.'))
save('jwt', b'\x01' + z('', '', _b64(b'{"alg":"HS256","alg":"none"}') + '.' + _b64(b'{"exp":1e30}')))

# ---- helper: datagrams of the registry worker's process, each a 2-byte
# length then header (type, flags, pad, count, value) and payload
# (fuzz/fuzz_helper.c, registry/helper_proto.h)
def dg(t, flags, count, value, payload=b''):
    b = struct.pack('<BBHIq', t, flags, 0, count, value) + payload
    return struct.pack('<H', len(b)) + b


_hdoc = b'\x02u\x00' + struct.pack('<i', 6) + b'p1/d1\x00'
_hdoc = struct.pack('<i', 4 + len(_hdoc) + 1) + _hdoc + b'\x00'
_health = (struct.pack('<QQ', 3, 1) + b'registry down'.ljust(256, b'\0')
           + struct.pack('<QQQQ', 5, 1, 0, 2) + b'\x01' + b'\0' * 7)
for data in [dg(32, 2 | 4, 5, 1000, b'p1/d1\x00' + _hdoc),
             dg(32, 1, 5, 7, b'p1/d2\x00'),
             dg(32, 2 | 8, 5, 7, b'p1/d3\x00'),
             dg(34, 0, 8, 0, b'iothub: hello\x00'),
             dg(33, 0, 0, 0, _health),
             dg(35, 0, 2, 0, b'a/b\x00c/d\x00'),
             dg(32, 6, 5, 1, b'p1/d1\x00' + _hdoc) + dg(33, 0, 0, 0, _health)]:
    save('helper', data)
