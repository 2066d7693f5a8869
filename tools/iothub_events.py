#!/usr/bin/python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Print the events mosquitto-iothub forwards to RabbitMQ, decoded.

    tools/iothub_events.py --amqp amqp://guest:guest@127.0.0.1:15673/ [--queue Q ...] [--follow]

By default it reads the three iothub_* queues once, printing and acknowledging
every waiting event, and exits; --follow keeps consuming. BSON and JSON bodies
are both understood (the content type says which); binary payloads are shown
as text when they are UTF-8, in base64 otherwise.

Run it with /usr/bin/python3: it needs Debian's python3-pika and
python3-pymongo (for the bson module).
"""
import argparse
import base64
import datetime
import json
import sys

import bson
import pika

QUEUES = ["iothub_client_connected", "iothub_client_disconnected", "iothub_message_publish"]


def decode(body, content_type):
    if content_type == "application/json":
        return json.loads(body)
    return bson.decode(body)


def printable(doc):
    out = {}
    for key, value in doc.items():
        if isinstance(value, (bytes, bytearray)):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                value = "base64:" + base64.b64encode(value).decode()
        elif isinstance(value, datetime.datetime):
            value = value.isoformat()
        out[key] = value
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/")
    ap.add_argument("--queue", action="append", help="queue to read (repeatable); default the three iothub_* queues")
    ap.add_argument("--follow", action="store_true", help="keep consuming until interrupted")
    args = ap.parse_args()

    conn = pika.BlockingConnection(pika.URLParameters(args.amqp))
    ch = conn.channel()
    queues = args.queue or QUEUES
    count = 0

    def show(method, props, body):
        nonlocal count
        doc = printable(decode(body, props.content_type))
        print(json.dumps({"routing_key": method.routing_key, "message_id": props.message_id, "event": doc},
                         ensure_ascii=False), flush=True)
        count += 1

    if args.follow:
        for q in queues:
            ch.basic_consume(q, lambda c, m, p, b: (show(m, p, b), c.basic_ack(m.delivery_tag)))
        try:
            ch.start_consuming()
        except KeyboardInterrupt:
            pass
    else:
        for q in queues:
            while True:
                method, props, body = ch.basic_get(q)
                if method is None:
                    break
                show(method, props, body)
                ch.basic_ack(method.delivery_tag)
        print(f"({count} events)", file=sys.stderr)
    conn.close()


if __name__ == "__main__":
    main()
