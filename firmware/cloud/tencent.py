"""Tencent IoT Hub: MQTT credentials, dynamic registration (v1 of the C SDK the AT firmware wraps, v2 of the
current docs) and its encrypted answer, the BCC checksum the AT manual prints instead of secrets, and topic
names (../shared/reference/cloud-protocols.md §5)."""
import binascii
import json
from cloud import aes, hmac

SDKAPPID = "12010126"  # the docs' value; the C and Python SDKs send 21010406, which the cloud takes too
REGISTER_HOST = "gateway.tencentdevices.com"  # v1: POST /register/dev
REGISTER_V2_HOST = "ap-guangzhou.gateway.tencentdevices.com"  # v2: POST /device/register


def mqtt_host(product_id):
    return product_id + ".iotcloud.tencentdevices.com"


def mqtt_credentials(product_id, device_name, psk, connid, expiry, method="hmacsha256", appid=SDKAPPID):
    """(clientId, username, password): clientId ``<pid><dn>``, username ``<pid><dn>;<appid>;<connid>;<expiry>``
    (connid: 5 characters of [A-Za-z0-9]; expiry: Unix seconds when the signature ends), password the hex
    HMAC_<sha256|sha1>(base64-decoded psk, username) followed by ``;hmacsha256`` or ``;hmacsha1``.
    ValueError for another method or a psk that is not base64."""
    if method not in ("hmacsha256", "hmacsha1"):
        raise ValueError("unknown sign method")
    client_id = product_id + device_name
    user = "%s;%s;%s;%s" % (client_id, appid, connid, expiry)
    key = binascii.a2b_base64(psk)
    return client_id, user, "%s;%s" % (hmac.hexdigest(method[4:], key, user), method)


def register_body(product_id, device_name, product_secret, nonce, timestamp):
    """The JSON body of v1 ``POST https://gateway.tencentdevices.com/register/dev``: its signature is the
    base64 of the hex (text) HMAC-SHA1 of ``deviceName=…&nonce=…&productId=…&timestamp=…``."""
    source = "deviceName=%s&nonce=%d&productId=%s&timestamp=%d" % (device_name, nonce, product_id, timestamp)
    signature = _b64(hmac.hexdigest("sha1", product_secret, source).encode())
    return '{"deviceName":"%s","nonce":%d,"productId":"%s","timestamp":%d,"signature":"%s"}' % (
        device_name, nonce, product_id, timestamp, signature)


def register_v2_body(product_id, device_name):
    """The JSON body of v2 ``POST https://ap-guangzhou.gateway.tencentdevices.com/device/register``."""
    return '{"ProductId":"%s","DeviceName":"%s"}' % (product_id, device_name)


def register_v2_signature(product_secret, body, timestamp, nonce, method="hmacsha256", host=REGISTER_V2_HOST):
    """The X-TC-Signature header of a v2 registration: base64 of the raw HMAC_<method>(productSecret,
    "POST\\n<host>\\n/device/register\\n\\n<method>\\n<ts>\\n<nonce>\\n" + hex hash of the body), the body
    hashed with the method's hash. X-TC-Algorithm carries ``method``, X-TC-Timestamp and X-TC-Nonce the two
    numbers."""
    if method not in ("hmacsha256", "hmacsha1"):
        raise ValueError("unknown sign method")
    name = method[4:]
    text = "POST\n%s\n/device/register\n\n%s\n%d\n%d\n%s" % (host, method, timestamp, nonce,
                                                             hmac.hash_hex(name, body))
    return _b64(hmac.digest(name, product_secret, text))


def register_payload(product_secret, payload):
    """The plain text of a registration answer's ``payload`` (base64 of AES-128-CBC with the first 16
    characters of the product secret as key, sixteen ASCII '0' as IV, zero padding), e.g.
    ``{"encryptionType":2,"psk":"…"}``. ValueError when the secret is shorter than 16 characters or the
    payload is not base64 of whole blocks."""
    if len(product_secret) < 16:
        raise ValueError("product secret shorter than 16")
    data = binascii.a2b_base64(payload)
    if not data or len(data) % 16:
        raise ValueError("not whole AES blocks")
    plain = aes.cbc_decrypt(product_secret[:16].encode(), b"0" * 16, data)
    end = len(plain)
    while end and plain[end - 1] == 0:
        end -= 1
    return bytes(plain[:end]).decode()


def register_result(product_secret, payload):
    """``register_payload`` parsed: (encryptionType, psk) for key auth (type 2), (1, (clientCert, clientKey))
    for certificate auth. ValueError when it is not that JSON."""
    reply = json.loads(register_payload(product_secret, payload))
    if not isinstance(reply, dict):
        raise ValueError("unexpected registration answer")
    kind = reply.get("encryptionType")
    if kind == 2 and "psk" in reply:
        return 2, reply["psk"]
    if kind == 1 and "clientCert" in reply and "clientKey" in reply:
        return 1, (reply["clientCert"], reply["clientKey"])
    raise ValueError("unexpected registration answer")


def bcc(secret):
    """The AT manual's checksum of a secret (§1.2): the XOR of its bytes as typed (the base64 text)."""
    x = 0
    for b in secret.encode():
        x ^= b
    return x


def ota_topic(kind, product_id, device_name):
    """``$ota/<kind>/<pid>/<dn>``: kind "report" (up) or "update" (down)."""
    return "$ota/%s/%s/%s" % (kind, product_id, device_name)


def ota_report_version(version):
    """The payload that reports the running version on ``$ota/report/<pid>/<dn>`` (the cloud answers
    ``report_version_rsp`` and may follow with ``update_firmware`` on ``$ota/update/…``)."""
    return '{"type":"report_version","report":{"version":"%s"}}' % version


def ota_report_progress(state, version, percent=None, code=0, message=""):
    """A ``report_progress`` payload: ``state`` "downloading" (with ``percent``), "burning", "done" or
    "fail" (``code`` -1 download timeout, -2 file not found, -3 auth failed, -4 MD5 mismatch, -5 upgrade
    failed; ``message`` says why, and must need no JSON escaping)."""
    progress = '"state":"%s",' % state
    if percent is not None:
        progress += '"percent":"%d",' % percent
    progress += '"result_code":"%d","result_msg":"%s"' % (code, message)
    return '{"type":"report_progress","report":{"progress":{%s},"version":"%s"}}' % (progress, version)


def _b64(data):
    return binascii.b2a_base64(data).decode().rstrip("\n")
