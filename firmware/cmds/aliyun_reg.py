"""Alibaba Cloud IoT module (seed 000 §2.1-2.2): dynamic registration, "one type one secret", before a
cmds.aliyun Link connects (reference cloud-protocols.md §2). Imported only when AUTHMODE is 1 or 2.

  AUTHMODE 1 (pre-registered device): with no device secret saved, POST
      https://iot-auth.cn-shanghai.aliyuncs.com/auth/register/device signed with the product secret; the
      deviceSecret of the reply is saved into the identity record and the link connects with it as usual.
  AUTHMODE 2 (no pre-registration): with no token saved, an MQTT connect over TLS to the link's host with
      ``authType=regnwl``; the platform pushes {clientId, deviceToken} on /ext/regnwl and closes; both are
      saved (record ``<key>nwl``) and every connect then logs in with ``authType=connwl,securemode=-2``.
A failed registration answers +CME ERROR:10.
"""
import random
from at.compat import ticks_ms, ticks_diff
from at.parser import AtError
from cloud import aliyun as signing
from cloud import aliyun_thing as alink
from net import http, mqtt, pki, session

E_REGISTER = 10
TIMEOUT_MS = 10000


def _random():
    return "%08x%08x" % (random.getrandbits(32), random.getrandbits(32))


def secret(at, link, ident):
    """Generator (AUTHMODE 1): the device secret from register/device, saved; AtError on failure."""
    ctx = pki.cloud_context()
    if ctx is None:
        raise AtError(E_REGISTER)
    url = "https://%s/auth/register/device" % signing.auth_host()
    body = signing.register_body(ident[0], ident[1], ident[3], _random()).encode()
    try:
        conn = yield from http.connect(url, TIMEOUT_MS, ctx)
        try:
            resp = yield from conn.request("POST", "/auth/register/device", (
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "text/xml,text/javascript,text/html,application/json")), body)
            reply = yield from resp.read(1024)
        finally:
            conn.close()
        code = alink.text(reply, "code")
        ds = alink.text(alink.field(reply, "data") or b"{}", "deviceSecret")
    except (OSError, ValueError, http.HttpError) as e:
        print("upy-at: register/device: %r" % e)
        raise AtError(E_REGISTER)
    if code != "200" or not ds:
        print("upy-at: register/device refused: %r" % reply)
        raise AtError(E_REGISTER)
    link.set_auth(at, ident[0], ident[1], ds, ident[3])
    return ds


def token(at, link, ident, host, port):
    """Generator (AUTHMODE 2): (clientId, deviceToken) pushed on /ext/regnwl after a regnwl login, saved;
    AtError on failure."""
    ctx = pki.cloud_context()
    if ctx is None:
        raise AtError(E_REGISTER)
    got = []

    def on_event(ev):
        if ev[0] == "message":
            if bytes(ev[1]) == b"/ext/regnwl" and ev[7] == 0 and len(ev[2]) == ev[8]:
                got.append(bytes(ev[2]))
            s.delivered(ev)

    cid, user, pwd = signing.register_mqtt_credentials(ident[0], ident[1], ident[3], _random())
    s = session.Session(at, session.Config(host, port, cid, user, pwd, 60, tls=ctx, timeout_ms=TIMEOUT_MS),
                        on_event, False, 512, 1, 1)
    try:
        yield from s.connect()
        s.config.timeout_ms = 200  # each wait below reads the socket for about a second
        start = ticks_ms()
        while not got and s.connected and ticks_diff(ticks_ms(), start) < TIMEOUT_MS:
            yield from s.wait(0, False)  # nothing is awaited: it reads what the platform pushes
    except mqtt.ConnectError as e:
        print("upy-at: regnwl: %r" % (e.args,))
    finally:
        s.disconnect()
    try:
        result = (alink.text(got[0], "clientId"), alink.text(got[0], "deviceToken")) if got else (None, None)
    except ValueError:
        result = (None, None)
    if not result[0] or not result[1]:
        raise AtError(E_REGISTER)
    at.store.put_record(link.key + "nwl", result)
    return result
