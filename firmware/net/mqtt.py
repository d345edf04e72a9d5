"""An MQTT 3.1.1 client for the loop, with packet ids and acks as events. No AT here.

    c = mqtt.Client(b"dev1", keepalive=60, user=b"u", password=b"p", timeout_ms=10000)
    present = yield from c.connect("broker", 1883, tls_ctx)   # raises ConnectError
    at.watch(c.sock, lambda s, ev: handle(c.read()))           # readable socket -> events
    at.monitor(lambda at: handle(c.tick()))                    # keepalive, ack timeouts -> events
    pid = c.publish(b"t", b"payload", 1)                      # at once; ("puback", pid) later
    sid = c.subscribe([(b"a/#", 1), (b"b", 0)])               # ("suback", sid, [1, 0]) later

Events are tuples, returned in order by read(), tick() and disconnect():
    ("publish", topic, payload, qos, retain, dup)  an incoming message (bytes, bytes, int, 0/1, 0/1); QoS 1
                                                   is PUBACKed and QoS 2 PUBRECed by the client itself (a QoS 2
                                                   message is delivered once, when its PUBLISH arrives)
    ("puback", pid)                                our QoS 1 publish got its PUBACK, or QoS 2 its PUBCOMP
    ("suback", pid, granted)                       granted: one int per filter, 0-2 or 0x80 (refused)
    ("unsuback", pid)
    ("failed", kind, pid, reason)                  kind "publish"/"subscribe"/"unsubscribe": no ack came, reason
                                                   TIMEOUT (none within timeout_ms; the connection stays up and
                                                   a late ack is ignored) or DISCONNECTED (the connection ended)
    ("disconnected", reason)                       CLOSED, PROTOCOL, PING_TIMEOUT, SEND_FAILED or USER; always
                                                   after the "failed" events of that connection, and only once

Unacknowledged QoS 1/2 publishes are NOT re-sent: when the connection drops each is reported as
("failed", "publish", pid, "disconnected") and forgotten (no payload is kept); a family that wants at-least-once
across a reconnect publishes again (with a new id). Subscriptions are not restored either (clean session).

Errors: connect() raises ConnectError(reason[, code]): DNS, TCP (refused, unreachable, TLS failure), TIMEOUT (no
CONNACK), CLOSED, PROTOCOL, REFUSED with the CONNACK return code 1-5 (RC_*). publish/subscribe/unsubscribe
raise MqttError(NOT_CONNECTED), MqttError(BUSY) (``max_inflight`` requests await acks) or
MqttError(SEND_FAILED) (the connection is then closed: read()/tick() report it), and ValueError for arguments
MQTT cannot carry. The Decoder raises ProtocolError for anything a broker must not send; the client turns it
into ("disconnected", PROTOCOL).

While a command of the engine runs, watch callbacks are not called: a command that waits for an ack calls
read() (and tick()) from its own generator. tick() reads the socket itself only before it declares a timeout
and when TLS holds decrypted bytes that poll() cannot see. Each connection has its own socket: unwatch the
one you watched when ("disconnected", ...) comes, watch c.sock after the next connect(). The client never
reconnects by itself; Backoff gives the delays a family waits between its connect() attempts.
"""
from at.compat import ticks_ms, ticks_diff, ticks_add
from net import transport

# Packet types (the high nibble of the first byte)
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

# CONNACK return codes (ConnectError(REFUSED, code))
RC_PROTOCOL = 1  # unacceptable protocol version
RC_IDENTIFIER = 2  # identifier rejected
RC_UNAVAILABLE = 3  # server unavailable
RC_CREDENTIALS = 4  # bad user name or password
RC_NOT_AUTHORIZED = 5  # not authorized

# Reasons: in ("disconnected", reason), ("failed", kind, pid, reason), MqttError and ConnectError
CLOSED = "closed"  # the broker closed the connection (or it was reset)
PROTOCOL = "protocol"  # the broker sent something malformed, oversized or out of place
PING_TIMEOUT = "ping_timeout"  # no PINGRESP within timeout_ms: the broker is gone
SEND_FAILED = "send_failed"  # a packet could not be written within timeout_ms
USER = "user"  # disconnect() (or connect() over a live connection)
TIMEOUT = "timeout"  # no ack / CONNACK in time
DISCONNECTED = "disconnected"  # the connection ended before the ack came
DNS = "dns"  # the broker's name does not resolve
TCP = "tcp"  # no TCP connection or TLS handshake
REFUSED = "refused"  # CONNACK with a return code 1-5 (ConnectError.args[1])
NOT_CONNECTED = "not_connected"
BUSY = "busy"  # max_inflight requests await their acks

