# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""JWT clients end to end (issue 12, item 2; README "JWT authentication").

Tokens are minted here (hmac/hashlib for HS, python3-cryptography for RS
and ES) and presented by mosquitto_pub and paho, as the IotHub server's
internal clients do: a short username without '/', the JWT as password.
Every refusal is checked for its CONNACK and its one-line reason in the
broker log, which must never quote the token.

Run from the repository root:
    /usr/bin/python3 -m pytest test/integration/test_jwt.py -q
"""

import base64
import hashlib
import hmac
import json
import re
import subprocess
import time

import pytest

import harness
from test_ctl import CTL
from plugin_helpers import (PROTOS, PUBACK_OK, QUIET, RC_NOT_AUTHORIZED,
                            assert_accepted, assert_refused, refusal_regex,
                            unique_id)

pytestmark = pytest.mark.needs_plugin

SECRET = 'platform-jwt-secret-0123456789abcdef'
DIGEST = {'HS256': hashlib.sha256, 'HS384': hashlib.sha384,
          'HS512': hashlib.sha512}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def signing_input(claims, header):
    return (b64(json.dumps(header).encode()) + '.' +
            b64(json.dumps(claims).encode()))


def mint(claims, secret=SECRET, alg='HS256', header=None):
    """An HS token, as the IotHub server's jsonwebtoken makes them."""
    si = signing_input(claims, header or {'alg': alg, 'typ': 'JWT'})
    key = secret.encode() if isinstance(secret, str) else secret
    sig = hmac.new(key, si.encode(), DIGEST[alg]).digest()
    return si + '.' + b64(sig)


def server_claims(username, ttl=10, **extra):
    now = int(time.time())
    d = {'username': username, 'exp': now + ttl, 'iat': now}
    d.update(extra)
    return d


def opts(**kw):
    d = dict(QUIET, jwt_secret=SECRET, auth_fail_max=0)
    d.update({k: str(v) for k, v in kw.items()})
    return d


def pub(b, user, pw, proto='mqttv311', client_id=None, topic='svc/x'):
    return harness.pub(b.port, topic, 'hello', user=user, pw=pw, proto=proto,
                       client_id=client_id or unique_id('jwt'))


def refused(b, user, token, reason, username_re=None, secret=None):
    """Refused for MQTT 3.1.1 and 5, each with its log line, never with the
    token (``secret``: the credential that held it) in the log."""
    for proto in PROTOS:
        cid = unique_id('jwt')
        mark = b.log_mark()
        assert_refused(pub(b, user, token, proto=proto, client_id=cid), proto)
        b.wait_log(refusal_regex(cid, username_re if username_re is not None
                                 else re.escape(user),
                                 'invalid token: ' + reason),
                   since=mark, timeout=5)
    assert (secret or token) not in b.log_text()


# ----------------------------------------------------------------------
# accepted
# ----------------------------------------------------------------------
def test_server_token_admits_internal_client(broker):
    b = broker(options=opts())
    for proto in PROTOS:
        tok = mint(server_claims('Xk3_9aB'))
        assert_accepted(pub(b, 'Xk3_9aB', tok, proto=proto))
    for alg in ('HS384', 'HS512'):
        assert_accepted(pub(b, 'svc', mint(server_claims('svc'), alg=alg)))


def test_registry_still_decides_for_devices(mongo, broker):
    dev = mongo.add_device('p1', 'd1', secret='s3cret')
    b = broker(options=opts())
    assert_accepted(harness.pub(b.port, 'upload_data/p1/d1/t/m1', 'x',
                                user=dev.username, pw='s3cret'))
    # not a JWT: the registry refuses as before
    assert_refused(pub(b, 'svc', 'not.a-jwt'), 'mqttv311')


