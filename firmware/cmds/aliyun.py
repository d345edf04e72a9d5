"""Alibaba Cloud IoT module (seed 000): the MQTT commands of §2 (AT+IMQTT...) and the ``Link`` they share with
the thing model's (cmds/aliyun_dm.py, AT+IDM...): saved identity, parameters, endpoint and login, one
net/session per command set, its state and ack lines.

The module's steps and ours:
  AT+IMQTTAUTH    product key, device name, device secret, product secret: one store record; the query
                  masks the secrets (first three and last two characters, as the manual prints them).
  AT+IMQTTPARA    TIMEOUT (s), TLS (0/1), KEEPALIVE (s), AUTHMODE (0: device secret), HEARTBEAT, and SDK (1:
                  the lines of Alibaba's C SDK, see below); saved.
  AT+IMQTTCONN    connect (signed login: clientId ``<pk>.<dn>|securemode=2|3,signmethod=hmacsha256,
                  timestamp=…|``, cloud/aliyun.py), answer ``+IMQTTSTATE:1`` and OK; the host and port are
                  saved; the bare form uses the saved ones or ``<pk>.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883``.
                  AT+IMQTTCRED's login, when one is set, is sent as given instead of the signed one.
  AT+IMQTTPUB/SUB/UNSUB  ``+IMQTTPUB:<id>`` (…SUB, …UNSUB) and OK at once; ``+IMQTTPUBACK:<id>``,
                  ``+IMQTTSUBACK:<id>,<result>``, ``+IMQTTUNSUBACK:<id>`` when the broker acknowledges.
  received        ``+IMQTTRCVPUB:<topic>,<len>,<message>`` (len in bytes, the message raw).
  state           ``+IMQTTSTATE:0`` when the connection is lost or closed, ``+IMQTTSTATE:1`` when it is back:
                  the session reconnects with backoff and subscribes again.
SDK dialect (AT+IMQTTPARA=SDK,1): ``+IMQTTAUTH:OK`` before AT+IMQTTAUTH's OK, acks as
``+IMQTTPUB:<id>,<status>``, ``+IMQTTSUB:<id>,<status>``, ``+IMQTTUNSUB:<id>,<status>``, and messages as
``+IMQTTRCVPUB:<packet_id>,"<topic>",<len>,"<message>"``, the forms iotkit-embedded's AT-MQTT ICA driver
waits for; AT+IMQTTMODE=<0|1>, which it sends for TLS, sets TLS.
"""
from at import replies
from at.parser import AtError, E_INVALID, num, tail, text, hexstr
from cloud import aliyun
from cmds import wifi
from net import mqtt, pki, session

ERRORS = replies.cme
# +CME ERROR numbers (the manual prints none; iotkit's driver reads 3 as success, so it is not used)
E_NETWORK = 1  # the station has no IP
E_CONNECT = 2  # no connection to the cloud (DNS, TCP, TLS, refused)
E_NOT_CONNECTED = 4
E_SEND = 5  # the request could not be sent (lost, too many awaiting acks)
E_IDENTITY = 6  # no identity saved (AT+IMQTTAUTH / AT+IMQTTCRED) or AUTHMODE not available

TIMESTAMP = "2524608000000"  # what Alibaba's C SDK signs: the cloud checks the sign, not the clock
MESSAGE_MAX = 1024  # the module's receive buffer; longer messages arrive in pieces and are joined
JOIN_MAX = 8192  # the longest message joined; longer ones are printed piece by piece
PARA_TAGS = ("TIMEOUT", "TLS", "KEEPALIVE", "AUTHMODE", "HEARTBEAT", "SDK")
PARA_RANGES = ((1, 60), (0, 1), (30, 1200), (0, 2), (1, 3600), (0, 1))
PARA_DEFAULT = (5, 1, 1200, 0, 25, 0)  # the manual's query example
BIND_TOKEN_KEY = "awss_tok"  # a hotspot provisioning's bind token not yet reported (cmds/aliyun_prov.py)


def mask(secret):
    """A secret as the queries show it: its first three and last two characters around ``***``."""
    return secret[:3] + "***" + secret[-2:] if len(secret) > 5 else "***" if secret else ""


LINKS = []  # every Link made, in the order made (the MCU OTA uses the first connected one)