MAX_PACKET = 8192  # largest remaining length accepted from the broker, by default
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"
_KIND = {PUBLISH: "publish", SUBSCRIBE: "subscribe", UNSUBSCRIBE: "unsubscribe"}
_READS = 8  # socket reads per read() call at most
_QOS2_SEEN = 32  # incoming QoS 2 ids remembered until their PUBREL


class MqttError(Exception):
    """A request the client cannot make now: args[0] is NOT_CONNECTED, BUSY or SEND_FAILED."""


class ConnectError(MqttError):
    """connect() failed: args[0] is DNS, TCP, TIMEOUT, CLOSED, PROTOCOL or REFUSED; args[1] the CONNACK
    return code (1-5) for REFUSED, else 0."""


class ProtocolError(Exception):
    """The broker sent bytes that are not MQTT 3.1.1 (args[0] says what)."""


# ---- encoding ------------------------------------------------------------------------------------
def _fixed(first, n):
    """Fixed header: the first byte and the remaining length ``n`` (1-4 bytes)."""
    if n > 268435455:
        raise ValueError("packet too large")
    out = bytearray(5)
    out[0] = first
    i = 1
    while True:
        b = n & 0x7F
        n >>= 7
        out[i] = b | 0x80 if n else b
        i += 1
        if not n:
            return out[:i]


def _field(s):
    """A length-prefixed string or binary field; str is sent as UTF-8."""
    b = s.encode() if isinstance(s, str) else bytes(s)
    if len(b) > 65535:
        raise ValueError("field longer than 65535 bytes")
    return bytes((len(b) >> 8, len(b) & 255)) + b


def _u16(n):
    return bytes((n >> 8 & 255, n & 255))


def _check_pid(pid):
    if not 0 < pid < 65536:
        raise ValueError("packet id out of range")


def _check_qos(qos):
    if qos not in (0, 1, 2):
        raise ValueError("bad QoS")


def encode_connect(client_id, keepalive=60, clean=True, user=None, password=None, will=None):
    """CONNECT. ``will``: (topic, message, qos, retain) or None. The client id may be longer than the 23 bytes
    3.1.1 guarantees (brokers that allow it take up to 65535); a password needs a user name (3.1.1 rule)."""
    if not 0 <= keepalive <= 65535:
        raise ValueError("keepalive out of range")
    flags = 0x02 if clean else 0
    payload = _field(client_id)
    if will is not None:
        topic, message, qos, retain = will
        _check_qos(qos)
        if not topic:
            raise ValueError("empty will topic")
        flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
        payload += _field(topic) + _field(message)
    if user is not None:
        flags |= 0x80
        payload += _field(user)
    if password is not None:
        if user is None:
            raise ValueError("password without user name")
        flags |= 0x40
        payload += _field(password)
    body = b"\x00\x04MQTT\x04" + bytes((flags,)) + _u16(keepalive) + payload
    return bytes(_fixed(0x10, len(body))) + body


def encode_publish(topic, payload, qos=0, retain=False, dup=False, pid=0):
    """PUBLISH (pid only for QoS 1 and 2). A topic name is not empty and has no wildcards."""
    _check_qos(qos)
    t = _field(topic)
    if len(t) == 2 or b"+" in t[2:] or b"#" in t[2:]:
        raise ValueError("bad topic name")
    if qos:
        _check_pid(pid)
    n = len(t) + (2 if qos else 0) + len(payload)
    out = _fixed(0x30 | (0x08 if dup else 0) | qos << 1 | (1 if retain else 0), n)
    out += t
    if qos:
        out += _u16(pid)
    out += payload
    return out


def encode_ack(kind, pid):
    """PUBACK, PUBREC, PUBREL or PUBCOMP for ``pid``."""
    _check_pid(pid)
    return bytes((kind << 4 | (2 if kind == PUBREL else 0), 2, pid >> 8, pid & 255))


def _filters(topics):
    return topics if isinstance(topics, list) else [topics]


