"""Tencent Cloud IoT MQTT commands (seed 001 §3, §5) over net.session: one connection to the product's broker.

AT+TCMQTTCONN signs with the device key of AT+TCDEVINFOSET (cloud/tencent.mqtt_credentials: client id
``<pid><dev>``, user name with a random connid and an expiry an hour ahead, HMAC-SHA256 password) or presents
the certificate of TLS mode 2. The expiry needs the real time: when the clock was never set the module asks
the NTP servers it knows (AT+CIPSNTPCFG's, by default cn.ntp.org.cn, ntp.sjtu.edu.cn, us.pool.ntp.org) before
it signs, as Tencent's firmware does. Every reconnect signs anew (the session's credentials hook).

Each command answers ``OK``, then ``+TC<name>:OK`` or ``+TC<name>:FAIL,<err>`` (error numbers of §7.1)
within 10 s: the MCU's <cmdtimeout> is capped so that a wait for an ack ends in time. URCs:
``+TCMQTTRCVPUB:"<topic>",<len>,"<payload>"`` (the payload raw, acknowledged to the broker once written),
``+TCMQTTDISCON,<err>`` (a loss: -103; AT+TCMQTTDISCONN: 2), ``+TCMQTTRECONNECTING``, ``+TCMQTTRECONNECTED``.
"""
import os
from at import replies
from at.compat import ticks_ms, ticks_diff
from at.parser import AtError, num, text, tail
from at.replies import DONE
from cmds import tencent, wifi

# net.session (with net.mqtt and its codec), net.pki and cloud.tencent are imported by the first AT+TCMQTTCONN:
# the test forms, the queries and the commands refused before a connection need none of them

ERRORS = replies.cme

WAIT_MS = 8500  # the longest ack wait: the session adds a second, and the final line comes within 10 s
ANSWER_MS = 9500  # SNTP and the connect together, before +TCMQTTCONN
SNTP_MS = 3000  # at most this long asking NTP servers
EXPIRY_S = 3600  # the signature's lifetime (Tencent's docs)
MAX_SUBS = 10  # §3.5
PUBL_MAX = 2048  # §3.4
BUFFER = 2304  # a message of AT+TCMQTTPUBL's largest size and its topic arrive whole
_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

# §7.1
E_NO_CONN = -103
E_BUSY = -102
E_MAX_SUBS = -107
E_SUB = -108
E_UNSUB = -121
E_TIMEOUT = 202
E_MANUAL = 2  # QCLOUD_RET_MQTT_MANUALLY_DISCONNECTED: +TCMQTTDISCON after AT+TCMQTTDISCONN
_CONNECT_ERRORS = {"dns": -602, "tcp": -603, "timeout": -111, "closed": -608, "protocol": -112,
                   "credentials": -1001}  # by net.mqtt's reasons (DNS, TCP, TIMEOUT, CLOSED, PROTOCOL)
_CONNACK_ERRORS = (-112, -113, -114, -115, -116, -117)  # by CONNACK return code 0-5

conn = [1, 5000, 240, 1, 1]  # AT+TCMQTTCONN: tls mode, cmdtimeout, keepalive, clean session, reconnect
link = None  # the session, made on the first AT+TCMQTTCONN
_device = None  # (tls, pid, dev, key) the connection signs with


def active():
    """Connected, or repairing a lost connection."""
    return link is not None and (link.connected or link.reconnecting)


def connected():
    return link is not None and link.connected


def device():
    """(tls, product id, device name, key or certificate) of the last AT+TCMQTTCONN, or None."""
    return _device


def _require(at):
    if not connected() or tencent.ota_running():
        raise AtError(tencent.E_STATE)


# ---- connecting ----------------------------------------------------------------------------------
def q_tcmqttconn(at):
    at.reply("+TCMQTTCONN:%d,%d,%d,%d,%d" % tuple(conn))


p_tcmqttconn = (num(0, 2), num(1000, 10000), num(60, 690), num(0, 1), num(0, 1))


def s_tcmqttconn(at, tls, timeout, keepalive, clean, reconnect):
    """§3.1: the TLS mode must be the device's (mode 1 may step down to 0)."""
    if active() or tencent.ota_running():
        raise AtError(tencent.E_STATE)
    info = tencent.device(at)
    if info is None or not wifi.station_up():
        raise AtError(tencent.E_STATE)
    if tls != info[0] and not (tls == 0 and info[0] == 1):
        raise AtError(tencent.E_PARAM)
    conn[:] = [tls, timeout, keepalive, clean, reconnect]
    return replies.ok_then(at, "TCMQTTCONN", connect(at, (tls,) + info[1:]))


