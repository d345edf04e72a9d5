"""The cellular profile's MQTT commands (AT+MCONFIG ... AT+MIPCLOSE, reference cellular-air724.md §3) on one
net/session over Wi-Fi.

The module's steps and ours:
  AT+MCONFIG      client id, user, password, will: kept for AT+MCONNECT.
  AT+MIPSTART     OK, then CONNECT OK once the broker answered a TCP connection (AT+SSLMIPSTART: and a TLS
                  handshake verified against the clouds' CA, net/pki.cloud_context), which is closed again:
                  the session opens its own at AT+MCONNECT, where the CONNECT packet's fields are known.
                  CONNECT FAIL when the broker cannot be reached; ALREADY CONNECT when it already was.
  AT+MCONNECT     OK, then CONNACK OK once the session is connected; CLOSED when it fails or is refused.
  AT+MSUB/MUNSUB  OK, then SUBACK / UNSUBACK.        AT+MPUB  OK, then PUBACK (QoS 1), PUBREC PUBCOMP (QoS 2).
  received        +MSUB: "<topic>",<len> byte,<payload> (AT+MQTTMSGSET=0), or +MSUB: <slot> and a cache of
                  4 that AT+MQTTMSGGET prints (=1).
  connection lost CLOSED; AT+MQTTSTATU answers 0. The module does not reconnect by itself: the MCU does.
"""
from at import replies
from at.parser import AtError, num, text
from cmds import cellular
from cmds.cellular import CME_INVALID_INPUT, CME_FAILED
from net import mqtt, pki, session, transport

ERRORS = replies.cme_spaced
OFFLINE, CONNECTED, TCP_UP = 0, 1, 2  # AT+MQTTSTATU's <state>
TIMEOUT_MS = 10000  # connecting, the TLS handshake, each ack
MESSAGE_MAX = 4100  # the module's largest message
CACHE_SLOTS = 4

config = None  # type: list | None  # AT+MCONFIG: [client_id, user, password, will or None]
target = None  # AT+MIPSTART: (host, port, tls)
state = OFFLINE
msg_mode = 0  # AT+MQTTMSGSET
cache = [None] * CACHE_SLOTS  # type: list  # AT+MQTTMSGSET=1: (topic, payload) by slot
_next_slot = 0
_s = None  # the net/session Session of AT+MCONNECT
_pending = {}  # packet id -> the line(s) its ack prints
_pieces = bytearray()  # a message arriving in pieces
_starting = False  # an AT+MIPSTART is under way


def _event(ev):
    """The session's events as the module's URCs."""
    global state
    s = _s
    if s is None:
        return
    kind = ev[0]
    if kind == "message":
        _message(s, ev)
    elif kind == "acked":
        line = _pending.pop(ev[1], None)
        if line is not None:
            s.at.urc(line)
    elif kind == "failed":
        _pending.pop(ev[1], None)  # no ack came: the module prints nothing for it
    elif kind == "lost":
        state = OFFLINE
        _pending.clear()
        s.at.urc(b"\r\nCLOSED\r\n")


def _message(s, ev):
    """One +MSUB (or a cache slot) per whole message; pieces of a long one are joined first."""
    global _pieces, _next_slot
    topic, data, offset, total = ev[1], ev[2], ev[7], ev[8]
    if len(data) < total:
        if offset == 0:
            _pieces = bytearray()
        _pieces += data
        if offset + len(data) < total:
            s.delivered(ev)  # kept here until the last piece
            return
        data = bytes(_pieces)
        _pieces = bytearray()
    if msg_mode == 0:
        s.at.urc(b'\r\n+MSUB: "' + bytes(topic) + b'",%d byte,' % len(data) + bytes(data) + b"\r\n",
                 s.delivered, ev)
        return
    slot = _next_slot
    _next_slot = (slot + 1) % CACHE_SLOTS
    cache[slot] = (bytes(topic), bytes(data))
    s.delivered(ev)
    s.at.urc(b"\r\n+MSUB: %d\r\n" % slot)


def _connected():
    if state != CONNECTED or _s is None or not _s.connected:
        raise AtError(CME_FAILED)
    return _s


# ---- configuration -------------------------------------------------------------------------------
p_mconfig = (text(256), text(256, opt=True), text(256, opt=True), num(0, 2, True), num(0, 1, True),
             text(256, opt=True), text(MESSAGE_MAX, opt=True))


def s_mconfig(at, client_id, user, password, will_qos, will_retain, will_topic, will_msg):
    """AT+MCONFIG=<clientid>[,<user>,<pass>[,<will_qos>,<will_retain>,<will_topic>,<will_msg>]]"""
    global config
    if not client_id:
        raise AtError(CME_INVALID_INPUT)
    will = (will_topic, will_msg or "", will_qos or 0, will_retain or 0) if will_topic else None
    config = [client_id, user or None, password or None, will]


# ---- the TCP side --------------------------------------------------------------------------------
p_mipstart = (text(128, 1), text(5, 1))
p_sslmipstart = p_mipstart


def s_mipstart(at, host, port):
    return _start(at, host, port, False)


def s_sslmipstart(at, host, port):
    return _start(at, host, port, True)


