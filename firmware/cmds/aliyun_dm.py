"""Alibaba Cloud IoT module (seed 000): the thing-model commands of §3 (AT+IDM...), Alink JSON on
``/sys/<pk>/<dn>/…`` over a cmds.aliyun Link of their own.

  AT+IDMAUTH/PARA/CRED/CONN/STATE/DISCONN  as AT+IMQTT… (cmds/aliyun.py); AT+IDMCONN also subscribes to the
                  topics the platform sends on (property set, services, event replies, RRPC) before it
                  answers ``+IDMSTATE:1``.
  AT+IDMPP=<params>        ``+IDMPP:<msg_id>`` now; the platform's post_reply as
                           ``+IDMGPR:<msg_id>,<code>,<data>,<message>`` later.
  AT+IDMEP=<event>,<params>  likewise on ``thing/event/<event>/post`` (``+IDMEP:<msg_id>``).
  property set     ``+IDMPS:<msg_id>,<len>,<params>``; the module answers the platform's set_reply (200)
                   once the line is out.
  RRPC service     ``+IDMSS:<msg_id>,<rrpc_id>,<service>,<len>,<params>``, answered by AT+IDMSSR.
  async service    ``+IDMAS:<msg_id>,<service>,<params>``, answered by AT+IDMASR.
JSON from the MCU (params, events, replies) must be valid JSON (else ERROR); it is sent as written.
"""
from at import replies
from at.parser import AtError, E_INVALID, num, tail, text
from cloud import aliyun_thing as alink
from cmds import aliyun
from net import mqtt

ERRORS = replies.cme
JSON_MAX = 1024
SUBSCRIPTIONS = ("thing/service/property/set", "thing/service/+", "thing/event/+/post_reply", "rrpc/request/+")

_next_id = 0  # the msg id of the last post
_sys = b""  # b"/sys/<pk>/<dn>/" of the connection


def _ids():
    global _next_id
    _next_id = _next_id + 1 if _next_id < 0x7FFFFFFF else 1
    return _next_id


def _subscribe(link):
    """Generator: the thing-model topics, each acknowledged (else +CME ERROR and no connection)."""
    global _sys
    auth = link.auth(link.at)
    _sys = ("/sys/%s/%s/" % (auth[0], auth[1])).encode()
    s = link.s
    for path in SUBSCRIPTIONS:
        try:
            err = yield from s.wait(s.subscribe(_sys.decode() + path, 0))
        except (mqtt.MqttError, ValueError, OSError):
            err = mqtt.NOT_CONNECTED
        if err is not None:
            link.disconnect(link.at)
            raise AtError(aliyun.E_CONNECT)


def _on_message(link, ev, topic, data):
    """The platform's downlinks as §3's URCs."""
    at = link.at
    path = topic[len(_sys):] if topic.startswith(_sys) else b""
    try:
        msg_id = alink.text(data, "id") or "0"
        if path.startswith(b"thing/event/") and path.endswith(b"/post_reply"):
            line = "+IDMGPR:%s,%s,%s,%s\r\n" % (msg_id, alink.text(data, "code"),
                                                 (alink.field(data, "data") or b"{}").decode(),
                                                 alink.text(data, "message") or "")
            at.urc(line.encode(), link.s.delivered, ev)
        elif path == b"thing/service/property/set":
            params = alink.field(data, "params") or b"{}"
            at.urc(b"+IDMPS:" + msg_id.encode() + b",%d," % len(params) + params + b"\r\n",
                   _set_reply, (link, ev, msg_id, topic + b"_reply"))
        elif path.startswith(b"thing/service/") and not path.endswith(b"_reply"):
            at.urc(b"+IDMAS:" + msg_id.encode() + b"," + path[14:] + b"," + (alink.field(data, "params") or b"{}")
                   + b"\r\n", link.s.delivered, ev)
        elif path.startswith(b"rrpc/request/"):
            service = (alink.text(data, "method") or "").replace("thing.service.", "").encode()
            params = alink.field(data, "params") or b"{}"
            at.urc(b"+IDMSS:" + msg_id.encode() + b"," + path[13:] + b"," + service + b",%d," % len(params)
                   + params + b"\r\n", link.s.delivered, ev)
        else:
            link.s.delivered(ev)  # our own replies echoed by a wildcard, or not the thing model's
    except ValueError as e:  # not Alink JSON: nothing to tell the MCU
        print("upy-at: IDM %s: %r" % (topic, e))
        link.s.delivered(ev)


