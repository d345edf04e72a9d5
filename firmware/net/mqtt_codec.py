"""MQTT 3.1.1 packets: encoders for what a client sends, an incremental Decoder for what a broker sends.
No sockets and no AT here (net/mqtt.py is the client, net/session.py the connection a family uses).

Encoders return bytes (or bytearray) and raise ValueError for what MQTT cannot carry. The Decoder yields
tuples (see its doc) and raises ProtocolError for anything a broker must not send.
"""

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
PUBLISH_PART = 16  # not a packet type: a piece of a PUBLISH too long for the Decoder's buffer (stream)

# CONNACK return codes (ConnectError(REFUSED, code))
RC_PROTOCOL = 1  # unacceptable protocol version
RC_IDENTIFIER = 2  # identifier rejected
RC_UNAVAILABLE = 3  # server unavailable
RC_CREDENTIALS = 4  # bad user name or password
RC_NOT_AUTHORIZED = 5  # not authorized


MAX_PACKET = 8192  # largest remaining length accepted from the broker, by default
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"


class ProtocolError(Exception):
    """The broker sent bytes that are not MQTT 3.1.1 (args[0] says what)."""


# ---- encoding ------------------------------------------------------------------------------------
def _fixed(first, n):
    """Fixed header: the first byte and the remaining length ``n`` (1-4 bytes)."""
    if n > 268435455:
        raise ValueError("packet too large")
    out = bytearray(5)
    out[0] = first
    return out[: _put_length(out, n)]


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
    """PUBLISH (pid only for QoS 1 and 2). A topic name is not empty and has no wildcards. The packet is
    built in one buffer, the one allocation of a publish (the client reuses its own: put_topic, put_head)."""
    _check_qos(qos)
    topic = topic_name(topic)
    if qos:
        _check_pid(pid)
    n = 2 + len(topic) + (2 if qos else 0) + len(payload)
    if n > 268435455:
        raise ValueError("packet too large")
    at = 2 + (n > 127) + (n > 16383) + (n > 2097151)  # the fixed header's length
    out = bytearray(at + n)
    i = put_topic(out, at, topic)
    if qos:
        out[i] = pid >> 8
        out[i + 1] = pid & 255
        i += 2
    out[i:] = payload
    put_head(out, at, at + n, 0x30 | (0x08 if dup else 0) | qos << 1 | (1 if retain else 0))
    return out


def topic_name(topic):
    """A topic name as bytes (str as UTF-8); ValueError when it is empty, has wildcards or is too long."""
    if isinstance(topic, str):
        topic = topic.encode()
    if len(topic) > 65535:
        raise ValueError("field longer than 65535 bytes")
    if not topic or b"+" in topic or b"#" in topic:
        raise ValueError("bad topic name")
    return topic


def put_topic(buf, at, topic):
    """Write a PUBLISH's topic name (bytes, checked by topic_name) at buf[at]; returns where it ends (the
    packet id of QoS 1 and 2 follows, then the payload). ``at`` leaves room for the fixed header (5 bytes
    hold any), which put_head writes last."""
    n = len(topic)
    buf[at] = n >> 8
    buf[at + 1] = n & 255
    buf[at + 2 : at + 2 + n] = topic
    return at + 2 + n


def put_head(buf, at, end, first):
    """Write the fixed header (the ``first`` byte, the remaining length) of the packet whose variable header
    starts at buf[at] and which ends at ``end``, right before buf[at]; returns where the packet starts."""
    n = end - at
    if n < 128:
        buf[at - 2] = first
        buf[at - 1] = n
        return at - 2
    start = at - 3 - (n > 16383) - (n > 2097151)
    buf[start] = first
    _put_length(buf, n, start + 1)
    return start


def _put_length(out, n, i=1):
    """Write the remaining length ``n`` from out[i]; returns where it ends."""
    while True:
        b = n & 0x7F
        n >>= 7
        out[i] = b | 0x80 if n else b
        i += 1
        if not n:
            return i


