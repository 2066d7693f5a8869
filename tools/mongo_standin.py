#!/usr/bin/python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""MongoDB wire-compatible stand-in for development and tests.

Debian ships no mongod, so tests and the demo talk to this process instead.
It is built from two Debian packages:

* ``python3-mockupdb`` parses the wire protocol (OP_MSG including kind-1
  document sequences, legacy OP_QUERY commands used for the first
  handshake, and legacy OP_QUERY finds, which pymongo 3.11 still uses for
  exhaust cursors) and frames the replies;
* ``python3-mongomock`` executes queries, updates and aggregations.

Everything between the two -- command dispatch, reply shapes, cursors, write
error reporting, unique-index checks, persistence, fault injection -- lives
here.  It impersonates a standalone MongoDB 5.0 (maxWireVersion 13), so
libmongoc 1.23 and pymongo 3.11 both speak OP_MSG to it and neither uses
retryable writes, transactions or change streams (those need a replica set;
requesting them fails with the same error codes a standalone mongod gives).

Usage::

    /usr/bin/python3 tools/mongo_standin.py --port N [--host 127.0.0.1]
        [--data FILE] [--delay-ms MS] [--pidfile F] [--verbose]

Prints ``mongo-standin listening on HOST:PORT`` on stdout once it accepts
connections (``--port 0`` picks a free port and prints it).  Errors go to
stderr; ``--verbose`` also logs every command there.  SIGTERM / SIGINT stop
it cleanly (exit status 0).

Persistence (``--data FILE``): all databases, collections and indexes are
loaded from FILE at startup (MongoDB extended JSON, canonical mode) and
written back after every write command: FILE.tmp is written, fsync'ed and
renamed over FILE, so a crash never leaves a torn file.

Fault injection, at runtime, through any driver's ``db.command(...)``:

* ``{"standinSetDelay": MS}`` delays the reply to every later command by MS
  milliseconds (0 turns it off).  Add ``"only": ["find", "insert", ...]`` to
  delay only those commands (e.g. leave ``hello``/``isMaster`` fast so the
  driver keeps seeing the server while queries time out).  The reply holds
  the previous setting in ``was``.  ``--delay-ms`` sets the initial delay
  for all commands.  The delay is a sleep on the connection's own thread,
  before the command runs, so other connections are not held up.
* ``{"configureFailPoint": "failCommand", "mode": "alwaysOn" | "off" |
  {"times": N}, "data": {"failCommands": [...], "errorCode": C,
  "closeConnection": bool, "blockConnection": bool, "blockTimeMS": MS}}``
  -- the subset of mongod's own test failpoint (enableTestCommands) that is
  useful here, so the same fault test also runs against a real server.

Speed: the stand-in is a Python process, so its own pace can show up in
benchmark figures that are meant to measure the plugin.  A real mongod with
an index on the username returns 10,000 registry records in tens of
milliseconds; so does the stand-in for the registry's own queries (a
``$match`` on one field, ``{}``, then ``$limit`` / ``$lookup``): equality
on one top-level field goes through a hash table (``_EqualityIndex``),
documents are copied shallowly instead of mongomock's field-by-field copy,
and replies are framed without mockupdb's eager log rendering; the GIL
switch interval is 0.5 ms instead of 5, so a small query is not held up
behind another connection's large batch.  With the
C BSON codec (Debian ``python3-bson-ext``, in tools/deps.sh) 10,000
records take it about 0.2 s; without it, and before these shortcuts, 1 to
3.5 s, which is what once kept the restart-storm benchmark (bench/
scenarios/51-restart.sh) far above its goal.  Anything else goes through
mongomock and is as slow as mongomock is.

