"""Drives net/mqtt.py with a tiny select.poll loop, under MicroPython (.venv/bin/micropython) or CPython, and
prints what happens as JSON lines (bytes as text, or "hex:..." when not UTF-8), for test_mqtt_client.py.

    mqtt_driver.py ROOT SCENARIO ARGS-FILE      (a JSON object; the unix port dies on an argument of 256+ bytes)

Scenarios that wait for the test ("ready" line) read one line from stdin before they go on.
"""
import sys

ROOT = sys.argv[1]
sys.path.insert(0, ROOT + "/boards/host")
sys.path.insert(0, ROOT + "/firmware")

import json  # noqa: E402

import station  # noqa: E402

station.online()  # the host board's sockets need a network, as the chip's do

from at.compat import Poller, generator_result, sleep_ms, ticks_diff, ticks_ms  # noqa: E402
from net import mqtt, mqtt_codec, transport  # noqa: E402
import select  # noqa: E402


def plain(x):
    if isinstance(x, (bytes, bytearray)):
        try:
            return bytes(x).decode()
        except UnicodeError:
            return "hex:" + bytes(x).hex()
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return dict((k, plain(v)) for k, v in x.items())
    return x


def out(*obj):
    sys.stdout.write(json.dumps(plain(obj[0] if len(obj) == 1 else list(obj))) + "\n")
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


def run_gen(gen):
    """Step a generator of the loop to its end (it yields ms to sleep); returns its value."""
    while True:
        try:
            delay = next(gen)
        except StopIteration as e:
            return generator_result(e)
        sleep_ms(delay or 1)


def connect(c, port, timeout_ms=3000, tls=None, host="127.0.0.1", server_hostname=None):
    """connect(); prints ["connect", session_present] or ["connect_error", reason, code]; True when connected."""
    try:
        present = run_gen(c.connect(host, port, tls, server_hostname, timeout_ms))
    except mqtt.ConnectError as e:
        out("connect_error", e.args[0], e.args[1])
        return False
    out("connect", present)
    return True


class Loop:
    """What the engine does for a family: poll the client's socket, read() when readable, tick() every pass."""

    def __init__(self, c):
        self.c = c
        self.sock = None
        self.poller = None

    def run(self, ms, until=None):
        events = []
        start = ticks_ms()
        while ticks_diff(ticks_ms(), start) < ms:
            sock = self.c.sock
            if sock is not self.sock:
                self.sock = sock
                self.poller = Poller()
                if sock is not None:
                    self.poller.register(sock, select.POLLIN)
            if sock is not None:
                if self.poller.poll(10):
                    events += self.c.read()
            else:
                sleep_ms(10)
            events += self.c.tick()
            if until is not None and until(events):
                break
        return events


def has(kind, pid=None):
    def check(events):
        for e in events:
            if e[0] == kind and (pid is None or e[1] == pid):
                return True
        return False

    return check


def count(kind, n):
    return lambda events: len([e for e in events if e[0] == kind]) >= n


def wait_stdin():
    out("ready")
    sys.stdin.readline()


def sorted_events(events):
    """Events whose relative order the broker does not fix (a PUBACK and our own message coming back)."""
    return sorted([plain(e) for e in events])


# ---- scenarios ------------------------------------------------------------------------------------