def _start(at, host, port, tls):
    """OK now; CONNECT OK, CONNECT FAIL or ALREADY CONNECT later."""
    global _starting
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise AtError(CME_INVALID_INPUT)
    if _starting:
        raise AtError(CME_FAILED)
    if state != OFFLINE:
        at.urc(b"\r\nALREADY CONNECT\r\n")
        return None
    _starting = True
    at.spawn(_probe(at, host, int(port), tls))
    return None


def _probe(at, host, port, tls):
    """Task: can the broker be reached (and, with TLS, does it verify)? The connection is closed again."""
    global target, state, _starting
    conn = None
    try:
        ctx = pki.cloud_context() if tls else None
        if cellular.attached() and (ctx is not None or not tls):
            conn = yield from transport.open_tcp(transport.resolve(host, port), TIMEOUT_MS, ctx, host)
    except OSError as e:  # DNS
        print("upy-at: MIPSTART %s: %r" % (host, e))
    finally:
        _starting = False
    if conn is None:
        at.urc(b"\r\nCONNECT FAIL\r\n")
        return
    conn.close()
    target = (host, port, tls)
    state = TCP_UP
    at.urc(b"\r\nCONNECT OK\r\n")


p_mconnect = (num(0, 1), num(1, 65535))


def s_mconnect(at, clean, keepalive):
    """AT+MCONNECT=<clean_session>,<keepalive>: OK now; CONNACK OK, or CLOSED, later."""
    global _s
    if state != TCP_UP or config is None:
        raise AtError(CME_FAILED)
    if _s is not None:
        _s.disconnect()
    cfg = session.Config(target[0], target[1], config[0], config[1], config[2], keepalive, bool(clean),
                         config[3], pki.cloud_context() if target[2] else None, None, TIMEOUT_MS)
    _s = session.Session(at, cfg, _event, False, MESSAGE_MAX + 300)
    at.spawn(_connect(at, _s))


def _connect(at, s):
    global state
    try:
        yield from s.connect()
    except mqtt.ConnectError as e:
        print("upy-at: MCONNECT failed: %r" % (e.args,))
        if s is _s:
            state = OFFLINE
            at.urc(b"\r\nCLOSED\r\n")
        return
    if s is _s:
        state = CONNECTED
        at.urc(b"\r\nCONNACK OK\r\n")


def e_mdisconnect(at):
    """MQTT DISCONNECT; the broker stays 'reachable' (AT+MQTTSTATU: 2) until AT+MIPCLOSE."""
    global state
    _connected().disconnect()
    _pending.clear()
    state = TCP_UP


def e_mipclose(at):
    global state, _s, target
    if state == OFFLINE:
        raise AtError(CME_FAILED)
    if _s is not None:
        _s.disconnect()
    _pending.clear()
    _s = target = None
    state = OFFLINE


def e_mqttstatu(at):
    cellular.info(at, "+MQTTSTATU :%d" % state)


# ---- subscriptions and publishing ----------------------------------------------------------------
p_msub = (text(256, 1), num(0, 2))


def s_msub(at, topic, qos):
    s = _connected()
    try:
        _pending[s.subscribe(topic, qos)] = b"\r\nSUBACK\r\n"
    except (mqtt.MqttError, ValueError, OSError):
        raise AtError(CME_FAILED)


p_munsub = (text(256, 1),)


def s_munsub(at, topic):
    s = _connected()
    try:
        _pending[s.unsubscribe(topic)] = b"\r\nUNSUBACK\r\n"
    except (mqtt.MqttError, ValueError, OSError):
        raise AtError(CME_FAILED)


p_mpub = (text(256, 1), num(0, 2), num(0, 1), text(MESSAGE_MAX))
_ACK_LINES = (None, b"\r\nPUBACK\r\n", b"\r\nPUBREC\r\n\r\nPUBCOMP\r\n")  # by QoS


def s_mpub(at, topic, qos, retain, message):
    """AT+MPUB=<topic>,<qos>,<retain>,"<message>": OK once sent; the ack's line(s) follow."""
    s = _connected()
    try:
        pid = s.publish(topic, message.encode(), qos, bool(retain))
    except (mqtt.MqttError, ValueError, OSError):
        raise AtError(CME_FAILED)
    if pid:
        _pending[pid] = _ACK_LINES[qos]


# ---- received messages ---------------------------------------------------------------------------
p_mqttmsgset = (num(0, 1),)


def s_mqttmsgset(at, mode):
    global msg_mode
    msg_mode = mode


def q_mqttmsgset(at):
    cellular.info(at, "+MQTTMSGSET: %d" % msg_mode)


def e_mqttmsgget(at):
    """The cached messages, oldest first: +MSUB: <topic>,<len> byte,<payload>; their slots become INVALID."""
    lead = b"\r\n"  # the answer's first line starts on a line of its own
    for i in range(CACHE_SLOTS):
        slot = (_next_slot + i) % CACHE_SLOTS
        if cache[slot] is not None:
            topic, data = cache[slot]
            cache[slot] = None
            at.write(lead + b"+MSUB: " + topic + b",%d byte," % len(data) + data + b"\r\n")
            lead = b""


def q_mqttmsgget(at):
    cellular.info(at, "\r\n".join(["+MQTTMSGGET: %d,%s" % (slot, "INVALID" if cache[slot] is None else "VALID")
                                    for slot in range(CACHE_SLOTS)]))
