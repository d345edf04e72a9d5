"""net/mqtt's Client against real brokers on loopback (brokers.py: mosquitto and amqtt) and a scripted broker
for hostile behaviour, under MicroPython and CPython alike: mqtt_driver.py runs the client with a small
select.poll loop and prints events as JSON lines; each test checks them and that both interpreters print the
same lines."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from brokers import BAD_CREDENTIALS, remaining_length
from harness import INTERPRETERS
from peers import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DRIVER = os.path.join(HERE, "mqtt_driver.py")
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
_ARGS_DIR = tempfile.TemporaryDirectory(prefix="mqtt-driver-")


def _command(interp):
    if interp == "micropython":
        if not os.path.exists(MICROPYTHON):
            pytest.skip("no MicroPython unix port in .venv")
        return [MICROPYTHON]
    return [sys.executable, "-u"]


def _driver(interp, scenario, args):
    """The command line; the arguments go in a file (the unix port dies on an argument of 256 bytes or more:
    "FATAL: uncaught NLR")."""
    fd, path = tempfile.mkstemp(suffix=".json", dir=_ARGS_DIR.name)
    with os.fdopen(fd, "w") as f:
        json.dump(args, f)
    return _command(interp) + [DRIVER, ROOT, scenario, path]


def run_driver(interp, scenario, args, timeout=90):
    r = subprocess.run(_driver(interp, scenario, args), capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith(("[", "{", '"'))]
    assert lines and lines[-1] == "end", "%s driver failed:\n%s\n%s" % (interp, r.stdout, r.stderr)
    assert "Warning" not in r.stderr, r.stderr  # e.g. MicroPython's "Comparison between bytes and str"
    return lines[:-1]


def both(scenario, args_for, check, timeout=90):
    """Run a scenario under each interpreter (args_for(interp) -> args); check(lines) each; same lines."""
    results = {}
    for interp in INTERPRETERS:
        lines = run_driver(interp, scenario, args_for(interp), timeout)
        check(lines)
        results[interp] = lines
    assert results["micropython"] == results["cpython"]
    return results["cpython"]


def labelled(lines, label):
    """The rest of the one line that starts with ``label``."""
    found = [line[1:] for line in lines if isinstance(line, list) and line and line[0] == label]
    assert len(found) == 1, (label, lines)
    return found[0]


def after(lines, marker, n=1):
    """The line (or ``n`` lines) after the line equal to ``marker``."""
    i = lines.index(marker)
    return lines[i + 1 : i + 1 + n] if n > 1 else lines[i + 1]


def test_line_helpers():
    assert after([1, ["a", 2], 3, 4], ["a", 2], 2) == [3, 4]
    assert labelled([["x", 1], ["y", 2, 3]], "y") == [2, 3]


# ---- connect and CONNACK codes -------------------------------------------------------------------


def test_connect_codes(amqtt_broker, mosquitto_broker):
    """amqtt's auth hook: the right password connects, a wrong one gets CONNACK 4, none gets 5; mosquitto
    rejects an empty client id without clean session (2) and takes a 256-byte one; nobody listening -> tcp,
    an unknown host -> dns."""

    def rule(client_id, username, password):
        if username is None:
            return False  # 5: not authorized
        return password == "secret" or BAD_CREDENTIALS

    amqtt_broker.rule = rule
    dead = free_port()

    def check(lines):
        assert after(lines, ["try", "good"], 2) == [["connect", 0], [["disconnected", "user"]]]
        assert after(lines, ["try", "bad password"]) == ["connect_error", "refused", 4]
        assert after(lines, ["try", "anonymous"]) == ["connect_error", "refused", 5]
        assert after(lines, ["try", "empty id, not clean"]) == ["connect_error", "refused", 2]
        assert after(lines, ["try", "256-byte client id"], 3) == [
            ["connect", 0], ["suback", True, "puback", True, "echo", [True]], [["disconnected", "user"]]]
        assert after(lines, ["try", "nobody listening"]) == ["connect_error", "tcp", 0]
        assert after(lines, ["try", "no such host"]) == ["connect_error", "dns", 0]

    both("codes", lambda i: dict(auth_port=amqtt_broker.port, anon_port=mosquitto_broker.port, dead_port=dead),
         check)
    seen = [(a.client_id, a.username, a.password, a.keep_alive, a.code) for a in amqtt_broker.attempts]
    assert seen == [("codes-good", "user", "secret", 60, 0), ("codes-bad-password", "user", "wrong", 60, 4),
                    ("codes-anonymous", None, None, 60, 5)] * 2


# ---- publish, subscribe, unsubscribe -------------------------------------------------------------


def test_publish_subscribe_unsubscribe(broker):
    def check(lines):
        assert lines[0] == ["connect", 0]
        sid = lines[1][1]
        assert lines[1] == ["subscribe", sid] and lines[2] == [["suback", sid, [1, 0, 2, 1]]]
        assert after(lines, ["qos0", 0]) == [["publish", "t/b", "zero", 0, 0, 0]]
        pid = sid + 1
        assert after(lines, ["qos1", pid]) == [["puback", pid], ["publish", "t/a", "one", 1, 0, 0]]
        assert after(lines, ["qos2", pid + 1]) == [["puback", pid + 1], ["publish", "t/c", "two", 2, 0, 0]]
        assert after(lines, ["empty payload", pid + 2]) == [["puback", pid + 2], ["publish", "t/a", "", 1, 0, 0]]
        assert after(lines, ["utf-8 topic", pid + 3]) == [
            ["puback", pid + 3], ["publish", "u/température/€", "é€", 1, 0, 0]]
        assert after(lines, ["4000 bytes", pid + 4]) == [["puback", pid + 4], ["publish", "u/big", True, 4000, 1, 0, 0]]
        assert after(lines, ["same topic", 0]) == [["publish", "u/big", "again", 0, 0, 0]]
        assert after(lines, ["600-byte topic", pid + 5]) == [
            ["puback", pid + 5], ["publish", "u/" + "t" * 598, "long", 1, 0, 0]]
        assert after(lines, ["retained", pid + 6]) == [["puback", pid + 6]]
        rsid = pid + 7
        assert after(lines, ["subscribe retained", rsid]) == [
            ["publish", "r/x", "kept", 1, 1, 0], ["suback", rsid, [1]]]  # the retain flag is set
        uid = rsid + 1
        assert after(lines, ["unsubscribe", uid]) == [["unsuback", uid]]
        assert labelled(lines, "after unsubscribe") == [[["publish", "t/b", "marker", 0, 0, 0]]]
        bad = labelled(lines, "invalid filter")[0]
        if broker.kind == "mosquitto":  # it closes the connection
            assert after(lines, ["invalid filter", bad]) == [["failed", "subscribe", bad, "disconnected"],
                                                             ["disconnected", "closed"]]
        else:  # amqtt refuses the filter in the SUBACK
            assert after(lines, ["invalid filter", bad], 2) == [[["suback", bad, [0x80]]], [["disconnected", "user"]]]
        assert lines[-1] == ["publish after drop", "not_connected"]

    both("pubsub", lambda i: dict(port=broker.port), check)


# ---- keepalive -----------------------------------------------------------------------------------


def test_keepalive_pings_keep_the_connection(broker):
    """keepalive 1 s and 3.5 s idle: a broker drops a client silent for 1.5 keepalives (the scripted "mute"
    broker below sees the PINGREQs themselves)."""
    for interp in INTERPRETERS:
        lines = run_driver(interp, "keepalive", dict(port=broker.port, client_id="ka-" + interp, idle_ms=3500))
        assert lines == [["connect", 0], ["idle", []], ["publish", True], [["disconnected", "user"]]]
    assert "exceeded timeout" not in broker.log()


# ---- the broker dies, and comes back -------------------------------------------------------------


def _dies(interp, broker, action, recover, timeout_ms, within_ms):
    """Run broker_dies: ``action`` after the first "ready" (kill, freeze), ``recover`` after the second."""
    proc = subprocess.Popen(_driver(interp, "broker_dies", dict(port=broker.port, timeout_ms=timeout_ms,
                                                                within_ms=within_ms)),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for step in (action, recover):
            for line in proc.stdout:
                if line.startswith(("[", '"')):  # not transport's "upy-at: connect to ... failed"
                    lines.append(json.loads(line))
                    if lines[-1] == "ready":
                        break
            assert lines[-1] == "ready", (lines, proc.stderr.read() if proc.poll() is not None else "")
            step()
            proc.stdin.write("go\n")
            proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += [json.loads(line) for line in out.splitlines() if line.startswith(("[", '"'))]
    assert lines[0] == ["connect", 0] and lines[-1] == "end", (lines, err)
    return lines[1:-1]


def _recovered(lines):
    """The lines after the second "ready": failed attempts while the broker settles, then one that works."""
    rest = lines[lines.index("ready", lines.index("ready") + 1) + 1 :]
    assert all(line[0] == "connect_error" for line in rest[:-3]), rest
    assert rest[-3:] == [["connect", 0], ["after reconnect", True], [["disconnected", "user"]]], rest


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_broker_killed_gives_disconnected_and_backoff_reconnects(interp, broker):
    lines = _dies(interp, broker, broker.kill, broker.start, 2000, 3000)
    assert lines[0] == "ready"
    # the publish may race the kernel's RST: either it fails at once or its id is reported failed
    if lines[1] == ["published", 2]:
        assert lines[2] == ["events", [["failed", "publish", 2, "disconnected"], ["disconnected", "closed"]]]
    else:
        assert lines[1][0] == "publish error" and lines[1][1] in ("send_failed", "not_connected"), lines
        assert lines[2][0] == "events" and lines[2][1][-1][0] == "disconnected", lines
    assert lines[3:14] == [
        ["detected within", True],
        ["publish error", "not_connected"],
        ["retry after", 50], ["connect_error", "tcp", 0],
        ["retry after", 100], ["connect_error", "tcp", 0],
        ["retry after", 200], ["connect_error", "tcp", 0],
        ["retry after", 200], ["connect_error", "tcp", 0],
        "ready",
    ], lines
    _recovered(lines)


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_broker_frozen_gives_ack_timeout_then_ping_timeout(interp, broker):
    """SIGSTOP: the TCP connection stays up but nothing answers. keepalive 1 s, timeout 1 s: the publish's
    PUBACK times out, then the PINGREQ gets no PINGRESP -> ("disconnected", "ping_timeout"), no hang.
    A stopped broker's listening socket still completes TCP handshakes (the kernel's backlog), so the
    reconnect attempts time out waiting for a CONNACK; after SIGCONT one gets through."""

    def freeze():
        broker.process.send_signal(signal.SIGSTOP)

    def thaw():
        broker.process.send_signal(signal.SIGCONT)

    try:
        lines = _dies(interp, broker, freeze, thaw, 1000, 4000)
    finally:
        thaw()
    assert lines[:5] == [
        "ready",
        ["published", 2],
        ["events", [["failed", "publish", 2, "timeout"], ["disconnected", "ping_timeout"]]],
        ["detected within", True],
        ["publish error", "not_connected"],
    ], lines
    assert lines[5:14] == [["retry after", 50], ["connect_error", "timeout", 0],
                           ["retry after", 100], ["connect_error", "timeout", 0],
                           ["retry after", 200], ["connect_error", "timeout", 0],
                           ["retry after", 200], ["connect_error", "timeout", 0], "ready"], lines
    _recovered(lines)


# ---- 1,000 QoS 1 messages -------------------------------------------------------------------------


def test_thousand_qos1_messages_round_trip_in_order(broker):
    def check(lines):
        assert lines[0] == ["connect", 0]
        assert lines[1] == dict(published=1000, unique_ids=1000, pubacks=1000, acks_match=True, received=1000,
                                in_order=True, other=[])
        assert lines[2] == [["disconnected", "user"]]

    both("thousand", lambda i: dict(port=broker.port, n=1000, window=16), check, timeout=120)


# ---- TLS -----------------------------------------------------------------------------------------


def test_tls_with_verified_broker(broker, test_ca):
    """The TLS listener (the test CA's server certificate, CN localhost): verified with the DER CA and SNI
    localhost; a wrong name fails the handshake (ConnectError tcp)."""

    def check(lines):
        assert lines == [["connect", 0], [["puback", 2], ["publish", "s/x", "secret" * 100, 1, 0, 0]],
                         [["disconnected", "user"]]]

    both("tls", lambda i: dict(port=broker.tls_port, ca=test_ca.ca.cert_der_path, hostname="localhost"), check)

    def check_bad(lines):
        assert lines == [["connect_error", "tcp", 0]]

    both("tls", lambda i: dict(port=broker.tls_port, ca=test_ca.ca.cert_der_path, hostname="example.com"), check_bad)


# ---- hostile and odd brokers (scripted) ----------------------------------------------------------

CONNACK_OK = b"\x20\x02\x00\x00"


class ScriptedBroker:
    """Accepts one connection per plan, in order, and plays it; records the packets the client sent as
    (first byte, body) per connection."""

    def __init__(self, plans):
        self.plans = list(plans)
        self.received = []
        self.errors = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for plan in self.plans:
            self.sock.settimeout(30)
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            got = []
            self.received.append(got)
            conn.settimeout(10)
            try:
                getattr(self, "plan_" + plan)(conn, got)
            except Exception as e:  # reported by the test
                self.errors.append((plan, repr(e)))
            finally:
                conn.close()

    @staticmethod
    def _read_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def read_packet(self, conn, got):
        first = self._read_exact(conn, 1)[0]
        n, shift = 0, 0
        while True:
            b = self._read_exact(conn, 1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        pkt = (first, self._read_exact(conn, n))
        got.append(pkt)
        return pkt

    def until_eof(self, conn, got, answer_pings=True, seconds=10):
        end = time.time() + seconds
        try:
            while time.time() < end:
                first, _ = self.read_packet(conn, got)
                if first == 0xC0 and answer_pings:
                    conn.sendall(b"\xd0\x00")
        except (EOFError, OSError):
            pass

    # connect() failures
    def plan_garbage(self, conn, got):
        self.read_packet(conn, got)
        conn.sendall(b"\x30\x05\x00\x01ahi")  # a PUBLISH before any CONNACK
        self.until_eof(conn, got)

    def plan_silent(self, conn, got):
        self.read_packet(conn, got)
        self.until_eof(conn, got)

    def plan_refuse3(self, conn, got):
        self.read_packet(conn, got)
        conn.sendall(b"\x20\x02\x00\x03")
        self.until_eof(conn, got)

    def plan_close(self, conn, got):
        self.read_packet(conn, got)

    # hostile packets once connected
    def _connected_then(self, conn, got, data):
        self.read_packet(conn, got)
        conn.sendall(CONNACK_OK)
        time.sleep(0.3)
        conn.sendall(data)
        self.until_eof(conn, got)

    def plan_len5(self, conn, got):
        self._connected_then(conn, got, b"\x30\xff\xff\xff\xff\x7f")

    def plan_oversize(self, conn, got):
        self._connected_then(conn, got, b"\x30" + remaining_length(100000) + b"\x00\x01t" + bytes(5000))

    def plan_connack_twice(self, conn, got):
        self._connected_then(conn, got, CONNACK_OK)

    def plan_unknown_type(self, conn, got):
        self._connected_then(conn, got, b"\xf0\x00")

    def plan_pingreq(self, conn, got):
        self._connected_then(conn, got, b"\xc0\x00")

    def plan_bad_puback(self, conn, got):
        self._connected_then(conn, got, b"\x40\x03\x00\x01\x00")

    # odd but legal
    def plan_withpub(self, conn, got):
        self.read_packet(conn, got)
        conn.sendall(CONNACK_OK + b"\x32\x0a\x00\x01x\x00\x05early")  # the CONNACK and a QoS 1 PUBLISH at once
        while not any(p[0] >> 4 == 3 for p in got):
            self.read_packet(conn, got)
        pid = [p for p in got if p[0] >> 4 == 3][0][1][3:5]
        conn.sendall(b"\x40\x02" + pid)
        time.sleep(0.3)

    def plan_mute(self, conn, got):
        self.read_packet(conn, got)
        conn.sendall(CONNACK_OK)
        self.until_eof(conn, got, answer_pings=False)

    def plan_late_ack(self, conn, got):
        self.read_packet(conn, got)
        conn.sendall(CONNACK_OK)
        first, body = self.read_packet(conn, got)
        time.sleep(1.2)  # past the client's timeout_ms (800)
        conn.sendall(b"\x40\x02" + body[3:5])
        self.until_eof(conn, got, seconds=1.0)

    def plan_qos2(self, conn, got):
        self.read_packet(conn, got)
        conn.sendall(CONNACK_OK)
        first, body = self.read_packet(conn, got)  # PUBLISH QoS 2
        pid = body[3:5]
        conn.sendall(b"\x50\x02" + pid)  # PUBREC
        self.read_packet(conn, got)  # PUBREL
        conn.sendall(b"\x70\x02" + pid)  # PUBCOMP
        pub = b"\x00\x02in\x00\x09dup?"
        conn.sendall(b"\x34" + remaining_length(len(pub)) + pub)  # our QoS 2 PUBLISH, id 9 ...
        conn.sendall(b"\x3c" + remaining_length(len(pub)) + pub)  # ... again with DUP: delivered once
        self.read_packet(conn, got)
        self.read_packet(conn, got)  # two PUBRECs
        conn.sendall(b"\x62\x02\x00\x09")  # PUBREL
        self.until_eof(conn, got)

    def plan_suback(self, conn, got):
        self.read_packet(conn, got)
        conn.sendall(CONNACK_OK)
        first, body = self.read_packet(conn, got)
        conn.sendall(b"\x90\x05" + body[:2] + b"\x00\x80\x02")
        self.until_eof(conn, got)

    def plan_flow(self, conn, got):
        self.read_packet(conn, got)
        q1 = b"\x00\x01x\x00\x05one"
        q2 = b"\x00\x01x\x00\x06two"
        conn.sendall(CONNACK_OK + b"\x32" + remaining_length(len(q1)) + q1 + b"\x34" + remaining_length(len(q2)) + q2
                     + b"\x3c" + remaining_length(len(q2)) + q2)  # QoS 1, QoS 2, the QoS 2 again (DUP)
        self.until_eof(conn, got)

    def close(self):
        self.sock.close()


SCRIPTED = {
    "garbage": [["connect_error", "protocol", 0]],
    "silent": [["connect_error", "timeout", 0]],
    "refuse3": [["connect_error", "refused", 3]],
    "close": [["connect_error", "closed", 0]],
    "len5": [["connect", 0], ["publish", 1], [["failed", "publish", 1, "disconnected"], ["disconnected", "protocol"]]],
    "oversize": [["connect", 0], ["publish", 1],
                 [["failed", "publish", 1, "disconnected"], ["disconnected", "protocol"]]],
    "connack_twice": [["connect", 0], ["publish", 1],
                      [["failed", "publish", 1, "disconnected"], ["disconnected", "protocol"]]],
    "unknown_type": [["connect", 0], ["publish", 1],
                     [["failed", "publish", 1, "disconnected"], ["disconnected", "protocol"]]],
    "pingreq": [["connect", 0], ["publish", 1],
                [["failed", "publish", 1, "disconnected"], ["disconnected", "protocol"]]],
    "bad_puback": [["connect", 0], ["publish", 1],
                   [["failed", "publish", 1, "disconnected"], ["disconnected", "protocol"]]],
    "withpub": [["connect", 0], ["publish", 1],
                [["publish", "x", "early", 1, 0, 0], ["puback", 1], ["disconnected", "closed"]]],
    "mute": [["connect", 0], ["publish", 1], ["subscribe", 2, "unsubscribe", 3], ["publish error", "busy"],
             ["qos 0", 0], [["failed", "publish", 1, "timeout"], ["failed", "subscribe", 2, "timeout"],
                            ["failed", "unsubscribe", 3, "timeout"], ["disconnected", "ping_timeout"]]],
    "late_ack": [["connect", 0], ["publish", 1], [["failed", "publish", 1, "timeout"], ["disconnected", "closed"]]],
    "qos2": [["connect", 0], ["publish", 1],
             sorted([["puback", 1], ["publish", "in", "dup?", 2, 0, 0]]),
             [["disconnected", "user"]]],
    "suback": [["connect", 0], [["suback", 1, [0, 128, 2]]], [["disconnected", "user"]]],
}


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_scripted_brokers(interp):
    plans = list(SCRIPTED)
    broker = ScriptedBroker(plans)
    try:
        lines = run_driver(interp, "scripted", dict(port=broker.port, plans=plans, keepalive=1, timeout_ms=800))
        broker.thread.join(15)
    finally:
        broker.close()
    assert not broker.errors, broker.errors
    got = {}
    for line in lines:
        if line[0] == "plan":
            plan = line[1]
            got[plan] = []
        else:
            got[plan].append(line)
    assert got == SCRIPTED
    rx = dict(zip(plans, broker.received))
    kinds = lambda plan: [p[0] for p in rx[plan]]  # noqa: E731
    assert kinds("withpub")[:3] == [0x10, 0x40, 0x32]  # CONNECT, the PUBACK for "early", then our PUBLISH
    assert rx["withpub"][1][1] == b"\x00\x05"
    assert kinds("qos2") == [0x10, 0x34, 0x62, 0x50, 0x50, 0x70, 0xE0]  # PUBLISH, PUBREL, PUBREC x2, PUBCOMP
    assert rx["qos2"][5][1] == b"\x00\x09"
    assert 0xC0 in kinds("mute")  # the PINGREQ that went unanswered
    assert kinds("suback")[1] == 0x82


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_flow_mode_acks_only_what_was_delivered(interp):
    """flow=True: messages are events with their packet id; the PUBACK (QoS 1) and PUBREC (QoS 2) go only when
    ack() says the message was delivered (after the marker PUBLISH the driver sends first), a QoS 2 repeat not
    yet acked is not delivered twice."""
    broker = ScriptedBroker(["flow"])
    try:
        lines = run_driver(interp, "flow", dict(port=broker.port))
        broker.thread.join(15)
    finally:
        broker.close()
    assert not broker.errors, broker.errors
    assert lines == [["connect", 0], [["message", "x", "one", 1, 0, 0, 5, 0, 3], ["message", "x", "two", 2, 0, 0, 6, 0, 3]],
                     "acked", [["disconnected", "user"]]]
    assert [(p[0], p[1][:2]) for p in broker.received[0]][1:] == [
        (0x30, b"\x00\x06"), (0x40, b"\x00\x05"), (0x50, b"\x00\x06"), (0xE0, b"")]  # marker, PUBACK, PUBREC


# ---- the decoder on both interpreters ------------------------------------------------------------


def test_codec_same_on_both_interpreters():
    stream = (CONNACK_OK + b"\x32\x0a\x00\x01x\x00\x05early" + b"\xd0\x00" + b"\x90\x04\x00\x01\x01\x80"
              + b"\x30" + remaining_length(300) + b"\x00\x02ab" + bytes(296) + b"\x40\x02\x12\x34" + b"\x30\x03\x00\x01z")
    hostile = [b"\x30\xff\xff\xff\xff\x7f", b"\x30" + remaining_length(257), b"\x40\x03\x00\x01\x00", b"\xf0\x00", b"\x36\x00",
               b"\x62\x02\x00\x00", b"\x90\x03\x00\x01\x05", b"\x30\x04\x00\x09ab", b"\x40\x02\x00"]

    def check(lines):
        assert lines[0][0] == "stream" and lines[0][2] is True and len(lines[0][1]) == 7
        for line, h in zip(lines[1:], hostile):
            assert line[:2] == ["hostile", h.hex()]
        assert [line[2] for line in lines[1:10]] == ["ProtocolError"] * 8 + [[]]  # the last one: truncated

    both("codec", lambda i: dict(stream=stream.hex(), hostile=[h.hex() for h in hostile]), check)