class Link:
    """What one command set (``name`` "IMQTT" or "IDM") keeps: its store records (keys ``<key>auth`` …), its
    session and the lines its acks print. ``on_message(link, event, topic, data)`` takes whole messages
    (topic and data bytes) and must see that ``link.s.delivered(event)`` is called once; a message whose
    topic starts with a prefix given to ``tap`` goes to that function instead."""

    def __init__(self, name, key, on_message):
        self.name = name
        self.key = key
        self.on_message = on_message
        self.taps = []  # (topic prefix bytes, fn) that take messages before on_message
        LINKS.append(self)
        self.s = None  # the net/session Session
        self.at = None
        self.state = 0  # 0 offline, 1 connected: what +<name>STATE last reported
        self.acks = {}  # packet id -> the ack line's prefix
        self._pieces = bytearray()

    # ---- settings ---------------------------------------------------------------------------------
    def auth(self, at):
        """[pk, dn, device secret, product secret] (str) or None."""
        rec = at.store.get_record(self.key + "auth", 4)
        return None if rec is None else [f.decode() for f in rec]

    def para(self, at):
        rec = at.store.get_record(self.key + "para", len(PARA_TAGS))
        return list(PARA_DEFAULT) if rec is None else [int(f) for f in rec]

    def cred(self, at):
        rec = at.store.get_record(self.key + "cred", 3)
        return None if rec is None else [f.decode() for f in rec]

    def sdk(self, at):
        return self.para(at)[5] == 1

    def nwl(self, at):
        """[clientId, deviceToken] of a regnwl registration (AUTHMODE 2), or None."""
        rec = at.store.get_record(self.key + "nwl", 2)
        return None if rec is None else [f.decode() for f in rec]

    def set_auth(self, at, pk, dn, ds, ps):
        if not pk or not dn or not (ds or ps):
            raise AtError(E_INVALID)
        old = self.auth(at)
        if old is None or old[0] != pk or old[1] != dn:
            at.store.erase(self.key + "nwl")  # another device: its regnwl token is not ours
        at.store.put_record(self.key + "auth", (pk, dn, ds or "", ps or ""))

    def q_auth(self, at):
        a = self.auth(at)
        if a is not None:
            at.reply("+%sAUTH=%s, %s, %s, %s" % (self.name, a[0], a[1], mask(a[2]), mask(a[3])))

    def set_para(self, at, tag, value):
        tag = tag.upper()
        if tag not in PARA_TAGS:
            raise AtError(E_INVALID)
        i = PARA_TAGS.index(tag)
        if not PARA_RANGES[i][0] <= value <= PARA_RANGES[i][1]:
            raise AtError(E_INVALID | 1)
        p = self.para(at)
        p[i] = value
        at.store.put_record(self.key + "para", p)

    def q_para(self, at):
        p = self.para(at)
        at.reply("+%sPARA:timeout=%d,tls=%d,keepalive=%d,auth_mode=%d,heart_beat=%d%s" % (
            self.name, p[0], p[1], p[2], p[3], p[4], ",sdk=1" if p[5] else ""))

    def set_cred(self, at, cid, user, pwd):
        if not cid:
            at.store.erase(self.key + "cred")  # AT+<name>CRED=,, : back to the signed login
            return
        at.store.put_record(self.key + "cred", (cid, user or "", pwd or ""))

    def q_cred(self, at):
        c = self.cred(at)
        if c is not None:
            at.reply("+%sCRED:%s,%s,%s" % (self.name, c[0], c[1], mask(c[2])))

    # ---- connecting -------------------------------------------------------------------------------
    def connect(self, at, host, port, ready=None):
        """Generator for AT+<name>CONN: connect, run ``ready(link)`` (a generator: what the command set
        needs before it reports the connection), answer +<name>STATE:1 (OK follows), save the endpoint."""
        if not wifi.station_up():
            raise AtError(E_NETWORK)
        ident = self.auth(at)
        p = self.para(at)
        mode = 0 if self.cred(at) is not None else p[3]  # AT+<name>CRED's login needs no registration
        if self.cred(at) is None and not self._can_login(at, ident, mode):
            raise AtError(E_IDENTITY)
        if host is None:
            rec = at.store.get_record(self.key + "host", 2)
            if rec is not None:
                host, port = rec[0].decode(), int(rec[1])
            elif ident is not None:
                host, port = aliyun.mqtt_host(ident[0]), 1883
            else:
                raise AtError(E_INVALID)
        tls = None
        if p[1] or mode == 2:  # regnwl and connwl are TLS only
            tls = pki.cloud_context()
            if tls is None:
                raise AtError(E_CONNECT)
        if mode == 1 and not ident[2]:
            from cmds import aliyun_reg
            yield from aliyun_reg.secret(at, self, ident)
        elif mode == 2 and self.nwl(at) is None:
            from cmds import aliyun_reg
            yield from aliyun_reg.token(at, self, ident, host, port)
        cfg = session.Config(host, port, "", keepalive=p[2], tls=tls, timeout_ms=p[0] * 1000)
        if self.s is None:
            self.s = session.Session(at, cfg, self._event, True, MESSAGE_MAX + 300)
        else:
            self.s.disconnect()
            self.s.config = cfg
        self.at = at
        self.s.credentials = self._credentials
        self.acks.clear()
        try:
            yield from self.s.connect()
        except mqtt.ConnectError as e:
            print("upy-at: %sCONN %s:%d failed: %r" % (self.name, host, port, e.args))
            self.s.disconnect()
            self._report(0)
            raise AtError(E_CONNECT)
        if ready is not None:
            yield from ready(self)
        at.store.put_record(self.key + "host", (host, port))
        self.state = 1
        at.reply("+%sSTATE:1" % self.name)
        if at.store.get_bytes(BIND_TOKEN_KEY):
            from cmds import aliyun_prov
            aliyun_prov.report(self)

    def _can_login(self, at, ident, mode):
        """Is there what AUTHMODE ``mode`` logs in with (or registers with)?"""
        if ident is None:
            return False
        if mode == 0:
            return bool(ident[2])
        return bool(ident[3]) or bool(ident[2] if mode == 1 else self.nwl(at))

    def _credentials(self, cfg):
        """Before every attempt: AT+<name>CRED's login as given, else the regnwl token's (AUTHMODE 2), else
        the one signed with the device secret."""
        c = self.cred(self.at)
        if c is not None:
            cfg.client_id, cfg.user, cfg.password = c[0], c[1] or None, c[2] or None
            return
        a = self.auth(self.at)
        n = self.nwl(self.at) if self.para(self.at)[3] == 2 else None
        if n is not None:
            cfg.client_id, cfg.user, cfg.password = aliyun.connwl_credentials(n[0], a[0], a[1], n[1])
            return
        cfg.client_id, cfg.user, cfg.password = aliyun.mqtt_credentials(
            a[0], a[1], a[2], TIMESTAMP, 2 if cfg.tls is not None else 3)

    def disconnect(self, at):
        if self.s is not None:
            self.s.disconnect()
        self.acks.clear()
        self._report(0)

    def require(self):
        """The connected session, else +CME ERROR."""
        if self.s is None or not self.s.connected:
            raise AtError(E_NOT_CONNECTED)
        return self.s

    def _report(self, state):
        if state != self.state:
            self.state = state
            if self.at is not None:
                self.at.urc(("+%sSTATE:%d\r\n" % (self.name, state)).encode())

    # ---- requests ---------------------------------------------------------------------------------
    def publish(self, topic, data, qos):
        """Publish now; the packet id (0 for QoS 0). Its ack prints ``+<name>PUBACK:<id>`` later."""
        s = self.require()
        try:
            pid = s.publish(topic, data, qos)
        except (mqtt.MqttError, ValueError, OSError):
            raise AtError(E_SEND)
        if pid:
            self.acks[pid] = "PUB"
        return pid

    def subscribe(self, topic, qos, kind="SUB"):
        s = self.require()
        try:
            pid = s.subscribe(topic, qos) if kind == "SUB" else s.unsubscribe(topic)
        except (mqtt.MqttError, ValueError, OSError):
            raise AtError(E_SEND)
        self.acks[pid] = kind
        return pid

    def ack_line(self, kind, pid, status):
        """The line an ack prints: the manual's +<name><kind>ACK…, or the SDK's +<name><kind>:<id>,<status>."""
        if self.sdk(self.at):
            return "+%s%s:%d,%d\r\n" % (self.name, kind, pid, status)
        if kind == "SUB":
            return "+%sSUBACK:%d,%d\r\n" % (self.name, pid, status)
        return "+%s%sACK:%d\r\n" % (self.name, kind, pid)

    # ---- the session's events ---------------------------------------------------------------------
    def _event(self, ev):
        kind = ev[0]
        if kind == "message":
            self._message(ev)
        elif kind == "acked":
            k = self.acks.pop(ev[1], None)
            if k is not None:
                self.at.urc(self.ack_line(k, ev[1], 0).encode())
        elif kind == "failed":
            k = self.acks.pop(ev[1], None)
            if k == "SUB" and ev[2] == mqtt.REFUSED:  # SUBACK 0x80: the broker said no
                self.at.urc(self.ack_line(k, ev[1], 0x80).encode())
        elif kind == "lost":
            self.acks.clear()
            self._report(0)
        elif kind == "reconnected":
            self._report(1)

    def _message(self, ev):
        """Whole messages to ``on_message``; the pieces of a long one are joined first, up to JOIN_MAX
        bytes: a longer one goes on piece by piece, each as a message of its own (as esp-at splits what
        exceeds its buffer), so that no size exhausts the heap."""
        topic, data, offset, total = ev[1], ev[2], ev[7], ev[8]
        if len(data) < total and total <= JOIN_MAX:
            if offset == 0:
                self._pieces = bytearray()
            self._pieces += data
            if offset + len(data) < total:
                self.s.delivered(ev)  # kept here until the last piece
                return
            data = bytes(self._pieces)
            self._pieces = bytearray()
        topic = bytes(topic)
        for prefix, fn in self.taps:
            if topic.startswith(prefix):
                fn(self, ev, topic, data)
                return
        self.on_message(self, ev, topic, data)

    def tap(self, prefix, fn):
        """Messages on topics starting with ``prefix`` (bytes) go to ``fn`` (as on_message) from now on."""
        for t in self.taps:
            if t[0] == prefix:
                self.taps.remove(t)
                break
        self.taps.append((prefix, fn))

    @property
    def connected(self):
        return self.s is not None and self.s.connected