# ----------------------------------------------------------------------
# refused
# ----------------------------------------------------------------------
def test_refusals(broker):
    b = broker(options=opts())
    now = int(time.time())
    unsigned = signing_input(server_claims('svc'), {'alg': 'none'}) + '.'
    refused(b, 'svc', unsigned, r'algorithm "none" is never accepted')
    refused(b, 'svc', mint(server_claims('svc'), secret='other-secret'),
            r'bad signature \(HS256\)')
    refused(b, 'svc', mint({'username': 'svc', 'exp': now - 5}),
            'token expired')
    refused(b, 'svc', mint({'username': 'svc', 'exp': now + 60,
                            'nbf': now + 3600}), 'token not yet valid')
    refused(b, 'svc', mint({'username': 'svc'}),
            r'no "exp" claim \(jwt_require_exp is true\)')
    refused(b, 'svc', b64(b'{"alg":') + '.' + b64(b'{}') + '.' + b64(b'x'),
            'malformed header: not valid JSON')
    refused(b, 'svc', mint(server_claims('svc'), header={'alg': 'RS256'}),
            'algorithm RS256 is not configured')
    si = b64(b'{"alg":"HS256"}') + '.' + b64(b'[1,2]')
    sig = hmac.new(SECRET.encode(), si.encode(), hashlib.sha256).digest()
    refused(b, 'svc', si + '.' + b64(sig), 'malformed payload: not a JSON object')
    big = mint(server_claims('svc', pad='x' * 9000))
    refused(b, 'svc', big, 'token over 8192 bytes')
    # duplicate alg: two parsers must never disagree on the algorithm
    si = b64(b'{"alg":"HS256","alg":"none"}') + '.' + b64(
        json.dumps(server_claims('svc')).encode())
    sig = hmac.new(SECRET.encode(), si.encode(), hashlib.sha256).digest()
    refused(b, 'svc', si + '.' + b64(sig), r'malformed header: "alg" given twice')


def test_claim_checks(broker):
    b = broker(options=opts(jwt_verify_claims='username=%u'))
    assert_accepted(pub(b, 'svc', mint(server_claims('svc'))))
    refused(b, 'svc', mint(server_claims('other')),
            r'claim check failed: "username" does not match jwt_verify_claims')
    refused(b, 'svc', mint({'exp': int(time.time()) + 10}),
            r'claim check failed: no "username" claim')


def test_leeway_and_optional_exp(broker):
    b = broker(options=opts(jwt_leeway='30s', jwt_require_exp='false'))
    now = int(time.time())
    assert_accepted(pub(b, 'svc', mint({'username': 'svc', 'exp': now - 5})))
    assert_accepted(pub(b, 'svc', mint({'username': 'svc'})))


# ----------------------------------------------------------------------
# RS256 / ES256 and algorithm confusion
# ----------------------------------------------------------------------
def _keys(tmp_path):
    crypto = pytest.importorskip('cryptography')
    del crypto
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    paths = {}
    for name, k in (('rsa', rsa_key), ('ec', ec_key)):
        pem = k.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        p = tmp_path / ('%s.pem' % name)
        p.write_bytes(pem)
        paths[name] = (p, pem)
    return rsa_key, ec_key, paths


