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

With ``flow=True`` (what net/session.py uses) incoming messages are flow-controlled instead:
    ("message", topic, data, qos, retain, dup, pid, offset, total)
                                                   a message, or a piece of one too long for ``max_packet`` (the
                                                   decoder's stream mode: ``data`` starts at ``offset`` of a
                                                   payload of ``total`` bytes); QoS 1/2 are acknowledged only
                                                   when the caller says so with ack(pid, qos), after the last
                                                   piece; a QoS 2 repeat of one not yet acked is skipped
read(room) then stops after ``room`` message events and keeps the rest of what it read (``held``) for the next
call; tick(room) likewise.

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
from at.compat import const, ticks_ms, ticks_diff, ticks_add
from net import transport
from net.mqtt_codec import (CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE,
                            UNSUBACK, PINGRESP, PUBLISH_PART, MAX_PACKET, Decoder, ProtocolError, encode_connect,
                            encode_publish, topic_name, put_topic, put_head, encode_ack, encode_subscribe,
                            encode_unsubscribe, PINGREQ_PACKET, DISCONNECT_PACKET)

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

_KIND = {PUBLISH: "publish", SUBSCRIBE: "subscribe", UNSUBSCRIBE: "unsubscribe"}
_READS = 8  # socket reads per read() call at most
_QOS2_SEEN = 32  # incoming QoS 2 ids remembered until their PUBREL
TX_SIZE = const(512)  # the PUBLISH buffer, made on the first publish: an esp-at AT+MQTTPUB (topic 128, data 256) fits
_TX_AT = const(5)  # where the topic starts in it: room for any fixed header


class MqttError(Exception):
    """A request the client cannot make now: args[0] is NOT_CONNECTED, BUSY or SEND_FAILED."""


class ConnectError(MqttError):
    """connect() failed: args[0] is DNS, TCP, TIMEOUT, CLOSED, PROTOCOL or REFUSED; args[1] the CONNACK
    return code (1-5) for REFUSED, else 0."""


def _filters(topics):
    return topics if isinstance(topics, list) else [topics]


