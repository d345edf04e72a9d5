"""Tencent dynamic registration (seed 001 §2.3, §7.3): AT+TCDEVREG asks Tencent's register endpoint for the
device key of the product set with AT+TCPRDINFOSET, as the C SDK 3.x the AT firmware wraps does (v1,
../shared/reference/cloud-protocols.md §5.2):

    POST https://gateway.tencentdevices.com/register/dev  (http://…:80 in TLS mode 0)
    {"deviceName":…,"nonce":…,"productId":…,"timestamp":…,"signature":…}
    -> {"code":0,"message":"…","len":53,"payload":"<base64 AES-128-CBC>"}

The answer decrypts with the product secret (cloud/tencent.register_result) to the device key, saved as the
device information (AT+TCDEVINFOSET?), or to a certificate and key, saved as certificate files
``<device>.crt``/``<device>.key`` and used by TLS mode 2. A refusal reports the cloud's code (§7.3, e.g.
1021: registered already); a network failure the HTTP codes of §7.1.
"""
import json
import os
from at import replies
from at.compat import ticks_ms, ticks_diff
from at.parser import AtError
from cmds import tencent, wifi

ERRORS = replies.cme

TIMEOUT_MS = 9000  # the time and the exchange, so that +TCDEVREG comes within 10 s
REPLY_MAX = 2048  # a certificate answer is the longest
E_HTTP = -4  # QCLOUD_ERR_HTTP
E_CONN = -8  # QCLOUD_ERR_HTTP_CONN
E_TIMEOUT = -11  # QCLOUD_ERR_HTTP_TIMEOUT
E_INTERNAL = 1000  # ErrorCode_SDK_InternalError
E_CHECK_SECRET = 1010


def e_tcdevreg(at):
    tencent.settle(at)
    info = tencent.product(at)
    if info is None or not wifi.station_up():
        raise AtError(tencent.E_STATE)
    if len(info[2]) < 16:
        raise AtError(tencent.E_PARAM)  # the answer's AES key is the secret's first 16 characters
    return replies.ok_then(at, "TCDEVREG", _register(at, info))


def _register(at, info):
    """Generator: POST the signed request, save what the answer holds; None or an error number."""
    from cloud import tencent as cloud  # imported here: the test form and the refusals need none of these
    from net import http, pki

    tls, pid, secret, dev = info
    start = ticks_ms()
    t = yield from tencent.now(3000)
    if t is None:
        return E_INTERNAL
    nonce = int.from_bytes(os.urandom(3), "big")
    body = cloud.register_body(pid, dev, secret, nonce, t).encode()
    url = ("https://%s/register/dev" if tls else "http://%s/register/dev") % cloud.REGISTER_HOST
    ctx = pki.cloud_context() if tls else None
    if tls and ctx is None:
        return E_CONN
    left = max(1000, TIMEOUT_MS - ticks_diff(ticks_ms(), start))
    try:
        conn = yield from http.connect(url, left, ctx)
    except (OSError, ValueError):
        return E_CONN
    try:
        resp = yield from conn.request("POST", "/register/dev", (
            ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/xml,application/json;*/*")),
            body)
        reply = yield from resp.read(REPLY_MAX)
    except OSError:
        return E_TIMEOUT
    except http.HttpError:
        return E_HTTP
    finally:
        conn.close()
    if resp.status != 200:
        return E_HTTP
    return _save(at, info, reply)


def _save(at, info, reply):
    from cloud import tencent as cloud  # imported already by _register

    tls, pid, secret, dev = info
    try:
        answer = json.loads(reply)
        code = answer.get("code") if isinstance(answer, dict) else None
        if code:
            return int(code)
        kind, value = cloud.register_result(secret, answer["payload"])
    except (ValueError, KeyError, TypeError):
        return E_CHECK_SECRET  # not what the secret decrypts: a wrong product secret
    if kind == 2:
        tencent.set_device(at, tls, pid, dev, value)
        return None
    try:
        tencent.save_cert(dev + ".crt", value[0].encode())
        tencent.save_cert(dev + ".key", value[1].encode())
    except OSError:
        return tencent.E_FLASH
    tencent.set_device(at, 2, pid, dev, dev + ".crt")
    return None