def codes(a):
    """CONNACK return codes and connect failures."""
    for label, user, pw in (("good", "user", "secret"), ("bad password", "user", "wrong"), ("anonymous", None, None)):
        out("try", label)
        c = mqtt.Client("codes-" + label.replace(" ", "-"), user=user, password=pw)
        if connect(c, a["auth_port"]):
            out(c.disconnect())
    out("try", "empty id, not clean")
    connect(mqtt.Client(b"", clean=False), a["anon_port"])
    out("try", "256-byte client id")
    cid = bytes([97 + i % 26 for i in range(256)])
    c = mqtt.Client(cid)
    if connect(c, a["anon_port"]):
        sid = c.subscribe(b"id/check", 1)
        pid = c.publish(b"id/check", cid, 1)
        ev = Loop(c).run(3000, lambda e: has("puback", pid)(e) and has("publish")(e))
        out("suback", has("suback", sid)(ev), "puback", has("puback", pid)(ev), "echo", [e[2] == cid for e in ev if e[0] == "publish"])
        out(c.disconnect())
    out("try", "nobody listening")
    connect(mqtt.Client(b"x"), a["dead_port"])
    out("try", "no such host")
    try:
        run_gen(mqtt.Client(b"x").connect("no-such-host.invalid", 1883))
    except mqtt.ConnectError as e:
        out("connect_error", e.args[0], e.args[1])


def pubsub(a):
    c = mqtt.Client(b"pubsub-" + a["interp"].encode(), keepalive=30)
    if not connect(c, a["port"]):
        return
    loop = Loop(c)
    sid = c.subscribe([(b"t/a", 1), (b"t/b", 0), (b"t/c", 2), ("u/#", 1)])
    out("subscribe", sid)
    out(loop.run(3000, has("suback", sid)))
    steps = (
        ("qos0", b"t/b", b"zero", 0, False),
        ("qos1", b"t/a", b"one", 1, False),
        ("qos2", b"t/c", b"two", 2, False),
        ("empty payload", b"t/a", b"", 1, False),
        ("utf-8 topic", "u/température/€", "é€".encode(), 1, False),
        ("4000 bytes", b"u/big", bytes([i % 251 for i in range(4000)]), 1, False),
        ("same topic", b"u/big", b"again", 0, False),  # the topic the client kept from the publish before
        ("600-byte topic", b"u/" + b"t" * 598, b"long", 1, False),  # longer than the client's PUBLISH buffer
        ("retained", b"r/x", b"kept", 1, True),
    )
    for label, topic, payload, qos, retain in steps:
        pid = c.publish(topic, payload, qos, retain)
        out(label, pid)
        want = 0 if label == "retained" else 1  # r/x has no subscriber yet
        ev = loop.run(3000, lambda e: (not qos or has("puback", pid)(e)) and count("publish", want)(e))
        if label == "4000 bytes":
            ev = [e if e[0] != "publish" else e[:2] + (e[2] == payload, len(e[2])) + e[3:] for e in ev]
        out(sorted_events(ev))
    sid = c.subscribe(b"r/#", 1)
    out("subscribe retained", sid)
    out(sorted_events(loop.run(3000, lambda e: has("suback", sid)(e) and has("publish")(e))))
    uid = c.unsubscribe([b"t/a", b"r/#"])
    out("unsubscribe", uid)
    out(loop.run(3000, has("unsuback", uid)))
    c.publish(b"t/a", b"not for us", 1)
    c.publish(b"t/b", b"marker", 0)
    ev = loop.run(3000, lambda e: [x for x in e if x[0] == "publish" and x[2] == b"marker"])
    out("after unsubscribe", [e for e in ev if e[0] == "publish"])
    c.publish(b"r/x", b"", 1, True)  # clear the retained message
    loop.run(1000, has("puback"))
    bad = c.subscribe(b"a/#/b", 0)  # an invalid filter: mosquitto closes the connection, amqtt answers 0x80
    out("invalid filter", bad)
    out(loop.run(3000, lambda e: has("disconnected")(e) or has("suback", bad)(e)))
    if c.connected:
        out(c.disconnect())
    try:
        c.publish(b"t/a", b"x", 1)
    except mqtt.MqttError as e:
        out("publish after drop", e.args[0])


def keepalive(a):
    c = mqtt.Client(a["client_id"], keepalive=1, timeout_ms=1500)
    if not connect(c, a["port"]):
        return
    loop = Loop(c)
    out("idle", loop.run(a["idle_ms"]))
    pid = c.publish(b"k/a", b"still here", 1)
    out("publish", loop.run(3000, has("puback", pid)) == [("puback", pid)])
    out(c.disconnect())


