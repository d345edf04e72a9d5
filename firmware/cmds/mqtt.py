"""ESP-AT MQTT commands (2.x/3.x, reference esp-at-behaviour.md §2) over net.mqtt: link 0 only.

A command that waits for the broker (CONNACK, PUBACK, SUBACK, UNSUBACK) pumps the client itself; between
commands the engine's watch reads the socket and the monitor keeps the connection alive. With
<reconnect>=1 a lost connection is reopened with backoff and the subscriptions restored.
"""
import select
from at.compat import ticks_ms, ticks_diff, ticks_add
from at.engine import DONE
from at.parser import AtError, num, text, E_EXEC
from cmds import wifi
from net import mqtt, pki

# esp-at's MQTT error codes (ERR CODE:0x010a60xx with AT+SYSLOG=1)
E_NOT_CONFIGURED = E_EXEC | 0x6001
E_ALREADY_CONNECTED = E_EXEC | 0x6004
E_START_FAILED = E_EXEC | 0x600B
E_PUBLISH_FAILED = E_EXEC | 0x600C
E_SUBSCRIBE_FAILED = E_EXEC | 0x600D
E_UNSUBSCRIBE_FAILED = E_EXEC | 0x600E
E_SCHEME = E_EXEC | 0x6013
E_DISCONNECTED = E_EXEC | 0x6051

WAIT_MS = 10000  # "AT MQTT commands respond within 10 s"
LONG_MAX = 1024  # AT+MQTTLONG* lengths

cfg = None  # AT+MQTTUSERCFG: [scheme, client_id, username, password, path]
conncfg = [120, 0, None, None, 0, 0]  # keepalive, disable clean session, lwt topic, message, qos, retain
sni = None
client = None
target = None  # (host, port, reconnect) of AT+MQTTCONN
subs = []  # [topic, qos] in subscription order
acks = {}  # packet id -> True (acknowledged) or False (failed), for the command waiting on it
_backoff = mqtt.Backoff()
_retry_at = None  # when to reconnect after a drop (with <reconnect>=1)
_at = None
PUBRAW_MAX = 8192 - 256  # the client's largest packet, less room for the topic and header


def _state():
    """AT+MQTTCONN?/AT+MQTTSUB?'s <state>: 0 none, 1 user config, 2 conn config, 3 disconnected,
    4 connected, 5 connected without subscriptions, 6 connected and subscribed."""
    if client is not None and client.connected:
        return 6 if subs else 5
    if target is not None:
        return 3
    return 0 if cfg is None else (2 if conncfg[2] is not None or conncfg[0] != 120 else 1)


# ---- configuration -------------------------------------------------------------------------------
p_mqttusercfg = (num(0, 0), num(1, 10), text(256), text(64), text(64), num(0, 0), num(0, 0), text(32))


def s_mqttusercfg(at, link, scheme, client_id, username, password, cert_id, ca_id, path):
    global cfg
    if scheme > 5:
        raise AtError(E_SCHEME)  # MQTT over WebSocket: not in this firmware
    if client is not None and client.connected:
        raise AtError(E_ALREADY_CONNECTED)
    cfg = [scheme, client_id, username, password, path]


def _set_field(index, value):
    if cfg is None:
        raise AtError(E_NOT_CONFIGURED)
    cfg[index] = value


p_mqttclientid = (num(0, 0), text(256, 1))
p_mqttusername = (num(0, 0), text(LONG_MAX, 1))
p_mqttpassword = (num(0, 0), text(LONG_MAX, 1))


def s_mqttclientid(at, link, value):
    _set_field(1, value)


def s_mqttusername(at, link, value):
    _set_field(2, value)


def s_mqttpassword(at, link, value):
    _set_field(3, value)


p_mqttlongclientid = (num(0, 0), num(1, 256))
p_mqttlongusername = (num(0, 0), num(1, LONG_MAX))
p_mqttlongpassword = (num(0, 0), num(1, LONG_MAX))


def _long(at, index, length):
    """3.x: the value arrives after '>' (for values a 256-byte command line cannot hold)."""
    if cfg is None:
        raise AtError(E_NOT_CONFIGURED)
    data = yield from at.receive(length, 10000)
    if data is None:
        return False
    try:
        cfg[index] = bytes(data).decode()
    except UnicodeError:
        return False
    return None


def s_mqttlongclientid(at, link, length):
    return _long(at, 1, length)


def s_mqttlongusername(at, link, length):
    return _long(at, 2, length)


def s_mqttlongpassword(at, link, length):
    return _long(at, 3, length)


