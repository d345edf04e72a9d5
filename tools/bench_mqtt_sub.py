"""The MQTT benchmark's witness (CPython, paho-mqtt): did the published messages reach a subscriber?

tools/bench runs it in its own process (so its work does not share a GIL with the timing loop):
``python bench_mqtt_sub.py PORT FILTER``. It subscribes to FILTER on the broker at 127.0.0.1:PORT with
QoS 1 and prints ``ready``. For each message it checks that the payload is the one tools/bench and
tools/bench_mqtt.py publish as message number <count so far on that topic> (``m`` and the number in 7
digits, then ``-abc...``: in order, no loss, no duplicate, no corruption). Each line read on stdin gets
one JSON line back: {topic: [messages received, how many of them were not the expected one]}. It ends
on end of input.
"""
import json
import sys
import threading

import paho.mqtt.client as paho

PAD = b"-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" * 4


def payload(i, size):
    return (b"m%07d" % i + PAD)[:size]


def main():
    port, topic_filter = int(sys.argv[1]), sys.argv[2]
    stats = {}
    lock = threading.Lock()
    subscribed = threading.Event()

    def on_message(client, userdata, msg):
        with lock:
            seen = stats.setdefault(msg.topic, [0, 0])
            if msg.payload != payload(seen[0], len(msg.payload)):
                seen[1] += 1
            seen[0] += 1

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-witness", protocol=paho.MQTTv311)
    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic_filter, 1)
    client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
    client.connect("127.0.0.1", port, 120)
    client.loop_start()
    if not subscribed.wait(10):
        sys.exit("bench_mqtt_sub: no SUBACK in 10 s")
    print("ready", flush=True)
    for _ in sys.stdin:
        with lock:
            print(json.dumps(stats), flush=True)
    client.disconnect()
    client.loop_stop()


main()