def broker_dies(a):
    """The test kills (SIGKILL) or freezes (SIGSTOP) the broker after "ready"; then reconnects fail."""
    c = mqtt.Client(b"dies-" + a["interp"].encode(), keepalive=1, timeout_ms=a["timeout_ms"])
    if not connect(c, a["port"]):
        return
    loop = Loop(c)
    sid = c.subscribe(b"d/#", 1)
    loop.run(3000, has("suback", sid))
    wait_stdin()
    start = ticks_ms()
    try:
        pid = c.publish(b"d/x", b"into the void", 1)
        out("published", pid)
    except mqtt.MqttError as e:
        out("publish error", e.args[0])
    ev = loop.run(15000, has("disconnected"))
    out("events", ev)
    out("detected within", ticks_diff(ticks_ms(), start) < a["within_ms"])
    try:
        c.publish(b"d/x", b"x", 0)
    except mqtt.MqttError as e:
        out("publish error", e.args[0])
    backoff = mqtt.Backoff(50, 200)
    for _ in range(4):
        delay = backoff.next_ms()
        sleep_ms(delay)
        out("retry after", delay)
        connect(c, a["port"], timeout_ms=1000)
    wait_stdin()  # the broker is back
    while not c.connected and backoff.attempts < 20:
        delay = backoff.next_ms()
        sleep_ms(delay)
        connect(c, a["port"], timeout_ms=1000)
    if c.connected:
        backoff.reset()
        sid = c.subscribe(b"d/#", 1)  # a clean session: subscribe again
        pid = c.publish(b"d/x", b"back", 1)
        ev = loop.run(3000, lambda e: has("puback", pid)(e) and has("publish")(e))
        out("after reconnect", sorted_events(ev) == [["puback", pid], ["publish", "d/x", "back", 1, 0, 0],
                                                     ["suback", sid, [1]]])
        out(c.disconnect())


def thousand(a):
    n = a["n"]
    c = mqtt.Client(a.get("client_id", "thousand-" + a["interp"]), keepalive=10, max_inflight=a["window"])
    if not connect(c, a["port"]):
        return
    loop = Loop(c)
    topic = a.get("topic", "n")
    sid = c.subscribe(topic + "/#", 1)
    loop.run(3000, has("suback", sid))
    topic += "/x"
    # Preallocated tallies: a list grown to n entries among thousands of small live objects can find no
    # contiguous block in a fragmented MicroPython heap (MemoryError), which says nothing about the client.
    pids = [0] * n
    acked = [0] * n
    st = [0, 0, 0, True]  # published, pubacks, received, in order
    other = []
    start = ticks_ms()

    def take(events):
        for e in events:
            if e[0] == "puback":
                if st[1] < n:
                    acked[st[1]] = e[1]
                st[1] += 1
            elif e[0] == "publish":
                if e[2] != b"%d" % st[2]:
                    st[3] = False
                st[2] += 1
            else:
                other.append(e)

    while (st[0] < n or st[1] < n or st[2] < n) and ticks_diff(ticks_ms(), start) < 60000 and not other:
        try:
            while st[0] < n and c.inflight() < a["window"]:
                pids[st[0]] = c.publish(topic, b"%d" % st[0], 1)
                st[0] += 1
        except mqtt.MqttError as e:
            other.append(("error", e.args[0]))
        take(loop.run(20, lambda e: len(e) > 0))
    pids.sort()
    acked.sort()
    out(
        dict(
            published=st[0],
            unique_ids=len(set(pids)),
            pubacks=st[1],
            acks_match=acked == pids,
            received=st[2],
            in_order=st[3],
            other=other,
        )
    )
    out(c.disconnect())


