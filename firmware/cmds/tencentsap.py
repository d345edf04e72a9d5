"""Tencent softAP provisioning (seed 001 §6.3-6.4, §7.4) with the exchange of Tencent's phone app and mini
program ("SoftAP配网 v2.0", qcloud-iot-esp-wifi docs):

1. AT+TCSAP="<ssid>","<pwd>" opens the hotspot and a UDP service on port 8266: ``OK``, ``+TCSAP:OK``.
2. The app, joined to the hotspot, sends ``{"cmdType":1,"ssid":…,"password":…,"token":…}``; the module
   answers ``{"cmdType":2,"productId":…,"deviceName":…,"protoVersion":"2.0"}`` (the app resends every 2 s
   until it hears that).
3. The module joins that AP, connects to the cloud as the AT+TCDEVINFOSET device, reports the token on
   ``$thing/up/service/<pid>/<dev>`` as ``{"method":"app_bind_token","clientToken":…,"params":{"token":…}}``,
   disconnects (the MCU connects with AT+TCMQTTCONN), closes the hotspot: ``+TCSAP:WIFI_CONNECT_SUCCESS``.
   A failure is ``+TCSAP:WIFI_CONNECT_FAILED,<err>,<sub>`` (§7.4: 10 the join failed, 1 the cloud refused,
   with its §7.1 code), also sent to the app as ``{"cmdType":2,"deviceReply":"Current_Error","log":…}``.
No app within 5 minutes: ``+TCSAP:FAIL,202``. AT+TCSTOPSAP ends it all.
"""
import json
import os
from at import replies
from at.compat import ticks_ms, ticks_diff
from at.parser import AtError, text, E_INVALID
from cmds import tencent, wifi
from net import transport

ERRORS = replies.cme

PORT = 8266  # the app's UDP port on the module
WAIT_MS = 300000  # §6.3: 5 minutes for the app
JOIN_MS = 20000
REQUEST_MAX = 512  # the longest app request read
E_MQTT = 1  # §7.4
E_APP = 2
E_JOIN = 10

_round = 0  # which AT+TCSAP the task belongs to; AT+TCSTOPSAP or a new AT+TCSAP ends the older task
_udp = None


def active():
    """Provisioning is under way."""
    return _udp is not None


def q_tcsap(at):
    return None


p_tcsap = (text(32, 1), text(32))


def s_tcsap(at, ssid, pwd):
    global _udp, _round
    if tencent.mqtt_connected() or tencent.ota_running():
        raise AtError(tencent.E_STATE)
    info = tencent.device(at)
    if info is None:
        raise AtError(tencent.E_STATE)
    if pwd and len(pwd) < 8:
        raise AtError(E_INVALID | 1)
    _stop(at)
    wifi.open_softap(at, ssid, pwd, 1, 3 if pwd else 0, 4, 0, False)
    try:
        _udp = transport.open_udp((None, None, None), PORT)
    except OSError:
        wifi.close_softap(at)
        return tencent.done(at, "TCSAP", 7)  # §7.4: WIFI AP init error
    _round += 1
    at.spawn(_provision(at, _round, info))
    return tencent.done(at, "TCSAP")


def e_tcstopsap(at):
    tencent.settle(at)
    _stop(at)
    wifi.close_softap(at)


def _stop(at):
    global _udp, _round
    _round += 1
    if _udp is not None:
        _udp.close()
        _udp = None


def _provision(at, round_, info):
    """Task: wait for the app, answer it, join, bind."""
    start = ticks_ms()
    request = None
    while request is None:
        if round_ != _round:
            return
        if ticks_diff(ticks_ms(), start) > WAIT_MS:
            _end(at, round_)
            at.urc(b"+TCSAP:FAIL,%d\r\n" % tencent.E_TIMEOUT)
            return
        request = _take()
        yield 50
    ssid, pwd, token, peer = request
    reply = json.dumps({"cmdType": 2, "productId": info[1], "deviceName": info[2], "protoVersion": "2.0"})
    for _ in range(2):  # UDP: said twice, as the app may miss one
        yield from _udp.send_all(reply.encode(), peer, 1000)
    err = yield from _bind(at, round_, info, ssid, pwd, token)
    if round_ != _round:
        return
    if err is not None:
        log = json.dumps({"cmdType": 2, "deviceReply": "Current_Error", "log": "error (%d, %d)" % err})
        yield from _udp.send_all(log.encode(), peer, 1000)
        at.urc(b"+TCSAP:WIFI_CONNECT_FAILED,%d,%d\r\n" % err)
    else:
        at.urc(b"+TCSAP:WIFI_CONNECT_SUCCESS\r\n")
    _end(at, round_)


def _take():
    """The app's cmdType 1 request, as (ssid, password, token, its sockaddr), or None."""
    data, addr = _udp.recvfrom(REQUEST_MAX)
    if not data:
        return None
    try:
        msg = json.loads(data)
        if msg.get("cmdType") != 1:
            return None
        return msg["ssid"], msg.get("password", ""), msg["token"], transport.resolve(addr[0], addr[1])[2]
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None


def _bind(at, round_, info, ssid, pwd, token):
    """Generator: join the app's AP, report the token; None or (§7.4 code, detail). The MQTT commands (and
    their stack) are imported only now, once the app has given its AP."""
    from cmds import tencentmqtt

    wifi.start_join(at, ssid, pwd, True)
    start = ticks_ms()
    while not wifi.station_up():
        if round_ != _round:
            return None
        if ticks_diff(ticks_ms(), start) > JOIN_MS:
            return E_JOIN, 1
        yield 100
    err = yield from tencentmqtt.connect(at, info)
    if err is not None:
        return E_MQTT, err
    message = json.dumps({"method": "app_bind_token", "clientToken": "%s-%d" % (
        info[2], int.from_bytes(os.urandom(2), "big")), "params": {"token": token}})
    err = yield from tencentmqtt.publish("$thing/up/service/%s/%s" % (info[1], info[2]), message.encode(), 1)
    tencentmqtt.disconnect()
    return None if err is None else (E_MQTT, err)


def _end(at, round_):
    if round_ == _round:
        _stop(at)
        wifi.close_softap(at)