def connect(at, device):
    """Generator: connect as ``device`` (tls, product id, device name, key or certificate) with
    AT+TCMQTTCONN's settings: the time, then the connection; None or a §7.1 error number. (SoftAP
    provisioning reports the app's token through it.)"""
    global link, _device
    from cloud import tencent as cloud
    from net import mqtt, pki, session

    _device = device
    start = ticks_ms()
    now = yield from tencent.now(SNTP_MS)
    if now is None:
        return _CONNECT_ERRORS["credentials"]
    tls, pid = _device[0], _device[1]
    ctx = None
    if tls:
        cert = tencent.cert_pair(_device[3]) if tls == 2 else None
        ctx = pki.cloud_context(cert) if tls != 2 or cert is not None else None
        if ctx is None:
            return -701  # QCLOUD_ERR_SSL_INIT
    host = cloud.mqtt_host(pid)
    left = ANSWER_MS - ticks_diff(ticks_ms(), start)
    config = session.Config(tencent.server(at) or host, 8883 if tls else 1883, pid + _device[2], None, None,
                            conn[2], bool(conn[3]), None, ctx, host, max(1000, min(conn[1], left)))
    if link is None:
        link = session.Session(at, config, _on_event, max_packet=BUFFER)
        link.credentials = _sign
    link.config = config
    link.reconnect = bool(conn[4])
    try:
        yield from link.connect()
    except mqtt.ConnectError as e:
        print("upy-at: Tencent MQTT connect failed: %s %d" % (e.args[0], e.args[1]))
        if e.args[0] == mqtt.REFUSED:
            return _CONNACK_ERRORS[e.args[1]] if 0 < e.args[1] < 6 else -112
        if e.args[0] == mqtt.TCP and tls:
            return -703  # QCLOUD_ERR_SSL_CONNECT
        return _CONNECT_ERRORS.get(e.args[0], -104)
    config.timeout_ms = min(conn[1], WAIT_MS)
    return None


def _sign(config):
    """The session's credentials hook: a fresh connid and expiry before every attempt."""
    from cloud import tencent as cloud

    tls, pid, dev, key = _device
    config.client_id = pid + dev
    if tls == 2:
        config.user = "%s%s;%s;%s;%d" % (pid, dev, cloud.SDKAPPID, _connid(), _expiry())
        config.password = None
        return
    config.client_id, config.user, config.password = cloud.mqtt_credentials(pid, dev, key, _connid(), _expiry())


def _expiry():
    from cmds import netutil  # imported already: tencent.now() asked it before the signing

    now = netutil.clock()
    if now < tencent.SANE_TIME:
        raise ValueError("the clock is not set")
    return now + EXPIRY_S


def _connid():
    return "".join([chr(_ALNUM[b % len(_ALNUM)]) for b in os.urandom(5)])


def disconnect():
    """End the connection (no URC, no reconnect)."""
    if link is not None:
        link.disconnect()


def e_tcmqttdisconn(at):
    """§3.2: +CME ERROR when not connected; else disconnect, +TCMQTTDISCON,2, OK (as Tencent's module)."""
    if not active() or tencent.ota_running():
        raise AtError(tencent.E_STATE)
    link.disconnect()
    at.reply("+TCMQTTDISCON,%d" % E_MANUAL)


def q_tcmqttstate(at):
    at.reply("+TCMQTTSTATE:%d" % connected())


# ---- events --------------------------------------------------------------------------------------
def consume(topic, fn):
    """Messages on ``topic`` go to ``fn(payload bytes)`` instead of the MCU (the OTA family's offers); a
    message too long for the buffer is dropped. ``fn`` None: the MCU gets them again."""
    if fn is None:
        consumers.pop(topic, None)
    else:
        consumers[topic] = fn


consumers = {}  # topic (bytes) -> fn(payload), see consume()