p_mqttconncfg = (num(0, 0), num(0, 7200), num(0, 1), text(128, opt=True), text(LONG_MAX, opt=True),
                 num(0, 2, True), num(0, 1, True))


def s_mqttconncfg(at, link, keepalive, no_clean, lwt_topic, lwt_msg, lwt_qos, lwt_retain):
    if cfg is None:
        raise AtError(E_NOT_CONFIGURED)
    conncfg[:] = [keepalive or 120, no_clean, lwt_topic, lwt_msg, lwt_qos or 0, lwt_retain or 0]


p_mqttsni = (num(0, 0), text(128, 1))


def s_mqttsni(at, link, name):
    global sni
    if cfg is None:
        raise AtError(E_NOT_CONFIGURED)
    sni = name


# ---- connecting ----------------------------------------------------------------------------------
def q_mqttconn(at):
    if target is None:
        at.reply('+MQTTCONN:0,%d,%d,"","","",0' % (_state(), cfg[0] if cfg else 0))
    else:
        at.reply('+MQTTCONN:0,%d,%d,"%s","%d","%s",%d' % (_state(), cfg[0], target[0], target[1], cfg[4], target[2]))


p_mqttconn = (num(0, 0), text(128, 1), num(1, 65535), num(0, 1))


def s_mqttconn(at, link, host, port, reconnect):
    global target
    if cfg is None:
        raise AtError(E_NOT_CONFIGURED)
    if client is not None and client.connected:
        raise AtError(E_ALREADY_CONNECTED)
    if not wifi.sta.isconnected():
        raise AtError(E_START_FAILED)
    target = (host, port, reconnect)
    ok = yield from _connect(at)
    if not ok:
        target = None
        raise AtError(E_START_FAILED)
    at.write(_connected_line())
    return None


def _connected_line():
    return '+MQTTCONNECTED:0,%d,"%s","%d","%s",%d\r\n' % (cfg[0], target[0], target[1], cfg[4], target[2])


def _tls():
    scheme = cfg[0]
    if scheme == 1:
        return None
    ctx = pki.client_context(scheme in (3, 5), scheme in (4, 5))
    if ctx is None:
        raise AtError(E_EXEC | 0x6009)  # TLS configuration: a certificate partition is empty
    return ctx


def _connect(at):
    """Generator: (re)open the connection to ``target``; True when CONNACK accepted it."""
    global client, _at
    _at = at
    if client is not None and client.sock is not None:
        at.unwatch(client.sock)
    keepalive, no_clean, lwt_topic, lwt_msg, lwt_qos, lwt_retain = conncfg
    will = (lwt_topic, lwt_msg or "", lwt_qos, lwt_retain) if lwt_topic else None
    client = mqtt.Client(cfg[1], keepalive, cfg[2] or None, cfg[3] or None, not no_clean, will, WAIT_MS)
    try:
        yield from client.connect(target[0], target[1], _tls(), sni or target[0], WAIT_MS)
    except mqtt.ConnectError as e:
        print("upy-at: MQTT connect failed: %s %d" % (e.args[0] if e.args else "", getattr(e, "code", 0)))
        return False
    at.watch(client.sock, _on_readable)
    at.monitor(_watch)
    _backoff.reset()
    return True


p_mqttclean = (num(0, 0),)


def s_mqttclean(at, link):
    """Disconnect and forget the configuration."""
    global cfg, client, target, sni
    if client is not None:
        if client.sock is not None:
            at.unwatch(client.sock)
        client.disconnect()
    client = target = cfg = sni = None
    subs[:] = []
    conncfg[:] = [120, 0, None, None, 0, 0]


# ---- events --------------------------------------------------------------------------------------
def _on_readable(sock, events):
    if client is not None:
        _handle(_at, client.read())


def _watch(at):
    """Each loop pass: keepalive and timeouts; after a drop, reconnect per <reconnect> with backoff."""
    global _retry_at
    if client is not None and client.connected:
        _handle(at, client.tick())
    elif target is not None and target[2] and _retry_at is not None and not at.busy:
        if ticks_diff(ticks_ms(), _retry_at) >= 0:
            _retry_at = None
            at.spawn(_reconnect(at))


def _reconnect(at):
    global _retry_at
    if (yield from _connect(at)):
        at.urc(_connected_line())
        if subs:
            client.subscribe([(t, q) for t, q in subs])
    else:
        _retry_at = ticks_add(ticks_ms(), _backoff.next_ms())


