"""ESP-AT MQTT commands (2.x/3.x, reference esp-at-behaviour.md §2) over net.session: link 0 only.

The session connects, waits for acks, keeps the connection alive and, with <reconnect>=1, reconnects with
backoff and restores the subscriptions; this family turns AT lines into its calls and its events into
esp-at's URCs. A received message goes out as +MQTTSUBRECV (a message longer than the 1024-byte buffer as
several, as esp-at does), and is acknowledged to the broker once its line is on the UART.
"""
from at.engine import DONE
from at.parser import AtError, num, text, utf8, E_EXEC
from cmds import wifi
from net import mqtt, pki, session

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
link0 = None  # the session of link 0, made on the first AT+MQTTCONN
target = None  # (host, port, reconnect) of AT+MQTTCONN
PUBRAW_MAX = 8192 - 256  # the largest message AT+MQTTPUBRAW takes, less room for the topic and header
BUFFER = 1024  # esp-at's MQTT buffer: a longer received message comes as several +MQTTSUBRECV


def _state():
    """AT+MQTTCONN?/AT+MQTTSUB?'s <state>: 0 none, 1 user config, 2 conn config, 3 disconnected,
    4 connected, 5 connected without subscriptions, 6 connected and subscribed."""
    if _connected_now():
        return 6 if link0.subs else 5
    if target is not None:
        return 3
    return 0 if cfg is None else (2 if conncfg[2] is not None or conncfg[0] != 120 else 1)


# ---- configuration -------------------------------------------------------------------------------
p_mqttusercfg = (num(0, 0), num(1, 10), text(256), text(64), text(64), num(0, 0), num(0, 0), text(32))


def s_mqttusercfg(at, link_id, scheme, client_id, username, password, cert_id, ca_id, path):
    global cfg
    if scheme > 5:
        raise AtError(E_SCHEME)  # MQTT over WebSocket: not in this firmware
    if _connected_now():
        raise AtError(E_ALREADY_CONNECTED)
    cfg = [scheme, client_id, username, password, path]


def _set_field(index, value):
    if cfg is None:
        raise AtError(E_NOT_CONFIGURED)
    cfg[index] = value


p_mqttclientid = (num(0, 0), text(256, 1))
p_mqttusername = (num(0, 0), text(LONG_MAX, 1))
p_mqttpassword = (num(0, 0), text(LONG_MAX, 1))


def s_mqttclientid(at, link_id, value):
    _set_field(1, value)


def s_mqttusername(at, link_id, value):
    _set_field(2, value)


def s_mqttpassword(at, link_id, value):
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


def s_mqttlongclientid(at, link_id, length):
    return _long(at, 1, length)


def s_mqttlongusername(at, link_id, length):
    return _long(at, 2, length)


def s_mqttlongpassword(at, link_id, length):
    return _long(at, 3, length)


p_mqttconncfg = (num(0, 0), num(0, 7200), num(0, 1), text(128, opt=True), text(LONG_MAX, opt=True),
                 num(0, 2, True), num(0, 1, True))


def s_mqttconncfg(at, link_id, keepalive, no_clean, lwt_topic, lwt_msg, lwt_qos, lwt_retain):
    if cfg is None:
        raise AtError(E_NOT_CONFIGURED)
    conncfg[:] = [keepalive or 120, no_clean, lwt_topic, lwt_msg, lwt_qos or 0, lwt_retain or 0]


p_mqttsni = (num(0, 0), text(128, 1))


def s_mqttsni(at, link_id, name):
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


def s_mqttconn(at, link_id, host, port, reconnect):
    global target
    if cfg is None:
        raise AtError(E_NOT_CONFIGURED)
    if _connected_now():
        raise AtError(E_ALREADY_CONNECTED)
    if not wifi.sta.isconnected():
        raise AtError(E_START_FAILED)
    target = (host, port, reconnect)
    return _connect(at)


def _connected_now():
    return link0 is not None and link0.connected


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


def _config():
    keepalive, no_clean, lwt_topic, lwt_msg, lwt_qos, lwt_retain = conncfg
    will = (lwt_topic, lwt_msg or "", lwt_qos, lwt_retain) if lwt_topic else None
    return session.Config(target[0], target[1], cfg[1], cfg[2] or None, cfg[3] or None, keepalive, not no_clean,
                          will, _tls(), sni or target[0], WAIT_MS)


def _connect(at):
    """Generator: connect link 0 to ``target``; +MQTTCONNECTED then OK, or ERROR."""
    global link0, target
    config = _config()
    if link0 is None:
        link0 = session.Session(at, config, _on_event, max_packet=BUFFER)
    link0.config = config
    link0.reconnect = bool(target[2])
    try:
        yield from link0.connect()
    except mqtt.ConnectError as e:
        print("upy-at: MQTT connect failed: %s %d" % (e.args[0], e.args[1]))
        target = None
        raise AtError(E_START_FAILED)
    at.write(_connected_line())
    return None