def _set_reply(arg):
    """Once +IDMPS is out: the message is delivered and the platform hears the set succeeded."""
    link, ev, msg_id, reply_topic = arg
    link.s.delivered(ev)
    try:
        link.publish(reply_topic, alink.reply(msg_id, 200, b"{}"), 0)
    except AtError:
        pass  # the connection went meanwhile: the platform times the set out


dm = aliyun.Link("IDM", "ad", _on_message)

# ---- §3.9 - §3.14: identity, parameters, connection ------------------------------------------------
p_idmauth = aliyun.p_imqttauth


def s_idmauth(at, pk, dn, ds, ps):
    dm.set_auth(at, pk, dn, ds, ps)


def q_idmauth(at):
    dm.q_auth(at)


p_idmpara = aliyun.p_imqttpara


def s_idmpara(at, tag, value):
    dm.set_para(at, tag, value)


def q_idmpara(at):
    dm.q_para(at)


p_idmcred = aliyun.p_imqttcred


def s_idmcred(at, cid, user, pwd):
    dm.set_cred(at, cid, user, pwd)


def q_idmcred(at):
    dm.q_cred(at)


p_idmconn = aliyun.p_imqttconn


def s_idmconn(at, host, port):
    if dm.auth(at) is None:
        raise AtError(aliyun.E_IDENTITY)  # the thing topics carry the product key and device name
    return dm.connect(at, host, port, _subscribe)


def e_idmconn(at):
    return s_idmconn(at, None, None)


def q_idmstate(at):
    at.reply("+IDMSTATE:%d" % (1 if dm.s is not None and dm.s.connected else 0))


def e_idmstate(at):
    q_idmstate(at)


def t_idmstate(at):
    """As AT+IMQTTSTATE=? (cmds/aliyun.py): the state, which Alibaba's MCU SDK reads from the test form."""
    q_idmstate(at)


def e_idmdisconn(at):
    dm.disconnect(at)


# ---- §3.1 / §3.3: posts ----------------------------------------------------------------------------
def _post(path, method, params):
    dm.require()
    try:
        data = alink.check(params)
    except ValueError:
        raise AtError(E_INVALID)
    msg_id = _ids()
    dm.publish(_sys.decode() + path, alink.post(msg_id, method, data), 0)
    return msg_id


p_idmpp = (tail(JSON_MAX, 1),)


def s_idmpp(at, params):
    at.reply("+IDMPP:%d" % _post("thing/event/property/post", "thing.event.property.post", params))


p_idmep = (text(64, 1), tail(JSON_MAX, 1))


def s_idmep(at, event, params):
    at.reply("+IDMEP:%d" % _post("thing/event/%s/post" % event, "thing.event.%s.post" % event, params))


# ---- §3.5 / §3.8: service replies ------------------------------------------------------------------
p_idmssr = (text(16, 1), text(32, 1), text(64, 1), num(0, 0x7FFFFFFF), tail(JSON_MAX, 1))


def s_idmssr(at, msg_id, rrpc_id, service, code, data):
    _answer(msg_id, "rrpc/response/" + rrpc_id, code, data)


p_idmasr = (text(16, 1), text(64, 1), num(0, 0x7FFFFFFF), tail(JSON_MAX, 1))


def s_idmasr(at, msg_id, service, code, data):
    _answer(msg_id, "thing/service/%s_reply" % service, code, data)


def _answer(msg_id, path, code, data):
    dm.require()
    try:
        data = alink.check(data)
    except ValueError:
        raise AtError(E_INVALID)
    dm.publish(_sys.decode() + path, alink.reply(msg_id, code, data), 0)