# ---- the client ----------------------------------------------------------------------------------
class Client:
    """One connection to a broker at a time; see the module doc for events and errors.

    ``timeout_ms`` bounds every wait once connected: each ack (PUBACK/PUBCOMP, SUBACK, UNSUBACK), the
    PINGRESP after a PINGREQ, and each send. A PINGREQ goes out when nothing was sent or nothing received for
    ``keepalive`` seconds (0: never). Attributes may be changed between connections (e.g. a fresh password)."""

    def __init__(self, client_id, keepalive=60, user=None, password=None, clean=True, will=None,
                 timeout_ms=10000, max_packet=MAX_PACKET, max_inflight=16, rx_size=1024, flow=False):
        self.client_id = client_id
        self.keepalive = keepalive
        self.user = user
        self.password = password
        self.clean = clean
        self.will = will  # (topic, message, qos, retain) or None
        self.timeout_ms = timeout_ms
        self.max_inflight = max_inflight
        self.session_present = 0
        self.flow = flow
        self.on_close = None  # fn(sock) called just before a connection's socket closes (to unwatch it)
        self._dec = Decoder(max_packet, flow)
        self._feed = None  # the decoder's generator while it holds packets not yet taken (read(room))
        self._unacked = {}  # flow: incoming pid -> qos, delivered as events, awaiting ack()
        self._skip = False  # flow: the pieces of a QoS 2 repeat are skipped
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
        self._tx = None  # the PUBLISH buffer (TX_SIZE), holding the last topic sent ...
        self._txmv = None
        self._topic = None  # ... (a memoryview of it, which bytes and str compare with, without warning), or None
        self._topic_end = 0  # where it ends in _tx

    @property
    def connected(self):
        return self._conn is not None

    @property
    def sock(self):
        """What to poll for readability (plain or TLS socket), or None when not connected."""
        return self._conn.sock if self._conn is not None else None

    @property
    def held(self):
        """True when bytes already read (or decrypted by TLS) wait to be decoded: call read() again, whether
        or not the socket polls readable."""
        return self._conn is not None and (self._feed is not None or self._conn.pending())

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
        self._unacked = {}
        self._feed = None
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
        """Send a PUBLISH now; returns its packet id (0 for QoS 0). ("puback", pid) follows for QoS 1 and 2.
        The packet is built in the client's buffer, whose topic stays for the next publish to the same one,
        and sent here (as _request and _send do, without their two calls: this is the hot path)."""
        conn = self._conn
        if conn is None:
            raise MqttError(NOT_CONNECTED)
        pid = self._new_request(qos) if qos else 0
        i = self._topic_end if topic == self._topic else self._put_topic(topic)
        end = i + (2 if qos else 0) + len(payload)
        if i and end <= TX_SIZE:
            tx = self._tx
            if qos:
                tx[i] = pid >> 8
                tx[i + 1] = pid & 255
                i += 2
            tx[i:end] = payload
            first = 0x30 | qos << 1 | (1 if retain else 0)
            if end - _TX_AT < 128:  # put_head's short case, here: the hot path
                tx[_TX_AT - 2] = first
                tx[_TX_AT - 1] = end - _TX_AT
                packet = self._txmv[_TX_AT - 2 : end]
            else:
                packet = self._txmv[put_head(tx, _TX_AT, end, first) : end]
        else:  # a topic or message too long for the buffer
            packet = encode_publish(topic, payload, qos, retain, False, pid)
        if not conn.send_blocking(packet, self.timeout_ms):
            self._drop(SEND_FAILED)
            raise MqttError(SEND_FAILED)
        self._last_tx = ticks_ms()
        if qos:
            self._pending[pid] = [PUBLISH, ticks_add(ticks_ms(), self.timeout_ms), qos]
        return pid

    def _put_topic(self, topic):
        """Check ``topic`` and write it in the PUBLISH buffer (made now if need be); returns where it ends
        there, or 0 when it does not fit."""
        name = topic_name(topic)
        if self._tx is None:
            self._tx = bytearray(TX_SIZE)
            self._txmv = memoryview(self._tx)
        self._topic = None
        if _TX_AT + 4 + len(name) > TX_SIZE:
            return 0
        self._topic_end = put_topic(self._tx, _TX_AT, name)
        self._topic = self._txmv[_TX_AT + 2 : self._topic_end]
        return self._topic_end

    def subscribe(self, topic, qos=0):
        """SUBSCRIBE to one filter, or to a list of (filter, qos); returns the packet id of the SUBACK to come."""
        topics = topic if isinstance(topic, list) else [(topic, qos)]
        self._ready()
        pid = self._new_request(1)
        self._request(encode_subscribe(pid, topics), SUBSCRIBE, pid, 1)
        return pid

    def unsubscribe(self, topic):
        """UNSUBSCRIBE from one filter or a list of them; returns the packet id of the UNSUBACK to come."""
        self._ready()
        pid = self._new_request(1)
        self._request(encode_unsubscribe(pid, _filters(topic)), UNSUBSCRIBE, pid, 1)
        return pid

    def ack(self, pid, qos):
        """flow: acknowledge incoming message ``pid`` (PUBACK for QoS 1, PUBREC for QoS 2) once it has been
        delivered; nothing when the connection it came on has ended."""
        if self._unacked.pop(pid, None) is None or self._conn is None:
            return
        if qos == 2:
            if len(self._qos2) >= _QOS2_SEEN:
                self._qos2.pop(0)
            self._qos2.append(pid)
        self._send(encode_ack(PUBACK if qos == 1 else PUBREC, pid))

    def ping(self):
        """Send a PINGREQ now (tick() does it at the keepalive interval)."""
        self._ready()
        if self._send(PINGREQ_PACKET) and self._ping_at is None:
            self._ping_at = ticks_ms()

    def _ready(self):
        if self._conn is None:
            raise MqttError(NOT_CONNECTED)

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

    def _new_request(self, qos):
        """The packet id of a request whose ack is awaited: a publish at ``qos`` 1 or 2, a (un)subscribe at 1
        (connected: checked). MqttError(BUSY) while max_inflight await theirs; ValueError for another qos."""
        if len(self._pending) >= self.max_inflight:
            raise MqttError(BUSY)
        if qos != 1 and qos != 2:
            raise ValueError("bad QoS")
        return self._new_pid()

    # -- the loop's side
    def read(self, room=-1):
        """Read what the socket has (call when it is readable); returns the events it makes. With ``room`` >= 0
        it stops once ``room`` message events were made, holding the rest (``held``)."""
        conn = self._conn
        reads = 0
        while conn is not None and self._conn is conn and room:
            if self._feed is None:
                if reads == _READS:
                    break
                n = conn.recv_into(self._mv)
                if n is None:
                    break
                if n == 0:
                    self._drop(CLOSED)
                    break
                reads += 1
                self._last_rx = ticks_ms()
                self._feed = self._dec.feed(self._mv[:n])
                if n < len(self._mv) and not conn.pending():
                    reads = _READS  # a short read: the socket is drained, decode it and stop
            room = self._decode(conn, room)
        return self._take()

    def _decode(self, conn, room):
        """Handle the held packets until ``room`` messages were made; returns the room left."""
        try:
            for pkt in self._feed:
                if self._handle(pkt):
                    room -= 1
                if self._conn is not conn:
                    return room
                if not room:
                    return room
            self._feed = None
        except ProtocolError as e:
            print("upy-at: mqtt: %s" % e.args[0])
            self._drop(PROTOCOL)
        return room

    def tick(self, room=-1):
        """Keepalive and timeouts; call often (every loop pass). Returns the events it makes (``room`` as read())."""
        conn = self._conn
        if conn is None:
            return self._take()
        now = ticks_ms()
        late = self._ping_at is not None and ticks_diff(now, self._ping_at) > self.timeout_ms
        for entry in self._pending.values():
            late = late or ticks_diff(now, entry[1]) >= 0
        if (late or conn.pending()) and room:
            # an ack may be waiting in the socket (e.g. while a command kept the loop busy); read() takes the
            # events made so far, which this tick returns
            self._ev = self.read(room) or self._ev  # () when it made none: self._ev is still the empty list
            if self._conn is not conn:
                return self._take()
            now = ticks_ms()
        if self._pending:
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
        if not ev:
            return ()  # the usual tick: nothing happened, nothing allocated
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
        if self.on_close is not None:
            self.on_close(conn.sock)
        conn.close()
        for pid in sorted(self._pending):
            self._ev.append(("failed", _KIND[self._pending[pid][0]], pid, DISCONNECTED))
        self._pending = {}
        self._qos2 = []
        self._unacked = {}
        self._feed = None
        self._ping_at = None
        self._ev.append(("disconnected", reason))

    def _handle(self, pkt):
        """Act on one packet from the broker; True when it made a message event (flow)."""
        t = pkt[0]
        if self.flow and (t == PUBLISH or t == PUBLISH_PART):
            return self._message(pkt, t == PUBLISH_PART)
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
                return False
            self._ev.append(("publish", pkt[1], pkt[2], qos, pkt[4], pkt[5]))
            if qos:
                self._send(encode_ack(PUBACK, pid))
            return False
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
        return False

    def _message(self, pkt, part):
        qos, pid = pkt[3], pkt[6]
        offset = pkt[7] if part else 0
        if offset == 0:
            self._skip = qos == 2 and (pid in self._qos2 or pid in self._unacked)
            if self._skip and pid in self._qos2:
                self._send(encode_ack(PUBREC, pid))  # delivered and PUBRECed before: the PUBREC was lost
            if qos and not self._skip:
                self._unacked[pid] = qos
        if self._skip:
            return False
        self._ev.append(("message", pkt[1], pkt[2], qos, pkt[4], pkt[5], pid, offset,
                         pkt[8] if part else len(pkt[2])))
        return True


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