def encode_subscribe(pid, topics):
    """SUBSCRIBE for a list of (topic filter, qos)."""
    _check_pid(pid)
    if not topics:
        raise ValueError("no topic filters")
    body = bytearray(_u16(pid))
    for topic, qos in topics:
        _check_qos(qos)
        f = _field(topic)
        if len(f) == 2:
            raise ValueError("empty topic filter")
        body += f
        body.append(qos)
    return _fixed(0x82, len(body)) + body


def encode_unsubscribe(pid, topics):
    """UNSUBSCRIBE for a list of topic filters."""
    _check_pid(pid)
    if not topics:
        raise ValueError("no topic filters")
    body = bytearray(_u16(pid))
    for topic in topics:
        f = _field(topic)
        if len(f) == 2:
            raise ValueError("empty topic filter")
        body += f
    return _fixed(0xA2, len(body)) + body


# ---- decoding (what a broker sends) --------------------------------------------------------------
class Decoder:
    """Incremental decoder of broker-to-client packets. ``feed(data)`` is a generator of the packets that
    ``data`` completes, as tuples:
        (CONNACK, session_present, return_code)
        (PUBLISH, topic, payload, qos, retain, dup, pid)        pid 0 for QoS 0
        (PUBACK | PUBREC | PUBREL | PUBCOMP | UNSUBACK, pid)
        (SUBACK, pid, [granted, ...])
        (PINGRESP,)
    A partial packet waits (copied into a buffer of ``max_packet`` bytes, allocated once) for the next feed.
    ProtocolError for: a type a broker never sends, wrong flags, a remaining length of more than 4 bytes or
    above ``max_packet``, a length that does not fit the type, a zero packet id, a bad SUBACK code, an empty or
    overlong topic. After a ProtocolError the stream is lost: reset() before reusing the decoder."""

    def __init__(self, max_packet=MAX_PACKET):
        self.max_packet = max_packet
        self._buf = bytearray(max_packet)
        self.reset()

    def reset(self):
        self._first = 0  # first byte of the packet under way; 0: between packets
        self._len = 0  # remaining length, decoded so far
        self._shift = 0  # its bits decoded so far
        self._need = -1  # body length once the remaining length is complete
        self._got = 0  # body bytes held in _buf

    def feed(self, data):
        mv = memoryview(data)
        n = len(mv)
        i = 0
        while i < n:
            if not self._first:
                self._first = _check_first(mv[i])
                self._len = 0
                self._shift = 0
                self._need = -1
                i += 1
                continue
            if self._need < 0:
                b = mv[i]
                i += 1
                self._len |= (b & 0x7F) << self._shift
                if b & 0x80:
                    self._shift += 7
                    if self._shift > 21:
                        raise ProtocolError("remaining length longer than 4 bytes")
                    continue
                need = _check_length(self._first, self._len, self.max_packet)
                if n - i >= need:  # the whole body is here: parse it in place
                    first = self._first
                    self._first = 0
                    i += need
                    yield _parse(first, mv[i - need : i])
                    continue
                self._need = need
                self._got = 0
            take = min(n - i, self._need - self._got)
            self._buf[self._got : self._got + take] = mv[i : i + take]
            self._got += take
            i += take
            if self._got == self._need:
                first = self._first
                self._first = 0
                yield _parse(first, memoryview(self._buf)[: self._need])


# first bytes a broker may send (PUBLISH is checked apart), and their body lengths (-1: variable)
_FIRST = {0x20: 2, 0x40: 2, 0x50: 2, 0x62: 2, 0x70: 2, 0x90: -1, 0xB0: 2, 0xD0: 0}


def _check_first(b):
    if b >> 4 == PUBLISH:
        if b & 0x06 == 0x06:
            raise ProtocolError("PUBLISH with QoS 3")
        return b
    if b not in _FIRST:
        raise ProtocolError("unexpected packet type/flags 0x%02x" % b)
    return b


def _check_length(first, n, max_packet):
    if n > max_packet:
        raise ProtocolError("packet of %d bytes, more than %d" % (n, max_packet))
    fixed = _FIRST.get(first, -1)
    if fixed >= 0 and n != fixed:
        raise ProtocolError("wrong length %d for type %d" % (n, first >> 4))
    if first == 0x90 and n < 3:
        raise ProtocolError("SUBACK too short")
    if first >> 4 == PUBLISH and n < (5 if first & 0x06 else 3):
        raise ProtocolError("PUBLISH too short")
    return n


