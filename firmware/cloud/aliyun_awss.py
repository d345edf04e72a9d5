"""Aliyun's device-hotspot provisioning ("dev-AP", iotkit-embedded's awss): the phone app, joined to the
device's hotspot, sends a CoAP request to UDP port 5683 on path ``/sys/awss/device/softap/switchap``:

    {"id":"<id>","version":"1.0","method":"awss.device.softap.switchap",
     "params":{"ssid":"<ssid>" (or "xssid":"<hex>"),"passwd":"<hex>","random":"<32 hex>","token":"<32 hex>"?,
               "bssid":"<mac>"?}}

``passwd`` is AES-128-CBC, key = the first 16 bytes of SHA-256("<secret>,<the 16 random bytes>"), IV = the
random bytes, zero-padded (the secret is the product secret in iotkit's security level 3). The device
answers ``{"id":<id>,"code":200,"data":{…,"token":"<32 hex>"}}`` (a negative code when the request is
unusable), joins the AP, and once on the cloud reports the bind token on
``/sys/<pk>/<dn>/thing/awss/enrollee/match``. Just enough CoAP (RFC 7252) for one request and its answer.
No AT here.
"""
import binascii
import hashlib
from cloud import aes
from cloud import aliyun_thing as alink

PATH = b"/sys/awss/device/softap/switchap"
CON, NON, ACK = 0, 1, 2  # CoAP message types
CONTENT = 0x45  # 2.05
URI_PATH = 11  # the Uri-Path option


def coap_parse(data):
    """(type, code, message id, token, path bytes, payload) of a CoAP message; ValueError when malformed."""
    data = bytes(data)
    if len(data) < 4 or data[0] >> 6 != 1:
        raise ValueError("not CoAP")
    kind, tkl = data[0] >> 4 & 3, data[0] & 15
    if tkl > 8:
        raise ValueError("bad token length")
    i = 4 + tkl
    token = data[4:i]
    number = 0
    path = b""
    while i < len(data) and data[i] != 0xFF:
        delta, length = data[i] >> 4, data[i] & 15
        i += 1
        delta, i = _extended(data, delta, i)
        length, i = _extended(data, length, i)
        number += delta
        if i + length > len(data):
            raise ValueError("option too long")
        if number == URI_PATH:
            path += b"/" + data[i:i + length]
        i += length
    payload = data[i + 1:] if i < len(data) else b""
    return kind, data[1], data[2] << 8 | data[3], token, path, payload


def _extended(data, v, i):
    if v == 13:
        return data[i] + 13, i + 1
    if v == 14:
        return (data[i] << 8 | data[i + 1]) + 269, i + 2
    if v == 15:
        raise ValueError("reserved option nibble")
    return v, i


def coap_reply(kind, message_id, token, payload, own_id):
    """The answer to a request of ``kind``: piggybacked in the ACK of a confirmable one, else a NON with
    our ``own_id``; code 2.05 and ``payload``."""
    if kind == CON:
        head = bytes([0x40 | ACK << 4 | len(token), CONTENT, message_id >> 8 & 255, message_id & 255])
    else:
        head = bytes([0x40 | NON << 4 | len(token), CONTENT, own_id >> 8 & 255, own_id & 255])
    return head + token + b"\xff" + payload


def key_iv(secret, random):
    """(AES key, IV) for ``random`` (16 bytes) and ``secret`` (str or bytes)."""
    secret = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(secret + b"," + random).digest()[:16], random


def decrypt_passwd(cipher_hex, random, secret):
    """The Wi-Fi password of ``passwd``; ValueError when it cannot be (bad hex, length, not UTF-8)."""
    data = binascii.unhexlify(cipher_hex)
    if not data or len(data) % 16:
        raise ValueError("passwd length")
    key, iv = key_iv(secret, random)
    plain = aes.cbc_decrypt(key, iv, data)
    end = plain.find(b"\x00")
    return (plain if end < 0 else plain[:end]).decode()


def switchap(payload, secret):
    """(id raw bytes, ssid, password, token bytes or None) of a switchap request; ValueError when it is
    unusable (the answer's code is then -1 ssid, -3 passwd, -4 random: ``args[1]``)."""
    msg_id = alink.field(payload, "id") or b'""'
    params = alink.field(payload, "params")
    if params is None:
        raise ValueError("no params", -1)
    ssid = alink.text(params, "ssid")
    if ssid is None:
        xssid = alink.text(params, "xssid")
        if not xssid:
            raise ValueError("no ssid", -1)
        ssid = binascii.unhexlify(xssid).decode()
    rand = alink.text(params, "random") or ""
    if len(rand) != 32:
        raise ValueError("random length", -4)
    random = binascii.unhexlify(rand)
    try:
        pwd = decrypt_passwd(alink.text(params, "passwd") or "", random, secret)
    except (ValueError, UnicodeError):
        raise ValueError("passwd", -3)
    token = alink.text(params, "token")
    return msg_id, ssid, pwd, binascii.unhexlify(token) if token and len(token) == 32 else None


def answer(msg_id, code, data):
    """``{"id":<id>,"code":<code>,"data":<data>}`` (the id as the request wrote it)."""
    return b'{"id":' + msg_id + b',"code":%d,"data":' % code + data + b"}"


def match(msg_id, token):
    """The bind token's report on thing/awss/enrollee/match."""
    return (b'{"id":"%d","version":"1.0","method":"thing.awss.enrollee.match","params":{"token":"' % msg_id
            + binascii.hexlify(token).upper() + b'"}}')