def _rcvpub(link, ev, topic, data):
    """+IMQTTRCVPUB, the manual's form or the SDK's; the message is acked once its line is out."""
    if link.sdk(link.at):
        line = b'+IMQTTRCVPUB:%d,"' % ev[6] + topic + b'",%d,"' % len(data) + data + b'"\r\n'
    else:
        line = b"+IMQTTRCVPUB:" + topic + b",%d," % len(data) + data + b"\r\n"
    link.at.urc(line, link.s.delivered, ev)


mq = Link("IMQTT", "am", _rcvpub)

# ---- §2.1 / §2.2 / §2.11: identity, parameters, login ----------------------------------------------
p_imqttauth = (text(64, 1), text(64, 1), text(64, opt=True), text(64, opt=True))


def s_imqttauth(at, pk, dn, ds, ps):
    mq.set_auth(at, pk, dn, ds, ps)
    if mq.sdk(at):
        at.reply("+IMQTTAUTH:OK")  # the SDK waits for this line, not for OK


def q_imqttauth(at):
    mq.q_auth(at)


p_imqttpara = (text(16, 1), num(0, 65535))


def s_imqttpara(at, tag, value):
    mq.set_para(at, tag, value)


def q_imqttpara(at):
    mq.q_para(at)


p_imqttmode = (num(0, 1),)


