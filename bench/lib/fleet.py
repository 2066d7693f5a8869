#!/usr/bin/python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""The benchmark fleet, written once for every configuration.

    fleet.py registry MONGO_URI DB [--devices N]   bulk-load the plugin's registry
    fleet.py dynsec FILE [--devices N]             dynamic-security.json for
                                                   mosquitto_dynamic_security.so

Devices are ``bench/d<i>`` with secret ``pw<i>`` (i = 0..N-1), so loadgen
addresses them with ``--user 'bench/d%i' --pass 'pw%i'``.  ``svc/biz``
(secret ``bizpw``) is the business/service client: a superuser in the
registry, a role allowing everything in dynamic security.

The dynamic-security file holds what the plugin's default configuration
grants a device (docs/PROTOCOL.md §4).  Mosquitto 2.0.11's dynamic security
has no %u/%c substitution in ACL topics, so every device gets its own role
with its own topics (one shared role holds the product-wide tags grants);
that is how a dynsec deployment expresses per-device ACLs.  Passwords are
stored the way dynsec stores them (plugins/dynamic-security/auth.c):
PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt, base64.
"""
import argparse
import base64
import hashlib
import json
import os
import sys

PRODUCT = 'bench'
SVC_USER, SVC_PASS = 'svc/biz', 'bizpw'
DYNSEC_ITERATIONS = 101      # PW_DEFAULT_ITERATIONS in 2.0.11


def devices(n):
    for i in range(n):
        yield i, '%s/d%d' % (PRODUCT, i), 'pw%d' % i


def cmd_registry(args):
    import pymongo
    client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=5000)
    db = client[args.db]
    db.devices.drop()
    db.device_acl.drop()
    docs = [{'product_name': PRODUCT, 'device_name': u.split('/')[1],
             'broker_username': u, 'secret': pw, 'status': 'active',
             'tags': ['floor1'], 'tags_version': 1}
            for _, u, pw in devices(args.devices)]
    docs.append({'product_name': 'svc', 'device_name': 'biz',
                 'broker_username': SVC_USER, 'secret': SVC_PASS,
                 'status': 'active', 'superuser': True, 'tags': []})
    for i in range(0, len(docs), 5000):
        db.devices.insert_many(docs[i:i + 5000], ordered=False)
    n = db.devices.count_documents({})
    client.close()
    if n != args.devices + 1:
        sys.exit('registry: %d documents, expected %d' % (n, args.devices + 1))


def dynsec_client(username, password, roles):
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac('sha512', password.encode(), salt,
                                 DYNSEC_ITERATIONS)
    return {'username': username,
            'password': base64.b64encode(digest).decode(),
            'salt': base64.b64encode(salt).decode(),
            'iterations': DYNSEC_ITERATIONS,
            'roles': [{'rolename': r} for r in roles]}


def acl(kind, topic):
    return {'acltype': kind, 'topic': topic, 'allow': True}


def device_role(user):
    p, d = user.split('/')
    send = ['upload_data/%s/%s/+/+', 'update_status/%s/%s/+',
            'update_ota_status/%s/%s/+', 'cmd_resp/%s/%s/+/+/+',
            'rpc_resp/%s/%s/+/+/+', 'get/%s/%s/+/+']
    own = ['cmd/%s/%s/+/+/+/#', 'rpc/%s/%s/+/+/+/#']
    acls = [acl('publishClientSend', t % (p, d)) for t in send]
    acls.append(acl('publishClientSend', 'm2m/%s/+/%s/+' % (p, d)))
    # What the plugin's auto-subscription delivers; here the device
    # subscribes itself, so it needs both grants.
    for t in [t % (p, d) for t in own] + ['m2m/%s/%s/+/+' % (p, d)]:
        acls.append(acl('subscribePattern', t))
        acls.append(acl('publishClientReceive', t))
    return {'rolename': 'device:' + user, 'acls': acls}


def cmd_dynsec(args):
    product = 'product:' + PRODUCT
    roles = [{'rolename': product, 'acls': [
        acl('subscribePattern', 'tags/%s/+/cmd/+/+/+/#' % PRODUCT),
        acl('publishClientReceive', 'tags/%s/+/cmd/+/+/+/#' % PRODUCT)]},
        {'rolename': 'service', 'acls': [
            acl('publishClientSend', '#'), acl('subscribePattern', '#'),
            acl('publishClientReceive', '#')]}]
    clients = [dynsec_client(SVC_USER, SVC_PASS, ['service'])]
    for _, user, pw in devices(args.devices):
        roles.append(device_role(user))
        clients.append(dynsec_client(user, pw, ['device:' + user, product]))
    doc = {'defaultACLAccess': {'publishClientSend': False,
                                'publishClientReceive': False,
                                'subscribe': False, 'unsubscribe': True},
           'clients': clients, 'groups': [], 'roles': roles}
    tmp = args.file + '.tmp'
    with open(tmp, 'w') as fh:
        json.dump(doc, fh, separators=(',', ':'))
    os.replace(tmp, args.file)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('registry')
    r.add_argument('uri')
    r.add_argument('db')
    r.add_argument('--devices', type=int, default=10000)
    d = sub.add_parser('dynsec')
    d.add_argument('file')
    d.add_argument('--devices', type=int, default=10000)
    args = ap.parse_args()
    {'registry': cmd_registry, 'dynsec': cmd_dynsec}[args.cmd](args)


if __name__ == '__main__':
    main()