def mint_asym(claims, key, alg):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import \
        decode_dss_signature
    si = signing_input(claims, {'alg': alg, 'typ': 'JWT'}).encode()
    if alg == 'RS256':
        sig = key.sign(si, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(si, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, 'big') + s.to_bytes(32, 'big')
    return si.decode() + '.' + b64(sig)


def test_rs256_and_algorithm_confusion(broker, tmp_path):
    rsa_key, ec_key, paths = _keys(tmp_path)
    path, pem = paths['rsa']
    b = broker(options=dict(QUIET, auth_fail_max=0, jwt_public_key=str(path)))
    assert_accepted(pub(b, 'svc', mint_asym(server_claims('svc'), rsa_key, 'RS256')))
    # an HS token "signed" with the public key as the HMAC secret
    refused(b, 'svc', mint(server_claims('svc'), secret=pem),
            'algorithm confusion: HS256 token, but only an asymmetric'
            ' jwt_public_key is configured')
    refused(b, 'svc', mint_asym(server_claims('svc'), ec_key, 'ES256'),
            'algorithm ES256 is not configured')


def test_es256(broker, tmp_path):
    rsa_key, ec_key, paths = _keys(tmp_path)
    b = broker(options=dict(QUIET, auth_fail_max=0, jwt_public_key=str(paths['ec'][0])))
    assert_accepted(pub(b, 'svc', mint_asym(server_claims('svc'), ec_key, 'ES256')))
    other = mint_asym(server_claims('svc'), rsa_key, 'RS256')
    refused(b, 'svc', other, 'algorithm RS256 is not configured')
    tok = mint_asym(server_claims('svc'), ec_key, 'ES256')
    bad = tok[:-4] + ('AAAA' if tok[-4:] != 'AAAA' else 'BBBB')
    refused(b, 'svc', bad, r'bad signature \(ES256\)')


def test_bad_key_file_refuses_to_start(broker, tmp_path):
    p = tmp_path / 'junk.pem'
    p.write_text('not a key\n')
    b = broker(options=dict(QUIET, auth_fail_max=0, jwt_public_key=str(p)), start=False)
    b.start(expect_fail=True)
    assert re.search(r'plugin_opt_jwt_public_key: .* holds no PEM public key',
                     b.log_text())


# ----------------------------------------------------------------------
# ACL: claim, templates, acl_nomatch, superuser
# ----------------------------------------------------------------------
def _pub_rc(mqtt, b, user, token, topic):
    c = mqtt(b, user, token, client_id=unique_id('jwt'), proto=5)
    assert c.connack == 0, c.connack
    rc = c.publish(topic, b'x', qos=1)
    c.disconnect()
    return rc


def test_acl_claim(broker, mqtt):
    b = broker(options=opts(jwt_acl_publish='tpl/%u/#'))
    acl = {'pub': ['up/%u/#'], 'sub': ['down/#'], 'all': ['both/#']}
    tok = mint(server_claims('svc', acl=acl))
    assert _pub_rc(mqtt, b, 'svc', tok, 'up/svc/1') in PUBACK_OK
    assert _pub_rc(mqtt, b, 'svc', tok, 'both/1') in PUBACK_OK
    assert _pub_rc(mqtt, b, 'svc', tok, 'up/other/1') == RC_NOT_AUTHORIZED
    # the claim replaces the templates
    assert _pub_rc(mqtt, b, 'svc', tok, 'tpl/svc/1') == RC_NOT_AUTHORIZED
    c = mqtt(b, 'svc', tok, client_id=unique_id('jwt'), proto=5)
    assert c.subscribe(['down/x', 'up/svc/1', 'both/+'], qos=1) == [1, RC_NOT_AUTHORIZED, 1]
    refused(b, 'svc', mint(server_claims('svc', acl={'pub': 'x/#'})),
            r'malformed payload: "acl.pub" is not an array')


def test_templates_then_nomatch(broker, mqtt):
    b = broker(options=opts(jwt_acl_publish='tpl/%u/#', jwt_acl_subscribe='s/%c',
                            jwt_acl_pubsub='ps/#'))
    tok = mint(server_claims('svc', ttl=60))
    assert _pub_rc(mqtt, b, 'svc', tok, 'tpl/svc/1') in PUBACK_OK
    assert _pub_rc(mqtt, b, 'svc', tok, 'ps/1') in PUBACK_OK
    assert _pub_rc(mqtt, b, 'svc', tok, 'tpl/other/1') == RC_NOT_AUTHORIZED
    # device templates are not for token clients
    assert _pub_rc(mqtt, b, 'svc', tok, 'upload_data/p/d/t/m') == RC_NOT_AUTHORIZED
    b2 = broker(options=opts(acl_nomatch='allow'))
    assert _pub_rc(mqtt, b2, 'svc', mint(server_claims('svc')), 'any/thing') in PUBACK_OK


def test_superuser_claim(broker, mqtt):
    b = broker(options=opts())
    tok = mint(server_claims('svc', is_superuser=True))
    # off by default: the claim means nothing
    assert _pub_rc(mqtt, b, 'svc', tok, 'cmd/p/d/x/json/1') == RC_NOT_AUTHORIZED
    b2 = broker(options=opts(jwt_superuser_claim='is_superuser'))
    assert _pub_rc(mqtt, b2, 'svc', tok, 'cmd/p/d/x/json/1') in PUBACK_OK
    plain = mint(server_claims('svc'))
    assert _pub_rc(mqtt, b2, 'svc', plain, 'cmd/p/d/x/json/1') == RC_NOT_AUTHORIZED


def test_jwt_from_username_never_logs_token(broker):
    b = broker(options=opts(jwt_from='username'))
    tok = mint(server_claims('ignored'))
    assert_accepted(pub(b, tok, 'anything'))
    bad = mint(server_claims('ignored'), secret='wrong')
    refused(b, bad, 'x', r'bad signature \(HS256\)', username_re=r'\(token\)',
            secret=bad)


# ----------------------------------------------------------------------
# expiry and events
# ----------------------------------------------------------------------
def test_expiry_disconnects_with_token_expired(mongo, rabbit, broker, mqtt):
    from test_events import Q_CONN, Q_DISC, Q_PUB, collect
    b = broker(options=opts(jwt_acl_publish='upload_data/#',
                            event_publish_topic='upload_data/#'))
    stay = mqtt(b, 'svc2', mint(server_claims('svc2', ttl=600)), client_id='stay', proto=5)
    c = mqtt(b, 'svc', mint(server_claims('svc', ttl=3)), client_id='short', proto=5)
    assert c.connack == 0 and stay.connack == 0
    assert c.publish('upload_data/x/y/z/1', b'payload', qos=1) in PUBACK_OK
    assert c.wait_disconnect(15), 'not disconnected at exp'
    b.wait_log(r'iothub: token of client short \(username svc\) expired', timeout=5)
    dis = collect(rabbit, Q_DISC, 1, timeout=20)
    assert [(e.doc['client_id'], e.doc['reason']) for e in dis] == [('short', 'token_expired')]
    con = collect(rabbit, Q_CONN, 2, timeout=20)
    assert sorted(e.doc['client_id'] for e in con) == ['short', 'stay']
    assert [e.doc['username'] for e in con if e.doc['client_id'] == 'short'] == ['svc']
    pubs = collect(rabbit, Q_PUB, 1, timeout=20)
    assert pubs[0].doc['topic'] == 'upload_data/x/y/z/1'
    assert stay.connected


def test_no_disconnect_when_off(broker, mqtt):
    b = broker(options=opts(jwt_disconnect_on_expiry='false'))
    c = mqtt(b, 'svc', mint(server_claims('svc', ttl=2)), client_id='keep', proto=5)
    assert c.connack == 0
    assert not c.wait_disconnect(4)


# ----------------------------------------------------------------------
# iothubctl token
# ----------------------------------------------------------------------
def test_iothubctl_token(broker, mqtt, tmp_path):
    secret_file = tmp_path / 'jwt.secret'
    secret_file.write_text(SECRET + '\n')
    b = broker(options=opts())
    out = subprocess.run([str(CTL), 'token', '--secret-file', str(secret_file),
                          '--ttl', '30s', '--acl', '{"pub":["ctl/#"]}', 'svc'],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    tok = out.stdout.strip()
    header, payload, _ = tok.split('.')
    claims = json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))
    assert claims['username'] == 'svc' and claims['exp'] - claims['iat'] == 30
    assert claims['acl'] == {'pub': ['ctl/#']}
    assert _pub_rc(mqtt, b, 'svc', tok, 'ctl/1') in PUBACK_OK
    assert _pub_rc(mqtt, b, 'svc', tok, 'other/1') == RC_NOT_AUTHORIZED
    js = subprocess.run([str(CTL), '--json', 'token', '--secret-file', str(secret_file), 'svc'],
                        capture_output=True, text=True, timeout=30)
    doc = json.loads(js.stdout)
    assert js.returncode == 0 and doc['username'] == 'svc'
    assert doc['exp'] - int(time.time()) in range(5, 11)     # the default ttl, 10 s
    assert_accepted(pub(b, 'svc', doc['token']))
    bad = subprocess.run([str(CTL), 'token', '--secret-file', str(secret_file),
                          '--acl', '{"pub":', 'svc'], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and 'acl' in bad.stderr