def s_imqttmode(at, tls):
    """The C SDK's AT+IMQTTMODE=1 before AT+IMQTTAUTH: TLS on (AT+IMQTTPARA=TLS,<tls>)."""
    mq.set_para(at, "TLS", tls)


p_imqttcred = (text(128, opt=True), text(128, opt=True), text(128, opt=True))


def s_imqttcred(at, cid, user, pwd):
    mq.set_cred(at, cid, user, pwd)


def q_imqttcred(at):
    mq.q_cred(at)


# ---- §2.3 / §2.7 / §2.9: connection ----------------------------------------------------------------
p_imqttconn = (text(128, 1), num(1, 65535))


def s_imqttconn(at, host, port):
    return mq.connect(at, host, port)


def e_imqttconn(at):
    return mq.connect(at, None, None)


def q_imqttstate(at):
    at.reply("+IMQTTSTATE:%d" % (1 if mq.s is not None and mq.s.connected else 0))


def e_imqttstate(at):
    q_imqttstate(at)


def t_imqttstate(at):
    """The manual prints ``+IMQTTSTATE``; Alibaba's MCU SDK for this module asks the state with =? and reads
    ``+IMQTTSTATE:<state>``, which also starts as the manual's line does."""
    q_imqttstate(at)


def e_imqttdisconn(at):
    mq.disconnect(at)


# ---- §2.4 / §2.10 / §2.5 / §2.6: publish, subscribe ------------------------------------------------
p_imqttpub = (text(256, 1), num(0, 1), tail(MESSAGE_MAX))


def s_imqttpub(at, topic, qos, message):
    at.reply("+IMQTTPUB:%d" % mq.publish(topic, message.encode(), qos))


p_imqttpubhex = (text(256, 1), num(0, 1), num(1, 256), hexstr(256))


def s_imqttpubhex(at, topic, qos, length, data):
    if len(data) != length:
        raise AtError(E_INVALID | 2)
    at.reply("+IMQTTPUBHEX:%d" % mq.publish(topic, data, qos))


p_imqttsub = (text(256, 1), num(0, 1))


def s_imqttsub(at, topic, qos):
    at.reply("+IMQTTSUB:%d" % mq.subscribe(topic, qos))


p_imqttunsub = (text(256, 1),)


def s_imqttunsub(at, topic):
    at.reply("+IMQTTUNSUB:%d" % mq.subscribe(topic, 0, "UNSUB"))