p_mqttclean = (num(0, 0),)


def s_mqttclean(at, link_id):
    """Disconnect and forget the configuration."""
    global cfg, target, sni
    if link0 is not None:
        link0.disconnect()
        link0.subs[:] = []
    target = cfg = sni = None
    conncfg[:] = [120, 0, None, None, 0, 0]


# ---- events --------------------------------------------------------------------------------------
def _on_event(ev):
    at = link0.at
    kind = ev[0]
    if kind == "message":
        data = ev[2]
        at.urc(b'+MQTTSUBRECV:0,"' + ev[1] + b'",%d,' % len(data) + data + b"\r\n", link0.delivered, ev)
    elif kind == "lost":
        at.urc(b"+MQTTDISCONNECTED:0\r\n")
    elif kind == "reconnected":
        at.urc(_connected_line())


def _connected():
    if not _connected_now():
        raise AtError(E_DISCONNECTED)


# ---- publishing ----------------------------------------------------------------------------------
p_mqttpub = (num(0, 0), utf8(128, 1), utf8(256), num(0, 2), num(0, 1))  # as bytes: no str per message


def s_mqttpub(at, link_id, topic, data, qos, retain):
    if link0 is None:
        raise AtError(E_DISCONNECTED)
    try:
        pid = link0.client.publish(topic, data, qos, retain)  # the session's publish, one call less per line
    except mqtt.MqttError as e:
        raise AtError(E_DISCONNECTED if e.args[0] == mqtt.NOT_CONNECTED else E_PUBLISH_FAILED)
    except ValueError:
        raise AtError(E_PUBLISH_FAILED)
    return _acked(pid) if qos else None  # QoS 0 is done once sent: no generator to step


def _send(topic, data, qos, retain):
    """Publish; the packet id (0 at QoS 0), or None when it could not be sent."""
    try:
        return link0.publish(topic, data, qos, bool(retain))
    except (mqtt.MqttError, ValueError):
        return None


def _acked(pid):
    """Generator for a command: OK once the broker acknowledged ``pid``, else the publish error."""
    err = yield from link0.wait(pid)
    if err is not None:
        raise AtError(E_PUBLISH_FAILED)


p_mqttpubraw = (num(0, 0), text(128, 1), num(0, 0x7FFFFFFF), num(0, 2), num(0, 1))


def s_mqttpubraw(at, link_id, topic, length, qos, retain):
    """OK, '>', <length> raw bytes, then +MQTTPUB:OK or +MQTTPUB:FAIL."""
    _connected()
    if length > PUBRAW_MAX:
        raise AtError(E_EXEC | 0x604C)
    return _pubraw(at, topic, length, qos, retain)


def _pubraw(at, topic, length, qos, retain):
    data = yield from at.receive(length, 20000)
    pid = None if data is None else _send(topic, bytes(data), qos, retain)
    if pid:  # QoS 1 or 2: the broker's acknowledgement first
        err = yield from link0.wait(pid)
        if err is not None:
            pid = None
    at.write(b"+MQTTPUB:FAIL\r\n" if pid is None else b"+MQTTPUB:OK\r\n")
    return DONE


# ---- subscriptions -------------------------------------------------------------------------------
def q_mqttsub(at):
    for topic, qos in link0.subs if link0 is not None else ():
        at.reply('+MQTTSUB:0,%d,"%s",%d' % (_state(), topic, qos))


p_mqttsub = (num(0, 0), text(128, 1), num(0, 2))


def s_mqttsub(at, link_id, topic, qos):
    _connected()
    for sub in link0.subs:
        if sub[0] == topic:
            at.reply("ALREADY SUBSCRIBE")
            return None
    return _request(at, link0.subscribe, topic, qos, E_SUBSCRIBE_FAILED)


p_mqttunsub = (num(0, 0), text(128, 1))


def s_mqttunsub(at, link_id, topic):
    _connected()
    for sub in link0.subs:
        if sub[0] == topic:
            return _request(at, link0.unsubscribe, topic, None, E_UNSUBSCRIBE_FAILED)
    at.reply("NO UNSUBSCRIBE")
    return None


def _request(at, request, topic, qos, code):
    """Generator: SUBSCRIBE (with ``qos``) or UNSUBSCRIBE, OK once acknowledged."""
    try:
        pid = request(topic) if qos is None else request(topic, qos)
    except (mqtt.MqttError, ValueError):
        raise AtError(code)
    if (yield from link0.wait(pid)) is not None:
        raise AtError(code)
    return None