Known gaps (mongomock limits): ``$lookup`` with ``let``/``pipeline``,
pipeline-style updates, ``arrayFilters``, collations, ``$text``; these fail
with an error reply rather than a wrong answer.  Authentication is not
implemented (do not put credentials in the URI).
"""

import argparse
import collections
import datetime
import itertools
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback

import bson
from bson import json_util
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from bson.son import SON

import mockupdb
import mongomock
from mongomock import aggregate as mm_aggregate
from mongomock import filtering as mm_filtering
from pymongo.errors import DuplicateKeyError, OperationFailure, WriteError

# Decode every request without interpreting UUID binaries: mockupdb's default
# (pymongo 3's PYTHON_LEGACY) turns subtype-4 binaries into uuid.UUID and
# writes them back as subtype 3, silently changing stored documents.  The
# unpack functions read this module global at call time.
mockupdb.CODEC_OPTIONS = CodecOptions(
    document_class=collections.OrderedDict,
    uuid_representation=UuidRepresentation.UNSPECIFIED)
# mockupdb 1.8 has exhaustAllowed as 16; the OP_MSG spec has bit 16 (1 << 16),
# and with the wrong value a driver that sets it (exhaust cursors) would get
# "reserved bits set" and a dropped connection.  Replies never set
# moreToCome, which ends an exhaust stream after one batch, as allowed.
mockupdb.OP_MSG_FLAGS['exhaustAllowed'] = 1 << 16
mockupdb._ALL_OP_MSG_FLAGS = 1 | 2 | (1 << 16)
# Same reason for the data file: keep binaries as they are.
JSON_OPTIONS = json_util.JSONOptions(
    json_mode=json_util.JSONMode.CANONICAL,
    uuid_representation=UuidRepresentation.UNSPECIFIED)

MAX_WIRE_VERSION = 13          # MongoDB 5.0: OP_MSG, hello, no OP_QUERY finds
SERVER_VERSION = '5.0.0'
MAX_BSON_SIZE = 16 * 1024 * 1024
MAX_MESSAGE_SIZE = 48000000
MAX_WRITE_BATCH = 100000
DEFAULT_FIRST_BATCH = 101      # mongod's default first batch for find
CURSOR_IDLE_SECONDS = 600      # mongod's default cursor timeout

# Commands after which the data file is rewritten.
WRITE_COMMANDS = {
    'insert', 'update', 'delete', 'findandmodify', 'createindexes',
    'dropindexes', 'deleteindexes', 'drop', 'dropdatabase', 'create',
    'renamecollection', 'aggregate',
}
# Handshake commands; never subject to the failCommand failpoint.
HANDSHAKE_COMMANDS = {'hello', 'ismaster'}

CODE_NAMES = {
    2: 'BadValue', 8: 'UnknownError', 9: 'FailedToParse',
    20: 'IllegalOperation', 26: 'NamespaceNotFound', 27: 'IndexNotFound',
    43: 'CursorNotFound', 48: 'NamespaceExists', 59: 'CommandNotFound',
    66: 'ImmutableField', 72: 'InvalidOptions', 73: 'InvalidNamespace',
    85: 'IndexOptionsConflict', 86: 'IndexKeySpecsConflict',
    11000: 'DuplicateKey', 40573: 'Location40573',
}


# mongomock evaluates every filter against every document, in Python: with
# the 10,000 devices of the benchmark one registry lookup took ~17 ms (an
# aggregate, which copies the whole collection first, ~0.9 s), so the
# stand-in, not the plugin, set the pace of a connect storm.  Equality on one
# top-level field (the registry's {broker_username: U} and
# {broker_username: {$in: [...]}}) therefore goes through a hash table of
# that field, built on first use and dropped after every write command;
# mongomock's own filter still decides on the candidates, so results (and
# their natural order) are what mongomock alone would return.
_MISSING = object()


def _simple_equality(flt):
    """(field, values) for {f: str} or {f: {$in: [str, ...]}}, else None."""
    if not isinstance(flt, dict) or len(flt) != 1:
        return None
    field, value = next(iter(flt.items()))
    if not isinstance(field, str) or field.startswith('$') or '.' in field:
        return None
    if isinstance(value, str):
        return field, (value,)
    if (isinstance(value, dict) and list(value) == ['$in']
            and isinstance(value['$in'], list)
            and all(isinstance(v, str) for v in value['$in'])):
        return field, value['$in']
    return None


class _EqualityIndex:
    """Per (collection store, field): str value -> [(position, document)].

    Only valid between writes: StandinServer.execute() sets ``writing``
    around every write command and calls ``clear()`` after it.
    """

    def __init__(self):
        self.writing = False
        self.tables = {}

    def clear(self):
        self.tables.clear()

    def candidates(self, store, field, values):
        docs = getattr(store, '_documents', None)
        if self.writing or docs is None or getattr(store, '_ttl_indexes', True):
            return None
        key = (id(store), field)
        table = self.tables.get(key)
        if table is None:
            by_value, others = {}, []
            for pos, doc in enumerate(docs.values()):
                v = doc.get(field, _MISSING)
                if isinstance(v, str):
                    by_value.setdefault(v, []).append((pos, doc))
                elif v is not _MISSING:     # arrays etc.: mongomock decides
                    others.append((pos, doc))
            table = self.tables[key] = (by_value, others)
        # (position, document, exact): a string hit is a match by
        # construction; only the others need mongomock's filter.
        hits = [(pos, doc, False) for pos, doc in table[1]]
        for v in set(values):
            hits.extend((pos, doc, True) for pos, doc in table[0].get(v, ()))
        hits.sort(key=lambda h: h[0])
        return [(doc, exact) for _, doc, exact in hits]


    def matching(self, store, flt):
        """Shallow copies of the documents of ``store`` matching ``flt``
        ({} or a _simple_equality filter), in natural order; None when
        this index cannot serve it (mongomock then decides).

        mongomock's own find deep-copies every document field by field
        (and re-patches its datetimes, already patched on insert): for
        the preload's 10,000 records that copy, not the match, was most of
        the stand-in's time.  A shallow copy is enough where only $limit
        and $lookup (which sets one top-level field) follow, and the
        result is only encoded into a reply.
        """
        if flt == {}:
            docs = getattr(store, '_documents', None)
            if self.writing or docs is None or getattr(store, '_ttl_indexes', True):
                return None
            return [d.copy() for d in docs.values()]
        eq = _simple_equality(flt)
        cands = None if eq is None else self.candidates(store, *eq)
        if cands is None:
            return None
        return [d.copy() for d, exact in cands
                if exact or mm_filtering.filter_applies(flt, d)]


EQ_INDEX = _EqualityIndex()


def _simple_lookup(stage):
    """The options of {$lookup: {from, localField, foreignField, as}} on
    top-level fields, else None (let/pipeline, dotted paths, ...)."""
    opts = stage.get('$lookup') if len(stage) == 1 else None
    if not isinstance(opts, dict) or set(opts) != {'from', 'localField', 'foreignField', 'as'}:
        return None
    if not all(isinstance(v, str) and v and not v.startswith('$') for v in opts.values()):
        return None
    if any('.' in opts[k] for k in ('localField', 'foreignField', 'as')):
        return None
    return opts


def _fast_pipeline(db, coll, match, stages):
    """The registry's pipelines ($match on one field or {}, then $limit and
    simple $lookup stages) served through EQ_INDEX; None for any other
    pipeline.  Same documents, in the same order, as mongomock's
    process_pipeline: a $lookup value that is not a string (missing,
    array, ...) goes through mongomock's own find, as there."""
    plan = []
    for st in stages:
        if len(st) == 1 and '$limit' in st and isinstance(st['$limit'], int) \
                and not isinstance(st['$limit'], bool) and st['$limit'] > 0:
            plan.append(('limit', st['$limit']))
            continue
        opts = _simple_lookup(st)
        if opts is None:
            return None
        plan.append(('lookup', opts))
    docs = EQ_INDEX.matching(coll._store, match)
    if docs is None:
        return None
    for kind, arg in plan:
        if kind == 'limit':
            del docs[arg:]
            continue
        foreign = db.get_collection(arg['from'])
        local, ff = arg['localField'], arg['foreignField']
        for doc in docs:
            value = doc.get(local)
            found = None
            if isinstance(value, str):
                found = EQ_INDEX.matching(foreign._store, {ff: value})
            if found is None:
                query = {'$in': value} if isinstance(value, list) else value
                found = list(foreign.find({ff: query}))
            doc[arg['as']] = found
    return docs
_mm_iter_documents = mongomock.collection.Collection._iter_documents


def _iter_documents(self, flt):
    eq = _simple_equality(flt)
    cands = None if eq is None else EQ_INDEX.candidates(self._store, *eq)
    if cands is None:
        return _mm_iter_documents(self, flt)
    # Evaluating {$in: [500 names]} on each of 500 candidates in Python
    # was most of a batched lookup's time (the preload's $in batches).
    return (d for d, exact in cands if exact or mm_filtering.filter_applies(flt, d))


