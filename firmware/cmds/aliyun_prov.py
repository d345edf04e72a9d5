"""Alibaba Cloud IoT module (seed 000 §4.3-4.4): the phone app's exchange over the device hotspot that
AT+IAPCONFIGSTART=1 opens (cloud/aliyun_awss.py has the protocol).

While the hotspot is open a UDP socket listens on PORT (5683, CoAP's). A switchap request is decrypted
with AT+IAPCONFIGSTART's [aes_key] when one was given, else with the product secret of AT+IMQTTAUTH (or
AT+IDMAUTH); the app gets its answer, the hotspot closes and the station joins the AP (saved), which the MCU
hears as +INETSTAT:4. The bind token (the app's, or one made here) is kept until a cmds.aliyun Link next
connects, which reports it on thing/awss/enrollee/match (``report``). BLE provisioning (cmds/aliyun_breeze.py)
takes its key with ``secret`` and ends with ``provisioned`` too.

Listening needs only a socket: the protocol (cloud/aliyun_awss.py) and the identity's Links (cmds.aliyun,
cmds.aliyun_dm, with the MQTT stack) are imported when an app's datagram arrives or the bind token goes out,
so a hotspot waiting for its app holds little heap.
"""
import random
import socket
from at.parser import AtError
from cmds import wifi
from net import transport

PORT = 5683
_sock = None
_at = None
_ids = 0


def start(at):
    """Listen for the app (again, if already listening)."""
    global _sock, _at
    stop(at)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a listener of an earlier start may linger
    s.bind(transport.local_sockaddr(PORT))  # the emulator's --resolve may move it off a port another holds
    s.setblocking(False)
    _sock, _at = s, at
    at.watch(s, _readable)


def stop(at):
    global _sock
    if _sock is not None:
        at.unwatch(_sock)
        _sock.close()
        _sock = None


def identity(at):
    """[pk, dn, device secret, product secret] of AT+IMQTTAUTH, else AT+IDMAUTH, or None."""
    from cmds import aliyun, aliyun_dm

    return aliyun.mq.auth(at) or aliyun_dm.dm.auth(at)


def secret(at, aes_key):
    """What decrypts the app's Wi-Fi: ``aes_key`` (the command's [aes_key]) when given, else the product
    secret, else None."""
    if aes_key:
        return aes_key
    auth = identity(at)
    return auth[3] if auth is not None and auth[3] else None


def provisioned(at, ssid, pwd, bind):
    """The app gave the AP: keep the bind token (``bind``, 16 bytes, or one made here) for ``report`` and
    join the AP (saved); the MCU hears +INETSTAT:4 once joined."""
    from cmds import aliyun

    bind = bind or bytes([random.getrandbits(8) for _ in range(16)])
    at.store.put_bytes(aliyun.BIND_TOKEN_KEY, bind)
    wifi.start_join(at, ssid, pwd, True)


def _readable(sock, events):
    global _ids
    import binascii
    from cloud import aliyun_awss as awss
    from cloud import aliyun_thing as alink

    try:
        data, peer = sock.recvfrom(1024)
    except OSError:
        return
    try:
        kind, code, mid, token, path, payload = awss.coap_parse(data)
    except ValueError:
        return  # not CoAP: nothing to answer
    if path != awss.PATH or code != 2:  # POST
        return
    at = _at
    join = None
    key = secret(at, at.store.get_bytes("iap_aes"))
    try:
        if key is None:
            raise ValueError("no key", -3)
        msg_id, ssid, pwd, bind = awss.switchap(payload, key)
        bind = bind or bytes([random.getrandbits(8) for _ in range(16)])
        mac = wifi.station_mac().upper()
        auth = identity(at) or ["", ""]
        info = b'{"productKey":"' + auth[0].encode() + b'","deviceName":"' + auth[1].encode() + b'","mac":"' \
            + mac.encode() + b'","token":"' + binascii.hexlify(bind).upper() + b'","type":0}'
        reply = awss.answer(msg_id, 200, info)
        join = (ssid, pwd, bind)
    except ValueError as e:
        print("upy-at: switchap: %r" % (e,))
        try:
            msg_id = alink.field(payload, "id") or b'""'
        except ValueError:
            msg_id = b'""'
        reply = awss.answer(msg_id, e.args[1] if len(e.args) > 1 else -1, b'"' + str(e.args[0]).encode() + b'"')
    _ids += 1
    try:
        sock.sendto(awss.coap_reply(kind, mid, token, reply, _ids), peer)
    except OSError as e:
        print("upy-at: switchap answer: %r" % e)
    if join is not None:
        stop(at)
        wifi.close_softap(at)
        provisioned(at, join[0], join[1], join[2])


def report(link):
    """After a Link connected: report the bind token kept by a provisioning, once."""
    global _ids
    from cloud import aliyun as signing
    from cloud import aliyun_awss as awss
    from cmds import aliyun

    at = link.at
    bind = at.store.get_bytes(aliyun.BIND_TOKEN_KEY)
    auth = link.auth(at)
    if not bind or auth is None:
        return
    _ids += 1
    try:
        link.publish(signing.thing_topic(auth[0], auth[1], "thing/awss/enrollee/match"), awss.match(_ids, bind), 0)
    except AtError as e:  # the connection went meanwhile: the next connect reports it
        print("upy-at: bind token: %r" % e)
        return
    at.store.erase(aliyun.BIND_TOKEN_KEY)