def _pid(body, i):
    pid = body[i] << 8 | body[i + 1]
    if not pid:
        raise ProtocolError("packet id 0")
    return pid


def _parse(first, body):
    t = first >> 4
    if t == PUBLISH:
        qos = first >> 1 & 3
        tl = body[0] << 8 | body[1]
        p = 2 + tl
        if not tl or p + (2 if qos else 0) > len(body):
            raise ProtocolError("bad PUBLISH topic length")
        pid = 0
        if qos:
            pid = _pid(body, p)
            p += 2
        return (PUBLISH, bytes(body[2 : 2 + tl]), bytes(body[p:]), qos, first & 1, first >> 3 & 1, pid)
    if t == CONNACK:
        if body[0] & 0xFE:
            raise ProtocolError("bad CONNACK flags")
        return (CONNACK, body[0], body[1])
    if t == PINGRESP:
        return (PINGRESP,)
    pid = _pid(body, 0)
    if t == SUBACK:
        granted = list(body[2:])
        for g in granted:
            if g > 2 and g != 0x80:
                raise ProtocolError("bad SUBACK code 0x%02x" % g)
        return (SUBACK, pid, granted)
    return (t, pid)


# ---- the client ----------------------------------------------------------------------------------
class Client:
    """One connection to a broker at a time; see the module doc for events and errors.

    ``timeout_ms`` bounds every wait once connected: each ack (PUBACK/PUBCOMP, SUBACK, UNSUBACK), the
    PINGRESP after a PINGREQ, and each send. A PINGREQ goes out when nothing was sent or nothing received for
    ``keepalive`` seconds (0: never). Attributes may be changed between connections (e.g. a fresh password)."""

    def __init__(self, client_id, keepalive=60, user=None, password=None, clean=True, will=None,
                 timeout_ms=10000, max_packet=MAX_PACKET, max_inflight=16, rx_size=1024):
        self.client_id = client_id
        self.keepalive = keepalive
        self.user = user
        self.password = password
        self.clean = clean
        self.will = will  # (topic, message, qos, retain) or None
        self.timeout_ms = timeout_ms
        self.max_inflight = max_inflight
        self.session_present = 0
        self._dec = Decoder(max_packet)
        self._rx = bytearray(rx_size)
        self._mv = memoryview(self._rx)
        self._conn = None  # transport.Connection while connected
        self._ev = []
        self._pending = {}  # pid -> [kind, deadline, qos] for our requests awaiting acks
        self._qos2 = []  # incoming QoS 2 ids delivered, awaiting PUBREL
        self._pid = 0
        self._last_tx = 0
        self._last_rx = 0
        self._ping_at = None  # ticks when the outstanding PINGREQ went out

    @property
    def connected(self):
        return self._conn is not None

    @property
    def sock(self):
        """What to poll for readability (plain or TLS socket), or None when not connected."""
        return self._conn.sock if self._conn is not None else None

    def inflight(self):
        """How many of our requests await their acks."""
        return len(self._pending)

    # -- connecting
    def connect(self, host, port, tls=None, server_hostname=None, timeout_ms=10000):
        """Generator: TCP (TLS with the ssl context ``tls``, SNI and name check with ``server_hostname``, by
        default ``host``), CONNECT, CONNACK within ``timeout_ms``. Returns the session-present flag; raises
        ConnectError. A live connection is first closed (its events: reason USER)."""
        if self._conn is not None:
            self._drop(USER)
        try:
            addr = transport.resolve(host, port)
        except OSError:
            raise ConnectError(DNS, 0)
        if tls is not None and server_hostname is None:
            server_hostname = host
        conn = yield from transport.open_tcp(addr, timeout_ms, tls, server_hostname)
        if conn is None:
            raise ConnectError(TCP, 0)
        ok = False
        try:
            start = ticks_ms()
            self._dec.reset()
            packet = encode_connect(self.client_id, self.keepalive, self.clean, self.user, self.password, self.will)
            sent = yield from conn.send_all(packet, None, timeout_ms)
            if not sent:
                raise ConnectError(CLOSED, 0)
            connack = None
            rest = []
            while connack is None:
                n = conn.recv_into(self._mv)
                if n == 0:
                    raise ConnectError(CLOSED, 0)
                if n:
                    try:
                        for pkt in self._dec.feed(self._mv[:n]):
                            if connack is not None:
                                rest.append(pkt)
                            elif pkt[0] != CONNACK:
                                raise ProtocolError("not a CONNACK")
                            else:
                                connack = pkt
                    except ProtocolError:
                        raise ConnectError(PROTOCOL, 0)
                    continue
                if ticks_diff(ticks_ms(), start) > timeout_ms:
                    raise ConnectError(TIMEOUT, 0)
                yield 5
            if connack[2]:
                raise ConnectError(REFUSED, connack[2])
            ok = True
        finally:
            if not ok:
                conn.close()
        self._conn = conn
        self.session_present = connack[1]
        self._pending = {}
        self._qos2 = []
        self._ping_at = None
        self._last_tx = self._last_rx = ticks_ms()
        try:
            for pkt in rest:  # what came with the CONNACK
                if self._conn is not None:
                    self._handle(pkt)
        except ProtocolError:
            self._drop(PROTOCOL)
        return connack[1]

    def disconnect(self):
        """Send DISCONNECT (best effort) and close; returns the events (ending with ("disconnected", USER))."""
        if self._conn is not None:
            self._conn.send_blocking(DISCONNECT_PACKET, min(self.timeout_ms, 1000))
            self._drop(USER)
        return self._take()

    # -- requests
    def publish(self, topic, payload, qos=0, retain=False):
        """Send a PUBLISH now; returns its packet id (0 for QoS 0). ("puback", pid) follows for QoS 1 and 2."""
        self._ready(qos)
        pid = self._new_pid() if qos else 0
        self._request(encode_publish(topic, payload, qos, retain, False, pid), PUBLISH, pid, qos)
        return pid

    def subscribe(self, topic, qos=0):
        """SUBSCRIBE to one filter, or to a list of (filter, qos); returns the packet id of the SUBACK to come."""
        topics = topic if isinstance(topic, list) else [(topic, qos)]
        self._ready(1)
        pid = self._new_pid()
        self._request(encode_subscribe(pid, topics), SUBSCRIBE, pid, 1)
        return pid

    def unsubscribe(self, topic):
        """UNSUBSCRIBE from one filter or a list of them; returns the packet id of the UNSUBACK to come."""
        self._ready(1)
        pid = self._new_pid()
        self._request(encode_unsubscribe(pid, _filters(topic)), UNSUBSCRIBE, pid, 1)
        return pid

    def ping(self):
        """Send a PINGREQ now (tick() does it at the keepalive interval)."""
        self._ready(0)
        if self._send(PINGREQ_PACKET) and self._ping_at is None:
            self._ping_at = ticks_ms()

    def _ready(self, acked):
        if self._conn is None:
            raise MqttError(NOT_CONNECTED)
        if acked and len(self._pending) >= self.max_inflight:
            raise MqttError(BUSY)

    def _request(self, packet, kind, pid, qos):
        if not self._send(packet):
            raise MqttError(SEND_FAILED)
        if qos:
            self._pending[pid] = [kind, ticks_add(ticks_ms(), self.timeout_ms), qos]

    def _new_pid(self):
        pid = self._pid
        while True:
            pid = pid % 65535 + 1
            if pid not in self._pending:
                self._pid = pid
                return pid

    # -- the loop's side
    def read(self):
        """Read what the socket has (call when it is readable); returns the events it makes."""
        conn = self._conn
        for _ in range(_READS):
            if conn is None or self._conn is not conn:
                break
            n = conn.recv_into(self._mv)
            if n is None:
                break
            if n == 0:
                self._drop(CLOSED)
                break
            self._last_rx = ticks_ms()
            try:
                for pkt in self._dec.feed(self._mv[:n]):
                    self._handle(pkt)
                    if self._conn is not conn:
                        break
            except ProtocolError as e:
                print("upy-at: mqtt: %s" % e.args[0])
                self._drop(PROTOCOL)
                break
            if n < len(self._mv) and not conn.pending():
                break
        return self._take()

    def tick(self):
        """Keepalive and timeouts; call often (every loop pass). Returns the events it makes."""
        conn = self._conn
        if conn is None:
            return self._take()
        now = ticks_ms()
        late = self._ping_at is not None and ticks_diff(now, self._ping_at) > self.timeout_ms
        for entry in self._pending.values():
            late = late or ticks_diff(now, entry[1]) >= 0
        if late or conn.pending():
            self.read()  # an ack may be waiting in the socket (e.g. while a command kept the loop busy)
            if self._conn is not conn:
                return self._take()
            now = ticks_ms()
        expired = [pid for pid in self._pending if ticks_diff(now, self._pending[pid][1]) >= 0]
        for pid in sorted(expired):
            self._ev.append(("failed", _KIND[self._pending.pop(pid)[0]], pid, TIMEOUT))
        if self._ping_at is not None:
            if ticks_diff(now, self._ping_at) > self.timeout_ms:
                self._drop(PING_TIMEOUT)
        elif self.keepalive:
            ka = self.keepalive * 1000
            if ticks_diff(now, self._last_tx) >= ka or ticks_diff(now, self._last_rx) >= ka:
                if self._send(PINGREQ_PACKET):
                    self._ping_at = now
        return self._take()

    # -- inside
    def _take(self):
        ev = self._ev
        self._ev = []
        return ev

    def _send(self, data):
        if self._conn.send_blocking(data, self.timeout_ms):
            self._last_tx = ticks_ms()
            return True
        self._drop(SEND_FAILED)
        return False

    def _drop(self, reason):
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        conn.close()
        for pid in sorted(self._pending):
            self._ev.append(("failed", _KIND[self._pending[pid][0]], pid, DISCONNECTED))
        self._pending = {}
        self._qos2 = []
        self._ping_at = None
        self._ev.append(("disconnected", reason))

    def _handle(self, pkt):
        t = pkt[0]
        if t == PUBLISH:
            qos, pid = pkt[3], pkt[6]
            if qos == 2:
                fresh = pid not in self._qos2
                if fresh:
                    if len(self._qos2) >= _QOS2_SEEN:
                        self._qos2.pop(0)
                    self._qos2.append(pid)
                    self._ev.append(("publish", pkt[1], pkt[2], 2, pkt[4], pkt[5]))
                self._send(encode_ack(PUBREC, pid))
                return
            self._ev.append(("publish", pkt[1], pkt[2], qos, pkt[4], pkt[5]))
            if qos:
                self._send(encode_ack(PUBACK, pid))
            return
        if t == PINGRESP:
            self._ping_at = None
            return
        if t == CONNACK:
            raise ProtocolError("CONNACK while connected")
        pid = pkt[1]
        if t == PUBREL:  # the broker's QoS 2 message: complete it, known or not
            if pid in self._qos2:
                self._qos2.remove(pid)
            self._send(encode_ack(PUBCOMP, pid))
            return
        entry = self._pending.get(pid)
        if t == PUBREC:  # our QoS 2 message: release it (also when it timed out already, so the broker is done)
            if entry is not None and entry[0] == PUBLISH and entry[2] == 2:
                entry[2] = 3  # PUBREL sent, PUBCOMP awaited
            self._send(encode_ack(PUBREL, pid))
            return
        if entry is None:
            return  # an ack for a request that timed out
        kind = entry[0]
        if t == PUBACK and kind == PUBLISH and entry[2] == 1 or t == PUBCOMP and kind == PUBLISH and entry[2] == 3:
            del self._pending[pid]
            self._ev.append(("puback", pid))
        elif t == SUBACK and kind == SUBSCRIBE:
            del self._pending[pid]
            self._ev.append(("suback", pid, pkt[2]))
        elif t == UNSUBACK and kind == UNSUBSCRIBE:
            del self._pending[pid]
            self._ev.append(("unsuback", pid))


class Backoff:
    """Reconnect delays for a family to drive: ``first_ms``, doubled after each further attempt, at most
    ``max_ms`` (1 s, 2 s, 4 s ... 64 s by default). reset() once a connection has held."""

    def __init__(self, first_ms=1000, max_ms=64000):
        self.first_ms = first_ms
        self.max_ms = max_ms
        self.attempts = 0

    def next_ms(self):
        """The delay before the next attempt (counts the attempt)."""
        d = self.max_ms if self.attempts >= 20 else min(self.max_ms, self.first_ms << self.attempts)
        self.attempts += 1
        return d

    def reset(self):
        self.attempts = 0