def _on_event(ev):
    from net import mqtt  # imported already: the session that calls this imports it

    at = link.at
    kind = ev[0]
    if kind == "message" and ev[1] in consumers:
        link.delivered(ev)
        if ev[7] == 0 and len(ev[2]) == ev[8]:
            consumers[ev[1]](ev[2])
    elif kind == "message":
        data, offset, total = ev[2], ev[7], ev[8]
        head = b'+TCMQTTRCVPUB:"' + ev[1] + b'",%d,"' % total if offset == 0 else b""
        end = b'"\r\n' if offset + len(data) == total else b""
        at.urc(head + data + end, link.delivered, ev)
    elif kind == "lost":
        at.urc(b"+TCMQTTDISCON,%d\r\n" % (-110 if ev[1] == mqtt.PROTOCOL else E_NO_CONN))
    elif kind == "reconnecting":
        at.urc(b"+TCMQTTRECONNECTING\r\n")
    elif kind == "reconnected":
        at.urc(b"+TCMQTTRECONNECTED\r\n")


# ---- publishing ----------------------------------------------------------------------------------
p_tcmqttpub = (text(128, 1), num(0, 1), tail(256))


def s_tcmqttpub(at, topic, qos, message):
    """§3.3: the message runs from its first '"' to the last '"' of the line (raw quotes and commas stay);
    ``\\"`` and ``\\,`` stand for '"' and ','."""
    _require(at)
    return replies.ok_then(at, "TCMQTTPUB", publish(topic, message.encode(), qos))


def publish(topic, data, qos):
    """Generator: publish, and for QoS 1 wait for the PUBACK; None or a §7.1/§7.2 error number. (The OTA
    family reports through it too.)"""
    from net import mqtt  # imported already: _require found a session

    try:
        pid = link.publish(topic, data, qos)
    except mqtt.MqttError as e:
        return E_BUSY if e.args[0] == mqtt.BUSY else E_NO_CONN
    except ValueError:
        return tencent.E_PARAM
    if qos:
        err = yield from link.wait(pid)
        if err is not None:
            return E_TIMEOUT if err == mqtt.TIMEOUT else E_NO_CONN
    return None


p_tcmqttpubl = (text(128, 1), num(0, 1), num(1, PUBL_MAX))


def s_tcmqttpubl(at, topic, qos, length):
    """§3.4: OK and '>', <length> bytes within 20 s (not echoed; '+++' cancels), then +TCMQTTPUBL:OK/FAIL."""
    _require(at)
    return _publ(at, topic, qos, length)


def _publ(at, topic, qos, length):
    data = yield from at.receive(length, 20000, plus_abort=True)
    if data is None:
        raise AtError(E_TIMEOUT)
    err = yield from publish(topic, bytes(data), qos)
    at.reply("+TCMQTTPUBL:OK" if err is None else "+TCMQTTPUBL:FAIL,%d" % err)
    return DONE


# ---- subscriptions -------------------------------------------------------------------------------
def q_tcmqttsub(at):
    for topic, qos in link.subs if link is not None else ():
        at.reply('+TCMQTTSUB:"%s",%d' % (topic, qos))


p_tcmqttsub = (text(128, 1), num(0, 1))


def s_tcmqttsub(at, topic, qos):
    _require(at)
    return replies.ok_then(at, "TCMQTTSUB", subscribe(topic, qos))


def subscribe(topic, qos):
    """Generator: SUBSCRIBE and its SUBACK; None or an error number."""
    from net import mqtt  # imported already: _require found a session

    if len(link.subs) >= MAX_SUBS and topic not in [s[0] for s in link.subs]:
        return E_MAX_SUBS
    err = yield from _request(link.subscribe, topic, qos)
    return None if err is None else (E_SUB if err == mqtt.REFUSED else err)


def _request(request, topic, qos):
    """Generator: SUBSCRIBE (with ``qos``) or UNSUBSCRIBE and its ack; None, an mqtt reason or a number."""
    from net import mqtt  # imported already: _require found a session

    try:
        pid = request(topic) if qos is None else request(topic, qos)
    except mqtt.MqttError as e:
        return E_BUSY if e.args[0] == mqtt.BUSY else E_NO_CONN
    except ValueError:
        return tencent.E_PARAM
    err = yield from link.wait(pid)
    if err == mqtt.TIMEOUT:
        return E_TIMEOUT
    if err == mqtt.DISCONNECTED:
        return E_NO_CONN
    return err


def q_tcmqttunsub(at):
    return None


p_tcmqttunsub = (text(128, 1),)


def s_tcmqttunsub(at, topic):
    _require(at)
    return replies.ok_then(at, "TCMQTTUNSUB", unsubscribe(topic))


def unsubscribe(topic):
    """Generator: UNSUBSCRIBE and its UNSUBACK; None or an error number."""
    if topic not in [s[0] for s in link.subs]:
        return E_UNSUB
    err = yield from _request(link.unsubscribe, topic, None)
    return err