def _handle(at, events):
    global _retry_at
    for ev in events:
        kind = ev[0]
        if kind == "publish":
            topic = ev[1].encode() if isinstance(ev[1], str) else bytes(ev[1])
            payload = bytes(ev[2])
            at.urc(b'+MQTTSUBRECV:0,"' + topic + b'",%d,' % len(payload) + payload + b"\r\n")
        elif kind in ("puback", "suback", "unsuback"):
            acks[ev[1]] = kind != "suback" or 0x80 not in ev[2]
        elif kind == "failed":
            acks[ev[2]] = False
        elif kind == "disconnected":
            if client is not None and client.sock is not None:
                at.unwatch(client.sock)
            at.urc(b"+MQTTDISCONNECTED:0\r\n")
            if target is not None and target[2]:
                _retry_at = ticks_add(ticks_ms(), _backoff.next_ms())


def _wait_ack(at, pid):
    """Generator: pump the client until packet ``pid`` is acknowledged (True) or failed (False). Between
    looks it waits on the broker's socket for at most 5 ms, so an ack is read as soon as it comes."""
    start = ticks_ms()
    wait = select.poll()
    wait.register(client.sock, select.POLLIN)
    while pid not in acks:
        _handle(at, client.read())
        _handle(at, client.tick())
        if ticks_diff(ticks_ms(), start) > WAIT_MS + 1000:
            acks[pid] = False
        if pid not in acks:
            wait.poll(5)
            yield 0
    return acks.pop(pid)


def _connected():
    if client is None or not client.connected:
        raise AtError(E_DISCONNECTED)


# ---- publishing ----------------------------------------------------------------------------------
p_mqttpub = (num(0, 0), text(128, 1), text(256), num(0, 2), num(0, 1))


def s_mqttpub(at, link, topic, data, qos, retain):
    _connected()
    return _publish(at, topic, data.encode(), qos, retain, None)


def _publish(at, topic, data, qos, retain, raw):
    try:
        pid = client.publish(topic, data, qos, bool(retain))
    except (mqtt.MqttError, ValueError):
        if raw:
            at.write(b"+MQTTPUB:FAIL\r\n")
            return DONE
        raise AtError(E_PUBLISH_FAILED)
    ok = True
    if qos:
        ok = yield from _wait_ack(at, pid)
    if raw:
        at.write(b"+MQTTPUB:OK\r\n" if ok else b"+MQTTPUB:FAIL\r\n")
        return DONE
    if not ok:
        raise AtError(E_PUBLISH_FAILED)
    return None


p_mqttpubraw = (num(0, 0), text(128, 1), num(0, 0x7FFFFFFF), num(0, 2), num(0, 1))


def s_mqttpubraw(at, link, topic, length, qos, retain):
    """OK, '>', <length> raw bytes, then +MQTTPUB:OK or +MQTTPUB:FAIL."""
    _connected()
    if length > PUBRAW_MAX:
        raise AtError(E_EXEC | 0x604C)
    return _pubraw(at, topic, length, qos, retain)


def _pubraw(at, topic, length, qos, retain):
    data = yield from at.receive(length, 20000)
    if data is None:
        at.write(b"+MQTTPUB:FAIL\r\n")
        return DONE
    result = yield from _publish(at, topic, bytes(data), qos, retain, True)
    return result


# ---- subscriptions -------------------------------------------------------------------------------
def q_mqttsub(at):
    for topic, qos in subs:
        at.reply('+MQTTSUB:0,%d,"%s",%d' % (_state(), topic, qos))


p_mqttsub = (num(0, 0), text(128, 1), num(0, 2))


def s_mqttsub(at, link, topic, qos):
    _connected()
    for sub in subs:
        if sub[0] == topic:
            at.reply("ALREADY SUBSCRIBE")
            return None
    return _subscribe(at, topic, qos)


def _subscribe(at, topic, qos):
    try:
        pid = client.subscribe(topic, qos)
    except (mqtt.MqttError, ValueError):
        raise AtError(E_SUBSCRIBE_FAILED)
    if not (yield from _wait_ack(at, pid)):
        raise AtError(E_SUBSCRIBE_FAILED)
    subs.append([topic, qos])
    return None


p_mqttunsub = (num(0, 0), text(128, 1))


def s_mqttunsub(at, link, topic):
    _connected()
    for sub in subs:
        if sub[0] == topic:
            return _unsubscribe(at, sub)
    at.reply("NO UNSUBSCRIBE")
    return None


def _unsubscribe(at, sub):
    try:
        pid = client.unsubscribe(sub[0])
    except (mqtt.MqttError, ValueError):
        raise AtError(E_UNSUBSCRIBE_FAILED)
    if not (yield from _wait_ack(at, pid)):
        raise AtError(E_UNSUBSCRIBE_FAILED)
    subs.remove(sub)
    return None