def scripted(a):
    """Against test_mqtt_client.ScriptedBroker: one connection per behaviour, in order."""
    for plan in a["plans"]:
        out("plan", plan)
        c = mqtt.Client(b"s", keepalive=a["keepalive"], timeout_ms=a["timeout_ms"], max_inflight=3)
        if not connect(c, a["port"], timeout_ms=800):
            continue
        loop = Loop(c)
        if plan == "qos2":
            pid = c.publish(b"q", b"two", 2)
            out("publish", pid)
            ev = loop.run(3000, lambda e: has("puback", pid)(e) and has("publish")(e))
            out(sorted_events(ev + loop.run(500)))
            out(c.disconnect())
            continue
        if plan == "suback":
            sid = c.subscribe([(b"a", 0), (b"b", 1), (b"c", 2)])
            out(loop.run(3000, has("suback", sid)))
            out(c.disconnect())
            continue
        pid = c.publish(b"p", b"x", 1)
        out("publish", pid)
        if plan == "mute":  # every kind of request times out; a fourth awaiting an ack is refused
            out("subscribe", c.subscribe(b"s", 1), "unsubscribe", c.unsubscribe(b"s"))
            try:
                c.publish(b"p", b"x", 1)
            except mqtt.MqttError as e:
                out("publish error", e.args[0])
            out("qos 0", c.publish(b"p", b"x", 0))
        out(loop.run(4000, has("disconnected")))


def flow(a):
    """Against test_mqtt_client.ScriptedBroker's "flow" plan: messages held until ack()."""
    c = mqtt.Client(b"f", timeout_ms=2000, flow=True)
    if not connect(c, a["port"], timeout_ms=800):
        return
    loop = Loop(c)
    out(loop.run(1000, count("message", 2)) + loop.run(300))
    c.publish(b"marker", b"", 0)
    c.ack(5, 1)
    c.ack(6, 2)
    c.ack(6, 2)  # twice: nothing more
    out("acked")
    loop.run(300)
    out(c.disconnect())


def tls(a):
    with open(a["ca"], "rb") as f:
        ca = f.read()
    ctx = transport.tls_context(ca)
    c = mqtt.Client(b"tls-" + a["interp"].encode())
    if connect(c, a["port"], tls=ctx, server_hostname=a["hostname"]):
        loop = Loop(c)
        sid = c.subscribe(b"s/#", 1)
        loop.run(3000, has("suback", sid))
        pid = c.publish(b"s/x", b"secret" * 100, 1)
        out(sorted_events(loop.run(3000, lambda e: has("puback", pid)(e) and has("publish")(e))))
        out(c.disconnect())


def codec(a):
    """The decoder on this interpreter: a stream cut at every offset, and hostile inputs."""
    stream = bytes.fromhex(a["stream"])
    whole = list(mqtt_codec.Decoder().feed(stream))
    same = True
    for cut in range(len(stream) + 1):
        d = mqtt_codec.Decoder()
        if list(d.feed(stream[:cut])) + list(d.feed(stream[cut:])) != whole:
            same = False
    out("stream", whole, same)
    for h in a["hostile"]:
        d = mqtt_codec.Decoder(max_packet=256)
        try:
            out("hostile", h, list(d.feed(bytes.fromhex(h))))
        except mqtt_codec.ProtocolError:
            out("hostile", h, "ProtocolError")
    out("connect", mqtt_codec.encode_connect(bytes(256), 60, True, b"u", b"p", (b"w", b"m", 1, True)).hex())
    out("publish", mqtt_codec.encode_publish("é/" + "t" * 40, b"\x00\xff", 2, True, True, 65535).hex())
    out("subscribe", mqtt_codec.encode_subscribe(3, [(b"a/#", 1), ("é", 2)]).hex())


SCENARIOS = dict(codes=codes, pubsub=pubsub, keepalive=keepalive, broker_dies=broker_dies, thousand=thousand,
                 scripted=scripted, flow=flow, tls=tls, codec=codec)

if __name__ == "__main__":
    with open(sys.argv[3]) as f:
        args = json.loads(f.read())
    args["interp"] = sys.implementation.name
    SCENARIOS[sys.argv[2]](args)
    out("end")
