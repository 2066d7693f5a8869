#!/usr/bin/python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""A device as tools/iothub_server_trial.sh needs one: it connects, does not
subscribe (unless --subscribe), and logs what the broker delivers to it.

    tools/iothub_trial_device.py --port N --username P/D --password S \
        --client-id ID --log FILE

Like an IotHub device it reports its status once connected
(update_status/P/D/MSGID, which the IotHub server stores when it reads the
message.publish event) and uploads one reading (upload_data/P/D/temperature/
MSGID, payload {"t":21.5}); it answers each RPC it receives
(rpc/P/D/NAME/ENCODING/REQID/EXPIRES) on rpc_resp/P/D/NAME/REQID/MSGID with
the payload "pong:" + the request's payload. It does not reconnect: after a
disconnect it logs it and exits, so the caller sees each kick.

Log lines (one per event, flushed at once; TS is time.time()):
    CONNECTED TS RC
    MSG TS TOPIC PAYLOAD
    DISCONNECTED TS RC
Run it with /usr/bin/python3 (Debian's python3-paho-mqtt).
"""
import argparse
import os
import sys
import time

import paho.mqtt.client as mqtt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--username", required=True, help="P/D")
    ap.add_argument("--password", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--persistent", action="store_true",
                    help="clean session off, as the IotHub DeviceSDK connects")
    ap.add_argument("--subscribe", action="append", default=[], metavar="FILTER",
                    help="subscribe to FILTER after all (repeatable), as the DeviceSDK does "
                         "for its tags after $set_tags")
    args = ap.parse_args()
    product, device = args.username.split("/", 1)
    out = open(args.log, "a", buffering=1)
    state = {"up": True}

    def log(*fields):
        out.write(" ".join(str(f) for f in fields) + "\n")

    def on_connect(client, userdata, flags, rc):
        log("CONNECTED", "%.3f" % time.time(), rc)
        if rc == 0:
            for flt in args.subscribe:
                client.subscribe(flt, qos=1)
            client.publish("update_status/%s/%s/%s" % (product, device, os.urandom(6).hex()),
                           '{"online":true}', qos=1)
            client.publish("upload_data/%s/%s/temperature/%s" % (product, device, os.urandom(6).hex()),
                           '{"t":21.5}', qos=1)
        else:
            client.disconnect()

    def on_message(client, userdata, msg):
        payload = msg.payload.decode("utf-8", "replace")
        log("MSG", "%.3f" % time.time(), msg.topic, payload)
        parts = msg.topic.split("/")
        if len(parts) >= 6 and parts[0] == "rpc":
            name, reqid = parts[3], parts[5]
            client.publish("rpc_resp/%s/%s/%s/%s/%s" % (product, device, name, reqid, os.urandom(6).hex()),
                           "pong:" + payload, qos=1)

    def on_disconnect(client, userdata, rc):
        log("DISCONNECTED", "%.3f" % time.time(), rc)
        state["up"] = False

    client = mqtt.Client(client_id=args.client_id, clean_session=not args.persistent)
    client.username_pw_set(args.username, args.password)
    client.on_connect = on_connect
    client.on_message = on_message
    client.on_disconnect = on_disconnect
    try:
        client.connect(args.host, args.port, keepalive=30)
    except OSError as exc:
        log("DISCONNECTED", "%.3f" % time.time(), "connect-failed:%s" % exc)
        return 1
    # Our own loop, not loop_forever(): that one reconnects, and a kicked
    # device must stay gone. A short timeout keeps the disconnect timestamp
    # close to the moment the broker closed the socket.
    while state["up"]:
        if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
            if state["up"]:
                log("DISCONNECTED", "%.3f" % time.time(), "socket-closed")
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