mongomock.collection.Collection._iter_documents = _iter_documents


class CommandError(Exception):
    """A command failure reported as ``{ok: 0, errmsg, code, codeName}``."""

    def __init__(self, code, errmsg, **extra):
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg
        self.extra = extra

    def reply(self):
        doc = SON([('ok', 0.0), ('errmsg', self.errmsg), ('code', self.code),
                   ('codeName', CODE_NAMES.get(self.code, 'Error'))])
        doc.update(self.extra)
        return doc


class CloseConnection(Exception):
    """Raised by a handler to drop the connection without replying."""


def log(msg):
    sys.stderr.write('mongo-standin: %s\n' % msg)
    sys.stderr.flush()


def _int(value, default=0):
    """Numbers arrive as int32, int64 or double depending on the driver."""
    if value is None:
        return default
    return int(value)


def _dup_key_text(key_values):
    """mongod's ``dup key: { a: 1 }`` rendering (close enough for logs)."""
    parts = ', '.join('%s: %r' % (k, v) for k, v in key_values.items())
    return '{ %s }' % parts


class _Cursor:
    """A server-side cursor: the remaining documents of a find/aggregate."""

    def __init__(self, ns, docs):
        self.ns = ns
        self.docs = docs
        self.touched = time.monotonic()


class StandinServer:
    """Executes commands against an in-memory mongomock store.

    One lock guards mongomock, the cursor table and persistence: mockupdb
    serves every connection on its own thread and mongomock is not
    thread-safe.  Delays are applied outside the lock.
    """

    def __init__(self, data_path=None, delay_ms=0, verbose=False):
        self.lock = threading.RLock()
        self.client = mongomock.MongoClient()
        self.data_path = data_path
        self.verbose = verbose
        self.delay_ms = delay_ms
        self.delay_only = None          # None: all commands; else a set
        self.failpoint = None           # failCommand config, or None
        self.cursors = {}
        self.conn_ids = itertools.count(1)
        self.conn_count = 0
        self.started = time.time()
        self.handlers = {}
        for name in dir(self):
            if name.startswith('cmd_'):
                self.handlers[name[4:].lower()] = getattr(self, name)
        # Aliases whose spelling differs beyond case.
        self.handlers['ismaster'] = self.cmd_hello
        self.handlers['deleteindexes'] = self.cmd_dropindexes
        if data_path:
            self.load()

    # ------------------------------------------------------------------
    # Dispatch
    # ------------------------------------------------------------------
    def delay_for(self, name):
        """Seconds to hold the reply to command ``name`` back."""
        if name.startswith('standin'):
            return 0.0      # the knob itself must stay responsive
        if self.delay_only is not None and name not in self.delay_only:
            return 0.0
        return self.delay_ms / 1000.0

    def check_failpoint(self, name):
        """Apply the failCommand failpoint; returns an error reply or None."""
        with self.lock:
            fp = self.failpoint
            if fp is None or name in HANDSHAKE_COMMANDS:
                return None
            data = fp['data']
            if name not in {c.lower() for c in data.get('failCommands', [])}:
                return None
            if fp['times'] is not None:
                fp['times'] -= 1
                if fp['times'] <= 0:
                    self.failpoint = None
        if data.get('blockConnection'):
            time.sleep(_int(data.get('blockTimeMS')) / 1000.0)
        if data.get('closeConnection'):
            raise CloseConnection()
        if 'errorCode' in data:
            return CommandError(
                _int(data['errorCode']),
                "Failing command via 'failCommand' failpoint").reply()
        return None

    def execute(self, db_name, cmd, conn):
        """Run one command document; returns the reply document."""
        name = next(iter(cmd), '')
        key = name.lower()
        delay = self.delay_for(key)
        if delay > 0:
            time.sleep(delay)
        failed = self.check_failpoint(key)
        if failed is not None:
            return failed
        handler = self.handlers.get(key)
        if handler is None:
            return CommandError(59, 'no such command: %s' % name).reply()
        if 'txnNumber' in cmd or 'startTransaction' in cmd:
            # What a standalone mongod answers; drivers only send these for
            # replica sets, so this only fires on a misconfigured client.
            return CommandError(
                20, 'Transaction numbers are only allowed on a replica set '
                    'member or mongos').reply()
        writes = key in WRITE_COMMANDS and (key != 'aggregate' or any(
            '$out' in st or '$merge' in st for st in cmd.get('pipeline') or []
            if isinstance(st, dict)))
        with self.lock:
            EQ_INDEX.writing = writes
            try:
                reply = handler(db_name, cmd, conn)
            except CommandError as exc:
                reply = exc.reply()
            except DuplicateKeyError as exc:
                reply = CommandError(11000, str(exc)).reply()
            except OperationFailure as exc:
                reply = CommandError(exc.code or 2, str(exc)).reply()
            except NotImplementedError as exc:
                reply = CommandError(
                    2, 'not supported by mongo_standin: %s' % exc).reply()
            except (ValueError, TypeError, KeyError) as exc:
                reply = CommandError(9, '%s: %s' % (name, exc)).reply()
            finally:
                if writes:
                    EQ_INDEX.writing = False
                    EQ_INDEX.clear()
                if key in WRITE_COMMANDS and self.data_path:
                    self.save()
            reply.setdefault('ok', 1.0)
            return reply

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def coll(self, db_name, cmd):
        name = next(iter(cmd.values()))
        if not isinstance(name, str) or not name:
            raise CommandError(73, 'collection name has invalid type %s'
                               % type(name).__name__)
        return self.client[db_name][name]

    @staticmethod
    def exists(coll):
        return coll.name in coll.database.list_collection_names()

    def cursor_reply(self, ns, docs, batch_size, single_batch=False):
        """Build ``{cursor: {id, ns, firstBatch}}``, parking any remainder."""
        if batch_size is None or batch_size <= 0:
            batch_size = len(docs)
        first, rest = docs[:batch_size], docs[batch_size:]
        cursor_id = 0
        if rest and not single_batch:
            self.reap_cursors()
            cursor_id = random.randint(1, 2 ** 62)
            self.cursors[cursor_id] = _Cursor(ns, rest)
        return {'cursor': SON([('id', Int64(cursor_id)), ('ns', ns),
                               ('firstBatch', first)])}

    def reap_cursors(self):
        now = time.monotonic()
        for cid, cur in list(self.cursors.items()):
            if now - cur.touched > CURSOR_IDLE_SECONDS:
                del self.cursors[cid]

    def unique_indexes(self, coll):
        yield '_id_', [('_id', 1)], {}
        for name, info in coll.index_information().items():
            if info.get('unique') and name != '_id_':
                yield name, info['key'], info

    def describe_duplicate(self, coll, doc):
        """Name the unique index ``doc`` collides with, as mongod does."""
        ns = '%s.%s' % (coll.database.name, coll.name)
        for name, key, info in self.unique_indexes(coll):
            values = SON()
            for field, _ in key:
                try:
                    values[field] = mongomock.helpers.get_value_by_dot(
                        doc, field)
                except KeyError:
                    values[field] = None
            if info.get('sparse') and all(v is None for v in values.values()):
                continue
            if coll.count_documents(dict(values)) > 0:
                msg = ('E11000 duplicate key error collection: %s index: %s '
                       'dup key: %s' % (ns, name, _dup_key_text(values)))
                return msg, SON((f, 1) for f, _ in key), values
        return ('E11000 duplicate key error collection: %s' % ns), None, None

    @staticmethod
    def write_error(index, exc, errmsg=None, **extra):
        code = getattr(exc, 'code', None) or 2
        if isinstance(exc, DuplicateKeyError):
            code = 11000
        elif code == 2 and 'immutable' in str(exc):
            code = 66       # ImmutableField, as mongod reports an _id change
        err = SON([('index', index), ('code', code),
                   ('codeName', CODE_NAMES.get(code, 'Error')),
                   ('errmsg', errmsg or str(exc))])
        err.update((k, v) for k, v in extra.items() if v is not None)
        return err

    @staticmethod
    def sort_list(sort):
        if not sort:
            return None
        return [(k, _int(v) if isinstance(v, (int, float)) else v)
                for k, v in sort.items()]

    # ------------------------------------------------------------------
    # Handshake and server information
    # ------------------------------------------------------------------
    def cmd_hello(self, db_name, cmd, conn):
        return SON([
            ('helloOk', True),
            ('ismaster', True),
            ('isWritablePrimary', True),
            # Deliberately no topologyVersion: without it drivers poll
            # instead of using the streaming (exhaust) monitoring protocol.
            ('maxBsonObjectSize', MAX_BSON_SIZE),
            ('maxMessageSizeBytes', MAX_MESSAGE_SIZE),
            ('maxWriteBatchSize', MAX_WRITE_BATCH),
            ('localTime', datetime.datetime.now(datetime.timezone.utc)),
            ('logicalSessionTimeoutMinutes', 30),
            ('connectionId', conn['id']),
            ('minWireVersion', 0),
            ('maxWireVersion', MAX_WIRE_VERSION),
            ('readOnly', False),
            ('ok', 1.0),
        ])

    def cmd_ping(self, db_name, cmd, conn):
        return {}

    def cmd_buildinfo(self, db_name, cmd, conn):
        return SON([('version', SERVER_VERSION),
                    ('versionArray', [5, 0, 0, 0]),
                    ('gitVersion', 'mongo_standin'),
                    ('modules', []), ('bits', 64),
                    ('maxBsonObjectSize', MAX_BSON_SIZE),
                    ('storageEngines', ['mongomock'])])

    def cmd_getparameter(self, db_name, cmd, conn):
        known = {'featureCompatibilityVersion': {'version': '5.0'},
                 'authenticationMechanisms': [],
                 'logLevel': 0}
        if cmd.get('getParameter') == '*':
            return dict(known)
        reply = {k: v for k, v in known.items() if k in cmd}
        if not reply:
            raise CommandError(72, 'no option found to get')
        return reply

    def cmd_serverstatus(self, db_name, cmd, conn):
        return SON([('host', socket.gethostname()),
                    ('version', SERVER_VERSION),
                    ('process', 'mongo_standin'), ('pid', Int64(os.getpid())),
                    ('uptime', time.time() - self.started),
                    ('localTime', datetime.datetime.now(
                        datetime.timezone.utc)),
                    ('connections', {'current': self.conn_count})])

    def cmd_whatsmyuri(self, db_name, cmd, conn):
        return {'you': conn['peer']}

    def cmd_connectionstatus(self, db_name, cmd, conn):
        return {'authInfo': {'authenticatedUsers': [],
                             'authenticatedUserRoles': []}}

    def cmd_endsessions(self, db_name, cmd, conn):
        return {}

    def cmd_refreshsessions(self, db_name, cmd, conn):
        return {}

    # ------------------------------------------------------------------
    # Fault injection
    # ------------------------------------------------------------------
    def cmd_standinsetdelay(self, db_name, cmd, conn):
        was = self.delay_ms
        self.delay_ms = max(0, _int(cmd['standinSetDelay']))
        only = cmd.get('only')
        self.delay_only = {c.lower() for c in only} if only else None
        return {'was': was, 'delayMs': self.delay_ms}

    def cmd_configurefailpoint(self, db_name, cmd, conn):
        if cmd['configureFailPoint'] != 'failCommand':
            raise CommandError(2, 'unknown failpoint %r (only failCommand)'
                               % cmd['configureFailPoint'])
        mode = cmd.get('mode')
        if mode == 'off':
            self.failpoint = None
        elif mode == 'alwaysOn':
            self.failpoint = {'times': None, 'data': cmd.get('data', {})}
        elif isinstance(mode, dict) and 'times' in mode:
            self.failpoint = {'times': _int(mode['times']),
                              'data': cmd.get('data', {})}
        else:
            raise CommandError(2, 'unsupported failpoint mode %r' % (mode,))
        return {}

    # ------------------------------------------------------------------
    # Reads
    # ------------------------------------------------------------------
    def cmd_find(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        limit = _int(cmd.get('limit'))
        single = bool(cmd.get('singleBatch')) or limit < 0
        limit = abs(limit)
        docs = list(coll.find(cmd.get('filter') or {},
                              projection=cmd.get('projection') or None,
                              sort=self.sort_list(cmd.get('sort')),
                              skip=_int(cmd.get('skip'))))
        if limit:
            docs = docs[:limit]
        batch = _int(cmd.get('batchSize'), DEFAULT_FIRST_BATCH)
        if limit and (batch == 0 or batch > limit):
            batch = limit
        return self.cursor_reply('%s.%s' % (db_name, coll.name), docs,
                                 batch, single)

    def cmd_getmore(self, db_name, cmd, conn):
        cid = _int(cmd['getMore'])
        cur = self.cursors.get(cid)
        if cur is None:
            raise CommandError(43, 'cursor id %d not found' % cid)
        batch = _int(cmd.get('batchSize')) or len(cur.docs)
        out, cur.docs = cur.docs[:batch], cur.docs[batch:]
        cur.touched = time.monotonic()
        if not cur.docs:
            del self.cursors[cid]
            cid = 0
        return {'cursor': SON([('id', Int64(cid)), ('ns', cur.ns),
                               ('nextBatch', out)])}

    def cmd_killcursors(self, db_name, cmd, conn):
        killed, missing = [], []
        for cid in cmd.get('cursors', []):
            if self.cursors.pop(_int(cid), None) is not None:
                killed.append(Int64(cid))
            else:
                missing.append(Int64(cid))
        return {'cursorsKilled': killed, 'cursorsNotFound': missing,
                'cursorsAlive': [], 'cursorsUnknown': []}

    def cmd_count(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        n = len(list(coll.find(cmd.get('query') or {},
                               skip=_int(cmd.get('skip')))))
        limit = abs(_int(cmd.get('limit')))
        if limit:
            n = min(n, limit)
        return {'n': n}

    def cmd_distinct(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        return {'values': coll.distinct(cmd['key'], cmd.get('query') or {})}

    def cmd_aggregate(self, db_name, cmd, conn):
        target = cmd['aggregate']
        pipeline = list(cmd.get('pipeline') or [])
        if 'cursor' not in cmd and not cmd.get('explain'):
            raise CommandError(
                9, "The 'cursor' option is required, except for aggregate "
                   "with the explain argument")
        if not isinstance(target, str):
            raise CommandError(
                2, 'collection-less aggregate is not supported by '
                   'mongo_standin')
        db = self.client[db_name]
        coll = db[target]
        stages = [next(iter(s), '') for s in pipeline]
        if '$changeStream' in stages:
            raise CommandError(40573, 'The $changeStream stage is only '
                                      'supported on replica sets')
        if stages and stages[0] == '$collStats':
            # What estimatedDocumentCount() sends to 4.9+ servers.
            spec = pipeline.pop(0)['$collStats']
            doc = SON([('ns', '%s.%s' % (db_name, target))])
            if 'count' in spec:
                doc['count'] = coll.count_documents({})
            docs = mm_aggregate.process_pipeline([doc], db, pipeline, None)
        elif stages and stages[0] == '$match':
            # mongomock's aggregate copies the whole collection before the
            # first stage: 1.5 s per lookup among 10,000 devices. A leading
            # $match is a find filter (served by EQ_INDEX), which copies only
            # what matches.
            match = pipeline.pop(0)['$match']
            docs = _fast_pipeline(db, coll, match, pipeline)
            if docs is None:
                docs = list(mm_aggregate.process_pipeline(
                    list(coll.find(match)), db, pipeline, None))
        else:
            docs = list(coll.aggregate(pipeline))
        batch = (cmd.get('cursor') or {}).get('batchSize')
        return self.cursor_reply('%s.%s' % (db_name, target), docs,
                                 None if batch is None else _int(batch))

    # ------------------------------------------------------------------
    # Writes
    # ------------------------------------------------------------------
    def cmd_insert(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        ordered = cmd.get('ordered', True)
        n, errors = 0, []
        for i, doc in enumerate(cmd.get('documents') or []):
            doc = dict(doc)
            try:
                coll.insert_one(doc)
                n += 1
            except DuplicateKeyError as exc:
                msg, pattern, values = self.describe_duplicate(coll, doc)
                errors.append(self.write_error(i, exc, msg, keyPattern=pattern,
                                               keyValue=values))
            except (WriteError, OperationFailure, ValueError,
                    bson.errors.InvalidDocument) as exc:
                errors.append(self.write_error(i, exc))
            if errors and ordered:
                break
        reply = SON([('n', n)])
        if errors:
            reply['writeErrors'] = errors
        return reply

    def _apply_update(self, coll, q, u, multi, upsert):
        """One update statement; returns mongomock's raw result."""
        if isinstance(u, list):
            raise NotImplementedError('pipeline-style updates')
        is_operator = bool(u) and next(iter(u)).startswith('$')
        if is_operator:
            method = coll.update_many if multi else coll.update_one
            return method(q, u, upsert=upsert).raw_result
        if multi:
            raise CommandError(9, 'multi update is not supported for '
                                  'replacement-style update')
        return coll.replace_one(q, u, upsert=upsert).raw_result

    def cmd_update(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        ordered = cmd.get('ordered', True)
        n = n_modified = 0
        upserted, errors = [], []
        for i, stmt in enumerate(cmd.get('updates') or []):
            try:
                if stmt.get('arrayFilters'):
                    raise NotImplementedError('arrayFilters')
                res = self._apply_update(coll, stmt.get('q') or {},
                                         stmt.get('u') or {},
                                         bool(stmt.get('multi')),
                                         bool(stmt.get('upsert')))
                n += res['n']
                n_modified += res['nModified']
                if res.get('upserted') is not None:
                    upserted.append(SON([('index', i),
                                         ('_id', res['upserted'])]))
            except DuplicateKeyError as exc:
                errors.append(self.write_error(
                    i, exc, 'E11000 duplicate key error collection: %s.%s'
                    % (db_name, coll.name)))
            except CommandError as exc:
                errors.append(self.write_error(i, exc, exc.errmsg))
            except NotImplementedError as exc:
                errors.append(self.write_error(
                    i, exc, 'not supported by mongo_standin: %s' % exc))
            except (WriteError, OperationFailure, ValueError, TypeError,
                    bson.errors.InvalidDocument) as exc:
                errors.append(self.write_error(i, exc))
            if errors and ordered:
                break
        reply = SON([('n', n), ('nModified', n_modified)])
        if upserted:
            reply['upserted'] = upserted
        if errors:
            reply['writeErrors'] = errors
        return reply

    def cmd_delete(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        ordered = cmd.get('ordered', True)
        n, errors = 0, []
        for i, stmt in enumerate(cmd.get('deletes') or []):
            try:
                q = stmt.get('q') or {}
                if _int(stmt.get('limit')) == 1:
                    n += coll.delete_one(q).deleted_count
                else:
                    n += coll.delete_many(q).deleted_count
            except (OperationFailure, ValueError, TypeError) as exc:
                errors.append(self.write_error(i, exc))
                if ordered:
                    break
        reply = SON([('n', n)])
        if errors:
            reply['writeErrors'] = errors
        return reply

    def cmd_findandmodify(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        query = cmd.get('query') or {}
        sort = self.sort_list(cmd.get('sort'))
        fields = cmd.get('fields') or None
        remove = bool(cmd.get('remove'))
        update = cmd.get('update')
        new = bool(cmd.get('new'))
        upsert = bool(cmd.get('upsert'))
        if remove and (update is not None or new or upsert):
            raise CommandError(9, 'Cannot specify both an update and remove'
                               '=true, or remove=true with new/upsert')
        if not remove and update is None:
            raise CommandError(9, 'Either an update or remove=true must be '
                                  'specified')
        if cmd.get('arrayFilters'):
            raise NotImplementedError('arrayFilters')

        matched = next(iter(coll.find(query, sort=sort, limit=1)), None)
        before = None
        if matched is not None:
            before = coll.find_one({'_id': matched['_id']}, fields)
        last_error = SON([('n', 0)])
        value = None
        if remove:
            if matched is not None:
                coll.delete_one({'_id': matched['_id']})
                last_error['n'] = 1
                value = before
            return SON([('lastErrorObject', last_error), ('value', value)])

        if matched is not None:
            # Keep the original filter next to the _id so positional
            # ($) updates still find their array element.
            q = dict(query)
            q['_id'] = matched['_id']
            self._apply_update(coll, q, update, False, False)
            last_error['n'] = 1
            last_error['updatedExisting'] = True
            value = coll.find_one({'_id': matched['_id']}, fields) \
                if new else before
        elif upsert:
            res = self._apply_update(coll, query, update, False, True)
            last_error['n'] = 1
            last_error['updatedExisting'] = False
            last_error['upserted'] = res['upserted']
            if new:
                value = coll.find_one({'_id': res['upserted']}, fields)
        else:
            last_error['updatedExisting'] = False
        return SON([('lastErrorObject', last_error), ('value', value)])

    # ------------------------------------------------------------------
    # Indexes
    # ------------------------------------------------------------------
    def cmd_createindexes(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        ns = '%s.%s' % (db_name, coll.name)
        existed = self.exists(coll)
        before = len(coll.index_information()) if existed else 1
        note = None
        for spec in cmd.get('indexes') or []:
            key = [(k, v) for k, v in spec['key'].items()]
            name = spec.get('name') or mongomock.helpers.gen_index_name(key)
            current = coll.index_information()
            if name in current:
                same_key = list(current[name]['key']) == key
                same_opts = all(bool(current[name].get(o)) == bool(spec.get(o))
                                for o in ('unique', 'sparse'))
                if not same_key:
                    raise CommandError(
                        86, 'An existing index has the same name as the '
                            'requested index but a different key: %s' % name)
                if not same_opts:
                    raise CommandError(
                        85, 'An existing index has the same name as the '
                            'requested index but different options: %s'
                            % name)
                note = 'all indexes already exist'
                continue
            for other, info in current.items():
                if list(info['key']) == key:
                    raise CommandError(
                        85, 'Index already exists with a different name: %s'
                            % other)
            kwargs = {'name': name}
            for opt in ('unique', 'sparse', 'expireAfterSeconds',
                        'partialFilterExpression'):
                if opt in spec:
                    kwargs[opt] = spec[opt]
            try:
                coll.create_index(key, **kwargs)
            except DuplicateKeyError:
                raise CommandError(
                    11000, 'Index build failed: E11000 duplicate key error '
                           'collection: %s index: %s' % (ns, name))
        reply = SON([('createdCollectionAutomatically', not existed),
                     ('numIndexesBefore', before),
                     ('numIndexesAfter', len(coll.index_information()))])
        if note and reply['numIndexesAfter'] == before:
            reply['note'] = note
        return reply

    def cmd_listindexes(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        if not self.exists(coll):
            raise CommandError(26, 'ns does not exist: %s.%s'
                               % (db_name, coll.name))
        docs = []
        for name, info in coll.index_information().items():
            doc = SON([('v', 2), ('key', SON(info['key'])), ('name', name)])
            for opt in ('unique', 'sparse', 'expireAfterSeconds',
                        'partialFilterExpression'):
                if opt in info:
                    doc[opt] = info[opt]
            docs.append(doc)
        batch = (cmd.get('cursor') or {}).get('batchSize')
        return self.cursor_reply('%s.%s' % (db_name, coll.name), docs,
                                 None if batch is None else _int(batch))

    def cmd_dropindexes(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        if not self.exists(coll):
            raise CommandError(26, 'ns not found %s.%s' % (db_name, coll.name))
        was = len(coll.index_information())
        which = cmd.get('index')
        if which == '*':
            coll.drop_indexes()
            return {'nIndexesWas': was}
        current = coll.index_information()
        if isinstance(which, dict):
            key = list(which.items())
            names = [n for n, info in current.items()
                     if list(info['key']) == key]
            if not names:
                raise CommandError(27, "can't find index with key: %s"
                                   % dict(which))
        else:
            names = [which] if isinstance(which, str) else list(which)
        for name in names:
            if name == '_id_':
                raise CommandError(72, 'cannot drop _id index')
            if name not in current:
                raise CommandError(27, 'index not found with name [%s]'
                                   % name)
        for name in names:
            coll.drop_index(name)
        return {'nIndexesWas': was}

    # ------------------------------------------------------------------
    # Collections and databases
    # ------------------------------------------------------------------
    def cmd_create(self, db_name, cmd, conn):
        db = self.client[db_name]
        name = cmd['create']
        if name in db.list_collection_names():
            raise CommandError(48, 'Collection already exists. NS: %s.%s'
                               % (db_name, name))
        db.create_collection(name)
        return {}

    def cmd_drop(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        if not self.exists(coll):
            # mongod < 7.0 answers this way; drivers ignore code 26 here.
            raise CommandError(26, 'ns not found')
        was = len(coll.index_information())
        coll.database.drop_collection(coll.name)
        self.drop_cursors('%s.%s' % (db_name, coll.name))
        return SON([('nIndexesWas', was), ('ns', '%s.%s'
                                           % (db_name, coll.name))])

    def cmd_dropdatabase(self, db_name, cmd, conn):
        self.client.drop_database(db_name)
        self.drop_cursors(db_name + '.')
        return {'dropped': db_name}

    def drop_cursors(self, ns_prefix):
        for cid, cur in list(self.cursors.items()):
            if cur.ns == ns_prefix or cur.ns.startswith(ns_prefix):
                del self.cursors[cid]

    def cmd_renamecollection(self, db_name, cmd, conn):
        src_db, _, src = cmd['renameCollection'].partition('.')
        dst_db, _, dst = cmd['to'].partition('.')
        if src_db != dst_db:
            raise CommandError(2, 'renaming across databases is not '
                                  'supported by mongo_standin')
        try:
            self.client[src_db].rename_collection(
                src, dst, dropTarget=bool(cmd.get('dropTarget')))
        except OperationFailure as exc:
            raise CommandError(26 if exc.code == 10026 else 48, str(exc))
        return {}

    def cmd_listcollections(self, db_name, cmd, conn):
        db = self.client[db_name]
        flt = cmd.get('filter') or {}
        docs = []
        for name in sorted(db.list_collection_names()):
            doc = SON([('name', name), ('type', 'collection')])
            if not cmd.get('nameOnly'):
                doc['options'] = {}
                doc['info'] = {'readOnly': False}
                doc['idIndex'] = SON([('v', 2), ('key', {'_id': 1}),
                                      ('name', '_id_')])
            if mm_filtering.filter_applies(flt, doc):
                docs.append(doc)
        batch = (cmd.get('cursor') or {}).get('batchSize')
        return self.cursor_reply('%s.$cmd.listCollections' % db_name, docs,
                                 None if batch is None else _int(batch))

    def _db_size(self, name):
        db = self.client[name]
        return sum(len(bson.BSON.encode(d))
                   for c in db.list_collection_names() for d in db[c].find())

    def cmd_listdatabases(self, db_name, cmd, conn):
        flt = cmd.get('filter') or {}
        docs, total = [], 0
        for name in sorted(self.client.list_database_names()):
            if cmd.get('nameOnly'):
                doc = SON([('name', name)])
            else:
                size = self._db_size(name)
                total += size
                doc = SON([('name', name), ('sizeOnDisk', float(size)),
                           ('empty', size == 0)])
            if mm_filtering.filter_applies(flt, doc):
                docs.append(doc)
        reply = SON([('databases', docs)])
        if not cmd.get('nameOnly'):
            reply['totalSize'] = float(total)
            reply['totalSizeMb'] = Int64(total // (1024 * 1024))
        return reply

    def cmd_collstats(self, db_name, cmd, conn):
        coll = self.coll(db_name, cmd)
        if not self.exists(coll):
            raise CommandError(26, 'ns not found')
        sizes = [len(bson.BSON.encode(d)) for d in coll.find()]
        idx = coll.index_information()
        return SON([('ns', '%s.%s' % (db_name, coll.name)),
                    ('count', len(sizes)), ('size', sum(sizes)),
                    ('avgObjSize', sum(sizes) // len(sizes) if sizes else 0),
                    ('storageSize', sum(sizes)), ('nindexes', len(idx)),
                    ('totalIndexSize', 0),
                    ('indexSizes', {n: 0 for n in idx})])

    def cmd_dbstats(self, db_name, cmd, conn):
        db = self.client[db_name]
        names = db.list_collection_names()
        objects = sum(db[c].count_documents({}) for c in names)
        size = self._db_size(db_name)
        return SON([('db', db_name), ('collections', len(names)),
                    ('views', 0), ('objects', objects),
                    ('avgObjSize', size / objects if objects else 0),
                    ('dataSize', float(size)), ('storageSize', float(size)),
                    ('indexes', sum(len(db[c].index_information())
                                    for c in names)),
                    ('indexSize', 0.0)])

    # ------------------------------------------------------------------
    # Persistence
    # ------------------------------------------------------------------
    def snapshot(self):
        out = SON([('format', 'mongo_standin/1'), ('databases', SON())])
        for db_name in sorted(self.client.list_database_names()):
            db = self.client[db_name]
            colls = SON()
            for name in sorted(db.list_collection_names()):
                coll = db[name]
                indexes = []
                for iname, info in coll.index_information().items():
                    if iname == '_id_':
                        continue
                    spec = SON([('name', iname), ('key', SON(info['key']))])
                    for opt in ('unique', 'sparse', 'expireAfterSeconds',
                                'partialFilterExpression'):
                        if opt in info:
                            spec[opt] = info[opt]
                    indexes.append(spec)
                colls[name] = SON([('indexes', indexes),
                                   ('documents', list(coll.find()))])
            out['databases'][db_name] = colls
        return out

    def save(self):
        text = json_util.dumps(self.snapshot(), indent=1,
                               json_options=JSON_OPTIONS)
        tmp = self.data_path + '.tmp'
        with open(tmp, 'w') as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.data_path)

    def load(self):
        if not os.path.exists(self.data_path):
            return
        with open(self.data_path) as fh:
            data = json_util.loads(
                fh.read(), json_options=JSON_OPTIONS)
        EQ_INDEX.writing = True
        try:
            self._load(data)
        finally:
            EQ_INDEX.writing = False
            EQ_INDEX.clear()

    def _load(self, data):
        for db_name, colls in data.get('databases', {}).items():
            db = self.client[db_name]
            for name, content in colls.items():
                coll = db[name]
                db.create_collection(name)
                for doc in content.get('documents', []):
                    coll.insert_one(doc)
                for spec in content.get('indexes', []):
                    spec = dict(spec)
                    key = list(spec.pop('key').items())
                    coll.create_index(key, **spec)


def _send(request, reply):
    """Frame and send one reply.

    mockupdb's Request.replies() first renders the reply as extended JSON
    for its verbose log, whether or not the log is on: two thirds of the
    stand-in's time for a reply of 10,000 records (the preload).
    """
    request._client.sendall(reply.reply_bytes(request))


class StandinMockupDB(mockupdb.MockupDB):
    """mockupdb's socket server with our own per-connection loop.

    The stock loop runs autoresponders while holding a server-wide lock, so
    one delayed reply would stall every connection; it also cannot leave a
    moreToCome (w:0) request unanswered.  We keep mockupdb's accept loop,
    message parsing and reply framing and replace only the loop body.
    """

    def __init__(self, host, port, backend):
        super().__init__(port=port, request_timeout=int(1e6))
        self._address = (host, port)   # MockupDB hard-codes 'localhost'
        self.backend = backend

    def _server_loop(self, client, client_addr):
        backend = self.backend
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = {'id': next(backend.conn_ids),
                'peer': '%s:%d' % tuple(client_addr[:2])}
        with backend.lock:
            backend.conn_count += 1
        try:
            while not self._stopped:
                try:
                    request = mockupdb.mock_server_receive_request(client, self)
                except (OSError, socket.error):
                    break
                except Exception as exc:        # unparsable message
                    log('bad message from %s: %r' % (conn['peer'], exc))
                    break
                if not self._serve_one(request, conn):
                    break
        finally:
            with backend.lock:
                backend.conn_count -= 1
            try:
                client.close()
            except OSError:
                pass

    def _serve_one(self, request, conn):
        """Answer one request; False means drop the connection."""
        backend = self.backend
        if isinstance(request, mockupdb.OpMsg):
            cmd = request.doc
            db_name = cmd.get('$db', 'admin')
            wants_reply = not (request.flags
                               & mockupdb.OP_MSG_FLAGS['moreToCome'])
            make = mockupdb.OpMsgReply
        elif isinstance(request, mockupdb.Command):
            # Legacy OP_QUERY command (the drivers' first isMaster); the
            # command may be wrapped as {$query: {...}, $readPreference}.
            cmd = request.doc
            if '$query' in cmd:
                cmd = cmd['$query']
            db_name = request.namespace
            wants_reply = True
            make = mockupdb.OpReply
        elif isinstance(request, mockupdb.OpQuery):
            return self._serve_legacy_query(request, conn)
        else:
            log('unsupported legacy opcode %s from %s; closing'
                % (type(request).__name__, conn['peer']))
            return False
        # Strip the envelope fields; handlers look at the command only.
        cmd = collections.OrderedDict(
            (k, v) for k, v in cmd.items()
            if k not in ('$db', 'lsid', '$readPreference', '$clusterTime'))
        if backend.verbose:
            log('conn%d %s.%s' % (conn['id'], db_name, next(iter(cmd), '?')))
        try:
            reply = backend.execute(db_name, cmd, conn)
        except CloseConnection:
            return False
        except Exception:
            log('internal error on %r:\n%s' % (dict(cmd),
                                               traceback.format_exc()))
            reply = CommandError(8, 'mongo_standin internal error').reply()
        if not wants_reply:
            return True
        try:
            _send(request, make(reply))
        except (OSError, socket.error):
            return False
        return True

    def _serve_legacy_query(self, request, conn):
        """A non-command OP_QUERY: pymongo 3.11 still sends its exhaust
        cursors this way.  Answered as a find whose whole result comes back
        in one OP_REPLY with cursor id 0 (legal for exhaust, too)."""
        db_name, _, coll = request.namespace.partition('.')
        query = request.doc
        cmd = collections.OrderedDict([('find', coll)])
        if '$query' in query:
            cmd['filter'] = query['$query']
            if '$orderby' in query:
                cmd['sort'] = query['$orderby']
        else:
            cmd['filter'] = query
        if request.fields:
            cmd['projection'] = request.fields
        cmd['skip'] = request.num_to_skip or 0
        # numberToReturn is a batch size, except that a negative value (or
        # 1) asks for a single batch of that many documents and no cursor.
        n = request.num_to_return or 0
        if n < 0 or n == 1:
            cmd['limit'] = abs(n)
        cmd['batchSize'] = 0        # everything in one reply
        reply = self.backend.execute(db_name, cmd, conn)
        try:
            if reply.get('ok'):
                _send(request, mockupdb.OpReply(
                    list(reply['cursor']['firstBatch']), cursor_id=0))
            else:
                _send(request, mockupdb.OpReply(
                    {'$err': reply['errmsg'], 'code': reply['code']},
                    flags=mockupdb.REPLY_FLAGS['QueryFailure']))
        except (OSError, socket.error):
            return False
        return True

    def shutdown(self):
        """Close the listener and all client sockets without long joins."""
        self._stopped = True
        try:
            self._listening_sock.close()
        except OSError:
            pass
        for sock in list(self._server_socks):
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--port', type=int, required=True,
                    help='TCP port (0: pick a free one)')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--data', help='persist all data in this JSON file')
    ap.add_argument('--delay-ms', type=int, default=0,
                    help='delay every reply by this many milliseconds')
    ap.add_argument('--pidfile')
    ap.add_argument('--verbose', action='store_true',
                    help='log every command to stderr')
    args = ap.parse_args(argv)

    # Every connection has its own thread, and they share the GIL: with
    # Python's default 5 ms switch interval a one-record lookup that
    # arrives while another connection's 500-record batch runs waits up to
    # 5 ms for its turn (and a sleeping, delayed reply as long to resume).
    # mongod serves them on separate cores; 0.5 ms keeps a small query's
    # wait near its own cost.
    sys.setswitchinterval(0.0005)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    try:
        backend = StandinServer(args.data, args.delay_ms, args.verbose)
    except Exception as exc:
        log('cannot load %s: %s' % (args.data, exc))
        return 1
    server = StandinMockupDB(args.host, args.port, backend)
    try:
        port = server.run()
    except OSError as exc:
        log('cannot listen on %s:%d: %s' % (args.host, args.port, exc))
        return 1
    if args.pidfile:
        with open(args.pidfile, 'w') as fh:
            fh.write('%d\n' % os.getpid())
    print('mongo-standin listening on %s:%d' % (args.host, port), flush=True)

    while not stop.wait(1.0):
        pass
    server.shutdown()
    # Let a write that is in progress finish (and be saved) before exiting.
    if backend.lock.acquire(timeout=5):
        backend.lock.release()
    if args.pidfile:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