def encode_ack(kind, pid):
    """PUBACK, PUBREC, PUBREL or PUBCOMP for ``pid``."""
    _check_pid(pid)
    return bytes((kind << 4 | (2 if kind == PUBREL else 0), 2, pid >> 8, pid & 255))


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
    overlong topic. After a ProtocolError the stream is lost: reset() before reusing the decoder.

    With ``stream`` a PUBLISH is never too long: one whose whole packet (fixed header included) exceeds
    ``max_packet`` comes in pieces, each yielded once the buffer is full or the packet ends, as
        (PUBLISH_PART, topic, piece, qos, retain, dup, pid, offset, total)
    where ``offset`` is where ``piece`` starts in the payload and ``total`` the payload's length. The first
    piece shares the buffer with the headers, so it holds ``max_packet`` less the headers and each further one
    ``max_packet`` bytes (esp-at splits what exceeds its 1024-byte MQTT buffer the same way). Only the topic
    must fit the buffer. A generator left unfinished (the caller stops taking packets) resumes where it was."""

    def __init__(self, max_packet=MAX_PACKET, stream=False):
        self.max_packet = max_packet
        self.stream = stream
        self._buf = bytearray(max_packet)
        self.reset()

    def reset(self):
        self._first = 0  # first byte of the packet under way; 0: between packets
        self._len = 0  # remaining length, decoded so far
        self._shift = 0  # its bits decoded so far
        self._need = -1  # body length once the remaining length is complete
        self._got = 0  # body bytes held in _buf
        self._part = None  # a PUBLISH in pieces: [cap, header length, body bytes taken, offset, topic, pid]

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
                fixed = 2 + self._shift // 7  # the fixed header's length
                if self.stream and self._first >> 4 == PUBLISH and fixed + self._len > self.max_packet:
                    _check_length(self._first, self._len, self._len)
                    self._need = self._len
                    self._got = 0
                    self._part = [self.max_packet - fixed, -1, 0, 0, None, 0]
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
            if self._part is not None:
                take = self._take_part(mv, i)
                i += take
                piece = self._piece()
                if piece is not None:
                    yield piece
                continue
            take = min(n - i, self._need - self._got)
            self._buf[self._got : self._got + take] = mv[i : i + take]
            self._got += take
            i += take
            if self._got == self._need:
                first = self._first
                self._first = 0
                yield _parse(first, memoryview(self._buf)[: self._need])

    def _take_part(self, mv, i):
        """Copy what fits into the buffer; parse the topic and packet id once they are in."""
        part = self._part
        take = min(len(mv) - i, part[0] - self._got, self._need - part[2])
        self._buf[self._got : self._got + take] = mv[i : i + take]
        self._got += take
        part[2] += take
        if part[1] < 0 and self._got >= 2:
            qos = self._first >> 1 & 3
            hl = 2 + (self._buf[0] << 8 | self._buf[1]) + (2 if qos else 0)
            if hl == 2 or hl >= part[0]:
                raise ProtocolError("PUBLISH topic empty or longer than the buffer")
            if self._got >= hl:
                part[1] = hl
                part[4] = bytes(self._buf[2 : hl - (2 if qos else 0)])
                part[5] = _pid(self._buf, hl - 2) if qos else 0
        return take

    def _piece(self):
        """The next piece, when the buffer is full or the packet has ended; else None."""
        part = self._part
        if part[1] < 0 or (self._got < part[0] and part[2] < self._need):
            return None
        first = self._first
        start = part[1] if part[3] == 0 else 0
        data = bytes(self._buf[start : self._got])
        offset = part[3]
        part[3] += len(data)
        part[0] = self.max_packet
        self._got = 0
        if part[2] == self._need:
            self._part = None
            self._first = 0
        hl = part[1]
        return (PUBLISH_PART, part[4], data, first >> 1 & 3, first & 1, first >> 3 & 1, part[5], offset,
                self._need - hl)


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
